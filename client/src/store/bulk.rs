//! Many records created or edited in one transaction: a repeating activity's occurrences, and
//! bulk edits of ids read from stdin (all or nothing).

use super::{author_now, documents, edit_in, read_model, Store};
use crate::error::StoreError;
use crm_shared::schema::{self, Edit, NewRecord, Record};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::TransactionBehavior;

impl Store {
    /// Creates records of `kind` (each id with its edits) in one transaction.
    pub fn create_many(
        &mut self,
        kind: RecordKind,
        records: &[(DocumentId, Vec<Edit>)],
        now_ms: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        let mut made = Vec::with_capacity(records.len());
        for (id, edits) in records {
            let new = NewRecord {
                id: *id,
                kind,
                created_at: now_ms,
                created_by: self.identity.user.clone(),
                owner: self.identity.user.clone(),
                book: self.identity.book.clone(),
            };
            let mut doc =
                schema::create_record(&new, edits, self.identity.actor(), &author, now_ms)?;
            let n = documents::insert(&tx, *id, kind, &mut doc)?;
            read_model::upsert(&tx, n, doc.document(), *id)?;
            made.push(schema::read_record(*id, doc.document(), None)?);
        }
        tx.commit()?;
        Ok(made)
    }

    /// Applies each record's edits in one transaction: every record changes, or none does.
    /// Returns the records as they are after it.
    pub fn edit_many(
        &mut self,
        edits: Vec<(DocumentId, Vec<Edit>)>,
        now_ms: i64,
    ) -> Result<Vec<Record>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        let mut out = Vec::with_capacity(edits.len());
        for (id, e) in edits {
            let n = documents::number(&tx, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
            let (record, _) = edit_in(&tx, &self.identity, &author, n, id, now_ms, |_| Ok(e))?;
            out.push(record);
        }
        tx.commit()?;
        Ok(out)
    }
}
