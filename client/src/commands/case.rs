//! `crm case ...`: cases (opportunities) and stage moves.

use super::edits::EditBuilder;
use super::page::{Listed, Page};
use super::rows::{query, row_cells, Row};
use super::{record, Ctx};
use crate::cli::{CaseCommand, CaseFields, CheckArgs, MoveArgs};
use crate::output;
use crate::store::{fts_query, Store};
use anyhow::Result;
use crm_shared::model::{choice, GRADES};
use crm_shared::schema::{Edit, Record, Scalar, Settings, StageChange};
use crm_shared::values::{format_amount, Currency};
use crm_shared::{RecordKind, Stage};
use rusqlite::types::Value;

const KIND: RecordKind = RecordKind::Case;
const COLUMNS: [&str; 8] = [
    "id",
    "title",
    "stage",
    "amount",
    "currency",
    "grade",
    "close_date",
    "owner",
];

pub fn run(ctx: &Ctx, cmd: CaseCommand) -> Result<()> {
    match cmd {
        CaseCommand::Add(f) => record::add(ctx, KIND, |s| add_edits(s, &f, ctx.now_ms)),
        CaseCommand::Edit(e) => record::edit(ctx, KIND, &e.id, |s, r| {
            if e.fields.stage.is_some() {
                anyhow::bail!("change the stage with `crm case move {} --stage STAGE`, so the stage history records it", e.id);
            }
            let mut edits = edits(s, &e.fields, Some(r))?;
            let mut b = EditBuilder::new(s, KIND, None, Some(r))?;
            b.clear(&e.clear)?
                .unlink("contacts", RecordKind::Contact, &e.remove_contacts)?;
            edits.extend(b.finish());
            Ok(edits)
        }),
        CaseCommand::Move(m) => move_stage(ctx, m),
        CaseCommand::Check(c) => check(ctx, c),
        CaseCommand::Rm(a) => record::rm(ctx, KIND, a),
        CaseCommand::Show(a) => {
            let store = ctx.open()?;
            let (id, _) = store.resolve(&a.id, Some(KIND))?;
            let record = store.record(id)?;
            let activities = super::activity::rows(
                &store,
                "SELECT id, at, kind, subject, status, owner FROM rm_activities WHERE case_id = ?1 AND deleted = 0 ORDER BY at DESC, id LIMIT 50",
                &[Value::Text(id.to_string())],
            )?;
            let settings = store.settings()?;
            let playbook = playbook(&settings, &record);
            record::show(
                ctx,
                &store,
                &record,
                serde_json::json!({"activities": activities, "playbook": playbook}),
            )?;
            if !ctx.json {
                print_playbook(&playbook, &record);
                super::activity::print_rows(&activities, "\nActivities", "");
            }
            Ok(())
        }
        CaseCommand::List(a) => {
            let store = ctx.open()?;
            let mut sql = String::from(
                "SELECT c.id, c.title, c.stage, c.amount, c.currency, c.grade, c.close_date, c.owner, o.name AS org, c.probability FROM rm_cases c LEFT JOIN rm_orgs o ON o.id = c.org_id WHERE 1=1",
            );
            let mut params: Vec<Value> = Vec::new();
            let mut filter = |sql: &mut String, cond: &str, v: String| {
                params.push(Value::Text(v));
                sql.push_str(&format!(" AND {cond} ?{}", params.len()));
            };
            if !a.list.deleted {
                sql.push_str(" AND c.deleted = 0");
            }
            if let Some(s) = &a.stage {
                filter(&mut sql, "c.stage =", s.parse::<Stage>()?.key().to_string());
            }
            if let Some(o) = &a.owner {
                filter(&mut sql, "c.owner =", o.clone());
            }
            if a.mine {
                filter(&mut sql, "c.owner =", store.identity.user.clone());
            }
            if a.open {
                sql.push_str(" AND c.stage NOT IN ('won', 'lost')");
            }
            if let Some(p) = &a.closing {
                let (first, end) = crm_shared::dates::period(p, ctx.today)?;
                filter(&mut sql, "c.close_date >=", first.to_string());
                filter(&mut sql, "c.close_date <", end.to_string());
            }
            if let Some(g) = &a.grade {
                filter(
                    &mut sql,
                    "c.grade =",
                    choice("grade", g, GRADES)?.to_string(),
                );
            }
            if let Some(r) = &a.region {
                // A case without a region of its own is in its organization's.
                filter(
                    &mut sql,
                    "coalesce(c.region, o.region) COLLATE NOCASE =",
                    r.clone(),
                );
            }
            if let Some(d) = &a.closing_before {
                let day = store.dates.day(d)?;
                super::edits::echo(
                    "closing before",
                    d,
                    &day.to_string(),
                    &crm_shared::dates::describe_day(day),
                );
                filter(&mut sql, "c.close_date <", day.to_string());
            }
            if let Some(org) = &a.org {
                let (org, _) = store.resolve(org, Some(RecordKind::Organization))?;
                filter(&mut sql, "c.org_id =", org.to_string());
            }
            if let Some(q) = a.list.search.as_deref() {
                let q = fts_query(q)
                    .ok_or_else(|| anyhow::anyhow!("--search needs letters or digits"))?;
                filter(&mut sql, "c.id IN (SELECT d.id FROM documents d WHERE d.n IN (SELECT rowid FROM rm_search WHERE rm_search MATCH", q);
                sql.push_str("))");
            }
            let page = Page::new(ctx, &a.list);
            let listed = format!(
                "{sql} ORDER BY c.close_date IS NULL, c.close_date, c.title, c.id{}",
                page.sql()
            );
            let cols = [
                "id",
                "title",
                "stage",
                "amount",
                "currency",
                "grade",
                "close_date",
                "owner",
                "org",
                "probability",
            ];
            let rows = query(&store, &listed, &params, &cols)?;
            let listed = Listed {
                sql: &sql,
                params: &params,
            };
            page.print(ctx, &store, &a.list, &rows, listed, |rows| {
                print_rows(rows, "", "No cases found.")
            })
        }
    }
}

