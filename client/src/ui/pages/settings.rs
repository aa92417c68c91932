//! Settings: the pipeline's stages with their win probabilities and playbooks (each stage's
//! checklist), the least open A/B/C cases per rep, currencies and exchange rates. A manager
//! changes them here through the functions of `crm settings` (the same validation and
//! messages, saved in one transaction); a refused value is said beside its field. A rep sees
//! them read-only, and a rep's POST is refused as `crm settings` refuses it.

use super::records::{one_line, with_message, PageQuery};
use crate::cli::{RateArgs, StepArgs};
use crate::commands::shared::{
    currency_edits, grade_edits, may_change_settings, percent_value, rate_edits, save_settings,
    step_edits,
};
use crate::commands::Ctx;
use crate::store::Store;
use crate::ui::layout::{banner, csrf_field, page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use crm_shared::schema::{valid_step_key, Settings, SettingsEdit};
use crm_shared::values::Currency;
use crm_shared::Stage;
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A submitted form's values, by field name.
type Values = BTreeMap<String, String>;

/// A form that was refused: which one, its values as typed, and the error (by field; "" for
/// the form as a whole).
struct Refused {
    form: String,
    values: Values,
    field: &'static str,
    error: String,
}

impl Refused {
    /// The value typed in `field` of `form`, if that form was the one refused.
    fn value(r: Option<&Refused>, form: &str, field: &str) -> Option<String> {
        r.filter(|r| r.form == form)
            .and_then(|r| r.values.get(field).cloned())
    }
}

/// The error beside `field` of `form` (empty unless that field was refused).
fn error(r: Option<&Refused>, form: &str, field: &str) -> Markup {
    let e = r.filter(|r| r.form == form && r.field == field);
    html! { span.error id=(format!("error_{form}_{field}")) { @if let Some(e) = e { (e.error) } } }
}

/// `GET /settings`.
pub async fn page(
    State(app): State<Arc<App>>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    super::render(&app, move |app, ctx, store| {
        let top = banner(q.error.as_deref(), q.ok.as_deref());
        settings_page(app, ctx, store, top, None)
    })
    .await
}

fn settings_page(
    app: &App,
    ctx: &Ctx,
    store: &Store,
    top: Markup,
    refused: Option<&Refused>,
) -> anyhow::Result<Markup> {
    let s = store.settings()?;
    // A rep is told why the fields are read-only, in the words of `crm settings`.
    let read_only = may_change_settings(ctx, store).err().map(|e| one_line(&e));
    let edit = read_only.is_none();
    let main = html! {
        (top)
        h1 { "Settings" }
        @if let Some(why) = &read_only { div.banner.notice #read-only { "Read-only: " (why) } }
        @if refused.is_some() { div.banner.error role="alert" { "A value was not saved (see below)." } }
        h2 { "Pipeline" }
        (stages(app, &s, edit, refused))
        @if edit { (step_form(app, refused)) }
        h2 { "Open cases each rep should hold" }
        @if edit {
            form #grades method="post" action="/settings/grades" {
                (csrf_field(app))
                @for g in ["a", "b", "c"] {
                    @let typed = Refused::value(refused, "grades", g);
                    label { (g.to_uppercase()) " at least "
                        input type="number" min="0" name=(g) value=(typed.unwrap_or_else(|| s.grade_minimum(&g.to_uppercase()).to_string()));
                    } " " (error(refused, "grades", g)) " "
                }
                button type="submit" { "Save" }
                (error(refused, "grades", ""))
            }
        } @else {
            p #grades { "A ≥ " (s.grade_minimum("A")) ", B ≥ " (s.grade_minimum("B")) ", C ≥ " (s.grade_minimum("C")) }
        }
        (currencies(app, &s, edit, refused))
        (rates(app, &s, edit, refused))
    };
    Ok(frame(
        app,
        store,
        "Settings",
        Section::Settings,
        if refused.is_some() {
            Refresh::Still
        } else {
            Refresh::Live("/settings")
        },
        html! {},
        main,
    ))
}

/// The stages: each one's win probability and checklist (a manager sets the one and removes
/// steps of the other here).
fn stages(app: &App, s: &Settings, edit: bool, refused: Option<&Refused>) -> Markup {
    html! {
        table #stages {
            thead { tr { th { "Stage" } th { "Win probability" } th { "Playbook steps" } } }
            tbody {
                @for stage in Stage::ALL {
                    @let form = format!("probability-{}", stage.key());
                    tr data-stage=(stage.key()) {
                        td { (stage.key()) }
                        td {
                            @if edit {
                                form.inline method="post" action="/settings/probability" {
                                    (csrf_field(app))
                                    input type="hidden" name="stage" value=(stage.key());
                                    input type="number" min="0" max="100" name="percent" aria-label=(format!("Win probability of {}", stage.key()))
                                        value=(Refused::value(refused, &form, "percent").unwrap_or_else(|| s.probability(stage).to_string()));
                                    "% " button.quiet type="submit" { "Set" }
                                    " " (error(refused, &form, "percent"))
                                }
                            } @else { (s.probability(stage)) "%" }
                        }
                        td { ul.steps { @for st in s.steps(stage) {
                            li data-step=(st.key) {
                                (st.title) @if st.required { " (required)" } " " span.muted { "[" (st.key) "]" }
                                @if edit {
                                    " " form.inline method="post" action="/settings/step" {
                                        (csrf_field(app))
                                        input type="hidden" name="stage" value=(stage.key());
                                        input type="hidden" name="key" value=(st.key);
                                        input type="hidden" name="remove" value="1";
                                        button.quiet type="submit" aria-label=(format!("Remove {} from {}", st.key, stage.key())) { "Remove" }
                                    }
                                }
                            }
                        } } }
                    }
                }
            }
        }
    }
}

