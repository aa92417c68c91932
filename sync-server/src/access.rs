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
//! Moving a record to another book is a manager's act. A change to a known document that sets its
//! root `book` to another book than the recorded one is a move: from anyone but a manager or an
//! admin, the whole sync message for that document is dropped and answered `doc-unavailable`
//! before the engine applies any of it. Telling a move apart must cost next to nothing on every
//! other change: [`may_touch_book`] scans the bytes (a plain change holds the key `book` as plain
//! text), and only a maybe is decoded; a whole document (what a small record's edits travel as) is
//! read from its operation columns, not loaded. Once a move is applied and stored, the hub records
//! the book automerge shows (after concurrent moves, the same value on every replica): access
//! follows at once.
//!
//! The workspace settings document ([`settings_id`]) names no book: every authenticated user
//! reads it, only managers and admins change it (a rep's changes, new or not, are refused like
//! an edit under a read-only grant). Any other document without a book is managers' and admins'.
//!
//! Open mode: while the server has no users at all, every connection is anonymous and may do
//! anything (a first run, a trial, tests). The log says so at start-up. Adding a user ends it.

use crate::auth::{Access as Right, Principal, Role};
use crate::chunk::{take, Reader, CHUNK_CHANGE, CHUNK_DOCUMENT, COLUMN_DEFLATE, MAGIC};
use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};
use crm_shared::engine::{AccessPolicy, ConnectionId, PeerContext};
use crm_shared::protocol::{BatchKind, Message, PeerId};
use crm_shared::schema::settings_id;
use crm_shared::DocumentId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

/// The access state shared by the request handlers, the hub and the engine's policy.
#[derive(Debug, Default)]
pub struct Access {
    open: AtomicBool,
    /// Every live connection; `None` for one accepted anonymously in open mode.
    principals: RwLock<HashMap<ConnectionId, Option<Principal>>>,
    books: RwLock<HashMap<DocumentId, String>>,
    new_books: RwLock<Vec<(DocumentId, String)>>,
    /// Documents refused: new ones in a book the sender may not write, and moves.
    refused_new: AtomicU64,
    refused_moves: AtomicU64,
}

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
    pub fn new(open: bool, books: impl IntoIterator<Item = (DocumentId, String)>) -> Self {
        Access {
            open: AtomicBool::new(open),
            principals: RwLock::default(),
            books: RwLock::new(books.into_iter().collect()),
            new_books: RwLock::default(),
            refused_new: AtomicU64::new(0),
            refused_moves: AtomicU64::new(0),
        }
    }

    /// The refusals counted, as Prometheus text.
    pub fn render(&self, out: &mut String) {
        crate::metrics::write_labelled_counter(
            out,
            "crm_sync_access_refusals_total",
            "Documents refused by book access, by what was refused.",
            "refused",
            &[
                ("new_document", &self.refused_new),
                ("move", &self.refused_moves),
            ],
        );
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
            Some(b) => p.access(b),
            // Managers and admins see and change documents outside every book.
            None if matches!(p.role, Role::Manager | Role::Admin) => Some(Right::Write),
            // The workspace settings are everyone's to read (a rep's weighted pipeline uses the
            // team's probabilities), and only managers' and admins' to change.
            None if *doc == settings_id() => Some(Right::Read),
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
                        self.refused_new.fetch_add(1, Relaxed);
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
                self.refused_moves.fetch_add(1, Relaxed);
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

/// A cheap test that is true whenever the changes in the Automerge sync message `data` may
/// hold an operation on the root key `book` (and rarely otherwise): one pass over the bytes.
///
/// A change chunk (Automerge refuses deflated columns in one) and a document chunk without
/// deflated columns hold map keys as plain UTF-8, so a `book` key shows as the bytes `book`.
/// Any other chunk (a compressed change, a document with deflated columns) may hide it, and
/// counts as a maybe. A chunk begins with the magic bytes, a 4-byte checksum and its type.
fn may_touch_book(data: &[u8]) -> bool {
    data.windows(4).enumerate().any(|(i, w)| {
        w == b"book"
            || (w == MAGIC
                && match data.get(i + 8) {
                    Some(&CHUNK_CHANGE) => false,
                    Some(&CHUNK_DOCUMENT) => split_chunk(data.get(i..).unwrap_or_default())
                        .and_then(|chunk| document_columns(chunk.body))
                        .is_none(),
                    _ => true,
                })
    })
}

/// The values at the root key `book` that the changes of an Automerge sync message bring: for
/// a change, each operation it makes there; for a whole document, the values it shows there.
/// `None` (a value that is not a string, or a delete) counts as a value too, and so does a chunk
/// that does not decode: nothing hides a move. `None` overall when the message does not decode
/// (the engine refuses it) or nothing touches the root `book`.
fn book_puts_in_sync_message(data: &[u8]) -> Option<Vec<Option<String>>> {
    let message = automerge::sync::Message::decode(data).ok()?;
    let mut values = Vec::new();
    let mut puts = BookPuts::default();
    for bytes in message.changes.iter() {
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(chunk) = split_chunk(rest) else {
                values.push(None);
                break;
            };
            rest = chunk.rest;
            if chunk.kind == CHUNK_DOCUMENT {
                match visible_books_in_document(chunk.body) {
                    Some(found) => values.extend(found),
                    // Deflated columns, or a layout this reader does not know: loaded.
                    None => match Automerge::load(chunk.bytes) {
                        Ok(doc) => values.extend(
                            doc.get_all(ROOT, "book")
                                .unwrap_or_default()
                                .into_iter()
                                .map(|(v, _)| string_of(&v)),
                        ),
                        Err(_) => values.push(None),
                    },
                }
            } else {
                match automerge::Change::try_from(chunk.bytes) {
                    Ok(change) => puts.add(&change),
                    Err(_) => values.push(None),
                }
            }
        }
    }
    values.extend(puts.surviving());
    (!values.is_empty()).then_some(values)
}

