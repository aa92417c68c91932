//! Merging duplicate records into one (`crm merge-records`) and undoing it (`crm unmerge`), as
//! plans of typed [`Edit`]s made from the records as read: pure, no documents written here.
//!
//! A merge of OTHERS into KEEP (contacts, or organizations):
//! - each single-valued field of KEEP keeps KEEP's value unless empty, then takes the value of the
//!   other that edited it last (or of the record a `--take FIELD=ID` names);
//! - e-mails, phones, tags and organizations are united; the others' notes are appended;
//! - the records pointing at an other (cases, activities, relationships, an organization's
//!   contacts and child organizations) point at KEEP instead; a relationship between two of the
//!   merged records is removed (it would relate KEEP to itself);
//! - each other gets `merged_into` KEEP: it is never removed, lists and search hide it;
//! - what the merge changed is logged on KEEP under the root key `merge:<merge id>` (JSON): which
//!   field came from which record and what it held before, which values were added, which links
//!   were re-pointed. A root key of its own per merge, so two replicas merging at once never
//!   write rival containers.
//!
//! Undoing a merge for one other (`unmerged:<merge id>:<other>` on KEEP) puts back, from the log,
//! only what still is as the merge left it: an edit made since (to KEEP, or a link moved again)
//! stays where it was made.

use super::fields::{field, fields, FieldType, LabelKind, DEMO_FIELD};
use super::history::history;
pub use super::merge_log::{
    is_log_key, last_edits, merge_logs, AddedValue, AppendedText, LoggedMerge, LoggedValue,
    MergeLog, RemovedRelationship, Repointed, TakenField,
};
use super::read::{FieldValue, Record};
use super::write::{Edit, Scalar};
use crate::model::RecordKind;
use crate::DocumentId;
use automerge::Automerge;
use std::collections::{BTreeMap, BTreeSet};

/// The field of a merged record naming the record it was merged into.
pub const MERGED_INTO: &str = "merged_into";
pub(super) const LOG_PREFIX: &str = "merge:";
pub(super) const UNDO_PREFIX: &str = "unmerged:";

/// A record taking part in a merge, with when each of its fields was last edited (seconds).
pub struct Source<'a> {
    pub record: &'a Record,
    pub edited: &'a BTreeMap<String, i64>,
}

/// `--take FIELD=ID`: the value of `field` comes from record `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub field: String,
    pub from: DocumentId,
}

/// The edits of a merge or an unmerge, record by record, and the log of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub edits: Vec<(DocumentId, Vec<Edit>)>,
    pub log: Option<MergeLog>,
}

/// Why a merge or an unmerge cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("{0} is a {1}: only contacts and organizations are merged")]
    Kind(DocumentId, RecordKind),
    #[error("{0} is a {1}, not a {2}: merge records of one kind")]
    Mixed(DocumentId, RecordKind, RecordKind),
    #[error("{0} is named twice: name each record once")]
    Repeated(DocumentId),
    #[error("{0} is removed: restore it first (`crm {1} rm {0} --restore`)")]
    Removed(DocumentId, &'static str),
    #[error("{0} is already merged into {1}: `crm unmerge {0}` first")]
    AlreadyMerged(DocumentId, String),
    #[error("--take {0}: {1}")]
    Take(String, String),
    #[error("{0} holds no merge to undo: it is not merged into another record, and nothing is merged into it")]
    NothingToUndo(DocumentId),
}

fn mergeable(r: &Record) -> Result<(), MergeError> {
    match r.kind {
        RecordKind::Contact | RecordKind::Organization => Ok(()),
        k => Err(MergeError::Kind(r.id, k)),
    }
}

fn command_of(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Organization => "org",
        _ => "contact",
    }
}

/// Edits gathered per record, in the order records are first named.
#[derive(Default)]
pub(super) struct Edits(pub(super) Vec<(DocumentId, Vec<Edit>)>);

impl Edits {
    pub(super) fn push(&mut self, id: DocumentId, edit: Edit) {
        match self.0.iter_mut().find(|(i, _)| *i == id) {
            Some((_, v)) => v.push(edit),
            None => self.0.push((id, vec![edit])),
        }
    }
}

