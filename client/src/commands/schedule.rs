//! `crm schedule add|list|show|rm|run`: reports e-mailed on a cron pattern.
//!
//! A schedule is a workspace document without a book (`schema::mailing`): it merges like any
//! record, and the server lets only managers and admins read or change it. Its report is
//! rendered by its owner's runner (`crm agent`) from the owner's data dir, so its recipients see
//! what the owner may see; a runner of another user leaves it alone, and `schedule run` of
//! another user's schedule is refused.

mod args;
pub mod due;

pub use args::ScheduleCommand;

use super::deliver::{self, Ledger};
use super::Ctx;
use crate::cli::{Cli, Command, ReportArgs};
use crate::mail::{Mailer, Outgoing};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use args::{ScheduleAddArgs, ScheduleRunArgs};
use clap::Parser;
use crm_shared::schema::{MailingEdit, Schedule, SendState, Sent};
use crm_shared::values::Email;
use crm_shared::RecordKind;
use due::Timing;

/// A run sent this long after it was due is marked late (a laptop that was asleep).
const LATE_AFTER_MS: i64 = 15 * 60 * 1000;

pub fn run(ctx: &Ctx, cmd: ScheduleCommand) -> Result<()> {
    match cmd {
        ScheduleCommand::Add(a) => add(ctx, a),
        ScheduleCommand::List => list(ctx),
        ScheduleCommand::Show { name } => show(ctx, &name),
        ScheduleCommand::Rm { name } => rm(ctx, &name),
        ScheduleCommand::Run(a) => run_now(ctx, a),
    }
}

/// The report a schedule's words ask for, checked as `crm report` would check them.
pub fn report_args(words: &str) -> Result<ReportArgs> {
    let argv = ["crm", "report"]
        .into_iter()
        .chain(words.split_whitespace());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        anyhow::anyhow!("`{words}` is not a report crm makes: {first} (see `crm report --help`)")
    })?;
    match cli.command {
        Command::Report(a) => Ok(a),
        _ => anyhow::bail!("`{words}` is not a report crm makes (see `crm report --help`)"),
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 60
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        anyhow::bail!(
            "`{name}` cannot name a schedule: use letters, digits and dashes, e.g. monday-pipeline"
        );
    }
    Ok(())
}

fn add(ctx: &Ctx, a: ScheduleAddArgs) -> Result<()> {
    check_name(&a.name)?;
    let report = report_args(&a.report)?;
    let tz = a.tz.clone().unwrap_or_else(due::local_zone);
    let timing = Timing::parse(&a.cron, &tz)?;
    let format = match a.format.trim() {
        f @ ("html" | "csv" | "pdf") => f.to_string(),
        other => anyhow::bail!("`{other}` is not a format: use html, csv or pdf"),
    };
    let mut to = Vec::new();
    for address in &a.to {
        let email = Email::parse(address).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
        to.push(email.as_str().to_string());
    }
    let mut store = ctx.open()?;
    super::roles::require_manager(ctx, &store, "schedules reports")?;
    // The report must render now, so a schedule never fails on its words at 08:00 on Monday.
    super::report::render(ctx, &store, &report)?;
    let old = store.schedule(&a.name)?;
    if let Some(old) = old.as_ref().filter(|s| !s.removed) {
        anyhow::bail!(
            "there is already a schedule `{}` (of {}): remove it with `crm schedule rm {}` or choose another name",
            old.name,
            old.owner,
            old.name
        );
    }
    let mut edits = vec![
        MailingEdit::Put("name".into(), a.name.clone()),
        MailingEdit::Put("report".into(), a.report.trim().to_string()),
        MailingEdit::Put("cron".into(), a.cron.trim().to_string()),
        MailingEdit::Put("tz".into(), tz.clone()),
        MailingEdit::Put("format".into(), format),
        MailingEdit::Put("owner".into(), store.identity.user.clone()),
        MailingEdit::PutInt("created_at".into(), ctx.now_ms),
        MailingEdit::Remove("deleted_at".into()),
    ];
    for old_to in old.iter().flat_map(|s| &s.to) {
        edits.push(MailingEdit::PutBool(format!("to/{old_to}"), false));
    }
    for address in &to {
        edits.push(MailingEdit::PutBool(format!("to/{address}"), true));
    }
    let id = crm_shared::schema::schedule_id(&a.name);
    store.edit_mailing(RecordKind::Schedule, id, &edits, ctx.now_ms)?;
    let next = timing
        .next_after(ctx.now_ms)
        .map(|t| due::in_words(&t, ctx.now_ms))
        .unwrap_or_else(|| "never".into());
    if ctx.json {
        return output::json(&serde_json::json!({
            "name": a.name, "to": to, "next_run": next, "when": timing.describe(),
        }));
    }
    println!(
        "Scheduled `{}`: {} ({tz}), to {}. Next run: {next}.",
        a.name,
        timing.describe(),
        to.join(", ")
    );
    println!(
        "It is sent by `crm agent` running for {}.",
        store.identity.user
    );
    Ok(())
}

