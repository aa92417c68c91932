//! `crm agent`: the runner. Each pass syncs the data dir (unless `--offline`), sends the
//! schedules' runs that are due, the reminders whose time has come and the morning digests,
//! then syncs again so other runners learn what was sent; `--watch` repeats the pass.
//!
//! What it sends it records in the workspace first ([`super::deliver`]): a runner restarted, or
//! a second runner of the same workspace once the two have synced, never sends a run, a
//! reminder or a digest again. Two runners that have not synced since a run fell due may both
//! send it; each runs only its own user's schedules, so that takes two runners of one user.
//! A laptop asleep at a run's time sends the latest missed run once on waking, marked late.
//! With `--json` it tells each thing it does as one JSON object per line ([`events`]).

mod args;
mod events;
mod notify;

pub use args::AgentArgs;
pub use notify::DIGEST_AT;

use super::deliver;
use super::schedule;
use super::Ctx;
use crate::mail::Mailer;
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::SendState;
use events::Events;
use std::time::Duration;

pub fn run(ctx: &Ctx, a: AgentArgs) -> Result<()> {
    let mailer = Mailer::open(&ctx.data_dir, a.dry_run, a.outbox.as_deref())?;
    let events = Events {
        json: ctx.json,
        every: a.watch.then_some(a.every.max(1)),
    };
    if a.watch {
        eprintln!(
            "crm agent: sending what falls due every {} s (Ctrl-C to stop); messages are {}.",
            a.every.max(1),
            mailer.describe()
        );
    }
    loop {
        let ctx = ctx.refreshed()?;
        let sent = pass(&ctx, &a, &mailer, &events)?;
        if events.json {
            events.tell(
                &ctx,
                "pass",
                serde_json::json!({ "messages": sent, "dry_run": mailer.is_dry_run() }),
                "",
            );
        }
        if !a.watch {
            if sent == 0 && !events.json {
                println!("Nothing was due.");
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(a.every.max(1)));
    }
}

/// One pass; returns how many messages it sent (or tried to).
fn pass(ctx: &Ctx, a: &AgentArgs, mailer: &Mailer, events: &Events) -> Result<usize> {
    let mut store = ctx.open()?;
    let server = store.identity.server.clone().filter(|_| !a.offline);
    if let Some(url) = &server {
        sync(ctx, &mut store, url, events);
    }
    let mut sent = schedules(ctx, &mut store, mailer, events)?;
    sent += notify::reminders(ctx, &mut store, mailer, events)?;
    sent += notify::digests(ctx, &mut store, mailer, events)?;
    if sent > 0 && !mailer.is_dry_run() {
        if let Some(url) = &server {
            sync(ctx, &mut store, url, events);
        }
    }
    Ok(sent)
}

/// Syncs once; a failure is told and the pass goes on with what the data dir holds. With
/// `--json`, what the sync received is told as `crm sync --watch --json` tells it, then the
/// whole sync as `crm sync --json` reports it (`synced`).
fn sync(ctx: &Ctx, store: &mut Store, url: &str, events: &Events) {
    let quiet = Ctx {
        data_dir: ctx.data_dir.clone(),
        json: true,
        now_ms: ctx.now_ms,
        today: ctx.today,
        now_local: ctx.now_local,
    };
    match super::sync::sync_with(&quiet, store, url, false, Duration::from_secs(60)) {
        Ok(report) if events.json => {
            crate::session::Feed::new(true).tell(&report);
            // The whole sync, as `crm sync --json` reports it.
            let fields = serde_json::to_value(&report).unwrap_or_default();
            events.tell(ctx, "synced", fields, "");
        }
        Ok(_) => {}
        Err(e) => {
            let error = crate::mail::one_line(&e);
            if events.json {
                events.tell(
                    ctx,
                    "sync_failed",
                    serde_json::json!({ "server": url, "error": error, "retry_at": events.retry_at(ctx) }),
                    "",
                );
            } else {
                eprintln!(
                    "crm agent: could not sync with {url} ({error}); working from what this data dir holds"
                );
            }
        }
    }
}

fn schedules(ctx: &Ctx, store: &mut Store, mailer: &Mailer, events: &Events) -> Result<usize> {
    let mut sent = 0;
    for s in store.schedules()? {
        if s.removed || schedule::check_owner(store, &s).is_err() {
            continue;
        }
        let owed = match schedule::owed(&s, ctx.now_ms) {
            Ok(o) => o,
            Err(e) => {
                let fields = serde_json::json!({
                    "schedule": s.name, "error": format!("{e:#}"), "retry_at": null,
                });
                events.tell(
                    ctx,
                    "schedule_failed",
                    fields,
                    &format!("schedule {} cannot run: {e}", s.name),
                );
                continue;
            }
        };
        let Some((key, late)) = owed else { continue };
        let mut log = |line: &str| eprintln!("crm agent: schedule {}: {line}", s.name);
        let outcome = schedule::send_schedule(ctx, store, &s, &key, late, mailer, &mut log);
        sent += 1;
        let mut fields = serde_json::json!({
            "schedule": s.name, "run": key, "late": late, "to": s.to,
            "dry_run": mailer.is_dry_run(),
        });
        let (event, text, extra) = match outcome {
            Ok(r) if r.state == SendState::Sent => (
                "schedule_sent",
                format!(
                    "schedule {key}{}: {} to {}",
                    if late { " (late)" } else { "" },
                    mailer.describe(),
                    s.to.join(", ")
                ),
                serde_json::json!({ "attempts": r.attempts }),
            ),
            Ok(r) => (
                "schedule_failed",
                format!("schedule {key}: {}", deliver::describe(&r)),
                serde_json::json!({
                    "attempts": r.attempts, "error": r.error, "retry_at": events.retry_at(ctx),
                }),
            ),
            Err(e) => (
                "schedule_failed",
                format!("schedule {key}: not sent: {e:#}"),
                serde_json::json!({ "error": format!("{e:#}"), "retry_at": events.retry_at(ctx) }),
            ),
        };
        if let (Some(map), serde_json::Value::Object(more)) = (fields.as_object_mut(), extra) {
            map.extend(more);
        }
        events.tell(ctx, event, fields, &text);
    }
    Ok(sent)
}