pub fn edits(store: &Store, f: &CaseFields, existing: Option<&Record>) -> Result<Vec<Edit>> {
    let mut b = EditBuilder::new(store, KIND, f.currency.as_deref(), existing)?;
    b.set("title", f.title.as_ref())?
        .set("org", f.org.as_ref())?
        .links("contacts", RecordKind::Contact, &f.contacts)?
        .set("currency", f.currency.as_ref())?
        .set("amount", f.amount.as_ref())?
        .set("stage", f.stage.as_ref())?
        .set("probability", f.probability.as_ref())?
        .set("grade", f.grade.as_ref())?
        .set("interest", f.interest.as_ref())?
        .set("budget", f.budget.as_ref())?
        .set("close_date", f.close_date.as_ref())?
        .add_to_set("competitors", &f.competitors)
        .set("source", f.source.as_ref())?
        .set("region", f.region.as_ref())?
        .set("notes", f.notes.as_ref())?
        .owner(f.owner.as_ref())?;
    Ok(b.finish())
}

/// `crm case move ID --stage S [--reason R]` (with `-` for the id, every case on stdin, in one
/// transaction).
fn move_stage(ctx: &Ctx, m: MoveArgs) -> Result<()> {
    let to: Stage = m.stage.parse()?;
    let reason = move_reason(to, m.reason.as_deref())?;
    let mut warnings = Vec::new();
    record::edit(ctx, KIND, &m.id, |store, r| {
        move_edits(store, r, to, reason, ctx.now_ms, ctx.today, &mut warnings)
    })?;
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(())
}

/// Moves case `id` to stage `to` in one transaction (the web UI's move, the same edits as the
/// CLI's). Returns the case and a warning when required playbook steps of the stage it left
/// were not done.
pub fn move_case(
    store: &mut Store,
    id: &str,
    to: Stage,
    reason: Option<&str>,
    now_ms: i64,
    today: chrono::NaiveDate,
) -> Result<(Record, Option<String>)> {
    let reason = move_reason(to, reason)?;
    let mut warnings = Vec::new();
    let record = record::save_edit(store, KIND, id, now_ms, |store, r| {
        move_edits(store, r, to, reason, now_ms, today, &mut warnings)
    })?;
    Ok((record, warnings.pop()))
}

/// The reason of a move, which a move to lost needs.
fn move_reason(to: Stage, reason: Option<&str>) -> Result<Option<&str>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if to == Stage::Lost && reason.is_none() {
        anyhow::bail!("moving a case to lost needs a reason: add --reason \"...\"");
    }
    Ok(reason)
}

