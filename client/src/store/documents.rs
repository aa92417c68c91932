//! Documents on disk: each record's Automerge document as a snapshot plus incremental chunks,
//! compacted into a new snapshot (in the same transaction) once enough chunks pile up.

use crate::error::StoreError;
use automerge::{AutoCommit, ChangeHash};
use crm_shared::heads::encode_heads;
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{Connection, OptionalExtension};

pub const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE documents (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    snapshot BLOB NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    -- The document's heads (concatenated 32-byte hashes): the catalog sync starts from.
    heads BLOB NOT NULL DEFAULT x'',
    -- When it last changed, in the store's change order (`crm sync --watch` pushes newer ones).
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX documents_seq ON documents(seq);
-- Per sync server: the Automerge sync state of each document, so a reconnect costs little.
CREATE TABLE sync_states (
    server TEXT NOT NULL,
    doc TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (server, doc)
) WITHOUT ROWID;
CREATE TABLE chunks (
    n INTEGER NOT NULL REFERENCES documents(n),
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (n, seq)
) WITHOUT ROWID;
";

/// Chunks kept before a document is compacted into one snapshot.
const COMPACT_AFTER: i64 = 8;

pub fn number(conn: &Connection, id: DocumentId) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT n FROM documents WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn load(conn: &Connection, n: i64, id: DocumentId) -> Result<AutoCommit, StoreError> {
    let snapshot: Vec<u8> =
        conn.query_row("SELECT snapshot FROM documents WHERE n = ?1", [n], |r| {
            r.get(0)
        })?;
    let bad = |e: automerge::AutomergeError| StoreError::BadDocument(id, e.to_string());
    let mut doc = AutoCommit::load(&snapshot).map_err(bad)?;
    let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE n = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([n])?;
    while let Some(row) = rows.next()? {
        let data: Vec<u8> = row.get(0)?;
        doc.load_incremental(&data).map_err(bad)?;
    }
    Ok(doc)
}

/// The stored bytes of document `id` (snapshot, then chunks in order), if stored: loadable with
/// `Automerge::load` as they are.
pub fn stored_bytes(conn: &Connection, id: DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((n, mut bytes)) = conn
        .prepare_cached("SELECT n, snapshot FROM documents WHERE id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE n = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([n])?;
    while let Some(row) = rows.next()? {
        let data: Vec<u8> = row.get(0)?;
        bytes.extend_from_slice(&data);
    }
    Ok(Some(bytes))
}

pub fn insert(
    conn: &Connection,
    id: DocumentId,
    kind: RecordKind,
    doc: &mut AutoCommit,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO documents(id, type, snapshot, heads, seq)
         VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM documents))",
    )?
    .execute((
        id.to_string(),
        kind.as_str(),
        doc.save(),
        encode_heads(&doc.get_heads()),
    ))?;
    Ok(conn.last_insert_rowid())
}

/// Stores a new document from bytes `Automerge::load` takes (a save or a run of changes).
pub fn insert_bytes(
    conn: &Connection,
    id: DocumentId,
    kind: RecordKind,
    bytes: &[u8],
    heads: &[ChangeHash],
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO documents(id, type, snapshot, heads, seq)
         VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM documents))",
    )?
    .execute((id.to_string(), kind.as_str(), bytes, encode_heads(heads)))?;
    Ok(conn.last_insert_rowid())
}

/// Appends the changes made since `since` as one chunk; compacts when chunks pile up.
pub fn append(
    conn: &Connection,
    n: i64,
    doc: &mut AutoCommit,
    since: &[ChangeHash],
) -> Result<(), StoreError> {
    let chunks: i64 = conn.query_row("SELECT chunks FROM documents WHERE n = ?1", [n], |r| {
        r.get(0)
    })?;
    conn.prepare_cached(
        "UPDATE documents SET heads = ?2, seq = (SELECT coalesce(max(seq), 0) + 1 FROM documents)
         WHERE n = ?1",
    )?
    .execute((n, encode_heads(&doc.get_heads())))?;
    if chunks + 1 >= COMPACT_AFTER {
        conn.execute("DELETE FROM chunks WHERE n = ?1", [n])?;
        conn.execute(
            "UPDATE documents SET snapshot = ?2, chunks = 0 WHERE n = ?1",
            (n, doc.save()),
        )?;
    } else {
        let data = doc.save_after(since);
        conn.prepare_cached("INSERT INTO chunks(n, seq, data) VALUES (?1, ?2, ?3)")?
            .execute((n, chunks + 1, data))?;
        conn.execute(
            "UPDATE documents SET chunks = ?2 WHERE n = ?1",
            (n, chunks + 1),
        )?;
    }
    Ok(())
}

