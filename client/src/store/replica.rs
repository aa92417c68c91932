//! What sync needs from the store: the catalog of heads, document bytes, group merges of incoming
//! changes, saved sync states, and the documents changed since a point in the change order.

use super::documents;
use super::{read_model, Store};
use crate::error::StoreError;
use automerge::{Automerge, ChangeHash};
use crm_shared::heads::decode_heads;
use crm_shared::protocol::{bucket_of, doc_digest, DocDigest, SetSummary};
use crm_shared::schema;
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{OptionalExtension, TransactionBehavior};
use std::collections::HashMap;

/// The `crmBatch` summary of the stored documents, kept so that a connect reads no catalog:
/// the summary as of change position `seq`, and the digest each document had in it (by number).
const SUMMARY_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_summary (
    k INTEGER PRIMARY KEY CHECK (k = 0),
    seq INTEGER NOT NULL,
    summary BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_summary_docs (
    n INTEGER PRIMARY KEY,
    bucket INTEGER NOT NULL,
    digest BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_summary_docs_bucket ON sync_summary_docs(bucket);
";

/// Documents with their stored bytes (`None`: not stored).
pub type StoredDocuments = Vec<(DocumentId, Option<Vec<u8>>)>;

/// The page cache while storing documents fetched whole, in KiB (SQLite's negative `cache_size`).
const BULK_CACHE_KIB: i64 = -64 * 1024;

/// A document the server sent whole, read for the store (on any thread: no database): its
/// bytes as they came, its heads, and what the read model takes from it.
pub struct FetchedDocument {
    id: DocumentId,
    bytes: Vec<u8>,
    heads: Vec<ChangeHash>,
    derived: read_model::Derived,
    /// Why the record needs attention ([`schema::attention`]), if it does.
    attention: Option<String>,
}

impl FetchedDocument {
    /// Loads the document once and reads the record and its read model from that copy.
    pub fn read(id: DocumentId, bytes: Vec<u8>) -> Result<FetchedDocument, String> {
        let doc = Automerge::load(&bytes).map_err(|e| e.to_string())?;
        let record = schema::read_record(id, &doc, None).map_err(|e| e.to_string())?;
        let attention = schema::attention(&doc, &record);
        let derived = read_model::derive(&doc, id, record).map_err(|e| e.to_string())?;
        Ok(FetchedDocument {
            id,
            bytes,
            heads: doc.get_heads(),
            derived,
            attention,
        })
    }

    pub fn id(&self) -> DocumentId {
        self.id
    }

    /// The document's heads (those of its bytes).
    pub fn heads(&self) -> &[ChangeHash] {
        &self.heads
    }
}

/// What a group merge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Records that were new here.
    pub created: u64,
    /// Records that existed and changed.
    pub updated: u64,
    /// Records listed here that the incoming changes removed (someone else's `crm rm`).
    pub removed: Vec<DocumentId>,
    /// Records the merge left needing attention, with why ([`schema::attention`]).
    pub attention: Vec<(DocumentId, String)>,
    /// Contacts and organizations that were new here or changed (for likely duplicates).
    pub arrived: Vec<DocumentId>,
}

/// Whether a record of `kind` can have likely duplicates.
fn matched(kind: RecordKind) -> bool {
    matches!(kind, RecordKind::Contact | RecordKind::Organization)
}

/// What storing a merged document told of its record.
pub(super) struct Stored {
    /// The record is removed now.
    pub deleted: bool,
    /// Why a merge left it needing attention ([`schema::attention`]), if it does.
    pub attention: Option<String>,
    pub kind: RecordKind,
}

/// Writes the read model of a document that a merge changed (row `n`), reading its record once
/// for both the read model and the checks a merge calls for.
pub(super) fn store_merged(
    tx: &rusqlite::Connection,
    n: i64,
    doc: &Automerge,
    id: DocumentId,
) -> Result<Stored, StoreError> {
    let record = schema::read_record(id, doc, None)?;
    let stored = Stored {
        deleted: record.is_deleted(),
        attention: schema::attention(doc, &record),
        kind: record.kind,
    };
    read_model::write(tx, n, doc, id, record, false)?;
    Ok(stored)
}

impl Merged {
    /// Adds what storing a merged document told (`was_live`: listed before the merge).
    fn note(&mut self, id: DocumentId, was_live: bool, stored: Stored) {
        if was_live && stored.deleted {
            self.removed.push(id);
        }
        if matched(stored.kind) {
            self.arrived.push(id);
        }
        if let Some(why) = stored.attention {
            self.attention.push((id, why));
        }
    }
}

impl Store {
    /// Every document with its heads, without loading any.
    pub fn catalog(&self) -> Result<Vec<(DocumentId, Vec<ChangeHash>)>, StoreError> {
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

    /// The stored documents of these summary buckets ([`bucket_of`]) with their heads, as of
    /// the last [`Store::sync_summary`].
    pub fn catalog_of_buckets(
        &self,
        buckets: &[u16],
    ) -> Result<Vec<(DocumentId, Vec<ChangeHash>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.heads FROM sync_summary_docs s JOIN documents d ON d.n = s.n
             WHERE s.bucket = ?1",
        )?;
        let mut out = Vec::new();
        for b in buckets {
            let rows = stmt.query_map([b], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (id, heads) = row?;
                if let Ok(id) = id.parse() {
                    out.push((id, decode_heads(&heads)));
                }
            }
        }
        Ok(out)
    }

    /// The `crmBatch` summary of every stored document and the change position it covers. Kept
    /// in the store: when nothing changed since it was computed this reads one row; otherwise it
    /// folds in the documents changed since (O(changed), O(documents) only the first time).
    pub fn sync_summary(&mut self) -> Result<(i64, SetSummary), StoreError> {
        // Read first, without a write lock: the common case.
        let seq = self.change_seq()?;
        let cached: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, summary FROM sync_summary WHERE k = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap_or(None); // no table yet: built below
        if let Some((at, bytes)) = &cached {
            if *at == seq {
                if let Some(summary) = SetSummary::from_bytes(bytes) {
                    return Ok((seq, summary));
                }
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SUMMARY_SCHEMA)?;
        let cached: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, summary FROM sync_summary WHERE k = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (since, mut summary) =
            match cached.and_then(|(at, b)| Some((at, SetSummary::from_bytes(&b)?))) {
                Some(c) => c,
                None => {
                    tx.execute("DELETE FROM sync_summary_docs", [])?;
                    (0, SetSummary::default())
                }
            };
        let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM documents", [], |r| {
            r.get(0)
        })?;
        {
            let mut changed = tx.prepare("SELECT n, id, heads FROM documents WHERE seq > ?1")?;
            let mut old = tx.prepare_cached("SELECT digest FROM sync_summary_docs WHERE n = ?1")?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO sync_summary_docs(n, bucket, digest) VALUES (?1, ?2, ?3)",
            )?;
            let mut rows = changed.query([since])?;
            while let Some(row) = rows.next()? {
                let n: i64 = row.get(0)?;
                let Ok(id) = row.get::<_, String>(1)?.parse::<DocumentId>() else {
                    continue;
                };
                let heads = decode_heads(&row.get::<_, Vec<u8>>(2)?);
                let before: Option<Vec<u8>> = old.query_row([n], |r| r.get(0)).optional()?;
                if let Some(d) = before.and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok()) {
                    summary.remove(&id, &DocDigest(d));
                }
                if heads.is_empty() {
                    tx.execute("DELETE FROM sync_summary_docs WHERE n = ?1", [n])?;
                } else {
                    let digest = doc_digest(&id, &heads);
                    summary.add(&id, &digest);
                    put.execute((n, bucket_of(&id), &digest.0[..]))?;
                }
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO sync_summary(k, seq, summary) VALUES (0, ?1, ?2)",
            (seq, summary.to_bytes()),
        )?;
        tx.commit()?;
        Ok((seq, summary))
    }

    /// The saved bytes of a document, if we have it: its snapshot followed by its incremental
    /// chunks, as stored (what `Automerge::load` takes), without loading and re-saving it.
    pub fn document_bytes(&self, id: DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
        documents::stored_bytes(&self.conn, id)
    }

    /// [`Store::document_bytes`] of many documents, in one read transaction.
    pub fn documents_bytes(&mut self, ids: &[DocumentId]) -> Result<StoredDocuments, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push((*id, documents::stored_bytes(&tx, *id)?));
        }
        tx.commit()?;
        Ok(out)
    }

    /// Merges incoming changes of many documents in ONE transaction (one fsync), updating the
    /// read model. Returns once committed: only then may the sender be told we have them.
    ///
    /// `loaded` gives the sync engine's copy of a document, if it holds one: a document new to
    /// the store whose only item this is was empty in the engine before these changes, so the
    /// engine's copy is exactly what gets stored and need not be loaded again.
    pub fn merge_batch<'d>(
        &mut self,
        items: &[(DocumentId, Vec<u8>)],
        loaded: &dyn Fn(&DocumentId) -> Option<&'d Automerge>,
    ) -> Result<Merged, StoreError> {
        let mut count: HashMap<DocumentId, u32> = HashMap::with_capacity(items.len());
        for (id, _) in items {
            *count.entry(*id).or_default() += 1;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut merged = Merged::default();
        for (id, bytes) in items {
            let existed = documents::number(&tx, *id)?.is_some();
            if !existed && count.get(id) == Some(&1) {
                if let Some(doc) = loaded(id) {
                    let record = schema::read_record(*id, doc, None)?;
                    if let Some(why) = schema::attention(doc, &record) {
                        merged.attention.push((*id, why));
                    }
                    if matched(record.kind) {
                        merged.arrived.push(*id);
                    }
                    let n =
                        documents::insert_bytes(&tx, *id, record.kind, bytes, &doc.get_heads())?;
                    read_model::write(&tx, n, doc, *id, record, true)?;
                    merged.created += 1;
                    continue;
                }
            }
            let was_live = existed && read_model::is_live(&tx, *id)? == Some(true);
            if let Some((n, mut doc)) = documents::merge(&tx, *id, bytes)? {
                let stored = store_merged(&tx, n, doc.document(), *id)?;
                merged.note(*id, was_live, stored);
                if existed {
                    merged.updated += 1;
                } else {
                    merged.created += 1;
                }
            }
        }
        tx.commit()?;
        Ok(merged)
    }

    /// Stores documents the server sent whole, as they came, with their read model, in ONE
    /// transaction. Returns once committed. A document stored meanwhile (another process) gets
    /// the bytes merged into it instead.
    pub fn store_fetched(&mut self, docs: Vec<FetchedDocument>) -> Result<Merged, StoreError> {
        // Thousands of rows at random places in every index: with SQLite's default 2 MiB of
        // page cache, most of a transaction's time went to spilling and re-reading pages.
        self.conn
            .pragma_update(None, "cache_size", BULK_CACHE_KIB)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut merged = Merged::default();
        for d in docs {
            if documents::number(&tx, d.id)?.is_some() {
                let was_live = read_model::is_live(&tx, d.id)? == Some(true);
                if let Some((n, mut doc)) = documents::merge(&tx, d.id, &d.bytes)? {
                    let stored = store_merged(&tx, n, doc.document(), d.id)?;
                    merged.note(d.id, was_live, stored);
                    merged.updated += 1;
                }
                continue;
            }
            if let Some(why) = d.attention {
                merged.attention.push((d.id, why));
            }
            if matched(d.derived.kind()) {
                merged.arrived.push(d.id);
            }
            let n = documents::insert_bytes(&tx, d.id, d.derived.kind(), &d.bytes, &d.heads)?;
            read_model::write_derived(&tx, n, d.id, d.derived, true)?;
            merged.created += 1;
        }
        tx.commit()?;
        Ok(merged)
    }

    /// The sync states saved for `server`.
    pub fn sync_states(&self, server: &str) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT doc, state FROM sync_states WHERE server = ?1")?;
        let rows = stmt.query_map([server], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, state) = row?;
            if let Ok(id) = id.parse() {
                out.push((id, state));
            }
        }
        Ok(out)
    }

    /// The sync states saved for `server` of these documents (those it has).
    pub fn sync_states_of(
        &mut self,
        server: &str,
        ids: &[DocumentId],
    ) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::new();
        {
            let mut stmt =
                tx.prepare_cached("SELECT state FROM sync_states WHERE server = ?1 AND doc = ?2")?;
            for id in ids {
                let state: Option<Vec<u8>> = stmt
                    .query_row((server, id.to_string()), |r| r.get(0))
                    .optional()?;
                if let Some(state) = state {
                    out.push((*id, state));
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Saves these sync states for `server`, replacing older ones of the same documents (others
    /// are kept: a session only holds the states of the documents it touched).
    pub fn save_sync_states(
        &mut self,
        server: &str,
        states: &[(DocumentId, Vec<u8>)],
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO sync_states(server, doc, state) VALUES (?1, ?2, ?3)",
            )?;
            for (id, state) in states {
                insert.execute((server, id.to_string(), state))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest position in the store's change order.
    pub fn change_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT max(seq) FROM documents", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()?
            .flatten()
            .unwrap_or(0))
    }

    /// Documents changed after `seq` (by this or another `crm` process), with their bytes, but
    /// those `known` says the caller already holds at their stored heads (what it stored itself:
    /// they are read no further).
    pub fn changed_since(
        &self,
        seq: i64,
        known: &dyn Fn(&DocumentId, &[ChangeHash]) -> bool,
    ) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT n, id, heads FROM documents WHERE seq > ?1 ORDER BY seq")?;
        let rows: Vec<(i64, String, Vec<u8>)> = stmt
            .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (n, id, heads) in rows {
            let Ok(id) = id.parse::<DocumentId>() else {
                continue;
            };
            if !known(&id, &decode_heads(&heads)) {
                out.push((id, documents::load(&self.conn, n, id)?.save()));
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Remembers the sync server of this data dir.
    pub fn set_server(&mut self, url: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('server', ?1)",
            [url],
        )?;
        self.identity.server = Some(url.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Identity;
    use crm_shared::schema::{create_record, ChangeAuthor, Edit, NewRecord};
    use crm_shared::values::Currency;
    use crm_shared::RecordKind;

    fn contact(name: &str) -> Vec<Edit> {
        vec![Edit::parse_set(RecordKind::Contact, "name", name, Currency::EUR).unwrap()]
    }

    #[test]
    fn changes_the_caller_holds_are_not_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity {
            user: "ana".into(),
            name: "Ana".into(),
            device: "00112233445566778899aabbccddeeff".into(),
            book: "north".into(),
            server: None,
        };
        let mut store = Store::init(dir.path(), identity).unwrap();
        let since = store.change_seq().unwrap();
        // A record made here (as by another `crm` process) and one that came in from the server.
        let local = DocumentId::from_random([1; 16]);
        let edits = contact("Local Lou");
        store
            .create(RecordKind::Contact, local, None, &edits, 1_000)
            .unwrap();
        let incoming = DocumentId::from_random([2; 16]);
        let new = NewRecord {
            id: incoming,
            kind: RecordKind::Contact,
            created_at: 2_000,
            created_by: "bruno".into(),
            owner: "bruno".into(),
            book: "north".into(),
        };
        let author = ChangeAuthor {
            user: "bruno".into(),
            device: "ffeeddccbbaa99887766554433221100".into(),
            offline: false,
            action: None,
        };
        let edits = contact("Remote Rui");
        let mut doc =
            create_record(&new, &edits, automerge::ActorId::random(), &author, 2_000).unwrap();
        let heads = doc.get_heads();
        store
            .merge_batch(&[(incoming, doc.save())], &|_| None)
            .unwrap();
        let ids = |changed: Vec<(DocumentId, Vec<u8>)>| -> Vec<DocumentId> {
            changed.into_iter().map(|(id, _)| id).collect()
        };
        let all = store.changed_since(since, &|_, _| false).unwrap();
        assert_eq!(ids(all), [local, incoming]);
        let held = |id: &DocumentId, h: &[ChangeHash]| *id == incoming && h == heads.as_slice();
        assert_eq!(ids(store.changed_since(since, &held).unwrap()), [local]);
        // Held at other heads (a change made here since): read back after all.
        let edits = contact("Remote Rui Jr");
        store.edit(incoming, 3_000, |_| Ok(edits)).unwrap();
        assert_eq!(
            ids(store.changed_since(since, &held).unwrap()),
            [local, incoming]
        );
    }
}
