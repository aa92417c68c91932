//! Turning command-line flags into typed edits, with references resolved to full ids.

use crate::cli::EditCommon;
use crate::store::Store;
use crate::StoreError;
use crm_shared::dates;
use crm_shared::schema::{field, Edit, FieldType, Record, Scalar};
use crm_shared::values::Currency;
use crm_shared::RecordKind;

/// Tells on stderr (once the command succeeds) how a date typed in another form than ISO was
/// read: `due 2026-12-07 (monday)`.
pub fn echo(field: &str, typed: &str, iso: &str, described: &str) {
    if typed.trim() != iso {
        let label = match field {
            "start" => "at",
            other => other,
        };
        crate::output::note(format!("{} {described}", label.replace('_', " ")));
    }
}

/// A day typed as people type days (`monday`, `+3d`, the locale's `31/12/2026`), said back in
/// ISO form (on stderr) when it was typed otherwise.
pub fn typed_day(store: &Store, field: &str, text: &str) -> Result<chrono::NaiveDate, StoreError> {
    let day = store.dates.day(text)?;
    echo(field, text, &day.to_string(), &dates::describe_day(day));
    Ok(day)
}

/// Collects the edits of one add or edit command.
pub struct EditBuilder<'a> {
    store: &'a Store,
    kind: RecordKind,
    currency: Currency,
    existing: Option<&'a Record>,
    pub edits: Vec<Edit>,
}

impl<'a> EditBuilder<'a> {
    /// `existing` is the record being edited (None when adding); its currency prices amounts
    /// unless `--currency` is given.
    pub fn new(
        store: &'a Store,
        kind: RecordKind,
        currency_flag: Option<&str>,
        existing: Option<&'a Record>,
    ) -> Result<Self, StoreError> {
        let currency = match currency_flag {
            Some(c) => Currency::parse(c)?,
            None => existing
                .and_then(|r| r.str("currency"))
                .and_then(|c| Currency::parse(c).ok())
                .unwrap_or(Currency::EUR),
        };
        Ok(EditBuilder {
            store,
            kind,
            currency,
            existing,
            edits: Vec::new(),
        })
    }

    /// Sets a field from its text, validated by the field's type; references are resolved.
    pub fn set(&mut self, name: &str, value: Option<&String>) -> Result<&mut Self, StoreError> {
        let Some(text) = value else { return Ok(self) };
        let text = match field(self.kind, name).map(|f| f.ty) {
            Some(FieldType::Ref(target)) => self.store.resolve(text, target)?.0.to_string(),
            Some(FieldType::Date) => typed_day(self.store, name, text)?.to_string(),
            Some(FieldType::DateTime) => {
                let at = self.store.dates.moment(text)?;
                let iso = crm_shared::values::format_datetime(at);
                let described = if text.contains(':') {
                    dates::describe_moment(at)
                } else {
                    dates::describe_day(at.date())
                };
                echo(name, text, &iso, &described);
                iso
            }
            _ => text.clone(),
        };
        self.edits
            .push(Edit::parse_set(self.kind, name, &text, self.currency)?);
        Ok(self)
    }

    pub fn set_str(&mut self, name: &str, value: &str) -> Result<&mut Self, StoreError> {
        self.set(name, Some(&value.to_string()))
    }

