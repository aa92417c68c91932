//! `crm activity add ... --repeat daily|weekly|monthly --until DATE`: a repeating activity.
//!
//! Every occurrence is saved as an activity of its own (in one transaction), not computed when
//! read: each can then be moved, done, cancelled or handed over alone, travels by sync like any
//! record, and the agenda, lists and reports need nothing new. Each occurrence names the first
//! (`series`) and how it repeats (`repeat`).

use super::activity::edits;
use super::{new_id, Ctx};
use crate::cli::ActivityFields;
use crate::output;
use anyhow::Result;
use crm_shared::dates::{describe_day, occurrences, Repeat};
use crm_shared::schema::{Edit, Scalar};
use crm_shared::values::{format_datetime, parse_datetime};
use crm_shared::RecordKind;

/// The most occurrences one series may have (a daily series of a year).
const MAX_OCCURRENCES: usize = 366;

pub fn add(ctx: &Ctx, f: &ActivityFields, every: &str, until: &str) -> Result<()> {
    let every = Repeat::parse(every)?;
    let mut store = ctx.open()?;
    let until_day = store.dates.day(until)?;
    super::edits::echo(
        "until",
        until,
        &until_day.to_string(),
        &describe_day(until_day),
    );
    let base = edits(&store, f, None)?;
    let moment = |field: &str| {
        base.iter().rev().find_map(|e| match e {
            Edit::Set {
                field: name,
                value: Scalar::Str(v),
            } if *name == field => parse_datetime(v).ok(),
            _ => None,
        })
    };
    let Some(first) = moment("start").or_else(|| moment("due")) else {
        anyhow::bail!("a repeating activity needs --at (or --due for a task)");
    };
    let Some(times) = occurrences(first, every, until_day, MAX_OCCURRENCES) else {
        anyhow::bail!(
            "--repeat {} --until {until_day} makes more than {MAX_OCCURRENCES} activities: choose an earlier --until",
            every.as_str()
        );
    };
    if times.is_empty() {
        anyhow::bail!(
            "--until {until_day} is before the first occurrence ({}): give a later --until",
            format_datetime(first)
        );
    }
    let series = new_id();
    let repeat = format!("{} until {until_day}", every.as_str());
    let records: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let shift = *at - first;
            let mut e: Vec<Edit> = base
                .iter()
                .map(|edit| match edit {
                    Edit::Set {
                        field: field @ ("start" | "end" | "due"),
                        value: Scalar::Str(v),
                    } => match parse_datetime(v) {
                        Ok(t) => Edit::Set {
                            field,
                            value: Scalar::Str(format_datetime(t + shift)),
                        },
                        Err(_) => edit.clone(),
                    },
                    other => other.clone(),
                })
                .collect();
            e.push(Edit::Set {
                field: "series",
                value: Scalar::Str(series.to_string()),
            });
            e.push(Edit::Set {
                field: "repeat",
                value: Scalar::Str(repeat.clone()),
            });
            (if i == 0 { series } else { new_id() }, e)
        })
        .collect();
    let made = store.create_many(RecordKind::Activity, &records, ctx.now_ms)?;
    output::flush_notes();
    if ctx.json {
        return output::json(&made);
    }
    eprintln!(
        "Saved {} activities, {} from {} to {}.",
        made.len(),
        every.as_str(),
        format_datetime(times[0]),
        format_datetime(times[times.len() - 1])
    );
    for r in &made {
        println!("{}", r.id);
    }
    Ok(())
}
