//! `crm config smtp|digest|email`: how this data dir sends e-mail (its SMTP server, the
//! password kept like the token in a 0600 file), and the user's own address and digest choice,
//! kept in their user record so the team's runner knows them once synced.

use super::Ctx;
use crate::mail::{SmtpConfig, TlsMode, SMTP_CA_FILE, SMTP_PASSWORD_FILE};
use crate::output;
use crate::session::CaCerts;
use anyhow::{Context, Result};
use clap::Args;
use crm_shared::schema::Edit;
use crm_shared::values::{Currency, Email};
use crm_shared::RecordKind;

#[derive(Debug, Args)]
pub struct SmtpArgs {
    /// The SMTP server's host name
    #[arg(long)]
    pub host: Option<String>,
    /// Its port [default: 587 for starttls, 465 for tls, 25 for none]
    #[arg(long)]
    pub port: Option<u16>,
    /// The user to log in as (the password is read from stdin with --password-stdin, or
    /// CRM_SMTP_PASSWORD)
    #[arg(long)]
    pub user: Option<String>,
    /// Read the password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// starttls, tls, or none (only for a relay on this same host)
    #[arg(long, value_enum, default_value = "starttls")]
    pub tls: TlsMode,
    /// The sender's address (From:)
    #[arg(long)]
    pub from: Option<String>,
    /// Also trust the CA certificate(s) in this PEM file for the server's TLS certificate (a
    /// private CA; a copy is kept beside the SMTP configuration)
    #[arg(long, value_name = "FILE.pem")]
    pub ca: Option<std::path::PathBuf>,
}

/// `crm config smtp`: shows, or with --host sets, this data dir's SMTP server.
pub fn smtp(ctx: &Ctx, a: SmtpArgs) -> Result<()> {
    let dir = &ctx.data_dir;
    // The CA file is checked before anything is saved.
    let ca = a.ca.as_deref().map(read_ca).transpose()?;
    if ca.is_some() && a.host.is_none() && SmtpConfig::read(dir)?.is_none() {
        anyhow::bail!("give the SMTP server with --host HOST --from ADDRESS along with --ca; nothing was saved");
    }
    if let Some(host) = &a.host {
        let from = a
            .from
            .clone()
            .or_else(|| SmtpConfig::read(dir).ok().flatten().map(|c| c.from))
            .ok_or_else(|| anyhow::anyhow!("give the sender's address with --from ADDRESS"))?;
        let from = Email::parse(&from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
        let host = host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            anyhow::bail!("`{host}` is not a host name: give e.g. --host smtp.example.com");
        }
        let port = a.port.unwrap_or(match a.tls {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        });
        let password = match (&a.user, a.password_stdin) {
            (_, true) => {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            }
            (Some(_), false) => std::env::var("CRM_SMTP_PASSWORD").ok(),
            (None, false) => None,
        };
        if a.user.is_some() && password.as_deref().is_none_or(str::is_empty) {
            anyhow::bail!("give the password of --user with --password-stdin or CRM_SMTP_PASSWORD; nothing was saved");
        }
        if a.tls == TlsMode::None && !matches!(host, "localhost" | "127.0.0.1" | "::1") {
            eprintln!(
                "warning: --tls none sends mail (and any password) unencrypted: use it only for a relay on this same host, not {host}"
            );
        }
        if a.tls == TlsMode::None && ca.is_some() {
            eprintln!("note: --tls none does not use TLS: the --ca certificates are kept for when it does");
        }
        if let Some(p) = &password {
            super::init::write_secret(&dir.join(SMTP_PASSWORD_FILE), p)?;
        }
        SmtpConfig {
            host: host.to_string(),
            port,
            tls: a.tls,
            user: a.user.clone(),
            from: from.as_str().to_string(),
        }
        .write(dir)?;
        if !ctx.json {
            eprintln!("Saved the SMTP server.");
        }
    }
    if let Some(ca) = &ca {
        let path = dir.join(SMTP_CA_FILE);
        crate::replace_file::replace(&path, ca.to_pem().as_bytes())
            .with_context(|| format!("writing {}; the CA was not saved", path.display()))?;
        if !ctx.json {
            eprintln!(
                "Trusting {} CA certificate(s) for the SMTP server.",
                ca.len()
            );
        }
    }
    let config = SmtpConfig::read(dir)?;
    if ctx.json {
        return output::json(&config);
    }
    match config {
        None => println!("No SMTP server: set one with `crm config smtp --host HOST --from ADDRESS [--port N] [--user U --password-stdin] [--tls starttls|tls|none]`."),
        Some(c) => output::print_fields(&[
            ("SMTP server".into(), format!("{}:{} ({:?})", c.host, c.port, c.tls).to_lowercase()),
            ("User".into(), c.user.clone().unwrap_or_else(|| "none (no login)".into())),
            ("From".into(), c.from.clone()),
            (
                "Private CA".into(),
                if dir.join(SMTP_CA_FILE).exists() {
                    format!("{} (trusted besides the system's)", dir.join(SMTP_CA_FILE).display())
                } else {
                    "none (the system's roots only)".into()
                },
            ),
        ]),
    }
    Ok(())
}

