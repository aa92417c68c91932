//! Live pages: a watcher thread polls the store's change order (`max(seq)` of the documents,
//! an indexed read that changes with every commit, by this process, a `crm` command or
//! `crm sync --watch`) and each open page holds a server-sent event stream that says "changed";
//! the page's script then has htmx re-fetch what is on screen.

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

/// `GET /events`: one `change` event per change of the store, until the server stops.
pub async fn events(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = app.changes.clone();
    changes.mark_unchanged();
    let stopping = app.stopping.clone();
    let stream = futures_util::stream::unfold(
        (changes, stopping),
        |(mut changes, mut stopping)| async move {
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                changed = changes.changed() => {
                    changed.ok()?;
                    let seq = *changes.borrow_and_update();
                    Some((Ok(Event::default().event("change").data(seq.to_string())), (changes, stopping)))
                }
                _ = stopping.changed() => None,
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
