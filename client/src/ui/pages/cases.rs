//! The pipeline board (a column per stage; a card moves by drag and drop or by its form, with
//! the reason asked on lost) and a case's page (fields, playbook, move, conflicts, history).

use super::records::{local_path, one_line, with_message, PageQuery};
use super::{cell, conflicts, fields, history, render};
use crate::commands::shared::{move_case as move_stage, playbook, query, Row};
use crate::ui::layout::{banner, csrf_field, page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use axum::Form;
use crm_shared::{RecordKind, Stage};
use maud::{html, Markup};
use rusqlite::types::Value;
use serde::Deserialize;
use std::sync::Arc;

/// Cards a column shows (the rest are counted).
const CARDS: u32 = 30;

/// `GET /cases`: the board.
pub async fn board(
    State(app): State<Arc<App>>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, _ctx, store| {
        let counts: Vec<(String, i64)> = {
            let mut stmt = store
                .conn()
                .prepare("SELECT stage, count(*) FROM rm_cases WHERE deleted = 0 GROUP BY stage")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut columns = Vec::new();
        for stage in Stage::ALL {
            // Open stages show what closes first; won and lost what closed last.
            let order = if stage.is_open() { "c.close_date IS NULL, c.close_date, c.id" } else { "c.close_date DESC, c.id" };
            let rows = query(
                store,
                &format!("SELECT c.id, c.title, c.amount, c.currency, c.close_date, c.owner, o.name FROM rm_cases c LEFT JOIN rm_orgs o ON o.id = c.org_id WHERE c.deleted = 0 AND c.stage = ?1 ORDER BY {order} LIMIT {CARDS}"),
                &[Value::Text(stage.key().to_string())],
                &["id", "title", "amount", "currency", "close_date", "owner", "org"],
            )?;
            let count = counts.iter().find(|(s, _)| s == stage.key()).map(|(_, n)| *n).unwrap_or(0);
            columns.push((stage, count, rows));
        }
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            h1 { "Pipeline " a.quiet #new-case href="/new/case" { "New case" } }
            p.muted { "Drag a card to another stage, or pick the stage on the card and press Move." }
            dialog #lost-reason aria-labelledby="lost-reason-title" {
                form method="dialog" {
                    h2 #lost-reason-title { "Why was this case lost?" }
                    input type="text" name="reason" required aria-label="Reason the case was lost";
                    " " button type="submit" value="move" { "Move to lost" }
                    " " button.quiet type="submit" value="cancel" formnovalidate { "Cancel" }
                }
            }
            div.board {
                @for (stage, count, rows) in &columns {
                    section.column data-stage=(stage.key()) aria-label=(stage.key()) {
                        h2 { (stage.key()) " " span.muted { "(" (count) ")" } }
                        @for r in rows { (card(app, r, *stage)) }
                        @if *count > rows.len() as i64 { p.muted { "and " (*count - rows.len() as i64) " more" } }
                    }
                }
            }
        };
        Ok(frame(app, store, "Pipeline", Section::Cases, Refresh::Live("/cases"), html! {}, main))
    })
    .await
}

/// A case on the board: its title, organization, amount and close date, and a move form.
fn card(app: &App, r: &Row, stage: Stage) -> Markup {
    let id = cell(r, "id");
    html! {
        article.card data-case=(id) {
            a href=(format!("/cases/{id}")) { (cell(r, "title")) }
            div.amount { (cell(r, "org")) @if r.get("org").is_some_and(|o| !o.is_null()) { " · " } (cell(r, "amount")) }
            div.muted { (cell(r, "close_date")) " " (cell(r, "owner")) }
            (move_form(app, &id, stage, "/cases"))
        }
    }
}

/// The form that moves a case to another stage (a reason is needed for lost).
fn move_form(app: &App, id: &str, from: Stage, back: &str) -> Markup {
    html! {
        form.move method="post" action=(format!("/cases/{id}/move")) {
            (csrf_field(app))
            input type="hidden" name="back" value=(back);
            select name="stage" aria-label="New stage" {
                @for s in Stage::ALL.iter().filter(|s| **s != from) {
                    option value=(s.key()) { (s.key()) }
                }
            }
            input type="text" name="reason" placeholder="reason, if lost" aria-label="Reason, if lost";
            button type="submit" { "Move" }
        }
    }
}

/// `GET /cases/ID`.
pub async fn case(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, _ctx, store| {
        let (id, _) = store.resolve(&id, Some(RecordKind::Case))?;
        let r = store.record(id)?;
        let book = playbook(&store.settings()?, &r);
        let stage = r
            .str("stage")
            .and_then(|s| s.parse::<Stage>().ok())
            .unwrap_or(Stage::Prospecting);
        let url = format!("/cases/{id}");
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            h1 { (r.title()) " " a.quiet href=(format!("/edit/case/{id}")) { "Edit" } " " a.quiet #new-activity href=(format!("/new/activity?case={id}")) { "New activity" } }
            (conflicts(app, store, &r)?)
            div.cols {
                div { (fields(store, &r)) }
                div {
                    h2 { "Stage: " (stage.key()) }
                    (move_form(app, &id.to_string(), stage, &url))
                    @if let Some(steps) = book["steps"].as_array().filter(|s| !s.is_empty()) {
                        h2 { "Playbook of " (book["stage"].as_str().unwrap_or("")) }
                        ol #playbook {
                            @for st in steps {
                                li {
                                    @if st["done"] == true { "☑ " } @else { "☐ " }
                                    (st["title"].as_str().unwrap_or(""))
                                    @if st["required"] == true { " " span.muted { "(required)" } }
                                }
                            }
                        }
                    }
                }
            }
            (history(store, &r)?)
        };
        Ok(frame(
            app,
            store,
            r.title(),
            Section::Cases,
            Refresh::Live(&url),
            html! {},
            main,
        ))
    })
    .await
}

/// The move form's fields.
#[derive(Debug, Deserialize)]
pub struct MoveForm {
    stage: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// `POST /cases/ID/move`: the move of `crm case move ID --stage S --reason R`.
pub async fn move_case(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<MoveForm>,
) -> Result<Redirect, UiError> {
    let back = local_path(&f.back);
    let outcome = app
        .with_store(move |ctx, store| {
            let to: Stage = f.stage.parse()?;
            let (r, warning) = move_stage(store, &id, to, Some(&f.reason), ctx.now_ms, ctx.today)?;
            let said = format!("Moved \"{}\" to {}.", r.title(), to.key());
            Ok(match warning {
                Some(w) => format!("{said} {w}"),
                None => said,
            })
        })
        .await;
    Ok(match outcome {
        Ok(said) => Redirect::to(&with_message(&back, "ok", &said)),
        Err(e) => Redirect::to(&with_message(&back, "error", &one_line(&e))),
    })
}
