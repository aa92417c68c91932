//! `crm campaign send|unsubscribe|show`: e-mail to a segment (direct marketing), a mail merge
//! of a template with each contact's fields.
//!
//! Each contact's message is recorded in the campaign's send log (`campaign/<name>`, a
//! workspace document of managers and admins) as `sending` before it leaves and `sent` after
//! ([`super::deliver`]): the campaign run again, after a crash midway or on another laptop once
//! synced, skips every contact already written to, and a contact whose send was cut short is
//! listed as "may not have arrived", never written to twice. An e-mail activity is logged on
//! each contact written to.

mod args;
mod segment;
mod template;

pub use args::CampaignCommand;

use super::deliver::{self, Ledger};
use super::{new_id, Ctx};
use crate::mail::{Mailer, Outgoing, SmtpConfig};
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};
use args::CampaignSendArgs;
use crm_shared::schema::{Edit, Record, SendState};
use crm_shared::values::{Currency, Email};
use crm_shared::{DocumentId, RecordKind};
use segment::Segment;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use template::Template;

pub fn run(ctx: &Ctx, cmd: CampaignCommand) -> Result<()> {
    match cmd {
        CampaignCommand::Send(a) => send(ctx, a),
        CampaignCommand::Unsubscribe { addresses } => unsubscribe(ctx, &addresses),
        CampaignCommand::Show { name } => show(ctx, &name),
    }
}

/// The wait between two messages of `--rate N/min` (or `/s`, `/h`).
fn interval(rate: &str) -> Result<Duration> {
    let bad = || anyhow::anyhow!("`{rate}` is not a rate: write e.g. 30/min, 2/s or 500/h");
    let (n, per) = rate.trim().split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let per = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "min" | "m" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(per / f64::from(n)))
}

fn campaign_name(a: &CampaignSendArgs) -> Result<String> {
    let name = match &a.name {
        Some(n) => n.trim().to_string(),
        None => a
            .template
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.is_empty() || name.contains(char::is_control) || name.len() > 80 {
        anyhow::bail!("give the campaign a name with --name NAME");
    }
    Ok(name)
}

/// The placeholders' values for one contact.
fn fields_of(store: &Store, c: &Record) -> Result<BTreeMap<&'static str, String>> {
    let name = c.title().to_string();
    let first = c
        .str("given_name")
        .map(String::from)
        .unwrap_or_else(|| name.split_whitespace().next().unwrap_or("").to_string());
    let last = c.str("family_name").map(String::from).unwrap_or_else(|| {
        name.split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let org = match c.links("orgs").and_then(|l| l.keys().next().cloned()) {
        Some(id) => match id.parse::<DocumentId>() {
            Ok(id) => store
                .record(id)
                .map(|o| o.title().to_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        },
        None => String::new(),
    };
    let email = c
        .labelled("emails")
        .first()
        .map(|l| l.value.clone())
        .unwrap_or_default();
    Ok(BTreeMap::from([
        ("name", name),
        ("first_name", first),
        ("last_name", last),
        ("title", c.str("title").unwrap_or("").to_string()),
        ("org", org),
        ("email", email),
        ("region", c.str("region").unwrap_or("").to_string()),
        ("owner", c.owner.clone()),
    ]))
}

/// Logs the e-mail on the contact: a done activity of kind email.
fn log_activity(
    ctx: &Ctx,
    store: &mut Store,
    contact: &Record,
    subject: &str,
    name: &str,
) -> Result<()> {
    let set = |field: &str, value: &str| {
        Edit::parse_set(RecordKind::Activity, field, value, Currency::EUR)
    };
    let edits = vec![
        set("kind", "email")?,
        set("subject", subject)?,
        set("status", "done")?,
        set("contact", &contact.id.to_string())?,
        set("start", &crm_shared::values::format_datetime(ctx.now_local))?,
        set("outcome", &format!("campaign {name}"))?,
    ];
    let book = match contact.book.as_str() {
        "" => store.identity.book.clone(),
        b => b.to_string(),
    };
    store.create_in(
        RecordKind::Activity,
        new_id(),
        None,
        &book,
        &edits,
        ctx.now_ms,
    )?;
    Ok(())
}

fn send(ctx: &Ctx, a: CampaignSendArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.template)
        .with_context(|| format!("cannot read the template {}", a.template.display()))?;
    let template =
        Template::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.template.display()))?;
    let segment = Segment::parse(&a.to)?;
    let wait = interval(&a.rate)?;
    let name = campaign_name(&a)?;
    let mut store = ctx.open()?;
    super::roles::require_manager(ctx, &store, "sends campaigns")?;
    let mailer = Mailer::open(&ctx.data_dir, a.dry_run, a.outbox.as_deref())?;
    let reply_to = SmtpConfig::read(&ctx.data_dir)?.map(|c| c.from);
    let topic = format!("campaign/{name}");
    let ledger = Ledger::log(&topic);
    let log = store.send_log(&topic)?;

    let (mut sent, mut failed, mut unsure) = (Vec::new(), Vec::new(), Vec::new());
    let (mut do_not_contact, mut no_email, mut before) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_send: Option<Instant> = None;
    for id in segment.contacts(&store)? {
        let Ok(id) = id.parse::<DocumentId>() else {
            continue;
        };
        let contact = store.record(id)?;
        let label = contact.title().to_string();
        let key = id.to_string();
        match log.sent.get(&key) {
            Some(s) if s.state == SendState::Sent => {
                before.push(label);
                continue;
            }
            Some(s) if s.state == SendState::Sending => {
                unsure.push(label);
                continue;
            }
            _ => {}
        }
        if contact.bool("do_not_contact") == Some(true) {
            do_not_contact.push(label);
            continue;
        }
        let fields = fields_of(&store, &contact)?;
        let address = fields["email"].clone();
        if Email::parse(&address).is_err() {
            no_email.push(label);
            continue;
        }
        let (subject, body) = template.render(&fields);
        let note = "To receive no more of these e-mails, reply with the word unsubscribe.";
        let text = format!("{body}\n-- \n{note}\n");
        let html = maud::html! {
            html { body {
                @for para in body.split("\n\n") { p { @for line in para.lines() { (line) br; } } }
                p style="color: #666; font-size: small" { (note) }
            } }
        }
        .into_string();
        let m = Outgoing {
            to: vec![address.clone()],
            subject: subject.clone(),
            text,
            html,
            attachment: None,
            unsubscribe: reply_to.clone(),
        };
        if let Some(t) = last_send {
            std::thread::sleep(wait.saturating_sub(t.elapsed()));
        }
        last_send = Some(Instant::now());
        let mut tell = |line: &str| eprintln!("crm campaign: {label} <{address}>: {line}");
        let r = deliver::deliver(
            &mut store,
            &ledger,
            &key,
            &m,
            &mailer,
            deliver::When {
                now_ms: ctx.now_ms,
                late: false,
            },
            &mut tell,
        )?;
        if r.state == SendState::Sent {
            if !mailer.is_dry_run() {
                log_activity(ctx, &mut store, &contact, &subject, &name)?;
            }
            sent.push(format!("{label} <{address}>"));
        } else {
            failed.push(format!("{label} <{address}>: {}", deliver::describe(&r)));
        }
    }
    let summary = serde_json::json!({
        "campaign": name, "dry_run": mailer.is_dry_run(), "sent": sent, "failed": failed,
        "skipped": {
            "do_not_contact": do_not_contact, "no_email": no_email,
            "sent_before": before, "may_not_have_arrived": unsure,
        },
    });
    if ctx.json {
        output::json(&summary)?;
    } else {
        println!(
            "Campaign `{name}`: {} message(s) {}.",
            sent.len(),
            mailer.describe()
        );
        for (what, list) in [
            ("failed", &failed),
            ("skipped, do-not-contact", &do_not_contact),
            ("skipped, no e-mail address", &no_email),
            ("skipped, written to before", &before),
            (
                "skipped, an earlier send was cut short and may not have arrived",
                &unsure,
            ),
        ] {
            if !list.is_empty() {
                println!("{} {what}: {}", list.len(), list.join(", "));
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} message(s) could not be sent: run the same command again to retry them",
            failed.len()
        );
    }
    Ok(())
}

