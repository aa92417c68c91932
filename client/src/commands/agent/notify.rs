//! What the runner tells reps by e-mail: an activity's reminder when its time comes, to its
//! owner, and a digest of overdue tasks to those who asked for one (`crm config digest on
//! [--at HH:MM]`), once a day at the time they chose in their own time zone (07:00 unless
//! they chose). Each is recorded in a send log of its month (`reminders/2026-12`, `digests/2026-12`)
//! and sent at most once.

use super::events::Events;
use crate::commands::deliver::{self, Ledger};
use crate::commands::Ctx;
use crate::mail::{Mailer, Outgoing};
use crate::store::Store;
use anyhow::Result;
use chrono::{NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use crm_shared::schema::SendState;
use crm_shared::values::{format_datetime, parse_datetime};
use crm_shared::DocumentId;
use std::collections::BTreeMap;

/// The time of day a digest is sent when its rep gave none (`crm config digest on --at`).
pub const DIGEST_AT: NaiveTime = match NaiveTime::from_hms_opt(7, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// A user the runner may write to.
struct Person {
    login: String,
    email: Option<String>,
    digest: bool,
    /// When the digest goes: a time of day in the user's zone.
    digest_at: NaiveTime,
    /// The user's time zone (none known: the runner's).
    tz: Option<Tz>,
}

impl Person {
    /// Now where the user is.
    fn now(&self, ctx: &Ctx) -> NaiveDateTime {
        match (self.tz, Utc.timestamp_millis_opt(ctx.now_ms).single()) {
            (Some(tz), Some(now)) => now.with_timezone(&tz).naive_local(),
            _ => ctx.now_local,
        }
    }
}

/// The users this data dir knows, by login (the first record of each).
fn people(store: &Store) -> Result<BTreeMap<String, Person>> {
    let ids: Vec<(String, String)> = store
        .conn()
        .prepare("SELECT id, login FROM rm_users WHERE deleted = 0 ORDER BY created_at, id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for (id, login) in ids {
        if out.contains_key(&login) {
            continue;
        }
        let Ok(id) = id.parse::<DocumentId>() else {
            continue;
        };
        let r = store.record(id)?;
        out.insert(
            login.clone(),
            Person {
                login,
                email: r.str("email").map(String::from),
                digest: r.bool("digest").unwrap_or(false),
                digest_at: r
                    .str("digest_at")
                    .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
                    .unwrap_or(DIGEST_AT),
                tz: r.str("tz").and_then(|t| t.parse::<Tz>().ok()),
            },
        );
    }
    Ok(out)
}

/// A planned activity with a reminder.
struct Reminder {
    id: String,
    at: String,
    kind: String,
    subject: String,
    /// Minutes before `at`.
    remind: i64,
    owner: String,
    location: Option<String>,
}

/// One note the runner sends to one person, on time: what it is (for the log), its key in the
/// send log, and the address.
struct Note<'a> {
    what: &'static str,
    key: &'a str,
    to: &'a str,
}

/// Sends `text` (with its HTML form) as `subject` to the note's address, recorded under its key
/// in `ledger` as every delivery is (at most once).
fn send_note(
    ctx: &Ctx,
    store: &mut Store,
    ledger: &Ledger,
    mailer: &Mailer,
    note: Note<'_>,
    subject: String,
    text: String,
) -> Result<crm_shared::schema::Sent> {
    let m = Outgoing {
        to: vec![note.to.to_string()],
        subject,
        html: html_of(&text),
        text,
        attachment: None,
        unsubscribe: None,
    };
    let (what, key) = (note.what, note.key);
    let mut log = |line: &str| eprintln!("crm agent: {what} {key}: {line}");
    let when = deliver::When {
        now_ms: ctx.now_ms,
        late: false,
    };
    deliver::deliver(store, ledger, key, &m, mailer, when, &mut log)
}

/// The event of a note's send, `events.0` when sent, else `events.1` with the error and the
/// retry time added to `fields`.
fn outcome(
    fields: &mut serde_json::Value,
    r: &crm_shared::schema::Sent,
    ctx: &Ctx,
    told: &Events,
    events: (&'static str, &'static str),
) -> &'static str {
    if r.state == SendState::Sent {
        return events.0;
    }
    if let Some(map) = fields.as_object_mut() {
        map.insert("error".into(), r.error.clone().into());
        map.insert("retry_at".into(), told.retry_at(ctx));
    }
    events.1
}

fn html_of(text: &str) -> String {
    maud::html! { html { body { @for line in text.lines() { (line) br; } } } }.into_string()
}

