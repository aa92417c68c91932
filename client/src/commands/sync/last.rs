//! The outcome of the last `crm sync`, kept in the data dir (`last-sync.json`): when it ended,
//! with which server, what it brought, and the records that did not travel with why and what to
//! do. The web UI's sync page shows it; each `crm sync` replaces it.

use super::outcome::Outcome;
use crate::session::SyncReport;
use anyhow::{Context, Result};
use std::path::Path;

/// The file's name in the data dir.
pub const LAST_SYNC_FILE: &str = "last-sync.json";

/// Keeps the outcome of a sync that ended at `at_ms`, replacing the earlier one whole (written
/// to a temporary file, then renamed over it).
pub fn keep(dir: &Path, at_ms: i64, report: &SyncReport, told: &Outcome) -> Result<()> {
    let value = serde_json::json!({
        "at_ms": at_ms,
        "report": report,
        "records": told.groups,
        "likely_duplicates": told.duplicates,
    });
    let path = dir.join(LAST_SYNC_FILE);
    let tmp = dir.join(format!("{LAST_SYNC_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&value)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The outcome of the last sync, if one was kept (an unreadable file reads as none: the next
/// sync replaces it).
pub fn read(dir: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(dir.join(LAST_SYNC_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}
