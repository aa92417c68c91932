//! The agenda calendar: the rep's activities of a week (by day and time) or a month (by day),
//! each linking to the person or organization it is with, with previous and next.

use super::{href, render};
use crate::commands::shared::{query, Row};
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{Datelike, Days, Months, NaiveDate};
use crm_shared::RecordKind;
use maud::{html, Markup};
use rusqlite::types::Value;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    /// `week` (the default) or `month`.
    #[serde(default)]
    view: String,
    /// A day in the period shown (default today).
    #[serde(default)]
    date: String,
}

/// The activities of `user` from `first` to `last` (excluded), as the agenda reads them (its
/// covering index), with the ids of who each is with.
fn activities(
    store: &crate::store::Store,
    user: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> anyhow::Result<Vec<Row>> {
    query(
        store,
        "SELECT a.id, a.at, a.end_at, a.kind, a.subject, a.status, a.contact_id, c.name, a.org_id, o.name
         FROM rm_activities a
         LEFT JOIN rm_contacts c ON c.id = a.contact_id
         LEFT JOIN rm_orgs o ON o.id = a.org_id
         WHERE a.owner = ?1 AND a.deleted = 0 AND a.status != 'cancelled' AND a.at >= ?2 AND a.at < ?3
         ORDER BY a.at, a.id",
        &[
            Value::Text(user.to_string()),
            Value::Text(first.to_string()),
            Value::Text(last.to_string()),
        ],
        &["id", "at", "end_at", "kind", "subject", "status", "contact_id", "contact", "org_id", "org"],
    )
}

/// `GET /agenda?view=week|month&date=DAY`.
pub async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<CalendarQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let day = if q.date.trim().is_empty() {
            ctx.today
        } else {
            crm_shared::values::parse_date(q.date.trim())?
        };
        let month = q.view == "month";
        let (first, last, before, after) = if month {
            let first = day.with_day(1).unwrap_or(day);
            let last = first + Months::new(1);
            (first, last, first - Months::new(1), last)
        } else {
            let first = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
            (first, first + Days::new(7), first - Days::new(7), first + Days::new(7))
        };
        let user = store.identity.user.clone();
        let rows = activities(store, &user, first, last)?;
        let view = if month { "month" } else { "week" };
        let link = |d: NaiveDate, v: &str| format!("/agenda?view={v}&date={d}");
        let title = if month {
            first.format("%B %Y").to_string()
        } else {
            format!("Week of {}", first.format("%-d %B %Y"))
        };
        let main = html! {
            h1 { (title) }
            nav.calendar-nav {
                a #prev href=(link(before, view)) { "← Previous" } " "
                a href=(link(ctx.today, view)) { "Today" } " "
                a #next href=(link(after, view)) { "Next →" } " · "
                a href=(link(first, "week")) class=[(!month).then_some("on")] { "Week" } " "
                a href=(link(first, "month")) class=[month.then_some("on")] { "Month" }
            }
            @if month { (month_grid(first, last, ctx.today, &rows)) } @else { (week_grid(first, ctx.today, &rows)) }
        };
        let url = link(first, view);
        Ok(frame(app, store, "Agenda", Section::Agenda, Refresh::Live(&url), html! {}, main))
    })
    .await
}

/// A text column of a row (none if NULL).
fn field<'a>(r: &'a Row, key: &str) -> Option<&'a str> {
    r.get(key).and_then(|v| v.as_str())
}

/// The activities of one day.
fn on(rows: &[Row], d: NaiveDate) -> Vec<&Row> {
    let day = d.to_string();
    rows.iter()
        .filter(|r| field(r, "at").is_some_and(|a| a.starts_with(&day)))
        .collect()
}

/// One activity: its time, kind and subject, and a link to who it is with.
fn item(r: &Row) -> Markup {
    let time = field(r, "at").and_then(|a| a.get(11..16)).unwrap_or("");
    let text = |k: &str| field(r, k).unwrap_or("").to_string();
    html! {
        div data-activity=(text("id")) class=(format!("activity {}", text("status"))) {
            span.time { (time) } " " span.kind { (text("kind")) } " " (text("subject"))
            @if let Some(c) = field(r, "contact_id") {
                " · " a href=(href(RecordKind::Contact, c)) { (text("contact")) }
            }
            @if let Some(o) = field(r, "org_id") {
                " · " a href=(href(RecordKind::Organization, o)) { (text("org")) }
            }
        }
    }
}

fn week_grid(first: NaiveDate, today: NaiveDate, rows: &[Row]) -> Markup {
    html! {
        div.calendar.week {
            @for i in 0..7 {
                @let d = first + Days::new(i);
                section.day.today[d == today] data-day=(d.to_string()) {
                    h3 { (d.format("%a %-d %b")) }
                    @for r in on(rows, d) { (item(r)) }
                }
            }
        }
    }
}

fn month_grid(first: NaiveDate, last: NaiveDate, today: NaiveDate, rows: &[Row]) -> Markup {
    let start = first - Days::new(u64::from(first.weekday().num_days_from_monday()));
    let weeks = ((last - start).num_days() + 6) / 7;
    html! {
        table.calendar.month {
            thead { tr { @for d in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] { th { (d) } } } }
            tbody {
                @for w in 0..weeks {
                    tr {
                        @for i in 0..7 {
                            @let d = start + Days::new((w * 7 + i) as u64);
                            td.today[d == today] data-day=(d.to_string()) {
                                @if d >= first && d < last {
                                    div.date { (d.day()) }
                                    @for r in on(rows, d) { (item(r)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
