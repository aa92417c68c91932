//! The log a merge of records leaves on KEEP (`merge:<merge id>`, JSON): which field came from which record and what it held before, the values added, the links re-pointed; read back for `crm unmerge` and history.

use super::history::history;
use super::merge::{LOG_PREFIX, UNDO_PREFIX};
use super::read::FieldValue;
use super::write::{Edit, Scalar};
use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Whether a root key holds a merge log or the mark of an undone merge (not a field).
pub fn is_log_key(key: &str) -> bool {
    key.starts_with(LOG_PREFIX) || key.starts_with(UNDO_PREFIX)
}

/// A single value as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LoggedValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl LoggedValue {
    pub(super) fn of(v: Option<&FieldValue>) -> Option<LoggedValue> {
        match v? {
            FieldValue::Str(s) if !s.trim().is_empty() => Some(LoggedValue::Str(s.clone())),
            FieldValue::Int(i) => Some(LoggedValue::Int(*i)),
            FieldValue::Bool(b) => Some(LoggedValue::Bool(*b)),
            _ => None,
        }
    }

    pub(super) fn edit(value: &Option<LoggedValue>, field: &'static str) -> Edit {
        match value {
            None => Edit::Clear { field },
            Some(v) => Edit::Set {
                field,
                value: match v {
                    LoggedValue::Bool(b) => Scalar::Bool(*b),
                    LoggedValue::Int(i) => Scalar::Int(*i),
                    LoggedValue::Str(s) => Scalar::Str(s.clone()),
                },
            },
        }
    }
}

/// A field of KEEP that a merge took from another record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenField {
    pub field: String,
    pub from: String,
    pub before: Option<LoggedValue>,
    pub value: Option<LoggedValue>,
}

/// A value a merge added to one of KEEP's e-mails, phones, tags or organizations; `label` is an
/// e-mail's or phone's label, or the role of an organization link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedValue {
    pub field: String,
    pub from: String,
    pub value: String,
    #[serde(default)]
    pub label: String,
}

/// Text a merge appended to KEEP's notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendedText {
    pub field: String,
    pub from: String,
    pub text: String,
}

/// A field of another record that pointed at `from` and was pointed at KEEP; `kept`: the record
/// already linked KEEP, so the merge only dropped its link to `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repointed {
    pub record: String,
    pub field: String,
    pub from: String,
    #[serde(default)]
    pub kept: bool,
}

/// A relationship between KEEP and `from` (or two merged records), removed by the merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedRelationship {
    pub record: String,
    pub from: String,
}

/// What one merge changed, kept on KEEP for `crm unmerge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeLog {
    pub id: String,
    pub keep: String,
    pub others: Vec<String>,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub by: String,
    #[serde(default)]
    pub fields: Vec<TakenField>,
    #[serde(default)]
    pub added: Vec<AddedValue>,
    #[serde(default)]
    pub notes: Vec<AppendedText>,
    #[serde(default)]
    pub repointed: Vec<Repointed>,
    #[serde(default)]
    pub removed: Vec<RemovedRelationship>,
}

/// A merge logged on a record, with the others already taken out of it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMerge {
    pub log: MergeLog,
    pub undone: BTreeSet<String>,
}

impl LoggedMerge {
    /// The others of this merge that are still merged.
    pub fn active(&self) -> impl Iterator<Item = &String> {
        self.log.others.iter().filter(|o| !self.undone.contains(*o))
    }
}

/// When each field of the record in `doc` was last edited (seconds since the epoch).
pub fn last_edits(doc: &Automerge) -> BTreeMap<String, i64> {
    let mut edited = BTreeMap::new();
    for entry in history(doc) {
        for f in entry.fields {
            edited.insert(f, entry.at);
        }
    }
    edited
}

/// The merges logged on the record in `doc`, oldest first.
pub fn merge_logs(doc: &Automerge) -> Vec<LoggedMerge> {
    let mut logs: Vec<LoggedMerge> = Vec::new();
    let mut undone: Vec<(String, String)> = Vec::new();
    for key in doc.keys(ROOT) {
        if let Some(id) = key.strip_prefix(LOG_PREFIX) {
            let text = match doc.get(ROOT, key.as_str()) {
                Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                    ScalarValue::Str(t) => t.to_string(),
                    _ => continue,
                },
                _ => continue,
            };
            if let Ok(log) = serde_json::from_str::<MergeLog>(&text) {
                if log.id == id {
                    logs.push(LoggedMerge {
                        log,
                        undone: BTreeSet::new(),
                    });
                }
            }
        } else if let Some(rest) = key.strip_prefix(UNDO_PREFIX) {
            if let Some((merge, other)) = rest.split_once(':') {
                undone.push((merge.to_string(), other.to_string()));
            }
        }
    }
    for (merge, other) in undone {
        if let Some(l) = logs.iter_mut().find(|l| l.log.id == merge) {
            l.undone.insert(other);
        }
    }
    logs.sort_by(|a, b| (a.log.at, &a.log.id).cmp(&(b.log.at, &b.log.id)));
    logs
}