/// The form that adds a step to a stage's checklist, or changes the step of that key.
fn step_form(app: &App, refused: Option<&Refused>) -> Markup {
    let typed = |f: &str| Refused::value(refused, "step", f).unwrap_or_default();
    let stage_typed = typed("stage");
    html! {
        form.record #step method="post" action="/settings/step" {
            h3 { "Add or change a playbook step" }
            (csrf_field(app))
            div.field {
                label for="step_stage" { "Stage" }
                select #step_stage name="stage" {
                    @for st in Stage::ALL { option value=(st.key()) selected[stage_typed == st.key()] { (st.key()) } }
                }
                (error(refused, "step", "stage"))
            }
            div.field {
                label for="step_key" { "Key" }
                input #step_key name="key" placeholder="send-proposal" value=(typed("key"));
                (error(refused, "step", "key"))
            }
            div.field {
                label for="step_title" { "What to do" }
                input #step_title name="title" placeholder="Send the proposal" value=(typed("title"));
                (error(refused, "step", "title"))
            }
            div.field {
                label for="step_required" { "Required" }
                input #step_required type="checkbox" name="required" value="1" checked[typed("required") == "1"];
                span {}
            }
            div.field {
                label for="step_order" { "Position" }
                input #step_order name="order" placeholder="last" value=(typed("order"));
                (error(refused, "step", "order"))
            }
            button type="submit" { "Save step" }
            (error(refused, "step", ""))
        }
    }
}

fn currencies(app: &App, s: &Settings, edit: bool, refused: Option<&Refused>) -> Markup {
    html! {
        h2 { "Currencies" }
        ul #currencies {
            @for c in &s.currencies {
                li data-currency=(c) {
                    (c) @if *c == s.base_currency { " (base)" }
                    @if edit && *c != s.base_currency {
                        " " form.inline method="post" action="/settings/currency" {
                            (csrf_field(app))
                            input type="hidden" name="code" value=(c);
                            input type="hidden" name="remove" value="1";
                            button.quiet type="submit" aria-label=(format!("Remove {c}")) { "Remove" }
                        }
                    }
                }
            }
        }
        @if edit {
            form.inline #currency method="post" action="/settings/currency" {
                (csrf_field(app))
                label for="currency_code" { "Add a currency " }
                input #currency_code name="code" size="5" placeholder="USD" value=(Refused::value(refused, "currency", "code").unwrap_or_default());
                " " label { input type="checkbox" name="base" value="1"; " as the base currency" }
                " " button type="submit" { "Add" }
                " " (error(refused, "currency", "code"))
            }
        }
    }
}

