//! Reports: the pipeline by stage and revenue by month, as `crm report ... --json` gives them,
//! drawn as bar charts (inline SVG) with their tables, as of any date.

use super::render;
use crate::cli::{ReportArgs, ReportBy, ReportKind};
use crate::commands::shared::report_json;
use crate::ui::charts::{bars, Bar};
use crate::ui::layout::{page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Query, State};
use axum::response::Html;
use crm_shared::values::{format_amount, Currency};
use maud::{html, Markup};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    as_of: String,
}

/// `GET /reports?as_of=DATE`.
pub async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<ReportQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let as_of = Some(q.as_of.trim().to_string()).filter(|d| !d.is_empty());
        let args = |kind, by| ReportArgs {
            kind,
            as_of: as_of.clone(),
            by: Some(by),
            from: None,
            to: None,
            month: None,
            csv: false,
        };
        let pipeline = report_json(ctx, store, &args(ReportKind::Pipeline, ReportBy::Stage));
        let revenue = report_json(ctx, store, &args(ReportKind::Revenue, ReportBy::Month));
        let url = match &as_of {
            Some(d) => format!("/reports?as_of={d}"),
            None => "/reports".into(),
        };
        let main = html! {
            h1 { "Reports" }
            form.banner method="get" action="/reports" {
                label for="as_of" { "As of " }
                input #as_of type="date" name="as_of" value=(q.as_of);
                " " button type="submit" { "Show" } " "
                a href="/reports" { "now" }
            }
            @match (pipeline, revenue) {
                (Ok(p), Ok(r)) => {
                    section #pipeline {
                        h2 { (p["title"].as_str().unwrap_or("")) }
                        (charts(&p, "stage", "value"))
                    }
                    section #revenue {
                        h2 { (r["title"].as_str().unwrap_or("")) }
                        (charts(&r, "month", "revenue"))
                    }
                }
                (Err(e), _) | (_, Err(e)) => { div.banner.error role="alert" { (super::records::one_line(&e)) } }
            }
        };
        Ok(frame(app, store, "Reports", Section::Reports, Refresh::Live(&url), html! {}, main))
    })
    .await
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
    let text = |r: &serde_json::Value, key: &str| match &r[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
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
                .map(|r| { let (value, text) = money(r); Bar { label: text_of(r, group), value, text } })
                .collect();
            (bars(&format!("{} in {cur}", report["title"].as_str().unwrap_or("")), &chart))
        }
        @if let Some(first) = rows.first() {
            @let keys: Vec<String> = first.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            table {
                thead { tr { @for k in &keys { th { (k) } } } }
                tbody {
                    @for r in &rows {
                        tr { @for k in &keys {
                            td { @if k == measure || k == "weighted" || k == "value" { (money_of(r, k)) } @else { (text(r, k)) } }
                        } }
                    }
                }
            }
        }
        @for n in report["notes"].as_array().into_iter().flatten() { p.muted { (n.as_str().unwrap_or("")) } }
        @for w in report["warnings"].as_array().into_iter().flatten() { div.banner.notice { (w.as_str().unwrap_or("")) } }
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
