//! Reports: the pipeline by stage, the funnel with its losses, revenue by month and by region,
//! open cases by grade against the minimums, and cycle times, as `crm report ... --json` gives
//! them, drawn as bar charts (inline SVG) with their tables, as of any date. The six read the
//! store once ([`ReportBatch`]); drawn reports are kept until the store changes.

use super::render;
use crate::cli::{ReportArgs, ReportBy, ReportKind};
use crate::commands::shared::ReportBatch;
use crate::commands::Ctx;
use crate::store::Store;
use crate::ui::charts::{bars, bars_against, Bar};
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Query, State};
use axum::response::Html;
use crm_shared::values::{format_amount, Currency};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    as_of: String,
}

/// Reports drawn lately, by what they depend on: the store's change order, the day (for
/// `yesterday` and the rates of today) and the moment asked for. Any change of the store
/// (a commit here, another `crm`, a sync) changes the order, so a report is drawn again then.
#[derive(Default)]
pub struct Drawn(Mutex<Vec<(DrawnKey, String)>>);

#[derive(PartialEq, Eq)]
struct DrawnKey {
    seq: i64,
    today: chrono::NaiveDate,
    as_of: String,
}

/// The moments a page keeps drawn (other tabs and dates are drawn again).
const DRAWN: usize = 8;

impl Drawn {
    fn get(&self, key: &DrawnKey) -> Option<String> {
        let kept = self.0.lock().ok()?;
        kept.iter().find(|(k, _)| k == key).map(|(_, m)| m.clone())
    }

    fn keep(&self, key: DrawnKey, markup: String) {
        if let Ok(mut kept) = self.0.lock() {
            kept.retain(|(k, _)| k.seq == key.seq && k.today == key.today);
            if kept.len() >= DRAWN {
                kept.remove(0);
            }
            kept.push((key, markup));
        }
    }
}

/// `GET /reports?as_of=DATE`.
pub async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<ReportQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let as_of = Some(q.as_of.trim().to_string()).filter(|d| !d.is_empty());
        let url = match &as_of {
            Some(d) => format!("/reports?as_of={d}"),
            None => "/reports".into(),
        };
        // Read before drawing: a change committed meanwhile draws the reports again next time.
        // (A store busy with another process's write is drawn afresh and not kept.)
        let key = store.change_seq().ok().map(|seq| DrawnKey {
            seq,
            today: ctx.today,
            as_of: q.as_of.trim().to_string(),
        });
        let main = match key.as_ref().and_then(|k| app.reports.get(k)) {
            Some(kept) => PreEscaped(kept),
            None => {
                let main = draw(ctx, store, as_of, &q.as_of)?;
                if let Some(key) = key {
                    app.reports.keep(key, main.0.clone());
                }
                main
            }
        };
        Ok(frame(
            app,
            store,
            "Reports",
            Section::Reports,
            Refresh::Live(&url),
            html! {},
            main,
        ))
    })
    .await
}

/// The six reports as of `as_of` (none: now), each as `crm report ... --json` gives it, drawn.
fn draw(ctx: &Ctx, store: &Store, as_of: Option<String>, typed: &str) -> anyhow::Result<Markup> {
    let args = |kind, by| ReportArgs {
        kind,
        as_of: as_of.clone(),
        by: Some(by),
        from: None,
        to: None,
        month: None,
        csv: false,
        pdf: false,
        out: None,
    };
    // One batch: the six reports read the store once.
    let mut batch = ReportBatch::new(store);
    let mut report = |kind, by| batch.json(ctx, &args(kind, by));
    let sections: [(&str, anyhow::Result<serde_json::Value>, Chart); 6] = [
        (
            "pipeline",
            report(ReportKind::Pipeline, ReportBy::Stage),
            Chart::Money("stage", "value"),
        ),
        (
            "funnel",
            report(ReportKind::Funnel, ReportBy::Stage),
            Chart::Funnel,
        ),
        (
            "revenue",
            report(ReportKind::Revenue, ReportBy::Month),
            Chart::Money("month", "revenue"),
        ),
        (
            "revenue-region",
            report(ReportKind::Revenue, ReportBy::Region),
            Chart::Money("region", "revenue"),
        ),
        (
            "grades",
            report(ReportKind::Grades, ReportBy::Owner),
            Chart::Grades,
        ),
        (
            "cycle",
            report(ReportKind::Cycle, ReportBy::Stage),
            Chart::Cycle,
        ),
    ];
    let settings = store.settings()?;
    Ok(html! {
        h1 { "Reports" }
        form.banner method="get" action="/reports" {
            label for="as_of" { "As of " }
            input #as_of type="date" name="as_of" value=(typed);
            " " button type="submit" { "Show" } " "
            a href="/reports" { "now" }
        }
        @for (id, result, chart) in sections {
            section id=(id) {
                @match result {
                    Ok(r) => {
                        h2 { (r["title"].as_str().unwrap_or("")) }
                        @match chart {
                            Chart::Money(group, measure) => (charts(&r, group, measure)),
                            Chart::Funnel => { (bars("Cases entering each stage, lost there in red", &funnel_bars(&r))) (rows_table(&r, "")) }
                            Chart::Grades => { (grade_charts(&r, &settings)) (rows_table(&r, "")) }
                            Chart::Cycle => { (bars("Average days", &cycle_bars(&r))) (rows_table(&r, "")) }
                        }
                    }
                    Err(e) => { div.banner.error role="alert" { (super::records::one_line(&e)) } }
                }
            }
        }
    })
}

