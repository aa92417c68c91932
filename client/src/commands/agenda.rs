//! `crm agenda`: appointments in a day or week, and overdue tasks.

use super::rows::{query, row_cells};
use super::Ctx;
use crate::cli::AgendaArgs;
use crate::output;
use anyhow::Result;
use crm_shared::values::{parse_date, UserName};
use rusqlite::types::Value;

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
    let last = first + chrono::Days::new(days);
    let cols = COLUMNS.join(", ");
    let items = query(
        &store,
        &format!("SELECT {cols} FROM rm_activities WHERE owner = ?1 AND deleted = 0 AND status != 'cancelled' AND at >= ?2 AND at < ?3 ORDER BY at"),
        &[Value::Text(user.clone()), Value::Text(first.to_string()), Value::Text(last.to_string())],
        &COLUMNS,
    )?;
    let overdue = query(
        &store,
        &format!("SELECT {cols} FROM rm_activities WHERE owner = ?1 AND deleted = 0 AND status = 'planned' AND due IS NOT NULL AND due < ?2 ORDER BY due"),
        &[Value::Text(user.clone()), Value::Text(ctx.today.to_string())],
        &COLUMNS,
    )?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "user": user, "from": first.to_string(), "to": last.to_string(),
            "items": items, "overdue": overdue,
        }));
    }
    let span = if days == 1 {
        first.format("%A %Y-%m-%d").to_string()
    } else {
        format!("{} to {}", first, last - chrono::Days::new(1))
    };
    println!("Agenda of {user}, {span}");
    let mut t = output::table(&["ID", "WHEN", "UNTIL", "KIND", "SUBJECT", "STATUS", "WHERE"]);
    for r in &items {
        t.add_row(row_cells(r, &COLUMNS));
    }
    output::print_table(t, "Nothing planned.");
    if !overdue.is_empty() {
        println!("\nOverdue tasks ({})", overdue.len());
        let mut t = output::table(&["ID", "DUE", "", "KIND", "SUBJECT", "STATUS", "WHERE"]);
        for r in &overdue {
            t.add_row(row_cells(r, &COLUMNS));
        }
        println!("{t}");
    }
    Ok(())
}
