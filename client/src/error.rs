//! Errors of the client library. The binary prints them as one line and exits non-zero.

use crm_shared::schema::{ReadError, WriteError};
use crm_shared::values::ValueError;
use crm_shared::{DocumentId, RecordKind};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no CRM data in {0}: run `crm init --user NAME` first (or pass --data-dir)")]
    NotInitialized(PathBuf),
    #[error("{0} already holds a CRM store; use another --data-dir")]
    AlreadyInitialized(PathBuf),
    #[error("{path} was written by a newer crm (store version {found}, this crm supports {supported}): upgrade crm")]
    NewerStore {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{0} is not a readable CRM store ({1})")]
    Corrupt(PathBuf, String),
    #[error("cannot create {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("`{0}` is not a {1} id (ids are letters and digits; give at least 4 characters)")]
    BadId(String, &'static str),
    #[error("no {0} with id `{1}` (see `crm {command} list`)", command = crate::output::command_of(.0))]
    NoSuch(&'static str, String),
    #[error("`{0}` matches several records: give more characters of the id")]
    Ambiguous(String),
    #[error("{id} is a {found}, not a {want}")]
    WrongKind {
        id: String,
        want: RecordKind,
        found: RecordKind,
    },
    #[error("no record {0}")]
    NotFound(String),
    #[error("document {0} cannot be read: {1}")]
    BadDocument(DocumentId, String),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("{0}")]
    Invalid(String),
    #[error("{}", sqlite_message(.0))]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// An error opening the file at `path` (not a database, unreadable, locked...).
    pub fn open(path: &Path, e: rusqlite::Error) -> StoreError {
        StoreError::Corrupt(path.to_path_buf(), e.to_string())
    }
}

/// A database error as one line; a write to a store opened read-only says what can be done.
fn sqlite_message(e: &rusqlite::Error) -> String {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) {
        return "this data dir is read-only: crm can read it and `crm merge --from` it, but not change it (copy it somewhere writable to work in it)".into();
    }
    format!("database error: {e}")
}
