//! `crm agent`: the runner. Each pass syncs the data dir (unless `--offline`), sends the
//! schedules' runs that are due, the reminders whose time has come and the morning digests,
//! then syncs again so other runners learn what was sent; `--watch` repeats the pass.
//!
//! What it sends it records in the workspace first ([`super::deliver`]): a runner restarted, or
//! a second runner of the same workspace once the two have synced, never sends a run, a
//! reminder or a digest again. Two runners that have not synced since a run fell due may both
//! send it; each runs only its own user's schedules, so that takes two runners of one user.
//! A laptop asleep at a run's time sends the latest missed run once on waking, marked late.

mod args;
mod notify;

pub use args::AgentArgs;
pub use notify::DIGEST_HOUR;

use super::deliver;
use super::schedule;
use super::Ctx;
use crate::mail::Mailer;
use crate::store::Store;
use anyhow::Result;
use crm_shared::schema::SendState;
use std::time::Duration;

pub fn run(ctx: &Ctx, a: AgentArgs) -> Result<()> {
    let mailer = Mailer::open(&ctx.data_dir, a.dry_run, a.outbox.as_deref())?;
    if a.watch {
        eprintln!(
            "crm agent: sending what falls due every {} s (Ctrl-C to stop); messages are {}.",
            a.every.max(1),
            mailer.describe()
        );
    }
    loop {
        let ctx = ctx.refreshed()?;
        let sent = pass(&ctx, &a, &mailer)?;
        if !a.watch {
            if sent == 0 {
                println!("Nothing was due.");
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(a.every.max(1)));
    }
}

/// Says one thing the runner did, with the time it did it (the runner's "now").
fn say(ctx: &Ctx, line: &str) {
    println!("{} {line}", ctx.now_local.format("%Y-%m-%dT%H:%M"));
}

/// One pass; returns how many messages it sent (or tried to).
fn pass(ctx: &Ctx, a: &AgentArgs, mailer: &Mailer) -> Result<usize> {
    let mut store = ctx.open()?;
    let server = store.identity.server.clone().filter(|_| !a.offline);
    if let Some(url) = &server {
        sync(ctx, &mut store, url);
    }
    let mut sent = schedules(ctx, &mut store, mailer)?;
    sent += notify::reminders(ctx, &mut store, mailer)?;
    sent += notify::digests(ctx, &mut store, mailer)?;
    if sent > 0 && !mailer.is_dry_run() {
        if let Some(url) = &server {
            sync(ctx, &mut store, url);
        }
    }
    Ok(sent)
}

/// Syncs once; a failure is told and the pass goes on with what the data dir holds.
fn sync(ctx: &Ctx, store: &mut Store, url: &str) {
    let quiet = Ctx {
        data_dir: ctx.data_dir.clone(),
        json: true,
        now_ms: ctx.now_ms,
        today: ctx.today,
        now_local: ctx.now_local,
    };
    if let Err(e) = super::sync::sync_with(&quiet, store, url, false, Duration::from_secs(60)) {
        eprintln!(
            "crm agent: could not sync with {url} ({}); working from what this data dir holds",
            crate::mail::one_line(&e)
        );
    }
}

fn schedules(ctx: &Ctx, store: &mut Store, mailer: &Mailer) -> Result<usize> {
    let mut sent = 0;
    for s in store.schedules()? {
        if s.removed || schedule::check_owner(store, &s).is_err() {
            continue;
        }
        let owed = match schedule::owed(&s, ctx.now_ms) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("crm agent: schedule {} cannot run: {e}", s.name);
                continue;
            }
        };
        let Some((key, late)) = owed else { continue };
        let mut log = |line: &str| eprintln!("crm agent: schedule {}: {line}", s.name);
        let outcome = schedule::send_schedule(ctx, store, &s, &key, late, mailer, &mut log);
        sent += 1;
        match outcome {
            Ok(r) if r.state == SendState::Sent => say(
                ctx,
                &format!(
                    "schedule {key}{}: {} to {}",
                    if late { " (late)" } else { "" },
                    mailer.describe(),
                    s.to.join(", ")
                ),
            ),
            Ok(r) => say(ctx, &format!("schedule {key}: {}", deliver::describe(&r))),
            Err(e) => say(ctx, &format!("schedule {key}: not sent: {e:#}")),
        }
    }
    Ok(sent)
}
