//! `crm case ...`: cases (opportunities) and stage moves.

use super::edits::EditBuilder;
use super::rows::{query, row_cells, Row};
use super::{show, Ctx};
use crate::cli::{CaseCommand, CaseFields, MoveArgs};
use crate::output;
use crate::store::{fts_query, Store};
use anyhow::Result;
use crm_shared::schema::{Edit, Record, Scalar, StageChange};
use crm_shared::values::{format_amount, parse_date, Currency};
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
        CaseCommand::Add(f) => show::add(ctx, KIND, |s| {
            let mut edits = edits(s, &f, None)?;
            let stage: Stage = f.stage.as_deref().unwrap_or("prospecting").parse()?;
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
                at: ctx.now_ms,
                by: s.identity.user.clone(),
            }));
            Ok(edits)
        }),
        CaseCommand::Edit(e) => show::edit(ctx, KIND, &e.id, |s, r| {
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
        CaseCommand::Rm(a) => show::rm(ctx, KIND, a),
        CaseCommand::Show(a) => {
            let store = ctx.open()?;
            let (id, _) = store.resolve(&a.id, Some(KIND))?;
            let record = store.record(id)?;
            let activities = super::activity::rows(
                &store,
                "SELECT id, at, kind, subject, status, owner FROM rm_activities WHERE case_id = ?1 AND deleted = 0 ORDER BY at DESC LIMIT 50",
                &[Value::Text(id.to_string())],
            )?;
            show::show(
                ctx,
                &store,
                &record,
                serde_json::json!({"activities": activities}),
            )?;
            if !ctx.json {
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
            if let Some(g) = &a.grade {
                filter(&mut sql, "c.grade =", g.to_ascii_uppercase());
            }
            if let Some(r) = &a.region {
                filter(&mut sql, "c.region COLLATE NOCASE =", r.clone());
            }
            if let Some(d) = &a.closing_before {
                filter(&mut sql, "c.close_date <", parse_date(d)?.to_string());
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
            sql.push_str(&format!(
                " ORDER BY c.close_date IS NULL, c.close_date, c.title LIMIT {}",
                a.list.limit
            ));
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
            let rows = query(&store, &sql, &params, &cols)?;
            if ctx.json {
                return output::json(&rows);
            }
            print_rows(&rows, "", "No cases found.");
            Ok(())
        }
    }
}

fn edits(store: &Store, f: &CaseFields, existing: Option<&Record>) -> Result<Vec<Edit>> {
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

/// `crm case move ID --stage S [--reason R]`: records the move in the stage history; a lost case
/// keeps its last open stage and the reason; won and lost set the close date to today.
fn move_stage(ctx: &Ctx, m: MoveArgs) -> Result<()> {
    let to: Stage = m.stage.parse()?;
    let reason = m.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if to == Stage::Lost && reason.is_none() {
        anyhow::bail!("moving a case to lost needs a reason: add --reason \"...\"");
    }
    show::edit(ctx, KIND, &m.id, |store, r| {
        let from = r.str("stage").and_then(|s| s.parse::<Stage>().ok());
        if from == Some(to) {
            anyhow::bail!("case \"{}\" is already in stage {to}", r.title());
        }
        let mut edits = vec![
            Edit::Set {
                field: "stage",
                value: Scalar::Str(to.key().into()),
            },
            Edit::AppendStageChange(StageChange {
                stage: to.key().into(),
                from: from.map(|s| s.key().to_string()),
                at: ctx.now_ms,
                by: store.identity.user.clone(),
            }),
        ];
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
                value: Scalar::Str(ctx.today.to_string()),
            });
        }
        Ok(edits)
    })
}

/// Rows for a table of cases.
pub fn rows(store: &Store, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    query(store, sql, params, &COLUMNS)
}

pub fn print_rows(rows: &[Row], title: &str, empty: &str) {
    if rows.is_empty() && empty.is_empty() {
        return;
    }
    if !title.is_empty() {
        println!("{title}");
    }
    let mut t = output::table(&["ID", "TITLE", "STAGE", "AMOUNT", "GRADE", "CLOSE", "OWNER"]);
    for r in rows {
        let mut cells = row_cells(r, &COLUMNS);
        let currency = Currency::parse(&cells[4]).unwrap_or(Currency::EUR);
        if let Some(minor) = r.get("amount").and_then(|v| v.as_i64()) {
            cells[3] = format!("{} {currency}", format_amount(minor, currency));
        }
        cells.remove(4);
        t.add_row(cells);
    }
    output::print_table(t, empty);
}