fn string_of(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(b) => Some(b.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// One storage chunk, as it starts a run of bytes.
struct Chunk<'a> {
    kind: u8,
    /// The whole chunk.
    bytes: &'a [u8],
    /// What follows its header.
    body: &'a [u8],
    /// What follows the chunk.
    rest: &'a [u8],
}

/// The first storage chunk of `bytes`.
fn split_chunk(bytes: &[u8]) -> Option<Chunk<'_>> {
    if bytes.get(..4)? != MAGIC {
        return None;
    }
    let kind = *bytes.get(8)?;
    let mut r = Reader(bytes.get(9..)?);
    let len = usize::try_from(r.uleb()?).ok()?;
    let start = bytes.len() - r.0.len();
    let end = start.checked_add(len)?;
    Some(Chunk {
        kind,
        bytes: bytes.get(..end)?,
        body: bytes.get(start..end)?,
        rest: bytes.get(end..)?,
    })
}

/// Adds the values `change` puts at the root key `book`.
/// The operations on the root `book` of a message's changes, with what each overwrites.
#[derive(Default)]
struct BookPuts {
    /// (id, value: `None` for a delete or a value that is not text).
    ops: Vec<(automerge::legacy::OpId, Option<String>)>,
    overwritten: std::collections::HashSet<automerge::legacy::OpId>,
}

