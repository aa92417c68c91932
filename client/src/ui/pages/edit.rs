//! The contact, organization, case and activity forms: new (an activity with its contact,
//! organization or case preset by the page it was opened from) and edit, with the CLI's validation errors
//! beside each field, saved in one transaction like `crm ... add` and `crm ... edit`. A form
//! being edited is never refreshed under the rep: a note says when someone changed the record.

use super::href;
use super::records::{one_line, with_message};
use crate::commands::shared::{save_edit, save_new};
use crate::store::Store;
use crate::ui::forms::{self, current, fields_of, kind_of, Input};
use crate::ui::layout::{csrf_field, page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use crm_shared::schema::Record;
use crm_shared::RecordKind;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a form shows besides its fields.
struct Shown<'a> {
    kind: RecordKind,
    record: Option<&'a Record>,
    values: &'a BTreeMap<String, String>,
    shown: &'a BTreeMap<String, String>,
    errors: &'a BTreeMap<String, String>,
    error: Option<String>,
}

fn kind_param(name: &str) -> Result<RecordKind, UiError> {
    kind_of(name).ok_or_else(|| UiError(anyhow::anyhow!("there is no form for `{name}`")))
}

fn section(kind: RecordKind) -> Section {
    match kind {
        RecordKind::Contact => Section::Contacts,
        RecordKind::Organization => Section::Organizations,
        RecordKind::Activity => Section::Agenda,
        _ => Section::Cases,
    }
}

/// Where a saved record is shown: its page; an activity, the page of whom it is with (else
/// the calendar).
fn shown_at(r: &Record) -> String {
    if r.kind != RecordKind::Activity {
        return href(r.kind, &r.id.to_string());
    }
    let with = [
        ("contact", RecordKind::Contact),
        ("org", RecordKind::Organization),
        ("case", RecordKind::Case),
    ];
    with.iter()
        .find_map(|(field, kind)| r.str(field).map(|id| href(*kind, id)))
        .unwrap_or_else(|| "/agenda".into())
}

/// The change position of a record's document (to tell whether it changed since).
fn seq_of(store: &Store, r: &Record) -> anyhow::Result<i64> {
    Ok(store.conn().query_row(
        "SELECT seq FROM documents WHERE id = ?1",
        [r.id.to_string()],
        |row| row.get(0),
    )?)
}

/// The values a form starts with.
fn initial(kind: RecordKind, r: Option<&Record>) -> BTreeMap<String, String> {
    fields_of(kind)
        .iter()
        .map(|f| (f.name.to_string(), current(r, f.name)))
        .collect()
}

/// `GET /new/KIND[?contact=ID&org=ID&case=ID]`: the form, with the fields given preset.
pub async fn new_form(
    State(app): State<Arc<App>>,
    Path(kind): Path<String>,
    Query(preset): Query<BTreeMap<String, String>>,
) -> Result<Html<String>, UiError> {
    let kind = kind_param(&kind)?;
    super::render(&app, move |app, _ctx, store| {
        let mut values = initial(kind, None);
        for (name, value) in preset {
            if let Some(v) = values.get_mut(&name) {
                *v = value;
            }
        }
        form_page(
            app,
            store,
            &Shown {
                kind,
                record: None,
                values: &values,
                shown: &values,
                errors: &BTreeMap::new(),
                error: None,
            },
        )
    })
    .await
}

/// `POST /new/KIND`.
pub async fn create(
    State(app): State<Arc<App>>,
    Path(kind): Path<String>,
    Form(submitted): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let kind = kind_param(&kind)?;
    let submitted: BTreeMap<String, String> = submitted.into_iter().collect();
    let a = Arc::clone(&app);
    app.with_store(move |ctx, store| {
        let (changed, errors) = forms::changes(store, kind, &submitted, None);
        let error = if errors.is_empty() {
            match save_new(store, kind, ctx.now_ms, |s| {
                forms::new_edits(s, kind, &changed, ctx.now_ms)
            }) {
                Ok(r) => {
                    let to = with_message(&shown_at(&r), "ok", "Saved.");
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(e) => Some(one_line(&e)),
            }
        } else {
            None
        };
        let page = form_page(
            &a,
            store,
            &Shown {
                kind,
                record: None,
                values: &submitted,
                shown: &submitted,
                errors: &errors,
                error,
            },
        )?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
    })
    .await
    .map_err(UiError)
}

/// `GET /edit/KIND/ID`.
pub async fn form(
    State(app): State<Arc<App>>,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Html<String>, UiError> {
    let kind = kind_param(&kind)?;
    super::render(&app, move |app, _ctx, store| {
        let (id, _) = store.resolve(&id, Some(kind))?;
        let r = store.record(id)?;
        let values = initial(kind, Some(&r));
        form_page(
            app,
            store,
            &Shown {
                kind,
                record: Some(&r),
                values: &values,
                shown: &values,
                errors: &BTreeMap::new(),
                error: None,
            },
        )
    })
    .await
}

/// `POST /edit/KIND/ID`: saves the fields the rep changed, as `crm ... edit` does.
pub async fn save(
    State(app): State<Arc<App>>,
    Path((kind, id)): Path<(String, String)>,
    Form(submitted): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let kind = kind_param(&kind)?;
    let submitted: BTreeMap<String, String> = submitted.into_iter().collect();
    let a = Arc::clone(&app);
    app.with_store(move |ctx, store| {
        let (doc, _) = store.resolve(&id, Some(kind))?;
        let r = store.record(doc)?;
        let (changed, errors) = forms::changes(store, kind, &submitted, Some(&r));
        let back = href(kind, &doc.to_string());
        if changed.is_empty() {
            return Ok(Redirect::to(&with_message(&back, "ok", "Nothing changed.")).into_response());
        }
        let error = if errors.is_empty() {
            let saved = save_edit(store, kind, &doc.to_string(), ctx.now_ms, |s, r| {
                forms::edits(s, kind, &changed, Some(r))
            });
            match saved {
                Ok(_) => {
                    return Ok(Redirect::to(&with_message(&back, "ok", "Saved.")).into_response())
                }
                Err(e) => Some(one_line(&e)),
            }
        } else {
            None
        };
        let shown: BTreeMap<String, String> = submitted
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("shown_").map(|k| (k.to_string(), v.clone())))
            .collect();
        let page = form_page(
            &a,
            store,
            &Shown {
                kind,
                record: Some(&r),
                values: &submitted,
                shown: &shown,
                errors: &errors,
                error,
            },
        )?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response())
    })
    .await
    .map_err(UiError)
}

