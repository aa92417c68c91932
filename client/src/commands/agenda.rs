//! `crm agenda`: appointments in a day or week, and overdue tasks.

use super::rows::query;
use super::Ctx;
use crate::cli::AgendaArgs;
use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::values::{parse_date, UserName};
use rusqlite::types::{Value, ValueRef};

const COLUMNS: [&str; 7] = [
    "id", "at", "end_at", "kind", "subject", "status", "location",
];

pub fn run(ctx: &Ctx, a: AgendaArgs) -> Result<()> {
    let store = ctx.open()?;
    let user = match &a.user {
        Some(u) => UserName::parse(u)?.to_string(),
        None => store.identity.user.clone(),
    };
    let first = match &a.date {
        Some(d) => parse_date(d)?,
        None => ctx.today,
    };
    let days = if a.week { 7 } else { 1 };
    let last = first
        .checked_add_days(chrono::Days::new(days))
        .ok_or_else(|| anyhow::anyhow!("--date {first} is too late for a {days}-day agenda"))?;
    let cols = COLUMNS.join(", ");
    // Both queries read a covering index of the read model in order (see `read_model`).
    let items_sql = format!("SELECT {cols} FROM rm_activities WHERE owner = ?1 AND deleted = 0 AND status != 'cancelled' AND at >= ?2 AND at < ?3 ORDER BY at, id");
    let items_params = [
        Value::Text(user.clone()),
        Value::Text(first.to_string()),
        Value::Text(last.to_string()),
    ];
    let overdue_sql = format!("SELECT {cols} FROM rm_activities WHERE owner = ?1 AND deleted = 0 AND status = 'planned' AND due IS NOT NULL AND due < ?2 ORDER BY due, id");
    let overdue_params = [
        Value::Text(user.clone()),
        Value::Text(ctx.today.to_string()),
    ];
    let reminders = reminders(ctx, &store, &user)?;
    if ctx.json {
        let items = query(&store, &items_sql, &items_params, &COLUMNS)?;
        let overdue = query(&store, &overdue_sql, &overdue_params, &COLUMNS)?;
        return output::json(&serde_json::json!({
            "user": user, "from": first.to_string(), "to": last.to_string(),
            "items": items, "overdue": overdue, "reminders": reminders,
        }));
    }
    if !reminders.is_empty() {
        println!("Reminders");
        for r in &reminders {
            println!(
                "  {}  {} {}: {} ({} min before)",
                output::short_id(r["id"].as_str().unwrap_or("")),
                r["at"].as_str().unwrap_or("").replace('T', " "),
                r["kind"].as_str().unwrap_or(""),
                r["subject"].as_str().unwrap_or(""),
                r["remind"]
            );
        }
        println!();
    }
    // A busy week is thousands of rows: build table cells straight from SQLite.
    let items = cells(&store, &items_sql, &items_params)?;
    let overdue = cells(&store, &overdue_sql, &overdue_params)?;
    let span = if days == 1 {
        first.format("%A %Y-%m-%d").to_string()
    } else {
        format!("{} to {}", first, last - chrono::Days::new(1))
    };
    println!("Agenda of {user}, {span}");
    print_table(
        &["ID", "WHEN", "UNTIL", "KIND", "SUBJECT", "STATUS", "WHERE"],
        items,
        "Nothing planned.",
    );
    if !overdue.is_empty() {
        println!("\nOverdue tasks ({})", overdue.len());
        print_table(
            &["ID", "DUE", "", "KIND", "SUBJECT", "STATUS", "WHERE"],
            overdue,
            "",
        );
    }
    Ok(())
}

