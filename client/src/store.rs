//! The local store: one SQLite file per data dir holding every record's Automerge document and a
//! read model derived from them.
//!
//! Architecture invariant: the documents are the truth. The read model (`rm_*` tables and the
//! full-text index) is written in the same SQLite transaction as the document it derives from,
//! so the two never disagree; it can be dropped and rebuilt from the documents at any time.
//!
//! Architecture invariant: a command that changes data commits one SQLite transaction
//! (`BEGIN IMMEDIATE` ... `COMMIT`, WAL, `synchronous=FULL`) before it reports success. Killing
//! `crm` at any instant leaves either the old or the new state.

mod batch;
mod books;
mod bulk;
mod device;
mod documents;
mod duplicates;
mod locale;
mod mailing;
mod notices;
mod planned_edits;
mod read_model;
mod replica;
mod search_terms;
mod users;

use crate::error::StoreError;
use automerge::{ActorId, AutoCommit};
use crm_shared::schema::{self, ChangeAuthor, Edit, NewRecord, Record};
use crm_shared::{DocumentId, RecordKind};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};

pub use batch::Batch;
pub use device::new_device;
pub use duplicates::{dismissed_pairs, Found, Pair, MAX_GROUP};
pub use planned_edits::Reading;
pub use read_model::match_keys::{email_key, fold_name, phone_key};
pub use read_model::READ_MODEL_VERSION;
pub use replica::{FetchedDocument, Merged};
pub use search_terms::fts_query;

/// The file name of the store inside a data dir.
pub const STORE_FILE: &str = "crm.sqlite3";
/// The layout version of the store file. A newer file is refused, never modified.
pub const STORE_VERSION: i64 = 1;

/// Who is working in this data dir.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: String,
    pub name: String,
    /// Hex of the 16-byte actor id used for every change made here.
    pub device: String,
    pub book: String,
    pub server: Option<String>,
}

impl Identity {
    pub fn actor(&self) -> ActorId {
        ActorId::from(hex_decode(&self.device).unwrap_or_default())
    }

    /// The author of a change made here; `offline` when no sync session was connected.
    pub fn author(&self, offline: bool) -> ChangeAuthor {
        ChangeAuthor {
            user: self.user.clone(),
            device: self.device.clone(),
            offline,
            action: None,
        }
    }
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    pub identity: Identity,
    /// Opened read-only: the data dir or its store file may not be written here.
    read_only: bool,
    /// How dates typed here are read: now (set by the command from its clock) and the locale.
    pub dates: crm_shared::dates::TypedDates,
}

/// Called while the read model is rebuilt: (done, total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

