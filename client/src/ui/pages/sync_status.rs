//! Sync status: the server this data dir syncs with, whether a sync session is connected now,
//! what changed here since the last sync, and the records the server no longer shares.

use super::render;
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::State;
use axum::response::Html;
use maud::html;
use rusqlite::OptionalExtension;
use std::sync::Arc;

/// `GET /sync`.
pub async fn page(State(app): State<Arc<App>>) -> Result<Html<String>, UiError> {
    render(&app, |app, _ctx, store| {
        let connected = crate::live::is_live(store.dir());
        let synced_to: Option<i64> = store
            .conn()
            .query_row("SELECT seq FROM sync_summary WHERE k = 0", [], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        let pending: i64 = store.conn().query_row(
            "SELECT count(*) FROM documents WHERE seq > ?1",
            [synced_to.unwrap_or(0)],
            |r| r.get(0),
        )?;
        let unshared: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM sync_notices", [], |r| r.get(0))
            .unwrap_or(0);
        let server = store.identity.server.clone();
        let main = html! {
            h1 { "Sync" }
            dl.fields {
                dt { "Server" } dd { (server.as_deref().unwrap_or("none: this data dir works alone (`crm config --server URL`)")) }
                dt { "Connected now" } dd #connected { @if connected { "yes: a `crm sync --watch` session is running" } @else { "no" } }
                dt { "Changed here since the last sync" } dd #pending {
                    @if synced_to.is_some() { (pending) " record(s)" } @else { "never synced: every record" }
                }
                dt { "No longer shared with you" } dd { (unshared) " record(s) (`crm sync` names them)" }
            }
            p.muted { "Sync with `crm sync` (once) or `crm sync --watch` (keeps going); records the server refuses stay here and `crm sync` says what to do." }
        };
        Ok(frame(app, store, "Sync", Section::Sync, Refresh::Live("/sync"), html! {}, main))
    })
    .await
}
