//! `crm conflicts`, `crm resolve` and `crm history`: the reasons to keep a CRM in a CRDT.

use super::changes::{field_changes, FieldChange};
use super::record::ref_name;
use super::Ctx;
use crate::cli::{IdArg, ResolveArgs};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::Record;
use crm_shared::schema::{self, field, Edit, FieldType};
use crm_shared::values::Currency;
use crm_shared::{DocumentId, RecordKind, Stage};

pub fn conflicts(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let ids: Vec<String> = {
        let mut stmt = store
            .conn()
            .prepare("SELECT DISTINCT id FROM rm_conflicts ORDER BY type, id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut all = Vec::new();
    for id in ids {
        let Ok(id) = id.parse::<DocumentId>() else {
            continue;
        };
        let mut doc = store.load(id)?;
        let record = schema::read_record(id, doc.document(), None)?;
        for c in schema::conflicts(doc.document(), record.kind) {
            all.push((record.clone(), c));
        }
    }
    let handover = super::rows::query(
        &store,
        "SELECT h.id, h.type, h.user, h.at, coalesce(c.title, a.subject) FROM rm_handover_edits h
         LEFT JOIN rm_cases c ON c.id = h.id LEFT JOIN rm_activities a ON a.id = h.id ORDER BY h.at",
        &[],
        &["id", "type", "user", "at", "title"],
    )?;
    if ctx.json {
        let v: Vec<_> = all
            .iter()
            .map(|(r, c)| serde_json::json!({"id": r.id, "type": r.kind, "title": r.title(), "field": c.field, "values": c.values}))
            .chain(handover.iter().map(|h| serde_json::json!({
                "id": h["id"], "type": h["type"], "title": h["title"], "field": "handover",
                "values": [{"value": "edited by the previous owner during its handover", "user": h["user"], "at": h["at"]}],
            })))
            .collect();
        return output::json(&v);
    }
    if !handover.is_empty() {
        println!("Edited by the previous owner during a handover (merged; worth a look):");
        let mut t = output::table(&["ID", "RECORD", "BY", "WHEN"]);
        for h in &handover {
            t.add_row(vec![
                output::short_id(h["id"].as_str().unwrap_or("")),
                format!(
                    "{} {}",
                    h["type"].as_str().unwrap_or(""),
                    h["title"].as_str().unwrap_or("")
                ),
                h["user"].as_str().unwrap_or("").to_string(),
                output::local_time_s(h["at"].as_i64().unwrap_or(0)),
            ]);
        }
        println!("{t}\n");
    }
    if all.is_empty() {
        println!("No conflicts: every field holds one value.");
        return Ok(());
    }
    let mut t = output::table(&["ID", "RECORD", "FIELD", "VALUE", "BY", "WHEN"]);
    for (r, c) in &all {
        for (i, v) in c.values.iter().enumerate() {
            let (id, title, field) = if i == 0 {
                (
                    output::short_id(&r.id.to_string()),
                    format!("{} {}", r.kind, r.title()),
                    c.field.clone(),
                )
            } else {
                Default::default()
            };
            t.add_row(vec![
                id,
                title,
                field,
                v.text.clone(),
                v.user.clone().unwrap_or_default(),
                v.at.map(output::local_time_s).unwrap_or_default(),
            ]);
        }
    }
    println!("{t}");
    println!("Settle one with `crm resolve ID FIELD VALUE`.");
    Ok(())
}

pub fn resolve(ctx: &Ctx, a: ResolveArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let record = resolve_field(&mut store, &a.id, &a.field, &a.value, ctx.now_ms)?;
    if ctx.json {
        return output::json(&record);
    }
    eprintln!(
        "Resolved {} of {} \"{}\".",
        a.field,
        record.kind,
        record.title()
    );
    println!("{}", record.id);
    Ok(())
}

/// Settles the conflicting values of `field` of record `id` as `value` (in the form `edit`
/// takes), in one transaction: the CLI's `crm resolve` and the web UI's "keep this".
pub fn resolve_field(
    store: &mut Store,
    id: &str,
    field_name: &str,
    value: &str,
    now_ms: i64,
) -> Result<Record> {
    let a = ResolveArgs {
        id: id.to_string(),
        field: field_name.to_string(),
        value: value.to_string(),
    };
    let (id, kind) = store.resolve(&a.id, None)?;
    let before = store.record(id)?;
    let mut doc = store.load(id)?;
    let conflicts = schema::conflicts(doc.document(), kind);
    if !conflicts.iter().any(|c| c.field == a.field) {
        let fields: Vec<_> = conflicts.iter().map(|c| c.field.as_str()).collect();
        if fields.is_empty() {
            anyhow::bail!(
                "{kind} {} has no conflicting values; change it with `crm {} edit`",
                output::short_id(&id.to_string()),
                super::record::cli_name(kind)
            );
        }
        anyhow::bail!(
            "field `{}` of {kind} {} is not in conflict (conflicting: {})",
            a.field,
            output::short_id(&id.to_string()),
            fields.join(", ")
        );
    }
    let currency = before
        .str("currency")
        .and_then(|c| Currency::parse(c).ok())
        .unwrap_or(Currency::EUR);
    let edit = match a.field.split_once('.') {
        Some((links, key)) => {
            let spec = field(kind, links)
                .ok_or_else(|| anyhow::anyhow!("a {kind} has no field `{links}`"))?;
            let target: DocumentId = key.parse()?;
            Edit::Link {
                field: spec.name,
                id: target,
                role: a.value.clone(),
            }
        }
        None => match a.field.as_str() {
            "owner" => Edit::SetOwner(crm_shared::values::UserName::parse(&a.value)?.to_string()),
            "book" => Edit::SetBook(a.value.clone()),
            "deleted_at" => match a.value.as_str() {
                "removed" | "deleted" | "yes" => Edit::Delete { at: now_ms },
                "kept" | "restored" | "no" => Edit::Restore,
                _ => anyhow::bail!("resolve deleted_at with `removed` or `kept`"),
            },
            name => {
                let value = match field(kind, name).map(|f| f.ty) {
                    Some(FieldType::Ref(target)) => store.resolve(&a.value, target)?.0.to_string(),
                    _ => a.value.clone(),
                };
                Edit::parse_set(kind, name, &value, currency)?
            }
        },
    };
    let mut edits = vec![edit];
    if kind == RecordKind::Case && a.field == "stage" {
        let to: Stage = a.value.parse()?;
        edits.extend(super::case::stage_settled(
            &before,
            to,
            now_ms,
            &store.identity.user,
        ));
    }
    Ok(store.edit(id, now_ms, |_| Ok(edits))?)
}

pub fn history(ctx: &Ctx, a: IdArg) -> Result<()> {
    let store = ctx.open()?;
    let (id, _) = store.resolve(&a.id, None)?;
    let mut doc = store.load(id)?;
    let entries = schema::history(doc.document());
    let changes: Vec<Vec<FieldChange>> = entries
        .iter()
        .map(|e| field_changes(&store, doc.document(), id, e))
        .collect();
    if ctx.json {
        let v: Vec<serde_json::Value> = entries
            .iter()
            .zip(&changes)
            .map(|(e, c)| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["changes"] = serde_json::to_value(c).unwrap_or_default();
                v
            })
            .collect();
        return output::json(&v);
    }
    println!("History of {}", ref_name(&store, &id.to_string()));
    let mut t = output::table(&["WHEN", "WHO", "DEVICE", "OFFLINE", "FIELD", "CHANGE"]);
    for (e, fields) in entries.iter().zip(&changes) {
        let mut who = vec![
            output::local_time_s(e.at),
            e.user.clone().unwrap_or_else(|| "?".into()),
            e.device
                .as_deref()
                .map(|d| d.chars().take(8).collect())
                .unwrap_or_default(),
            match e.offline {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            }
            .to_string(),
        ];
        // A merge or an unmerge says so on a line of its own, above the fields it changed.
        if let Some(action) = &e.action {
            let mut row = std::mem::replace(&mut who, vec![String::new(); 4]);
            row.extend([String::new(), action.clone()]);
            t.add_row(row);
            if fields.is_empty() {
                continue;
            }
        }
        if fields.is_empty() {
            who.extend([String::new(), String::new()]);
            t.add_row(who);
            continue;
        }
        for f in fields {
            let mut row = std::mem::replace(&mut who, vec![String::new(); 4]);
            row.push(f.field.replace('_', " "));
            row.push(change_text(f));
            t.add_row(row);
        }
    }
    println!("{t}");
    Ok(())
}

/// A field's change in a table cell: `old -> new`, or its short diff.
fn change_text(f: &FieldChange) -> String {
    if !f.diff.is_empty() {
        return f.diff.clone();
    }
    let value = |v: &str| output::one_line(&shorten(v));
    match (f.before.is_empty(), f.after.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("-> {}", value(&f.after)),
        (false, true) => format!("{} -> (empty)", value(&f.before)),
        (false, false) => format!("{} -> {}", value(&f.before), value(&f.after)),
    }
}

/// A value cut to 60 characters.
fn shorten(v: &str) -> String {
    const MAX: usize = 60;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let mut s: String = v.chars().take(MAX - 1).collect();
        s.push('…');
        s
    }
}
