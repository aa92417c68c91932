//! The shared flows of record commands: add, edit, remove, and showing a record.

use super::{new_id, Ctx};
use crate::cli::RmArgs;
use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::{fields, Edit, FieldType, FieldValue, Record};
use crm_shared::values::{format_amount, Currency};
use crm_shared::RecordKind;

/// Creates a record from the edits `build` returns; prints its id (or the record as JSON).
pub fn add<F>(ctx: &Ctx, kind: RecordKind, build: F) -> Result<()>
where
    F: FnOnce(&Store) -> Result<Vec<Edit>>,
{
    let mut store = ctx.open()?;
    let record = save_new(&mut store, kind, ctx.now_ms, build)?;
    saved(ctx, &store, &record)
}

/// Says a record was saved: "Saved ..." and its id, or the record as JSON.
pub fn saved(ctx: &Ctx, store: &Store, record: &Record) -> Result<()> {
    output::flush_notes();
    if ctx.json {
        output::json(record)
    } else {
        eprintln!("Saved {}.", saved_name(store, record));
        println!("{}", record.id);
        Ok(())
    }
}

/// Creates a record from the edits `build` returns, in one transaction; the CLI's and the web
/// UI's way to add.
pub fn save_new<F>(store: &mut Store, kind: RecordKind, now_ms: i64, build: F) -> Result<Record>
where
    F: FnOnce(&Store) -> Result<Vec<Edit>>,
{
    let edits = build(store)?;
    Ok(store.create(kind, new_id(), None, &edits, now_ms)?)
}

/// Edits the record `id` of `kind` with the edits `build` returns from its current state, in
/// one transaction; the CLI's and the web UI's way to edit.
pub fn save_edit<F>(
    store: &mut Store,
    kind: RecordKind,
    id: &str,
    now_ms: i64,
    build: F,
) -> Result<Record>
where
    F: FnOnce(&Store, &Record) -> Result<Vec<Edit>>,
{
    let (id, _) = store.resolve(id, Some(kind))?;
    let before = store.record(id)?;
    let edits = build(store, &before)?;
    if edits.is_empty() {
        anyhow::bail!(
            "nothing to change: give at least one --FIELD VALUE (see `crm {} edit --help`)",
            cli_name(kind)
        );
    }
    Ok(store.edit(id, now_ms, |_| Ok(edits))?)
}

/// How "Saved ..." names a record: its kind and title, or for a relationship (which has no
/// title) the two records it relates.
pub fn saved_name(store: &Store, record: &Record) -> String {
    let name = match (record.kind, record.title()) {
        (RecordKind::Relationship, _) => format!(
            "relationship: {} {} {}",
            ref_name(store, record.str("from").unwrap_or("")),
            record.str("kind").unwrap_or(""),
            ref_name(store, record.str("to").unwrap_or(""))
        ),
        (kind, "") => format!("{kind} {}", output::short_id(&record.id.to_string())),
        (kind, title) => format!("{kind} \"{title}\""),
    };
    output::one_line(&name)
}

/// Edits a record with the edits `build` returns from its current state; with id `-`, every
/// record whose id is on stdin, in one transaction (see `bulk`).
pub fn edit<F>(ctx: &Ctx, kind: RecordKind, id: &str, build: F) -> Result<()>
where
    F: FnMut(&Store, &Record) -> Result<Vec<Edit>>,
{
    if id == super::bulk::STDIN {
        return super::bulk::edit_all(ctx, Some(kind), build);
    }
    let mut store = ctx.open()?;
    let record = save_edit(&mut store, kind, id, ctx.now_ms, build)?;
    saved(ctx, &store, &record)
}

/// Removes (or restores) a record: a flag, so concurrent edits are never dropped.
pub fn rm(ctx: &Ctx, kind: RecordKind, args: RmArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let (id, _) = store.resolve(&args.id, Some(kind))?;
    let now = ctx.now_ms;
    let restore = args.restore;
    let record = store.edit(id, now, |r| {
        Ok(match (restore, r.is_deleted()) {
            (false, false) => vec![Edit::Delete { at: now }],
            (true, true) => vec![Edit::Restore],
            _ => vec![],
        })
    })?;
    if ctx.json {
        return output::json(&record);
    }
    let what = if restore { "Restored" } else { "Removed" };
    eprintln!("{what} {} \"{}\".", kind, record.title());
    println!("{}", record.id);
    Ok(())
}

pub fn cli_name(kind: RecordKind) -> &'static str {
    crate::output::command_of(kind.as_str())
}

/// The display name of a referenced record: its title and short id.
pub fn ref_name(store: &Store, id: &str) -> String {
    let title = id
        .parse()
        .ok()
        .and_then(|id| store.record(id).ok())
        .map(|r| r.title().to_string());
    match title {
        Some(t) => format!("{t} ({})", output::short_id(id)),
        None => format!("{} (not here)", output::short_id(id)),
    }
}