/// A chart per currency of a report's rows grouped by `group`, bars of `measure`, and the
/// rows as a table.
fn charts(report: &serde_json::Value, group: &str, measure: &str) -> Markup {
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    let mut currencies: Vec<String> = rows
        .iter()
        .filter_map(|r| r["currency"].as_str().map(str::to_string))
        .collect();
    currencies.dedup();
    currencies.sort();
    currencies.dedup();
    let money = |r: &serde_json::Value| {
        let c = r["currency"]
            .as_str()
            .and_then(|c| Currency::parse(c).ok())
            .unwrap_or(Currency::EUR);
        let minor = r[measure].as_i64().unwrap_or(0);
        (minor as f64, format!("{} {c}", format_amount(minor, c)))
    };
    html! {
        @if rows.is_empty() { p.muted { "Nothing to report." } }
        @for cur in &currencies {
            @let chart: Vec<Bar> = rows.iter()
                .filter(|r| r["currency"].as_str() == Some(cur.as_str()) && r[group].as_str() != Some("total"))
                .map(|r| { let (value, text) = money(r); Bar::new(text_of(r, group), value, text) })
                .collect();
            (bars(&format!("{} in {cur}", report["title"].as_str().unwrap_or("")), &chart))
        }
        (rows_table(report, measure))
    }
}

fn text_of(r: &serde_json::Value, key: &str) -> String {
    r[key]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| r[key].to_string())
}

/// An amount cell of a report row, in the row's currency.
fn money_of(r: &serde_json::Value, key: &str) -> String {
    let c = r["currency"]
        .as_str()
        .and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::EUR);
    r[key]
        .as_i64()
        .map(|m| format!("{} {c}", format_amount(m, c)))
        .unwrap_or_default()
}

/// How a report is drawn.
enum Chart {
    /// Bars of an amount (`measure`) per `group`, one chart per currency.
    Money(&'static str, &'static str),
    /// Cases entering each stage, with those lost there.
    Funnel,
    /// Open cases per rep and grade, against the grade's minimum.
    Grades,
    /// Average days per stage and overall.
    Cycle,
}

/// A report's rows as a table (amounts of `measure` in their currency), its notes and
/// warnings.
fn rows_table(report: &serde_json::Value, measure: &str) -> Markup {
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    let text = |r: &serde_json::Value, key: &str| match &r[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
    html! {
        @if let Some(first) = rows.first() {
            @let keys = columns(report, first);
            table {
                thead { tr { @for k in &keys { th { (k.replace('_', " ")) } } } }
                tbody {
                    @for r in &rows {
                        tr { @for k in &keys {
                            td { @if !measure.is_empty() && (k == measure || k == "weighted" || k == "value") { (money_of(r, k)) } @else { (text(r, k)) } }
                        } }
                    }
                }
            }
        }
        @for n in report["notes"].as_array().into_iter().flatten() { p.muted { (n.as_str().unwrap_or("")) } }
        @for w in report["warnings"].as_array().into_iter().flatten() { div.banner.notice { (w.as_str().unwrap_or("")) } }
    }
}

/// A row's keys with what the rows are grouped by first (JSON objects keep them sorted).
fn columns(report: &serde_json::Value, row: &serde_json::Value) -> Vec<String> {
    let group = report["by"].as_str().unwrap_or("");
    let mut keys: Vec<String> = row
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort_by_key(|k| !(k == group || k == "what"));
    keys
}

fn number(r: &serde_json::Value, key: &str) -> f64 {
    r[key].as_f64().unwrap_or(0.0)
}

/// The funnel's stages: cases that entered each, the part lost there.
fn funnel_bars(report: &serde_json::Value) -> Vec<Bar> {
    report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let (entered, lost) = (number(r, "entered"), number(r, "lost"));
            let mut b = Bar::new(
                text_of(r, "stage"),
                entered,
                format!("{entered} entered, {lost} lost"),
            );
            b.part = lost;
            b
        })
        .collect()
}

/// The cycle report's average days per row.
fn cycle_bars(report: &serde_json::Value) -> Vec<Bar> {
    report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let days = number(r, "average_days");
            Bar::new(text_of(r, "what"), days, format!("{days:.1} days"))
        })
        .collect()
}

/// One chart per grade: each rep's open cases of that grade against the grade's minimum.
fn grade_charts(report: &serde_json::Value, settings: &crm_shared::schema::Settings) -> Markup {
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    html! {
        @for (grade, key) in [("A", "a"), ("B", "b"), ("C", "c")] {
            @let min = settings.grade_minimum(grade);
            @let chart: Vec<Bar> = rows.iter().map(|r| {
                let n = number(r, key);
                Bar::new(text_of(r, "owner"), n, format!("{n} open {grade}"))
            }).collect();
            (bars_against(&format!("Open {grade} cases per rep, minimum {min}"), &chart, min as f64, &format!("min {min}")))
        }
    }
}
