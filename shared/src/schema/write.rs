//! Writing records: creating a record's document and applying typed edits to it.
//!
//! Architecture invariant: every container field (notes text, tag sets, labelled lists, link maps,
//! stage history) is created together with the record. Two replicas that each created the same
//! container concurrently would conflict, and one container (with everything in it) would lose.

use super::author::ChangeAuthor;
use super::fields::{field, fields, FieldSpec, FieldType, LabelKind};
use super::read::StageChange;
use crate::model::{choice, choice_error, RecordKind};
use crate::values::{self, Currency, ValueError};
use crate::DocumentId;
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

/// A scalar value to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl From<Scalar> for ScalarValue {
    fn from(s: Scalar) -> Self {
        match s {
            Scalar::Str(s) => ScalarValue::Str(s.into()),
            Scalar::Int(i) => ScalarValue::Int(i),
            Scalar::Bool(b) => ScalarValue::Boolean(b),
        }
    }
}

/// One change to a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Set a scalar field (already validated, see [`Edit::parse_set`]).
    Set {
        field: &'static str,
        value: Scalar,
    },
    /// Remove the value of an optional scalar field.
    Clear {
        field: &'static str,
    },
    /// Make a text field read `text`, as the smallest character edit.
    SetText {
        field: &'static str,
        text: String,
    },
    AddToSet {
        field: &'static str,
        item: String,
    },
    RemoveFromSet {
        field: &'static str,
        item: String,
    },
    /// Append `{label, value}` unless the value is already present.
    AddLabelled {
        field: &'static str,
        label: String,
        value: String,
    },
    /// Make `value` the first entry (replacing the first entry's value if there is one).
    SetPrimaryLabelled {
        field: &'static str,
        label: String,
        value: String,
    },
    RemoveLabelled {
        field: &'static str,
        value: String,
    },
    Link {
        field: &'static str,
        id: DocumentId,
        role: String,
    },
    Unlink {
        field: &'static str,
        id: DocumentId,
    },
    AppendStageChange(StageChange),
    SetOwner(String),
    SetBook(String),
    /// Soft deletion: sets `deleted_at`, never removes the record's map.
    Delete {
        at: i64,
    },
    Restore,
    /// Put a merge log or the mark of an undone merge under its root key (see `schema::merge`).
    PutLog {
        key: String,
        text: String,
    },
    /// Say this record and `other` are not duplicates (`distinct: true`), or undo that (see
    /// `schema::distinct`).
    MarkDistinct {
        other: DocumentId,
        distinct: bool,
    },
}

/// Why an edit was refused. Nothing is written when any edit of a batch fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("{kind} has no field `{field}`")]
    UnknownField { kind: RecordKind, field: String },
    #[error("field `{field}` of a {kind} cannot be changed this way")]
    WrongShape { kind: RecordKind, field: String },
    #[error("{kind} needs a {field}")]
    Required {
        kind: RecordKind,
        field: &'static str,
    },
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    Quantity(#[from] crate::quantity::QtyError),
    #[error("automerge refused the edit: {0}")]
    Automerge(String),
}

impl From<automerge::AutomergeError> for WriteError {
    fn from(e: automerge::AutomergeError) -> Self {
        WriteError::Automerge(e.to_string())
    }
}

