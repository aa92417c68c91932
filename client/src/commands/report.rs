//! `crm report pipeline|funnel|cycle|revenue|grades|activity`: reports from the read model, now
//! or "as of" an earlier date.
//!
//! Exactness of `--as-of`: the read model keeps each case and activity as it stood after each
//! moment of its document's history (`rm_case_versions`, `rm_activity_versions`) and when each
//! stage change became known (`rm_stage_changes.known_at`). A report as of T reads the version of
//! each record valid at T and the stage changes known by T: the same figures the report gave at T
//! (with the settings of now), whatever was edited, merged or removed since.

mod converted;
mod rendered;

pub use rendered::render;

use super::Ctx;
use crate::cli::{ReportArgs, ReportBy, ReportKind};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use crm_shared::schema::Settings;
use crm_shared::values::{format_amount, parse_date, parse_datetime, Currency};
use crm_shared::Stage;
use rusqlite::types::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

const DAY_MS: f64 = 86_400_000.0;

/// One cell of a report.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Int(i64),
    /// Minor units of the row's currency.
    Money(i64, Currency),
    /// Days (one decimal), or none.
    Days(Option<f64>),
    /// Percent (one decimal), or none.
    Percent(Option<f64>),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Money(m, c) => format_amount(*m, *c),
            Cell::Days(d) | Cell::Percent(d) => d.map(|d| format!("{d:.1}")).unwrap_or_default(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(s) => s.clone().into(),
            Cell::Int(n) | Cell::Money(n, _) => (*n).into(),
            Cell::Days(d) | Cell::Percent(d) => d
                .map(|d| ((d * 10.0).round() / 10.0).into())
                .unwrap_or(serde_json::Value::Null),
        }
    }
}

struct Report {
    title: String,
    /// (json key, table header)
    columns: Vec<(&'static str, &'static str)>,
    rows: Vec<Vec<Cell>>,
    warnings: Vec<String>,
    notes: Vec<String>,
}

/// Which moment a report describes: `None` is now.
#[derive(Debug, Clone, Copy)]
struct AsOf(Option<i64>);

impl AsOf {
    /// The SQL condition selecting the version valid then, with `?1` bound to the time.
    fn condition(self) -> &'static str {
        match self.0 {
            None => "t_end IS NULL",
            Some(_) => "t <= ?1 AND (t_end IS NULL OR t_end > ?1)",
        }
    }

    fn params(self) -> Vec<Value> {
        self.0.map(Value::Integer).into_iter().collect()
    }
}

/// Dates (inclusive) that a report's events must fall in.
#[derive(Debug, Clone, Copy, Default)]
struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Period {
    fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }

    fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    fn describe(&self) -> String {
        match (self.from, self.to) {
            (Some(f), Some(t)) => format!(", {f} to {t}"),
            (Some(f), None) => format!(", from {f}"),
            (None, Some(t)) => format!(", up to {t}"),
            (None, None) => String::new(),
        }
    }
}

/// The local date of a time in ms since the epoch.
fn local_date(ms: i64) -> Option<NaiveDate> {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
}

/// A case as it stood at the report's moment.
#[derive(Debug, Clone)]
struct CaseState {
    id: String,
    stage: String,
    lost_from: Option<String>,
    prob_override: Option<i64>,
    amount: i64,
    /// An ISO 4217 code.
    currency: String,
    owner: String,
    /// Its own region, else its organization's.
    region: Option<String>,
    grade: Option<String>,
    close_date: Option<String>,
    created_at: i64,
    closed_at: Option<i64>,
}

impl CaseState {
    fn stage(&self) -> Option<Stage> {
        self.stage.parse().ok()
    }

    fn is_open(&self) -> bool {
        self.stage().is_some_and(Stage::is_open)
    }

    /// When it was won or lost: its closing move, else its close date.
    fn closed_on(&self) -> Option<NaiveDate> {
        self.closed_at
            .and_then(local_date)
            .or_else(|| self.close_date.as_deref().and_then(|d| parse_date(d).ok()))
    }
}

