//! Concurrent values: fields that two people set at the same time, each value kept until resolved.

use super::author::ChangeAuthor;
use super::fields::{fields, FieldType};
use crate::model::RecordKind;
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::Serialize;

/// One of the concurrent values of a field, with who wrote it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    pub value: serde_json::Value,
    pub user: Option<String>,
    pub device: Option<String>,
    /// Seconds since the epoch, as recorded in the change.
    pub at: Option<i64>,
}

/// A field holding more than one concurrent value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldConflict {
    /// The field, e.g. `stage`, or `contacts.<id>` for a role inside a link map.
    pub field: String,
    /// Every concurrent value; the first is the one shown elsewhere (the same on every replica).
    pub values: Vec<ConflictValue>,
}

const META_FIELDS: [&str; 3] = ["owner", "book", "deleted_at"];

/// Every field of the record in `doc` that holds concurrent values.
pub fn conflicts(doc: &Automerge, kind: RecordKind) -> Vec<FieldConflict> {
    let mut out = Vec::new();
    if kind == RecordKind::Settings {
        // Every setting is a scalar key at the root.
        for key in doc.keys(ROOT) {
            if matches!(key.as_str(), "type" | "schema" | "id") {
                continue;
            }
            if let Some(c) = conflict_at(doc, &ROOT, &key, key.clone()) {
                out.push(c);
            }
        }
        return out;
    }
    let scalar_fields = fields(kind)
        .iter()
        .filter(|s| s.ty.is_scalar())
        .map(|s| s.name)
        .chain(META_FIELDS);
    for name in scalar_fields {
        if let Some(c) = conflict_at(doc, &ROOT, name, name.to_string()) {
            out.push(c);
        }
    }
    for spec in fields(kind) {
        if let FieldType::Links { .. } = spec.ty {
            if let Ok(Some((Value::Object(ObjType::Map), map))) = doc.get(ROOT, spec.name) {
                for key in doc.keys(&map) {
                    let label = format!("{}.{}", spec.name, key);
                    if let Some(c) = conflict_at(doc, &map, &key, label) {
                        out.push(c);
                    }
                }
            }
        }
    }
    out
}

fn conflict_at(doc: &Automerge, obj: &ObjId, key: &str, label: String) -> Option<FieldConflict> {
    let all = doc.get_all(obj, key).ok()?;
    if all.len() < 2 {
        return None;
    }
    let winner = doc.get(obj, key).ok().flatten().map(|(_, id)| id);
    let mut values: Vec<(bool, ConflictValue)> = all
        .into_iter()
        .map(|(value, id)| {
            let meta = doc
                .hash_for_opid(&id)
                .and_then(|h| doc.get_change_meta_by_hash(&h));
            let author = meta
                .as_ref()
                .and_then(|m| ChangeAuthor::from_message(m.message.as_deref()));
            let shown = winner.as_ref() == Some(&id);
            let value = ConflictValue {
                value: value_to_json(&value),
                user: author.as_ref().map(|a| a.user.clone()),
                device: author.map(|a| a.device),
                at: meta.map(|m| m.timestamp),
            };
            (shown, value)
        })
        .collect();
    // The value shown elsewhere comes first; the sort is stable for the rest.
    values.sort_by_key(|(shown, _)| !shown);
    Some(FieldConflict {
        field: label,
        values: values.into_iter().map(|(_, v)| v).collect(),
    })
}

pub(crate) fn value_to_json(v: &Value<'_>) -> serde_json::Value {
    match v {
        Value::Object(t) => serde_json::Value::String(format!("<{t}>")),
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => serde_json::Value::String(s.to_string()),
            ScalarValue::Int(i) => (*i).into(),
            ScalarValue::Uint(u) => (*u).into(),
            ScalarValue::F64(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            ScalarValue::Counter(c) => i64::from(c).into(),
            ScalarValue::Timestamp(t) => (*t).into(),
            ScalarValue::Boolean(b) => (*b).into(),
            ScalarValue::Null => serde_json::Value::Null,
            ScalarValue::Bytes(_) | ScalarValue::Unknown { .. } => {
                serde_json::Value::String("<bytes>".into())
            }
        },
    }
}
