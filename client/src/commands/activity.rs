//! `crm activity ...`

use super::edits::EditBuilder;
use super::page::{Listed, Page};
use super::rows::{query, row_cells, Row};
use super::{record, Ctx};
use crate::cli::{ActivityCommand, ActivityFields, DoneArgs};
use crate::output;
use crate::store::{fts_query, Store};
use anyhow::Result;
use crm_shared::model::{choice, ACTIVITY_KINDS, ACTIVITY_STATUSES};
use crm_shared::schema::{Edit, Record, Scalar};
use crm_shared::RecordKind;
use rusqlite::types::Value;

const KIND: RecordKind = RecordKind::Activity;
const COLUMNS: [&str; 6] = ["id", "at", "kind", "subject", "status", "owner"];

pub fn run(ctx: &Ctx, cmd: ActivityCommand) -> Result<()> {
    match cmd {
        ActivityCommand::Add(a) => {
            let f = &a.fields;
            needs_a_time(f)?;
            match (&a.repeat, &a.until) {
                (Some(every), Some(until)) => super::series::add(ctx, f, every, until),
                _ => record::add(ctx, KIND, |s| edits(s, f, None)),
            }
        }
        ActivityCommand::Done(d) => done(ctx, d),
        ActivityCommand::Edit(e) => record::edit(ctx, KIND, &e.id, |s, r| {
            let mut edits = edits(s, &e.fields, Some(r))?;
            edits.extend(
                EditBuilder::new(s, KIND, None, Some(r))?
                    .clear(&e.clear)?
                    .finish(),
            );
            Ok(edits)
        }),
        ActivityCommand::Rm(a) => record::rm(ctx, KIND, a),
        ActivityCommand::Show(a) => {
            let store = ctx.open()?;
            let (id, _) = store.resolve(&a.id, Some(KIND))?;
            let record = store.record(id)?;
            record::show(ctx, &store, &record, serde_json::Value::Null)
        }
        ActivityCommand::List(a) => {
            let store = ctx.open()?;
            let mut sql = format!("SELECT {} FROM rm_activities WHERE 1=1", COLUMNS.join(", "));
            let mut params: Vec<Value> = Vec::new();
            if !a.list.deleted {
                sql.push_str(" AND deleted = 0");
            }
            for (col, flag, kind) in [
                ("case_id", &a.case, RecordKind::Case),
                ("contact_id", &a.contact, RecordKind::Contact),
                ("org_id", &a.org, RecordKind::Organization),
            ] {
                if let Some(v) = flag {
                    let (id, _) = store.resolve(v, Some(kind))?;
                    params.push(Value::Text(id.to_string()));
                    sql.push_str(&format!(" AND {col} = ?{}", params.len()));
                }
            }
            for (col, v, choices) in [
                ("status", &a.status, ACTIVITY_STATUSES),
                ("kind", &a.kind, ACTIVITY_KINDS),
            ] {
                if let Some(v) = v {
                    params.push(Value::Text(choice(col, v, choices)?.to_string()));
                    sql.push_str(&format!(" AND {col} = ?{}", params.len()));
                }
            }
            if let Some(d) = &a.from {
                params.push(Value::Text(store.dates.day(d)?.to_string()));
                sql.push_str(&format!(" AND at >= ?{}", params.len()));
            }
            if let Some(d) = &a.to {
                params.push(Value::Text(format!("{}T99", store.dates.day(d)?)));
                sql.push_str(&format!(" AND at < ?{}", params.len()));
            }
            if let Some(q) = a.list.search.as_deref() {
                let q = fts_query(q)
                    .ok_or_else(|| anyhow::anyhow!("--search needs letters or digits"))?;
                params.push(Value::Text(q));
                sql.push_str(&format!(" AND id IN (SELECT d.id FROM documents d WHERE d.n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH ?{}))", params.len()));
            }
            let page = Page::new(ctx, &a.list);
            let listed = format!("{sql} ORDER BY at DESC, id{}", page.sql());
            let rows = rows(&store, &listed, &params)?;
            let listed = Listed {
                sql: &sql,
                params: &params,
            };
            page.print(ctx, &store, &a.list, &rows, listed, |rows| {
                print_rows(rows, "", "No activities found.")
            })
        }
    }
}

