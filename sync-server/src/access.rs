//! Who may read and write which document: books (territories) enforced on every message.
//!
//! Every record document names its book at its root (`book`). The server keeps a map from
//! document to book (persisted in the directory's `doc_books` table), and each connection's
//! [`Principal`]. The engine asks [`BookPolicy`] on every message and every relay: a denied read is
//! answered exactly like an unknown document, a denied write leaves the peer's changes unapplied.
//!
//! Incoming messages are screened before the engine sees them ([`screen`]); a move to another
//! book is told apart from other changes by [`moves`]; once stored, access follows it
//! ([`books`]); grants and revocations reach live connections through [`watch`].
//!
//! The workspace settings document ([`settings_id`]) names no book: every authenticated user
//! reads it, only managers and admins change it (a rep's changes, new or not, are refused like
//! an edit under a read-only grant). So are price lists (ids marked by
//! [`crm_shared::schema::is_price_list_id`]): a rep prices quotes from them offline. Any other
//! document without a book is managers' and admins'. The product catalogue's book
//! ([`CATALOGUE_BOOK`]) is the same: every user reads it, only managers and admins change it,
//! whatever the grants.
//!
//! Open mode: while the server has no users at all, every connection is anonymous and may do
//! anything (a first run, a trial, tests). The log says so at start-up. Adding a user ends it.

pub mod books;
mod moves;
pub mod screen;
pub mod watch;

use crate::directory::{Access as Right, Principal, Role};
use crate::metrics::{self, AccessLabels, AccessRefusal};
use crm_shared::engine::{AccessPolicy, ConnectionId, PeerContext};
use crm_shared::schema::{is_price_list_id, settings_id, CATALOGUE_BOOK};
use crm_shared::DocumentId;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

pub use screen::Screened;

/// The access state shared by the request handlers, the hub and the engine's policy.
#[derive(Debug)]
pub struct Access {
    open: AtomicBool,
    /// Every live connection; `None` for one accepted anonymously in open mode.
    principals: RwLock<HashMap<ConnectionId, Option<Principal>>>,
    books: RwLock<HashMap<DocumentId, String>>,
    new_books: RwLock<Vec<(DocumentId, String)>>,
    /// Documents refused: new ones in a book the sender may not write, and moves.
    refused: Family<AccessLabels, Counter>,
}

impl Access {
    pub fn new(open: bool, books: impl IntoIterator<Item = (DocumentId, String)>) -> Self {
        Access {
            open: AtomicBool::new(open),
            principals: RwLock::default(),
            books: RwLock::new(books.into_iter().collect()),
            new_books: RwLock::default(),
            refused: metrics::family(AccessRefusal::ALL.map(|refused| AccessLabels { refused })),
        }
    }

    /// The documents refused, by what was refused (for `/metrics`).
    pub fn refusals(&self) -> &Family<AccessLabels, Counter> {
        &self.refused
    }

