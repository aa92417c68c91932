//! The total of a report in one currency: where the workspace has exchange rates, the pipeline
//! and revenue reports add to their totals per currency a total in the base currency, and say
//! which rates they used (the latest of each pair on or before the report's day) and which
//! currencies had none.

use super::{Cell, Report};
use chrono::NaiveDate;
use crm_shared::rates::convert;
use crm_shared::schema::Settings;
use crm_shared::values::Currency;
use std::collections::BTreeSet;

/// Adds the row `total in BASE` after the report's `total` rows (one per currency), when the
/// workspace has rates and the totals are not all in the base currency already.
pub fn add_total_in_base(report: &mut Report, settings: &Settings, day: NaiveDate) {
    let Ok(base) = Currency::parse(&settings.base_currency) else {
        return;
    };
    let totals: Vec<&Vec<Cell>> = report
        .rows
        .iter()
        .filter(|r| matches!(r.first(), Some(Cell::Text(t)) if t == "total"))
        .collect();
    let foreign = totals
        .iter()
        .any(|r| matches!(r.get(1), Some(Cell::Text(c)) if *c != base.as_str()));
    if settings.rates.is_empty() || !foreign {
        return;
    }
    let mut sum: Vec<Cell> = vec![
        Cell::Text(format!("total in {base}")),
        Cell::Text(base.to_string()),
    ];
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for row in &totals {
        let Some(Cell::Text(code)) = row.get(1) else {
            continue;
        };
        let Ok(from) = Currency::parse(code) else {
            continue;
        };
        // Every money cell of the row converts at the same rate, or the row is left out whole.
        let mut converted = Vec::new();
        for cell in &row[2..] {
            converted.push(match cell {
                Cell::Money(minor, _) => match convert(&settings.rates, *minor, from, base, day) {
                    Some(c) => {
                        if let Some(c) = &c {
                            used.insert(c.rate.describe());
                        }
                        Some(Cell::Money(c.map_or(*minor, |c| c.minor), base))
                    }
                    None => None,
                },
                other => Some(other.clone()),
            });
        }
        let Some(converted) = converted.into_iter().collect::<Option<Vec<Cell>>>() else {
            let cases = match row.get(2) {
                Some(Cell::Int(1)) => "its 1 case is".to_string(),
                Some(Cell::Int(n)) => format!("its {n} cases are"),
                _ => "its cases are".to_string(),
            };
            missing.push(format!(
                "no exchange rate of {from} in {base} on or before {day}: {cases} left out of the total in {base} (`crm settings rate {from} RATE` sets one)"
            ));
            continue;
        };
        for (i, cell) in converted.into_iter().enumerate() {
            let slot = sum.get_mut(i + 2);
            match (slot, cell) {
                (Some(Cell::Int(a)), Cell::Int(b)) => *a += b,
                (Some(Cell::Money(a, _)), Cell::Money(b, _)) => *a += b,
                (None, cell) => sum.push(cell),
                _ => {}
            }
        }
    }
    if sum.len() > 2 {
        report.rows.push(sum);
    }
    if !used.is_empty() {
        report.notes.push(format!(
            "Total in {base} at the latest rates on or before {day}: {}.",
            used.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    report.warnings.extend(missing);
}