/// The certificates of a `--ca` file, or a one-line error saying what it should be.
fn read_ca(path: &std::path::Path) -> Result<CaCerts> {
    let pem = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the --ca file {}; nothing was saved",
            path.display()
        )
    })?;
    CaCerts::from_pem(&pem).map_err(|e| {
        anyhow::anyhow!(
            "{} cannot be used as --ca: {e}; give the CA's certificate in PEM form, nothing was saved",
            path.display()
        )
    })
}

/// Sets fields of this user's own record (`crm init` made it), in one change.
fn edit_own_record(ctx: &Ctx, fields: &[(&str, &str)]) -> Result<()> {
    let mut store = ctx.open()?;
    let user = store.identity.user.clone();
    let id = store
        .user_record_id(&user)?
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!("this data dir has no user record of {user}: run `crm sync` first")
        })?;
    let edits = fields
        .iter()
        .map(|(field, value)| Edit::parse_set(RecordKind::User, field, value, Currency::EUR))
        .collect::<Result<Vec<_>, _>>()?;
    store.edit(id, ctx.now_ms, |_| Ok(edits))?;
    Ok(())
}

/// `crm config digest on [--at HH:MM]|off`: the time is kept with this machine's time zone, so
/// the team's runner sends it at that time where the rep is.
pub fn digest(ctx: &Ctx, state: &str, at: Option<&str>) -> Result<()> {
    let on = match state.trim() {
        "on" => true,
        "off" => false,
        other => anyhow::bail!("`{other}` is not on or off"),
    };
    if !on {
        if at.is_some() {
            anyhow::bail!("--at goes with `crm config digest on`; nothing was saved");
        }
        edit_own_record(ctx, &[("digest", "false")])?;
        println!("Digest off.");
        return Ok(());
    }
    let time = match at {
        Some(text) => chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
            anyhow::anyhow!(
                "`{text}` is not a time of day: give HH:MM, e.g. --at 07:30; nothing was saved"
            )
        })?,
        None => super::agent::DIGEST_AT,
    };
    let time = time.format("%H:%M").to_string();
    let tz = super::schedule::due::local_zone();
    edit_own_record(
        ctx,
        &[("digest", "true"), ("digest_at", &time), ("tz", &tz)],
    )?;
    println!(
        "Digest on: an e-mail of your overdue tasks each day at {time} ({tz}), sent by the team's `crm agent` once it has synced (your address: `crm config email ADDRESS`)."
    );
    Ok(())
}

/// `crm config email ADDRESS`.
pub fn email(ctx: &Ctx, address: &str) -> Result<()> {
    let email = Email::parse(address)?;
    edit_own_record(ctx, &[("email", email.as_str())])?;
    println!(
        "Reminders and digests go to {} once the team's runner has synced.",
        email.as_str()
    );
    Ok(())
}
