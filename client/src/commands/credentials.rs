//! A data dir's credentials: the token and CA certificate files, the server's URL, and the grants the server last
//! reported for that token (who the user is there, their role, the books they may read and
//! write), kept in [`GRANTS_FILE`]. A new server, token or CA is asked before anything is kept.

use super::Ctx;
use crate::session::{endpoint, grants, is_tls, CaCerts, SyncError};
use crate::store::Store;
use anyhow::{Context, Result};
use crm_shared::protocol::Grants;
use std::path::{Path, PathBuf};

/// The file holding the server token, readable by its owner only.
pub const TOKEN_FILE: &str = "token";
/// The file holding the CA certificates given with `--ca-cert` (PEM).
pub const CA_CERT_FILE: &str = "ca-cert.pem";

/// The file holding the grants the server last reported (JSON of [`Grants`]).
pub const GRANTS_FILE: &str = "grants.json";

/// Where and as whom a data dir syncs.
#[derive(Debug, Clone)]
pub struct Connection {
    pub url: String,
    pub token: Option<String>,
    pub ca: CaCerts,
}

/// Changes to a data dir's connection given on the command line (`--server`, `--token`,
/// `--ca-cert`), checked for shape before any is used.
#[derive(Debug, Default)]
pub struct Changes {
    pub server: Option<String>,
    pub token: Option<String>,
    pub ca: Option<CaCerts>,
}

impl Changes {
    /// Reads the flags: a malformed URL or an unusable CA file is refused here.
    pub fn from_flags(
        server: Option<String>,
        token: Option<String>,
        ca_cert: Option<&Path>,
    ) -> Result<Changes> {
        if let Some(server) = &server {
            endpoint(server)?;
        }
        if token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            anyhow::bail!(
                "--token is empty: give the token `crm-sync-server token issue USER` printed"
            );
        }
        Ok(Changes {
            server,
            token: token.map(|t| t.trim().to_string()),
            ca: ca_cert.map(read_ca_arg).transpose()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.server.is_none() && self.token.is_none() && self.ca.is_none()
    }

    /// The connection these changes make of the data dir's kept one (`None`: no server at all).
    pub fn applied_to(&self, dir: &Path, kept_server: Option<&str>) -> Result<Option<Connection>> {
        let Some(url) = self.server.as_deref().or(kept_server) else {
            return Ok(None);
        };
        Ok(Some(Connection {
            url: url.to_string(),
            token: match &self.token {
                Some(t) => Some(t.clone()),
                None => read_token(dir)?,
            },
            ca: match &self.ca {
                Some(ca) => ca.clone(),
                None => read_ca(dir)?,
            },
        }))
    }

    /// Keeps the token and CA of these changes in `dir` (the server URL is the store's: see
    /// [`Store::set_server`]).
    pub fn keep_secrets(&self, dir: &Path) -> Result<()> {
        if let Some(token) = &self.token {
            super::init::write_secret(&dir.join(TOKEN_FILE), token)?;
        }
        if let Some(ca) = &self.ca {
            save_ca(dir, ca)?;
        }
        Ok(())
    }

    /// Keeps all of these changes: the server in `store`, the token and the CA in its data dir.
    pub fn keep(&self, ctx: &Ctx, store: &mut Store) -> Result<()> {
        self.keep_secrets(&ctx.data_dir)?;
        if let Some(server) = &self.server {
            store.set_server(server)?;
        }
        if self.ca.is_some() {
            if let Some(url) = &store.identity.server {
                warn_plain(url);
            }
        }
        Ok(())
    }
}

/// What to check when asking the server failed, for a message that ends "nothing was saved".
pub fn what_to_check(e: &SyncError) -> &'static str {
    match e {
        SyncError::Refused { .. } => {
            "check the token (`crm-sync-server token issue USER` makes one)"
        }
        SyncError::Untrusted { .. } => "check --ca-cert",
        SyncError::NotSyncServer { .. } => "check the URL: it should be the crm-sync-server's",
        _ => "check the URL and that the server is running",
    }
}

/// Asks the server of `conn` what its token may do. The error says what failed.
pub fn ask(conn: &Connection) -> Result<Grants, SyncError> {
    grants::fetch(&conn.url, conn.token.as_deref(), &conn.ca)
}

/// Asks the server of `conn`, for a command that keeps nothing unless it answers: the error
/// is one line that says what failed, that nothing was saved and what to check.
pub fn check(conn: &Connection) -> Result<Grants> {
    ask(conn).map_err(|e| {
        anyhow::anyhow!(
            "{}; nothing was saved: {}",
            first_clause(&e),
            what_to_check(&e)
        )
    })
}

/// The error's text without the advice a sync error carries after its last colon when that
/// advice is about `crm sync` (this one-line message gives its own).
fn first_clause(e: &SyncError) -> String {
    match e {
        SyncError::Refused { status, reason, .. } if !reason.is_empty() => {
            format!("the sync server refused the token (HTTP {status}: {reason})")
        }
        SyncError::Refused { status, .. } => {
            format!("the sync server refused the token (HTTP {status})")
        }
        other => other.to_string(),
    }
}

fn grants_file(dir: &Path) -> PathBuf {
    dir.join(GRANTS_FILE)
}

