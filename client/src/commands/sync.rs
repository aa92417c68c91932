//! `crm sync [--watch]`.

pub mod last;
mod outcome;

use super::credentials::{self, read_ca, read_token};
use super::Ctx;
use crate::cli::SyncArgs;
use crate::output;
use crate::session::{sync, SyncError, SyncOptions, SyncReport};
use crate::store::Store;
use anyhow::Result;
use std::time::Duration;

pub use outcome::{RecordsRefused, EXIT_REFUSED};

pub fn run(ctx: &Ctx, a: SyncArgs) -> Result<()> {
    let mut store = ctx.open()?;
    // Every flag is checked before any is remembered, and a new server, token or CA is
    // remembered only once the server answered with it.
    let changes = credentials::Changes::from_flags(a.server, a.token, a.ca_cert.as_deref())?;
    let conn = changes
        .applied_to(&ctx.data_dir, store.identity.server.as_deref())?
        .ok_or(SyncError::NoServer)?;
    credentials::refresh(ctx, &mut store, &conn, &changes)?;
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
    let grants = credentials::kept_grants(&ctx.data_dir)?;
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
