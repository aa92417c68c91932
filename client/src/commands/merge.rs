//! `crm merge --from DIR`: merge another replica's records into this one.

use super::Ctx;
use crate::cli::MergeArgs;
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};

pub fn run(ctx: &Ctx, a: MergeArgs) -> Result<()> {
    let mut store = ctx.open()?;
    let other = Store::open(&a.from, &mut |_, _| {}).with_context(|| {
        format!(
            "cannot read the data dir to merge from, {}",
            a.from.display()
        )
    })?;
    if other.path() == store.path() {
        anyhow::bail!("--from names this same data dir");
    }
    let docs = other.export_all()?;
    let bar = indicatif::ProgressBar::new(docs.len() as u64);
    if ctx.json || docs.len() < 1000 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut changed = 0u64;
    let mut attention = Vec::new();
    let mut arrived = Vec::new();
    for (id, bytes) in &docs {
        let (did, why) = store.merge_document(*id, bytes)?;
        changed += u64::from(did);
        if did {
            arrived.push(*id);
        }
        if let Some(why) = why {
            attention.push((*id, why));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Only contacts and organizations have match keys: the others find no pair.
    let flagged = store.flag_duplicates(&arrived, ctx.now_ms)?;
    if ctx.json {
        let attention: Vec<_> = attention
            .iter()
            .map(|(id, why)| serde_json::json!({"id": id.to_string(), "why": why}))
            .collect();
        return output::json(&serde_json::json!({
            "examined": docs.len(), "changed": changed, "attention": attention,
            "likely_duplicates": flagged.len(),
        }));
    }
    println!(
        "Merged {} from {}: {changed} changed here.",
        output::records(docs.len() as u64),
        a.from.display()
    );
    for (id, why) in &attention {
        let shown = super::record::ref_name(&store, &id.to_string());
        let kind = store
            .record(*id)
            .map(|r| r.kind.as_str())
            .unwrap_or("record");
        println!(
            "To settle: {kind} {shown}: {}.",
            why.replace("ID", &id.to_string())
        );
    }
    if let Some(line) = super::duplicates::flagged_line(&store, &flagged) {
        println!("{line}");
    }
    Ok(())
}
