//! Which records `crm sync` has already named as no longer shared with us, so that it names each
//! once (later syncs count them in one line) and names it again if it comes back and goes again.

use super::Store;
use crate::error::StoreError;
use crm_shared::DocumentId;
use rusqlite::TransactionBehavior;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_notices (
    doc TEXT PRIMARY KEY,
    told_at INTEGER NOT NULL
);
";

impl Store {
    /// Records the unshared records of a sync as told, forgets those that synced again, and
    /// returns those of `unshared` not told before.
    pub fn tell_unshared(
        &mut self,
        unshared: &[DocumentId],
        now_ms: i64,
    ) -> Result<Vec<DocumentId>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        let mut fresh = Vec::new();
        {
            let mut told: Vec<String> = tx
                .prepare("SELECT doc FROM sync_notices")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let now: Vec<String> = unshared.iter().map(ToString::to_string).collect();
            told.retain(|d| !now.contains(d));
            for gone in told {
                tx.execute("DELETE FROM sync_notices WHERE doc = ?1", [gone])?;
            }
            let mut insert =
                tx.prepare("INSERT OR IGNORE INTO sync_notices(doc, told_at) VALUES (?1, ?2)")?;
            for (id, text) in unshared.iter().zip(&now) {
                if insert.execute((text, now_ms))? == 1 {
                    fresh.push(*id);
                }
            }
        }
        tx.commit()?;
        Ok(fresh)
    }
}