    /// Each value is added to a set field (tags, competitors, attendees).
    pub fn add_to_set(&mut self, name: &'static str, items: &[String]) -> &mut Self {
        for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
            self.edits.push(Edit::AddToSet {
                field: name,
                item: item.to_string(),
            });
        }
        self
    }

    pub fn remove_from_set(&mut self, name: &'static str, items: &[String]) -> &mut Self {
        for item in items {
            self.edits.push(Edit::RemoveFromSet {
                field: name,
                item: item.trim().to_string(),
            });
        }
        self
    }

    /// The first value replaces the primary entry when `replace_first`; others are appended.
    pub fn labelled(
        &mut self,
        name: &str,
        values: &[String],
        replace_first: bool,
    ) -> Result<&mut Self, StoreError> {
        for (i, v) in values.iter().enumerate() {
            let edit = if i == 0 && replace_first {
                Edit::parse_set(self.kind, name, v, self.currency)?
            } else {
                Edit::parse_add_labelled(self.kind, name, v)?
            };
            self.edits.push(edit);
        }
        Ok(self)
    }

    /// Links `ID` or `ID=role` values into a link map.
    pub fn links(
        &mut self,
        name: &'static str,
        target: RecordKind,
        values: &[String],
    ) -> Result<&mut Self, StoreError> {
        for v in values {
            let (id, role) = v.split_once('=').unwrap_or((v.as_str(), ""));
            let (id, _) = self.store.resolve(id, Some(target))?;
            self.edits.push(Edit::Link {
                field: name,
                id,
                role: role.trim().to_string(),
            });
        }
        Ok(self)
    }

    pub fn unlink(
        &mut self,
        name: &'static str,
        target: RecordKind,
        values: &[String],
    ) -> Result<&mut Self, StoreError> {
        for v in values {
            let (id, _) = self.store.resolve(v, Some(target))?;
            self.edits.push(Edit::Unlink { field: name, id });
        }
        Ok(self)
    }

    pub fn clear(&mut self, names: &[String]) -> Result<&mut Self, StoreError> {
        for name in names {
            let spec = field(self.kind, name).ok_or_else(|| {
                StoreError::Invalid(format!("a {} has no field `{name}`", self.kind))
            })?;
            let edit = match spec.ty {
                FieldType::Text => Edit::SetText {
                    field: spec.name,
                    text: String::new(),
                },
                t if t.is_scalar() => Edit::Clear { field: spec.name },
                _ => {
                    return Err(StoreError::Invalid(format!(
                        "`--clear {name}` is not possible: remove its entries one by one"
                    )))
                }
            };
            self.edits.push(edit);
        }
        Ok(self)
    }

    /// The flags every edit command shares.
    pub fn common(&mut self, c: &EditCommon) -> Result<&mut Self, StoreError> {
        self.remove_from_set("tags", &c.untag);
        self.labelled("emails", &c.add_emails, false)?;
        self.labelled("phones", &c.add_phones, false)?;
        self.clear(&c.clear)?;
        Ok(self)
    }

    /// Sets the owner; one no one here has seen is kept, with a warning listing those seen.
    pub fn owner(&mut self, owner: Option<&String>) -> Result<&mut Self, StoreError> {
        if let Some(o) = owner {
            let user = crm_shared::values::UserName::parse(o)?;
            self.store.warn_if_unknown_user(user.as_str())?;
            self.edits.push(Edit::SetOwner(user.to_string()));
        }
        Ok(self)
    }

    /// The text a scalar field will hold after these edits (the record's own when not edited).
    fn after(&self, name: &str) -> Option<String> {
        let set = self.edits.iter().rev().find_map(|e| match e {
            Edit::Set {
                field,
                value: Scalar::Str(v),
            } if *field == name => Some(Some(v.clone())),
            Edit::Clear { field } if *field == name => Some(None),
            _ => None,
        });
        match set {
            Some(v) => v,
            None => self.existing.and_then(|r| r.str(name)).map(str::to_string),
        }
    }

    /// Refuses a record whose `end` field would come before its `start` field (stored
    /// date-times compare as text).
    pub fn ordered(&self, start: &str, end: &str, flags: &str) -> Result<(), StoreError> {
        if let (Some(s), Some(e)) = (self.after(start), self.after(end)) {
            if e < s {
                return Err(StoreError::Invalid(format!(
                    "the {} would {end} at {e}, before it starts at {s}: {flags}",
                    self.kind
                )));
            }
        }
        Ok(())
    }

    /// Refuses a `parent` that is the record itself or has it among its own parents.
    pub fn acyclic_parent(&self) -> Result<(), StoreError> {
        let (Some(me), Some(parent)) = (self.existing, self.after("parent")) else {
            return Ok(());
        };
        let mine = me.id.to_string();
        if parent == mine {
            return Err(StoreError::Invalid(format!(
                "\"{}\" cannot be its own parent: give another organization's id to --parent",
                me.title()
            )));
        }
        let mut chain = vec![me.title().to_string()];
        let mut next = Some(parent);
        while let Some(id) = next.take() {
            let (name, up): (String, Option<String>) = match self.store.conn().query_row(
                "SELECT name, parent FROM rm_orgs WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ) {
                Ok(row) => row,
                Err(rusqlite::Error::QueryReturnedNoRows) => break,
                Err(e) => return Err(e.into()),
            };
            chain.push(name);
            if id == mine {
                return Err(StoreError::Invalid(format!(
                    "that parent would make a circle ({}): pick a parent outside it",
                    chain.join(" -> ")
                )));
            }
            // A circle that does not pass through this record (made elsewhere) ends the walk.
            if chain.len() > 1000 {
                break;
            }
            next = up;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Vec<Edit> {
        std::mem::take(&mut self.edits)
    }
}
