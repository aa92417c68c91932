//! The embedded default storage: one SQLite file.

use super::{decode_heads, encode_heads, Append, Storage, StorageError};
use automerge::{Automerge, ChangeHash};
use crm_shared::DocumentId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    snapshot BLOB NOT NULL,
    heads BLOB NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_chunks ON documents(chunks) WHERE chunks > 0;
";

/// Documents in one SQLite file (WAL, `synchronous=FULL`).
pub struct SqliteStorage {
    conn: Connection,
}

impl SqliteStorage {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let open_err = |e: rusqlite::Error| StorageError::Open {
            path: path.display().to_string(),
            cause: e.to_string(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        Ok(SqliteStorage { conn })
    }

    /// An online, consistent copy of the database (SQLite's `VACUUM INTO`).
    pub fn backup_to(&self, target: &Path) -> Result<(), StorageError> {
        self.conn
            .execute("VACUUM INTO ?1", [target.display().to_string()])?;
        Ok(())
    }
}

impl Storage for SqliteStorage {
    fn catalog(&mut self) -> Result<Vec<(DocumentId, Vec<ChangeHash>)>, StorageError> {
        let mut stmt = self.conn.prepare("SELECT id, heads FROM documents")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, heads) = row?;
            if let Ok(id) = id.parse() {
                out.push((id, decode_heads(&heads)));
            }
        }
        Ok(out)
    }

    fn load(&mut self, id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError> {
        let key = id.to_string();
        let Some(mut bytes) = self
            .conn
            .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
            .query_row([&key], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM chunks WHERE id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([&key])?;
        while let Some(row) = rows.next()? {
            bytes.extend_from_slice(&row.get::<_, Vec<u8>>(0)?);
        }
        Ok(Some(bytes))
    }

    fn append(&mut self, items: &[Append]) -> Result<(), StorageError> {
        if items.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for item in items {
            let key = item.document_id.to_string();
            let heads = encode_heads(&item.heads);
            let seq: Option<i64> = tx
                .prepare_cached("SELECT chunks FROM documents WHERE id = ?1")?
                .query_row([&key], |r| r.get(0))
                .optional()?;
            match seq {
                None => {
                    // The first data of a document becomes its snapshot.
                    tx.prepare_cached(
                        "INSERT INTO documents(id, snapshot, heads, chunks) VALUES (?1, ?2, ?3, 0)",
                    )?
                    .execute((&key, &item.changes, &heads))?;
                }
                Some(n) => {
                    tx.prepare_cached("INSERT INTO chunks(id, seq, data) VALUES (?1, ?2, ?3)")?
                        .execute((&key, n + 1, &item.changes))?;
                    tx.prepare_cached(
                        "UPDATE documents SET chunks = ?2, heads = ?3 WHERE id = ?1",
                    )?
                    .execute((&key, n + 1, &heads))?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn needs_compaction(
        &mut self,
        min_chunks: u32,
        limit: u32,
    ) -> Result<Vec<DocumentId>, StorageError> {
        // `chunks > 0` lets SQLite use the partial index `documents_chunks` (it cannot prove
        // `chunks >= ?1` implies it): without, every tick scans the whole table.
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM documents WHERE chunks > 0 AND chunks >= ?1
             ORDER BY chunks DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map((min_chunks, limit), |r| r.get::<_, String>(0))?;
        Ok(rows
            .filter_map(|r| r.ok())
            .filter_map(|id| id.parse().ok())
            .collect())
    }

    fn compact(&mut self, id: &DocumentId) -> Result<(), StorageError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = id.to_string();
        let snapshot: Option<Vec<u8>> = tx
            .query_row(
                "SELECT snapshot FROM documents WHERE id = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()?;
        let Some(mut bytes) = snapshot else {
            return Ok(());
        };
        {
            let mut stmt = tx.prepare("SELECT data FROM chunks WHERE id = ?1 ORDER BY seq")?;
            let mut rows = stmt.query([&key])?;
            while let Some(row) = rows.next()? {
                bytes.extend_from_slice(&row.get::<_, Vec<u8>>(0)?);
            }
        }
        let doc = Automerge::load(&bytes).map_err(|e| StorageError::Damaged(*id, e.to_string()))?;
        let heads = encode_heads(&doc.get_heads());
        let saved = doc.save();
        tx.execute("DELETE FROM chunks WHERE id = ?1", [&key])?;
        tx.execute(
            "UPDATE documents SET snapshot = ?2, heads = ?3, chunks = 0 WHERE id = ?1",
            (&key, saved, heads),
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn doc_id(n: u8) -> DocumentId {
        DocumentId::from_random([n; 16])
    }

    #[test]
    fn appends_load_back_and_compact_to_the_same_document() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStorage::open(&dir.path().join("s.sqlite3")).unwrap();
        let id = doc_id(1);
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "name", "Acme").unwrap();
        s.append(&[Append {
            document_id: id,
            changes: doc.save_incremental(),
            heads: doc.get_heads(),
        }])
        .unwrap();
        for i in 0..5 {
            doc.put(ROOT, "n", i).unwrap();
            s.append(&[Append {
                document_id: id,
                changes: doc.save_incremental(),
                heads: doc.get_heads(),
            }])
            .unwrap();
        }
        let loaded = Automerge::load(&s.load(&id).unwrap().unwrap()).unwrap();
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(s.needs_compaction(5, 10).unwrap(), vec![id]);
        s.compact(&id).unwrap();
        assert!(s.needs_compaction(1, 10).unwrap().is_empty());
        let loaded = Automerge::load(&s.load(&id).unwrap().unwrap()).unwrap();
        assert_eq!(loaded.get_heads(), doc.get_heads());
        assert_eq!(s.catalog().unwrap(), vec![(id, doc.get_heads())]);
        assert!(s.load(&doc_id(2)).unwrap().is_none());
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "x", 1).unwrap();
        {
            let mut s = SqliteStorage::open(&path).unwrap();
            let items: Vec<Append> = (1..=3)
                .map(|n| Append {
                    document_id: doc_id(n),
                    changes: doc.save(),
                    heads: doc.get_heads(),
                })
                .collect();
            s.append(&items).unwrap();
        }
        let mut s = SqliteStorage::open(&path).unwrap();
        assert_eq!(s.catalog().unwrap().len(), 3);
    }
}
