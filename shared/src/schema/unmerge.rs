//! Undoing a merge of records (`crm unmerge`), for one merged record or all those merged into
//! KEEP, from the log the merge left on KEEP (see `schema::merge`): each value, link and
//! relationship is given back only where it still is as the merge left it, so an edit made since
//! stays where it was made.

use super::fields::{field, FieldType};
use super::merge::{
    values_of, Edits, LoggedMerge, LoggedValue, MergeError, Plan, MERGED_INTO, UNDO_PREFIX,
};
use super::read::{FieldValue, Record};
use super::write::{Edit, Scalar};
use crate::DocumentId;
use std::collections::{BTreeMap, BTreeSet};

/// The (merge, other) pairs that `crm unmerge target` undoes: every active other of KEEP's merges
/// when `target` is KEEP, else the merges that took `target` in.
pub fn to_undo(target: &str, keep: &str, logs: &[LoggedMerge]) -> Vec<(String, String)> {
    logs.iter()
        .flat_map(|l| l.active().map(move |o| (l.log.id.clone(), o.clone())))
        .filter(|(_, o)| target == keep || o == target)
        .collect()
}

/// Plans undoing, for each (merge, other) of `undo`, what the merge changed: `keep` and `others`
/// (by id) as they are now, `linked`: the records the merges re-pointed, as they are now.
pub fn plan_unmerge(
    target: DocumentId,
    keep: &Record,
    logs: &[LoggedMerge],
    others: &BTreeMap<String, Record>,
    linked: &BTreeMap<String, Record>,
    at_ms: i64,
    by: &str,
) -> Result<Plan, MergeError> {
    let keep_id = keep.id.to_string();
    let undo = to_undo(&target.to_string(), &keep_id, logs);
    if undo.is_empty() {
        return Err(MergeError::NothingToUndo(target));
    }
    let undone_others: BTreeSet<&String> = undo.iter().map(|(_, o)| o).collect();
    // Records that stay merged into KEEP: a value they hold stays on KEEP.
    let staying: Vec<&Record> = others
        .values()
        .filter(|r| r.merged_into() == Some(keep_id.as_str()))
        .filter(|r| !undone_others.contains(&r.id.to_string()))
        .collect();
    let mut edits = Edits::default();
    let mut texts: BTreeMap<&'static str, String> = BTreeMap::new();
    for (merge, other) in &undo {
        let Some(l) = logs.iter().find(|l| &l.log.id == merge) else {
            continue;
        };
        if let Some(o) = others.get(other) {
            if o.merged_into() == Some(keep_id.as_str()) {
                edits.push(o.id, Edit::Clear { field: MERGED_INTO });
            }
        }
        for t in l.log.fields.iter().filter(|t| &t.from == other) {
            let Some(spec) = field(keep.kind, &t.field) else {
                continue;
            };
            if LoggedValue::of(keep.fields.get(spec.name)) == t.value {
                edits.push(keep.id, LoggedValue::edit(&t.before, spec.name));
            }
        }
        for a in l.log.added.iter().filter(|a| &a.from == other) {
            let Some(spec) = field(keep.kind, &a.field) else {
                continue;
            };
            let held = |r: &Record| values_of(r, spec.name).iter().any(|(v, _)| *v == a.value);
            if held(keep) && !staying.iter().any(|r| held(r)) {
                if let Some(e) = remove_edit(spec.ty, spec.name, &a.value) {
                    edits.push(keep.id, e);
                }
            }
        }
        for n in l.log.notes.iter().filter(|n| &n.from == other) {
            let Some(spec) = field(keep.kind, &n.field) else {
                continue;
            };
            let text = texts
                .entry(spec.name)
                .or_insert_with(|| keep.str(spec.name).unwrap_or("").to_string());
            if let Some(at) = text.find(&n.text) {
                text.replace_range(at..at + n.text.len(), "");
            }
        }
        for p in l.log.repointed.iter().filter(|p| &p.from == other) {
            let (Some(r), Ok(from)) = (linked.get(&p.record), p.from.parse::<DocumentId>()) else {
                continue;
            };
            let Some(spec) = field(r.kind, &p.field) else {
                continue;
            };
            match r.fields.get(spec.name) {
                Some(FieldValue::Str(now)) if *now == keep_id => edits.push(
                    r.id,
                    Edit::Set {
                        field: spec.name,
                        value: Scalar::Str(p.from.clone()),
                    },
                ),
                Some(FieldValue::Links(links)) => {
                    if let Some(role) = links.get(&keep_id) {
                        if !p.kept {
                            edits.push(
                                r.id,
                                Edit::Unlink {
                                    field: spec.name,
                                    id: keep.id,
                                },
                            );
                        }
                        edits.push(
                            r.id,
                            Edit::Link {
                                field: spec.name,
                                id: from,
                                role: role.clone(),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        for rm in l.log.removed.iter().filter(|rm| &rm.from == other) {
            if let Some(r) = linked.get(&rm.record) {
                if r.is_deleted() {
                    edits.push(r.id, Edit::Restore);
                }
            }
        }
        let mark = serde_json::json!({ "at": at_ms, "by": by }).to_string();
        edits.push(
            keep.id,
            Edit::PutLog {
                key: format!("{UNDO_PREFIX}{merge}:{other}"),
                text: mark,
            },
        );
    }
    for (field, text) in texts {
        edits.push(keep.id, Edit::SetText { field, text });
    }
    Ok(Plan {
        edits: edits.0,
        log: None,
    })
}

/// Every record id a log names as re-pointed or removed (what an unmerge must read).
pub fn linked_ids(logs: &[LoggedMerge]) -> BTreeSet<String> {
    logs.iter()
        .flat_map(|l| {
            l.log
                .repointed
                .iter()
                .map(|p| p.record.clone())
                .chain(l.log.removed.iter().map(|r| r.record.clone()))
        })
        .collect()
}

fn remove_edit(ty: FieldType, field: &'static str, value: &str) -> Option<Edit> {
    Some(match ty {
        FieldType::Labelled(_) => Edit::RemoveLabelled {
            field,
            value: value.to_string(),
        },
        FieldType::Set => Edit::RemoveFromSet {
            field,
            item: value.to_string(),
        },
        FieldType::Links { .. } => Edit::Unlink {
            field,
            id: value.parse().ok()?,
        },
        _ => return None,
    })
}
