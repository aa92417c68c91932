//! `crm export contacts|orgs|cases|activities|all`: every record that matches the filters, as
//! CSV, vCard 4.0, iCalendar or JSON, to a file or standard output.

use super::Ctx;
use crate::cli::{CsvLayout, ExportArgs, ExportFormat, ExportWhat};
use crate::interchange::{csv_out, ical_out, vcard_out};
use crate::store::{fts_query, Store};
use anyhow::{bail, Result};
use crm_shared::schema::{read_record, Record};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::types::Value;
use std::collections::HashMap;

/// A record with what its document says of its changes.
struct Exported {
    record: Record,
    /// When it last changed (ms).
    rev: i64,
    /// How many changes it had after the first.
    sequence: usize,
}

pub fn run(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    let kinds: Vec<RecordKind> = match (a.what, a.format) {
        (ExportWhat::Contacts, _) => vec![RecordKind::Contact],
        (ExportWhat::Orgs, _) => vec![RecordKind::Organization],
        (ExportWhat::Cases, _) => vec![RecordKind::Case],
        (ExportWhat::Activities, _) => vec![RecordKind::Activity],
        (ExportWhat::All, ExportFormat::Json) => vec![
            RecordKind::Organization,
            RecordKind::Contact,
            RecordKind::Relationship,
            RecordKind::Case,
            RecordKind::Activity,
        ],
        (ExportWhat::All, ExportFormat::Vcard) => {
            vec![RecordKind::Organization, RecordKind::Contact]
        }
        (ExportWhat::All, ExportFormat::Ical) => vec![RecordKind::Activity],
        (ExportWhat::All, ExportFormat::Csv) => bail!(
            "a CSV file holds one kind of record: export contacts, orgs, cases or activities one at a time (or `all --format json`)"
        ),
    };
    match a.format {
        ExportFormat::Vcard
            if kinds
                .iter()
                .any(|k| !matches!(k, RecordKind::Contact | RecordKind::Organization)) =>
        {
            bail!("vCard holds contacts and organizations: use --format csv or json for cases, ical for activities")
        }
        ExportFormat::Ical if kinds != [RecordKind::Activity] => {
            bail!("iCalendar holds activities: use --format vcard for contacts and organizations, csv or json for cases")
        }
        _ => {}
    }
    if a.layout != CsvLayout::Crm
        && (a.format != ExportFormat::Csv || kinds != [RecordKind::Contact])
    {
        bail!("--layout google|outlook is for contacts as CSV: `crm export contacts --format csv --layout google`");
    }
    let store = ctx.open()?;
    let mut records: Vec<(RecordKind, Vec<Exported>)> = Vec::new();
    for kind in &kinds {
        let ids = select(&store, *kind, &a)?;
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            list.push(load(&store, id)?);
        }
        records.push((*kind, list));
    }
    let names = titles(&store)?;
    let text = match a.format {
        ExportFormat::Json => json(&records)?,
        ExportFormat::Vcard => {
            let related = relationships(&store)?;
            let mut out = String::new();
            for (_, list) in &records {
                for e in list {
                    let rel = related
                        .get(&e.record.id.to_string())
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    vcard_out::card(&mut out, &e.record, &names, rel, Some(e.rev));
                }
            }
            out
        }
        ExportFormat::Ical => {
            let mut out = String::new();
            ical_out::begin(&mut out);
            for (_, list) in &records {
                for e in list {
                    ical_out::component(&mut out, &e.record, e.sequence, ctx.now_ms);
                }
            }
            ical_out::end(&mut out);
            out
        }
        ExportFormat::Csv => csv(&records, &names, a.layout)?,
    };
    let count: usize = records.iter().map(|(_, l)| l.len()).sum();
    match &a.out {
        Some(path) => {
            let bom = if a.layout == CsvLayout::Outlook {
                "\u{feff}"
            } else {
                ""
            };
            std::fs::write(path, format!("{bom}{text}"))
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("Wrote {count} records to {}.", path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// The ids of the records of `kind` that match the filters, in name order.
fn select(store: &Store, kind: RecordKind, a: &ExportArgs) -> Result<Vec<DocumentId>> {
    let (table, order, searchable, regional) = match kind {
        RecordKind::Contact => ("rm_contacts", "name COLLATE NOCASE", true, true),
        RecordKind::Organization => ("rm_orgs", "name COLLATE NOCASE", true, true),
        RecordKind::Case => ("rm_cases", "title COLLATE NOCASE", false, true),
        RecordKind::Activity => ("rm_activities", "at, subject", false, false),
        _ => ("rm_relationships", "id", false, false),
    };
    let mut sql = format!("SELECT id FROM {table} WHERE 1=1");
    let mut params: Vec<Value> = Vec::new();
    if !a.deleted {
        sql.push_str(" AND deleted = 0");
    }
    if kind == RecordKind::Relationship {
        sql.push_str(" ORDER BY id");
        return ids(store, &sql, &params);
    }
    if let Some(q) = &a.search {
        if !searchable {
            bail!(
                "--search finds contacts and organizations; filter {kind}s by --owner or --stage"
            );
        }
        let q = fts_query(q).ok_or_else(|| anyhow::anyhow!("--search needs letters or digits"))?;
        params.push(Value::Text(q));
        sql.push_str(&format!(
            " AND n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH ?{})",
            params.len()
        ));
    }
    if let Some(r) = &a.region {
        if !regional {
            bail!("--region filters contacts, organizations and cases");
        }
        params.push(Value::Text(r.clone()));
        sql.push_str(&format!(" AND region = ?{} COLLATE NOCASE", params.len()));
    }
    if let Some(o) = &a.owner {
        params.push(Value::Text(o.clone()));
        sql.push_str(&format!(" AND owner = ?{}", params.len()));
    }
    if let Some(s) = &a.stage {
        if kind != RecordKind::Case {
            bail!("--stage filters cases");
        }
        let stage: crm_shared::Stage = s.parse()?;
        params.push(Value::Text(stage.key().to_string()));
        sql.push_str(&format!(" AND stage = ?{}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY {order}, id"));
    ids(store, &sql, &params)
}

fn ids(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<DocumentId>> {
    let mut stmt = store.conn().prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for id in rows {
        if let Ok(id) = id?.parse() {
            out.push(id);
        }
    }
    Ok(out)
}

fn load(store: &Store, id: DocumentId) -> Result<Exported> {
    let mut doc = store.load(id)?;
    let record = read_record(id, doc.document(), None)?;
    let changes = doc.get_changes(&[]);
    let rev = changes.iter().map(|c| c.timestamp()).max().unwrap_or(0) * 1000;
    Ok(Exported {
        record,
        rev: rev.max(0),
        sequence: changes.len().saturating_sub(1),
    })
}

/// Every organization's and contact's title by id (for ORG and the `orgs` column).
fn titles(store: &Store) -> Result<HashMap<String, String>> {
    let mut stmt = store
        .conn()
        .prepare("SELECT id, name FROM rm_orgs UNION ALL SELECT id, name FROM rm_contacts")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Each record's relationships to others: id -> [(kind, other id)].
fn relationships(store: &Store) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut stmt = store.conn().prepare(
        "SELECT from_id, to_id, kind FROM rm_relationships WHERE deleted = 0 ORDER BY from_id, kind, to_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in rows {
        let (from, to, kind) = row?;
        out.entry(from).or_default().push((kind, to));
    }
    Ok(out)
}

fn json(records: &[(RecordKind, Vec<Exported>)]) -> Result<String> {
    let value = if records.len() == 1 {
        serde_json::to_value(records[0].1.iter().map(|e| &e.record).collect::<Vec<_>>())?
    } else {
        let mut map = serde_json::Map::new();
        for (kind, list) in records {
            map.insert(
                format!("{kind}s"),
                serde_json::to_value(list.iter().map(|e| &e.record).collect::<Vec<_>>())?,
            );
        }
        serde_json::Value::Object(map)
    };
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

fn csv(
    records: &[(RecordKind, Vec<Exported>)],
    names: &HashMap<String, String>,
    layout: CsvLayout,
) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for (kind, list) in records {
        match layout {
            CsvLayout::Crm => {
                w.write_record(csv_out::crm_header(*kind))?;
                for e in list {
                    w.write_record(csv_out::crm_row(&e.record, names))?;
                }
            }
            CsvLayout::Google => {
                let emails = list
                    .iter()
                    .map(|e| e.record.labelled("emails").len())
                    .max()
                    .unwrap_or(1);
                let phones = list
                    .iter()
                    .map(|e| e.record.labelled("phones").len())
                    .max()
                    .unwrap_or(1);
                w.write_record(csv_out::google_header(emails, phones))?;
                for e in list {
                    w.write_record(csv_out::google_row(&e.record, names, emails, phones))?;
                }
            }
            CsvLayout::Outlook => {
                w.write_record(csv_out::OUTLOOK_HEADER)?;
                for e in list {
                    w.write_record(csv_out::outlook_row(&e.record, names))?;
                }
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes)?)
}