/// Merges `bytes` (a saved document or a run of changes) into document `id`, creating it when new.
/// Returns the document and its number when anything changed.
pub fn merge(
    conn: &Connection,
    id: DocumentId,
    bytes: &[u8],
) -> Result<Option<(i64, AutoCommit)>, StoreError> {
    let bad = |e: automerge::AutomergeError| StoreError::BadDocument(id, e.to_string());
    match number(conn, id)? {
        Some(n) => {
            let mut doc = load(conn, n, id)?;
            let heads = doc.get_heads();
            doc.load_incremental(bytes).map_err(bad)?;
            if doc.get_heads() == heads {
                return Ok(None);
            }
            append(conn, n, &mut doc, &heads)?;
            Ok(Some((n, doc)))
        }
        None => {
            let mut doc = AutoCommit::load(bytes).map_err(bad)?;
            let kind = crm_shared::schema::read_record(id, doc.document(), None)?.kind;
            // The bytes are stored as they came (they load as they are): saving the document
            // again would cost as much as loading it.
            let n = insert_bytes(conn, id, kind, bytes, &doc.get_heads())?;
            Ok(Some((n, doc)))
        }
    }
}

/// The number and id of every record's document (not the settings', schedules' or send logs'),
/// in the order they came.
pub fn records(conn: &Connection) -> Result<Vec<(i64, DocumentId)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT n, id FROM documents WHERE type NOT IN (?1, ?2, ?3) ORDER BY n")?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(
            [
                RecordKind::Settings,
                RecordKind::Schedule,
                RecordKind::SendLog,
            ]
            .map(|k| k.as_str()),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(n, id)| id.parse::<DocumentId>().ok().map(|id| (n, id)))
        .collect())
}

/// The number and id of every document of `kind`, in the order they came.
pub fn of_kind(conn: &Connection, kind: RecordKind) -> Result<Vec<(i64, DocumentId)>, StoreError> {
    let mut stmt = conn.prepare("SELECT n, id FROM documents WHERE type = ?1 ORDER BY n")?;
    let rows: Vec<(i64, String)> = stmt
        .query_map([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(n, id)| id.parse::<DocumentId>().ok().map(|id| (n, id)))
        .collect())
}

pub fn export_all(conn: &Connection) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
    let mut stmt = conn.prepare("SELECT n, id FROM documents ORDER BY n")?;
    let rows: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .filter_map(|(n, id)| id.parse::<DocumentId>().ok().map(|id| (n, id)))
        .map(|(n, id)| Ok((id, load(conn, n, id)?.save())))
        .collect()
}

/// Finds the record whose id is `text` or starts with it (at least 4 characters).
pub fn resolve(
    conn: &Connection,
    text: &str,
    want: Option<RecordKind>,
) -> Result<(DocumentId, RecordKind), StoreError> {
    let text = text.trim().trim_start_matches("automerge:");
    let what = want.map(|k| k.as_str()).unwrap_or("record");
    if text.len() < 4 || !text.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(StoreError::BadId(text.to_string(), what));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, type FROM documents WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 2",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([text], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let exact = rows.iter().find(|(id, _)| id == text);
    let (id, kind) = match (exact, rows.as_slice()) {
        (Some(row), _) => row.clone(),
        (None, [row]) => row.clone(),
        (None, []) => return Err(StoreError::NoSuch(what, text.to_string())),
        (None, _) => return Err(StoreError::Ambiguous(text.to_string())),
    };
    let kind: RecordKind = kind
        .parse()
        .map_err(|_| StoreError::NoSuch(what, text.to_string()))?;
    if let Some(want) = want {
        if want != kind {
            return Err(StoreError::WrongKind {
                id: id.clone(),
                want,
                found: kind,
            });
        }
    }
    let id = id
        .parse()
        .map_err(|_| StoreError::NoSuch(what, text.to_string()))?;
    Ok((id, kind))
}