/// The grants kept in `dir` (none before the first successful contact with a server).
pub fn kept_grants(dir: &Path) -> Result<Option<Grants>> {
    let path = grants_file(dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Keeps `grants` in `dir`, replacing what was there (written whole, then renamed).
pub fn keep_grants(dir: &Path, grants: &Grants) -> Result<()> {
    let path = grants_file(dir);
    let json = serde_json::to_vec_pretty(grants)?;
    crate::replace_file::replace(&path, &json)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The books `grants` lets the user write, for a message: "north, south", or a word for none.
pub fn list_writable(grants: &Grants) -> String {
    let books = grants.writable();
    if books.is_empty() {
        "none (ask an admin for a grant: `crm-sync-server grant USER BOOK`)".to_string()
    } else {
        books.join(", ")
    }
}

/// The book new records of a data dir go into, chosen from the grants: `asked` if the user may
/// write it, else the user's only writable book; an error listing the books otherwise.
///
/// A user who may write no book (read-only grants) may still name a book they read: their new
/// records stay on the laptop, as a read-only grant means.
pub fn choose_book(grants: &Grants, asked: Option<&str>) -> Result<String> {
    let user = grants.user.as_deref().unwrap_or("this user");
    match asked {
        Some(book) if grants.may_write(book) => Ok(book.to_string()),
        Some(book) if grants.writable().is_empty() && grants.may_read(book) => Ok(book.to_string()),
        Some(book) => anyhow::bail!(
            "{user} may not write book `{book}` on this server; books {user} may write: {}",
            list_writable(grants)
        ),
        None if grants.open => Ok("default".to_string()),
        None => {
            let writable = grants.writable();
            let readable = grants.readable();
            match (writable.as_slice(), readable.as_slice()) {
                ([only], _) => Ok(only.to_string()),
                ([], [only]) => Ok(only.to_string()),
                ([], _) if grants.is_manager() => anyhow::bail!(
                    "the server has no book yet: create one (`crm-sync-server book add NAME`), or pass --book NAME"
                ),
                ([], _) => anyhow::bail!(
                    "{user} may write no book on this server: ask an admin for a grant (`crm-sync-server grant {user} BOOK`)"
                ),
                (many, _) => anyhow::bail!(
                    "{user} may write several books ({}): choose one with --book BOOK",
                    many.join(", ")
                ),
            }
        }
    }
}

/// Before a sync: asks the server what the token may do and keeps the answer, and keeps the
/// flags' `changes` once the server answered with them. When the server cannot be asked and
/// nothing changed, the sync goes on (it reports the failure in its own words, and `--watch`
/// retries); a changed server, token or CA that the server did not take is not kept.
pub fn refresh(ctx: &Ctx, store: &mut Store, conn: &Connection, changes: &Changes) -> Result<()> {
    let grants = match ask(conn) {
        Ok(grants) => grants,
        Err(_) if changes.is_empty() => return Ok(()),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "{}; nothing was saved: {}",
                first_clause(&e),
                what_to_check(&e)
            ))
        }
    };
    if changes.token.is_some() || changes.server.is_some() {
        same_user(store, &grants)?;
    }
    changes.keep(ctx, store)?;
    keep_grants(&ctx.data_dir, &grants)?;
    warn_unwritable_book(&store.identity.book, &grants);
    Ok(())
}

/// Refuses a token of another user than the data dir's (their records would carry one name and
/// the server's grants another's).
pub fn same_user(store: &Store, grants: &Grants) -> Result<()> {
    match &grants.user {
        Some(user) if *user != store.identity.user => anyhow::bail!(
            "the token is {user}'s, and this data dir is {}'s: give {}'s token; nothing was saved",
            store.identity.user,
            store.identity.user
        ),
        _ => Ok(()),
    }
}

/// Says so when new records of this data dir go into a book the user may not write but could
/// (a book they may write exists): the server will refuse them until they are moved. A user with
/// read-only grants alone is not told on every sync what their grant means.
pub fn warn_unwritable_book(book: &str, grants: &Grants) {
    if grants.may_write(book) || grants.writable().is_empty() {
        return;
    }
    let user = grants.user.as_deref().unwrap_or("you");
    let target = match grants.writable().as_slice() {
        [only] => only.to_string(),
        _ => "BOOK".to_string(),
    };
    eprintln!(
        "crm: note: new records here go into book `{book}`, which {user} may not write on this server: `crm config --book {target}` changes that, and `crm move --all-from {book} --book {target}` moves those already made"
    );
}

/// The certificates of a `--ca-cert FILE`: an error naming the file when it is missing, holds
/// no certificate or holds something else.
pub fn read_ca_arg(path: &Path) -> Result<CaCerts> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the CA certificate file {}", path.display()))?;
    CaCerts::from_pem(&pem).with_context(|| format!("cannot use {} as --ca-cert", path.display()))
}

/// Keeps a copy of `ca` (only its certificates) in the data dir, replacing an earlier one.
pub fn save_ca(dir: &Path, ca: &CaCerts) -> Result<()> {
    let path = dir.join(CA_CERT_FILE);
    let pem = ca.to_pem();
    if std::fs::read_to_string(&path).is_ok_and(|kept| kept == pem) {
        return Ok(());
    }
    crate::replace_file::replace(&path, pem.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The kept CA certificates (none when no `--ca-cert` was ever given).
pub fn read_ca(dir: &Path) -> Result<CaCerts> {
    let path = dir.join(CA_CERT_FILE);
    match std::fs::read(&path) {
        Ok(pem) => CaCerts::from_pem(&pem).with_context(|| {
            format!(
                "the CA certificates kept in {} cannot be used (give --ca-cert FILE again)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CaCerts::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A CA certificate given for a server that does not use TLS is kept for later, with a note.
pub fn warn_plain(url: &str) {
    if !is_tls(url) {
        eprintln!(
            "crm: note: {url} is not encrypted; the --ca-cert certificates are kept for when it uses wss://"
        );
    }
}

/// The kept token (none when the data dir has none).
pub fn read_token(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the token in {}", path.display())),
    }
}