fn cases_at(store: &Store, as_of: AsOf) -> Result<Vec<CaseState>> {
    let sql = format!(
        "SELECT v.case_id, v.stage, v.lost_from_stage, v.prob_override, v.amount, v.currency,
                v.owner, coalesce(v.region, o.region), v.grade, v.close_date, v.created_at,
                v.closed_at
         FROM rm_case_versions v LEFT JOIN rm_orgs o ON o.id = v.org_id
         WHERE v.deleted = 0 AND {}",
        as_of.condition()
    );
    let mut stmt = store.conn().prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(as_of.params()), |r| {
        Ok(CaseState {
            id: r.get(0)?,
            stage: r.get(1)?,
            lost_from: r.get(2)?,
            prob_override: r.get(3)?,
            amount: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            currency: r
                .get::<_, Option<String>>(5)?
                .and_then(|c| Currency::parse(&c).ok())
                .unwrap_or(Currency::EUR)
                .to_string(),
            owner: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            region: r.get(7)?,
            grade: r.get(8)?,
            close_date: r.get(9)?,
            created_at: r.get::<_, Option<i64>>(10)?.unwrap_or(0),
            closed_at: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One stage change known at the report's moment.
struct Change {
    case_id: String,
    stage: String,
    at: i64,
}

/// The stage changes known at the report's moment, per case in order.
fn changes_at(store: &Store, as_of: AsOf, cases: &[CaseState]) -> Result<Vec<Change>> {
    let live: HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let cond = match as_of.0 {
        None => "1 = 1",
        Some(_) => "known_at <= ?1",
    };
    let sql = format!(
        "SELECT case_id, stage, at FROM rm_stage_changes WHERE {cond} ORDER BY case_id, at, i"
    );
    let mut stmt = store.conn().prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(as_of.params()), |r| {
        Ok(Change {
            case_id: r.get(0)?,
            stage: r.get(1)?,
            at: r.get(2)?,
        })
    })?;
    let mut out = Vec::new();
    for c in rows {
        let c = c?;
        if live.contains(c.case_id.as_str()) {
            out.push(c);
        }
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, a: ReportArgs) -> Result<()> {
    let store = ctx.open()?;
    let (report, by) = build(ctx, &store, &a)?;
    print(ctx, &a, &report, by)
}

/// The report `crm report ... --json` prints (the web UI's reports read it too).
pub fn report_json(ctx: &Ctx, store: &Store, a: &ReportArgs) -> Result<serde_json::Value> {
    let (report, by) = build(ctx, store, a)?;
    Ok(json_of(a, &report, by))
}

/// The report `a` asks for, and how its rows are grouped.
fn build(ctx: &Ctx, store: &Store, a: &ReportArgs) -> Result<(Report, ReportBy)> {
    let settings = store.settings()?;
    let as_of = match &a.as_of {
        None => AsOf(None),
        Some(text) => AsOf(Some(as_of_ms(text)?)),
    };
    let period = period(ctx, a)?;
    let snapshot = matches!(a.kind, ReportKind::Pipeline | ReportKind::Grades);
    if snapshot && period.is_set() {
        anyhow::bail!(
            "the {} report shows open cases at one moment: use --as-of DATE instead of --from/--to/--month",
            kind_name(a.kind)
        );
    }
    let allowed: &[ReportBy] = match a.kind {
        ReportKind::Pipeline => &[
            ReportBy::Stage,
            ReportBy::Owner,
            ReportBy::Region,
            ReportBy::Month,
        ],
        ReportKind::Revenue => &[ReportBy::Month, ReportBy::Region, ReportBy::Owner],
        ReportKind::Funnel | ReportKind::Cycle => &[ReportBy::Stage],
        ReportKind::Grades | ReportKind::Activity => &[ReportBy::Owner],
    };
    if let Some(by) = a.by {
        if !allowed.contains(&by) {
            let names: Vec<&str> = allowed.iter().map(|b| by_name(*b)).collect();
            anyhow::bail!(
                "the {} report can be grouped --by {} only",
                kind_name(a.kind),
                names.join(" or ")
            );
        }
    }
    let by = a.by.unwrap_or(allowed[0]);
    let mut report = match a.kind {
        ReportKind::Pipeline => pipeline(store, &settings, as_of, by)?,
        ReportKind::Funnel => funnel(store, as_of, period)?,
        ReportKind::Cycle => cycle(store, as_of, period)?,
        ReportKind::Revenue => revenue(store, as_of, period, by)?,
        ReportKind::Grades => grades(store, &settings, as_of)?,
        ReportKind::Activity => activity(store, as_of, period)?,
    };
    let moment = a
        .as_of
        .as_deref()
        .map(|d| format!("as of {}", d.trim()))
        .unwrap_or_else(|| "now".into());
    if matches!(a.kind, ReportKind::Pipeline | ReportKind::Revenue) {
        let day = as_of.0.and_then(local_date).unwrap_or(ctx.today);
        converted::add_total_in_base(&mut report, &settings, day);
    }
    report.title = format!("{}{}, {moment}", report.title, period.describe());
    Ok((report, by))
}

fn kind_name(k: ReportKind) -> &'static str {
    match k {
        ReportKind::Pipeline => "pipeline",
        ReportKind::Funnel => "funnel",
        ReportKind::Cycle => "cycle",
        ReportKind::Revenue => "revenue",
        ReportKind::Grades => "grades",
        ReportKind::Activity => "activity",
    }
}

fn by_name(b: ReportBy) -> &'static str {
    match b {
        ReportBy::Stage => "stage",
        ReportBy::Region => "region",
        ReportBy::Owner => "owner",
        ReportBy::Month => "month",
    }
}

/// `--as-of DATE` is the end of that local day; `--as-of DATETIME` that very minute.
fn as_of_ms(text: &str) -> Result<i64> {
    let t = text.trim();
    let end = if let Ok(d) = parse_date(t) {
        d.succ_opt()
            .and_then(|next| super::local_ms(next.and_time(chrono::NaiveTime::MIN)))
            .map(|ms| ms - 1)
    } else {
        let dt = parse_datetime(t).map_err(|_| {
            anyhow::anyhow!("--as-of needs a date (2026-03-31) or a date and time (2026-03-31T12:00), not `{t}`")
        })?;
        super::local_ms(dt).map(|ms| ms + 59_999)
    };
    end.ok_or_else(|| anyhow::anyhow!("--as-of {t} does not exist in local time"))
}

fn period(ctx: &Ctx, a: &ReportArgs) -> Result<Period> {
    if let Some(m) = &a.month {
        let m = m.trim();
        let first = if m == "last" {
            let this = ctx.today.with_day(1).unwrap_or(ctx.today);
            this.pred_opt()
                .and_then(|d| d.with_day(1))
                .ok_or_else(|| anyhow::anyhow!("no month before {this}"))?
        } else {
            parse_date(&format!("{m}-01")).map_err(|_| {
                anyhow::anyhow!("--month needs YYYY-MM (e.g. 2026-05) or `last`, not `{m}`")
            })?
        };
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| anyhow::anyhow!("--month {m} is too late"))?;
        return Ok(Period {
            from: Some(first),
            to: next.pred_opt(),
        });
    }
    let p = Period {
        from: a.from.as_deref().map(parse_date).transpose()?,
        to: a.to.as_deref().map(parse_date).transpose()?,
    };
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f > t {
            anyhow::bail!("--from {f} is after --to {t}");
        }
    }
    Ok(p)
}