fn rates(app: &App, s: &Settings, edit: bool, refused: Option<&Refused>) -> Markup {
    let typed = |f: &str| Refused::value(refused, "rate", f).unwrap_or_default();
    html! {
        h2 { "Exchange rates" }
        @if s.rates.is_empty() { p.muted { "No exchange rates yet." } }
        ul #rates {
            @for r in &s.rates {
                li data-rate=(format!("{}-{}-{}", r.from, r.to, r.date)) {
                    (r.describe())
                    @if edit {
                        " " form.inline method="post" action="/settings/rate" {
                            (csrf_field(app))
                            input type="hidden" name="code" value=(r.from);
                            input type="hidden" name="to" value=(r.to);
                            input type="hidden" name="date" value=(r.date);
                            input type="hidden" name="remove" value="1";
                            button.quiet type="submit" { "Remove" }
                        }
                    }
                }
            }
        }
        @if edit {
            form.record #rate method="post" action="/settings/rate" {
                h3 { "Set a rate: 1 of a currency is worth RATE of the base currency (or of another)" }
                (csrf_field(app))
                div.field { label for="rate_code" { "Currency" } input #rate_code name="code" placeholder="USD" value=(typed("code")); (error(refused, "rate", "code")) }
                div.field { label for="rate_rate" { "Rate" } input #rate_rate name="rate" placeholder="0.92" value=(typed("rate")); (error(refused, "rate", "rate")) }
                div.field { label for="rate_to" { "In" } input #rate_to name="to" placeholder=(s.base_currency) value=(typed("to")); (error(refused, "rate", "to")) }
                div.field { label for="rate_date" { "From the day" } input #rate_date name="date" placeholder="today" value=(typed("date")); (error(refused, "rate", "date")) }
                button type="submit" { "Save rate" }
                (error(refused, "rate", ""))
            }
        }
    }
}

/// What a form's values make: the settings edits and what to say once saved, or the field
/// refused and why.
type Outcome = Result<(Vec<SettingsEdit>, String), (&'static str, anyhow::Error)>;

/// Saves a settings form: refused with 403 for a rep (as `crm settings` refuses), beside the
/// field with 422 for a bad value, else saved (after the commit) and back to the page.
async fn submit(
    app: Arc<App>,
    form: String,
    values: Values,
    make: fn(&Store, &Settings, &Values) -> Outcome,
) -> Result<Response, UiError> {
    let a = Arc::clone(&app);
    app.with_store(move |ctx, store| {
        if let Err(e) = may_change_settings(ctx, store) {
            let top = banner(Some(&one_line(&e)), None);
            let page = settings_page(&a, ctx, store, top, None)?;
            return Ok((StatusCode::FORBIDDEN, Html(page.into_string())).into_response());
        }
        let settings = store.settings()?;
        let made = match make(store, &settings, &values) {
            Ok((edits, said)) => save_settings(ctx, store, &edits)
                .map(|_| said)
                .map_err(|e| ("", e)),
            Err(refused) => Err(refused),
        };
        match made {
            Ok(said) => Ok(Redirect::to(&with_message("/settings", "ok", &said)).into_response()),
            Err((field, e)) => {
                let refused = Refused {
                    form,
                    values,
                    field,
                    error: one_line(&e),
                };
                let page = settings_page(&a, ctx, store, html! {}, Some(&refused))?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
            }
        }
    })
    .await
    .map_err(UiError)
}

fn get<'v>(v: &'v Values, name: &str) -> &'v str {
    v.get(name).map(|s| s.trim()).unwrap_or("")
}

fn given(v: &Values, name: &str) -> Option<String> {
    Some(get(v, name).to_string()).filter(|s| !s.is_empty())
}

/// `POST /settings/probability`: `crm settings probability STAGE PERCENT`.
pub async fn probability(
    State(app): State<Arc<App>>,
    Form(v): Form<Values>,
) -> Result<Response, UiError> {
    let form = format!("probability-{}", get(&v, "stage"));
    submit(app, form, v, |_, _, v| {
        let stage: Stage = get(v, "stage")
            .parse()
            .map_err(|e| ("percent", anyhow::Error::from(e)))?;
        let percent = percent_value(get(v, "percent")).map_err(|e| ("percent", e))?;
        let said = format!("Saved: {} wins {percent}%.", stage.key());
        Ok((vec![SettingsEdit::Probability(stage, percent)], said))
    })
    .await
}

/// `POST /settings/grades`: `crm settings grades --a N --b N --c N`.
pub async fn grades(
    State(app): State<Arc<App>>,
    Form(v): Form<Values>,
) -> Result<Response, UiError> {
    submit(app, "grades".into(), v, |_, _, v| {
        // Each value alone first, to say which one is refused.
        for (g, field) in [("a", "a"), ("b", "b"), ("c", "c")] {
            let one = given(v, g);
            if one.is_some() {
                let (a, b, c) = match g {
                    "a" => (one, None, None),
                    "b" => (None, one, None),
                    _ => (None, None, one),
                };
                grade_edits(a, b, c).map_err(|e| (field, e))?;
            }
        }
        let edits =
            grade_edits(given(v, "a"), given(v, "b"), given(v, "c")).map_err(|e| ("", e))?;
        Ok((edits, "Saved the grade minimums.".into()))
    })
    .await
}

/// `POST /settings/step`: `crm settings step STAGE KEY --title T [--required] [--order N]`, or
/// with `remove` `crm settings step STAGE KEY --remove`.
pub async fn step(State(app): State<Arc<App>>, Form(v): Form<Values>) -> Result<Response, UiError> {
    submit(app, "step".into(), v, |_, settings, v| {
        let remove = !get(v, "remove").is_empty();
        let order = match given(v, "order") {
            None => None,
            Some(o) => Some(o.parse::<i64>().map_err(|_| {
                (
                    "order",
                    anyhow::anyhow!("--order needs a whole number (lower comes first), not `{o}`"),
                )
            })?),
        };
        let a = StepArgs {
            stage: get(v, "stage").to_string(),
            key: get(v, "key").to_string(),
            title: if remove { None } else { given(v, "title") },
            required: !remove && get(v, "required") == "1",
            optional: !remove && get(v, "required") != "1",
            order: if remove { None } else { order },
            remove,
        };
        let stage: Stage = a
            .stage
            .parse()
            .map_err(|e| ("stage", anyhow::Error::from(e)))?;
        let key = a.key.clone();
        // The key is checked first; what else `crm settings step` refuses is the title.
        let field = if remove || !valid_step_key(&key) {
            "key"
        } else {
            "title"
        };
        let edits = step_edits(settings, a).map_err(|e| (field, e))?;
        let said = if remove {
            format!("Removed the step {key} of {}.", stage.key())
        } else {
            format!("Saved the step {key} of {}.", stage.key())
        };
        Ok((edits, said))
    })
    .await
}

/// `POST /settings/currency`: `crm settings currency CODE [--base] [--remove]`.
pub async fn currency(
    State(app): State<Arc<App>>,
    Form(v): Form<Values>,
) -> Result<Response, UiError> {
    submit(app, "currency".into(), v, |_, settings, v| {
        let (code, remove, base) = (
            get(v, "code"),
            !get(v, "remove").is_empty(),
            get(v, "base") == "1",
        );
        let edits = currency_edits(settings, code, remove, base).map_err(|e| ("code", e))?;
        let code = code.to_uppercase();
        let said = match (remove, base) {
            (true, _) => format!("Removed {code}."),
            (_, true) => format!("{code} is the base currency."),
            _ => format!("Added {code}."),
        };
        Ok((edits, said))
    })
    .await
}

/// `POST /settings/rate`: `crm settings rate CODE RATE [--to CODE] [--date DAY] [--remove]`.
pub async fn rate(State(app): State<Arc<App>>, Form(v): Form<Values>) -> Result<Response, UiError> {
    submit(app, "rate".into(), v, |store, _, v| {
        let remove = !get(v, "remove").is_empty();
        // Each typed value alone first, to say which one is refused.
        Currency::parse(get(v, "code")).map_err(|e| ("code", anyhow::Error::from(e)))?;
        if let Some(to) = given(v, "to") {
            Currency::parse(&to).map_err(|e| ("to", anyhow::Error::from(e)))?;
        }
        if let Some(d) = given(v, "date") {
            store
                .dates
                .day(&d)
                .map_err(|e| ("date", anyhow::Error::from(e)))?;
        }
        if !remove {
            crm_shared::rates::Rate::parse(get(v, "rate"))
                .map_err(|e| ("rate", anyhow::Error::from(e)))?;
        }
        let a = RateArgs {
            code: get(v, "code").to_string(),
            rate: if remove { None } else { given(v, "rate") },
            to: given(v, "to"),
            date: given(v, "date"),
            remove,
        };
        let code = a.code.to_uppercase();
        let field = if a.to.is_some() { "to" } else { "code" };
        let edits = rate_edits(store, a).map_err(|e| (field, e))?;
        let said = if remove {
            format!("Removed a rate of {code}.")
        } else {
            format!("Saved the rate of {code}.")
        };
        Ok((edits, said))
    })
    .await
}
