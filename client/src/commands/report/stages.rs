//! How cases move through the stages: the funnel (reached, lost at, converted) and cycle times (days to won, days in each stage).

use super::*;

pub(super) const DAY_MS: f64 = 86_400_000.0;

pub(super) fn funnel(facts: &Facts, period: Period) -> Result<Report> {
    let cases = facts.cases()?;
    let changes = facts.changes()?;
    // The cases that entered each stage (by the stage's place in the pipeline).
    let mut entered: Vec<HashSet<u32>> = vec![HashSet::new(); Stage::ALL.len()];
    for c in changes {
        if let Some(stage) = c.stage {
            if local_date(c.at).is_some_and(|d| period.contains(d)) {
                entered[stage as usize].insert(c.case);
            }
        }
    }
    let mut lost_at: HashMap<String, i64> = HashMap::new();
    for c in cases.iter().filter(|c| c.stage == "lost") {
        if !c.closed_on().is_some_and(|d| period.contains(d)) {
            continue;
        }
        let from = c.lost_from.clone().unwrap_or_else(|| "(unknown)".into());
        *lost_at.entry(from).or_default() += 1;
    }
    let mut rows = Vec::new();
    for stage in Stage::ALL {
        let n = entered[stage as usize].len() as i64;
        let lost = if stage.is_open() {
            lost_at.get(stage.key()).copied().unwrap_or(0)
        } else {
            0
        };
        let rate = (stage.is_open() && n > 0).then(|| lost as f64 * 100.0 / n as f64);
        rows.push(vec![
            Cell::Text(stage.key().into()),
            Cell::Int(n),
            Cell::Int(lost),
            Cell::Percent(rate),
        ]);
    }
    if let Some(n) = lost_at.get("(unknown)") {
        rows.push(vec![
            Cell::Text("(unknown)".into()),
            Cell::Int(0),
            Cell::Int(*n),
            Cell::Percent(None),
        ]);
    }
    let worst = Stage::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| (lost_at.get(s.key()).copied().unwrap_or(0), *s))
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, s)| (*n, std::cmp::Reverse(*s as usize)));
    let notes = match worst {
        Some((n, s)) => vec![format!("Most cases are lost at {s}: {n}.")],
        None => vec!["No case was lost.".into()],
    };
    Ok(Report {
        as_of: None,
        title: "Funnel".into(),
        columns: vec![
            ("stage", "STAGE"),
            ("entered", "ENTERED"),
            ("lost", "LOST HERE"),
            ("lost_percent", "LOST %"),
        ],
        rows,
        warnings: Vec::new(),
        notes,
    })
}

pub(super) fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

pub(super) fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

pub(super) fn cycle(facts: &Facts, period: Period) -> Result<Report> {
    let cases = facts.cases()?;
    let changes = facts.changes()?;
    let mut to_win: Vec<f64> = cases
        .iter()
        .filter(|c| c.stage == "won")
        .filter(|c| c.closed_on().is_some_and(|d| period.contains(d)))
        .filter_map(|c| c.closed_at.map(|w| (w - c.created_at) as f64 / DAY_MS))
        .collect();
    // Time in each stage: from a move into it to the next move, for stays that have ended.
    let mut stays: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for pair in changes.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.case != b.case || !local_date(b.at).is_some_and(|d| period.contains(d)) {
            continue;
        }
        if let Some(stage) = a.stage {
            if stage.is_open() {
                stays
                    .entry(stage as usize)
                    .or_default()
                    .push((b.at - a.at) as f64 / DAY_MS);
            }
        }
    }
    let mut rows = vec![vec![
        Cell::Text("creation to won".into()),
        Cell::Int(to_win.len() as i64),
        Cell::Days(mean(&to_win)),
        Cell::Days(median(&mut to_win)),
    ]];
    for stage in Stage::ALL.iter().filter(|s| s.is_open()) {
        let mut v = stays.remove(&(*stage as usize)).unwrap_or_default();
        rows.push(vec![
            Cell::Text(format!("in {}", stage.key())),
            Cell::Int(v.len() as i64),
            Cell::Days(mean(&v)),
            Cell::Days(median(&mut v)),
        ]);
    }
    Ok(Report {
        as_of: None,
        title: "Sales cycle (days)".into(),
        columns: vec![
            ("what", "WHAT"),
            ("cases", "CASES"),
            ("average_days", "AVERAGE DAYS"),
            ("median_days", "MEDIAN DAYS"),
        ],
        rows,
        warnings: Vec::new(),
        notes: vec!["Stage stays count once the case has moved on.".into()],
    })
}