fn unsubscribe(ctx: &Ctx, addresses: &[String]) -> Result<()> {
    let mut emails = Vec::new();
    for a in addresses {
        emails.push(Email::parse(a)?.as_str().to_lowercase());
    }
    let mut store = ctx.open()?;
    let mut marked = Vec::new();
    for email in &emails {
        let ids: Vec<String> = store
            .conn()
            .prepare("SELECT id FROM rm_contacts WHERE lower(email) = ?1 AND deleted = 0")?
            .query_map([email], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            anyhow::bail!("no contact has the address {email}; nothing was changed");
        }
        for id in ids {
            let Ok(id) = id.parse::<DocumentId>() else {
                continue;
            };
            marked.push((id, email.clone()));
        }
    }
    for (id, email) in &marked {
        let c = store.edit(*id, ctx.now_ms, |_| {
            Ok(vec![Edit::parse_set(
                RecordKind::Contact,
                "do_not_contact",
                "true",
                Currency::EUR,
            )?])
        })?;
        println!(
            "{} <{email}> is do-not-contact: no campaign writes to them.",
            c.title()
        );
    }
    Ok(())
}

fn show(ctx: &Ctx, name: &str) -> Result<()> {
    let store = ctx.open()?;
    let log = store.send_log(&format!("campaign/{name}"))?;
    if log.sent.is_empty() {
        anyhow::bail!("no campaign `{name}` was sent from this workspace");
    }
    if ctx.json {
        return output::json(&log);
    }
    let mut t = output::table(&["CONTACT", "TO", "STATE", "BY"]);
    for (id, s) in &log.sent {
        let contact = id
            .parse::<DocumentId>()
            .ok()
            .and_then(|id| store.record(id).ok())
            .map(|r| r.title().to_string())
            .unwrap_or_else(|| output::short_id(id));
        t.add_row(vec![
            contact,
            s.to.join(", "),
            deliver::describe(s),
            s.by.clone(),
        ]);
    }
    output::print_table(t, "Nothing sent.");
    Ok(())
}
