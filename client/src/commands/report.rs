//! `crm report pipeline|funnel|cycle|revenue|grades|activity|quotes`: reports from the read
//! model, now or "as of" an earlier date.
//!
//! Exactness of `--as-of`: the read model keeps each case and activity as it stood after each
//! moment of its document's history (`rm_case_versions`, `rm_activity_versions`) and when each
//! stage change became known (`rm_stage_changes.known_at`). A report as of T reads the version of
//! each record valid at T and the stage changes known by T: the same figures the report gave at T
//! (with the settings of now), whatever was edited, merged or removed since.

mod converted;
mod facts;
mod pipeline;
mod printed;
mod quotes;
mod rendered;
mod reps;
mod stages;

use facts::Facts;
use pipeline::{pipeline, revenue};
pub use printed::Heading;
pub use rendered::render;
use reps::{activity, grades};
use stages::{cycle, funnel};

use super::Ctx;
use crate::cli::{ReportArgs, ReportBy, ReportKind};
use crate::output;
use crate::store::Store;
use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use crm_shared::schema::Settings;
use crm_shared::values::{format_amount, parse_date, Currency};
use crm_shared::Stage;
use rusqlite::types::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    /// The moment of `--as-of` in ISO form (none: now).
    as_of: Option<String>,
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

pub fn run(ctx: &Ctx, a: ReportArgs) -> Result<()> {
    let store = ctx.open()?;
    if let Some(out) = a.out.as_deref().filter(|_| a.pdf) {
        return write_pdf(ctx, &store, &a, out);
    }
    let (report, by) = Batch::new(&store).build(ctx, &a)?;
    print(ctx, &a, &report, by)
}

/// `crm report ... --pdf --out FILE`: the report as a PDF, written whole or not at all.
fn write_pdf(ctx: &Ctx, store: &Store, a: &ReportArgs, out: &std::path::Path) -> Result<()> {
    let rendered = render(ctx, store, a)?;
    let heading = Heading {
        as_of: rendered.as_of(ctx),
        owner: store.identity.user.clone(),
        source: format!("crm report {}", kind_name(a.kind)),
    };
    let bytes = rendered.pdf(&heading)?;
    crate::replace_file::replace(out, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}; nothing was written", out.display()))?;
    if ctx.json {
        return output::json(&serde_json::json!({"file": out, "bytes": bytes.len()}));
    }
    eprintln!(
        "Wrote {} ({} KB).",
        out.display(),
        bytes.len().div_ceil(1024)
    );
    Ok(())
}

/// Several reports from one read of the store (the web UI's reports page): reports of the same
/// moment share what they read, and give what `crm report ... --json` prints for each.
pub struct Batch<'s> {
    store: &'s Store,
    facts: Vec<Facts<'s>>,
}

impl<'s> Batch<'s> {
    pub fn new(store: &'s Store) -> Batch<'s> {
        Batch {
            store,
            facts: Vec::new(),
        }
    }

    /// The report `a` asks for, as `crm report ... --json` prints it.
    pub fn json(&mut self, ctx: &Ctx, a: &ReportArgs) -> Result<serde_json::Value> {
        let (report, by) = self.build(ctx, a)?;
        Ok(json_of(a, &report, by))
    }

    /// What the store held at `as_of`, read once for every report of that moment.
    fn facts(&mut self, as_of: AsOf) -> &Facts<'s> {
        let i = match self.facts.iter().position(|f| f.as_of.0 == as_of.0) {
            Some(i) => i,
            None => {
                self.facts.push(Facts::new(self.store, as_of));
                self.facts.len() - 1
            }
        };
        &self.facts[i]
    }

    fn build(&mut self, ctx: &Ctx, a: &ReportArgs) -> Result<(Report, ReportBy)> {
        let store = self.store;
        let as_of = match &a.as_of {
            None => (AsOf(None), None),
            Some(text) => {
                let (ms, iso) = as_of_ms(store, text)?;
                (AsOf(Some(ms)), Some(iso))
            }
        };
        build(ctx, self.facts(as_of.0), as_of.1, a)
    }
}