/// The record's fields as label/value rows, with references named and amounts formatted.
pub fn field_rows(store: &Store, r: &Record) -> Vec<(String, String)> {
    let currency = r
        .str("currency")
        .and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::EUR);
    let mut rows = vec![
        ("id".to_string(), r.id.to_string()),
        ("type".to_string(), r.kind.to_string()),
    ];
    for spec in fields(r.kind) {
        let Some(value) = r.fields.get(spec.name) else {
            continue;
        };
        let text = match (spec.ty, value) {
            (FieldType::Money, FieldValue::Int(m)) => {
                format!("{} {}", format_amount(*m, currency), currency)
            }
            (FieldType::Ref(_), FieldValue::Str(id)) => ref_name(store, id),
            (FieldType::Minutes, FieldValue::Int(m)) => format!("{m} min before"),
            (FieldType::Quantity, FieldValue::Int(q)) => crm_shared::quantity::Qty(*q).to_string(),
            (_, FieldValue::Str(s)) => s.clone(),
            (_, FieldValue::Int(i)) => i.to_string(),
            (_, FieldValue::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            (_, FieldValue::Set(items)) => items.join(", "),
            (_, FieldValue::Labelled(items)) => items
                .iter()
                .map(|l| format!("{} ({})", l.value, l.label))
                .collect::<Vec<_>>()
                .join("\n"),
            (_, FieldValue::Links(links)) => links
                .iter()
                .map(|(id, role)| {
                    let name = ref_name(store, id);
                    if role.is_empty() {
                        name
                    } else {
                        format!("{name}: {role}")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            (_, FieldValue::History(h)) => h
                .iter()
                .map(|c| {
                    let from = c
                        .from
                        .as_deref()
                        .map(|f| format!("{f} -> "))
                        .unwrap_or_default();
                    format!(
                        "{}  {from}{}  by {}",
                        output::local_time_ms(c.at),
                        c.stage,
                        c.by
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        rows.push((spec.name.replace('_', " "), text));
    }
    if r.kind == RecordKind::Case && r.int("probability").is_none() {
        if let Some(stage) = r
            .str("stage")
            .and_then(|s| s.parse::<crm_shared::Stage>().ok())
        {
            let p = store
                .settings()
                .map(|s| s.probability(stage))
                .unwrap_or_else(|_| stage.default_probability());
            rows.push(("probability".into(), format!("{p} (from stage)")));
        }
    }
    rows.push(("owner".into(), r.owner.clone()));
    rows.push(("book".into(), r.book.clone()));
    rows.push((
        "created".into(),
        format!(
            "{} by {}",
            output::local_time_ms(r.created_at),
            r.created_by
        ),
    ));
    if let Some(at) = r.deleted_at {
        rows.push(("REMOVED".into(), output::local_time_ms(at)));
    }
    for p in &r.problems {
        rows.push(("note".into(), p.clone()));
    }
    rows
}

/// Shows one record: its fields, then any conflicts it holds.
pub fn show(ctx: &Ctx, store: &Store, record: &Record, extra: serde_json::Value) -> Result<()> {
    let mut doc = store.load(record.id)?;
    let conflicts = crm_shared::schema::conflicts(doc.document(), record.kind);
    let handover_edits = if record.str("handed_over_from").is_some() {
        crm_shared::schema::handover_edits(doc.document())
    } else {
        Vec::new()
    };
    if ctx.json {
        let mut v = serde_json::to_value(record)?;
        if let serde_json::Value::Object(map) = &mut v {
            map.insert("conflicts".into(), serde_json::to_value(&conflicts)?);
            map.insert(
                "handover_edits".into(),
                serde_json::to_value(&handover_edits)?,
            );
            if let serde_json::Value::Object(more) = extra {
                map.extend(more);
            }
        }
        return output::json(&v);
    }
    output::print_fields(&field_rows(store, record));
    if !handover_edits.is_empty() {
        println!();
        println!("Edited during its handover (merged; worth a look):");
        for e in &handover_edits {
            println!("  by {} at {}", e.user, output::local_time_s(e.at));
        }
    }
    if !conflicts.is_empty() {
        println!();
        println!(
            "Conflicting values (settle with `crm resolve {} FIELD VALUE`):",
            output::short_id(&record.id.to_string())
        );
        for c in &conflicts {
            for v in &c.values {
                println!(
                    "  {:<14} {}  ({}, {})",
                    c.field,
                    v.text,
                    v.user.as_deref().unwrap_or("?"),
                    v.at.map(output::local_time_s).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
