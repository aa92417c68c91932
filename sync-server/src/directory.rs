//! The directory of users (with roles), books (territories), grants and access tokens: who may
//! connect and what they may see. Kept in the server's SQLite file beside the documents, so one
//! backup holds all.
//!
//! Tokens are random (32 bytes, shown once as `crm_<base58>`); only their SHA-256 is stored.
//! Managers and admins may read and write every book; a rep only the books granted to them.

use crm_shared::protocol::{BookGrant, Grants};
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS books (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    user TEXT NOT NULL REFERENCES users(name),
    book TEXT NOT NULL REFERENCES books(name),
    access TEXT NOT NULL,
    PRIMARY KEY (user, book)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_books (
    doc TEXT PRIMARY KEY,
    book TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
";

/// An admin or authentication failure, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no user `{0}` (see `crm-sync-server user list`)")]
    NoUser(String),
    #[error("no book `{0}` (see `crm-sync-server book list`)")]
    NoBook(String),
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("book `{0}` already exists")]
    BookExists(String),
    #[error("`{0}` is not a valid name (1-64 lowercase letters, digits, '.', '-' or '_')")]
    BadName(String),
    #[error("no token {0}")]
    NoToken(i64),
    #[error(transparent)]
    BadRole(#[from] crm_shared::protocol::UnknownRole),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What a user is (the same type the client reads from `GET /me`).
pub use crm_shared::protocol::Role;

/// What a user may do in a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read-only",
            Access::Write => "read-write",
        }
    }
}

/// An authenticated connection's identity and rights, as of when it connected (revocations
/// are applied by closing the connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub role: Role,
    pub token_id: i64,
    /// Book grants (unused for managers and admins, who have every book).
    pub books: HashMap<String, Access>,
}

impl Principal {
    /// The access this principal has to `book`.
    pub fn access(&self, book: &str) -> Option<Access> {
        match self.role {
            Role::Manager | Role::Admin => Some(Access::Write),
            Role::Rep => self.books.get(book).copied(),
        }
    }
}

impl Principal {
    /// What `GET /me` answers for this principal (`books`: every book of the server).
    pub fn grants(&self, books: &[String], storage_id: &str) -> Grants {
        let role = self.role;
        let mut granted: Vec<BookGrant> = match self.role {
            Role::Manager | Role::Admin => books
                .iter()
                .map(|b| BookGrant {
                    book: b.clone(),
                    read: true,
                    write: true,
                })
                .collect(),
            Role::Rep => self
                .books
                .iter()
                .map(|(b, access)| BookGrant {
                    book: b.clone(),
                    read: true,
                    write: *access == Access::Write,
                })
                .collect(),
        };
        granted.sort_by(|a, b| a.book.cmp(&b.book));
        Grants {
            open: false,
            user: Some(self.user.clone()),
            role: Some(role),
            books: granted,
            storage_id: storage_id.to_string(),
        }
    }
}

/// What `GET /me` answers on an open server (no users yet): anyone may write any book.
pub fn open_grants(storage_id: &str) -> Grants {
    Grants {
        open: true,
        user: None,
        role: None,
        books: Vec::new(),
        storage_id: storage_id.to_string(),
    }
}

/// One row of `user list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub books: Vec<String>,
    pub tokens: i64,
}

/// One row of `token list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub user: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The users, books, grants and tokens of a server.
pub struct Directory {
    conn: Connection,
}

fn check_name(name: &str) -> Result<(), DirectoryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::BadName(name.to_string()))
    }
}

