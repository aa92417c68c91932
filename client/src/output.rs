//! Printing: readable tables and key/value blocks for people, JSON for scripts.

use comfy_table::{presets, ContentArrangement, Table, TableComponent};
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table with a header row, sized to the terminal.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_style(TableComponent::HeaderLines, '─')
        .set_style(TableComponent::MiddleHeaderIntersections, '─')
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

/// Prints a table, or a short line when it has no rows.
pub fn print_table(t: Table, empty: &str) {
    if t.row_count() == 0 {
        println!("{empty}");
    } else {
        println!("{t}");
    }
}

/// Prints `label: value` lines, skipping empty values, with labels aligned.
pub fn print_fields(rows: &[(String, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        if v.is_empty() {
            continue;
        }
        let mut lines = v.lines();
        println!("{k:>width$}  {}", lines.next().unwrap_or(""));
        for line in lines {
            println!("{:>width$}  {line}", "");
        }
    }
}

/// Shortens an id for tables (the full id is in `show` and `--json`; any unique prefix works).
pub fn short_id(id: &str) -> String {
    id.chars().take(10).collect()
}

/// Formats ms since the epoch as a local date and time.
pub fn local_time_ms(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Formats seconds since the epoch as a local date and time.
pub fn local_time_s(s: i64) -> String {
    local_time_ms(s.saturating_mul(1000))
}
