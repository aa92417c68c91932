//! Screening: a message is looked at before the engine applies it.
//!
//! A document the server has never seen is screened for its book: its incoming changes are
//! decoded into a scratch document to learn it; if the uploader may not write that book, the
//! changes are dropped and the peer is told the document is unavailable, so a read-only rep's new
//! records stay on their laptop and nothing else of theirs is refused. (Edits to existing
//! documents under a read-only grant are refused by the engine the same way.)
//!
//! Moving a record to another book is a manager's act. A change to a known document that sets its
//! root `book` to another book than the recorded one is a move: from anyone but a manager or an
//! admin, the whole sync message for that document is dropped and answered `doc-unavailable`
//! before the engine applies any of it ([`super::moves`] tells a move apart).

use super::moves::{book_puts_in_sync_message, may_touch_book};
use super::Access;
use crate::directory::Access as Right;
use crate::metrics::AccessRefusal;
use automerge::Automerge;
use crm_shared::engine::ConnectionId;
use crm_shared::protocol::{BatchKind, Message, PeerId};
use crm_shared::schema::book_of_document;
use crm_shared::DocumentId;

/// What screening a frame decided.
#[derive(Debug)]
pub struct Screened {
    /// The message to hand to the engine (unchanged, without refused items, or none).
    pub message: Option<Message>,
    /// Answers for refused documents (`doc-unavailable`), to send as they are.
    pub replies: Vec<Message>,
    /// Known documents whose root `book` the passed changes touch (a move by a manager or an
    /// admin, or a put of the book they have): their book is read again once the changes are
    /// applied, since a merge of concurrent moves may show either value.
    pub rebook: Vec<DocumentId>,
}

/// One document's sync data, as screening sees it.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    /// The server stores the document.
    known: bool,
    /// It came as a request (the sender has no copy).
    request: bool,
    /// Asked only before refusing a move: true when the server holds every change of the
    /// sender's copy (the message's heads), so the message brings nothing new.
    holds: &'a dyn Fn() -> bool,
}

/// What screening decided for one document's sync data.
enum Decision {
    Pass,
    /// Pass, and read the document's book again once applied.
    Rebook,
    /// Drop it and answer `doc-unavailable`.
    Refuse,
}

/// The answer to a message whose only document is refused.
fn refused(sender_id: PeerId, target_id: PeerId, document_id: DocumentId) -> Screened {
    Screened {
        message: None,
        replies: vec![Message::DocUnavailable {
            sender_id: target_id,
            target_id: sender_id,
            document_id,
        }],
        rebook: Vec::new(),
    }
}

impl Access {
    /// What to do with the sync data `conn` sent for `doc` (`known`: the server stores it).
    fn decide(
        &self,
        conn: ConnectionId,
        doc: &DocumentId,
        data: &[u8],
        item: Incoming,
    ) -> Decision {
        if !item.known && !self.knows_book(doc) {
            // In open mode its book is recorded when it is first stored (`hub::persist`); the
            // engine applies nothing from a request for a document it does not hold.
            if self.is_open() || item.request {
                return Decision::Pass;
            }
            return match book_in_sync_message(data) {
                // No changes yet (a request, or heads only): nothing to decide.
                None => Decision::Pass,
                Some(book) => {
                    if self.right(conn, doc, book.as_deref()) == Some(Right::Write) {
                        if let Some(book) = book {
                            self.learn(*doc, book);
                        }
                        Decision::Pass
                    } else {
                        tracing::info!(conn = conn.0, document = %doc, book = ?book, "refused a new document in a book the peer may not write");
                        self.count_refusal(AccessRefusal::NewDocument);
                        Decision::Refuse
                    }
                }
            };
        }
        // A known document: the common case is a change that does not touch its book, told
        // apart by a scan of the bytes.
        if !may_touch_book(data) {
            return Decision::Pass;
        }
        let Some(values) = book_puts_in_sync_message(data) else {
            return Decision::Pass;
        };
        let recorded = self.book_of(doc);
        let moved = values.iter().find(|v| v.as_deref() != recorded.as_deref());
        match moved {
            // Changes the server holds already move nothing: a rep's laptop re-offering a
            // record a manager moved since (after a restore, its whole copy) is no mover.
            Some(_) if (item.holds)() => Decision::Pass,
            Some(to) if !self.may_move(conn) => {
                tracing::info!(conn = conn.0, document = %doc, from = ?recorded, to = ?to, "refused a move to another book: only a manager or an admin moves records");
                self.count_refusal(AccessRefusal::Move);
                Decision::Refuse
            }
            _ => Decision::Rebook,
        }
    }

    /// Screens a message from `conn` before the engine applies it (`known` says whether the
    /// server stores a document): for documents it does not know yet, learns their book from the
    /// changes and drops those the sender may not write; for known documents, drops changes that
    /// move one to another book unless the sender is a manager or an admin, and names those whose
    /// book the changes touch (see [`Screened::rebook`]). `holds(doc, heads)` says whether the
    /// server holds every change with these heads (asked only before refusing a move).
    pub fn screen(
        &self,
        conn: ConnectionId,
        message: Message,
        known: impl Fn(&DocumentId) -> bool,
        holds: impl Fn(&DocumentId, &[automerge::ChangeHash]) -> bool,
    ) -> Screened {
        let mut rebook = Vec::new();
        let mut allowed = |doc: &DocumentId, data: &[u8], request: bool| -> bool {
            if data.is_empty() {
                return true;
            }
            let holds_all = || {
                automerge::sync::Message::decode(data)
                    .is_ok_and(|m| !m.heads.is_empty() && holds(doc, &m.heads))
            };
            let item = Incoming {
                known: known(doc),
                request,
                holds: &holds_all,
            };
            match self.decide(conn, doc, data, item) {
                Decision::Pass => true,
                Decision::Rebook => {
                    rebook.push(*doc);
                    true
                }
                Decision::Refuse => false,
            }
        };
        match message {
            // A request carries a sync message too, applied like any other when the server
            // holds the document.
            Message::Sync {
                ref sender_id,
                ref target_id,
                document_id,
                ref data,
            }
            | Message::Request {
                ref sender_id,
                ref target_id,
                document_id,
                ref data,
            } => {
                let request = matches!(message, Message::Request { .. });
                if allowed(&document_id, data, request) {
                    Screened {
                        message: Some(message),
                        replies: Vec::new(),
                        rebook,
                    }
                } else {
                    refused(sender_id.clone(), target_id.clone(), document_id)
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
                        // Only sync messages carry changes (`fetch` is empty, and a `doc` from
                        // a client is ignored by the engine).
                        let ok = !matches!(item.kind, BatchKind::Sync | BatchKind::Request)
                            || allowed(
                                &item.document_id,
                                &item.data,
                                item.kind == BatchKind::Request,
                            );
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
                Screened {
                    message,
                    replies,
                    rebook,
                }
            }
            other => Screened {
                message: Some(other),
                replies: Vec::new(),
                rebook,
            },
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
