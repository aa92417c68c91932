//! Where the server learns documents' books, besides screening: stored documents whose book is
//! not recorded yet (at start-up), and what happens around the store of a round's changes.
//!
//! Once a move is applied and stored, the book automerge shows (after concurrent moves, the same
//! value on every replica) is recorded: access follows at once. It is recorded before the changes
//! are stored: should the server stop in between, the mover's client, never acknowledged, sends
//! the move again.

use super::Access;
use crate::directory::{Directory, DirectoryError};
use crate::storage::{SqliteStorage, Storage};
use crm_shared::engine::Engine;
use crm_shared::schema::book_of_document;
use crm_shared::DocumentId;
use std::collections::HashSet;

/// A document whose book changed: its id and the book it shows now (`None`: no book).
pub type Move = (DocumentId, Option<String>);

/// Before the changes of `stored` documents are stored: for those whose root `book` incoming
/// changes touched (`touched`, which forgets them here), records in the directory the book
/// automerge now shows where it differs from the recorded one, and returns these moves. Documents
/// stored for the first time without having been screened (open mode, or a document whose first
/// changes named no book yet) get their book learned from the copy in memory, so a restart never
/// has to read every stored document to learn them.
pub fn before_store(
    access: &Access,
    directory: &mut Directory,
    engine: &Engine,
    touched: &mut HashSet<DocumentId>,
    stored: &[DocumentId],
) -> Result<Vec<Move>, DirectoryError> {
    let mut moves = Vec::new();
    if !touched.is_empty() {
        for id in stored {
            if !touched.remove(id) {
                continue;
            }
            let now = engine.document(id).and_then(book_of_document);
            if now != access.recorded_book(id) {
                moves.push((*id, now));
            }
        }
        if !moves.is_empty() {
            directory.move_doc_books(&moves)?;
        }
    }
    for id in stored {
        if !access.knows_book(id) {
            if let Some(book) = engine.document(id).and_then(book_of_document) {
                access.learn(*id, book);
            }
        }
    }
    Ok(moves)
}

/// Once the changes are stored: access follows the moves. Returns the documents that moved (the
/// hub offers them to every peer that may read them now).
pub fn after_store(access: &Access, moves: Vec<Move>) -> Vec<DocumentId> {
    let mut moved = Vec::with_capacity(moves.len());
    for (id, book) in moves {
        let from = access.rebook(id, book.clone());
        tracing::info!(document = %id, from = ?from, to = ?book, "document moved to another book");
        moved.push(id);
    }
    moved
}

/// Records the book of stored documents that have none recorded (a crash between storing a
/// document and recording its book, or a store from before books).
pub fn backfill(
    directory: &Directory,
    access: &Access,
    storage: &std::path::Path,
) -> anyhow::Result<()> {
    let missing = directory.docs_without_book()?;
    if missing.is_empty() {
        return Ok(());
    }
    let mut store = SqliteStorage::open(storage)?;
    let mut found = Vec::new();
    for id in missing {
        if let Some(bytes) = store.load(&id)? {
            if let Ok(doc) = automerge::Automerge::load(&bytes) {
                if let Some(book) = book_of_document(&doc) {
                    found.push((id, book));
                }
            }
        }
    }
    for (id, book) in &found {
        access.learn(*id, book.clone());
    }
    let mut d = Directory::open(storage)?;
    d.set_doc_books(&access.take_new_books())?;
    tracing::info!(
        documents = found.len(),
        "recorded the books of stored documents"
    );
    Ok(())
}
