//! `crm sync [--watch]`.

pub mod last;
mod outcome;

use super::{server, Ctx};
use crate::cli::SyncArgs;
use crate::output;
use crate::store::Store;
use crate::sync::{is_tls, sync, CaCerts, SyncError, SyncOptions, SyncReport};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

pub use outcome::{RecordsRefused, EXIT_REFUSED};

/// The file holding the server token, readable by its owner only.
pub const TOKEN_FILE: &str = "token";
/// The file holding the CA certificates given with `--ca-cert` (PEM).
pub const CA_CERT_FILE: &str = "ca-cert.pem";

pub fn run(ctx: &Ctx, a: SyncArgs) -> Result<()> {
    let mut store = ctx.open()?;
    // Every flag is checked before any is remembered, and a new server, token or CA is
    // remembered only once the server answered with it.
    let changes = server::Changes::from_flags(a.server, a.token, a.ca_cert.as_deref())?;
    let conn = changes
        .applied_to(&ctx.data_dir, store.identity.server.as_deref())?
        .ok_or(SyncError::NoServer)?;
    server::refresh(ctx, &mut store, &conn, &changes)?;
    let url = conn.url;
    if a.watch && !ctx.json {
        eprintln!("Syncing live with {url} (Ctrl-C to stop)...");
    }
    let report = sync_with(
        ctx,
        &mut store,
        &url,
        a.watch,
        Duration::from_secs(a.timeout.max(1)),
    )?;
    let grants = server::kept_grants(&ctx.data_dir)?;
    let told = outcome::Outcome::of(&mut store, &report, grants.as_ref(), ctx.now_ms)?;
    // The sync itself is done: a data dir that cannot keep its outcome only warns.
    let ended = chrono::Utc::now().timestamp_millis();
    if let Err(e) = last::keep(&ctx.data_dir, ended, &report, &told) {
        eprintln!("crm: warning: {e:#}");
    }
    print_report(ctx, &report, &told)?;
    match outcome::Outcome::refusal(&report) {
        Some(refused) => Err(refused.into()),
        None => Ok(()),
    }
}

/// The certificates of a `--ca-cert FILE`: an error naming the file when it is missing, holds
/// no certificate or holds something else.
pub fn read_ca_arg(path: &Path) -> Result<CaCerts> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the CA certificate file {}", path.display()))?;
    CaCerts::from_pem(&pem).with_context(|| format!("cannot use {} as --ca-cert", path.display()))
}

/// Keeps a copy of `ca` (only its certificates) in the data dir, replacing an earlier one.
pub fn save_ca(dir: &Path, ca: &CaCerts) -> Result<()> {
    let path = dir.join(CA_CERT_FILE);
    let pem = ca.to_pem();
    if std::fs::read_to_string(&path).is_ok_and(|kept| kept == pem) {
        return Ok(());
    }
    crate::replace_file::replace(&path, pem.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The kept CA certificates (none when no `--ca-cert` was ever given).
pub fn read_ca(dir: &Path) -> Result<CaCerts> {
    let path = dir.join(CA_CERT_FILE);
    match std::fs::read(&path) {
        Ok(pem) => CaCerts::from_pem(&pem).with_context(|| {
            format!(
                "the CA certificates kept in {} cannot be used (give --ca-cert FILE again)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CaCerts::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A CA certificate given for a server that does not use TLS is kept for later, with a note.
pub fn warn_plain(url: &str) {
    if !is_tls(url) {
        eprintln!(
            "crm: note: {url} is not encrypted; the --ca-cert certificates are kept for when it uses wss://"
        );
    }
}

/// Syncs `store` with `url` using the data dir's token.
pub fn sync_with(
    ctx: &Ctx,
    store: &mut Store,
    url: &str,
    watch: bool,
    timeout: Duration,
) -> Result<SyncReport> {
    let options = SyncOptions {
        url: url.to_string(),
        token: read_token(&ctx.data_dir)?,
        ca_certs: read_ca(&ctx.data_dir)?,
        watch,
        progress: !ctx.json,
        timeout,
        json: ctx.json,
    };
    Ok(sync(store, &options)?)
}

pub fn read_token(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the token in {}", path.display())),
    }
}

fn print_report(ctx: &Ctx, r: &SyncReport, told: &outcome::Outcome) -> Result<()> {
    if ctx.json {
        let mut value = serde_json::to_value(r)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("records".into(), serde_json::to_value(&told.groups)?);
            map.insert("likely_duplicates".into(), told.duplicates.into());
        }
        return output::json(&value);
    }
    println!(
        "Synced with {}: {} new and {} updated records here; sent {}, received {} in {:.1} s.",
        r.server,
        r.created,
        r.updated,
        kb(r.bytes_sent),
        kb(r.bytes_received),
        r.millis as f64 / 1000.0
    );
    told.print();
    Ok(())
}

fn kb(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else if bytes < 10 * 1024 * 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{} MB", bytes / (1024 * 1024))
    }
}
