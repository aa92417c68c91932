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
use std::collections::HashMap;
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

/// Activities shown in a day of the month view, and of the week view: a busy day says how many
/// more it has rather than drawing them all (a month of a busy book is tens of thousands).
const PER_DAY_MONTH: i64 = 6;
const PER_DAY_WEEK: i64 = 40;

/// What the calendar shows of `user`'s activities from `first` to `last` (excluded): the first
/// `per_day` of each day, as the agenda reads them (its covering index, names by id), with the
/// ids of who each is with, and how many each day has in all. Day by day: each day is a seek
/// and a short range of the index, never the whole month sorted.
fn activities(
    store: &crate::store::Store,
    user: &str,
    first: NaiveDate,
    last: NaiveDate,
    per_day: i64,
) -> anyhow::Result<(Vec<Row>, HashMap<String, i64>)> {
    const OF_DAY: &str =
        "a.owner = ?1 AND a.deleted = 0 AND a.status != 'cancelled' AND a.at >= ?2 AND a.at < ?3";
    let shown = format!(
        "SELECT a.id, a.at, a.end_at, a.kind, a.subject, a.status, a.contact_id, c.name, a.org_id, o.name
         FROM rm_activities a INDEXED BY rm_activities_agenda
         LEFT JOIN rm_contacts c INDEXED BY rm_contacts_name_by_id ON c.id = a.contact_id
         LEFT JOIN rm_orgs o INDEXED BY rm_orgs_name_by_id ON o.id = a.org_id
         WHERE {OF_DAY} ORDER BY a.at, a.id LIMIT {per_day}"
    );
    let mut count = store.conn().prepare_cached(&format!(
        "SELECT count(*) FROM rm_activities a INDEXED BY rm_activities_agenda WHERE {OF_DAY}"
    ))?;
    let mut rows = Vec::new();
    let mut counts = HashMap::new();
    let mut day = first;
    while day < last {
        let next = day + Days::new(1);
        let params = [
            Value::Text(user.to_string()),
            Value::Text(day.to_string()),
            Value::Text(next.to_string()),
        ];
        let n: i64 = count.query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?;
        if n > 0 {
            counts.insert(day.to_string(), n);
            rows.extend(query(
                store,
                &shown,
                &params,
                &[
                    "id",
                    "at",
                    "end_at",
                    "kind",
                    "subject",
                    "status",
                    "contact_id",
                    "contact",
                    "org_id",
                    "org",
                ],
            )?);
        }
        day = next;
    }
    Ok((rows, counts))
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
        let per_day = if month { PER_DAY_MONTH } else { PER_DAY_WEEK };
        let (rows, counts) = activities(store, &user, first, last, per_day)?;
        let days = Shown::group(&rows, &counts);
        let view = if month { "month" } else { "week" };
        let link = |d: NaiveDate, v: &str| format!("/agenda?view={v}&date={d}");
        let title = if month {
            first.format("%B %Y").to_string()
        } else {
            format!("Week of {}", first.format("%-d %B %Y"))
        };
        let main = html! {
            h1 { (title) " " a.quiet #new-activity href="/new/activity" { "New activity" } }
            nav.calendar-nav {
                a #prev href=(link(before, view)) { "← Previous" } " "
                a href=(link(ctx.today, view)) { "Today" } " "
                a #next href=(link(after, view)) { "Next →" } " · "
                a href=(link(first, "week")) class=[(!month).then_some("on")] { "Week" } " "
                a href=(link(first, "month")) class=[month.then_some("on")] { "Month" }
            }
            @if month { (month_grid(first, last, ctx.today, &days)) } @else { (week_grid(first, ctx.today, &days)) }
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

/// The activities shown on each day, and how many each day has in all.
struct Shown<'a> {
    shown: HashMap<String, Vec<&'a Row>>,
    counts: &'a HashMap<String, i64>,
}

impl<'a> Shown<'a> {
    fn group(rows: &'a [Row], counts: &'a HashMap<String, i64>) -> Shown<'a> {
        let mut shown: HashMap<String, Vec<&Row>> = HashMap::new();
        for r in rows {
            if let Some(day) = field(r, "at").and_then(|a| a.get(..10)) {
                shown.entry(day.to_string()).or_default().push(r);
            }
        }
        Shown { shown, counts }
    }

    /// The activities of day `d`, and a line saying how many more it has.
    fn of(&self, d: NaiveDate) -> Markup {
        let day = d.to_string();
        let rows = self.shown.get(&day).map(Vec::as_slice).unwrap_or_default();
        let more = self.counts.get(&day).copied().unwrap_or(0) - rows.len() as i64;
        html! {
            @for r in rows { (item(r)) }
            @if more > 0 {
                div.more { "and " (more) " more (" code { "crm agenda --date " (day) } ")" }
            }
        }
    }
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

fn week_grid(first: NaiveDate, today: NaiveDate, days: &Shown<'_>) -> Markup {
    html! {
        div.calendar.week {
            @for i in 0..7 {
                @let d = first + Days::new(i);
                section.day.today[d == today] data-day=(d.to_string()) {
                    h3 { (d.format("%a %-d %b")) }
                    (days.of(d))
                }
            }
        }
    }
}

fn month_grid(first: NaiveDate, last: NaiveDate, today: NaiveDate, days: &Shown<'_>) -> Markup {
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
                                    (days.of(d))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