    fn count_refusal(&self, refused: AccessRefusal) {
        self.refused.get_or_create(&AccessLabels { refused }).inc();
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Relaxed)
    }

    pub fn set_open(&self, open: bool) {
        self.open.store(open, Relaxed);
    }

    pub fn connect(&self, conn: ConnectionId, principal: Option<Principal>) {
        if let Ok(mut p) = self.principals.write() {
            p.insert(conn, principal);
        }
    }

    /// Updates a live connection's rights (grants changed); a connection already gone stays gone.
    pub fn refresh(&self, conn: ConnectionId, principal: Principal) {
        if let Ok(mut p) = self.principals.write() {
            if let Some(slot) = p.get_mut(&conn) {
                *slot = Some(principal);
            }
        }
    }

    pub fn disconnect(&self, conn: ConnectionId) {
        if let Ok(mut p) = self.principals.write() {
            p.remove(&conn);
        }
    }

    /// Connections that have no principal (joined in open mode).
    pub fn anonymous_connections(&self) -> Vec<ConnectionId> {
        self.principals
            .read()
            .map(|p| {
                p.iter()
                    .filter(|(_, pr)| pr.is_none())
                    .map(|(c, _)| *c)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The connections authenticated with each token, for revocation.
    pub fn connections_by_token(&self) -> Vec<(i64, ConnectionId)> {
        self.principals
            .read()
            .map(|p| {
                p.iter()
                    .filter_map(|(c, pr)| pr.as_ref().map(|pr| (pr.token_id, *c)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Book mappings learned since the last call, to persist.
    pub fn take_new_books(&self) -> Vec<(DocumentId, String)> {
        self.new_books
            .write()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// What `conn` may do with `doc`, a document of `book` (`None`: it names no book).
    fn right(&self, conn: ConnectionId, doc: &DocumentId, book: Option<&str>) -> Option<Right> {
        if self.is_open() {
            return Some(Right::Write);
        }
        let principals = self.principals.read().ok()?;
        let p = principals.get(&conn)?.as_ref()?;
        match book {
            // The catalogue is everyone's to read (every rep quotes from it), and only
            // managers' and admins' to change.
            Some(CATALOGUE_BOOK) if p.role == Role::Rep => Some(Right::Read),
            Some(b) => p.access(b),
            // Managers and admins see and change documents outside every book.
            None if matches!(p.role, Role::Manager | Role::Admin) => Some(Right::Write),
            // The workspace settings are everyone's to read (a rep's weighted pipeline uses the
            // team's probabilities), and only managers' and admins' to change.
            None if *doc == settings_id() => Some(Right::Read),
            // So are the price lists a rep's quotes are priced from.
            None if is_price_list_id(doc) => Some(Right::Read),
            None => None,
        }
    }

    /// True when the book of `doc` is recorded.
    pub fn knows_book(&self, doc: &DocumentId) -> bool {
        self.books
            .read()
            .map(|b| b.contains_key(doc))
            .unwrap_or(false)
    }

    fn book_of(&self, doc: &DocumentId) -> Option<String> {
        self.books.read().ok()?.get(doc).cloned()
    }

    /// True when `conn` may move documents between books: a manager or an admin (anyone in
    /// open mode).
    fn may_move(&self, conn: ConnectionId) -> bool {
        if self.is_open() {
            return true;
        }
        self.principals
            .read()
            .ok()
            .and_then(|p| p.get(&conn).cloned().flatten())
            .is_some_and(|p| matches!(p.role, Role::Manager | Role::Admin))
    }

    /// Records that a document's book changed (a move, applied and stored); `None`: its changes
    /// left it without a book. Returns the book it had.
    pub fn rebook(&self, doc: DocumentId, book: Option<String>) -> Option<String> {
        let mut books = self.books.write().ok()?;
        match book {
            Some(book) => books.insert(doc, book),
            None => books.remove(&doc),
        }
    }

    /// The recorded book of `doc`.
    pub fn recorded_book(&self, doc: &DocumentId) -> Option<String> {
        self.book_of(doc)
    }

    /// Records the book of a document (learned from its first changes or from storage).
    pub fn learn(&self, doc: DocumentId, book: String) {
        if let Ok(mut b) = self.books.write() {
            b.insert(doc, book.clone());
        }
        if let Ok(mut n) = self.new_books.write() {
            n.push((doc, book));
        }
    }
}

/// The engine's view of [`Access`].
pub struct BookPolicy(pub Arc<Access>);

impl AccessPolicy for BookPolicy {
    fn may_read(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        let book = self.0.book_of(doc);
        self.0.right(peer.conn, doc, book.as_deref()).is_some()
    }

    fn may_write(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        let book = self.0.book_of(doc);
        self.0.right(peer.conn, doc, book.as_deref()) == Some(Right::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};
    use crm_shared::protocol::{Message, PeerId};
    use moves::tests::{last_change, message, record};

    fn principal(role: Role, books: &[&str]) -> Principal {
        Principal {
            user: "u".into(),
            role,
            token_id: 1,
            books: books
                .iter()
                .map(|b| (b.to_string(), Right::Write))
                .collect(),
        }
    }

    fn sync(doc: DocumentId, data: Vec<u8>) -> Message {
        Message::Sync {
            sender_id: PeerId::try_from("peer".to_string()).unwrap(),
            target_id: PeerId::try_from("server".to_string()).unwrap(),
            document_id: doc,
            data,
        }
    }

    #[test]
    fn only_managers_and_admins_move_documents() {
        let id = DocumentId::from_random([7; 16]);
        let access = Access::new(false, [(id, "north".to_string())]);
        let (rep, manager) = (ConnectionId(1), ConnectionId(2));
        access.connect(rep, Some(principal(Role::Rep, &["north", "south"])));
        access.connect(manager, Some(principal(Role::Manager, &[])));
        let mut doc = record("north");
        doc.put(ROOT, "book", "south").unwrap();
        doc.commit();
        let moved = message(vec![last_change(&mut doc, false)]);
        let refused = access.screen(rep, sync(id, moved.clone()), |_| true, |_, _| false);
        assert!(refused.message.is_none());
        assert!(matches!(
            refused.replies.as_slice(),
            [Message::DocUnavailable { document_id, .. }] if *document_id == id
        ));
        let taken = access.screen(manager, sync(id, moved), |_| true, |_, _| false);
        assert!(taken.message.is_some() && taken.replies.is_empty());
        assert_eq!(taken.rebook, [id]);
        // The rep's other edits, and a whole document still in its book, pass.
        doc.put(ROOT, "title", "CFO").unwrap();
        doc.commit();
        let edit = message(vec![last_change(&mut doc, false)]);
        let passed = access.screen(rep, sync(id, edit), |_| true, |_, _| false);
        assert!(passed.message.is_some() && passed.rebook.is_empty());
        let whole = message(vec![record("north").save()]);
        assert!(access
            .screen(rep, sync(id, whole), |_| true, |_, _| false)
            .message
            .is_some());
        // Open mode: no roles, moves pass (and are followed).
        access.set_open(true);
        let anyone = access.screen(
            ConnectionId(3),
            sync(id, message(vec![doc.save()])),
            |_| true,
            |_, _| false,
        );
        assert!(anyone.message.is_some());
        assert_eq!(anyone.rebook, [id]);
    }

    #[test]
    fn every_user_reads_price_lists_and_only_managers_and_admins_write_them() {
        let access = Access::new(false, []);
        let (rep, manager) = (ConnectionId(1), ConnectionId(2));
        access.connect(rep, Some(principal(Role::Rep, &["north"])));
        access.connect(manager, Some(principal(Role::Manager, &[])));
        let list = crm_shared::schema::price_list_id("North resellers");
        assert_eq!(access.right(rep, &list, None), Some(Right::Read));
        assert_eq!(access.right(manager, &list, None), Some(Right::Write));
        let other = DocumentId::from_random([9; 16]);
        assert_eq!(access.right(rep, &other, None), None);
    }

    #[test]
    fn every_user_reads_the_settings_and_only_managers_and_admins_write_them() {
        let access = Access::new(false, []);
        let (rep, manager, admin) = (ConnectionId(1), ConnectionId(2), ConnectionId(3));
        access.connect(rep, Some(principal(Role::Rep, &["north"])));
        access.connect(manager, Some(principal(Role::Manager, &[])));
        access.connect(admin, Some(principal(Role::Admin, &[])));
        let settings = settings_id();
        assert_eq!(access.right(rep, &settings, None), Some(Right::Read));
        assert_eq!(access.right(manager, &settings, None), Some(Right::Write));
        assert_eq!(access.right(admin, &settings, None), Some(Right::Write));
        // Other documents without a book stay hidden from reps.
        let other = DocumentId::from_random([9; 16]);
        assert_eq!(access.right(rep, &other, None), None);
        // A rep's settings document, new to the server, is refused; a manager's is taken.
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "probability.proposal", 65).unwrap();
        doc.commit();
        let new = message(vec![doc.save()]);
        let refused = access.screen(rep, sync(settings, new.clone()), |_| false, |_, _| false);
        assert!(refused.message.is_none() && refused.replies.len() == 1);
        let taken = access.screen(manager, sync(settings, new), |_| false, |_, _| false);
        assert!(taken.message.is_some() && taken.replies.is_empty());
    }

    #[test]
    fn every_user_reads_the_catalogue_and_only_managers_and_admins_write_it() {
        let access = Access::new(false, []);
        let (rep, manager) = (ConnectionId(1), ConnectionId(2));
        // Even a rep granted a book named like the catalogue only reads it.
        access.connect(rep, Some(principal(Role::Rep, &["north", CATALOGUE_BOOK])));
        access.connect(manager, Some(principal(Role::Manager, &[])));
        let product = DocumentId::from_random([5; 16]);
        let in_catalogue = Some(CATALOGUE_BOOK);
        assert_eq!(access.right(rep, &product, in_catalogue), Some(Right::Read));
        assert_eq!(
            access.right(manager, &product, in_catalogue),
            Some(Right::Write)
        );
        // A rep's new product document is refused; a manager's is taken.
        let new = message(vec![record(CATALOGUE_BOOK).save()]);
        let refused = access.screen(rep, sync(product, new.clone()), |_| false, |_, _| false);
        assert!(refused.message.is_none() && refused.replies.len() == 1);
        let taken = access.screen(manager, sync(product, new), |_| false, |_, _| false);
        assert!(taken.message.is_some() && taken.replies.is_empty());
    }
}
