//! `crm sync [--watch]`.

use super::Ctx;
use crate::cli::SyncArgs;
use crate::output;
use crate::store::Store;
use crate::sync::{endpoint, sync, SyncError, SyncOptions, SyncReport};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

/// The file holding the server token, readable by its owner only.
pub const TOKEN_FILE: &str = "token";

pub fn run(ctx: &Ctx, a: SyncArgs) -> Result<()> {
    let mut store = ctx.open()?;
    if let Some(server) = &a.server {
        endpoint(server)?;
        store.set_server(server)?;
    }
    if let Some(token) = &a.token {
        super::init::write_secret(&ctx.data_dir.join(TOKEN_FILE), token)?;
    }
    let url = store.identity.server.clone().ok_or(SyncError::NoServer)?;
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
    print_report(ctx, &report)
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
        watch,
        progress: !ctx.json,
        timeout,
    };
    Ok(sync(store, &options)?)
}

fn read_token(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the token in {}", path.display())),
    }
}

pub fn print_report(ctx: &Ctx, r: &SyncReport) -> Result<()> {
    if ctx.json {
        return output::json(r);
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
