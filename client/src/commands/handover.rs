//! `crm handover --from A --to B`: an absent rep's open activities (and optionally cases) go to a
//! colleague. Each record records who handed it over (`handed_over_from`); edits the absent rep
//! made offline at the same time still merge when they arrive, and are listed as handover edits
//! (`crm conflicts`, `crm ... show`) so nothing is lost or missed.

use super::rows::query;
use super::Ctx;
use crate::cli::HandoverArgs;
use crate::output;
use anyhow::Result;
use crm_shared::schema::{Edit, Scalar};
use crm_shared::values::UserName;
use crm_shared::DocumentId;
use rusqlite::types::Value;

pub fn run(ctx: &Ctx, a: HandoverArgs) -> Result<()> {
    let from = UserName::parse(&a.from)?.to_string();
    let to = UserName::parse(&a.to)?.to_string();
    if from == to {
        anyhow::bail!("--from and --to name the same user");
    }
    let mut store = ctx.open()?;
    if from != store.identity.user {
        super::roles::require_manager(ctx, &store, "hands over another rep's work")?;
    }
    store.warn_if_unknown_user(&to)?;
    let mut sql = String::from(
        "SELECT id, at, kind, subject FROM rm_activities WHERE owner = ?1 AND deleted = 0 AND status = 'planned'",
    );
    let mut params = vec![Value::Text(from.clone())];
    if let Some(d) = &a.from_date {
        params.push(Value::Text(store.dates.day(d)?.to_string()));
        sql.push_str(&format!(" AND at >= ?{}", params.len()));
    }
    if let Some(d) = &a.to_date {
        params.push(Value::Text(format!("{}T99", store.dates.day(d)?)));
        sql.push_str(&format!(" AND at < ?{}", params.len()));
    }
    sql.push_str(" ORDER BY at, id");
    let activities = query(&store, &sql, &params, &["id", "at", "kind", "subject"])?;
    let cases = if a.cases {
        query(
            &store,
            "SELECT id, close_date, stage, title FROM rm_cases WHERE owner = ?1 AND deleted = 0 AND stage NOT IN ('won', 'lost') ORDER BY close_date, id",
            &[Value::Text(from.clone())],
            &["id", "at", "kind", "subject"],
        )?
    } else {
        Vec::new()
    };
    for r in activities.iter().chain(&cases) {
        let id: DocumentId = r["id"].as_str().unwrap_or("").parse()?;
        let (from, to) = (from.clone(), to.clone());
        store.edit(id, ctx.now_ms, move |_| {
            Ok(vec![
                Edit::SetOwner(to),
                Edit::Set {
                    field: "handed_over_from",
                    value: Scalar::Str(from),
                },
            ])
        })?;
    }
    let ids = |rows: &[super::rows::Row]| -> Vec<serde_json::Value> {
        rows.iter().map(|r| r["id"].clone()).collect()
    };
    if ctx.json {
        return output::json(&serde_json::json!({
            "from": from, "to": to, "activities": ids(&activities), "cases": ids(&cases),
        }));
    }
    println!(
        "Handed {} activities{} of {from} over to {to}.",
        activities.len(),
        if a.cases {
            format!(" and {} cases", cases.len())
        } else {
            String::new()
        }
    );
    if !activities.is_empty() || !cases.is_empty() {
        let mut t = output::table(&["ID", "WHEN", "WHAT", "SUBJECT"]);
        for r in activities.iter().chain(&cases) {
            t.add_row(super::rows::row_cells(r, &["id", "at", "kind", "subject"]));
        }
        println!("{t}");
    }
    println!("Edits {from} makes offline to these meanwhile will still merge; `crm conflicts` lists them.");
    Ok(())
}
