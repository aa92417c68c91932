//! `crm contact ...` and `crm relate`.

use super::edits::EditBuilder;
use super::page::{Listed, Page};
use super::rows::{query, row_cells, Row};
use super::{record, Ctx};
use crate::cli::{ContactCommand, ContactFields, ContactListArgs, RelateArgs};
use crate::output;
use crate::store::{fts_query, Store};
use anyhow::Result;
use crm_shared::schema::{Edit, Record};
use crm_shared::RecordKind;
use rusqlite::types::Value;

const KIND: RecordKind = RecordKind::Contact;
const COLUMNS: [&str; 5] = ["id", "name", "title", "email", "phone"];

pub fn run(ctx: &Ctx, cmd: ContactCommand) -> Result<()> {
    match cmd {
        ContactCommand::Add(f) => record::add(ctx, KIND, |s| edits(s, &f, None, true)),
        ContactCommand::Edit(e) => record::edit(ctx, KIND, &e.id, |s, r| {
            let mut edits = edits(s, &e.fields, Some(r), false)?;
            let mut b = EditBuilder::new(s, KIND, None, Some(r))?;
            b.common(&e.common)?
                .unlink("orgs", RecordKind::Organization, &e.remove_orgs)?;
            edits.extend(b.finish());
            Ok(edits)
        }),
        ContactCommand::Rm(a) => record::rm(ctx, KIND, a),
        ContactCommand::Network(a) => super::network::run(ctx, a),
        ContactCommand::Show(a) => {
            let store = ctx.open()?;
            let (id, _) = store.resolve(&a.id, Some(KIND))?;
            let record = store.record(id)?;
            let p = [Value::Text(id.to_string())];
            let cases = cases_of(&store, &id.to_string())?;
            let activities = super::activity::rows(
                &store,
                "SELECT id, at, kind, subject, status, owner FROM rm_activities WHERE contact_id = ?1 AND deleted = 0 ORDER BY at DESC, id LIMIT 50",
                &p,
            )?;
            let related = relationships(&store, &id.to_string())?;
            let timeline = super::timeline::timeline(
                &store,
                super::timeline::Subject::Contact,
                &id.to_string(),
            )?;
            let quotes = super::quote::history::sent_to(
                &store,
                super::quote::history::Customer::Contact,
                &id.to_string(),
            )?;
            let extra = serde_json::json!({"cases": cases, "activities": activities, "relationships": related, "timeline": timeline, "quotes": quotes});
            record::show(ctx, &store, &record, extra)?;
            if !ctx.json {
                super::case::print_rows(&cases, "\nCases", "");
                super::quote::history::print(&quotes);
                super::timeline::print(&timeline);
                if !related.is_empty() {
                    println!("\nRelationships");
                    for r in &related {
                        println!("  {}", r["text"].as_str().unwrap_or(""));
                    }
                }
            }
            Ok(())
        }
        ContactCommand::List(a) => {
            let store = ctx.open()?;
            let (rows, sql, params) = list(ctx, &store, &a)?;
            let page = Page::new(ctx, &a.list);
            let listed = Listed {
                sql: &sql,
                params: &params,
            };
            page.print(ctx, &store, &a.list, &rows, listed, |rows| {
                let mut t = output::table(&[
                    "ID",
                    "NAME",
                    "TITLE",
                    "E-MAIL",
                    "PHONE",
                    "ORGANIZATION",
                    "REGION",
                    "OWNER",
                ]);
                for r in rows {
                    t.add_row(row_cells(r, &LIST_COLUMNS));
                }
                output::print_table(t, "No contacts found.");
            })
        }
    }
}

/// The columns of `crm contact list`.
pub const LIST_COLUMNS: [&str; 8] = [
    "id", "name", "title", "email", "phone", "orgs", "region", "owner",
];

/// The rows of `crm contact list` (a page of them, see `Page`), with the query of every match
/// (without order and limit) and its parameters.
pub fn list(
    ctx: &Ctx,
    store: &Store,
    a: &ContactListArgs,
) -> Result<(Vec<Row>, String, Vec<Value>)> {
    // The page of contacts is chosen first, then only its rows get their organizations.
    let mut sql = String::from("SELECT c.id FROM rm_contacts c WHERE 1=1");
    let mut params: Vec<Value> = Vec::new();
    if !a.list.deleted {
        sql.push_str(" AND c.deleted = 0");
    }
    if let Some(q) = a.list.search.as_deref() {
        let q = fts_query(q).ok_or_else(|| anyhow::anyhow!("--search needs letters or digits"))?;
        params.push(Value::Text(q));
        let p = params.len();
        sql.push_str(&format!(
            " AND (c.n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH ?{p})
              OR c.id IN (SELECT co.contact_id FROM rm_contact_orgs co JOIN rm_orgs o ON o.id = co.org_id
                          WHERE o.n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH ?{p})))"
        ));
    }
    if let Some(org) = &a.org {
        let (org, _) = store.resolve(org, Some(RecordKind::Organization))?;
        params.push(Value::Text(org.to_string()));
        sql.push_str(&format!(
            " AND c.id IN (SELECT contact_id FROM rm_contact_orgs WHERE org_id = ?{})",
            params.len()
        ));
    }
    if let Some(region) = &a.region {
        params.push(Value::Text(region.clone()));
        sql.push_str(&format!(" AND c.region = ?{} COLLATE NOCASE", params.len()));
    }
    let page = Page::new(ctx, &a.list);
    let listed = format!(
        "WITH page AS MATERIALIZED ({sql} ORDER BY c.name COLLATE NOCASE, c.id{})
         SELECT c.id, c.name, c.title, c.email, c.phone, (SELECT group_concat(o.name, ', ') FROM rm_contact_orgs co JOIN rm_orgs o ON o.id = co.org_id WHERE co.contact_id = c.id) AS orgs, c.region, c.owner
         FROM page JOIN rm_contacts c ON c.id = page.id ORDER BY c.name COLLATE NOCASE, c.id",
        page.sql()
    );
    let rows = query(store, &listed, &params, &LIST_COLUMNS)?;
    Ok((rows, sql, params))
}

