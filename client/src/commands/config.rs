//! `crm config`: shows and changes a data dir's server, token, book and CA certificate.
//!
//! A change is checked before anything is kept: the server is asked with the new server, token
//! and CA (see [`credentials::check`]) and the book must be one the user may write there. Offline (no
//! server at all) only the book can change.

use super::{credentials, Ctx};
use crate::cli::{ConfigArgs, ConfigSetting};
use crate::output;
use anyhow::Result;

pub fn run(ctx: &Ctx, a: ConfigArgs) -> Result<()> {
    let mut store = ctx.open()?;
    match a.setting {
        Some(ConfigSetting::Locale { order }) => return locale(ctx, &mut store, order.as_deref()),
        Some(ConfigSetting::Smtp(s)) => return super::mail_config::smtp(ctx, s),
        Some(ConfigSetting::Digest { state, at }) => {
            drop(store);
            return super::mail_config::digest(ctx, &state, at.as_deref());
        }
        Some(ConfigSetting::Email { address }) => {
            drop(store);
            return super::mail_config::email(ctx, &address);
        }
        None => {}
    }
    if let Some(book) = &a.book {
        super::r#move::check_book(book)?;
    }
    let changes = credentials::Changes::from_flags(a.server, a.token, a.ca_cert.as_deref())?;
    if !changes.is_empty() || a.book.is_some() {
        let conn = changes.applied_to(&ctx.data_dir, store.identity.server.as_deref())?;
        let grants = match &conn {
            Some(conn) => Some(credentials::check(conn)?),
            None if changes.is_empty() => None,
            None => anyhow::bail!(
                "this data dir has no server: give --server URL with --token or --ca-cert; nothing was saved"
            ),
        };
        if let Some(grants) = &grants {
            if changes.server.is_some() || changes.token.is_some() {
                credentials::same_user(&store, grants)?;
            }
            if let Some(book) = &a.book {
                credentials::choose_book(grants, Some(book))
                    .map_err(|e| anyhow::anyhow!("{e}; nothing was saved"))?;
            }
        }
        changes.keep(ctx, &mut store)?;
        if let Some(grants) = &grants {
            credentials::keep_grants(&ctx.data_dir, grants)?;
        }
        if let Some(book) = &a.book {
            store.set_book(book)?;
        }
        if let Some(grants) = &grants {
            credentials::warn_unwritable_book(&store.identity.book, grants);
        }
        if !ctx.json {
            eprintln!("Saved the configuration.");
        }
    }
    show(ctx, &store)
}

fn show(ctx: &Ctx, store: &crate::store::Store) -> Result<()> {
    let dir = &ctx.data_dir;
    let token = super::credentials::read_token(dir)?;
    let ca = super::credentials::read_ca(dir)?;
    let grants = credentials::kept_grants(dir)?;
    let id = &store.identity;
    if ctx.json {
        return output::json(&serde_json::json!({
            "data_dir": dir, "user": id.user, "name": id.name, "device": id.device,
            "server": id.server, "token": token.is_some(), "book": id.book,
            "ca_certificates": ca.len(), "grants": grants,
        }));
    }
    let token = match token {
        Some(t) => format!("set ({}...)", t.chars().take(8).collect::<String>()),
        None => "none".to_string(),
    };
    let ca = match ca.len() {
        0 => "none (the system's trusted roots)".to_string(),
        1 => "1 certificate kept".to_string(),
        n => format!("{n} certificates kept"),
    };
    let mut rows = vec![
        ("User".to_string(), format!("{} ({})", id.user, id.name)),
        (
            "Server".to_string(),
            id.server.clone().unwrap_or_else(|| "none (offline)".into()),
        ),
        ("Token".to_string(), token),
        (
            "Book".to_string(),
            format!("{} (new records go here)", id.book),
        ),
        ("CA certificate".to_string(), ca),
    ];
    match &grants {
        None => rows.push((
            "Access".to_string(),
            "not known yet (`crm sync` asks the server)".to_string(),
        )),
        Some(g) if g.open => rows.push((
            "Access".to_string(),
            "the server is open (no users): anyone may read and write every book".to_string(),
        )),
        Some(g) => {
            let role = g.role.map(|r| r.as_str()).unwrap_or("unknown");
            rows.push((
                "Role".to_string(),
                format!(
                    "{role} ({} on the server)",
                    g.user.as_deref().unwrap_or("?")
                ),
            ));
            let books: Vec<String> = g
                .books
                .iter()
                .map(|b| {
                    let right = if b.write { "read-write" } else { "read-only" };
                    format!("{} ({right})", b.book)
                })
                .collect();
            rows.push((
                "Books".to_string(),
                if books.is_empty() {
                    "none".to_string()
                } else {
                    books.join(", ")
                },
            ));
        }
    }
    output::print_fields(&rows);
    Ok(())
}

/// `crm config locale [dmy|mdy|iso]`: shows or sets how this data dir reads `31/12/2026`.
fn locale(ctx: &Ctx, store: &mut crate::store::Store, order: Option<&str>) -> Result<()> {
    use crm_shared::dates::DateOrder;
    if let Some(order) = order {
        store.set_locale(DateOrder::parse(order)?)?;
    }
    let order = store.dates.order;
    if ctx.json {
        return output::json(&serde_json::json!({ "locale": order.as_str() }));
    }
    let example = match order {
        DateOrder::Iso => {
            "dates are typed 2026-12-31 (or today, monday, +3d); 31/12/2026 is refused as ambiguous"
        }
        DateOrder::DayFirst => "31/12/2026 is the 31st of December",
        DateOrder::MonthFirst => "12/31/2026 is the 31st of December",
    };
    println!("locale {}: {example}", order.as_str());
    Ok(())
}
