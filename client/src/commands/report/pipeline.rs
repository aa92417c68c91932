//! The pipeline report (open cases, weighted by probability) and the revenue report (won cases), grouped by stage, owner, region or month.

use super::*;

/// Rounds `sum(amount * percent) / 100` to the nearest minor unit.
pub(super) fn weighted(amount_times_percent: i128) -> i64 {
    let q = amount_times_percent.div_euclid(100);
    let r = amount_times_percent.rem_euclid(100);
    (q + i128::from(r >= 50)) as i64
}

pub(super) fn group_key(c: &CaseState, by: ReportBy) -> String {
    let none = || "(none)".to_string();
    match by {
        ReportBy::Stage => c.stage.clone(),
        ReportBy::Owner => c.owner.clone(),
        ReportBy::Region => c.region.clone().unwrap_or_else(none),
        // Quotes only: never a case report's grouping.
        ReportBy::Status => none(),
        ReportBy::Month => c
            .close_date
            .as_deref()
            .and_then(|d| d.get(..7))
            .map(str::to_string)
            .unwrap_or_else(none),
    }
}

/// Sorts group keys: stages in pipeline order, the rest alphabetically, "(none)" last.
/// The sort rank of a group key: stages in pipeline order, the rest alphabetically, "(none)" last.
pub(super) fn rank(k: &str, by: ReportBy) -> (usize, String) {
    match by {
        ReportBy::Stage => (
            k.parse::<Stage>().map(|s| s as usize).unwrap_or(usize::MAX),
            k.to_string(),
        ),
        _ => (usize::from(k == "(none)"), k.to_string()),
    }
}

pub(super) fn pipeline(facts: &Facts, settings: &Settings, by: ReportBy) -> Result<Report> {
    let cases = facts.cases()?;
    // (group, currency) -> (cases, value, amount * percent)
    let mut groups: HashMap<(String, String), (i64, i64, i128)> = HashMap::new();
    let mut totals: BTreeMap<String, (i64, i64, i128)> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.is_open()) {
        let p = c
            .prob_override
            .unwrap_or_else(|| c.stage().map(|s| settings.probability(s)).unwrap_or(0));
        for slot in [
            groups
                .entry((group_key(c, by), c.currency.clone()))
                .or_default(),
            totals.entry(c.currency.clone()).or_default(),
        ] {
            slot.0 += 1;
            slot.1 += c.amount;
            slot.2 += i128::from(c.amount) * i128::from(p);
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|((g1, c1), _), ((g2, c2), _)| {
        rank(g1, by).cmp(&rank(g2, by)).then_with(|| c1.cmp(c2))
    });
    let row = |group: &str, cur: &str, v: &(i64, i64, i128)| {
        vec![
            Cell::Text(group.to_string()),
            Cell::Text(cur.to_string()),
            Cell::Int(v.0),
            money(v.1, cur),
            money(weighted(v.2), cur),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = groups.iter().map(|((g, c), v)| row(g, c, v)).collect();
    for (cur, v) in &totals {
        rows.push(row("total", cur, v));
    }
    Ok(Report {
        as_of: None,
        title: format!("Pipeline by {}", by_name(by)),
        columns: vec![
            (by_name(by), "GROUP"),
            ("currency", "CURRENCY"),
            ("cases", "OPEN CASES"),
            ("value", "VALUE"),
            ("weighted", "WEIGHTED"),
        ],
        rows,
        warnings: Vec::new(),
        notes: vec![
            "Weighted: each case's amount times its probability (its own, else its stage's)."
                .into(),
        ],
    })
}

pub(super) fn revenue(facts: &Facts, period: Period, by: ReportBy) -> Result<Report> {
    let cases = facts.cases()?;
    let mut groups: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for c in cases.iter().filter(|c| c.stage == "won") {
        let Some(day) = c.closed_on() else { continue };
        if !period.contains(day) {
            continue;
        }
        let key = match by {
            ReportBy::Month => day.format("%Y-%m").to_string(),
            other => group_key(c, other),
        };
        for slot in [
            groups.entry((key, c.currency.clone())).or_default(),
            totals.entry(c.currency.clone()).or_default(),
        ] {
            slot.0 += 1;
            slot.1 += c.amount;
        }
    }
    let mut rows: Vec<Vec<Cell>> = groups
        .iter()
        .map(|((g, cur), v)| {
            vec![
                Cell::Text(g.clone()),
                Cell::Text(cur.to_string()),
                Cell::Int(v.0),
                money(v.1, cur),
            ]
        })
        .collect();
    rows.sort_by_key(|r| rank(&r[0].text(), by));
    for (cur, v) in &totals {
        rows.push(vec![
            Cell::Text("total".into()),
            Cell::Text(cur.to_string()),
            Cell::Int(v.0),
            money(v.1, cur),
        ]);
    }
    Ok(Report {
        as_of: None,
        title: format!("Revenue (won) by {}", by_name(by)),
        columns: vec![
            (by_name(by), "GROUP"),
            ("currency", "CURRENCY"),
            ("cases", "WON CASES"),
            ("revenue", "REVENUE"),
        ],
        rows,
        warnings: Vec::new(),
        notes: Vec::new(),
    })
}
