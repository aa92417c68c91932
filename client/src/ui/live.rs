//! Live pages: a watcher thread polls the store's change order (`max(seq)` of the documents,
//! an indexed read that changes with every commit, by this process, a `crm` command or
//! `crm sync --watch`) and each open page holds a server-sent event stream that says "changed
//! to N"; the page's script has htmx re-fetch what is on screen if N is after the change order
//! the page was drawn at (see [`super::layout::page`]).

use super::App;
use crate::store::Store;
use anyhow::Result;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often the store's change order is read.
const POLL: Duration = Duration::from_millis(250);

/// Starts the watcher (on the UI's connection, between requests); it stops when `stopping` is
/// set.
pub fn watch_changes(
    store: Arc<Mutex<Store>>,
    stopping: watch::Receiver<bool>,
) -> Result<watch::Receiver<i64>> {
    let seq = move || -> Option<i64> { store.lock().ok()?.change_seq().ok() };
    let first = seq().unwrap_or(0);
    let (tx, rx) = watch::channel(first);
    std::thread::Builder::new()
        .name("crm-ui-watch".into())
        .spawn(move || {
            let mut last = first;
            while !*stopping.borrow() {
                std::thread::sleep(POLL);
                // A busy store (another process's write) is read again at the next poll.
                if let Some(seq) = seq() {
                    if seq != last {
                        last = seq;
                        if tx.send(seq).is_err() {
                            break;
                        }
                    }
                }
            }
        })?;
    Ok(rx)
}

/// `GET /events`: the store's change order when the stream opens, then one `change` event per
/// change of the store, until the server stops. Each event carries the change order; the page
/// ignores those at or before the one it was drawn at, so a change made between drawing the
/// page and opening the stream is not missed, and one the page already shows is not redrawn.
pub async fn events(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = app.changes.clone();
    let now = *changes.borrow_and_update();
    let stopping = app.stopping.clone();
    let event = |seq: i64| Event::default().event("change").data(seq.to_string());
    let first = futures_util::stream::once(async move { Ok(event(now)) });
    let rest = futures_util::stream::unfold(
        (changes, stopping),
        move |(mut changes, mut stopping)| async move {
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                changed = changes.changed() => {
                    changed.ok()?;
                    let seq = *changes.borrow_and_update();
                    Some((Ok(event(seq)), (changes, stopping)))
                }
                _ = stopping.changed() => None,
            }
        },
    );
    Sse::new(futures_util::StreamExt::chain(first, rest)).keep_alive(KeepAlive::default())
}
