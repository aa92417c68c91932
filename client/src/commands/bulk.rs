//! Many records changed at once: `crm case list ... --ids | crm case edit - --owner bruno`.
//!
//! The ids are read from stdin, one a line; each is resolved and its edits made before anything
//! is written, then every record changes in one transaction. A bad line (an unknown id, one of
//! another kind, an edit that does not apply to it) refuses the whole batch, naming its line.

use super::record::{cli_name, saved_name};
use super::rows::Row;
use super::Ctx;
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};
use crm_shared::schema::{Edit, Record};
use crm_shared::{DocumentId, RecordKind};
use std::collections::HashSet;
use std::io::BufRead;

/// The id argument that means "read the ids from stdin".
pub const STDIN: &str = "-";

/// Prints the full ids of `rows`, one a line (`list --ids`).
pub fn print_ids(rows: &[Row]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for r in rows {
        writeln!(out, "{}", r["id"].as_str().unwrap_or(""))?;
    }
    Ok(())
}

/// The records named on `input`, one id (or unique prefix) a line; blank lines are skipped and
/// an id given twice counts once. `kind`: the kind they must be (None: any).
pub fn read_ids(
    store: &Store,
    kind: Option<RecordKind>,
    input: impl BufRead,
) -> Result<Vec<(usize, DocumentId)>> {
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("reading the ids on stdin, line {n}"))?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let (id, _) = store
            .resolve(text, kind)
            .with_context(|| format!("line {n} of stdin; nothing was changed"))?;
        if seen.insert(id) {
            ids.push((n, id));
        }
    }
    if ids.is_empty() {
        anyhow::bail!(
            "no ids on stdin: pipe them in, one a line, e.g. `crm {} list ... --ids | crm {} edit - ...`",
            kind.map(cli_name).unwrap_or("case"),
            kind.map(cli_name).unwrap_or("case")
        );
    }
    Ok(ids)
}

/// Edits every record whose id is on stdin with the edits `build` makes of it, in one
/// transaction; prints their ids (or the records as JSON).
pub fn edit_all<F>(ctx: &Ctx, kind: Option<RecordKind>, mut build: F) -> Result<()>
where
    F: FnMut(&Store, &Record) -> Result<Vec<Edit>>,
{
    let mut store = ctx.open()?;
    let ids = read_ids(&store, kind, std::io::stdin().lock())?;
    let mut batch = Vec::with_capacity(ids.len());
    for (line, id) in &ids {
        let record = store.record(*id)?;
        let edits = build(&store, &record).with_context(|| {
            format!(
                "line {line} of stdin ({}); nothing was changed",
                output::short_id(&id.to_string())
            )
        })?;
        batch.push((*id, edits));
    }
    let records = store.edit_many(batch, ctx.now_ms)?;
    output::flush_notes();
    if ctx.json {
        return output::json(&records);
    }
    match records.as_slice() {
        [one] => eprintln!("Saved {}.", saved_name(&store, one)),
        _ => eprintln!(
            "Saved {} {} in one transaction.",
            records.len(),
            plural(kind)
        ),
    }
    for r in &records {
        println!("{}", r.id);
    }
    Ok(())
}

/// What a batch of records of `kind` is called: `cases`, `activities`, `records`.
fn plural(kind: Option<RecordKind>) -> &'static str {
    match kind {
        Some(RecordKind::Organization) => "organizations",
        Some(RecordKind::Contact) => "contacts",
        Some(RecordKind::Case) => "cases",
        Some(RecordKind::Activity) => "activities",
        _ => "records",
    }
}
