//! Two small lookups of the read model: the ids records have in other products' files
//! (`rm_external_ids`, for `crm import`), and the pairs dismissed as not duplicates
//! (`rm_distinct`, left out by `crm duplicates`).

use crate::error::StoreError;
use crm_shared::schema::{Record, EXTERNAL_IDS_FIELD};
use crm_shared::DocumentId;
use rusqlite::Connection;

/// Writes the external ids of record `id` (none unless it is listed); `fresh` as for `write`.
pub fn write_external_ids(
    conn: &Connection,
    id: &str,
    r: &Record,
    fresh: bool,
) -> Result<(), StoreError> {
    if !fresh {
        conn.prepare_cached("DELETE FROM rm_external_ids WHERE id = ?1")?
            .execute([id])?;
    }
    if !r.is_listed() {
        return Ok(());
    }
    for uid in r.set(EXTERNAL_IDS_FIELD) {
        conn.prepare_cached("INSERT OR IGNORE INTO rm_external_ids VALUES (?1, ?2, ?3)")?
            .execute((uid, id, r.kind.as_str()))?;
    }
    Ok(())
}

/// Writes the records `id` is dismissed as a duplicate of; `fresh` as for `write`.
pub fn write_distinct(
    conn: &Connection,
    id: &str,
    others: &[DocumentId],
    fresh: bool,
) -> Result<(), StoreError> {
    if !fresh {
        conn.prepare_cached("DELETE FROM rm_distinct WHERE id = ?1")?
            .execute([id])?;
    }
    for other in others {
        conn.prepare_cached("INSERT OR IGNORE INTO rm_distinct VALUES (?1, ?2)")?
            .execute((id, other.to_string()))?;
    }
    Ok(())
}
