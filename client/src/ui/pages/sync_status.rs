//! Sync status: the server this data dir syncs with, whether a sync session is connected now,
//! when the last `crm sync` ended and what it brought, what changed here since, and the records
//! that did not travel (refused, no longer shared, removed) with why and what to do, as
//! `crm sync` said them.

use super::{href, render};
use crate::commands::shared::last_sync;
use crate::output;
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::State;
use axum::response::Html;
use crm_shared::RecordKind;
use maud::{html, Markup};
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
        let last = last_sync(store.dir());
        let main = html! {
            h1 { "Sync" }
            dl.fields {
                dt { "Server" } dd { (server.as_deref().unwrap_or("none: this data dir works alone (`crm config --server URL`)")) }
                dt { "Last sync" } dd #last-sync { (last_line(last.as_ref())) }
                dt { "Connected now" } dd #connected { @if connected { "yes: a `crm sync --watch` session is running" } @else { "no" } }
                dt { "Changed here since the last sync" } dd #pending {
                    @if synced_to.is_some() { (pending) " record(s)" } @else { "never synced: every record" }
                }
                dt { "No longer shared with you" } dd { (unshared) " record(s) (`crm sync` names them)" }
            }
            @if let Some(last) = &last { (groups(last)) }
            p.muted { "Sync with `crm sync` (once) or `crm sync --watch` (keeps going); records the server refuses stay here and `crm sync` says what to do." }
        };
        Ok(frame(app, store, "Sync", Section::Sync, Refresh::Live("/sync"), html! {}, main))
    })
    .await
}

/// When the last sync ended and what it brought.
fn last_line(last: Option<&serde_json::Value>) -> String {
    let Some(last) = last else {
        return "none kept yet (`crm sync` keeps its outcome here)".into();
    };
    let r = &last["report"];
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    format!(
        "{} with {}: {} new and {} updated records here",
        last["at_ms"]
            .as_i64()
            .map(output::local_time_ms)
            .unwrap_or_default(),
        r["server"].as_str().unwrap_or("?"),
        n("created"),
        n("updated")
    )
}

/// The records the last sync named, by cause, each with why and what to do next.
fn groups(last: &serde_json::Value) -> Markup {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let kind = |k: &str| match k {
        "contact" => RecordKind::Contact,
        "organization" => RecordKind::Organization,
        "case" => RecordKind::Case,
        _ => RecordKind::Activity,
    };
    html! {
        @for g in last["records"].as_array().into_iter().flatten() {
            section.sync-group data-cause=(text(&g["cause"])) {
                h2 { (match g["cause"].as_str() {
                    Some("refused") => "Not accepted by the server",
                    Some("unshared") => "No longer shared with you",
                    Some("attention") => "To settle",
                    _ => "Removed by someone else",
                }) }
                p { (text(&g["why"])) }
                ul { @for r in g["records"].as_array().into_iter().flatten() {
                    li { (text(&r["kind"])) " " a href=(href(kind(r["kind"].as_str().unwrap_or("")), &text(&r["id"]))) { (text(&r["name"])) } " (book " (text(&r["book"])) ")" }
                } }
                p.next { strong { "Next: " } (text(&g["next"])) }
            }
        }
    }
}