/// The SHA-256 of a token: all the server keeps.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl Directory {
    /// Opens the directory tables in the server's store file (creating them if needed).
    pub fn open(path: &Path) -> Result<Self, DirectoryError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Directory { conn })
    }

    fn user_exists(&self, name: &str) -> Result<bool, DirectoryError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn book_exists(&self, name: &str) -> Result<bool, DirectoryError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM books WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn add_user(&mut self, name: &str, role: Role, now: i64) -> Result<(), DirectoryError> {
        check_name(name)?;
        if self.user_exists(name)? {
            return Err(DirectoryError::UserExists(name.to_string()));
        }
        self.conn.execute(
            "INSERT INTO users(name, role, created_at) VALUES (?1, ?2, ?3)",
            (name, role.as_str(), now),
        )?;
        Ok(())
    }

    pub fn set_role(&mut self, name: &str, role: Role) -> Result<(), DirectoryError> {
        if self.conn.execute(
            "UPDATE users SET role = ?2 WHERE name = ?1",
            (name, role.as_str()),
        )? == 0
        {
            return Err(DirectoryError::NoUser(name.to_string()));
        }
        Ok(())
    }

    pub fn add_book(&mut self, name: &str, now: i64) -> Result<(), DirectoryError> {
        check_name(name)?;
        if self.book_exists(name)? {
            return Err(DirectoryError::BookExists(name.to_string()));
        }
        self.conn.execute(
            "INSERT INTO books(name, created_at) VALUES (?1, ?2)",
            (name, now),
        )?;
        Ok(())
    }

    pub fn grant(&mut self, user: &str, book: &str, access: Access) -> Result<(), DirectoryError> {
        if !self.user_exists(user)? {
            return Err(DirectoryError::NoUser(user.to_string()));
        }
        if !self.book_exists(book)? {
            return Err(DirectoryError::NoBook(book.to_string()));
        }
        let access = match access {
            Access::Read => "read",
            Access::Write => "write",
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO grants(user, book, access) VALUES (?1, ?2, ?3)",
            (user, book, access),
        )?;
        Ok(())
    }

    /// Removes a user's grant on a book; returns false if there was none.
    pub fn revoke(&mut self, user: &str, book: &str) -> Result<bool, DirectoryError> {
        if !self.user_exists(user)? {
            return Err(DirectoryError::NoUser(user.to_string()));
        }
        Ok(self.conn.execute(
            "DELETE FROM grants WHERE user = ?1 AND book = ?2",
            (user, book),
        )? > 0)
    }

    pub fn users(&self) -> Result<Vec<UserRow>, DirectoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name, u.role,
                    (SELECT group_concat(g.book || ':' || g.access, ',') FROM grants g WHERE g.user = u.name),
                    (SELECT count(*) FROM tokens t WHERE t.user = u.name AND t.revoked_at IS NULL)
             FROM users u ORDER BY u.name",
        )?;
        let rows = stmt.query_map([], |r| {
            let books: Option<String> = r.get(2)?;
            Ok(UserRow {
                name: r.get(0)?,
                role: r.get(1)?,
                books: books
                    .map(|b| b.split(',').map(String::from).collect())
                    .unwrap_or_default(),
                tokens: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn books(&self) -> Result<Vec<String>, DirectoryError> {
        let mut stmt = self.conn.prepare("SELECT name FROM books ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Issues a token for `user`; `random` must be 32 bytes from a CSPRNG. Returns (id, token):
    /// the token is shown once and never stored.
    pub fn issue_token(
        &mut self,
        user: &str,
        random: [u8; 32],
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<(i64, String), DirectoryError> {
        if !self.user_exists(user)? {
            return Err(DirectoryError::NoUser(user.to_string()));
        }
        let token = format!("crm_{}", bs58::encode(random).into_string());
        self.conn.execute(
            "INSERT INTO tokens(user, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            (user, token_hash(&token), now, expires_at),
        )?;
        Ok((self.conn.last_insert_rowid(), token))
    }

    /// Revokes a token by id.
    pub fn revoke_token(&mut self, id: i64, now: i64) -> Result<(), DirectoryError> {
        if self.conn.execute(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
            (id, now),
        )? == 0
        {
            return Err(DirectoryError::NoToken(id));
        }
        Ok(())
    }

    /// Revokes every token of a user; returns how many.
    pub fn revoke_user_tokens(&mut self, user: &str, now: i64) -> Result<usize, DirectoryError> {
        if !self.user_exists(user)? {
            return Err(DirectoryError::NoUser(user.to_string()));
        }
        Ok(self.conn.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE user = ?1 AND revoked_at IS NULL",
            (user, now),
        )?)
    }

    pub fn tokens(&self) -> Result<Vec<TokenRow>, DirectoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, user, created_at, expires_at, revoked_at FROM tokens ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                user: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// True once any user exists: from then on every connection needs a token.
    pub fn has_users(&self) -> Result<bool, DirectoryError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM users LIMIT 1", [], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Every known document's book.
    pub fn doc_books(&self) -> Result<Vec<(crm_shared::DocumentId, String)>, DirectoryError> {
        let mut stmt = self.conn.prepare("SELECT doc, book FROM doc_books")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (doc, book) = row?;
            if let Ok(doc) = doc.parse() {
                out.push((doc, book));
            }
        }
        Ok(out)
    }

    /// Stored documents whose book is not recorded yet (stored before books were tracked, or
    /// a crash between storing a document and recording its book).
    pub fn docs_without_book(&self) -> Result<Vec<crm_shared::DocumentId>, DirectoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id FROM documents d LEFT JOIN doc_books b ON b.doc = d.id WHERE b.doc IS NULL",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.filter_map(|r| r.ok()?.parse().ok()).collect())
    }

    /// Records the books of newly stored documents (a book already recorded is kept: a move is
    /// recorded with [`Directory::move_doc_books`]).
    pub fn set_doc_books(
        &mut self,
        items: &[(crm_shared::DocumentId, String)],
    ) -> Result<(), DirectoryError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR IGNORE INTO doc_books(doc, book) VALUES (?1, ?2)")?;
            for (doc, book) in items {
                stmt.execute((doc.to_string(), book))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records documents that moved to another book (`None`: to no book), replacing what was
    /// recorded.
    pub fn move_doc_books(
        &mut self,
        items: &[(crm_shared::DocumentId, Option<String>)],
    ) -> Result<(), DirectoryError> {
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO doc_books(doc, book) VALUES (?1, ?2)
                 ON CONFLICT(doc) DO UPDATE SET book = excluded.book",
            )?;
            let mut clear = tx.prepare_cached("DELETE FROM doc_books WHERE doc = ?1")?;
            for (doc, book) in items {
                match book {
                    Some(book) => put.execute((doc.to_string(), book))?,
                    None => clear.execute([doc.to_string()])?,
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The principal a token stands for, if it is valid (known, not revoked, not expired).
    pub fn authenticate(&self, token: &str, now: i64) -> Result<Option<Principal>, DirectoryError> {
        self.principal_where("t.hash = ?1", token_hash(token), now)
    }

    /// Why a token that [`Directory::authenticate`] did not take is no good: said to the client,
    /// so a rep knows whether to ask for a new token or to check the one they typed.
    pub fn refusal(&self, token: &str, now: i64) -> Result<&'static str, DirectoryError> {
        let row: Option<(Option<i64>, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT revoked_at, expires_at FROM tokens WHERE hash = ?1")?
            .query_row([token_hash(token)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        use crm_shared::protocol::token_refusal as why;
        Ok(match row {
            None => why::UNKNOWN,
            Some((Some(_), _)) => why::REVOKED,
            Some((None, Some(at))) if at <= now => why::EXPIRED,
            // Its user was removed (or it became valid since).
            Some(_) => why::NOT_VALID,
        })
    }

    /// The principal of a token id, if the token is still valid: grants as they are now.
    pub fn principal_of_token(
        &self,
        id: i64,
        now: i64,
    ) -> Result<Option<Principal>, DirectoryError> {
        self.principal_where("t.id = ?1", id, now)
    }

    fn principal_where(
        &self,
        condition: &str,
        key: impl rusqlite::ToSql,
        now: i64,
    ) -> Result<Option<Principal>, DirectoryError> {
        let sql = format!(
            "SELECT t.id, u.name, u.role FROM tokens t JOIN users u ON u.name = t.user
             WHERE {condition} AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        );
        let row: Option<(i64, String, String)> = self
            .conn
            .prepare_cached(&sql)?
            .query_row((key, now), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((token_id, user, role)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT book, access FROM grants WHERE user = ?1")?;
        let books = stmt
            .query_map([&user], |r| {
                let access: String = r.get(1)?;
                Ok((
                    r.get::<_, String>(0)?,
                    if access == "write" {
                        Access::Write
                    } else {
                        Access::Read
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(Principal {
            user,
            role: role.parse().unwrap_or(Role::Rep),
            token_id,
            books,
        }))
    }
}

/// Seconds since the epoch (token expiry and revocation times).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, Directory) {
        let t = tempfile::tempdir().unwrap();
        let d = Directory::open(&t.path().join("s.sqlite3")).unwrap();
        (t, d)
    }

    #[test]
    fn tokens_authenticate_until_revoked_or_expired() {
        let (_t, mut d) = dir();
        d.add_user("ana", Role::Rep, 0).unwrap();
        d.add_book("north", 0).unwrap();
        d.grant("ana", "north", Access::Write).unwrap();
        let (id, token) = d.issue_token("ana", [7; 32], 0, Some(100)).unwrap();
        let p = d.authenticate(&token, 10).unwrap().unwrap();
        assert_eq!(p.user, "ana");
        assert_eq!(p.access("north"), Some(Access::Write));
        assert_eq!(p.access("south"), None);
        assert!(d.authenticate("crm_wrong", 10).unwrap().is_none());
        assert!(d.authenticate(&token, 100).unwrap().is_none(), "expired");
        assert!(
            d.principal_of_token(id, 100).unwrap().is_none(),
            "expired by id"
        );
        assert!(d.principal_of_token(id, 10).unwrap().is_some());
        d.revoke_token(id, 20).unwrap();
        assert!(d.authenticate(&token, 10).unwrap().is_none(), "revoked");
        // Only the hash is stored.
        let stored: Vec<u8> = d
            .conn
            .query_row("SELECT hash FROM tokens WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, token.as_bytes());
    }

    #[test]
    fn managers_see_every_book_and_bad_names_are_refused() {
        let (_t, mut d) = dir();
        d.add_user("max", Role::Manager, 0).unwrap();
        let (_, token) = d.issue_token("max", [1; 32], 0, None).unwrap();
        let p = d.authenticate(&token, 1).unwrap().unwrap();
        assert_eq!(p.access("anything"), Some(Access::Write));
        assert!(matches!(
            d.add_user("Max", Role::Rep, 0),
            Err(DirectoryError::BadName(_))
        ));
        assert!(matches!(
            d.add_user("max", Role::Rep, 0),
            Err(DirectoryError::UserExists(_))
        ));
        assert!(matches!(
            d.grant("max", "nowhere", Access::Read),
            Err(DirectoryError::NoBook(_))
        ));
        assert!(matches!(
            d.issue_token("nobody", [0; 32], 0, None),
            Err(DirectoryError::NoUser(_))
        ));
    }
}