impl Store {
    /// The store file of a data dir.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join(STORE_FILE)
    }

    /// Creates a new store in `dir` (which may not exist yet). Fails if one is already there.
    pub fn init(dir: &Path, identity: Identity) -> Result<Store, StoreError> {
        let path = Self::file(dir);
        if path.exists() {
            // A store whose creating transaction never committed (a killed `init`) may be redone.
            // Looked at as an immutable file, so nothing (not even a -shm file) is written.
            let blank = Connection::open_with_flags(
                format!("file:{}?immutable=1", path.display()),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            )
            .and_then(|c| is_blank(&c))
            .unwrap_or(false);
            if !blank {
                return Err(StoreError::AlreadyInitialized(dir.to_path_buf()));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(dir.to_path_buf(), e))?;
        let mut conn = Connection::open(&path).map_err(|e| StoreError::open(&path, e))?;
        configure(&conn).map_err(|e| StoreError::open(&path, e))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(documents::SCHEMA)?;
        read_model::create(&tx)?;
        let meta = [
            ("store_version", STORE_VERSION.to_string()),
            ("read_model_version", READ_MODEL_VERSION.to_string()),
            ("user", identity.user.clone()),
            ("name", identity.name.clone()),
            ("device", identity.device.clone()),
            ("book", identity.book.clone()),
            ("server", identity.server.clone().unwrap_or_default()),
        ];
        for (k, v) in meta {
            tx.execute("INSERT INTO meta(key, value) VALUES (?1, ?2)", (k, v))?;
        }
        if let Some(home) = device::home(&path) {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('device_home', ?1)",
                [home],
            )?;
        }
        tx.commit()?;
        Ok(Store {
            conn,
            path,
            identity,
            read_only: false,
            dates: Default::default(),
        })
    }

    /// Opens the store of `dir`, rebuilding the read model if it is missing or stale.
    pub fn open(dir: &Path, progress: Progress<'_>) -> Result<Store, StoreError> {
        let path = Self::file(dir);
        if !path.exists() {
            return Err(StoreError::NotInitialized(dir.to_path_buf()));
        }
        // A store we may not write (a read-only copy, a dir we cannot write, where not even the
        // WAL index can be made) is read as an immutable file, writing nothing at all.
        let read_only = read_only_file(&path) || !writable_dir(dir);
        let conn = if read_only {
            Connection::open_with_flags(
                format!("file:{}?immutable=1", path.display()),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(|e| StoreError::open(&path, e))?;
        // Read before writing anything: a file that is not our store is refused untouched.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| StoreError::open(&path, e))?;
        let blank = is_blank(&conn).map_err(|e| StoreError::open(&path, e))?;
        if blank {
            // An `init` killed before its first commit: no store yet.
            return Err(StoreError::NotInitialized(dir.to_path_buf()));
        }
        let meta = |key: &str| -> Result<Option<String>, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| StoreError::open(&path, e))
        };
        let version: i64 = meta("store_version")?
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(path.clone(), "no store version".into()))?;
        if version > STORE_VERSION {
            return Err(StoreError::NewerStore {
                path: path.clone(),
                found: version,
                supported: STORE_VERSION,
            });
        }
        let identity = Identity {
            user: meta("user")?.unwrap_or_default(),
            name: meta("name")?.unwrap_or_default(),
            device: meta("device")?.unwrap_or_default(),
            book: meta("book")?.unwrap_or_else(|| "default".into()),
            server: meta("server")?.filter(|s| !s.is_empty()),
        };
        if hex_decode(&identity.device).map(|d| d.len()) != Some(16) {
            return Err(StoreError::Corrupt(path.clone(), "no device id".into()));
        }
        if !read_only {
            configure(&conn).map_err(|e| StoreError::open(&path, e))?;
        }
        let rm_version = meta("read_model_version")?.and_then(|v| v.parse::<i64>().ok());
        let order = meta(locale::LOCALE_KEY)?
            .and_then(|l| crm_shared::dates::DateOrder::parse(&l).ok())
            .unwrap_or_default();
        let mut store = Store {
            conn,
            path,
            identity,
            read_only,
            dates: crm_shared::dates::TypedDates {
                order,
                ..Default::default()
            },
        };
        if !read_only {
            store.settle_device()?;
        }
        if rm_version != Some(READ_MODEL_VERSION) {
            if read_only {
                eprintln!(
                    "crm: warning: {} is read-only and was written by another version of crm: lists and reports may be incomplete (merging from it is not affected)",
                    dir.display()
                );
            } else {
                store.rebuild_read_model(progress)?;
            }
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store was opened read-only (see [`Store::open`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The author of a change made here now (see [`crate::live`]).
    pub fn author(&self) -> ChangeAuthor {
        author_now(&self.identity, &self.path)
    }

    /// The data dir holding the store file.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Drops and rebuilds the read model from the documents, in one transaction.
    pub fn rebuild_read_model(&mut self, progress: Progress<'_>) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        read_model::drop_all(&tx)?;
        read_model::create(&tx)?;
        let total: u64 = tx.query_row("SELECT count(*) FROM documents", [], |r| r.get(0))?;
        let ids: Vec<(i64, String)> = {
            let mut stmt = tx.prepare("SELECT n, id FROM documents ORDER BY n")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut done = 0;
        for (n, id) in ids {
            let doc_id: DocumentId = id
                .parse()
                .map_err(|_| StoreError::Corrupt(self.path.clone(), format!("bad id {id}")))?;
            let mut doc = documents::load(&tx, n, doc_id)?;
            read_model::upsert(&tx, n, doc.document(), doc_id)?;
            done += 1;
            if done % 1000 == 0 || done == total {
                progress(done, total);
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('read_model_version', ?1)",
            [READ_MODEL_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(done)
    }

    /// Finds the record whose id is `text` or starts with it.
    pub fn resolve(
        &self,
        text: &str,
        want: Option<RecordKind>,
    ) -> Result<(DocumentId, RecordKind), StoreError> {
        documents::resolve(&self.conn, text, want)
    }

    /// Loads a record's document.
    pub fn load(&self, id: DocumentId) -> Result<AutoCommit, StoreError> {
        let n = documents::number(&self.conn, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
        documents::load(&self.conn, n, id)
    }

    /// Reads a record.
    pub fn record(&self, id: DocumentId) -> Result<Record, StoreError> {
        let mut doc = self.load(id)?;
        Ok(schema::read_record(id, doc.document(), None)?)
    }

    /// Creates a record and commits it. `now_ms` is the creation time.
    pub fn create(
        &mut self,
        kind: RecordKind,
        id: DocumentId,
        owner: Option<&str>,
        edits: &[Edit],
        now_ms: i64,
    ) -> Result<Record, StoreError> {
        let book = self.identity.book.clone();
        self.create_in(kind, id, owner, &book, edits, now_ms)
    }

    /// [`Store::create`] in `book` rather than this data dir's (a record about another's:
    /// the e-mail a campaign logs on a contact goes in the contact's book).
    pub fn create_in(
        &mut self,
        kind: RecordKind,
        id: DocumentId,
        owner: Option<&str>,
        book: &str,
        edits: &[Edit],
        now_ms: i64,
    ) -> Result<Record, StoreError> {
        let new = NewRecord {
            id,
            kind,
            created_at: now_ms,
            created_by: self.identity.user.clone(),
            owner: owner.unwrap_or(&self.identity.user).to_string(),
            book: book.to_string(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        let mut doc = schema::create_record(&new, edits, self.identity.actor(), &author, now_ms)?;
        let n = documents::insert(&tx, id, kind, &mut doc)?;
        read_model::upsert(&tx, n, doc.document(), id)?;
        tx.commit()?;
        Ok(schema::read_record(id, doc.document(), None)?)
    }

    /// Edits a record: `make_edits` sees the current record and returns the edits to apply.
    /// Loading, editing, saving and the read model update happen in one write transaction, so
    /// two `crm` processes never interleave their changes to one document.
    pub fn edit<F>(
        &mut self,
        id: DocumentId,
        now_ms: i64,
        make_edits: F,
    ) -> Result<Record, StoreError>
    where
        F: FnOnce(&Record) -> Result<Vec<Edit>, StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = documents::number(&tx, id)?.ok_or(StoreError::NotFound(id.to_string()))?;
        let author = author_now(&self.identity, &self.path);
        let (record, _) = edit_in(&tx, &self.identity, &author, n, id, now_ms, make_edits)?;
        tx.commit()?;
        Ok(record)
    }

    /// Edits every record (not the settings) in one write transaction: `make_edits` sees each
    /// record and returns the edits to apply to it (none to leave it). Returns how many records
    /// changed.
    pub fn edit_each<F>(&mut self, now_ms: i64, mut make_edits: F) -> Result<u64, StoreError>
    where
        F: FnMut(&Record) -> Vec<Edit>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        let mut changed = 0;
        for (n, id) in documents::records(&tx)? {
            let edit = |r: &Record| Ok(make_edits(r));
            if edit_in(&tx, &self.identity, &author, n, id, now_ms, edit)?.1 {
                changed += 1;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// The first record (not the settings), in the order they came here, for which `pred`
    /// holds.
    pub fn find_record<F>(&self, mut pred: F) -> Result<Option<Record>, StoreError>
    where
        F: FnMut(&Record) -> bool,
    {
        for (n, id) in documents::records(&self.conn)? {
            let mut doc = documents::load(&self.conn, n, id)?;
            let record = schema::read_record(id, doc.document(), None)?;
            if pred(&record) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Merges another replica's document bytes (a saved document or changes) into ours,
    /// creating the record if we lack it. Returns true if anything new arrived.
    /// Returns whether it changed anything here, and why the merged record needs attention
    /// ([`schema::case_attention`]) if it does.
    pub fn merge_document(
        &mut self,
        id: DocumentId,
        bytes: &[u8],
    ) -> Result<(bool, Option<String>), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = documents::merge(&tx, id, bytes)?;
        let mut attention = None;
        if let Some((n, doc)) = &changed {
            let mut doc = doc.clone();
            attention = replica::store_merged(&tx, *n, doc.document(), id)?.attention;
        }
        tx.commit()?;
        Ok((changed.is_some(), attention))
    }

    /// The workspace settings: the settings document's, or the defaults when there is none yet.
    pub fn settings(&self) -> Result<schema::Settings, StoreError> {
        let id = schema::settings_id();
        match documents::number(&self.conn, id)? {
            Some(n) => {
                let mut doc = documents::load(&self.conn, n, id)?;
                Ok(schema::read_settings(Some(doc.document())))
            }
            None => Ok(schema::read_settings(None)),
        }
    }

    /// Changes the workspace settings (creating the settings document if this replica has none),
    /// in one transaction with the read model.
    pub fn edit_settings(
        &mut self,
        edits: &[schema::SettingsEdit],
        now_ms: i64,
    ) -> Result<schema::Settings, StoreError> {
        let id = schema::settings_id();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let author = author_now(&self.identity, &self.path);
        let mut doc = match documents::number(&tx, id)? {
            Some(n) => {
                let mut doc = documents::load(&tx, n, id)?;
                doc.set_actor(self.identity.actor());
                let heads = doc.get_heads();
                schema::edit_settings(&mut doc, edits, &author, now_ms)?;
                if doc.get_heads() != heads {
                    documents::append(&tx, n, &mut doc, &heads)?;
                    read_model::upsert(&tx, n, doc.document(), id)?;
                }
                doc
            }
            None => {
                let mut doc =
                    schema::create_settings(edits, self.identity.actor(), &author, now_ms)?;
                let n = documents::insert(&tx, id, RecordKind::Settings, &mut doc)?;
                read_model::upsert(&tx, n, doc.document(), id)?;
                doc
            }
        };
        tx.commit()?;
        Ok(schema::read_settings(Some(doc.document())))
    }

    /// Every document id and its saved bytes, for copying a replica.
    pub fn export_all(&self) -> Result<Vec<(DocumentId, Vec<u8>)>, StoreError> {
        documents::export_all(&self.conn)
    }

    /// Inserts many new records in one transaction (sample data, restores).
    pub fn insert_batch(
        &mut self,
        docs: &mut [(DocumentId, RecordKind, AutoCommit)],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (id, kind, doc) in docs.iter_mut() {
            let n = documents::insert(&tx, *id, *kind, doc)?;
            read_model::upsert(&tx, n, doc.document(), *id)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Applies what `make_edits` returns for the record `id` (document `n`) inside `tx`; returns the
/// record after it and whether anything changed.
fn edit_in<F>(
    tx: &rusqlite::Transaction<'_>,
    identity: &Identity,
    author: &ChangeAuthor,
    n: i64,
    id: DocumentId,
    now_ms: i64,
    make_edits: F,
) -> Result<(Record, bool), StoreError>
where
    F: FnOnce(&Record) -> Result<Vec<Edit>, StoreError>,
{
    let mut doc = documents::load(tx, n, id)?;
    doc.set_actor(identity.actor());
    let before = schema::read_record(id, doc.document(), None)?;
    let edits = make_edits(&before)?;
    let heads = doc.get_heads();
    schema::apply_edits_and_commit(&mut doc, before.kind, &edits, author, now_ms)?;
    let changed = doc.get_heads() != heads;
    if changed {
        documents::append(tx, n, &mut doc, &heads)?;
        read_model::upsert(tx, n, doc.document(), id)?;
    }
    Ok((schema::read_record(id, doc.document(), None)?, changed))
}

/// The author of a change made now in the data dir of the store file `path`: offline unless a
/// sync session of the data dir is connected. Called inside the write transaction, which keeps
/// other writers from probing the live lock at the same time.
fn author_now(identity: &Identity, path: &Path) -> ChangeAuthor {
    let dir = path.parent().unwrap_or(Path::new("."));
    identity.author(!crate::live::is_live(dir))
}

/// True when the file holds no tables at all.
fn is_blank(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n == 0)
}

/// Whether a file can be created in `dir` (tried, then removed): permissions alone do not say,
/// e.g. for root or on a read-only mount.
fn writable_dir(dir: &Path) -> bool {
    let probe = dir.join(format!(".crm-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => std::fs::remove_file(&probe).is_ok(),
        Err(_) => false,
    }
}

/// Whether the store file may not be opened for writing. Asked of the system without opening
/// the file: closing any descriptor of it would drop this process's SQLite locks on it (POSIX
/// locks belong to the process), and another process could then remove the WAL from under an
/// open connection of this one.
#[cfg(unix)]
fn read_only_file(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call; `access` only
    // reads it.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) != 0 }
}

/// Whether the store file may not be opened for writing (its read-only attribute).
#[cfg(not(unix))]
fn read_only_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Fail early on a file that is not a database.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(())
}

pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
