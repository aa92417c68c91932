//! Concurrent values: fields that two people set at the same time to different values, each
//! value kept until resolved. Two people writing the same value agree: that is no conflict.

use super::author::ChangeAuthor;
use super::fields::{fields, FieldType};
use crate::model::RecordKind;
use crate::values::{format_amount, Currency};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::Serialize;

/// One of the concurrent values of a field, with who wrote it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value as stored (amounts in minor units, as in a record's JSON).
    pub value: serde_json::Value,
    /// The value as `show` prints it and `edit` and `resolve` take it (amounts as decimals).
    pub text: String,
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

const META_FIELDS: [&str; 3] = ["owner", super::BOOK_KEY, "deleted_at"];

/// Every field of the record in `doc` that holds concurrent values.
pub fn conflicts(doc: &Automerge, kind: RecordKind) -> Vec<FieldConflict> {
    let mut out = Vec::new();
    if kind == RecordKind::Settings {
        // Every setting is a scalar key at the root.
        for key in doc.keys(ROOT) {
            if matches!(key.as_str(), "type" | "schema" | "id") {
                continue;
            }
            if let Some(c) = conflict_at(doc, &ROOT, &key, key.clone(), &|v| plain_text(v)) {
                out.push(c);
            }
        }
        return out;
    }
    let currency = match doc.get(ROOT, "currency") {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(c) => Currency::parse(c).ok(),
            _ => None,
        },
        _ => None,
    }
    .unwrap_or(Currency::EUR);
    let scalar_fields = fields(kind)
        .iter()
        .filter(|s| s.ty.is_scalar())
        .map(|s| (s.name, Some(s.ty)))
        .chain(META_FIELDS.map(|name| (name, None)));
    for (name, ty) in scalar_fields {
        let text = |v: &serde_json::Value| match (ty, v.as_i64()) {
            (Some(FieldType::Money), Some(minor)) => format_amount(minor, currency),
            (Some(FieldType::Quantity), Some(milli)) => crate::quantity::Qty(milli).to_string(),
            _ => plain_text(v),
        };
        if let Some(c) = conflict_at(doc, &ROOT, name, name.to_string(), &text) {
            out.push(c);
        }
    }
    for spec in fields(kind) {
        if let FieldType::Links { .. } = spec.ty {
            if let Ok(Some((Value::Object(ObjType::Map), map))) = doc.get(ROOT, spec.name) {
                for key in doc.keys(&map) {
                    let label = format!("{}.{}", spec.name, key);
                    if let Some(c) = conflict_at(doc, &map, &key, label, &|v| plain_text(v)) {
                        out.push(c);
                    }
                }
            }
        }
    }
    out
}

/// A value as typed: strings bare, booleans as `yes` or `no`.
fn plain_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        other => other.to_string(),
    }
}

/// The distinct concurrent values of `key` in `obj`, if there are two or more; `text` gives each
/// its typed form.
fn conflict_at(
    doc: &Automerge,
    obj: &ObjId,
    key: &str,
    label: String,
    text: &dyn Fn(&serde_json::Value) -> String,
) -> Option<FieldConflict> {
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
            let value = value_to_json(&value);
            let value = ConflictValue {
                text: text(&value),
                value,
                user: author.as_ref().map(|a| a.user.clone()),
                device: author.map(|a| a.device),
                at: meta.map(|m| m.timestamp),
            };
            (shown, value)
        })
        .collect();
    // The value shown elsewhere comes first; the sort is stable for the rest.
    values.sort_by_key(|(shown, _)| !shown);
    let mut distinct: Vec<ConflictValue> = Vec::new();
    for (_, v) in values {
        if !distinct.iter().any(|d| d.value == v.value) {
            distinct.push(v);
        }
    }
    (distinct.len() > 1).then_some(FieldConflict {
        field: label,
        values: distinct,
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
