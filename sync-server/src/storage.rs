//! Where the server keeps documents: a [`Storage`] trait and its embedded SQLite implementation.
//!
//! A document is stored as a snapshot plus incremental chunks appended as changes arrive.
//! [`Storage::append`] writes a whole batch in one transaction and returns only once it is durable
//! (`synchronous=FULL`): this is the group commit behind "relay or acknowledge only what is on
//! disk". [`Storage::compact`] folds a document's chunks into a new snapshot in one transaction, so a
//! crash at any point leaves either the old or the new state.
//!
//! The trait keeps the server independent of SQLite so that a shared database (PostgreSQL) can
//! back several server nodes later.

mod sqlite;

pub use crm_shared::heads::{decode_heads, encode_heads};
pub use sqlite::SqliteStorage;

use automerge::ChangeHash;
use crm_shared::DocumentId;

/// A storage failure. The server logs it and does not acknowledge what it failed to store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open storage at {path}: {cause}")]
    Open { path: String, cause: String },
    #[error("stored document {0} is damaged: {1}")]
    Damaged(DocumentId, String),
}

/// One document's new data in a batch: changes to append and the heads they lead to.
#[derive(Debug, Clone)]
pub struct Append {
    pub document_id: DocumentId,
    pub changes: Vec<u8>,
    pub heads: Vec<ChangeHash>,
}

/// Document storage.
pub trait Storage: Send {
    /// Every stored document and its heads, to seed the sync engine's catalog at start-up.
    fn catalog(&mut self) -> Result<Vec<(DocumentId, Vec<ChangeHash>)>, StorageError>;
    /// The stored bytes of a document (a snapshot followed by change chunks), if any.
    fn load(&mut self, id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError>;
    /// Appends every item in one durable transaction.
    fn append(&mut self, items: &[Append]) -> Result<(), StorageError>;
    /// Documents with at least `min_chunks` chunks waiting to be folded into their snapshot.
    fn needs_compaction(
        &mut self,
        min_chunks: u32,
        limit: u32,
    ) -> Result<Vec<DocumentId>, StorageError>;
    /// Replaces a document's snapshot and chunks with one snapshot, atomically.
    fn compact(&mut self, id: &DocumentId) -> Result<(), StorageError>;
}