/// The edits that move case `r` to stage `to`: the move in the stage history; a lost case keeps
/// its last open stage and the reason; won and lost set the close date to `today`. A warning is
/// added when required playbook steps of the stage it leaves were not done.
fn move_edits(
    store: &Store,
    r: &Record,
    to: Stage,
    reason: Option<&str>,
    now_ms: i64,
    today: chrono::NaiveDate,
    warnings: &mut Vec<String>,
) -> Result<Vec<Edit>> {
    let from = r.str("stage").and_then(|s| s.parse::<Stage>().ok());
    if from == Some(to) {
        anyhow::bail!("case \"{}\" is already in stage {to}", r.title());
    }
    if let Some(from) = from.filter(|f| f.is_open() && to != Stage::Lost) {
        let undone: Vec<String> = store
            .settings()?
            .steps(from)
            .iter()
            .filter(|st| {
                st.required
                    && !r
                        .set("steps_done")
                        .contains(&Settings::done_key(from, &st.key))
            })
            .map(|st| format!("{} ({})", st.key, st.title))
            .collect();
        if !undone.is_empty() {
            warnings.push(format!(
                "warning: moved on from {from} with required steps not done: {}. Tick them with `crm case check {} STEP`.",
                undone.join(", "),
                output::short_id(&r.id.to_string())
            ));
        }
    }
    let mut edits = vec![
        Edit::Set {
            field: "stage",
            value: Scalar::Str(to.key().into()),
        },
        Edit::AppendStageChange(StageChange {
            stage: to.key().into(),
            from: from.map(|s| s.key().to_string()),
            at: now_ms,
            by: store.identity.user.clone(),
        }),
    ];
    edits.extend(loss_cleared(r, to));
    if to == Stage::Lost {
        if let Some(reason) = reason {
            edits.push(Edit::Set {
                field: "loss_reason",
                value: Scalar::Str(reason.into()),
            });
        }
        if let Some(f) = from.filter(|s| s.is_open()) {
            edits.push(Edit::Set {
                field: "lost_from_stage",
                value: Scalar::Str(f.key().into()),
            });
        }
    }
    if !to.is_open() {
        edits.push(Edit::Set {
            field: "close_date",
            value: Scalar::Str(today.to_string()),
        });
    }
    Ok(edits)
}

/// The edits that remove what only a lost case has (its loss reason and the stage it was lost
/// from) when case `r` goes to stage `to`, so a case is never won and lost at once.
fn loss_cleared(r: &Record, to: Stage) -> Vec<Edit> {
    if to == Stage::Lost {
        return Vec::new();
    }
    ["loss_reason", "lost_from_stage"]
        .into_iter()
        .filter(|f| r.fields.contains_key(*f))
        .map(|field| Edit::Clear { field })
        .collect()
}

/// The edits that make case `r`, whose concurrent stages were settled as `to`, agree with it:
/// its stage history ends in `to` (a change by `by` at `at` if it did not) and it keeps what
/// only a lost case has only if it is lost.
pub fn stage_settled(r: &Record, to: Stage, at: i64, by: &str) -> Vec<Edit> {
    let last = r.stage_history().last().map(|c| c.stage.clone());
    let mut edits = Vec::new();
    if last.as_deref() != Some(to.key()) {
        edits.push(Edit::AppendStageChange(StageChange {
            stage: to.key().into(),
            from: last,
            at,
            by: by.to_string(),
        }));
    }
    edits.extend(loss_cleared(r, to));
    edits
}

/// The playbook of the case's current stage: each step and whether it is done.
pub fn playbook(settings: &Settings, r: &Record) -> serde_json::Value {
    let Some(stage) = r.str("stage").and_then(|s| s.parse::<Stage>().ok()) else {
        return serde_json::Value::Null;
    };
    let done = r.set("steps_done");
    let steps: Vec<serde_json::Value> = settings
        .steps(stage)
        .iter()
        .map(|st| {
            serde_json::json!({
                "key": st.key, "title": st.title, "required": st.required,
                "done": done.contains(&Settings::done_key(stage, &st.key)),
            })
        })
        .collect();
    serde_json::json!({"stage": stage.key(), "steps": steps})
}

