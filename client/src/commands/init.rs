//! `crm init` and `crm rebuild`.

use super::{new_id, Ctx};
use crate::cli::InitArgs;
use crate::output;
use crate::store::{hex_encode, Identity, Store};
use anyhow::{Context, Result};
use crm_shared::schema::Edit;
use crm_shared::values::UserName;
use crm_shared::RecordKind;
use rand::RngCore;

pub fn run(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let user = UserName::parse(&a.user)?;
    if let Some(server) = &a.server {
        crate::sync::endpoint(server)?;
    }
    let ca = a
        .ca_cert
        .as_deref()
        .map(super::sync::read_ca_arg)
        .transpose()?;
    let mut device = [0u8; 16];
    rand::rng().fill_bytes(&mut device);
    let identity = Identity {
        user: user.to_string(),
        name: a.name.clone().unwrap_or_else(|| user.to_string()),
        device: hex_encode(&device),
        book: a.book.clone(),
        server: a.server.clone(),
    };
    let mut store = Store::init(&ctx.data_dir, identity)?;
    if let Some(token) = &a.token {
        write_secret(&ctx.data_dir.join(super::sync::TOKEN_FILE), token)?;
    }
    if let Some(ca) = &ca {
        super::sync::save_ca(&ctx.data_dir, ca)?;
        if let Some(url) = &a.server {
            super::sync::warn_plain(url);
        }
    }
    let name = store.identity.name.clone();
    let record = store.create(
        RecordKind::User,
        new_id(),
        None,
        &[Edit::parse_set(
            RecordKind::User,
            "name",
            &name,
            crm_shared::values::Currency::EUR,
        )?],
        ctx.now_ms,
    )?;
    // A new device restores everything it may see from the server; offline, it starts empty.
    let restored = match &a.server {
        Some(url) => {
            let timeout = std::time::Duration::from_secs(60);
            match super::sync::sync_with(ctx, &mut store, url, false, timeout) {
                Ok(report) => Some(report),
                Err(e) => {
                    // A certificate or a token will not fix itself: say so rather than wait.
                    let next = match e.downcast_ref::<crate::sync::SyncError>() {
                        Some(
                            crate::sync::SyncError::Untrusted { .. }
                            | crate::sync::SyncError::Refused { .. },
                        ) => "run `crm sync` once that is fixed",
                        _ => "run `crm sync` when the server is reachable",
                    };
                    eprintln!("crm: could not sync with {url} ({e}); working offline: {next}");
                    None
                }
            }
        }
        None => None,
    };
    if ctx.json {
        return output::json(&serde_json::json!({
            "data_dir": ctx.data_dir, "user": store.identity.user, "name": name,
            "device": store.identity.device, "book": store.identity.book,
            "server": store.identity.server, "id": record.id, "restored": restored,
        }));
    }
    println!(
        "Ready: {} ({}) on this device, data in {}.",
        name,
        store.identity.user,
        ctx.data_dir.display()
    );
    if let Some(r) = &restored {
        println!("Restored {} records from {}.", r.created, r.server);
    }
    if store.identity.server.is_some() {
        // Sample data is refused here: the next sync would share it with the team.
        println!("Next: `crm org add --name \"Acme\"`, then `crm sync`.");
    } else {
        println!(
            "Next: `crm org add --name \"Acme\"` or `crm demo-data` to try it with sample data."
        );
    }
    Ok(())
}

/// Writes a secret readable by its owner only (0600).
pub fn write_secret(path: &std::path::Path, secret: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

pub fn rebuild(ctx: &Ctx) -> Result<()> {
    let mut store = ctx.open()?;
    let bar = indicatif::ProgressBar::new(0);
    let n = store.rebuild_read_model(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if ctx.json {
        return output::json(&serde_json::json!({"documents": n}));
    }
    println!("Rebuilt the read model from {n} documents.");
    Ok(())
}