impl BookPuts {
    fn add(&mut self, change: &automerge::Change) {
        use automerge::legacy::{Key, ObjectId, OpId, OpType};
        let change = change.decode();
        for (i, op) in change.operations.into_iter().enumerate() {
            if op.obj != ObjectId::Root || !matches!(&op.key, Key::Map(k) if k == "book") {
                continue;
            }
            let id = OpId(change.start_op.get() + i as u64, change.actor_id.clone());
            let value = match &op.action {
                OpType::Put(ScalarValue::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            // A delete overwrites without leaving a value of its own that a later put names: it
            // is counted as a move to no book whatever follows.
            self.overwritten.extend(op.pred.iter().cloned());
            self.ops.push((id, value));
        }
    }

    /// The values no other operation of the message overwrites: what the book is once the
    /// message is applied (with whatever concurrent value the document holds). A rep who moved
    /// a record and then moved it back sends both changes; only the second counts.
    fn surviving(self) -> impl Iterator<Item = Option<String>> {
        let overwritten = self.overwritten;
        self.ops
            .into_iter()
            .filter(move |(id, _)| !overwritten.contains(id))
            .map(|(_, value)| value)
    }
}

/// The operation columns of a document chunk's body: `None` when it does not parse or a column
/// is deflated.
fn document_columns(body: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut r = Reader(body);
    for _ in 0..r.uleb()? {
        r.prefixed()?; // actor
    }
    let heads = usize::try_from(r.uleb()?).ok()?;
    r.take(heads.checked_mul(32)?)?;
    let change_columns = r.columns()?;
    let op_columns = r.columns()?;
    let mut change_bytes = 0usize;
    for (spec, len) in change_columns {
        if spec & COLUMN_DEFLATE != 0 {
            return None;
        }
        change_bytes = change_bytes.checked_add(len)?;
    }
    r.take(change_bytes)?;
    op_columns
        .into_iter()
        .map(|(spec, len)| {
            (spec & COLUMN_DEFLATE == 0)
                .then_some(())
                .and(r.take(len))
                .map(|c| (u64::from(spec), c))
        })
        .collect()
}

/// The values a document chunk's body shows at the root key `book` (operations there with no
/// successor), read from its operation columns without loading it: `None` when a column is
/// deflated or the columns do not line up (the caller loads the chunk instead).
fn visible_books_in_document(body: &[u8]) -> Option<Vec<Option<String>>> {
    // Column specifications: id << 4 | type (automerge's binary format).
    const OBJ_ACTOR: u64 = 0x01;
    const OBJ_COUNTER: u64 = 0x02;
    const KEY_STRING: u64 = 0x15;
    const ACTION: u64 = 0x42;
    const VALUE_META: u64 = 0x56;
    const VALUE_RAW: u64 = 0x57;
    const SUCC_COUNT: u64 = 0x80;
    const ACTION_SET: u64 = 1;
    const VALUE_STRING: u64 = 6;
    let columns = document_columns(body)?;
    let column = |spec: u64| columns.iter().find(|(s, _)| *s == spec).map(|(_, c)| *c);
    let mut obj_actor = Rle::new(column(OBJ_ACTOR), false);
    let mut obj_counter = Rle::new(column(OBJ_COUNTER), false);
    let mut key = Rle::new(column(KEY_STRING), true);
    let mut action = Rle::new(column(ACTION), false);
    let mut meta = Rle::new(column(VALUE_META), false);
    let mut succ = Rle::new(column(SUCC_COUNT), false);
    let mut raw = column(VALUE_RAW).unwrap_or_default();
    let mut values = Vec::new();
    while !action.done() {
        let act = action.next()??.uleb()?;
        let (actor, counter) = (obj_actor.next()?, obj_counter.next()?);
        let root = actor.is_none() && counter.is_none();
        let name = key.next()?;
        let m = meta.next()?.map_or(Some(0), Item::uleb)?;
        let value = take(&mut raw, usize::try_from(m >> 4).ok()?)?;
        let successors = succ.next()?.map_or(Some(0), Item::uleb)?;
        if root && successors == 0 && name.and_then(Item::str) == Some(&b"book"[..]) {
            values.push(
                (act == ACTION_SET && m & 0xf == VALUE_STRING)
                    .then(|| String::from_utf8(value.to_vec()).ok())
                    .flatten(),
            );
        }
    }
    // Every column holds one item per operation: anything left over is a layout this does not
    // know.
    let lined_up = [&obj_actor, &obj_counter, &key, &meta, &succ]
        .iter()
        .all(|c| c.done())
        && raw.is_empty();
    lined_up.then_some(values)
}

/// One item of a run-length encoded column.
#[derive(Clone, Copy)]
enum Item<'a> {
    Uleb(u64),
    Str(&'a [u8]),
}

impl<'a> Item<'a> {
    fn uleb(self) -> Option<u64> {
        match self {
            Item::Uleb(n) => Some(n),
            Item::Str(_) => None,
        }
    }

    fn str(self) -> Option<&'a [u8]> {
        match self {
            Item::Str(s) => Some(s),
            Item::Uleb(_) => None,
        }
    }
}

/// A run-length encoded column of unsigned integers or strings (automerge's RLE: a signed
/// count; positive, a run of one value; negative, that many literal values; zero, a run of
/// nulls). An absent column is all nulls.
struct Rle<'a> {
    data: Option<Reader<'a>>,
    strings: bool,
    left: u64,
    literal: bool,
    value: Option<Item<'a>>,
}

