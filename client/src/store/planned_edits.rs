//! Edits to several records in one write transaction (a merge of records and its undoing): the
//! plan is made from the records as read inside the transaction, so no other `crm` process
//! changes them in between, and every record's change names what was done.

use super::{author_now, documents, edit_in, Store};
use crate::error::StoreError;
use automerge::AutoCommit;
use crm_shared::schema::{self, Edit, Record};
use crm_shared::DocumentId;
use rusqlite::{Connection, TransactionBehavior};

/// What a plan may read inside the transaction.
pub struct Reading<'a> {
    conn: &'a Connection,
}

impl Reading<'_> {
    /// A record's document.
    pub fn doc(&self, id: DocumentId) -> Result<AutoCommit, StoreError> {
        let n = documents::number(self.conn, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
        documents::load(self.conn, n, id)
    }

    /// A record as it is now.
    pub fn record(&self, id: DocumentId) -> Result<Record, StoreError> {
        let mut doc = self.doc(id)?;
        Ok(schema::read_record(id, doc.document(), None)?)
    }

    /// The records whose fields point at `id` (cases, activities, relationships, an
    /// organization's contacts and child organizations), removed ones too.
    pub fn pointing_at(&self, id: DocumentId) -> Result<Vec<DocumentId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT case_id FROM rm_case_contacts WHERE contact_id = ?1
             UNION SELECT id FROM rm_activities WHERE contact_id = ?1
             UNION SELECT id FROM rm_activities WHERE org_id = ?1
             UNION SELECT id FROM rm_relationships WHERE from_id = ?1
             UNION SELECT id FROM rm_relationships WHERE to_id = ?1
             UNION SELECT id FROM rm_cases WHERE org_id = ?1
             UNION SELECT contact_id FROM rm_contact_orgs WHERE org_id = ?1
             UNION SELECT id FROM rm_orgs WHERE parent = ?1",
        )?;
        let ids = stmt
            .query_map([id.to_string()], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().filter_map(|s| s.parse().ok()).collect())
    }
}

impl Store {
    /// Reads as a plan does, outside any write (for a dry run).
    pub fn reading(&self) -> Reading<'_> {
        Reading { conn: &self.conn }
    }

    /// Reads with `plan`, then applies the edits it returns to their records, each record's as
    /// one change whose message says `action`, all in ONE transaction. Returns the plan's other
    /// output and the records changed, as they are after.
    pub fn edit_records<T, F>(
        &mut self,
        now_ms: i64,
        action: &str,
        plan: F,
    ) -> Result<(T, Vec<Record>), StoreError>
    where
        F: FnOnce(&Reading<'_>) -> Result<(T, Vec<(DocumentId, Vec<Edit>)>), StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (out, edits) = plan(&Reading { conn: &tx })?;
        let mut author = author_now(&self.identity, &self.path);
        author.action = Some(action.to_string());
        let mut changed = Vec::new();
        for (id, edits) in edits {
            let n = documents::number(&tx, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
            let (record, did) =
                edit_in(&tx, &self.identity, &author, n, id, now_ms, |_| Ok(edits))?;
            if did {
                changed.push(record);
            }
        }
        tx.commit()?;
        Ok((out, changed))
    }
}
