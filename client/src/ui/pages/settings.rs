//! Settings: the pipeline's stages with their win probabilities and playbooks, the least open
//! A/B/C cases per rep, currencies and exchange rates. A manager changes probabilities and
//! grade minimums here through the functions of `crm settings`; a rep sees them read-only.

use super::records::{one_line, with_message, PageQuery};
use super::render;
use crate::commands::shared::{grade_edits, may_change_settings, percent_value, save_settings};
use crate::ui::layout::{banner, csrf_field, page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use axum::Form;
use crm_shared::schema::SettingsEdit;
use crm_shared::Stage;
use maud::html;
use serde::Deserialize;
use std::sync::Arc;

/// `GET /settings`.
pub async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let s = store.settings()?;
        // A rep is told why the fields are read-only, in the words of `crm settings`.
        let refused = may_change_settings(ctx, store).err().map(|e| one_line(&e));
        let edit = refused.is_none();
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            h1 { "Settings" }
            @if let Some(why) = &refused { div.banner.notice #read-only { "Read-only: " (why) } }
            h2 { "Pipeline" }
            table #stages {
                thead { tr { th { "Stage" } th { "Win probability" } th { "Playbook steps" } } }
                tbody {
                    @for stage in Stage::ALL {
                        tr data-stage=(stage.key()) {
                            td { (stage.key()) }
                            td {
                                @if edit {
                                    form.inline method="post" action="/settings/probability" {
                                        (csrf_field(app))
                                        input type="hidden" name="stage" value=(stage.key());
                                        input type="number" min="0" max="100" name="percent" aria-label=(format!("Win probability of {}", stage.key())) value=(s.probability(stage));
                                        "% " button.quiet type="submit" { "Set" }
                                    }
                                } @else { (s.probability(stage)) "%" }
                            }
                            td { ul { @for st in s.steps(stage) {
                                li { (st.title) @if st.required { " (required)" } }
                            } } }
                        }
                    }
                }
            }
            h2 { "Open cases each rep should hold" }
            @if edit {
                form #grades method="post" action="/settings/grades" {
                    (csrf_field(app))
                    @for g in ["A", "B", "C"] {
                        label { (g) " at least " input type="number" min="0" name=(g.to_lowercase()) value=(s.grade_minimum(g)); } " "
                    }
                    button type="submit" { "Save" }
                }
            } @else {
                p #grades { "A ≥ " (s.grade_minimum("A")) ", B ≥ " (s.grade_minimum("B")) ", C ≥ " (s.grade_minimum("C")) }
            }
            h2 { "Currencies" }
            p { (s.currencies.join(", ")) " (base " (s.base_currency) ")" }
            @if !s.rates.is_empty() {
                h2 { "Exchange rates" }
                ul { @for r in &s.rates { li { (r.describe()) } } }
            }
            p.muted { "Playbook steps, currencies and rates are changed with `crm settings step|currency|rate`." }
        };
        Ok(frame(app, store, "Settings", Section::Settings, Refresh::Live("/settings"), html! {}, main))
    })
    .await
}

/// The form of a stage's probability.
#[derive(Debug, Deserialize)]
pub struct ProbabilityForm {
    stage: String,
    percent: String,
}

/// `POST /settings/probability`: `crm settings probability STAGE PERCENT`.
pub async fn probability(
    State(app): State<Arc<App>>,
    Form(f): Form<ProbabilityForm>,
) -> Result<Redirect, UiError> {
    let outcome = app
        .with_store(move |ctx, store| {
            let stage: Stage = f.stage.parse()?;
            let edit = SettingsEdit::Probability(stage, percent_value(&f.percent)?);
            save_settings(ctx, store, &[edit])?;
            Ok(format!(
                "Saved: {} wins {}%.",
                stage.key(),
                f.percent.trim()
            ))
        })
        .await;
    Ok(answer(outcome))
}

/// The form of the grade minimums.
#[derive(Debug, Deserialize)]
pub struct GradesForm {
    a: Option<String>,
    b: Option<String>,
    c: Option<String>,
}

/// `POST /settings/grades`: `crm settings grades --a N --b N --c N`.
pub async fn grades(
    State(app): State<Arc<App>>,
    Form(f): Form<GradesForm>,
) -> Result<Redirect, UiError> {
    let outcome = app
        .with_store(move |ctx, store| {
            let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
            let edits = grade_edits(given(f.a), given(f.b), given(f.c))?;
            save_settings(ctx, store, &edits)?;
            Ok("Saved the grade minimums.".to_string())
        })
        .await;
    Ok(answer(outcome))
}

/// Back to the settings page with what happened.
fn answer(outcome: anyhow::Result<String>) -> Redirect {
    match outcome {
        Ok(said) => Redirect::to(&with_message("/settings", "ok", &said)),
        Err(e) => Redirect::to(&with_message("/settings", "error", &one_line(&e))),
    }
}
