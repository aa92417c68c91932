//! The pages, one module per screen, and the pieces several of them show: a record's fields,
//! its conflicts with "keep this" buttons, its history, and tables of read-model rows.

pub mod calendar;
pub mod cases;
pub mod edit;
pub mod records;
pub mod reports;
pub mod settings;
pub mod sync_status;
pub mod today;

use super::layout::csrf_field;
use super::routes::UiError;
use super::App;
use crate::commands::shared::{field_rows, Row};
use crate::commands::Ctx;
use crate::output;
use crate::store::Store;
use axum::response::Html;
use crm_shared::schema::{self, Record};
use crm_shared::RecordKind;
use maud::{html, Markup};
use std::sync::Arc;

/// Renders a page on the store's thread.
pub async fn render<F>(app: &Arc<App>, f: F) -> Result<Html<String>, UiError>
where
    F: FnOnce(&App, &Ctx, &mut Store) -> anyhow::Result<Markup> + Send + 'static,
{
    let a = Arc::clone(app);
    let markup = app.with_store(move |ctx, store| f(&a, ctx, store)).await?;
    Ok(Html(markup.into_string()))
}

/// The address of a record's page.
pub fn href(kind: RecordKind, id: &str) -> String {
    match kind {
        RecordKind::Contact => format!("/contacts/{id}"),
        RecordKind::Organization => format!("/orgs/{id}"),
        RecordKind::Case => format!("/cases/{id}"),
        _ => format!("/#{id}"),
    }
}

/// A record's fields, as `crm ... show` lists them.
pub fn fields(store: &Store, r: &Record) -> Markup {
    html! {
        dl.fields {
            @for (label, value) in field_rows(store, r) {
                dt { (label) } dd { (value) }
            }
        }
    }
}

/// The record's conflicting values, each with who wrote it and when, and a "keep this" button
/// that settles the field as `crm resolve` does.
pub fn conflicts(app: &App, store: &Store, r: &Record) -> anyhow::Result<Markup> {
    let mut doc = store.load(r.id)?;
    let conflicts = schema::conflicts(doc.document(), r.kind);
    let back = href(r.kind, &r.id.to_string());
    Ok(html! {
        @if !conflicts.is_empty() {
            section #conflicts {
                h2 { "Conflicting values" }
                p.muted { "Two people changed these fields at the same time. Keep one value:" }
                @for c in &conflicts {
                    div.conflict data-field=(c.field) {
                        strong { (c.field.replace('_', " ")) }
                        ul {
                            @for v in &c.values {
                                li {
                                    span.value { (v.text) } " "
                                    span.muted {
                                        "(" (v.user.as_deref().unwrap_or("someone"))
                                        @if let Some(at) = v.at { ", " (output::local_time_s(at)) }
                                        ")"
                                    } " "
                                    form method="post" action=(format!("/resolve/{}", r.id)) {
                                        (csrf_field(app))
                                        input type="hidden" name="field" value=(c.field);
                                        input type="hidden" name="value" value=(v.text);
                                        input type="hidden" name="back" value=(back);
                                        button.quiet type="submit" { "Keep this" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The record's changes, newest first: when, who, from which device, which fields.
pub fn history(store: &Store, r: &Record) -> anyhow::Result<Markup> {
    let mut doc = store.load(r.id)?;
    let entries = schema::history(doc.document());
    Ok(html! {
        h2 { "History" }
        table {
            thead { tr { th { "When" } th { "Who" } th { "Offline" } th { "Fields" } } }
            tbody {
                @for e in entries.iter().rev().take(100) {
                    tr {
                        td { (output::local_time_s(e.at)) }
                        td { (e.user.as_deref().unwrap_or("?")) }
                        td { @if e.offline == Some(true) { "yes" } }
                        td { (e.fields.join(", ")) }
                    }
                }
            }
        }
    })
}

/// A table of read-model rows: `columns` are (key, heading); the `link` column links to the
/// record of kind `kind` by the row's `id`.
pub fn table(
    rows: &[Row],
    columns: &[(&str, &str)],
    link: &str,
    kind: RecordKind,
    empty: &str,
) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { (empty) }
        } @else {
            table {
                thead { tr { @for (_, h) in columns { th { (h) } } } }
                tbody {
                    @for r in rows {
                        tr {
                            @for (key, _) in columns {
                                td {
                                    @let text = cell(r, key);
                                    @if *key == link {
                                        a href=(href(kind, r.get("id").and_then(|v| v.as_str()).unwrap_or(""))) { (text) }
                                    } @else { (text) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One cell's text: amounts in their currency, NULL empty.
pub fn cell(r: &Row, key: &str) -> String {
    if key == "amount" {
        if let Some(minor) = r.get("amount").and_then(|v| v.as_i64()) {
            let currency = r
                .get("currency")
                .and_then(|v| v.as_str())
                .and_then(|c| crm_shared::values::Currency::parse(c).ok())
                .unwrap_or(crm_shared::values::Currency::EUR);
            return format!(
                "{} {currency}",
                crm_shared::values::format_amount(minor, currency)
            );
        }
    }
    match r.get(key) {
        Some(serde_json::Value::String(s)) if matches!(key, "at" | "end_at" | "when" | "due") => {
            s.replace('T', " ")
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}