impl Edit {
    /// Parses `text` as typed on the command line into an edit of `field` of a `kind` record.
    /// Money needs the record's currency. References must already be resolved to full ids.
    pub fn parse_set(
        kind: RecordKind,
        field_name: &str,
        text: &str,
        currency: Currency,
    ) -> Result<Edit, WriteError> {
        let spec = field(kind, field_name).ok_or_else(|| WriteError::UnknownField {
            kind,
            field: field_name.to_string(),
        })?;
        let name = spec.name;
        let value = match spec.ty {
            FieldType::Str => {
                let t = text.trim();
                if t.is_empty() {
                    return Ok(Edit::Clear { field: name });
                }
                Scalar::Str(t.to_string())
            }
            FieldType::Email => Scalar::Str(values::Email::parse(text)?.as_str().to_string()),
            FieldType::Choice(choices) => Scalar::Str(choice(name, text, choices)?.to_string()),
            FieldType::Int { min, max } => {
                let n: i64 = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or(ValueError::Range {
                        field: name,
                        value: text.to_string(),
                        min,
                        max,
                    })?;
                Scalar::Int(n)
            }
            FieldType::Money => {
                let minor = values::parse_amount(text, currency)?;
                if minor < 0 {
                    return Err(ValueError::Negative {
                        field: name,
                        value: text.trim().to_string(),
                    }
                    .into());
                }
                Scalar::Int(minor)
            }
            FieldType::Quantity => Scalar::Int(crate::quantity::parse_qty(text, true, "unit")?),
            FieldType::Currency => Scalar::Str(Currency::parse(text)?.as_str().to_string()),
            FieldType::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "on" => Scalar::Bool(true),
                "false" | "no" | "n" | "0" | "off" => Scalar::Bool(false),
                _ => return Err(choice_error(name, text, &["yes", "no"]).into()),
            },
            FieldType::Date => Scalar::Str(values::parse_date(text)?.to_string()),
            FieldType::DateTime => {
                Scalar::Str(values::format_datetime(values::parse_datetime(text)?))
            }
            FieldType::Minutes => Scalar::Int(values::parse_duration_minutes(text)?),
            FieldType::Ref(_) => Scalar::Str(
                text.trim()
                    .parse::<DocumentId>()
                    .map_err(|e| WriteError::Automerge(e.to_string()))?
                    .to_string(),
            ),
            FieldType::Text => {
                return Ok(Edit::SetText {
                    field: name,
                    text: text.to_string(),
                })
            }
            FieldType::Set => {
                return Ok(Edit::AddToSet {
                    field: name,
                    item: text.trim().to_string(),
                })
            }
            FieldType::Labelled(kind) => {
                let (label, value) = split_label(text, kind);
                check_labelled(kind, &value)?;
                return Ok(Edit::SetPrimaryLabelled {
                    field: name,
                    label,
                    value,
                });
            }
            FieldType::Links { .. } | FieldType::StageHistory => {
                return Err(WriteError::WrongShape {
                    kind,
                    field: name.to_string(),
                })
            }
        };
        Ok(Edit::Set { field: name, value })
    }

    /// An edit that appends a labelled value, `LABEL=VALUE` or just `VALUE` (label "work").
    pub fn parse_add_labelled(
        kind: RecordKind,
        field_name: &str,
        text: &str,
    ) -> Result<Edit, WriteError> {
        let spec = field(kind, field_name).ok_or_else(|| WriteError::UnknownField {
            kind,
            field: field_name.to_string(),
        })?;
        let FieldType::Labelled(lk) = spec.ty else {
            return Err(WriteError::WrongShape {
                kind,
                field: field_name.to_string(),
            });
        };
        let (label, value) = split_label(text, lk);
        check_labelled(lk, &value)?;
        Ok(Edit::AddLabelled {
            field: spec.name,
            label,
            value,
        })
    }
}

fn split_label(text: &str, kind: LabelKind) -> (String, String) {
    match text.split_once('=') {
        Some((l, v)) if !l.trim().is_empty() => (l.trim().to_string(), v.trim().to_string()),
        _ => {
            let default = match kind {
                LabelKind::Email => "work",
                LabelKind::Phone => "work",
            };
            (default.to_string(), text.trim().to_string())
        }
    }
}

fn check_labelled(kind: LabelKind, value: &str) -> Result<(), ValueError> {
    match kind {
        LabelKind::Email => values::Email::parse(value).map(|_| ()),
        LabelKind::Phone => values::Phone::parse(value).map(|_| ()),
    }
}

/// The identity and metadata of a record being created.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: DocumentId,
    pub kind: RecordKind,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub created_by: String,
    pub owner: String,
    pub book: String,
}

/// Creates the document of a new record, applies `edits`, checks required fields and commits
/// one change authored by `author` at `time_ms`.
pub fn create_record(
    new: &NewRecord,
    edits: &[Edit],
    actor: ActorId,
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<AutoCommit, WriteError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "schema", ScalarValue::Uint(super::SCHEMA_VERSION))?;
    doc.put(ROOT, "type", new.kind.as_str())?;
    doc.put(ROOT, "id", new.id.to_string())?;
    doc.put(ROOT, "created_at", new.created_at)?;
    doc.put(ROOT, "created_by", new.created_by.as_str())?;
    doc.put(ROOT, "owner", new.owner.as_str())?;
    // A workspace document (a price list) has no book: the server lets everyone read it.
    if !new.book.is_empty() {
        doc.put(ROOT, super::BOOK_KEY, new.book.as_str())?;
    }
    for spec in fields(new.kind) {
        if let Some(obj_type) = container_type(spec.ty) {
            doc.put_object(ROOT, spec.name, obj_type)?;
        }
    }
    apply_edits(&mut doc, new.kind, edits)?;
    commit(&mut doc, author, time_ms);
    Ok(doc)
}

