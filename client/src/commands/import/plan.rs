//! What an import does to the store: each record read is matched with one already here (by the
//! file's id, then e-mail, then phone; organizations by name; activities by subject and start)
//! and becomes a creation, an update (only what the file adds or changes) or nothing.
//!
//! The read model answers each match without reading documents: a file's id is looked up in
//! `rm_external_ids`, an e-mail or a phone in `rm_match_keys` (every e-mail and phone of a
//! contact, normalised as `crm duplicates` compares them). What this file already planned is
//! looked up first.
//!
//! Updates never clear: an empty cell leaves the field as it is; e-mails, phones, tags and
//! organizations are added to what the record has; notes are written only into empty notes.

use super::wants::{
    activity_wants, keep_unusable_in_notes, labelled, org_wants, scalar, valid, Want,
};
use crate::interchange::{ActivityIn, ContactIn, Incoming, OrgIn, Problem};
use crate::store::{email_key, phone_key, Store};
use crm_shared::schema::{fields, Edit, FieldType, FieldValue, Record, Scalar, EXTERNAL_IDS_FIELD};
use crm_shared::values::Currency;
use crm_shared::{DocumentId, RecordKind};
use rusqlite::OptionalExtension;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What happens to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

/// One record's part of the import.
#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    pub kind: RecordKind,
    pub id: DocumentId,
    pub action: Action,
    pub title: String,
    /// An activity's start (or due time): what tells the occurrences of a series apart.
    pub at: Option<String>,
    pub edits: Vec<Edit>,
}

/// A record's values as the import sees them, kept up to date as steps are planned (so a person
/// twice in one file is created once and then updated).
#[derive(Debug, Default, Clone)]
struct Snapshot {
    scalars: BTreeMap<&'static str, String>,
    labelled: BTreeMap<&'static str, Vec<String>>,
    sets: BTreeMap<&'static str, BTreeSet<String>>,
    links: BTreeSet<String>,
    notes: String,
}

impl Snapshot {
    fn of(r: &Record) -> Snapshot {
        let mut s = Snapshot::default();
        for spec in fields(r.kind) {
            match r.fields.get(spec.name) {
                Some(FieldValue::Str(v)) if spec.ty == FieldType::Text => s.notes = v.clone(),
                Some(FieldValue::Str(v)) => {
                    s.scalars.insert(spec.name, v.clone());
                }
                Some(FieldValue::Int(i)) => {
                    s.scalars.insert(spec.name, i.to_string());
                }
                Some(FieldValue::Bool(b)) => {
                    s.scalars.insert(spec.name, b.to_string());
                }
                Some(FieldValue::Set(items)) => {
                    s.sets.insert(spec.name, items.iter().cloned().collect());
                }
                Some(FieldValue::Labelled(items)) => {
                    s.labelled
                        .insert(spec.name, items.iter().map(|l| key(&l.value)).collect());
                }
                Some(FieldValue::Links(m)) => s.links.extend(m.keys().cloned()),
                _ => {}
            }
        }
        s
    }
}

/// The value an e-mail or phone is matched by: its match key (`rm_match_keys`), else its text.
fn key(v: &str) -> String {
    if v.contains('@') {
        email_key(v)
    } else {
        phone_key(v)
    }
    .unwrap_or_else(|| v.trim().to_lowercase())
}

/// Plans an import against a store.
pub struct Planner<'s> {
    store: &'s Store,
    pub steps: Vec<Step>,
    pub warnings: Vec<Problem>,
    snapshots: HashMap<DocumentId, Snapshot>,
    /// The file's ids, e-mails and phones planned so far (keyed as `rm_match_keys` keys them).
    by_uid: HashMap<String, DocumentId>,
    by_value: HashMap<String, DocumentId>,
    org_by_name: HashMap<String, DocumentId>,
    activity_by_time: HashMap<(String, String), DocumentId>,
    relationships: BTreeSet<(String, String, String)>,
    /// A recurring event's key in the file -> the activity its occurrences name as `series`.
    series: HashMap<String, DocumentId>,
}

