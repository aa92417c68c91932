//! Today: the rep's agenda for today, due reminders, overdue tasks, and records in conflict.

use super::{render, table};
use crate::commands::shared::agenda;
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::State;
use axum::response::Html;
use crm_shared::RecordKind;
use maud::html;
use std::sync::Arc;

const ACTIVITY: [(&str, &str); 5] = [
    ("at", "When"),
    ("kind", "Kind"),
    ("subject", "Subject"),
    ("status", "Status"),
    ("location", "Where"),
];

/// The rows of each list the page draws; a busier day says how many more there are.
const SHOWN: usize = 100;

/// "and N more" under a list cut at [`SHOWN`] rows, with the command that lists them all.
fn more(total: usize, command: &str) -> maud::Markup {
    html! {
        @if total > SHOWN {
            p.more { "and " (total - SHOWN) " more (" code { (command) } ")" }
        }
    }
}

/// `GET /`.
pub async fn page(State(app): State<Arc<App>>) -> Result<Html<String>, UiError> {
    render(&app, |app, ctx, store| {
        let user = store.identity.user.clone();
        let tomorrow = ctx.today + chrono::Days::new(1);
        let (items, overdue, reminders) = agenda(ctx, store, &user, ctx.today, tomorrow)?;
        let conflicted: i64 = store
            .conn()
            .query_row("SELECT count(DISTINCT id) FROM rm_conflicts", [], |r| r.get(0))?;
        let main = html! {
            h1 { "Today, " (ctx.today.format("%A %-d %B %Y")) " " a.quiet #new-activity href="/new/activity" { "New activity" } }
            @if conflicted > 0 {
                div.banner.notice { (conflicted) " record(s) hold conflicting values: open them from "
                    a href="/contacts" { "contacts" } ", " a href="/orgs" { "organizations" } " or the " a href="/cases" { "pipeline" } " to settle them." }
            }
            @if !reminders.is_empty() {
                h2 { "Reminders" }
                (table(&reminders, &[("at", "When"), ("kind", "Kind"), ("subject", "Subject")], "", RecordKind::Activity, ""))
            }
            h2 { "Agenda" }
            (table(&items[..items.len().min(SHOWN)], &ACTIVITY, "", RecordKind::Activity, "Nothing planned today."))
            (more(items.len(), "crm agenda"))
            h2 { "Overdue tasks" }
            (table(&overdue[..overdue.len().min(SHOWN)], &ACTIVITY, "", RecordKind::Activity, "No overdue tasks."))
            (more(overdue.len(), "crm agenda"))
        };
        Ok(frame(app, store, "Today", Section::Today, Refresh::Live("/"), html! {}, main))
    })
    .await
}
