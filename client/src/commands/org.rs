//! `crm org ...`

use super::edits::EditBuilder;
use super::page::{Listed, Page};
use super::record;
use super::rows::{query, row_cells, Row};
use super::Ctx;
use crate::cli::{OrgCommand, OrgFields, OrgListArgs};
use crate::output;
use crate::store::{fts_query, Store};
use anyhow::Result;
use crm_shared::model::{choice, ORG_KINDS};
use crm_shared::schema::Edit;
use crm_shared::RecordKind;
use rusqlite::types::Value;

const KIND: RecordKind = RecordKind::Organization;

pub fn run(ctx: &Ctx, cmd: OrgCommand) -> Result<()> {
    match cmd {
        OrgCommand::Add(f) => record::add(ctx, KIND, |s| edits(s, &f, None, true)),
        OrgCommand::Edit(e) => record::edit(ctx, KIND, &e.id, |s, r| {
            let mut edits = edits(s, &e.fields, Some(r), false)?;
            edits.extend(
                EditBuilder::new(s, KIND, None, Some(r))?
                    .common(&e.common)?
                    .finish(),
            );
            Ok(edits)
        }),
        OrgCommand::Rm(a) => record::rm(ctx, KIND, a),
        OrgCommand::Show(a) => {
            let store = ctx.open()?;
            let (id, _) = store.resolve(&a.id, Some(KIND))?;
            let record = store.record(id)?;
            let (contacts, cases) = members(&store, &id.to_string())?;
            let timeline = super::timeline::timeline(
                &store,
                super::timeline::Subject::Organization,
                &id.to_string(),
            )?;
            let quotes = super::quote::history::sent_to(
                &store,
                super::quote::history::Customer::Organization,
                &id.to_string(),
            )?;
            let extra = serde_json::json!({"contacts": contacts, "cases": cases, "timeline": timeline, "quotes": quotes});
            record::show(ctx, &store, &record, extra)?;
            if !ctx.json {
                super::contact::print_rows(&contacts, "\nContacts", "");
                super::case::print_rows(&cases, "\nCases", "");
                super::quote::history::print(&quotes);
                super::timeline::print(&timeline);
            }
            Ok(())
        }
        OrgCommand::List(a) => {
            let store = ctx.open()?;
            let (rows, sql, params) = list(ctx, &store, &a)?;
            let page = Page::new(ctx, &a.list);
            let listed = Listed {
                sql: &sql,
                params: &params,
            };
            page.print(ctx, &store, &a.list, &rows, listed, |rows| {
                let mut t =
                    output::table(&["ID", "NAME", "INDUSTRY", "KIND", "REGION", "PHONE", "OWNER"]);
                for r in rows {
                    t.add_row(row_cells(r, &LIST_COLUMNS));
                }
                output::print_table(
                    t,
                    "No organizations. Add one with `crm org add --name NAME`.",
                );
            })
        }
    }
}

/// The contacts (by name) and cases (by close date) of organization `id`, not removed.
pub fn members(store: &Store, id: &str) -> Result<(Vec<Row>, Vec<Row>)> {
    let p = [Value::Text(id.to_string())];
    let contacts = super::contact::rows(
        store,
        "SELECT c.id, c.name, c.title, c.email, c.phone FROM rm_contacts c JOIN rm_contact_orgs o ON o.contact_id = c.id WHERE o.org_id = ?1 AND c.deleted = 0 ORDER BY c.name",
        &p,
    )?;
    let cases = super::case::rows(
        store,
        "SELECT id, title, stage, amount, currency, grade, close_date, owner FROM rm_cases WHERE org_id = ?1 AND deleted = 0 ORDER BY close_date, id",
        &p,
    )?;
    Ok((contacts, cases))
}

/// The columns of `crm org list`.
pub const LIST_COLUMNS: [&str; 7] = ["id", "name", "industry", "kind", "region", "phone", "owner"];

/// The rows of `crm org list` (a page of them, see `Page`), with the query of every match
/// (without order and limit) and its parameters.
pub fn list(ctx: &Ctx, store: &Store, a: &OrgListArgs) -> Result<(Vec<Row>, String, Vec<Value>)> {
    let mut sql = String::from(
        "SELECT o.id, o.name, o.industry, o.kind, o.region, o.phone, o.owner FROM rm_orgs o WHERE 1=1",
    );
    let mut params: Vec<Value> = Vec::new();
    if !a.list.deleted {
        sql.push_str(" AND o.deleted = 0");
    }
    if let Some(q) = a.list.search.as_deref() {
        let q = fts_query(q).ok_or_else(|| anyhow::anyhow!("--search needs letters or digits"))?;
        params.push(Value::Text(q));
        sql.push_str(&format!(" AND o.id IN (SELECT d.id FROM documents d WHERE d.n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH ?{}))", params.len()));
    }
    let kind = a
        .kind
        .as_deref()
        .map(|k| choice("kind", k, ORG_KINDS).map(str::to_string))
        .transpose()?;
    for (col, v) in [
        ("region", &a.region),
        ("industry", &a.industry),
        ("kind", &kind),
    ] {
        if let Some(v) = v {
            params.push(Value::Text(v.clone()));
            sql.push_str(&format!(" AND o.{col} = ?{} COLLATE NOCASE", params.len()));
        }
    }
    let page = Page::new(ctx, &a.list);
    let listed = format!("{sql} ORDER BY o.name COLLATE NOCASE, o.id{}", page.sql());
    let rows = query(store, &listed, &params, &LIST_COLUMNS)?;
    Ok((rows, sql, params))
}

pub fn edits(
    store: &Store,
    f: &OrgFields,
    existing: Option<&crm_shared::schema::Record>,
    adding: bool,
) -> Result<Vec<Edit>> {
    let mut b = EditBuilder::new(store, KIND, None, existing)?;
    b.set("name", f.name.as_ref())?
        .set("industry", f.industry.as_ref())?
        .set("kind", f.kind.as_ref())?
        .set("website", f.website.as_ref())?
        .labelled("phones", &f.phones, !adding)?
        .labelled("emails", &f.emails, !adding)?
        .set("address", f.address.as_ref())?
        .set("region", f.region.as_ref())?
        .set("parent", f.parent.as_ref())?
        .add_to_set("tags", &f.tags)
        .set("notes", f.notes.as_ref())?
        .owner(f.owner.as_ref())?
        .acyclic_parent()?;
    Ok(b.finish())
}