fn container_type(ty: FieldType) -> Option<ObjType> {
    match ty {
        FieldType::Text => Some(ObjType::Text),
        FieldType::Set | FieldType::Links { .. } => Some(ObjType::Map),
        FieldType::Labelled(_) | FieldType::StageHistory => Some(ObjType::List),
        _ => None,
    }
}

/// Commits pending edits as one change with the author in its message. Returns false when there
/// was nothing to commit.
pub(crate) fn commit(doc: &mut AutoCommit, author: &ChangeAuthor, time_ms: i64) -> bool {
    doc.commit_with(
        CommitOptions::default()
            .with_message(author.to_message())
            .with_time(time_ms / 1000),
    )
    .is_some()
}

/// Applies `edits` to a record of `kind`, checks that required fields are still set, and commits
/// them as one change. On error the pending edits are rolled back and nothing changes.
pub fn apply_edits_and_commit(
    doc: &mut AutoCommit,
    kind: RecordKind,
    edits: &[Edit],
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<bool, WriteError> {
    if let Err(e) = apply_edits(doc, kind, edits) {
        doc.rollback();
        return Err(e);
    }
    Ok(commit(doc, author, time_ms))
}

/// Applies `edits` without committing, then checks required fields.
pub fn apply_edits(
    doc: &mut AutoCommit,
    kind: RecordKind,
    edits: &[Edit],
) -> Result<(), WriteError> {
    for edit in edits {
        apply_one(doc, kind, edit)?;
    }
    for spec in fields(kind).iter().filter(|s| s.required) {
        let present = match doc.get(ROOT, spec.name)? {
            Some((Value::Scalar(s), _)) => {
                !matches!(s.as_ref(), ScalarValue::Str(t) if t.trim().is_empty())
            }
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(WriteError::Required {
                kind,
                field: spec.name,
            });
        }
    }
    Ok(())
}

fn spec_of(kind: RecordKind, name: &str) -> Result<&'static FieldSpec, WriteError> {
    field(kind, name).ok_or_else(|| WriteError::UnknownField {
        kind,
        field: name.to_string(),
    })
}

/// The container object of a field, created if an older record lacks it.
fn container(doc: &mut AutoCommit, name: &str, ty: ObjType) -> Result<ObjId, WriteError> {
    match doc.get(ROOT, name)? {
        Some((Value::Object(t), id)) if t == ty => Ok(id),
        _ => Ok(doc.put_object(ROOT, name, ty)?),
    }
}