/// Why a record merged into another needs attention: it was edited by someone who had not seen
/// the merge (a change neither before the merge nor only marking it), so those edits are on it
/// and not on KEEP; `None` otherwise.
pub fn merged_attention(doc: &Automerge, record: &Record) -> Option<String> {
    let keep = record.merged_into()?;
    let entries = history(doc);
    let merge = entries
        .iter()
        .rev()
        .find(|e| e.fields.iter().any(|f| f == MERGED_INTO))?;
    let metas = doc.get_changes_meta(&[]);
    let deps: BTreeMap<String, Vec<String>> = metas
        .iter()
        .map(|m| {
            (
                m.hash.to_string(),
                m.deps.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    let mut before = BTreeSet::new();
    let mut stack = vec![merge.hash.clone()];
    while let Some(h) = stack.pop() {
        if before.insert(h.clone()) {
            stack.extend(deps.get(&h).into_iter().flatten().cloned());
        }
    }
    let edited = entries
        .iter()
        .filter(|e| !before.contains(&e.hash))
        .any(|e| e.fields.iter().any(|f| f != MERGED_INTO));
    edited.then(|| {
        format!(
            "merged into {keep}, then edited by someone who had not seen the merge (the edits are on it): `crm merge-records {keep} ID` brings them over"
        )
    })
}

/// Plans the merge `merge_id` of `others` into `keep`. `linked`: every record that points at
/// one of the others (any kind). `at_ms` and `by`: when and by whom, for the log.
pub fn plan_merge(
    merge_id: &str,
    keep: Source<'_>,
    others: &[Source<'_>],
    linked: &[Record],
    takes: &[Take],
    at_ms: i64,
    by: &str,
) -> Result<Plan, MergeError> {
    let k = keep.record;
    mergeable(k)?;
    let keep_id = k.id.to_string();
    let mut seen = BTreeSet::from([k.id]);
    for o in others {
        let r = o.record;
        if !seen.insert(r.id) {
            return Err(MergeError::Repeated(r.id));
        }
        mergeable(r)?;
        if r.kind != k.kind {
            return Err(MergeError::Mixed(r.id, r.kind, k.kind));
        }
    }
    for r in std::iter::once(k).chain(others.iter().map(|o| o.record)) {
        if r.is_deleted() {
            return Err(MergeError::Removed(r.id, command_of(r.kind)));
        }
        match r.merged_into() {
            Some(into) if r.id == k.id || into != keep_id => {
                return Err(MergeError::AlreadyMerged(r.id, into.to_string()))
            }
            _ => {}
        }
    }
    let mut takes_by_field: BTreeMap<&'static str, DocumentId> = BTreeMap::new();
    for t in takes {
        let spec = field(k.kind, &t.field)
            .filter(|s| s.name != MERGED_INTO && s.name != DEMO_FIELD)
            .ok_or_else(|| {
                MergeError::Take(t.field.clone(), format!("a {} has no such field", k.kind))
            })?;
        if !spec.ty.is_scalar() {
            return Err(MergeError::Take(
                t.field.clone(),
                "this field is united from every record; --take chooses single-valued fields"
                    .into(),
            ));
        }
        if !seen.contains(&t.from) {
            return Err(MergeError::Take(
                t.field.clone(),
                format!("{} is not one of the records being merged", t.from),
            ));
        }
        takes_by_field.insert(spec.name, t.from);
    }

    let mut log = MergeLog {
        id: merge_id.to_string(),
        keep: keep_id.clone(),
        others: others.iter().map(|o| o.record.id.to_string()).collect(),
        at: at_ms,
        by: by.to_string(),
        fields: Vec::new(),
        added: Vec::new(),
        notes: Vec::new(),
        repointed: Vec::new(),
        removed: Vec::new(),
    };
    let mut edits = Edits::default();
    for spec in fields(k.kind) {
        if spec.name == MERGED_INTO || spec.name == DEMO_FIELD {
            continue;
        }
        let name = spec.name;
        let before = LoggedValue::of(k.fields.get(name));
        match spec.ty {
            ty if ty.is_scalar() => {
                let source = match takes_by_field.get(name) {
                    Some(from) => others.iter().find(|o| o.record.id == *from),
                    None if before.is_some() => None,
                    None => others
                        .iter()
                        .filter(|o| LoggedValue::of(o.record.fields.get(name)).is_some())
                        .max_by_key(|o| o.edited.get(name).copied().unwrap_or(0)),
                };
                let Some(source) = source else { continue };
                let value = LoggedValue::of(source.record.fields.get(name));
                if value == before || (value.is_none() && spec.required) {
                    continue;
                }
                edits.push(k.id, LoggedValue::edit(&value, name));
                log.fields.push(TakenField {
                    field: name.to_string(),
                    from: source.record.id.to_string(),
                    before,
                    value,
                });
            }
            FieldType::Text => {
                let mut text = k.str(name).unwrap_or("").to_string();
                for o in others {
                    let theirs = o.record.str(name).unwrap_or("").trim();
                    if theirs.is_empty() || text.contains(theirs) {
                        continue;
                    }
                    let segment = if text.trim().is_empty() {
                        theirs.to_string()
                    } else {
                        format!("\n\n{theirs}")
                    };
                    text.push_str(&segment);
                    log.notes.push(AppendedText {
                        field: name.to_string(),
                        from: o.record.id.to_string(),
                        text: segment,
                    });
                }
                if log.notes.iter().any(|n| n.field == name) {
                    edits.push(k.id, Edit::SetText { field: name, text });
                }
            }
            FieldType::Labelled(_) | FieldType::Set | FieldType::Links { .. } => {
                let mut have: BTreeSet<String> = values_of(k, name)
                    .into_iter()
                    .map(|v| same(spec.ty, &v.0))
                    .collect();
                for o in others {
                    for (value, label) in values_of(o.record, name) {
                        if value == keep_id || !have.insert(same(spec.ty, &value)) {
                            continue;
                        }
                        edits.push(k.id, add_edit(spec.ty, name, &value, &label));
                        log.added.push(AddedValue {
                            field: name.to_string(),
                            from: o.record.id.to_string(),
                            value,
                            label,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    let merged: BTreeSet<String> = seen.iter().map(ToString::to_string).collect();
    for r in linked.iter().filter(|r| !seen.contains(&r.id)) {
        repoint(r, &keep_id, &merged, &mut edits, &mut log)?;
    }
    // Put again on a record merged before: this merge has seen every edit made to it.
    for o in others {
        edits.push(
            o.record.id,
            Edit::Set {
                field: MERGED_INTO,
                value: Scalar::Str(keep_id.clone()),
            },
        );
    }
    let json = serde_json::to_string(&log).unwrap_or_default();
    edits.push(
        k.id,
        Edit::PutLog {
            key: format!("{LOG_PREFIX}{merge_id}"),
            text: json,
        },
    );
    Ok(Plan {
        edits: edits.0,
        log: Some(log),
    })
}

/// What makes two values of a multi-valued field one: an e-mail in any letter case, a phone
/// number written with any spacing or international prefix (its last 9 digits).
fn same(ty: FieldType, value: &str) -> String {
    match ty {
        FieldType::Labelled(LabelKind::Email) => value.trim().to_lowercase(),
        FieldType::Labelled(LabelKind::Phone) => {
            let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
            digits[digits.len().saturating_sub(9)..].iter().collect()
        }
        _ => value.to_string(),
    }
}

/// The values of a multi-valued field with their label (or role).
pub(super) fn values_of(r: &Record, name: &str) -> Vec<(String, String)> {
    match r.fields.get(name) {
        Some(FieldValue::Labelled(v)) => v
            .iter()
            .map(|l| (l.value.clone(), l.label.clone()))
            .collect(),
        Some(FieldValue::Set(v)) => v.iter().map(|s| (s.clone(), String::new())).collect(),
        Some(FieldValue::Links(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

fn add_edit(ty: FieldType, field: &'static str, value: &str, label: &str) -> Edit {
    match ty {
        FieldType::Labelled(_) => Edit::AddLabelled {
            field,
            label: label.to_string(),
            value: value.to_string(),
        },
        FieldType::Set => Edit::AddToSet {
            field,
            item: value.to_string(),
        },
        _ => match value.parse::<DocumentId>() {
            Ok(id) => Edit::Link {
                field,
                id,
                role: label.to_string(),
            },
            Err(_) => Edit::AddToSet {
                field,
                item: value.to_string(),
            },
        },
    }
}

/// Points the fields of `r` that name a merged record at KEEP (a relationship between merged
/// records is removed instead).
fn repoint(
    r: &Record,
    keep_id: &str,
    merged: &BTreeSet<String>,
    edits: &mut Edits,
    log: &mut MergeLog,
) -> Result<(), MergeError> {
    let Ok(keep) = keep_id.parse::<DocumentId>() else {
        return Ok(());
    };
    if r.kind == RecordKind::Relationship {
        let from = r.str("from").unwrap_or("");
        let to = r.str("to").unwrap_or("");
        if merged.contains(from) && merged.contains(to) {
            let other = if from == keep_id { to } else { from };
            if !r.is_deleted() {
                edits.push(r.id, Edit::Delete { at: log.at });
                log.removed.push(RemovedRelationship {
                    record: r.id.to_string(),
                    from: other.to_string(),
                });
            }
            return Ok(());
        }
    }
    for spec in fields(r.kind) {
        if spec.name == MERGED_INTO {
            continue;
        }
        match (spec.ty, r.fields.get(spec.name)) {
            (FieldType::Ref(_), Some(FieldValue::Str(id)))
                if merged.contains(id) && id != keep_id =>
            {
                edits.push(
                    r.id,
                    Edit::Set {
                        field: spec.name,
                        value: Scalar::Str(keep_id.to_string()),
                    },
                );
                log.repointed.push(Repointed {
                    record: r.id.to_string(),
                    field: spec.name.to_string(),
                    from: id.clone(),
                    kept: false,
                });
            }
            (FieldType::Links { .. }, Some(FieldValue::Links(links))) => {
                let mut has_keep = links.contains_key(keep_id);
                for (id, role) in links {
                    if !merged.contains(id) || id == keep_id {
                        continue;
                    }
                    let Ok(other) = id.parse::<DocumentId>() else {
                        continue;
                    };
                    edits.push(
                        r.id,
                        Edit::Unlink {
                            field: spec.name,
                            id: other,
                        },
                    );
                    if !has_keep {
                        edits.push(
                            r.id,
                            Edit::Link {
                                field: spec.name,
                                id: keep,
                                role: role.clone(),
                            },
                        );
                    }
                    log.repointed.push(Repointed {
                        record: r.id.to_string(),
                        field: spec.name.to_string(),
                        from: id.clone(),
                        kept: has_keep,
                    });
                    has_keep = true;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
