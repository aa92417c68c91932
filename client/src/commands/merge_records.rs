//! `crm merge-records KEEP OTHER...` and `crm unmerge ID`: the plans of `schema::merge`, read
//! and written in one transaction, and what they did said in a few lines.

use super::record::ref_name;
use super::{new_id, Ctx};
use crate::cli::{IdArg, MergeRecordsArgs};
use crate::error::StoreError;
use crate::output;
use crate::store::{Reading, Store};
use anyhow::Result;
use crm_shared::schema::{self, Edit, MergeLog, Record, Source, Take};
use crm_shared::DocumentId;
use std::collections::{BTreeMap, BTreeSet};

/// The edits a plan makes, record by record.
type Planned = Vec<(DocumentId, Vec<Edit>)>;

pub fn run(ctx: &Ctx, a: MergeRecordsArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let (keep, _) = store.resolve(&a.keep, None)?;
    let mut others = Vec::new();
    for o in &a.others {
        others.push(store.resolve(o, None)?.0);
    }
    let mut takes = Vec::new();
    for t in &a.take {
        let Some((field, id)) = t.split_once('=') else {
            anyhow::bail!(
                "--take {t}: give FIELD=ID, e.g. --take title={}",
                a.others[0]
            );
        };
        takes.push(Take {
            field: field.trim().to_string(),
            from: store.resolve(id, None)?.0,
        });
    }
    let merge_id = new_id().to_string();
    let (now, by) = (ctx.now_ms, store.identity.user.clone());
    let plan = |r: &Reading<'_>| plan_merge(r, &merge_id, keep, &others, &takes, now, &by);
    let log = if a.dry_run {
        plan(&store.reading())?.0
    } else {
        let action = format!(
            "merged {} into {}",
            short_ids(&others),
            output::short_id(&keep.to_string())
        );
        store.edit_records(now, &action, plan)?.0
    };
    if ctx.json {
        return output::json(&serde_json::json!({ "dry_run": a.dry_run, "merge": log }));
    }
    let verb = if a.dry_run { "Would merge" } else { "Merged" };
    eprintln!(
        "{verb} {} into {}.",
        output::records(others.len() as u64),
        ref_name(&store, &log.keep)
    );
    for line in describe(&store, &log) {
        println!("  {line}");
    }
    if a.dry_run {
        eprintln!("Nothing changed (--dry-run).");
    } else {
        eprintln!(
            "Undo with `crm unmerge {}` (one record: `crm unmerge OTHER`).",
            output::short_id(&log.keep)
        );
        println!("{}", log.keep);
    }
    Ok(())
}