impl<'s> Planner<'s> {
    pub fn new(store: &'s Store) -> Result<Self, crate::StoreError> {
        let conn = store.conn();
        let mut p = Planner {
            store,
            steps: Vec::new(),
            warnings: Vec::new(),
            snapshots: HashMap::new(),
            by_uid: HashMap::new(),
            by_value: HashMap::new(),
            org_by_name: HashMap::new(),
            activity_by_time: HashMap::new(),
            relationships: BTreeSet::new(),
            series: HashMap::new(),
        };
        let mut stmt = conn.prepare("SELECT id, name FROM rm_orgs WHERE deleted = 0 ORDER BY n")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, name) = row?;
            if let Ok(id) = id.parse() {
                p.org_by_name
                    .entry(name.trim().to_lowercase())
                    .or_insert(id);
            }
        }
        let mut stmt = conn.prepare(
            "SELECT id, subject, at FROM rm_activities WHERE deleted = 0 AND at IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, subject, at) = row?;
            if let Ok(id) = id.parse() {
                p.activity_by_time.insert((subject.to_lowercase(), at), id);
            }
        }
        let mut stmt =
            conn.prepare("SELECT from_id, to_id, kind FROM rm_relationships WHERE deleted = 0")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            p.relationships.insert(row?);
        }
        Ok(p)
    }

    fn remember_value(&mut self, v: &str, id: DocumentId) {
        self.by_value.entry(key(v)).or_insert(id);
    }

    /// The contact here, else planned in this file, that holds the e-mail or phone `v` (any of
    /// its e-mails and phones, not only the first).
    fn find_value(&self, v: &str) -> Result<Option<DocumentId>, crate::StoreError> {
        let k = key(v);
        if !k.starts_with("e:") && !k.starts_with("p:") {
            return Ok(None);
        }
        let here: Option<String> = self
            .store
            .conn()
            .prepare_cached(
                "SELECT k.id FROM rm_match_keys k JOIN rm_contacts c ON c.id = k.id
                 WHERE k.type = 'contact' AND k.key = ?1 ORDER BY c.n LIMIT 1",
            )?
            .query_row([&k], |r| r.get(0))
            .optional()?;
        match here.and_then(|id| id.parse().ok()) {
            Some(id) => Ok(Some(id)),
            None => Ok(self.by_value.get(&k).copied()),
        }
    }

    /// The record here that the file's id names: a record id, or an id kept from an earlier import.
    fn find_uid(
        &mut self,
        kind: RecordKind,
        uid: &str,
    ) -> Result<Option<DocumentId>, crate::StoreError> {
        let uid = uid.trim().trim_start_matches("urn:uuid:");
        if let Some(id) = self.by_uid.get(uid) {
            return Ok(Some(*id));
        }
        if let Ok(id) = uid.parse::<DocumentId>() {
            if let Ok(r) = self.store.record(id) {
                if r.kind == kind && !r.is_deleted() {
                    return Ok(Some(id));
                }
            }
        }
        // An id an earlier import kept on a listed record (`rm_external_ids`).
        let found: Option<String> = self
            .store
            .conn()
            .prepare_cached("SELECT id FROM rm_external_ids WHERE uid = ?1 AND type = ?2 LIMIT 1")?
            .query_row((uid, kind.as_str()), |r| r.get(0))
            .optional()?;
        Ok(found.and_then(|id| id.parse().ok()))
    }

    fn snapshot(&mut self, id: DocumentId) -> Result<Snapshot, crate::StoreError> {
        if let Some(s) = self.snapshots.get(&id) {
            return Ok(s.clone());
        }
        Ok(Snapshot::of(&self.store.record(id)?))
    }

    /// Plans one record read at `line`; returns its id.
    pub fn add(&mut self, line: usize, item: &Incoming) -> Result<DocumentId, crate::StoreError> {
        let (kind, found) = match item {
            Incoming::Contact(c) => (RecordKind::Contact, self.match_contact(c)?),
            Incoming::Org(o) => (RecordKind::Organization, self.match_org(o)?),
            Incoming::Activity(a) => (RecordKind::Activity, self.match_activity(a)?),
        };
        let mut wants = Vec::new();
        match item {
            Incoming::Contact(c) => self.contact_wants(line, c, &mut wants)?,
            Incoming::Org(o) => org_wants(o, &mut wants),
            Incoming::Activity(a) => activity_wants(a, &mut wants),
        }
        let (id, before, action) = match found {
            Some(id) => (id, self.snapshot(id)?, Action::Update),
            None => (super::super::new_id(), Snapshot::default(), Action::Create),
        };
        if let Incoming::Activity(a) = item {
            if let Some(key) = &a.series {
                // The series is named by its first activity: the one here, else this one.
                let first = *self.series.entry(key.clone()).or_insert_with(|| {
                    before
                        .scalars
                        .get("series")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(id)
                });
                wants.push(Want::Scalar("series", first.to_string()));
            }
        }
        let mut after = before.clone();
        let mut edits = Vec::new();
        if let Some(uid) = item.uid() {
            let uid = uid.trim().trim_start_matches("urn:uuid:").to_string();
            if uid != id.to_string() {
                wants.push(Want::Set(EXTERNAL_IDS_FIELD, uid.clone()));
            }
            self.by_uid.insert(uid, id);
        }
        for want in keep_unusable_in_notes(line, wants, &mut self.warnings) {
            self.diff(line, kind, want, &mut after, &mut edits);
        }
        let action = match action {
            Action::Update if edits.is_empty() => Action::Unchanged,
            a => a,
        };
        // Values the record now holds find it again later in the file.
        match item {
            Incoming::Contact(c) => {
                for v in c.emails.iter().chain(&c.phones) {
                    self.remember_value(&v.value, id);
                }
            }
            Incoming::Org(o) => {
                self.org_by_name.insert(o.name.trim().to_lowercase(), id);
            }
            Incoming::Activity(a) => {
                if let Some(start) = &a.start {
                    self.activity_by_time
                        .insert((a.subject.to_lowercase(), start.clone()), id);
                }
            }
        }
        self.snapshots.insert(id, after);
        self.steps.push(Step {
            line,
            kind,
            id,
            action,
            title: item.title().to_string(),
            at: match item {
                Incoming::Activity(a) => a.start.clone().or_else(|| a.due.clone()),
                _ => None,
            },
            edits,
        });
        Ok(id)
    }

    fn match_contact(&mut self, c: &ContactIn) -> Result<Option<DocumentId>, crate::StoreError> {
        if let Some(uid) = &c.uid {
            if let Some(id) = self.find_uid(RecordKind::Contact, uid)? {
                return Ok(Some(id));
            }
        }
        for v in c.emails.iter().chain(&c.phones) {
            if let Some(id) = self.find_value(&v.value)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn match_org(&mut self, o: &OrgIn) -> Result<Option<DocumentId>, crate::StoreError> {
        if let Some(uid) = &o.uid {
            if let Some(id) = self.find_uid(RecordKind::Organization, uid)? {
                return Ok(Some(id));
            }
        }
        Ok(self.org_by_name.get(&o.name.trim().to_lowercase()).copied())
    }

    fn match_activity(&mut self, a: &ActivityIn) -> Result<Option<DocumentId>, crate::StoreError> {
        if let Some(uid) = &a.uid {
            if let Some(id) = self.find_uid(RecordKind::Activity, uid)? {
                return Ok(Some(id));
            }
        }
        Ok(a.start
            .as_ref()
            .and_then(|s| {
                self.activity_by_time
                    .get(&(a.subject.to_lowercase(), s.clone()))
            })
            .copied())
    }

    /// The organization called `name`: found, or planned as a new one.
    fn org_named(&mut self, line: usize, name: &str) -> Result<DocumentId, crate::StoreError> {
        match self.org_by_name.get(&name.trim().to_lowercase()) {
            Some(id) => Ok(*id),
            None => self.add(
                line,
                &Incoming::Org(OrgIn {
                    name: name.trim().to_string(),
                    ..OrgIn::default()
                }),
            ),
        }
    }

    fn contact_wants(
        &mut self,
        line: usize,
        c: &ContactIn,
        wants: &mut Vec<Want>,
    ) -> Result<(), crate::StoreError> {
        scalar(wants, "name", Some(&c.name));
        scalar(wants, "given_name", c.given_name.as_ref());
        scalar(wants, "family_name", c.family_name.as_ref());
        scalar(wants, "title", c.title.as_ref());
        scalar(wants, "department", c.department.as_ref());
        scalar(wants, "address", c.address.as_ref());
        scalar(wants, "region", c.region.as_ref());
        scalar(wants, "source", c.source.as_ref());
        if let Some(b) = c.do_not_call {
            wants.push(Want::Scalar("do_not_call", b.to_string()));
        }
        labelled(wants, "emails", &c.emails);
        labelled(wants, "phones", &c.phones);
        wants.extend(c.tags.iter().map(|t| Want::Set("tags", t.clone())));
        for org in &c.orgs {
            let id = self.org_named(line, org)?;
            wants.push(Want::Link("orgs", id));
        }
        if let Some(n) = &c.notes {
            wants.push(Want::Notes(n.clone()));
        }
        Ok(())
    }

    /// Plans the relationships the file names (RELATED), and the references of our own export
    /// (an organization's parent, an activity's case, contact and organization), once every
    /// record of the file is planned.
    pub fn relate(
        &mut self,
        line: usize,
        from: DocumentId,
        related: &[(String, String)],
    ) -> Result<(), crate::StoreError> {
        let from_kind = self
            .steps
            .iter()
            .find(|s| s.id == from)
            .map(|s| s.kind)
            .unwrap_or(RecordKind::Contact);
        for (kind, target) in related {
            let wanted: &[RecordKind] = match kind.as_str() {
                "parent" | "org" => &[RecordKind::Organization],
                "contact" => &[RecordKind::Contact],
                "case" => &[RecordKind::Case],
                _ if from_kind == RecordKind::Organization => {
                    &[RecordKind::Organization, RecordKind::Contact]
                }
                _ => &[RecordKind::Contact, RecordKind::Organization],
            };
            let mut to = None;
            for k in wanted {
                if to.is_none() {
                    to = self.find_uid(*k, target)?;
                }
            }
            let Some(to) = to.filter(|to| *to != from) else {
                self.warnings.push(Problem {
                    line,
                    reason: format!(
                        "{kind} `{target}` names no record of the file and none here: left out"
                    ),
                });
                continue;
            };
            if let Some(field) = ["parent", "org", "contact", "case"]
                .into_iter()
                .find(|f| f == kind)
            {
                self.set_reference(from, field, to);
                continue;
            }
            let triple = (from.to_string(), to.to_string(), kind.clone());
            if !self.relationships.insert(triple) {
                continue;
            }
            let edits = vec![
                Edit::Set {
                    field: "from",
                    value: Scalar::Str(from.to_string()),
                },
                Edit::Set {
                    field: "to",
                    value: Scalar::Str(to.to_string()),
                },
                Edit::Set {
                    field: "kind",
                    value: Scalar::Str(kind.clone()),
                },
            ];
            self.steps.push(Step {
                line,
                kind: RecordKind::Relationship,
                id: super::super::new_id(),
                action: Action::Create,
                title: kind.clone(),
                at: None,
                edits,
            });
        }
        Ok(())
    }

    /// Adds `field = to` to the step of record `from`, unless the record holds it already.
    fn set_reference(&mut self, from: DocumentId, field: &'static str, to: DocumentId) {
        let value = to.to_string();
        let Some(snapshot) = self.snapshots.get_mut(&from) else {
            return;
        };
        if snapshot.scalars.get(field) == Some(&value) {
            return;
        }
        snapshot.scalars.insert(field, value.clone());
        if let Some(step) = self.steps.iter_mut().rev().find(|s| s.id == from) {
            step.edits.push(Edit::Set {
                field,
                value: Scalar::Str(value),
            });
            if step.action == Action::Unchanged {
                step.action = Action::Update;
            }
        }
    }

    fn diff(
        &mut self,
        line: usize,
        kind: RecordKind,
        want: Want,
        after: &mut Snapshot,
        edits: &mut Vec<Edit>,
    ) {
        match want {
            Want::Scalar(field, text) => {
                let edit = match Edit::parse_set(kind, field, &text, Currency::EUR) {
                    Ok(e) => e,
                    Err(e) => {
                        self.warnings.push(Problem {
                            line,
                            reason: format!("{field} `{text}` left out: {e}"),
                        });
                        return;
                    }
                };
                let value = match &edit {
                    Edit::Set {
                        value: Scalar::Str(s),
                        ..
                    } => s.clone(),
                    Edit::Set {
                        value: Scalar::Int(i),
                        ..
                    } => i.to_string(),
                    Edit::Set {
                        value: Scalar::Bool(b),
                        ..
                    } => b.to_string(),
                    _ => return,
                };
                if after.scalars.get(field) != Some(&value) {
                    after.scalars.insert(field, value);
                    edits.push(edit);
                }
            }
            Want::Minutes(field, m) => {
                if after.scalars.get(field) != Some(&m.to_string()) {
                    after.scalars.insert(field, m.to_string());
                    edits.push(Edit::Set {
                        field,
                        value: Scalar::Int(m),
                    });
                }
            }
            Want::Labelled(field, l) => {
                let value = match valid(field, &l.value) {
                    Ok(v) => v,
                    Err(e) => {
                        self.warnings.push(Problem {
                            line,
                            reason: format!("left out: {e}"),
                        });
                        return;
                    }
                };
                let have = after.labelled.entry(field).or_default();
                if !have.contains(&key(&value)) {
                    have.push(key(&value));
                    edits.push(Edit::AddLabelled {
                        field,
                        label: l.label,
                        value,
                    });
                }
            }
            Want::Set(field, item) => {
                if after.sets.entry(field).or_default().insert(item.clone()) {
                    edits.push(Edit::AddToSet { field, item });
                }
            }
            Want::Link(field, id) => {
                if after.links.insert(id.to_string()) {
                    edits.push(Edit::Link {
                        field,
                        id,
                        role: String::new(),
                    });
                }
            }
            Want::Notes(text) => {
                if after.notes.trim().is_empty() && !text.trim().is_empty() {
                    after.notes = text.clone();
                    edits.push(Edit::SetText {
                        field: "notes",
                        text,
                    });
                }
            }
        }
    }
}
