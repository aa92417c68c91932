//! How many rows a list shows: a table stops at a page and says how many rows there are (on
//! stderr, so stdout stays the rows); `--json` returns every row unless `--limit` is given.

use super::rows::Row;
use super::Ctx;
use crate::cli::ListArgs;
use crate::store::Store;
use anyhow::Result;
use rusqlite::types::Value;

/// The rows of a table when neither `--limit` nor `--all` is given.
pub const TABLE_ROWS: u32 = 200;

/// The page of one list: at most `limit` rows (`None`: all).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    limit: Option<u32>,
}

impl Page {
    pub fn new(ctx: &Ctx, a: &ListArgs) -> Page {
        let limit = match (a.all, a.limit) {
            (true, _) => None,
            (false, Some(n)) => Some(n),
            (false, None) if ctx.json || a.ids => None,
            (false, None) => Some(TABLE_ROWS),
        };
        Page { limit }
    }

    /// The `LIMIT` clause to end the list's query with (empty for every row).
    pub fn sql(self) -> String {
        self.limit
            .map(|n| format!(" LIMIT {n}"))
            .unwrap_or_default()
    }

    /// When `shown` rows filled the page, counts the rows of `sql` (the list's query without
    /// its order and limit) and says on stderr how many there are and how to see more.
    pub fn tell(
        self,
        ctx: &Ctx,
        store: &Store,
        sql: &str,
        params: &[Value],
        shown: usize,
    ) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        if ctx.json || shown < limit as usize {
            return Ok(());
        }
        let total: i64 = store.conn().query_row(
            &format!("SELECT count(*) FROM ({sql})"),
            rusqlite::params_from_iter(params.iter()),
            |r| r.get(0),
        )?;
        if total > shown as i64 {
            eprintln!(
                "showing {} of {} (use --limit N or --all)",
                thousands(shown as i64),
                thousands(total)
            );
        }
        Ok(())
    }
}

/// The query behind a list page: every match (without order and limit), and its parameters.
pub struct Listed<'a> {
    pub sql: &'a str,
    pub params: &'a [Value],
}

impl Page {
    /// Prints a list's page the way the rep asked: only ids (`--ids`), JSON (`--json`), or a
    /// table (`table`), then says how many rows there are when the page was full.
    pub fn print(
        self,
        ctx: &Ctx,
        store: &Store,
        a: &ListArgs,
        rows: &[Row],
        listed: Listed<'_>,
        table: impl FnOnce(&[Row]),
    ) -> Result<()> {
        if a.ids {
            return super::bulk::print_ids(rows);
        }
        if ctx.json {
            return crate::output::json(&rows);
        }
        table(rows);
        self.tell(ctx, store, listed.sql, listed.params, rows.len())
    }
}

/// `5000` as `5,000`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(200), "200");
        assert_eq!(thousands(5000), "5,000");
        assert_eq!(thousands(180_000), "180,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
