//! `crm init`: a new data dir for a user on this device.

use super::{credentials, new_id, Ctx};
use crate::cli::InitArgs;
use crate::output;
use crate::store::{Identity, Store};
use anyhow::{Context, Result};
use crm_shared::schema::Edit;
use crm_shared::values::UserName;
use crm_shared::RecordKind;

pub fn run(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let user = UserName::parse(&a.user)?;
    if let Some(book) = &a.book {
        super::r#move::check_book(book)?;
    }
    let changes =
        credentials::Changes::from_flags(a.server.clone(), a.token.clone(), a.ca_cert.as_deref())?;
    // With a server, nothing is written until it answered: the token's grants choose the book.
    let grants = match changes.applied_to(&ctx.data_dir, None)? {
        Some(conn) => Some(credentials::check(&conn)?),
        None => None,
    };
    let book = match &grants {
        Some(grants) => {
            if let Some(theirs) = grants.user.as_deref().filter(|u| *u != user.as_str()) {
                anyhow::bail!(
                    "the token is {theirs}'s, not {user}'s: give --user {theirs}, or {user}'s token; nothing was saved"
                );
            }
            credentials::choose_book(grants, a.book.as_deref())?
        }
        None => a.book.clone().unwrap_or_else(|| "default".to_string()),
    };
    let identity = Identity {
        user: user.to_string(),
        name: a.name.clone().unwrap_or_else(|| user.to_string()),
        device: crate::store::new_device(),
        book,
        server: a.server.clone(),
    };
    let mut store = Store::init(&ctx.data_dir, identity)?;
    changes.keep_secrets(&ctx.data_dir)?;
    if changes.ca.is_some() {
        if let Some(url) = &a.server {
            super::credentials::warn_plain(url);
        }
    }
    if let Some(grants) = &grants {
        credentials::keep_grants(&ctx.data_dir, grants)?;
    }
    let name = store.identity.name.clone();
    // A new device restores everything it may see from the server; offline, it starts empty.
    let restored = match &a.server {
        Some(url) => {
            let timeout = std::time::Duration::from_secs(60);
            match super::sync::sync_with(ctx, &mut store, url, false, timeout) {
                Ok(report) => Some(report),
                Err(e) => {
                    // A certificate or a token will not fix itself: say so rather than wait.
                    let next = match e.downcast_ref::<crate::session::SyncError>() {
                        Some(
                            crate::session::SyncError::Untrusted { .. }
                            | crate::session::SyncError::Refused { .. },
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
    // The user's own record goes into their book; a user who may only read it (a read-only
    // grant) gets none, since the server would refuse it on every sync.
    let writable = grants
        .as_ref()
        .is_none_or(|g| g.may_write(&store.identity.book));
    // A new laptop of a user the team knows restores that user's record rather than add a
    // second one.
    let existing = store.user_record_id(&store.identity.user)?;
    let made_here = existing.is_none();
    let record = if let Some(id) = existing {
        Some(id)
    } else if writable {
        let mut edits = vec![Edit::parse_set(
            RecordKind::User,
            "name",
            &name,
            crm_shared::values::Currency::EUR,
        )?];
        // The role the server gave, so the team's laptops can say who is a manager.
        if let Some(role) = grants.as_ref().and_then(|g| g.role) {
            edits.push(Edit::parse_set(
                RecordKind::User,
                "role",
                role.as_str(),
                crm_shared::values::Currency::EUR,
            )?);
        }
        let made = store.create(RecordKind::User, new_id(), None, &edits, ctx.now_ms)?;
        Some(made.id.to_string())
    } else {
        None
    };
    // A record made just now goes to the team at once, as the rest of this laptop's first sync.
    if let (Some(url), Some(_)) = (&a.server, &restored) {
        if made_here && record.is_some() {
            let timeout = std::time::Duration::from_secs(60);
            if let Err(e) = super::sync::sync_with(ctx, &mut store, url, false, timeout) {
                eprintln!("crm: your user record stays here until the next `crm sync` ({e})");
            }
        }
    }
    if ctx.json {
        return output::json(&serde_json::json!({
            "data_dir": ctx.data_dir, "user": store.identity.user, "name": name,
            "device": store.identity.device, "book": store.identity.book,
            "server": store.identity.server, "id": record, "restored": restored,
        }));
    }
    println!(
        "Ready: {} ({}) on this device, data in {}.",
        name,
        store.identity.user,
        ctx.data_dir.display()
    );
    if let Some(r) = &restored {
        println!("Restored {} from {}.", output::records(r.created), r.server);
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
