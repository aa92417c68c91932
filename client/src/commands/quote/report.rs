//! `crm quote report --by owner|month|status`: quotes sent and accepted, the acceptance rate
//! and the average discount, per group. A revision replaced by a newer one is not counted.

use super::snapshot::Snapshot;
use super::{quotes_where, Ctx};
use crate::output;
use anyhow::Result;
use std::collections::BTreeMap;

/// One group's figures.
#[derive(Debug, Default, serde::Serialize)]
pub struct Group {
    pub group: String,
    pub quotes: u64,
    pub sent: u64,
    pub accepted: u64,
    /// Accepted of sent, in percent.
    pub acceptance_rate: Option<f64>,
    /// Discount given of the list value, in percent, over the sent quotes.
    pub average_discount: Option<f64>,
    #[serde(skip)]
    list_value: i64,
    #[serde(skip)]
    discount: i64,
}

pub fn run(ctx: &Ctx, by: &str) -> Result<()> {
    let store = ctx.open()?;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for q in quotes_where(&store, None)? {
        let status = q.str("status").unwrap_or("draft");
        if status == "superseded" {
            continue;
        }
        let key = match by {
            "owner" => q.owner.clone(),
            "status" => status.to_string(),
            "month" => q.str("quote_date").unwrap_or("").chars().take(7).collect(),
            other => anyhow::bail!("--by {other:?} is not one of owner, month, status"),
        };
        let g = groups.entry(key.clone()).or_default();
        g.group = key;
        g.quotes += 1;
        if status != "draft" {
            g.sent += 1;
            let (totals, _) = Snapshot::now(&store, q.id)?.compute()?;
            g.list_value += totals.net + totals.discount;
            g.discount += totals.discount;
        }
        if status == "accepted" {
            g.accepted += 1;
        }
    }
    let rows: Vec<Group> = groups
        .into_values()
        .map(|mut g| {
            g.acceptance_rate = (g.sent > 0).then(|| 100.0 * g.accepted as f64 / g.sent as f64);
            g.average_discount =
                (g.list_value > 0).then(|| 100.0 * g.discount as f64 / g.list_value as f64);
            g
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    let mut t = output::table(&[
        &by.to_uppercase(),
        "QUOTES",
        "SENT",
        "ACCEPTED",
        "RATE",
        "AVG DISCOUNT",
    ]);
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}%"));
    for g in &rows {
        t.add_row(vec![
            g.group.clone(),
            g.quotes.to_string(),
            g.sent.to_string(),
            g.accepted.to_string(),
            pct(g.acceptance_rate),
            pct(g.average_discount),
        ]);
    }
    output::print_table(t, "No quotes yet.");
    Ok(())
}
