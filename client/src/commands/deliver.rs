//! One message delivered at most once, recorded in the workspace: `sending` is committed to the
//! schedule's document or the send log before the message leaves, `sent` (or `failed`, with the
//! error and the attempts) after. A key already `sent` or `sending` is never sent again, here or
//! on any replica that has synced the record; a process stopped between the two records leaves
//! `sending`, shown as "may not have arrived" and not sent again (at most once).
//! A dry run records nothing.

use crate::mail::{Mailer, Outgoing};
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::{self, MailingEdit, SendState, Sent};
use crm_shared::{DocumentId, RecordKind};

/// Where sends are recorded: a schedule's document or the send log of a topic.
pub struct Ledger {
    kind: RecordKind,
    id: DocumentId,
    /// What a new document of it holds (a log's topic).
    create: Vec<MailingEdit>,
}

impl Ledger {
    pub fn schedule(name: &str) -> Ledger {
        Ledger {
            kind: RecordKind::Schedule,
            id: schema::schedule_id(name),
            create: Vec::new(),
        }
    }

    pub fn log(topic: &str) -> Ledger {
        Ledger {
            kind: RecordKind::SendLog,
            id: schema::send_log_id(topic),
            create: vec![MailingEdit::Put("topic".into(), topic.into())],
        }
    }

    /// Records `sent` under `key`.
    pub fn record(&self, store: &mut Store, key: &str, sent: &Sent, now_ms: i64) -> Result<()> {
        let mut edits = self.create.clone();
        edits.push(MailingEdit::Record(key.to_string(), sent.clone()));
        store.edit_mailing(self.kind, self.id, &edits, now_ms)?;
        Ok(())
    }
}

/// When a send happens: now, and whether it is later than due (a laptop that was asleep).
#[derive(Debug, Clone, Copy)]
pub struct When {
    pub now_ms: i64,
    pub late: bool,
}

/// True when `previous` means the key must not be sent again.
pub fn already_done(previous: Option<&Sent>) -> bool {
    previous.is_some_and(|s| matches!(s.state, SendState::Sent | SendState::Sending))
}

/// Sends `m` under `key` unless a dry run: records `sending`, sends with retries (each failed
/// attempt told to `log`), records the outcome. Returns what was recorded.
pub fn deliver(
    store: &mut Store,
    ledger: &Ledger,
    key: &str,
    m: &Outgoing,
    mailer: &Mailer,
    when: When,
    log: &mut dyn FnMut(&str),
) -> Result<Sent> {
    let When { now_ms, late } = when;
    let by = format!("{}@{}", store.identity.user, store.identity.device);
    let mut sent = Sent {
        state: SendState::Sending,
        at: now_ms,
        by,
        late,
        attempts: 0,
        error: None,
        to: m.to.clone(),
    };
    if mailer.is_dry_run() {
        mailer.send(m)?;
        sent.state = SendState::Sent;
        sent.attempts = 1;
        return Ok(sent);
    }
    ledger.record(store, key, &sent, now_ms)?;
    let (attempts, outcome) = mailer.send_with_retry(m, log);
    sent.attempts = attempts;
    match outcome {
        Ok(()) => sent.state = SendState::Sent,
        Err(e) => {
            sent.state = SendState::Failed;
            sent.error = Some(e.message.replace(['\r', '\n'], " "));
        }
    }
    ledger.record(store, key, &sent, now_ms)?;
    Ok(sent)
}

/// A send's state in words, for lists.
pub fn describe(s: &Sent) -> String {
    let late = if s.late { " (late)" } else { "" };
    match s.state {
        SendState::Sent => format!("sent{late}"),
        SendState::Sending => {
            "sending: stopped before it was confirmed, may not have arrived".into()
        }
        SendState::Failed => format!(
            "failed after {} attempt{}: {}",
            s.attempts,
            if s.attempts == 1 { "" } else { "s" },
            s.error.as_deref().unwrap_or("unknown error")
        ),
    }
}