fn short_ids(ids: &[DocumentId]) -> String {
    ids.iter()
        .map(|i| output::short_id(&i.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A record with when each of its fields was last edited.
fn sourced(r: &Reading<'_>, id: DocumentId) -> Result<(Record, BTreeMap<String, i64>), StoreError> {
    let mut doc = r.doc(id)?;
    let record = schema::read_record(id, doc.document(), None)?;
    Ok((record, schema::last_edits(doc.document())))
}

fn plan_merge(
    r: &Reading<'_>,
    merge_id: &str,
    keep: DocumentId,
    others: &[DocumentId],
    takes: &[Take],
    now_ms: i64,
    by: &str,
) -> Result<(MergeLog, Planned), StoreError> {
    let keep = sourced(r, keep)?;
    let others: Vec<_> = others
        .iter()
        .map(|o| sourced(r, *o))
        .collect::<Result<_, _>>()?;
    let mut linked_ids = BTreeSet::new();
    for (o, _) in &others {
        linked_ids.extend(r.pointing_at(o.id)?);
    }
    let linked: Vec<Record> = linked_ids
        .into_iter()
        .map(|id| r.record(id))
        .collect::<Result<_, _>>()?;
    let sources: Vec<Source<'_>> = others
        .iter()
        .map(|(record, edited)| Source { record, edited })
        .collect();
    let plan = schema::plan_merge(
        merge_id,
        Source {
            record: &keep.0,
            edited: &keep.1,
        },
        &sources,
        &linked,
        takes,
        now_ms,
        by,
    )
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let log = plan
        .log
        .ok_or_else(|| StoreError::Invalid("the merge made no log".into()))?;
    Ok((log, plan.edits))
}

/// What a merge changed, one line each.
fn describe(store: &Store, log: &MergeLog) -> Vec<String> {
    let name = |id: &str| ref_name(store, id);
    let shown = |v: &Option<schema::LoggedValue>| match v {
        None => "(empty)".to_string(),
        Some(schema::LoggedValue::Str(s)) => output::one_line(s),
        Some(schema::LoggedValue::Int(i)) => i.to_string(),
        Some(schema::LoggedValue::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
    };
    let mut lines = Vec::new();
    for f in &log.fields {
        lines.push(format!(
            "{}: {} -> {} (from {})",
            f.field,
            shown(&f.before),
            shown(&f.value),
            name(&f.from)
        ));
    }
    for a in &log.added {
        let value = if a.field == "orgs" {
            name(&a.value)
        } else {
            a.value.clone()
        };
        lines.push(format!("{}: + {value} (from {})", a.field, name(&a.from)));
    }
    for n in &log.notes {
        lines.push(format!("{}: + the notes of {}", n.field, name(&n.from)));
    }
    for p in &log.repointed {
        lines.push(format!(
            "{} {}: {} -> {}",
            name(&p.record),
            p.field,
            name(&p.from),
            output::short_id(&log.keep)
        ));
    }
    for rm in &log.removed {
        lines.push(format!(
            "relationship {} removed (it related {} to itself)",
            output::short_id(&rm.record),
            output::short_id(&log.keep)
        ));
    }
    for o in &log.others {
        lines.push(format!(
            "{} marked merged into {}",
            name(o),
            output::short_id(&log.keep)
        ));
    }
    lines
}

pub fn unmerge(ctx: &Ctx, a: IdArg) -> Result<()> {
    let mut store = ctx.open()?;
    let (target, _) = store.resolve(&a.id, None)?;
    let record = store.record(target)?;
    let keep: DocumentId = match record.merged_into() {
        Some(k) => k.parse().map_err(|_| {
            anyhow::anyhow!("{target} names a record it was merged into that is not an id ({k})")
        })?,
        None => target,
    };
    let (now, by) = (ctx.now_ms, store.identity.user.clone());
    let plan = |r: &Reading<'_>| -> Result<(Vec<String>, Planned), StoreError> {
        let mut doc = r.doc(keep)?;
        let keep_record = schema::read_record(keep, doc.document(), None)?;
        let logs = schema::merge_logs(doc.document());
        let undo = schema::to_undo(&target.to_string(), &keep.to_string(), &logs);
        let mut others = BTreeMap::new();
        for (_, o) in &undo {
            if let Ok(id) = o.parse() {
                if let Ok(rec) = r.record(id) {
                    others.insert(o.clone(), rec);
                }
            }
        }
        // The others of KEEP's merges that stay: a value they hold stays on KEEP.
        for l in &logs {
            for o in l.active() {
                if let (false, Ok(id)) = (others.contains_key(o), o.parse()) {
                    if let Ok(rec) = r.record(id) {
                        others.insert(o.clone(), rec);
                    }
                }
            }
        }
        let mut linked = BTreeMap::new();
        for id in schema::linked_ids(&logs) {
            if let Ok(rec) = id
                .parse()
                .map_err(|_| ())
                .and_then(|i| r.record(i).map_err(|_| ()))
            {
                linked.insert(id, rec);
            }
        }
        let plan = schema::plan_unmerge(target, &keep_record, &logs, &others, &linked, now, &by)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut undone: Vec<String> = undo.into_iter().map(|(_, o)| o).collect();
        undone.sort();
        undone.dedup();
        Ok((undone, plan.edits))
    };
    let undone = plan(&store.reading())?.0;
    let ids: Vec<DocumentId> = undone.iter().filter_map(|o| o.parse().ok()).collect();
    let action = format!(
        "unmerged {} from {}",
        short_ids(&ids),
        output::short_id(&keep.to_string())
    );
    let (undone, changed) = store.edit_records(now, &action, plan)?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "keep": keep.to_string(),
            "unmerged": undone,
            "changed": changed.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
        }));
    }
    eprintln!(
        "Unmerged {} from {}: listed again, with what the merge took from {} given back ({} changed).",
        undone.iter().map(|o| ref_name(&store, o)).collect::<Vec<_>>().join(", "),
        ref_name(&store, &keep.to_string()),
        if undone.len() == 1 { "it" } else { "them" },
        output::records(changed.len() as u64)
    );
    for o in &undone {
        println!("{o}");
    }
    Ok(())
}