/// The runs of a schedule, latest first.
fn runs_latest_first(s: &Schedule) -> Vec<(&String, &Sent)> {
    let mut runs: Vec<(&String, &Sent)> = s.runs.iter().collect();
    runs.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| b.0.cmp(a.0)));
    runs
}

fn next_run(s: &Schedule, now_ms: i64) -> String {
    match Timing::parse(&s.cron, &s.tz) {
        Ok(t) => t
            .next_after(now_ms)
            .map(|t| due::in_words(&t, now_ms))
            .unwrap_or_else(|| "never".into()),
        Err(e) => format!("never: {e}"),
    }
}

fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let schedules: Vec<Schedule> = store
        .schedules()?
        .into_iter()
        .filter(|s| !s.removed)
        .collect();
    if ctx.json {
        let rows: Vec<serde_json::Value> = schedules
            .iter()
            .map(|s| {
                let last = runs_latest_first(s).first().map(|(k, r)| {
                    serde_json::json!({"key": k, "state": r.state, "late": r.late,
                        "attempts": r.attempts, "error": r.error, "at": r.at})
                });
                serde_json::json!({
                    "name": s.name, "report": s.report, "cron": s.cron, "tz": s.tz,
                    "format": s.format, "to": s.to, "owner": s.owner,
                    "next_run": next_run(s, ctx.now_ms), "last_run": last,
                    "runs": s.runs,
                })
            })
            .collect();
        return output::json(&rows);
    }
    let mut t = output::table(&["NAME", "REPORT", "TO", "NEXT RUN", "LAST RUN"]);
    for s in &schedules {
        let last = runs_latest_first(s)
            .first()
            .map(|(k, r)| {
                format!(
                    "{}: {}",
                    k.rsplit('@').next().unwrap_or(k),
                    deliver::describe(r)
                )
            })
            .unwrap_or_else(|| "none yet".into());
        t.add_row(vec![
            s.name.clone(),
            s.report.clone(),
            s.to.join("\n"),
            next_run(s, ctx.now_ms),
            last,
        ]);
    }
    output::print_table(t, "No schedules: add one with `crm schedule add NAME --report \"pipeline --by owner\" --cron \"0 8 * * MON\" --to ADDRESS`.");
    Ok(())
}

fn existing(store: &Store, name: &str) -> Result<Schedule> {
    store
        .schedule(name)?
        .filter(|s| !s.removed)
        .ok_or_else(|| anyhow::anyhow!("no schedule `{name}` (see `crm schedule list`)"))
}

fn show(ctx: &Ctx, name: &str) -> Result<()> {
    let store = ctx.open()?;
    let s = existing(&store, name)?;
    if ctx.json {
        return output::json(&s);
    }
    let when = Timing::parse(&s.cron, &s.tz)
        .map(|t| t.describe())
        .unwrap_or_else(|e| e.to_string());
    output::print_fields(&[
        ("name".into(), s.name.clone()),
        ("report".into(), format!("crm report {}", s.report)),
        ("when".into(), format!("{} ({}, {})", s.cron, when, s.tz)),
        ("next run".into(), next_run(&s, ctx.now_ms)),
        ("to".into(), s.to.join(", ")),
        ("format".into(), s.format.clone()),
        ("owner".into(), s.owner.clone()),
    ]);
    let mut t = output::table(&["RUN", "STATE", "BY", "ATTEMPTS"]);
    for (key, r) in runs_latest_first(&s) {
        t.add_row(vec![
            key.clone(),
            deliver::describe(r),
            r.by.clone(),
            r.attempts.to_string(),
        ]);
    }
    println!();
    output::print_table(t, "No runs yet.");
    Ok(())
}

fn rm(ctx: &Ctx, name: &str) -> Result<()> {
    let mut store = ctx.open()?;
    let s = existing(&store, name)?;
    super::roles::require_manager(ctx, &store, "removes schedules")?;
    store.edit_mailing(
        RecordKind::Schedule,
        s.id,
        &[MailingEdit::PutInt("deleted_at".into(), ctx.now_ms)],
        ctx.now_ms,
    )?;
    eprintln!("Removed the schedule `{name}`.");
    Ok(())
}

