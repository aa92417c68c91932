//! Who may read and write which document: books (territories) enforced on every message.
//!
//! Every record document names its book at its root (`book`). The server keeps a map from
//! document to book (persisted in the directory's `doc_books` table), and each connection's
//! [`Principal`]. The engine asks [`BookPolicy`] on every message and every relay: a denied read is
//! answered exactly like an unknown document, a denied write leaves the peer's changes unapplied.
//!
//! A document the server has never seen is screened before the engine sees it ([`Access::screen`]):
//! its incoming changes are decoded into a scratch document to learn its book; if the uploader may
//! not write that book, the changes are dropped and the peer is told the document is unavailable,
//! so a read-only rep's new records stay on their laptop and nothing else of theirs is refused.
//! (Edits to existing documents under a read-only grant are refused by the engine the same way.)
//!
//! Open mode: while the server has no users at all, every connection is anonymous and may do
//! anything (a first run, a trial, tests). The log says so at start-up. Adding a user ends it.

use crate::auth::{Access as Right, Principal, Role};
use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};
use crm_shared::protocol::{BatchKind, Message};
use crm_shared::sync::{AccessPolicy, ConnectionId, PeerContext};
use crm_shared::DocumentId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

/// The access state shared by the request handlers, the hub and the engine's policy.
#[derive(Debug, Default)]
pub struct Access {
    open: AtomicBool,
    /// Every live connection; `None` for one accepted anonymously in open mode.
    principals: RwLock<HashMap<ConnectionId, Option<Principal>>>,
    books: RwLock<HashMap<DocumentId, String>>,
    new_books: RwLock<Vec<(DocumentId, String)>>,
}

/// What screening a frame decided.
#[derive(Debug)]
pub struct Screened {
    /// The message to hand to the engine (unchanged, without refused items, or none).
    pub message: Option<Message>,
    /// Answers for refused documents (`doc-unavailable`), to send as they are.
    pub replies: Vec<Message>,
}

impl Access {
    pub fn new(open: bool, books: impl IntoIterator<Item = (DocumentId, String)>) -> Self {
        Access {
            open: AtomicBool::new(open),
            principals: RwLock::default(),
            books: RwLock::new(books.into_iter().collect()),
            new_books: RwLock::default(),
        }
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

    /// What `conn` may do with a document of `book` (`None`: the document names no book).
    fn right(&self, conn: ConnectionId, book: Option<&str>) -> Option<Right> {
        if self.is_open() {
            return Some(Right::Write);
        }
        let principals = self.principals.read().ok()?;
        let p = principals.get(&conn)?.as_ref()?;
        match book {
            Some(b) => p.access(b),
            // Only managers and admins see documents outside every book.
            None => matches!(p.role, Role::Manager | Role::Admin).then_some(Right::Write),
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

    /// Screens a message from `conn` for documents the server does not know yet (`known` says
    /// whether it holds one): learns their book from the changes, and drops those the sender may
    /// not write.
    pub fn screen(
        &self,
        conn: ConnectionId,
        message: Message,
        known: impl Fn(&DocumentId) -> bool,
    ) -> Screened {
        let pass = |message| Screened {
            message: Some(message),
            replies: Vec::new(),
        };
        if self.is_open() {
            return pass(message);
        }
        let allowed = |doc: &DocumentId, data: &[u8]| -> bool {
            if known(doc) || self.book_of(doc).is_some() {
                return true;
            }
            match book_in_sync_message(data) {
                // No changes yet (a request, or heads only): nothing to decide.
                None => true,
                Some(book) => {
                    let ok = self.right(conn, book.as_deref()) == Some(Right::Write);
                    if ok {
                        if let Some(book) = book {
                            self.learn(*doc, book);
                        }
                    } else {
                        tracing::info!(conn = conn.0, document = %doc, book = ?book, "refused a new document in a book the peer may not write");
                    }
                    ok
                }
            }
        };
        match message {
            Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            } => {
                if allowed(&document_id, &data) {
                    pass(Message::Sync {
                        sender_id,
                        target_id,
                        document_id,
                        data,
                    })
                } else {
                    Screened {
                        message: None,
                        replies: vec![Message::DocUnavailable {
                            sender_id: target_id,
                            target_id: sender_id,
                            document_id,
                        }],
                    }
                }
            }
            Message::CrmBatch {
                sender_id,
                target_id,
                items,
            } => {
                let mut refused = Vec::new();
                let kept: Vec<_> = items
                    .into_iter()
                    .filter(|item| {
                        let ok =
                            item.kind != BatchKind::Sync || allowed(&item.document_id, &item.data);
                        if !ok {
                            refused.push(item.document_id);
                        }
                        ok
                    })
                    .collect();
                let replies = refused
                    .into_iter()
                    .map(|document_id| Message::DocUnavailable {
                        sender_id: target_id.clone(),
                        target_id: sender_id.clone(),
                        document_id,
                    })
                    .collect();
                let message = (!kept.is_empty()).then_some(Message::CrmBatch {
                    sender_id,
                    target_id,
                    items: kept,
                });
                Screened { message, replies }
            }
            other => pass(other),
        }
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

/// The book named by the changes in an Automerge sync message: `None` when the message carries
/// no changes, `Some(None)` when its changes name no book.
fn book_in_sync_message(data: &[u8]) -> Option<Option<String>> {
    let message = automerge::sync::Message::decode(data).ok()?;
    if message.changes.is_empty() {
        return None;
    }
    let mut scratch = Automerge::new();
    for chunk in message.changes.iter() {
        if scratch.load_incremental(chunk).is_err() {
            return Some(None);
        }
    }
    Some(book_of_document(&scratch))
}

/// The `book` at the root of a document.
pub fn book_of_document(doc: &Automerge) -> Option<String> {
    match doc.get(ROOT, "book").ok().flatten()? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The engine's view of [`Access`].
pub struct BookPolicy(pub Arc<Access>);

impl AccessPolicy for BookPolicy {
    fn may_read(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        let book = self.0.book_of(doc);
        self.0.right(peer.conn, book.as_deref()).is_some()
    }

    fn may_write(&self, peer: PeerContext<'_>, doc: &DocumentId) -> bool {
        let book = self.0.book_of(doc);
        self.0.right(peer.conn, book.as_deref()) == Some(Right::Write)
    }
}
