//! `crm rebuild`: the read model (lists, search, agenda, reports) derived again from the documents.

use super::Ctx;
use crate::output;
use anyhow::Result;

/// Rebuilds the read model with a progress bar; prints how many documents it read.
pub fn run(ctx: &Ctx) -> Result<()> {
    let mut store = ctx.open()?;
    let bar = indicatif::ProgressBar::new(0);
    let n = store.rebuild_read_model(&mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if ctx.json {
        return output::json(&serde_json::json!({"documents": n}));
    }
    println!("Rebuilt the read model from {n} documents.");
    Ok(())
}