#[derive(Debug, Deserialize)]
pub struct StaleQuery {
    seq: i64,
}

/// `GET /stale/ID?seq=N`: the note of a form whose record changed after position N.
pub async fn stale(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<StaleQuery>,
) -> Result<Html<String>, UiError> {
    super::render(&app, move |_app, _ctx, store| {
        let (doc, _) = store.resolve(&id, None)?;
        let r = store.record(doc)?;
        let changed = seq_of(store, &r)? > q.seq;
        Ok(stale_note(&r, q.seq, changed))
    })
    .await
}

/// The note (empty until the record changes) that follows the store while a form is open.
fn stale_note(r: &Record, seq: i64, changed: bool) -> Markup {
    html! {
        div #stale hx-get=(format!("/stale/{}?seq={seq}", r.id)) hx-trigger="crm-change from:body" hx-swap="outerHTML" {
            @if changed {
                div.banner.notice role="status" {
                    "Someone changed this record while you were editing it. Saving keeps their changes to the fields you did not touch; "
                    a href=(href(r.kind, &r.id.to_string())) target="_blank" { "see theirs" } "."
                }
            }
        }
    }
}

fn form_page(app: &App, store: &Store, s: &Shown<'_>) -> anyhow::Result<Markup> {
    let (title, action) = match s.record {
        Some(r) => (
            format!("Edit {}", r.title()),
            format!("/edit/{}/{}", form_name(s.kind), r.id),
        ),
        None => (
            format!("New {}", form_name(s.kind)),
            format!("/new/{}", form_name(s.kind)),
        ),
    };
    let note = match s.record {
        Some(r) => stale_note(r, seq_of(store, r)?, false),
        None => html! {},
    };
    let main = html! {
        h1 { (title) }
        (note)
        @if let Some(e) = &s.error { div.banner.error role="alert" { (e) } }
        @if !s.errors.is_empty() { div.banner.error role="alert" { "Some fields need another look (see below)." } }
        form.record method="post" action=(action) {
            (csrf_field(app))
            @for f in fields_of(s.kind) {
                @let id = format!("f_{}", f.name);
                @let value = s.values.get(f.name).map(String::as_str).unwrap_or("");
                @let error = s.errors.get(f.name);
                div.field {
                    label for=(id) { (f.label) }
                    div {
                        @match f.input {
                            Input::Area => { textarea id=(id) name=(f.name) rows="3" aria-invalid=[error.map(|_| "true")] { (value) } }
                            Input::Choice(options) => {
                                select id=(id) name=(f.name) aria-invalid=[error.map(|_| "true")] {
                                    option value="" selected[value.is_empty()] { "" }
                                    @for o in options { option value=(o) selected[*o == value] { (o) } }
                                }
                            }
                            _ => {
                                input id=(id) name=(f.name) value=(value) aria-invalid=[error.map(|_| "true")]
                                    type=(match f.input { Input::Email => "email", Input::Tel => "tel", Input::Date => "date", _ => "text" });
                            }
                        }
                        input type="hidden" name=(format!("shown_{}", f.name)) value=(s.shown.get(f.name).map(String::as_str).unwrap_or(""));
                    }
                    span.error id=(format!("error_{}", f.name)) { @if let Some(e) = error { (e) } }
                }
            }
            button type="submit" { "Save" } " "
            a href=(s.record.map(|r| href(s.kind, &r.id.to_string())).unwrap_or_else(|| "/".into())) { "Cancel" }
        }
    };
    Ok(frame(
        app,
        store,
        &title,
        section(s.kind),
        Refresh::Still,
        html! {},
        main,
    ))
}

/// The kind's name in a form's address.
fn form_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Contact => "contact",
        RecordKind::Organization => "organization",
        RecordKind::Activity => "activity",
        _ => "case",
    }
}