fn apply_one(doc: &mut AutoCommit, kind: RecordKind, edit: &Edit) -> Result<(), WriteError> {
    let wrong = |field: &str| WriteError::WrongShape {
        kind,
        field: field.to_string(),
    };
    match edit {
        Edit::Set { field, value } => {
            let spec = spec_of(kind, field)?;
            if !spec.ty.is_scalar() {
                return Err(wrong(field));
            }
            doc.put(ROOT, spec.name, ScalarValue::from(value.clone()))?;
        }
        Edit::Clear { field } => {
            let spec = spec_of(kind, field)?;
            if spec.required {
                return Err(WriteError::Required {
                    kind,
                    field: spec.name,
                });
            }
            if doc.get(ROOT, spec.name)?.is_some() && spec.ty.is_scalar() {
                doc.delete(ROOT, spec.name)?;
            }
        }
        Edit::SetText { field, text } => {
            let spec = spec_of(kind, field)?;
            if spec.ty != FieldType::Text {
                return Err(wrong(field));
            }
            let obj = container(doc, spec.name, ObjType::Text)?;
            doc.update_text(&obj, text)?;
        }
        Edit::AddToSet { field, item } | Edit::RemoveFromSet { field, item } => {
            let spec = spec_of(kind, field)?;
            if spec.ty != FieldType::Set {
                return Err(wrong(field));
            }
            let obj = container(doc, spec.name, ObjType::Map)?;
            if matches!(edit, Edit::AddToSet { .. }) {
                if !item.is_empty() {
                    doc.put(&obj, item.as_str(), true)?;
                }
            } else if doc.get(&obj, item.as_str())?.is_some() {
                doc.delete(&obj, item.as_str())?;
            }
        }
        Edit::AddLabelled {
            field,
            label,
            value,
        }
        | Edit::SetPrimaryLabelled {
            field,
            label,
            value,
        } => {
            let spec = spec_of(kind, field)?;
            if !matches!(spec.ty, FieldType::Labelled(_)) {
                return Err(wrong(field));
            }
            let list = container(doc, spec.name, ObjType::List)?;
            let existing = labelled_values(doc, &list);
            let primary = matches!(edit, Edit::SetPrimaryLabelled { .. });
            if existing.iter().any(|(_, v)| v == value) && !primary {
                return Ok(());
            }
            match existing.first() {
                Some((item, _)) if primary => {
                    doc.put(item, "value", value.as_str())?;
                    doc.put(item, "label", label.as_str())?;
                }
                _ => {
                    let at = if primary { 0 } else { existing.len() };
                    let item = doc.insert_object(&list, at, ObjType::Map)?;
                    doc.put(&item, "label", label.as_str())?;
                    doc.put(&item, "value", value.as_str())?;
                }
            }
        }
        Edit::RemoveLabelled { field, value } => {
            let spec = spec_of(kind, field)?;
            let list = container(doc, spec.name, ObjType::List)?;
            // Every entry of the value: replicas that added it at once each inserted one.
            let existing = labelled_values(doc, &list);
            for i in (0..existing.len())
                .rev()
                .filter(|i| existing[*i].1 == *value)
            {
                doc.delete(&list, i)?;
            }
        }
        Edit::Link { field, id, role } => {
            let spec = spec_of(kind, field)?;
            let FieldType::Links { roles, .. } = spec.ty else {
                return Err(wrong(field));
            };
            if let Some(roles) = roles {
                if !role.is_empty() && !roles.contains(&role.as_str()) {
                    return Err(choice_error("role", role, roles).into());
                }
            }
            let obj = container(doc, spec.name, ObjType::Map)?;
            doc.put(&obj, id.to_string(), role.as_str())?;
        }
        Edit::Unlink { field, id } => {
            let spec = spec_of(kind, field)?;
            let obj = container(doc, spec.name, ObjType::Map)?;
            let key = id.to_string();
            if doc.get(&obj, key.as_str())?.is_some() {
                doc.delete(&obj, key.as_str())?;
            }
        }
        Edit::AppendStageChange(change) => {
            let list = container(doc, "stage_history", ObjType::List)?;
            let at = doc.length(&list);
            let item = doc.insert_object(&list, at, ObjType::Map)?;
            doc.put(&item, "stage", change.stage.as_str())?;
            if let Some(from) = &change.from {
                doc.put(&item, "from", from.as_str())?;
            }
            doc.put(&item, "at", change.at)?;
            doc.put(&item, "by", change.by.as_str())?;
        }
        Edit::SetOwner(owner) => {
            doc.put(ROOT, "owner", owner.as_str())?;
        }
        Edit::SetBook(book) => {
            doc.put(ROOT, super::BOOK_KEY, book.as_str())?;
        }
        Edit::Delete { at } => {
            doc.put(ROOT, "deleted_at", *at)?;
        }
        Edit::Restore => {
            if doc.get(ROOT, "deleted_at")?.is_some() {
                doc.delete(ROOT, "deleted_at")?;
            }
        }
        Edit::PutLog { key, text } => {
            if !super::merge::is_log_key(key) {
                return Err(wrong(key));
            }
            doc.put(ROOT, key.as_str(), text.as_str())?;
        }
        Edit::MarkDistinct { other, distinct } => {
            doc.put(ROOT, super::distinct::distinct_key(*other), *distinct)?;
        }
    }
    Ok(())
}

fn labelled_values(doc: &AutoCommit, list: &ObjId) -> Vec<(ObjId, String)> {
    (0..doc.length(list))
        .filter_map(|i| match doc.get(list, i).ok().flatten()? {
            (Value::Object(ObjType::Map), item) => {
                let value = match doc.get(&item, "value").ok().flatten()? {
                    (Value::Scalar(s), _) => super::read::scalar_to_string(&s)?,
                    _ => return None,
                };
                Some((item, value))
            }
            _ => None,
        })
        .collect()
}
