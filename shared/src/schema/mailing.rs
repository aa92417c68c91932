//! The documents of the mail the workspace sends by itself: report schedules and send logs.
//!
//! Both are documents without a book (the server lets only managers and admins read and write
//! them) whose id is derived from their name, so two managers who create the same schedule
//! offline get one document that merges key by key. Like the settings, every value is one
//! scalar key at the root:
//! - a schedule ([`RecordKind::Schedule`]): `name`, `report` (the words of a `crm report`
//!   command), `cron`, `tz`, `format`, `owner`, `created_at`, `deleted_at`, `to/<address>` =
//!   true (false: removed), and its runs `run/<key>` = a [`Sent`] as JSON;
//! - a send log ([`RecordKind::SendLog`]): `topic` (`reminders/<month>`, `digests/<month>`,
//!   `campaign/<name>`) and `sent/<key>` = a [`Sent`] as JSON.
//!
//! A send is recorded as [`SendState::Sending`] (committed) before the message leaves and as
//! [`SendState::Sent`] after: a process killed in between leaves `sending`, which is never sent
//! again (at most once) and is shown as "may not have arrived".

use super::author::ChangeAuthor;
use super::read::{scalar_to_int, scalar_to_string};
use super::write::{commit, WriteError};
use crate::model::RecordKind;
use crate::DocumentId;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The id of the schedule named `name` (the same on every replica).
pub fn schedule_id(name: &str) -> DocumentId {
    derived_id("crm-schedule", name)
}

/// The id of the send log of `topic` (the same on every replica).
pub fn send_log_id(topic: &str) -> DocumentId {
    derived_id("crm-send-log", topic)
}

fn derived_id(what: &str, name: &str) -> DocumentId {
    let hash = Sha256::new()
        .chain_update(what.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    DocumentId::from_random(bytes)
}

/// Where one send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendState {
    /// Recorded before sending; left so by a process stopped before it could say `sent`.
    Sending,
    Sent,
    /// Every attempt failed (the last error is kept); a later run may try again.
    Failed,
}

/// One send of a schedule's run, a reminder, a digest or a campaign's message to one contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub state: SendState,
    /// When this state was recorded (ms since the epoch).
    pub at: i64,
    /// The device that sent it (`user@device`).
    #[serde(default)]
    pub by: String,
    /// Sent later than due (a laptop that was asleep).
    #[serde(default)]
    pub late: bool,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last error, when an attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Recipients, for what `schedule show` and a campaign's summary say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
}

/// A report schedule as its document holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub id: DocumentId,
    pub name: String,
    /// The report's words, e.g. `pipeline --by owner`.
    pub report: String,
    pub cron: String,
    /// An IANA time zone, e.g. `Europe/Lisbon`.
    pub tz: String,
    /// `html`, `csv` or `pdf`.
    pub format: String,
    pub to: Vec<String>,
    /// The user whose data the report shows (who made it).
    pub owner: String,
    pub created_at: i64,
    pub removed: bool,
    /// Runs by key (`<name>@<due time in the schedule's zone>`).
    pub runs: BTreeMap<String, Sent>,
}

/// A send log: what was sent under one topic, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendLog {
    pub topic: String,
    pub sent: BTreeMap<String, Sent>,
}

/// One change to a schedule or a send log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailingEdit {
    Put(String, String),
    PutInt(String, i64),
    PutBool(String, bool),
    /// Removes a key (a schedule added again after `rm` loses its `deleted_at`).
    Remove(String),
    /// Records a send under `run/<key>` (schedules) or `sent/<key>` (logs).
    Record(String, Sent),
}

/// The key prefix of a send in a document of `kind`.
fn sent_prefix(kind: RecordKind) -> &'static str {
    if kind == RecordKind::Schedule {
        "run/"
    } else {
        "sent/"
    }
}