fn print_playbook(playbook: &serde_json::Value, r: &Record) {
    let Some(steps) = playbook["steps"].as_array().filter(|s| !s.is_empty()) else {
        return;
    };
    println!(
        "\nPlaybook of stage {}",
        playbook["stage"].as_str().unwrap_or("")
    );
    for (i, st) in steps.iter().enumerate() {
        println!(
            "  [{}] {}. {}  {}{}",
            if st["done"] == true { "x" } else { " " },
            i + 1,
            st["key"].as_str().unwrap_or(""),
            st["title"].as_str().unwrap_or(""),
            if st["required"] == true {
                " (required)"
            } else {
                ""
            }
        );
    }
    println!(
        "  Tick a step with `crm case check {} STEP`.",
        output::short_id(&r.id.to_string())
    );
}

/// `crm case check ID STEP [--undo]`: ticks a step of the current stage's playbook.
fn check(ctx: &Ctx, c: CheckArgs) -> Result<()> {
    let undo = c.undo;
    record::edit(ctx, KIND, &c.id, |store, r| {
        let stage: Stage = r
            .str("stage")
            .unwrap_or("prospecting")
            .parse()
            .map_err(|e| anyhow::anyhow!("this case's stage cannot be read: {e}"))?;
        let settings = store.settings()?;
        let steps = settings.steps(stage);
        let wanted = c.step.trim();
        let step = match wanted.parse::<usize>() {
            Ok(n) if (1..=steps.len()).contains(&n) => &steps[n - 1],
            _ => steps.iter().find(|s| s.key == wanted).ok_or_else(|| {
                let keys: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
                if keys.is_empty() {
                    anyhow::anyhow!("stage {stage} has no playbook steps")
                } else {
                    anyhow::anyhow!(
                        "stage {stage} has no step `{wanted}` (its steps: {})",
                        keys.join(", ")
                    )
                }
            })?,
        };
        let item = Settings::done_key(stage, &step.key);
        let done = r.set("steps_done").contains(&item);
        Ok(match (undo, done) {
            (false, false) => vec![Edit::AddToSet {
                field: "steps_done",
                item,
            }],
            (true, true) => vec![Edit::RemoveFromSet {
                field: "steps_done",
                item,
            }],
            (false, true) => anyhow::bail!("step `{}` is already done", step.key),
            (true, false) => anyhow::bail!("step `{}` is not done", step.key),
        })
    })
}

/// Rows for a table of cases.
pub fn rows(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    query(store, sql, params, &COLUMNS)
}

pub fn print_rows(rows: &[Row], title: &str, empty: &str) {
    let cells = rows
        .iter()
        .map(|r| {
            let mut cells = row_cells(r, &COLUMNS);
            let currency = Currency::parse(&cells[4]).unwrap_or(Currency::EUR);
            if let Some(minor) = r.get("amount").and_then(|v| v.as_i64()) {
                cells[3] = format!("{} {currency}", format_amount(minor, currency));
            }
            cells.remove(4);
            cells
        })
        .collect();
    let header = ["ID", "TITLE", "STAGE", "AMOUNT", "GRADE", "CLOSE", "OWNER"];
    output::print_section(title, &header, cells, empty);
}

/// The edits of a new case, as `crm case add` and the web UI's new-case form make them: its
/// fields, its first stage (prospecting unless given; never lost) and currency (EUR unless
/// given), and the stage change that starts its history.
pub fn add_edits(s: &Store, f: &CaseFields, now_ms: i64) -> Result<Vec<Edit>> {
    let stage: Stage = f.stage.as_deref().unwrap_or("prospecting").parse()?;
    if stage == Stage::Lost {
        anyhow::bail!("a case is lost with a reason: add it at the stage it reached, then `crm case move ID --stage lost --reason \"...\"`");
    }
    let mut edits = edits(s, f, None)?;
    if f.stage.is_none() {
        edits.push(Edit::Set {
            field: "stage",
            value: Scalar::Str(stage.key().into()),
        });
    }
    if f.currency.is_none() {
        edits.push(Edit::Set {
            field: "currency",
            value: Scalar::Str(Currency::EUR.to_string()),
        });
    }
    edits.push(Edit::AppendStageChange(StageChange {
        stage: stage.key().into(),
        from: None,
        at: now_ms,
        by: s.identity.user.clone(),
    }));
    Ok(edits)
}