/// Sends the reminders that are due now; returns how many it sent (or tried to).
pub fn reminders(ctx: &Ctx, store: &mut Store, mailer: &Mailer, events: &Events) -> Result<usize> {
    let now = ctx.now_local;
    let rows: Vec<Reminder> = store
        .conn()
        .prepare(
            "SELECT id, at, kind, subject, remind, coalesce(owner, ''), location FROM rm_activities
             WHERE deleted = 0 AND status = 'planned' AND remind IS NOT NULL AND at >= ?1 AND at < ?2
             ORDER BY at, id",
        )?
        .query_map(
            (
                format_datetime(now),
                format_datetime(now + chrono::Duration::days(8)),
            ),
            |r| {
                Ok(Reminder {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    subject: r.get(3)?,
                    remind: r.get(4)?,
                    owner: r.get(5)?,
                    location: r.get(6)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let due: Vec<_> = rows
        .into_iter()
        .filter(|r| {
            parse_datetime(&r.at).is_ok_and(|at| at - chrono::Duration::minutes(r.remind) <= now)
        })
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let people = people(store)?;
    let mut sent = 0;
    for Reminder {
        id,
        at,
        kind,
        subject,
        owner,
        location,
        ..
    } in due
    {
        let key = format!("{id}@{at}");
        // One log a month (by the activity's start), so no log grows without end.
        let topic = format!("reminders/{}", at.get(..7).unwrap_or(&at));
        let ledger = Ledger::log(&topic);
        if deliver::already_done(store.send_log(&topic)?.sent.get(&key)) {
            continue;
        }
        let Some(email) = people.get(&owner).and_then(|p| p.email.clone()) else {
            let fields = serde_json::json!({
                "activity": id, "subject": subject, "owner": owner, "reason": "no e-mail address",
            });
            events.tell(
                ctx,
                "reminder_skipped",
                fields,
                &format!(
                    "reminder of {kind} `{subject}`: {owner} has no e-mail address (they can give one with `crm config email ADDRESS`)"
                ),
            );
            continue;
        };
        let when = parse_datetime(&at)
            .map(|t| t.format("%a %-d %b %H:%M").to_string())
            .unwrap_or(at.clone());
        let mut text = format!("Reminder: {kind} `{subject}` on {when}.\n");
        if let Some(l) = location.filter(|l| !l.is_empty()) {
            text.push_str(&format!("Where: {l}\n"));
        }
        text.push_str(&format!("See it with `crm activity show {id}`.\n"));
        let subject_line = format!("Reminder: {subject} ({when})");
        let note = Note {
            what: "reminder",
            key: &key,
            to: &email,
        };
        let r = send_note(ctx, store, &ledger, mailer, note, subject_line, text)?;
        sent += 1;
        let text = format!(
            "reminder of `{subject}` to {email}: {}",
            deliver::describe(&r)
        );
        let mut fields = serde_json::json!({
            "activity": id, "subject": subject, "due_at": at, "to": email,
            "attempts": r.attempts, "dry_run": mailer.is_dry_run(),
        });
        let event = outcome(
            &mut fields,
            &r,
            ctx,
            events,
            ("reminder_sent", "reminder_failed"),
        );
        events.tell(ctx, event, fields, &text);
    }
    Ok(sent)
}

/// Sends the day's digests of overdue tasks to the users who opted in, each once a day from
/// the time they chose in their time zone; returns how many it sent (or tried to).
pub fn digests(ctx: &Ctx, store: &mut Store, mailer: &Mailer, events: &Events) -> Result<usize> {
    let mut sent = 0;
    for p in people(store)?.into_values().filter(|p| p.digest) {
        let now = p.now(ctx);
        if now.time() < p.digest_at {
            continue;
        }
        let today = now.date();
        // One log a month (by the rep's day), so no log grows without end.
        let topic = format!("digests/{}", today.format("%Y-%m"));
        let ledger = Ledger::log(&topic);
        let key = format!("{}@{}", p.login, today);
        if deliver::already_done(store.send_log(&topic)?.sent.get(&key)) {
            continue;
        }
        let Some(email) = p.email.clone() else {
            continue;
        };
        let tasks: Vec<(String, String, String)> = store
            .conn()
            .prepare(
                "SELECT id, due, subject FROM rm_activities
                 WHERE owner = ?1 AND deleted = 0 AND status = 'planned' AND due IS NOT NULL AND due < ?2
                 ORDER BY due, id",
            )?
            .query_map((&p.login, today.to_string()), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        if tasks.is_empty() {
            continue;
        }
        let greeting = if p.digest_at.hour() < 12 {
            "Good morning"
        } else {
            "Hello"
        };
        let mut text = format!(
            "{greeting} {}: {} overdue task{}.\n\n",
            p.login,
            tasks.len(),
            if tasks.len() == 1 { "" } else { "s" }
        );
        for (id, due, subject) in &tasks {
            text.push_str(&format!(
                "- {subject} (due {}, `crm activity show {}`)\n",
                due.get(..10).unwrap_or(due),
                crate::output::short_id(id)
            ));
        }
        text.push_str("\nStop these e-mails with `crm config digest off`.\n");
        let subject_line = format!("{} overdue task(s) on {}", tasks.len(), today);
        let note = Note {
            what: "digest",
            key: &key,
            to: &email,
        };
        let r = send_note(ctx, store, &ledger, mailer, note, subject_line, text)?;
        sent += 1;
        let text = if r.state != SendState::Sent {
            format!("digest to {email}: {}", deliver::describe(&r))
        } else {
            format!("digest of {} overdue task(s) to {email}: sent", tasks.len())
        };
        let mut fields = serde_json::json!({
            "user": p.login, "to": email, "tasks": tasks.len(),
            "attempts": r.attempts, "dry_run": mailer.is_dry_run(),
        });
        let event = outcome(
            &mut fields,
            &r,
            ctx,
            events,
            ("digest_sent", "digest_failed"),
        );
        events.tell(ctx, event, fields, &text);
    }
    Ok(sent)
}
