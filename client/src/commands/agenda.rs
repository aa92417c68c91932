//! `crm agenda`: appointments in a day or week, and overdue tasks.

use super::rows::{query, Row};
use super::Ctx;
use crate::cli::AgendaArgs;
use crate::output;
use crate::store::Store;
use anyhow::Result;
use chrono::NaiveDate;
use crm_shared::values::UserName;
use rusqlite::types::{Value, ValueRef};

const COLUMNS: [&str; 8] = [
    "id", "at", "end_at", "kind", "subject", "status", "with", "location",
];

/// The columns selected: an activity's, and who it is with (its contact, and its organization).
const SELECT: &str = "a.id, a.at, a.end_at, a.kind, a.subject, a.status,
    CASE WHEN c.name IS NOT NULL AND o.name IS NOT NULL THEN c.name || ' (' || o.name || ')'
         ELSE coalesce(c.name, o.name) END,
    a.location
    FROM rm_activities a
    LEFT JOIN rm_contacts c INDEXED BY rm_contacts_name_by_id ON c.id = a.contact_id
    LEFT JOIN rm_orgs o INDEXED BY rm_orgs_name_by_id ON o.id = a.org_id";

pub fn run(ctx: &Ctx, a: AgendaArgs) -> Result<()> {
    let store = ctx.open()?;
    let user = match &a.user {
        Some(u) => UserName::parse(u)?.to_string(),
        None => store.identity.user.clone(),
    };
    let first = match &a.date {
        Some(d) => super::edits::typed_day(&store, "date", d)?,
        None => ctx.today,
    };
    let days = if a.week { 7 } else { 1 };
    let last = first
        .checked_add_days(chrono::Days::new(days))
        .ok_or_else(|| anyhow::anyhow!("--date {first} is too late for a {days}-day agenda"))?;
    let (items_sql, items_params) = items_query(&user, first, last);
    let (overdue_sql, overdue_params) = overdue_query(&user, ctx.today);
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
    output::print_rows(
        &[
            "ID", "WHEN", "UNTIL", "KIND", "SUBJECT", "STATUS", "WITH", "WHERE",
        ],
        items,
        "Nothing planned.",
    );
    if !overdue.is_empty() {
        println!("\nOverdue tasks ({})", overdue.len());
        output::print_rows(
            &[
                "ID", "DUE", "", "KIND", "SUBJECT", "STATUS", "WITH", "WHERE",
            ],
            overdue,
            "",
        );
    }
    Ok(())
}

// Both queries read a covering index of the read model in order (see `read_model`).

/// The query of `user`'s activities from `first` to before `last` (not cancelled).
fn items_query(user: &str, first: NaiveDate, last: NaiveDate) -> (String, [Value; 3]) {
    (
        // Both queries read a covering index of the read model in order (see `read_model`), and
        // look up the names of who each is with by primary key.
        format!("SELECT {SELECT} WHERE a.owner = ?1 AND a.deleted = 0 AND a.status != 'cancelled' AND a.at >= ?2 AND a.at < ?3 ORDER BY a.at, a.id"),
        [
            Value::Text(user.to_string()),
            Value::Text(first.to_string()),
            Value::Text(last.to_string()),
        ],
    )
}

/// The query of `user`'s planned activities due before `today`.
fn overdue_query(user: &str, today: NaiveDate) -> (String, [Value; 2]) {
    (
        format!("SELECT {SELECT} WHERE a.owner = ?1 AND a.deleted = 0 AND a.status = 'planned' AND a.due IS NOT NULL AND a.due < ?2 ORDER BY a.due, a.id"),
        [Value::Text(user.to_string()), Value::Text(today.to_string())],
    )
}

/// The agenda of `user` from `first` to before `last`, their overdue tasks on `today`, and their
/// due reminders (the rows of `crm agenda --json`).
pub fn agenda(
    ctx: &Ctx,
    store: &Store,
    user: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<(Vec<Row>, Vec<Row>, Vec<Row>)> {
    let (items_sql, items_params) = items_query(user, first, last);
    let (overdue_sql, overdue_params) = overdue_query(user, ctx.today);
    Ok((
        query(store, &items_sql, &items_params, &COLUMNS)?,
        query(store, &overdue_sql, &overdue_params, &COLUMNS)?,
        reminders(ctx, store, user)?,
    ))
}

/// Planned appointments of `user` whose reminder time has come and that have not started yet.
fn reminders(ctx: &Ctx, store: &Store, user: &str) -> Result<Vec<Row>> {
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
                    ValueRef::Text(t) if i == 0 => output::short_id(&text(t)),
                    ValueRef::Text(t) => text(t),
                    ValueRef::Blob(_) => String::new(),
                })
            })
            .collect::<rusqlite::Result<Vec<String>>>()
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A text cell: SQLite's text is UTF-8 (checked at SIMD speed), with any broken byte replaced.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
