//! Reading a record out of its Automerge document, now or as of earlier heads.

use super::fields::{fields, FieldType};
use crate::model::RecordKind;
use crate::DocumentId;
use automerge::{Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a document could not be read as a record at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("document {0} is not a CRM record (no `type`)")]
    NotARecord(DocumentId),
    #[error("document {0} holds a record of unknown type `{1}` (written by a newer crm?)")]
    UnknownType(DocumentId, String),
}

/// One `{label, value}` entry of an e-mail or phone list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labelled {
    pub label: String,
    pub value: String,
}

/// One entry of a case's stage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageChange {
    pub stage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub by: String,
}

/// The value of one field as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    Bool(bool),
    Set(Vec<String>),
    Labelled(Vec<Labelled>),
    Links(BTreeMap<String, String>),
    History(Vec<StageChange>),
}

/// A record as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub id: DocumentId,
    #[serde(rename = "type")]
    pub kind: RecordKind,
    pub schema: u64,
    pub created_at: i64,
    pub created_by: String,
    pub owner: String,
    pub book: String,
    pub deleted_at: Option<i64>,
    #[serde(flatten)]
    pub fields: BTreeMap<&'static str, FieldValue>,
    /// Values that could not be read because they had an unexpected shape.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Record {
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.fields.get(name) {
            Some(FieldValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.fields.get(name) {
            Some(FieldValue::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.fields.get(name) {
            Some(FieldValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn set(&self, name: &str) -> &[String] {
        match self.fields.get(name) {
            Some(FieldValue::Set(v)) => v,
            _ => &[],
        }
    }

    pub fn labelled(&self, name: &str) -> &[Labelled] {
        match self.fields.get(name) {
            Some(FieldValue::Labelled(v)) => v,
            _ => &[],
        }
    }

    pub fn links(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        match self.fields.get(name) {
            Some(FieldValue::Links(m)) => Some(m),
            _ => None,
        }
    }

    pub fn stage_history(&self) -> &[StageChange] {
        match self.fields.get("stage_history") {
            Some(FieldValue::History(v)) => v,
            _ => &[],
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The record this one was merged into (`crm merge-records`), if it was.
    pub fn merged_into(&self) -> Option<&str> {
        self.str(super::merge::MERGED_INTO)
    }

    /// Whether lists and search show the record: neither removed nor merged into another.
    pub fn is_listed(&self) -> bool {
        !self.is_deleted() && self.merged_into().is_none()
    }

    /// The record's display title: its name, title or subject.
    pub fn title(&self) -> &str {
        self.str("name")
            .or_else(|| self.str("title"))
            .or_else(|| self.str("subject"))
            .or_else(|| self.str("number"))
            .unwrap_or("")
    }
}

/// A read-only view of a document, now or at earlier heads (for "as of" reports).
pub(crate) struct View<'a> {
    pub doc: &'a Automerge,
    pub heads: Option<&'a [ChangeHash]>,
}

impl View<'_> {
    pub fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'_>, ObjId)> {
        let r = match self.heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        };
        r.ok().flatten()
    }

    pub fn get_index(&self, obj: &ObjId, index: usize) -> Option<(Value<'_>, ObjId)> {
        let r = match self.heads {
            Some(h) => self.doc.get_at(obj, index, h),
            None => self.doc.get(obj, index),
        };
        r.ok().flatten()
    }

    pub fn keys(&self, obj: &ObjId) -> Vec<String> {
        match self.heads {
            Some(h) => self.doc.keys_at(obj, h).collect(),
            None => self.doc.keys(obj).collect(),
        }
    }

    pub fn length(&self, obj: &ObjId) -> usize {
        match self.heads {
            Some(h) => self.doc.length_at(obj, h),
            None => self.doc.length(obj),
        }
    }

    pub fn text(&self, obj: &ObjId) -> Option<String> {
        match self.heads {
            Some(h) => self.doc.text_at(obj, h).ok(),
            None => self.doc.text(obj).ok(),
        }
    }

    pub fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.get(obj, key)? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    pub fn string(&self, obj: &ObjId, key: &str) -> Option<String> {
        scalar_to_string(&self.scalar(obj, key)?)
    }

    pub fn int(&self, obj: &ObjId, key: &str) -> Option<i64> {
        scalar_to_int(&self.scalar(obj, key)?)
    }
}

pub(crate) fn scalar_to_string(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

pub(crate) fn scalar_to_int(s: &ScalarValue) -> Option<i64> {
    match s {
        ScalarValue::Int(i) => Some(*i),
        ScalarValue::Uint(u) => i64::try_from(*u).ok(),
        ScalarValue::Timestamp(t) => Some(*t),
        ScalarValue::Counter(c) => Some(i64::from(c)),
        ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    }
}

/// Reads the record held in `doc` (as of `heads` when given).
///
/// Fails only when the document is not a record at all; a field of an unexpected shape is left
/// out and named in [`Record::problems`].
pub fn read_record(
    id: DocumentId,
    doc: &Automerge,
    heads: Option<&[ChangeHash]>,
) -> Result<Record, ReadError> {
    let v = View { doc, heads };
    let type_name = v.string(&ROOT, "type").ok_or(ReadError::NotARecord(id))?;
    let kind: RecordKind = type_name
        .parse()
        .map_err(|_| ReadError::UnknownType(id, type_name.clone()))?;
    let mut problems = Vec::new();
    let schema = v
        .scalar(&ROOT, "schema")
        .and_then(|s| scalar_to_int(&s))
        .unwrap_or(0)
        .max(0) as u64;
    if schema > super::SCHEMA_VERSION {
        problems.push(format!(
            "written by a newer crm (schema {schema}, this crm reads {}): fields it added are not shown",
            super::SCHEMA_VERSION
        ));
    }
    let mut record = Record {
        id,
        kind,
        schema,
        created_at: v.int(&ROOT, "created_at").unwrap_or(0),
        created_by: v.string(&ROOT, "created_by").unwrap_or_default(),
        owner: v.string(&ROOT, "owner").unwrap_or_default(),
        book: v.string(&ROOT, super::BOOK_KEY).unwrap_or_default(),
        deleted_at: v.int(&ROOT, "deleted_at"),
        fields: BTreeMap::new(),
        problems: Vec::new(),
    };
    for spec in fields(kind) {
        // One look-up per field: what is there is read from that answer.
        let Some((value, obj)) = v.get(&ROOT, spec.name) else {
            continue;
        };
        match read_field(&v, value, obj, spec.ty) {
            Some(value) => {
                record.fields.insert(spec.name, value);
            }
            None => problems.push(format!("field `{}` has an unexpected shape", spec.name)),
        }
    }
    record.problems = problems;
    Ok(record)
}

/// The field whose value (at the root) is `value` (object `id`, if an object), as `ty` has it.
fn read_field(v: &View<'_>, value: Value<'_>, id: ObjId, ty: FieldType) -> Option<FieldValue> {
    let scalar = match &value {
        Value::Scalar(s) => Some(s.as_ref()),
        Value::Object(_) => None,
    };
    let object = |want: ObjType| match &value {
        Value::Object(t) if *t == want => Some(id.clone()),
        _ => None,
    };
    match ty {
        FieldType::Str
        | FieldType::Email
        | FieldType::Choice(_)
        | FieldType::Currency
        | FieldType::Date
        | FieldType::DateTime
        | FieldType::Ref(_) => scalar.and_then(scalar_to_string).map(FieldValue::Str),
        FieldType::Int { .. } | FieldType::Money | FieldType::Minutes | FieldType::Quantity => {
            scalar.and_then(scalar_to_int).map(FieldValue::Int)
        }
        FieldType::Bool => match scalar? {
            ScalarValue::Boolean(b) => Some(FieldValue::Bool(*b)),
            _ => None,
        },
        FieldType::Text => match &value {
            Value::Object(ObjType::Text) => v.text(&id).map(FieldValue::Str),
            Value::Scalar(s) => scalar_to_string(s).map(FieldValue::Str),
            _ => None,
        },
        FieldType::Set => {
            let obj = object(ObjType::Map)?;
            Some(FieldValue::Set(v.keys(&obj)))
        }
        FieldType::Links { .. } => {
            let obj = object(ObjType::Map)?;
            let links = v
                .keys(&obj)
                .into_iter()
                .map(|k| {
                    let role = v.string(&obj, &k).unwrap_or_default();
                    (k, role)
                })
                .collect();
            Some(FieldValue::Links(links))
        }
        FieldType::Labelled(_) => {
            let list = object(ObjType::List)?;
            let mut items: Vec<Labelled> = Vec::new();
            for i in 0..v.length(&list) {
                if let Some((Value::Object(ObjType::Map), item)) = v.get_index(&list, i) {
                    let Some(value) = v.string(&item, "value") else {
                        continue;
                    };
                    // A value two replicas added at once is there twice: it is one value.
                    if items.iter().all(|l| l.value != value) {
                        let label = v.string(&item, "label").unwrap_or_default();
                        items.push(Labelled { label, value });
                    }
                }
            }
            Some(FieldValue::Labelled(items))
        }
        FieldType::StageHistory => {
            let list = object(ObjType::List)?;
            let items = (0..v.length(&list))
                .filter_map(|i| match v.get_index(&list, i)? {
                    (Value::Object(ObjType::Map), item) => Some(StageChange {
                        stage: v.string(&item, "stage")?,
                        from: v.string(&item, "from"),
                        at: v.int(&item, "at").unwrap_or(0),
                        by: v.string(&item, "by").unwrap_or_default(),
                    }),
                    _ => None,
                })
                .collect();
            Some(FieldValue::History(items))
        }
    }
}
