//! Books (territories) on this laptop: the book new records go into, and moving every record of
//! one book to another in one transaction.

use super::{documents, read_model, Store};
use crate::error::StoreError;
use crm_shared::schema::{self, Edit, Record};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::TransactionBehavior;
use std::collections::HashSet;

impl Store {
    /// Puts new records into `book` from now on (records already made keep theirs).
    pub fn set_book(&mut self, book: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('book', ?1)",
            [book],
        )?;
        self.identity.book = book.to_string();
        Ok(())
    }

    /// The documents the server `server` has acknowledged holding (a saved sync state shows
    /// heads both sides share): it judges a change of their book as a move.
    pub fn held_by_server(&self, server: &str) -> Result<HashSet<DocumentId>, StoreError> {
        Ok(self
            .sync_states(server)?
            .into_iter()
            .filter(|(_, state)| {
                automerge::sync::State::decode(state).is_ok_and(|s| !s.shared_heads.is_empty())
            })
            .map(|(id, _)| id)
            .collect())
    }

    /// Moves every record of book `from` to book `to`, but those in `keep`, in one transaction.
    /// Returns the records moved (as they are now) and the records of `from` kept.
    pub fn move_book(
        &mut self,
        from: &str,
        to: &str,
        keep: &HashSet<DocumentId>,
        now_ms: i64,
    ) -> Result<(Vec<Record>, Vec<Record>), StoreError> {
        let actor = self.identity.actor();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = super::author_now(&self.identity, &self.path);
        let rows: Vec<(i64, String)> = tx
            .prepare("SELECT n, id FROM documents WHERE type != ?1 ORDER BY n")?
            .query_map([RecordKind::Settings.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let (mut moved, mut kept) = (Vec::new(), Vec::new());
        for (n, id) in rows {
            let Ok(id) = id.parse::<DocumentId>() else {
                continue;
            };
            let mut doc = documents::load(&tx, n, id)?;
            let record = schema::read_record(id, doc.document(), None)?;
            if record.book != from {
                continue;
            }
            if keep.contains(&id) {
                kept.push(record);
                continue;
            }
            doc.set_actor(actor.clone());
            let heads = doc.get_heads();
            schema::apply_edits_and_commit(
                &mut doc,
                record.kind,
                &[Edit::SetBook(to.to_string())],
                &author,
                now_ms,
            )?;
            documents::append(&tx, n, &mut doc, &heads)?;
            read_model::upsert(&tx, n, doc.document(), id)?;
            moved.push(schema::read_record(id, doc.document(), None)?);
        }
        tx.commit()?;
        Ok((moved, kept))
    }
}
