//! Contacts and organizations: lists with search as you type, and a page per record (fields,
//! conflicts, cases, quotes sent, timeline, history); and "keep this" on a conflict.

use super::{conflicts, fields, history, render, table};
use crate::cli::{ContactListArgs, ListArgs, OrgListArgs};
use crate::commands::quote::history as quote_history;
use crate::commands::shared::{
    contact_cases, contact_list, network, org_list, org_members, resolve_field, timeline, Row,
    Subject,
};
use crate::store::{fts_query, Store};
use crate::ui::layout::{banner, page as frame, Refresh, Section};
use crate::ui::routes::UiError;
use crate::ui::App;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use axum::Form;
use crm_shared::RecordKind;
use maud::{html, Markup};
use rusqlite::types::Value;
use serde::Deserialize;
use std::sync::Arc;

/// Rows a list shows.
const LIST_ROWS: u32 = 50;

/// What a list or record page takes in its address.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub q: String,
    pub error: Option<String>,
    pub ok: Option<String>,
}

const CONTACT_COLUMNS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("title", "Title"),
    ("email", "E-mail"),
    ("phone", "Phone"),
    ("orgs", "Organization"),
    ("region", "Region"),
];
const ORG_COLUMNS: [(&str, &str); 5] = [
    ("name", "Name"),
    ("industry", "Industry"),
    ("kind", "Kind"),
    ("region", "Region"),
    ("phone", "Phone"),
];
const CASE_COLUMNS: [(&str, &str); 5] = [
    ("title", "Title"),
    ("stage", "Stage"),
    ("amount", "Amount"),
    ("close_date", "Closes"),
    ("owner", "Owner"),
];

/// `GET /contacts?q=`.
pub async fn contacts(
    State(app): State<Arc<App>>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let a = ContactListArgs {
            list: list_args(search_text(&q.q)),
            org: None,
            region: None,
        };
        let (rows, sql, params) = contact_list(ctx, store, &a)?;
        let url = list_url("/contacts", &q.q);
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            (count_line(store, &sql, &params, rows.len(), "contact")?)
            (table(&rows, &CONTACT_COLUMNS, "name", RecordKind::Contact, "No contacts found."))
        };
        let above = search_box(
            "/contacts",
            &q.q,
            "Search contacts by name, e-mail, phone, organization",
            "/new/contact",
            "New contact",
        );
        Ok(frame(
            app,
            store,
            "Contacts",
            Section::Contacts,
            Refresh::Live(&url),
            above,
            main,
        ))
    })
    .await
}

/// `GET /orgs?q=`.
pub async fn orgs(
    State(app): State<Arc<App>>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, ctx, store| {
        let a = OrgListArgs {
            list: list_args(search_text(&q.q)),
            region: None,
            industry: None,
            kind: None,
        };
        let (rows, sql, params) = org_list(ctx, store, &a)?;
        let url = list_url("/orgs", &q.q);
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            (count_line(store, &sql, &params, rows.len(), "organization")?)
            (table(&rows, &ORG_COLUMNS, "name", RecordKind::Organization, "No organizations found."))
        };
        let above = search_box("/orgs", &q.q, "Search organizations by name, phone, notes", "/new/organization", "New organization");
        Ok(frame(app, store, "Organizations", Section::Organizations, Refresh::Live(&url), above, main))
    })
    .await
}

/// `GET /contacts/ID`.
pub async fn contact(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, _ctx, store| {
        let (id, _) = store.resolve(&id, Some(RecordKind::Contact))?;
        let r = store.record(id)?;
        let cases = contact_cases(store, &id.to_string())?;
        let quotes =
            quote_history::sent_to(store, quote_history::Customer::Contact, &id.to_string())?;
        let entries = timeline(store, Subject::Contact, &id.to_string())?;
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            h1 { (r.title()) " " a.quiet href=(format!("/edit/contact/{id}")) { "Edit" } " " a.quiet #new-activity href=(format!("/new/activity?contact={id}")) { "New activity" } }
            (conflicts(app, store, &r)?)
            (fields(store, &r))
            h2 { "Cases" }
            (table(&cases, &CASE_COLUMNS, "title", RecordKind::Case, "In no case."))
            (quotes_section(&quotes))
            (network_section(&network(store, &id.to_string(), 3, None)?))
            (timeline_table(&entries))
            (history(store, &r)?)
        };
        let url = format!("/contacts/{id}");
        Ok(frame(
            app,
            store,
            r.title(),
            Section::Contacts,
            Refresh::Live(&url),
            html! {},
            main,
        ))
    })
    .await
}

