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
/// The command family of a record kind as `crm` names it (`organization` -> `org`).
pub fn command_of(kind: &str) -> &str {
    match kind {
        "organization" => "org",
        other => other,
    }
}

/// "1 record", "3 records".
pub fn records(n: impl Into<u64>) -> String {
    match n.into() {
        1 => "1 record".to_string(),
        n => format!("{n} records"),
    }
}

/// A value as one table cell: line breaks and other control characters (a name pasted with a
/// newline) become spaces, so every row stays one line.
pub fn one_line(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        text.to_string()
    }
}

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

/// Prints a table as `output::table` does. Laying out thousands of rows (a busy week) with
/// comfy-table costs tens of milliseconds, so when stdout is not a terminal (no wrapping to its
/// width) and every cell is plain ASCII, the rows are written directly, after checking on a
/// two-row probe with the same column widths that this gives the very same text as comfy-table.
pub fn print_rows(header: &[&str], rows: Vec<Vec<String>>, empty: &str) {
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
        let mut probe = table(header);
        probe.force_no_tty().add_rows(probe_rows.clone());
        if probe.to_string() == render_plain(header, &widths, &probe_rows) {
            println!("{}", render_plain(header, &widths, &rows));
            return;
        }
    }
    let mut t = table(header);
    t.add_rows(rows);
    print_table(t, empty);
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

/// Prints a table of text rows under a title; with no rows and no `empty` text, prints nothing.
pub fn print_section(title: &str, header: &[&str], rows: Vec<Vec<String>>, empty: &str) {
    if rows.is_empty() && empty.is_empty() {
        return;
    }
    if !title.is_empty() {
        println!("{title}");
    }
    print_rows(header, rows, empty);
}

/// Lines told on stderr once the command has succeeded (how typed dates were read): a failing
/// command prints its one error line alone.
static NOTES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keeps `line` to print on stderr when the command succeeds (or at the next [`flush_notes`]).
pub fn note(line: String) {
    if let Ok(mut notes) = NOTES.lock() {
        notes.push(line);
    }
}

/// Prints the kept notes on stderr, in order, and forgets them.
pub fn flush_notes() {
    if let Ok(mut notes) = NOTES.lock() {
        for line in notes.drain(..) {
            eprintln!("{line}");
        }
    }
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
        let mut t = table(&header);
        t.force_no_tty().add_rows(rows.clone());
        assert_eq!(t.to_string(), render_plain(&header, &widths, &rows));
    }
}