/// The report `a` asks for from `facts` (of the moment `as_of_iso` names), and how its rows are
/// grouped.
fn build(
    ctx: &Ctx,
    facts: &Facts,
    as_of_iso: Option<String>,
    a: &ReportArgs,
) -> Result<(Report, ReportBy)> {
    let store = facts.store;
    let as_of = facts.as_of;
    let settings = facts.settings()?;
    let period = period(ctx, store, a)?;
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
        ReportKind::Quotes => &[ReportBy::Owner, ReportBy::Month, ReportBy::Status],
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
        ReportKind::Pipeline => pipeline(facts, settings, by)?,
        ReportKind::Funnel => funnel(facts, period)?,
        ReportKind::Cycle => cycle(facts, period)?,
        ReportKind::Revenue => revenue(facts, period, by)?,
        ReportKind::Grades => grades(facts, settings)?,
        ReportKind::Activity => activity(facts, period)?,
        ReportKind::Quotes => quotes::quotes(store, as_of, period, by, ctx.today)?,
    };
    let moment = as_of_iso
        .as_deref()
        .map(|d| format!("as of {d}"))
        .unwrap_or_else(|| "now".into());
    if matches!(a.kind, ReportKind::Pipeline | ReportKind::Revenue) {
        let day = as_of.0.and_then(local_date).unwrap_or(ctx.today);
        converted::add_total_in_base(&mut report, settings, day);
    }
    report.title = format!("{}{}, {moment}", report.title, period.describe());
    report.as_of = as_of_iso;
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
        ReportKind::Quotes => "quotes",
    }
}

fn by_name(b: ReportBy) -> &'static str {
    match b {
        ReportBy::Stage => "stage",
        ReportBy::Region => "region",
        ReportBy::Owner => "owner",
        ReportBy::Month => "month",
        ReportBy::Status => "status",
    }
}

/// `--as-of DATE` is the end of that local day; `--as-of DATETIME` that very minute.
/// The end of the moment `--as-of` names, in ms, and that moment in ISO form. A day (typed as
/// people type days: `2026-03-31`, `yesterday`, `31/03/2026` by the data dir's locale) ends at its
/// last millisecond; a day and time at the end of its minute.
fn as_of_ms(store: &Store, text: &str) -> Result<(i64, String)> {
    let t = text.trim();
    let wrong = |e: crm_shared::values::ValueError| {
        anyhow::anyhow!("--as-of needs a date (2026-03-31, yesterday) or a date and time (2026-03-31T12:00): {e}")
    };
    let (end, iso) = if t.contains(':') {
        let dt = store.dates.moment(t).map_err(wrong)?;
        (
            super::local_ms(dt).map(|ms| ms + 59_999),
            crm_shared::values::format_datetime(dt),
        )
    } else {
        let d = store.dates.day(t).map_err(wrong)?;
        (
            d.succ_opt()
                .and_then(|next| super::local_ms(next.and_time(chrono::NaiveTime::MIN)))
                .map(|ms| ms - 1),
            d.to_string(),
        )
    };
    let end = end.ok_or_else(|| anyhow::anyhow!("--as-of {t} does not exist in local time"))?;
    Ok((end, iso))
}

fn period(ctx: &Ctx, store: &Store, a: &ReportArgs) -> Result<Period> {
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
        from: typed_day(store, "--from", a.from.as_deref())?,
        to: typed_day(store, "--to", a.to.as_deref())?,
    };
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f > t {
            anyhow::bail!("--from {f} is after --to {t}");
        }
    }
    Ok(p)
}

/// A day of `--from`/`--to`, typed as people type days (the data dir's locale for slashes).
fn typed_day(store: &Store, flag: &str, text: Option<&str>) -> Result<Option<NaiveDate>> {
    text.map(|t| {
        store.dates.day(t.trim()).map_err(|e| {
            anyhow::anyhow!("{flag} needs a date (2026-03-31, yesterday, 31/03/2026): {e}")
        })
    })
    .transpose()
}

fn money(minor: i64, code: &str) -> Cell {
    Cell::Money(minor, Currency::parse(code).unwrap_or(Currency::EUR))
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
        "as_of": r.as_of,
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