/// `GET /orgs/ID`.
pub async fn org(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, UiError> {
    render(&app, move |app, _ctx, store| {
        let (id, _) = store.resolve(&id, Some(RecordKind::Organization))?;
        let r = store.record(id)?;
        let (people, cases) = org_members(store, &id.to_string())?;
        let quotes = quote_history::sent_to(store, quote_history::Customer::Organization, &id.to_string())?;
        let entries = timeline(store, Subject::Organization, &id.to_string())?;
        let main = html! {
            (banner(q.error.as_deref(), q.ok.as_deref()))
            h1 { (r.title()) " " a.quiet href=(format!("/edit/organization/{id}")) { "Edit" } " " a.quiet #new-activity href=(format!("/new/activity?org={id}")) { "New activity" } }
            (conflicts(app, store, &r)?)
            (fields(store, &r))
            h2 { "Contacts" }
            (table(&people, &[("name", "Name"), ("title", "Title"), ("email", "E-mail"), ("phone", "Phone")], "name", RecordKind::Contact, "No contacts."))
            h2 { "Cases" }
            (table(&cases, &CASE_COLUMNS, "title", RecordKind::Case, "No cases."))
            (quotes_section(&quotes))
            (timeline_table(&entries))
            (history(store, &r)?)
        };
        let url = format!("/orgs/{id}");
        Ok(frame(app, store, r.title(), Section::Organizations, Refresh::Live(&url), html! {}, main))
    })
    .await
}

/// Who a contact is connected to (relationships, organizations), up to three steps, and the
/// shortest paths to decision makers, as `crm contact network` shows them.
fn network_section(net: &serde_json::Value) -> Markup {
    let none = Vec::new();
    let nodes = net["nodes"].as_array().unwrap_or(&none);
    let paths = net["decision_makers"].as_array().unwrap_or(&none);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let kind = |v: &serde_json::Value| match v["type"].as_str() {
        Some("contact") => RecordKind::Contact,
        _ => RecordKind::Organization,
    };
    html! {
        section #network {
            h2 { "Relationships and network" }
            @if nodes.is_empty() {
                p.muted { "No relationships yet (`crm relate A B --as referred-by`)." }
            } @else {
                table {
                    thead { tr { th { "Steps" } th { "Who" } th { "How" } th { "Decides" } } }
                    tbody { @for n in nodes {
                        tr {
                            td { (n["distance"]) }
                            td { a href=(super::href(kind(n), &text(&n["id"]))) { (text(&n["name"])) } }
                            td { (text(&n["edge"])) }
                            td { (n["decision_roles"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; ")).unwrap_or_default()) }
                        }
                    } }
                }
            }
            @if !paths.is_empty() {
                h3 { "Paths to decision makers" }
                ul #decision-paths { @for p in paths {
                    li {
                        a href=(super::href(RecordKind::Contact, &text(&p["to"]))) { (text(&p["name"])) } ": "
                        (p["path"].as_array().map(|s| s.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                    }
                } }
            }
        }
    }
}

/// The form of a "keep this" button.
#[derive(Debug, Deserialize)]
pub struct KeepForm {
    field: String,
    value: String,
    #[serde(default)]
    back: String,
}

/// `POST /resolve/ID`: settles a conflicting field as `crm resolve ID FIELD VALUE` does.
pub async fn resolve(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Form(f): Form<KeepForm>,
) -> Result<Redirect, UiError> {
    let back = local_path(&f.back);
    let outcome = app
        .with_store(move |ctx, store| {
            resolve_field(store, &id, &f.field, &f.value, ctx.now_ms).map(|_| f.field)
        })
        .await;
    Ok(match outcome {
        Ok(field) => Redirect::to(&with_message(
            &back,
            "ok",
            &format!("Kept one value of {field}."),
        )),
        Err(e) => Redirect::to(&with_message(&back, "error", &one_line(&e))),
    })
}

/// An address of this site to go back to (anything else goes to Today).
pub fn local_path(back: &str) -> String {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back.to_string()
    } else {
        "/".into()
    }
}

/// `path` with `?key=message` (or `&key=` if it has a query).
pub fn with_message(path: &str, key: &str, message: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    let encoded = serde_urlencoded::to_string([(key, message)]).unwrap_or_default();
    format!("{path}{sep}{encoded}")
}

/// An error and its causes on one line, as the CLI prints it.
pub fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn list_args(search: Option<String>) -> ListArgs {
    ListArgs {
        search,
        limit: Some(LIST_ROWS),
        ..ListArgs::default()
    }
}

/// The search of what was typed, or none when it holds nothing to search by.
fn search_text(q: &str) -> Option<String> {
    Some(q.trim().to_string()).filter(|q| fts_query(q).is_some())
}

fn list_url(path: &str, q: &str) -> String {
    if q.is_empty() {
        path.to_string()
    } else {
        with_message(path, "q", q)
    }
}

/// "N of M" under a list that filled its page.
fn count_line(
    store: &Store,
    sql: &str,
    params: &[Value],
    shown: usize,
    noun: &str,
) -> anyhow::Result<Markup> {
    let total = if shown < LIST_ROWS as usize {
        shown as i64
    } else {
        store.conn().query_row(
            &format!("SELECT count(*) FROM ({sql})"),
            rusqlite::params_from_iter(params.iter()),
            |r| r.get(0),
        )?
    };
    Ok(html! {
        p.muted #count {
            @if total as usize > shown { "The first " (shown) " of " (total) " " (noun) "s: type to narrow them down." }
            @else { (total) " " (noun) @if total != 1 { "s" } }
        }
    })
}

/// The search box above a list: searches as you type (htmx), or on Enter without script.
fn search_box(path: &str, q: &str, placeholder: &str, new: &str, new_label: &str) -> Markup {
    html! {
        div.banner {
            form method="get" action=(path) role="search" {
                input #search type="search" name="q" value=(q) placeholder=(placeholder) aria-label=(placeholder) autofocus
                    hx-get=(path) hx-trigger="input changed delay:200ms, search" hx-target="#main" hx-select="#main" hx-swap="outerHTML" hx-push-url="true";
                " " a href=(new) { (new_label) }
            }
        }
    }
}

/// The quotes sent to a contact or organization, newest first, as `crm contact|org show` lists
/// them (nothing when there are none).
fn quotes_section(quotes: &[quote_history::Sent]) -> Markup {
    html! {
        @if !quotes.is_empty() {
            h2 { "Quotes" }
            table {
                thead { tr { @for h in quote_history::HEADER { th { (h) } } } }
                tbody {
                    @for (q, cells) in quotes.iter().zip(quote_history::cells(quotes)) {
                        tr {
                            @for (i, c) in cells.iter().enumerate() {
                                @if i == 5 {
                                    td { a href=(format!("/cases/{}", q.case_id)) { (c) } }
                                } @else { td { (c) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The timeline of a contact or organization: activities and stage changes, newest first.
fn timeline_table(entries: &[Row]) -> Markup {
    html! {
        h2 { "Timeline" }
        @if entries.is_empty() { p.muted { "Nothing yet." } }
        @else {
            table {
                thead { tr { th { "When" } th { "What" } th { "By" } th { "Notes" } } }
                tbody {
                    @for e in entries {
                        tr {
                            td { (super::cell(e, "when")) }
                            td {
                                @let text = super::cell(e, "text");
                                @if e.get("type").and_then(|t| t.as_str()) == Some("stage-change") {
                                    a href=(format!("/cases/{}", super::cell(e, "id"))) { (text) }
                                } @else { (text) }
                            }
                            td { (super::cell(e, "by")) }
                            td { (super::cell(e, "notes")) }
                        }
                    }
                }
            }
        }
    }
}
