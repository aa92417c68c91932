//! `crm move ID --book BOOK`: a record changes book (territory); `crm move --all-from FROM
//! --book TO`: every record of a book does.
//!
//! Only this laptop's copy is edited here, in one committed transaction like every edit; the
//! server decides at the next sync whether the move stands (a manager's or an admin's does; a
//! rep's is refused and stays local, and `crm sync` counts it as refused).

use super::{credentials, Ctx};
use crate::cli::BookMoveArgs;
use crate::output;
use anyhow::Result;
use crm_shared::schema::Edit;
use std::collections::HashSet;

pub fn run(ctx: &Ctx, a: BookMoveArgs) -> Result<()> {
    let book = check_book(&a.book)?;
    if let Some(from) = &a.all_from {
        return all_from(ctx, check_book(from)?, book);
    }
    let Some(id) = a.id.as_deref() else {
        anyhow::bail!("give the record's id, or --all-from BOOK");
    };
    if id == super::bulk::STDIN {
        return super::bulk::edit_all(ctx, None, |_, r| {
            Ok(if r.book == book {
                Vec::new()
            } else {
                vec![Edit::SetBook(book.to_string())]
            })
        });
    }
    let mut store = ctx.open()?;
    let (id, kind) = store.resolve(id, None)?;
    let mut from = String::new();
    let record = store.edit(id, ctx.now_ms, |r| {
        from.clone_from(&r.book);
        Ok(if r.book == book {
            Vec::new()
        } else {
            vec![Edit::SetBook(book.to_string())]
        })
    })?;
    if ctx.json {
        return output::json(&record);
    }
    let what = format!("{kind} \"{}\"", record.title());
    if from == book {
        eprintln!("{what} is already in book {book}: nothing to change.");
    } else {
        eprintln!(
            "Moved {what} from book {from} to {book} on this laptop; `crm sync` sends the move (the server takes it from a manager or an admin only)."
        );
    }
    println!("{}", record.id);
    Ok(())
}

/// `crm move --all-from FROM --book TO`: every record of a book, in one transaction.
///
/// A manager or an admin moves them all (the server takes their moves). A rep moves only records
/// the server has never taken, into a book they may write: to the server those are new records,
/// judged by the book they arrive in; the records it holds stay (their move is a manager's).
/// Before the data dir ever heard from its server, every record is moved and the server decides.
fn all_from(ctx: &Ctx, from: &str, to: &str) -> Result<()> {
    let mut store = ctx.open()?;
    let grants = credentials::kept_grants(&ctx.data_dir)?;
    let mut keep = HashSet::new();
    if let Some(grants) = grants.as_ref().filter(|g| !g.is_manager()) {
        if !grants.may_write(to) {
            let user = grants.user.as_deref().unwrap_or("this user");
            anyhow::bail!(
                "{user} may not write book `{to}`; books {user} may write: {}",
                credentials::list_writable(grants)
            );
        }
        keep = store.held_by_server(&crate::session::states_key(&grants.storage_id))?;
    }
    if from == to {
        anyhow::bail!("--all-from and --book name the same book `{to}`: nothing would move");
    }
    let (moved, kept) = store.move_book(from, to, &keep, ctx.now_ms)?;
    let ids = |records: &[crm_shared::schema::Record]| -> Vec<String> {
        records.iter().map(|r| r.id.to_string()).collect()
    };
    if ctx.json {
        return output::json(&serde_json::json!({
            "from": from, "to": to, "moved": ids(&moved), "kept": ids(&kept),
        }));
    }
    if moved.is_empty() && kept.is_empty() {
        eprintln!("No records in book {from} here: nothing to move.");
        return Ok(());
    }
    if !moved.is_empty() {
        eprintln!(
            "Moved {} from book {from} to {to} on this laptop; `crm sync` sends them.",
            output::records(moved.len() as u64)
        );
    }
    if !kept.is_empty() {
        eprintln!(
            "{} the server already holds stayed in book {from}: a manager or an admin moves those (`crm move ID --book {to}` on their laptop).",
            output::records(kept.len() as u64)
        );
    }
    if store.identity.book == from {
        eprintln!(
            "New records here still go into book {from}: `crm config --book {to}` changes that."
        );
    }
    for r in &moved {
        println!("{}", r.id);
    }
    Ok(())
}

/// A book name as the server names books: 1-64 lowercase letters, digits, '.', '-' or '_'.
pub fn check_book(book: &str) -> Result<&str> {
    let ok = !book.is_empty()
        && book.len() <= 64
        && book
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    if !ok {
        anyhow::bail!(
            "`{book}` is not a book name (1-64 lowercase letters, digits, '.', '-' or '_'; see `crm-sync-server book list` on the server)"
        );
    }
    Ok(book)
}