impl<'a> Rle<'a> {
    fn new(data: Option<&'a [u8]>, strings: bool) -> Self {
        Rle {
            data: data.map(Reader),
            strings,
            left: 0,
            literal: false,
            value: None,
        }
    }

    fn done(&self) -> bool {
        self.left == 0 && self.data.as_ref().is_none_or(|r| r.0.is_empty())
    }

    fn item(&mut self) -> Option<Item<'a>> {
        let r = self.data.as_mut()?;
        Some(if self.strings {
            Item::Str(r.prefixed()?)
        } else {
            Item::Uleb(r.uleb()?)
        })
    }

    /// The next item (`Some(None)`: a null); `None` when the column is malformed or ran out.
    fn next(&mut self) -> Option<Option<Item<'a>>> {
        let Some(r) = self.data.as_mut() else {
            return Some(None);
        };
        if self.left == 0 {
            let count = r.sleb()?;
            if count > 0 {
                self.left = count.unsigned_abs();
                self.literal = false;
                self.value = Some(self.item()?);
            } else if count < 0 {
                self.left = count.unsigned_abs();
                self.literal = true;
            } else {
                self.left = r.uleb()?;
                self.literal = false;
                self.value = None;
            }
            if self.left == 0 {
                return None;
            }
        }
        self.left -= 1;
        if self.literal {
            Some(Some(self.item()?))
        } else {
            Some(self.value)
        }
    }
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
    use crate::auth::Principal;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType};
    use proptest::prelude::*;

    fn message(chunks: Vec<Vec<u8>>) -> Vec<u8> {
        automerge::sync::Message {
            heads: Vec::new(),
            need: Vec::new(),
            have: Vec::new(),
            changes: chunks.into(),
            flags: None,
            version: automerge::sync::MessageVersion::V2,
        }
        .encode()
    }

    fn record(book: &str) -> AutoCommit {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "type", "contact").unwrap();
        doc.put(ROOT, "book", book).unwrap();
        doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.commit();
        doc
    }

    /// The last change of `doc`, plain or (when it is big enough) compressed.
    fn last_change(doc: &mut AutoCommit, compressed: bool) -> Vec<u8> {
        let mut change = doc.get_last_local_change().unwrap();
        if compressed {
            change.bytes().into_owned()
        } else {
            change.raw_bytes().to_vec()
        }
    }

    fn shown(doc: &AutoCommit) -> Vec<Option<String>> {
        let mut v: Vec<_> = doc
            .get_all(ROOT, "book")
            .unwrap()
            .into_iter()
            .map(|(v, _)| string_of(&v))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn an_edit_that_leaves_the_book_alone_is_told_apart_by_a_scan() {
        let mut doc = record("north");
        doc.put(ROOT, "title", "CFO").unwrap();
        doc.commit();
        let edit = message(vec![last_change(&mut doc, false)]);
        assert!(!may_touch_book(&edit));
        assert_eq!(book_puts_in_sync_message(&edit), None);
        // Heads only (an acknowledgement).
        assert!(!may_touch_book(&message(Vec::new())));
    }

    #[test]
    fn a_move_is_found_in_a_change_a_compressed_change_and_a_whole_document() {
        let mut doc = record("north");
        let text = doc.get(ROOT, "notes").unwrap().unwrap().1;
        doc.splice_text(&text, 0, 0, &"Met at the Lisbon fair. ".repeat(40))
            .unwrap();
        doc.put(ROOT, "book", "south").unwrap();
        doc.commit();
        let plain = last_change(&mut doc, false);
        let compressed = last_change(&mut doc, true);
        assert_eq!(compressed[8], 2, "a compressed change chunk");
        for chunk in [plain, compressed] {
            let m = message(vec![chunk]);
            assert!(may_touch_book(&m));
            assert_eq!(
                book_puts_in_sync_message(&m),
                Some(vec![Some("south".to_string())])
            );
        }
        // A whole document shows one value: the one that won.
        for whole in [doc.save(), doc.save_nocompress()] {
            let m = message(vec![whole]);
            assert!(may_touch_book(&m));
            assert_eq!(
                book_puts_in_sync_message(&m),
                Some(vec![Some("south".to_string())])
            );
        }
        // A nested `book` is no book.
        let mut nested = record("north");
        let tags = nested.put_object(ROOT, "tags", ObjType::Map).unwrap();
        nested.put(&tags, "book", "x").unwrap();
        nested.commit();
        let m = message(vec![last_change(&mut nested, false)]);
        assert_eq!(book_puts_in_sync_message(&m), None);
        // A delete is a move to no book.
        nested.delete(ROOT, "book").unwrap();
        nested.commit();
        let m = message(vec![last_change(&mut nested, false)]);
        assert_eq!(book_puts_in_sync_message(&m), Some(vec![None]));
    }

    #[test]
    fn a_move_and_a_move_back_in_one_message_leave_the_book_as_it_was() {
        let mut doc = record("north");
        doc.put(ROOT, "book", "south").unwrap();
        doc.commit();
        let there = last_change(&mut doc, false);
        doc.put(ROOT, "title", "CFO").unwrap();
        doc.put(ROOT, "book", "north").unwrap();
        doc.commit();
        let back = last_change(&mut doc, false);
        assert_eq!(
            book_puts_in_sync_message(&message(vec![there.clone(), back])),
            Some(vec![Some("north".to_string())])
        );
        // The move alone, or followed by a change that does not undo it, is still a move.
        doc.put(ROOT, "title", "CEO").unwrap();
        doc.commit();
        let other = last_change(&mut doc, false);
        assert_eq!(
            book_puts_in_sync_message(&message(vec![there, other])),
            Some(vec![Some("south".to_string())])
        );
    }

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

    #[derive(Debug, Clone)]
    enum Op {
        Book(u8),
        DeleteBook,
        Key(u8, u8),
        Nested(u8),
        Text(u16),
        Merge,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4).prop_map(Op::Book),
            Just(Op::DeleteBook),
            (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Key(k, v)),
            (0u8..4).prop_map(Op::Nested),
            (0u16..600).prop_map(Op::Text),
            Just(Op::Merge),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The column reader agrees with Automerge on every document, and the scan never misses
        /// a change or a document that touches the root `book`.
        #[test]
        fn the_column_reader_and_the_scan_agree_with_automerge(ops in prop::collection::vec(op(), 1..40)) {
            let mut a = record("north");
            let mut b = a.fork();
            let text = a.get(ROOT, "notes").unwrap().unwrap().1;
            for (i, op) in ops.iter().enumerate() {
                let doc = if i % 2 == 0 { &mut a } else { &mut b };
                match op {
                    Op::Book(n) => { doc.put(ROOT, "book", format!("book{n}")).unwrap(); }
                    Op::DeleteBook => { let _ = doc.delete(ROOT, "book"); }
                    Op::Key(k, v) => { doc.put(ROOT, format!("k{k}"), i64::from(*v)).unwrap(); }
                    Op::Nested(n) => {
                        let m = doc.put_object(ROOT, format!("m{n}"), ObjType::Map).unwrap();
                        doc.put(&m, "book", "inner").unwrap();
                    }
                    Op::Text(n) => { doc.splice_text(&text, 0, 0, &"x".repeat(usize::from(*n))).unwrap(); }
                    Op::Merge => { a.merge(&mut b).unwrap(); b.merge(&mut a).unwrap(); }
                }
                let doc = if i % 2 == 0 { &mut a } else { &mut b };
                if doc.commit().is_some() {
                    for compressed in [false, true] {
                        let m = message(vec![last_change(doc, compressed)]);
                        if !may_touch_book(&m) {
                            prop_assert_eq!(book_puts_in_sync_message(&m), None);
                        }
                    }
                }
            }
            a.merge(&mut b).unwrap();
            for whole in [a.save(), a.save_nocompress()] {
                let body = split_chunk(&whole).unwrap().body;
                if let Some(mut found) = visible_books_in_document(body) {
                    found.sort();
                    prop_assert_eq!(found, shown(&a));
                }
                let m = message(vec![whole.clone()]);
                let mut all = book_puts_in_sync_message(&m).unwrap_or_default();
                all.sort();
                prop_assert_eq!(all, shown(&a));
                if !shown(&a).is_empty() {
                    prop_assert!(may_touch_book(&m));
                }
            }
            // Uncompressed documents are read from their columns, not loaded.
            let plain = a.save_nocompress();
            prop_assert!(visible_books_in_document(split_chunk(&plain).unwrap().body).is_some());
        }
    }
}