pub fn edits(
    store: &Store,
    f: &ContactFields,
    existing: Option<&Record>,
    adding: bool,
) -> Result<Vec<Edit>> {
    let mut b = EditBuilder::new(store, KIND, None, existing)?;
    b.set("name", f.name.as_ref())?
        .set("given_name", f.given_name.as_ref())?
        .set("family_name", f.family_name.as_ref())?
        .set("title", f.title.as_ref())?
        .set("department", f.department.as_ref())?
        .labelled("emails", &f.emails, !adding)?
        .labelled("phones", &f.phones, !adding)?
        .set("address", f.address.as_ref())?
        .links("orgs", RecordKind::Organization, &f.orgs)?
        .set("region", f.region.as_ref())?
        .add_to_set("tags", &f.tags)
        .set("notes", f.notes.as_ref())?
        .set("do_not_call", f.do_not_call.as_ref())?
        .set("do_not_contact", f.do_not_contact.as_ref())?
        .set("source", f.source.as_ref())?
        .owner(f.owner.as_ref())?;
    Ok(b.finish())
}

/// The cases contact `id` takes part in (not removed), by close date.
pub fn cases_of(store: &Store, id: &str) -> Result<Vec<Row>> {
    super::case::rows(
        store,
        "SELECT c.id, c.title, c.stage, c.amount, c.currency, c.grade, c.close_date, c.owner FROM rm_cases c JOIN rm_case_contacts cc ON cc.case_id = c.id WHERE cc.contact_id = ?1 AND c.deleted = 0 ORDER BY c.close_date",
        &[Value::Text(id.to_string())],
    )
}

/// Rows for a table of contacts.
pub fn rows(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    query(store, sql, params, &COLUMNS)
}

pub fn print_rows(rows: &[Row], title: &str, empty: &str) {
    let cells = rows.iter().map(|r| row_cells(r, &COLUMNS)).collect();
    let header = ["ID", "NAME", "TITLE", "E-MAIL", "PHONE"];
    output::print_section(title, &header, cells, empty);
}

/// The relationships of a contact or organization, both directions, as readable lines.
fn relationships(store: &Store, id: &str) -> Result<Vec<serde_json::Value>> {
    let rows = query(
        store,
        "SELECT id, from_id, to_id, kind FROM rm_relationships WHERE (from_id = ?1 OR to_id = ?1) AND deleted = 0",
        &[Value::Text(id.to_string())],
        &["id", "from", "to", "kind"],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let from = r["from"].as_str().unwrap_or("");
            let to = r["to"].as_str().unwrap_or("");
            let text = format!(
                "{} is {} {}",
                record::ref_name(store, from),
                r["kind"].as_str().unwrap_or(""),
                record::ref_name(store, to)
            );
            let mut v = serde_json::Value::Object(r);
            v["text"] = text.into();
            v
        })
        .collect())
}

/// `crm relate A B --as KIND`.
pub fn relate(ctx: &Ctx, a: RelateArgs) -> Result<()> {
    super::record::add(ctx, RecordKind::Relationship, |store| {
        let (from, from_kind) = store.resolve(&a.a, None)?;
        let (to, to_kind) = store.resolve(&a.b, None)?;
        for (k, text) in [(from_kind, &a.a), (to_kind, &a.b)] {
            if !matches!(k, RecordKind::Contact | RecordKind::Organization) {
                anyhow::bail!("{text} is a {k}: only contacts and organizations can be related");
            }
        }
        if from == to {
            anyhow::bail!("a record cannot be related to itself");
        }
        let mut b = EditBuilder::new(store, RecordKind::Relationship, None, None)?;
        b.set_str("from", &from.to_string())?
            .set_str("to", &to.to_string())?
            .set_str("kind", &a.kind)?;
        Ok(b.finish())
    })
}