/// Rounds `sum(amount * percent) / 100` to the nearest minor unit.
fn weighted(amount_times_percent: i128) -> i64 {
    let q = amount_times_percent.div_euclid(100);
    let r = amount_times_percent.rem_euclid(100);
    (q + i128::from(r >= 50)) as i64
}

fn group_key(c: &CaseState, by: ReportBy) -> String {
    let none = || "(none)".to_string();
    match by {
        ReportBy::Stage => c.stage.clone(),
        ReportBy::Owner => c.owner.clone(),
        ReportBy::Region => c.region.clone().unwrap_or_else(none),
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
fn rank(k: &str, by: ReportBy) -> (usize, String) {
    match by {
        ReportBy::Stage => (
            k.parse::<Stage>().map(|s| s as usize).unwrap_or(usize::MAX),
            k.to_string(),
        ),
        _ => (usize::from(k == "(none)"), k.to_string()),
    }
}

fn money(minor: i64, code: &str) -> Cell {
    Cell::Money(minor, Currency::parse(code).unwrap_or(Currency::EUR))
}

fn pipeline(store: &Store, settings: &Settings, as_of: AsOf, by: ReportBy) -> Result<Report> {
    let cases = cases_at(store, as_of)?;
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

fn funnel(store: &Store, as_of: AsOf, period: Period) -> Result<Report> {
    let cases = cases_at(store, as_of)?;
    let changes = changes_at(store, as_of, &cases)?;
    let mut entered: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for c in &changes {
        if local_date(c.at).is_some_and(|d| period.contains(d)) {
            entered
                .entry(c.stage.clone())
                .or_default()
                .insert(&c.case_id);
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
        let n = entered.get(stage.key()).map_or(0, |s| s.len() as i64);
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

fn median(v: &mut [f64]) -> Option<f64> {
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

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cycle(store: &Store, as_of: AsOf, period: Period) -> Result<Report> {
    let cases = cases_at(store, as_of)?;
    let changes = changes_at(store, as_of, &cases)?;
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
        if a.case_id != b.case_id || !local_date(b.at).is_some_and(|d| period.contains(d)) {
            continue;
        }
        if let Ok(stage) = a.stage.parse::<Stage>() {
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

fn revenue(store: &Store, as_of: AsOf, period: Period, by: ReportBy) -> Result<Report> {
    let cases = cases_at(store, as_of)?;
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

/// The reps of the workspace at the report's moment: every user it knew then (a rep with no
/// case or activity is in the reports too, the first who needs a warning).
fn reps(store: &Store, as_of: AsOf) -> Result<Vec<String>> {
    let cond = match as_of.0 {
        None => "1 = 1",
        Some(_) => "coalesce(created_at, 0) <= ?1",
    };
    let sql = format!("SELECT DISTINCT login FROM rm_users WHERE deleted = 0 AND {cond}");
    let mut stmt = store.conn().prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(as_of.params()), |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn grades(store: &Store, settings: &Settings, as_of: AsOf) -> Result<Report> {
    let cases = cases_at(store, as_of)?;
    let mut per: BTreeMap<String, [i64; 4]> = reps(store, as_of)?
        .into_iter()
        .map(|rep| (rep, [0; 4]))
        .collect();
    for c in &cases {
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

const ACTIVITY_KINDS: [&str; 5] = ["call", "meeting", "visit", "email", "task"];

fn activity(store: &Store, as_of: AsOf, period: Period) -> Result<Report> {
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
    let mut per: BTreeMap<String, ([i64; 5], i64, i64, i64)> = reps(store, as_of)?
        .into_iter()
        .map(|rep| (rep, Default::default()))
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
    for c in cases_at(store, as_of)? {
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A report as JSON: its rows as objects keyed by column.
fn json_of(a: &ReportArgs, r: &Report, by: ReportBy) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = r
        .rows
        .iter()
        .map(|row| {
            let m: serde_json::Map<String, serde_json::Value> = r
                .columns
                .iter()
                .zip(row)
                .map(|((k, _), c)| ((*k).to_string(), c.json()))
                .collect();
            serde_json::Value::Object(m)
        })
        .collect();
    serde_json::json!({
        "report": kind_name(a.kind),
        "title": r.title,
        "as_of": a.as_of,
        "by": by_name(by),
        "rows": rows,
        "warnings": r.warnings,
        "notes": r.notes,
    })
}

fn print(ctx: &Ctx, a: &ReportArgs, r: &Report, by: ReportBy) -> Result<()> {
    if ctx.json {
        return output::json(&json_of(a, r, by));
    }
    if a.csv {
        print!("{}", rendered::csv_text(r));
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        return Ok(());
    }
    println!("{}", r.title);
    let header: Vec<&str> = r.columns.iter().map(|(_, h)| *h).collect();
    let mut t = output::table(&header);
    for (i, (_, h)) in r.columns.iter().enumerate() {
        let numeric = r.rows.iter().any(|row| !matches!(row[i], Cell::Text(_)));
        if numeric && !h.is_empty() {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(comfy_table::CellAlignment::Right);
            }
        }
    }
    for row in &r.rows {
        t.add_row(row.iter().map(Cell::text).collect::<Vec<_>>());
    }
    output::print_table(t, "Nothing to report.");
    for n in &r.notes {
        println!("{n}");
    }
    for w in &r.warnings {
        println!("WARNING: {w}");
    }
    Ok(())
}