/// Creates a schedule or a send log with `edits`, as one change.
pub fn create_mailing(
    kind: RecordKind,
    id: DocumentId,
    edits: &[MailingEdit],
    actor: ActorId,
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<AutoCommit, WriteError> {
    let mut doc = AutoCommit::new().with_actor(actor);
    doc.put(ROOT, "schema", ScalarValue::Uint(super::SCHEMA_VERSION))?;
    doc.put(ROOT, "type", kind.as_str())?;
    doc.put(ROOT, "id", id.to_string())?;
    doc.put(ROOT, "created_at", time_ms)?;
    doc.put(ROOT, "created_by", author.user.as_str())?;
    apply(&mut doc, kind, edits)?;
    commit(&mut doc, author, time_ms);
    Ok(doc)
}

/// Applies `edits` as one change. Returns false when nothing changed.
pub fn edit_mailing(
    doc: &mut AutoCommit,
    kind: RecordKind,
    edits: &[MailingEdit],
    author: &ChangeAuthor,
    time_ms: i64,
) -> Result<bool, WriteError> {
    if let Err(e) = apply(doc, kind, edits) {
        doc.rollback();
        return Err(e);
    }
    Ok(commit(doc, author, time_ms))
}

fn apply(doc: &mut AutoCommit, kind: RecordKind, edits: &[MailingEdit]) -> Result<(), WriteError> {
    for e in edits {
        match e {
            MailingEdit::Put(k, v) => doc.put(ROOT, k.as_str(), v.as_str())?,
            MailingEdit::PutInt(k, v) => doc.put(ROOT, k.as_str(), *v)?,
            MailingEdit::PutBool(k, v) => doc.put(ROOT, k.as_str(), *v)?,
            MailingEdit::Remove(k) => {
                if doc.get(ROOT, k.as_str())?.is_some() {
                    doc.delete(ROOT, k.as_str())?
                }
            }
            MailingEdit::Record(key, sent) => {
                let json = serde_json::to_string(sent).unwrap_or_default();
                doc.put(ROOT, format!("{}{key}", sent_prefix(kind)), json)?
            }
        }
    }
    Ok(())
}

/// Every scalar key at the root (a key of another shape is left out, as readers do).
fn scalars(doc: &Automerge) -> BTreeMap<String, ScalarValue> {
    let mut out = BTreeMap::new();
    for key in doc.keys(ROOT) {
        if let Ok(Some((Value::Scalar(v), _))) = doc.get(ROOT, key.as_str()) {
            out.insert(key, v.into_owned());
        }
    }
    out
}

fn sends(keys: &BTreeMap<String, ScalarValue>, prefix: &str) -> BTreeMap<String, Sent> {
    keys.iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(prefix)?;
            let sent = serde_json::from_str(&scalar_to_string(v)?).ok()?;
            Some((key.to_string(), sent))
        })
        .collect()
}

/// Reads a schedule document.
pub fn read_schedule(id: DocumentId, doc: &Automerge) -> Schedule {
    let keys = scalars(doc);
    let text = |k: &str| keys.get(k).and_then(scalar_to_string).unwrap_or_default();
    let to = keys
        .iter()
        .filter_map(|(k, v)| {
            let address = k.strip_prefix("to/")?;
            matches!(v, ScalarValue::Boolean(true)).then(|| address.to_string())
        })
        .collect();
    Schedule {
        id,
        name: text("name"),
        report: text("report"),
        cron: text("cron"),
        tz: text("tz"),
        format: text("format"),
        to,
        owner: text("owner"),
        created_at: keys.get("created_at").and_then(scalar_to_int).unwrap_or(0),
        removed: keys.get("deleted_at").and_then(scalar_to_int).is_some(),
        runs: sends(&keys, sent_prefix(RecordKind::Schedule)),
    }
}

/// Reads a send log document.
pub fn read_send_log(doc: &Automerge) -> SendLog {
    let keys = scalars(doc);
    SendLog {
        topic: keys
            .get("topic")
            .and_then(scalar_to_string)
            .unwrap_or_default(),
        sent: sends(&keys, sent_prefix(RecordKind::SendLog)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author() -> ChangeAuthor {
        ChangeAuthor {
            user: "mia".into(),
            device: "laptop".into(),
            offline: false,
            action: None,
        }
    }

    fn sent(state: SendState, at: i64) -> Sent {
        Sent {
            state,
            at,
            by: "mia@laptop".into(),
            late: false,
            attempts: 1,
            error: None,
            to: vec!["carla@example.com".into()],
        }
    }

    #[test]
    fn two_managers_creating_the_same_schedule_offline_get_one_document_that_merges() {
        let id = schedule_id("monday");
        assert_eq!(id, schedule_id("monday"));
        assert_ne!(id, schedule_id("tuesday"));
        let make = |actor: &[u8], to: &str| {
            create_mailing(
                RecordKind::Schedule,
                id,
                &[
                    MailingEdit::Put("name".into(), "monday".into()),
                    MailingEdit::PutBool(format!("to/{to}"), true),
                ],
                ActorId::from(actor),
                &author(),
                1000,
            )
            .unwrap()
        };
        let mut a = make(b"aaaa", "carla@example.com");
        let mut b = make(b"bbbb", "rui@example.com");
        a.merge(&mut b).unwrap();
        let s = read_schedule(id, a.document());
        assert_eq!(s.to, vec!["carla@example.com", "rui@example.com"]);
    }

    #[test]
    fn a_send_recorded_as_sending_then_sent_reads_back_as_sent() {
        let id = send_log_id("reminders");
        let mut doc = create_mailing(
            RecordKind::SendLog,
            id,
            &[MailingEdit::Put("topic".into(), "reminders".into())],
            ActorId::from(b"aaaa".as_slice()),
            &author(),
            1000,
        )
        .unwrap();
        let record = |s| MailingEdit::Record("x@2026-12-07T08:00".into(), s);
        edit_mailing(
            &mut doc,
            RecordKind::SendLog,
            &[record(sent(SendState::Sending, 1))],
            &author(),
            1,
        )
        .unwrap();
        assert_eq!(
            read_send_log(doc.document()).sent["x@2026-12-07T08:00"].state,
            SendState::Sending
        );
        edit_mailing(
            &mut doc,
            RecordKind::SendLog,
            &[record(sent(SendState::Sent, 2))],
            &author(),
            2,
        )
        .unwrap();
        let log = read_send_log(doc.document());
        assert_eq!(log.topic, "reminders");
        assert_eq!(log.sent["x@2026-12-07T08:00"].state, SendState::Sent);
    }
}