/// Planned appointments of `user` whose reminder time has come and that have not started yet.
fn reminders(ctx: &Ctx, store: &Store, user: &str) -> Result<Vec<super::rows::Row>> {
    use chrono::TimeZone;
    let now = chrono::Local
        .timestamp_millis_opt(ctx.now_ms)
        .single()
        .map(|t| t.naive_local())
        .unwrap_or_default();
    let start = crm_shared::values::format_datetime(now);
    // Reminders reach at most a week ahead.
    let end = crm_shared::values::format_datetime(now + chrono::Duration::days(8));
    let rows = query(
        store,
        "SELECT id, at, kind, subject, remind FROM rm_activities
         WHERE owner = ?1 AND deleted = 0 AND status = 'planned' AND at >= ?2 AND at < ?3 AND remind IS NOT NULL
         ORDER BY at, id",
        &[
            Value::Text(user.to_string()),
            Value::Text(start),
            Value::Text(end),
        ],
        &["id", "at", "kind", "subject", "remind"],
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            let at = r["at"]
                .as_str()
                .and_then(|a| crm_shared::values::parse_datetime(a).ok());
            let remind = r["remind"].as_i64().unwrap_or(0);
            at.is_some_and(|at| at - chrono::Duration::minutes(remind) <= now)
        })
        .collect())
}

/// The table cells of a query over `COLUMNS`, as `row_cells` would make them (ids shortened,
/// NULL empty).
fn cells(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<Vec<String>>> {
    let mut stmt = store.conn().prepare(sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |row| {
        (0..COLUMNS.len())
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => String::new(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(f) => f.to_string(),
                    ValueRef::Text(t) if i == 0 => output::short_id(&String::from_utf8_lossy(t)),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    ValueRef::Blob(_) => String::new(),
                })
            })
            .collect::<rusqlite::Result<Vec<String>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Prints a table as `output::table` does. Laying out thousands of rows (a busy week) with
/// comfy-table costs tens of milliseconds, so when stdout is not a terminal (no wrapping to its
/// width) and every cell is plain ASCII, the rows are written directly, after checking on a
/// two-row probe with the same column widths that this gives the very same text as comfy-table.
fn print_table(header: &[&str], rows: Vec<Vec<String>>, empty: &str) {
    use std::io::IsTerminal;
    let plain = |c: &str| c.bytes().all(|b| (0x20..0x7f).contains(&b));
    if rows.len() > 50
        && !std::io::stdout().is_terminal()
        && header.iter().all(|h| plain(h))
        && rows.iter().flatten().all(|c| plain(c))
    {
        let widths = column_widths(header, &rows);
        let probe_rows: Vec<Vec<String>> = (0..2)
            .map(|_| widths.iter().map(|w| "x".repeat(*w)).collect())
            .collect();
        let mut probe = output::table(header);
        probe.force_no_tty().add_rows(probe_rows.clone());
        if probe.to_string() == render_plain(header, &widths, &probe_rows) {
            println!("{}", render_plain(header, &widths, &rows));
            return;
        }
    }
    let mut t = output::table(header);
    t.add_rows(rows);
    output::print_table(t, empty);
}

/// The width of each column: its widest cell, at least 1 (as comfy-table does).
fn column_widths(header: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len().max(1)).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    widths
}

/// The text of a borderless table (cells padded by one space, columns apart by one more) with a
/// line under the header, without the final newline.
fn render_plain(header: &[&str], widths: &[usize], rows: &[Vec<String>]) -> String {
    let line_len: usize = widths
        .iter()
        .map(|w| w + 3)
        .sum::<usize>()
        .saturating_sub(1);
    let mut out = String::with_capacity((rows.len() + 1) * (line_len + 1) + 3 * line_len);
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        for (i, (w, c)) in widths.iter().zip(cells).enumerate() {
            out.push_str(if i == 0 { " " } else { "  " });
            out.push_str(c);
            out.extend(std::iter::repeat_n(' ', w - c.len() + 1));
        }
    };
    line(&mut out, &mut header.iter().copied());
    out.push('\n');
    out.extend(std::iter::repeat_n('─', line_len));
    for row in rows {
        out.push('\n');
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path only runs when it matches comfy-table; this keeps it in use.
    #[test]
    fn plain_rendering_matches_the_table_style() {
        let header = ["ID", "DUE", "", "KIND"];
        let rows: Vec<Vec<String>> = vec![
            vec!["abc".into(), "2026-01-02".into(), "".into(), "call".into()],
            vec!["abcdefghij".into(), "".into(), "".into(), "meeting".into()],
        ];
        let widths = column_widths(&header, &rows);
        let mut t = output::table(&header);
        t.force_no_tty().add_rows(rows.clone());
        assert_eq!(t.to_string(), render_plain(&header, &widths, &rows));
    }
}
