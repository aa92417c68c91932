//! Reports per rep: grades against the minimum thresholds (every rep, also those with no open case), and activity (calls, meetings, visits, e-mails, tasks, win rate).

use super::*;

pub(super) fn grades(facts: &Facts, settings: &Settings) -> Result<Report> {
    let cases = facts.cases()?;
    let mut per: BTreeMap<String, [i64; 4]> = facts
        .reps()?
        .iter()
        .map(|rep| (rep.clone(), [0; 4]))
        .collect();
    for c in cases {
        let counts = per.entry(c.owner.clone()).or_default();
        if !c.is_open() {
            continue;
        }
        let i = match c.grade.as_deref() {
            Some("A") => 0,
            Some("B") => 1,
            Some("C") => 2,
            _ => 3,
        };
        counts[i] += 1;
    }
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    for (owner, counts) in &per {
        let mut short = Vec::new();
        for (i, g) in ["A", "B", "C"].iter().enumerate() {
            let min = settings.grade_minimum(g);
            if counts[i] < min {
                short.push(format!("{g} {} < {min}", counts[i]));
                warnings.push(format!(
                    "{owner} has {} open {g} case{}, fewer than the minimum of {min}",
                    counts[i],
                    if counts[i] == 1 { "" } else { "s" }
                ));
            }
        }
        let status = if short.is_empty() {
            "ok".to_string()
        } else {
            format!("TOO FEW: {}", short.join(", "))
        };
        rows.push(vec![
            Cell::Text(owner.clone()),
            Cell::Int(counts[0]),
            Cell::Int(counts[1]),
            Cell::Int(counts[2]),
            Cell::Int(counts[3]),
            Cell::Text(status),
        ]);
    }
    Ok(Report {
        as_of: None,
        title: "Open cases by grade per rep".into(),
        columns: vec![
            ("owner", "OWNER"),
            ("a", "A"),
            ("b", "B"),
            ("c", "C"),
            ("ungraded", "NO GRADE"),
            ("status", "STATUS"),
        ],
        rows,
        warnings,
        notes: vec![format!(
            "Minimum open cases per rep: A {}, B {}, C {} (`crm settings grades`).",
            settings.grade_minimum("A"),
            settings.grade_minimum("B"),
            settings.grade_minimum("C")
        )],
    })
}

pub(super) const ACTIVITY_KINDS: [&str; 5] = ["call", "meeting", "visit", "email", "task"];

pub(super) fn activity(facts: &Facts, period: Period) -> Result<Report> {
    let (store, as_of) = (facts.store, facts.as_of);
    let mut sql = format!(
        "SELECT owner, kind, status, count(*) FROM rm_activity_versions WHERE deleted = 0 AND {}",
        as_of.condition()
    );
    let mut params = as_of.params();
    if let Some(f) = period.from {
        params.push(Value::Text(f.to_string()));
        sql.push_str(&format!(" AND at >= ?{}", params.len()));
    }
    if let Some(t) = period.to {
        params.push(Value::Text(format!("{t}T99")));
        sql.push_str(&format!(" AND at < ?{}", params.len()));
    }
    sql.push_str(" GROUP BY owner, kind, status");
    // owner -> done per kind, planned
    let mut per: BTreeMap<String, ([i64; 5], i64, i64, i64)> = facts
        .reps()?
        .iter()
        .map(|rep| (rep.clone(), Default::default()))
        .collect();
    {
        let mut stmt = store.conn().prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            let owner: String = r.get::<_, Option<String>>(0)?.unwrap_or_default();
            let kind: String = r.get(1)?;
            let status: String = r.get(2)?;
            let n: i64 = r.get(3)?;
            let e = per.entry(owner).or_default();
            match status.as_str() {
                "done" => {
                    if let Some(i) = ACTIVITY_KINDS.iter().position(|k| *k == kind) {
                        e.0[i] += n;
                    }
                }
                "planned" => e.1 += n,
                _ => {}
            }
        }
    }
    for c in facts.cases()? {
        if !matches!(c.stage.as_str(), "won" | "lost")
            || !c.closed_on().is_some_and(|d| period.contains(d))
        {
            continue;
        }
        let e = per.entry(c.owner.clone()).or_default();
        if c.stage == "won" {
            e.2 += 1;
        } else {
            e.3 += 1;
        }
    }
    let rows = per
        .into_iter()
        .map(|(owner, (done, planned, won, lost))| {
            let rate = (won + lost > 0).then(|| won as f64 * 100.0 / (won + lost) as f64);
            let mut row = vec![Cell::Text(owner)];
            row.extend(done.iter().map(|n| Cell::Int(*n)));
            row.extend([
                Cell::Int(done.iter().sum()),
                Cell::Int(planned),
                Cell::Int(won),
                Cell::Int(lost),
                Cell::Percent(rate),
            ]);
            row
        })
        .collect();
    Ok(Report {
        as_of: None,
        title: "Activity per rep (done) and win rate".into(),
        columns: vec![
            ("owner", "OWNER"),
            ("calls", "CALLS"),
            ("meetings", "MEETINGS"),
            ("visits", "VISITS"),
            ("emails", "E-MAILS"),
            ("tasks", "TASKS"),
            ("done", "DONE"),
            ("planned", "PLANNED"),
            ("won", "WON"),
            ("lost", "LOST"),
            ("win_rate", "WIN %"),
        ],
        rows,
        warnings: Vec::new(),
        notes: Vec::new(),
    })
}