/// Refuses to render `s` here unless this data dir is its owner's: its recipients may see only
/// what the owner may see.
pub fn check_owner(store: &Store, s: &Schedule) -> Result<()> {
    if s.owner != store.identity.user {
        anyhow::bail!(
            "the schedule `{}` is {}'s: it runs from {}'s data dir (its recipients see what {} may see), not {}'s",
            s.name,
            s.owner,
            s.owner,
            s.owner,
            store.identity.user
        );
    }
    Ok(())
}

fn run_now(ctx: &Ctx, a: ScheduleRunArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let s = existing(&store, &a.name)?;
    check_owner(&store, &s)?;
    let mailer = Mailer::open(&ctx.data_dir, a.dry_run, a.outbox.as_deref())?;
    let stamp = chrono::DateTime::from_timestamp_millis(ctx.now_ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ctx.now_ms.to_string());
    // A run by hand has a key of its own: it never stands in for a scheduled run.
    let key = format!("{}@now-{stamp}", s.name);
    let sent = send_schedule(ctx, &mut store, &s, &key, false, &mailer, &mut |line| {
        eprintln!("crm: schedule {}: {line}", s.name)
    })?;
    if ctx.json {
        return output::json(&serde_json::json!({"key": key, "run": sent}));
    }
    match sent.state {
        SendState::Sent => {
            println!("`{}` {} to {}.", s.name, mailer.describe(), s.to.join(", "));
            Ok(())
        }
        _ => anyhow::bail!("`{}` was not sent: {}", s.name, deliver::describe(&sent)),
    }
}

/// Renders schedule `s`'s report now and delivers it under `key` (at most once).
pub fn send_schedule(
    ctx: &Ctx,
    store: &mut Store,
    s: &Schedule,
    key: &str,
    late: bool,
    mailer: &Mailer,
    log: &mut dyn FnMut(&str),
) -> Result<Sent> {
    let report = report_args(&s.report)?;
    let rendered = super::report::render(ctx, store, &report)?;
    let day = ctx.today;
    let late_note = if late { " (late)" } else { "" };
    let attached = if s.format == "pdf" { "PDF" } else { "CSV" };
    let text = format!(
        "{}\nSent by crm for the schedule `{}` of {}{late_note}. The same figures are attached as {attached}.\n",
        rendered.text, s.name, s.owner
    );
    let html = if s.format == "csv" {
        format!(
            "<html><body><pre>{}</pre></body></html>",
            maud::html! { (text) }.into_string()
        )
    } else {
        rendered.html.replace(
            "</body>",
            &format!(
                "{}</body>",
                maud::html! { p { "Sent by crm for the schedule " code { (s.name) } " of " (s.owner) (late_note) ". The same figures are attached as " (attached) "." } }
                    .into_string()
            ),
        )
    };
    let m = Outgoing {
        to: s.to.clone(),
        subject: format!("{}: {}{late_note}", s.name, rendered.title),
        text,
        html,
        attachment: Some(if s.format == "pdf" {
            let heading = super::report::Heading {
                as_of: rendered.as_of(ctx),
                owner: s.owner.clone(),
                source: format!("crm report {} (schedule {})", s.report, s.name),
            };
            (
                format!("{}-{day}.pdf", s.name),
                "application/pdf".into(),
                rendered.pdf(&heading)?,
            )
        } else {
            (
                format!("{}-{day}.csv", s.name),
                "text/csv; charset=utf-8".into(),
                rendered.csv.into_bytes(),
            )
        }),
        unsubscribe: None,
    };
    deliver::deliver(
        store,
        &Ledger::schedule(&s.name),
        key,
        &m,
        mailer,
        deliver::When {
            now_ms: ctx.now_ms,
            late,
        },
        log,
    )
}

/// The run of `s` a runner owes at `now_ms`: the latest due since the schedule was made, unless
/// it was sent (or is being sent) already. A failed run is owed again. Returns its key and
/// whether it is late.
pub fn owed(s: &Schedule, now_ms: i64) -> Result<Option<(String, bool)>> {
    let timing = Timing::parse(&s.cron, &s.tz)?;
    let Some(due) = timing.latest_due(now_ms) else {
        return Ok(None);
    };
    if due.timestamp_millis() < s.created_at {
        return Ok(None);
    }
    let key = due::run_key(&s.name, &due);
    if deliver::already_done(s.runs.get(&key)) {
        return Ok(None);
    }
    Ok(Some((key, now_ms - due.timestamp_millis() > LATE_AFTER_MS)))
}
