//! `crm move ID --book BOOK`: a record changes book (territory).
//!
//! Only this laptop's copy is edited here, in one committed transaction like every edit; the
//! server decides at the next sync whether the move stands (a manager's or an admin's does; a
//! rep's is refused and stays local, and `crm sync` counts it as refused).

use super::Ctx;
use crate::cli::BookMoveArgs;
use crate::output;
use anyhow::Result;
use crm_shared::schema::Edit;

pub fn run(ctx: &Ctx, a: BookMoveArgs) -> Result<()> {
    let book = check_book(&a.book)?;
    let mut store = ctx.open()?;
    let (id, kind) = store.resolve(&a.id, None)?;
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