/// Refuses a new activity with no time (a note needs none).
pub fn needs_a_time(f: &ActivityFields) -> Result<()> {
    if f.at.is_none() && f.due.is_none() && !matches!(f.kind.as_deref(), Some("note")) {
        anyhow::bail!("give a time: --at 2026-12-01T10:00 (or `tomorrow 10:00`) for an appointment, or --due for a task");
    }
    Ok(())
}

/// `crm activity done ID [--outcome TEXT]`.
fn done(ctx: &Ctx, d: DoneArgs) -> Result<()> {
    let outcome = d
        .outcome
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    record::edit(ctx, KIND, &d.id, |_, r| {
        let already = r.str("status") == Some("done");
        if already && outcome.is_none() {
            anyhow::bail!(
                "activity \"{}\" is already done: add --outcome \"...\" to say what came of it",
                r.title()
            );
        }
        let mut edits = Vec::new();
        if !already {
            edits.push(Edit::Set {
                field: "status",
                value: Scalar::Str("done".into()),
            });
        }
        if let Some(o) = outcome {
            edits.push(Edit::Set {
                field: "outcome",
                value: Scalar::Str(o.to_string()),
            });
        }
        Ok(edits)
    })
}

pub fn edits(store: &Store, f: &ActivityFields, existing: Option<&Record>) -> Result<Vec<Edit>> {
    let mut b = EditBuilder::new(store, KIND, None, existing)?;
    b.set("kind", f.kind.as_ref())?
        .set("subject", f.subject.as_ref())?
        .set("start", f.at.as_ref())?
        .set("end", f.end.as_ref())?
        .set("due", f.due.as_ref())?
        .set("case", f.case.as_ref())?
        .set("contact", f.contact.as_ref())?
        .set(
            "org",
            f.org
                .as_ref()
                .or(org_of_contact(store, f, existing)?.as_ref()),
        )?
        .add_to_set("attendees", &f.attendees)
        .set("location", f.location.as_ref())?
        .set("remind", f.remind.as_ref())?
        .set("notes", f.notes.as_ref())?
        .set("outcome", f.outcome.as_ref())?
        .owner(f.owner.as_ref())?;
    match (&f.status, existing) {
        (Some(s), _) => {
            b.set_str("status", s)?;
        }
        (None, None) => {
            b.set_str("status", "planned")?;
        }
        _ => {}
    }
    b.ordered("start", "end", "give an --end after --at")?;
    Ok(b.finish())
}

/// The organization a new activity with a contact and no `--org` is with: the contact's, when
/// the contact belongs to exactly one (so the agenda says where they work and the organization's
/// timeline lists it, as in other CRMs); none when it has several or none.
fn org_of_contact(
    store: &Store,
    f: &ActivityFields,
    existing: Option<&Record>,
) -> Result<Option<String>> {
    let (None, None, Some(contact)) = (existing, &f.org, &f.contact) else {
        return Ok(None);
    };
    let (id, _) = store.resolve(contact, Some(RecordKind::Contact))?;
    let orgs: Vec<String> = store
        .conn()
        .prepare_cached("SELECT org_id FROM rm_contact_orgs WHERE contact_id = ?1 LIMIT 2")?
        .query_map([id.to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match orgs.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })
}

/// Rows for a table of activities.
pub fn rows(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    query(store, sql, params, &COLUMNS)
}

pub fn print_rows(rows: &[Row], title: &str, empty: &str) {
    let cells = rows.iter().map(|r| row_cells(r, &COLUMNS)).collect();
    let header = ["ID", "WHEN", "KIND", "SUBJECT", "STATUS", "OWNER"];
    output::print_section(title, &header, cells, empty);
}
