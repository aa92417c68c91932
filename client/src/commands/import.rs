//! `crm import FILE`: reads a CSV, vCard or iCalendar file, matches its records with those
//! already here, and saves the creations and updates in one transaction (or, with `--dry-run`,
//! only says what it would do).

mod plan;
mod wants;

use super::Ctx;
use crate::cli::ImportArgs;
use crate::interchange::{csv_in, ical_in, text, vcard_in, Format, Incoming, Parsed, Problem};
use crate::output;
use anyhow::{bail, Result};
use plan::{Action, Planner, Step};
use std::io::IsTerminal;

pub fn run(ctx: &Ctx, a: ImportArgs) -> Result<()> {
    let name = a.file.display().to_string();
    let bytes = std::fs::read(&a.file).map_err(|e| anyhow::anyhow!("cannot read {name}: {e}"))?;
    let maps = csv_in::parse_maps(&a.maps).map_err(anyhow::Error::msg)?;
    let (text, encoding) =
        text::decode(&bytes, a.encoding.as_deref()).map_err(|p| refuse(&name, &[p]))?;
    let format = a.format.unwrap_or_else(|| Format::detect(&a.file, &text));
    if !maps.is_empty() && format != Format::Csv {
        bail!("--map is for CSV files; {name} is read as {format:?}");
    }
    let (parsed, described) = match format {
        Format::Csv => {
            let (p, layout) = csv_in::read(&text, &maps);
            (p, layout.describe())
        }
        Format::Vcard => (vcard_in::read(&text), "vCard"),
        Format::Ical => (ical_in::read(&text, ctx.today), "iCalendar"),
    };
    let Parsed {
        items,
        skipped,
        mut warnings,
        fatal,
    } = parsed;
    if !fatal.is_empty() {
        return Err(refuse(&name, &fatal));
    }
    let mut store = ctx.open()?;
    let mut planner = Planner::new(&store)?;
    let mut planned = Vec::new();
    for (line, item) in &items {
        let id = planner.add(*line, item)?;
        planned.push((*line, id, item));
    }
    for (line, id, item) in planned {
        let related = match item {
            Incoming::Contact(c) => &c.related,
            Incoming::Org(o) => &o.related,
            Incoming::Activity(a) => &a.related,
        };
        if !related.is_empty() {
            planner.relate(line, id, related)?;
        }
    }
    warnings.append(&mut planner.warnings);
    warnings.dedup();
    let mut steps = planner.steps;
    let mut skipped = skipped;
    let mut flagged = Flagged::default();
    if !a.dry_run {
        let failed = write(ctx, &mut store, &mut steps)?;
        skipped.extend(failed);
        // New likely duplicates of records already here are flagged, as after a sync.
        let saved: Vec<_> = steps
            .iter()
            .filter(|s| s.action != Action::Unchanged)
            .map(|s| s.id)
            .collect();
        let pairs = store.flag_duplicates(&saved, ctx.now_ms)?;
        flagged = Flagged {
            count: pairs.len(),
            line: super::duplicates::flagged_line(&store, &pairs),
        };
    }
    report(
        ctx, &name, described, encoding, a.dry_run, &steps, &skipped, &warnings, &flagged,
    )
}

/// The likely duplicates an import made with records already here.
#[derive(Default)]
struct Flagged {
    count: usize,
    /// The line that names them and `crm duplicates`, if any.
    line: Option<String>,
}

/// A file refused whole: nothing was changed.
fn refuse(name: &str, problems: &[Problem]) -> anyhow::Error {
    let listed: Vec<String> = problems
        .iter()
        .take(5)
        .map(|p| match p.line {
            0 => p.reason.clone(),
            _ => p.to_string(),
        })
        .collect();
    let more = problems.len().saturating_sub(5);
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    anyhow::anyhow!(
        "{name} was not imported, nothing changed: {}{more}",
        listed.join("; ")
    )
}

/// Saves the steps in one transaction. A record the store refuses is reported and left out;
/// a database failure saves nothing.
fn write(ctx: &Ctx, store: &mut crate::Store, steps: &mut [Step]) -> Result<Vec<Problem>> {
    let todo = steps
        .iter()
        .filter(|s| s.action != Action::Unchanged)
        .count() as u64;
    let bar = (todo >= 500 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(todo);
        bar.set_style(
            indicatif::ProgressStyle::with_template("Importing {bar:40} {pos}/{len} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut failed = Vec::new();
    let mut batch = store.batch(ctx.now_ms)?;
    for step in steps.iter_mut() {
        let result = match step.action {
            Action::Create => batch.create(step.kind, step.id, &step.edits),
            Action::Update => batch.edit(step.id, step.edits.clone()).map(|_| ()),
            Action::Unchanged => continue,
        };
        if let Err(e) = result {
            match e {
                crate::StoreError::Write(_) | crate::StoreError::Value(_) => {
                    failed.push(Problem {
                        line: step.line,
                        reason: format!("{} \"{}\" not saved: {e}", step.kind, step.title),
                    });
                    step.action = Action::Unchanged;
                }
                other => return Err(other.into()),
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    batch.commit()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(failed)
}

#[allow(clippy::too_many_arguments)]
fn report(
    ctx: &Ctx,
    name: &str,
    described: &str,
    encoding: &str,
    dry_run: bool,
    steps: &[Step],
    skipped: &[Problem],
    warnings: &[Problem],
    flagged: &Flagged,
) -> Result<()> {
    let count = |a: Action| steps.iter().filter(|s| s.action == a).count();
    let (created, updated, unchanged) = (
        count(Action::Create),
        count(Action::Update),
        count(Action::Unchanged),
    );
    if ctx.json {
        let rows = |a: Action| -> Vec<serde_json::Value> {
            steps
                .iter()
                .filter(|s| s.action == a)
                .map(|s| {
                    let mut row = serde_json::json!({"line": s.line, "type": s.kind, "id": s.id.to_string(), "title": s.title});
                    if let Some(at) = &s.at {
                        row["at"] = serde_json::json!(at);
                    }
                    row
                })
                .collect()
        };
        return output::json(&serde_json::json!({
            "file": name,
            "format": described,
            "encoding": encoding,
            "dry_run": dry_run,
            "created": rows(Action::Create),
            "updated": rows(Action::Update),
            "unchanged": rows(Action::Unchanged),
            "skipped": skipped,
            "warnings": warnings,
            "likely_duplicates": flagged.count,
        }));
    }
    println!(
        "{name}: read as {described} ({encoding}), {} records",
        steps
            .iter()
            .filter(|s| s.kind != crm_shared::RecordKind::Relationship)
            .count()
    );
    if dry_run {
        for s in steps {
            let what = match s.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Unchanged => "leave unchanged",
            };
            let at =
                s.at.as_ref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default();
            println!(
                "  line {:>5}: would {what} {} \"{}\"{at}",
                s.line,
                s.kind,
                output::one_line(&s.title)
            );
        }
    }
    for p in skipped {
        println!(
            "  line {:>5}: skipped: {}",
            p.line,
            output::one_line(&p.reason)
        );
    }
    for p in warnings {
        println!(
            "  line {:>5}: note: {}",
            p.line,
            output::one_line(&p.reason)
        );
    }
    if dry_run {
        println!(
            "Nothing changed (--dry-run): {created} to create, {updated} to update, {unchanged} already up to date, {} skipped.",
            skipped.len()
        );
    } else {
        println!(
            "Saved: {created} created, {updated} updated, {unchanged} already up to date, {} skipped.",
            skipped.len()
        );
    }
    if let Some(line) = &flagged.line {
        println!("{line}");
    }
    Ok(())
}
