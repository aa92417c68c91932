//! Many records created and edited in one write transaction (`crm import`): all of them are
//! saved, with their read model, or none is.

use super::{author_now, documents, edit_in, read_model, Identity, Store};
use crate::error::StoreError;
use crm_shared::schema::{self, ChangeAuthor, Edit, NewRecord};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{Transaction, TransactionBehavior};

/// An open write transaction of a store. Dropped without [`Batch::commit`], it changes nothing.
pub struct Batch<'s> {
    tx: Transaction<'s>,
    identity: &'s Identity,
    author: ChangeAuthor,
    now_ms: i64,
}

impl Store {
    /// Begins a batch of writes made at `now_ms`.
    pub fn batch(&mut self, now_ms: i64) -> Result<Batch<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        Ok(Batch {
            tx,
            identity: &self.identity,
            author,
            now_ms,
        })
    }
}

impl Batch<'_> {
    /// Creates a record owned by this data dir's user, in its book. A record the edits leave
    /// invalid is refused before anything of it is written.
    pub fn create(
        &mut self,
        kind: RecordKind,
        id: DocumentId,
        edits: &[Edit],
    ) -> Result<(), StoreError> {
        let book = self.identity.book.clone();
        self.create_in(kind, id, &book, edits)
    }

    /// [`Batch::create`] in `book` rather than this data dir's (a product in the catalogue, a
    /// quote's revision in its case's book).
    pub fn create_in(
        &mut self,
        kind: RecordKind,
        id: DocumentId,
        book: &str,
        edits: &[Edit],
    ) -> Result<(), StoreError> {
        let new = NewRecord {
            id,
            kind,
            created_at: self.now_ms,
            created_by: self.identity.user.clone(),
            owner: self.identity.user.clone(),
            book: book.to_string(),
        };
        let mut doc = schema::create_record(
            &new,
            edits,
            self.identity.actor(),
            &self.author,
            self.now_ms,
        )?;
        let n = documents::insert(&self.tx, id, kind, &mut doc)?;
        read_model::upsert(&self.tx, n, doc.document(), id)?;
        Ok(())
    }

    /// Applies `edits` to an existing record; returns whether it changed.
    pub fn edit(&mut self, id: DocumentId, edits: Vec<Edit>) -> Result<bool, StoreError> {
        let n = documents::number(&self.tx, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
        let (_, changed) = edit_in(
            &self.tx,
            self.identity,
            &self.author,
            n,
            id,
            self.now_ms,
            |_| Ok(edits),
        )?;
        Ok(changed)
    }

    /// Saves everything the batch wrote.
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit()?;
        Ok(())
    }
}
