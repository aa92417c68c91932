//! The automerge-repo WebSocket protocol, version "1", plus our many-documents extension.
//!
//! One binary WebSocket message is one CBOR map ([`decode`] / [`encode`]). The messages and their
//! fields follow `@automerge/automerge-repo` 2.5.6 (`src/network/messages.ts`) and
//! `automerge-repo-network-websocket` (`join`, `peer`, `error`, `leave`); see `PROTOCOL.md`.
//!
//! API boundary: [`decode`] never panics, whatever the input: it bounds nesting ([`cbor::MAX_DEPTH`]),
//! frame size ([`MAX_FRAME_LEN`]) and id lengths, never allocates from a length header, and reports
//! every problem as a [`DecodeError`]. An unknown `type` is [`DecodeError::UnknownType`], so the engine
//! can ignore messages from newer peers instead of dropping the connection.
//!
//! # The `crmBatch` extension (versions 2 and 3)
//!
//! One record is one Automerge document, so a client holds thousands of small documents. Running the
//! Automerge sync protocol per document on every connect costs a round trip and ~150 bytes per
//! document even when nothing changed. The extension makes "nothing changed" cost one round trip
//! and ~200 bytes, makes "a few documents changed" cost about what changed, and batches the rest.
//!
//! **Negotiation.** A client that speaks it puts `crmBatch: N` in the `peerMetadata` of its `join`,
//! N the highest version it speaks ([`CRM_BATCH_VERSION`]); a peer that speaks version N also speaks
//! every version from [`CRM_BATCH_MIN_VERSION`] to N. A server that speaks it answers with
//! `crmBatch: M` in the `peerMetadata` of `peer`, M the highest version both speak
//! ([`negotiate_batch`]); otherwise it leaves the field out. Only then are the `crm-*` messages
//! below sent, as version M has them. A plain automerge-repo peer never announces it and so never
//! sees them (an extra metadata field would be ignored by JS anyway). A version-2 server answers
//! only a `crmBatch: 2` join, so a newer client meets it as a plain automerge-repo peer.
//!
//! **Digests.** `docDigest(doc)` = first 16 bytes of SHA-256 over the document's 16 id bytes followed
//! by its heads, sorted, concatenated (32 bytes each); a summary entry carries its first 8 bytes.
//! Documents fall into [`BUCKETS`] buckets by the first 12 bits of their id bytes ([`bucket_of`]).
//! A bucket's digest is the XOR of the `docDigest`s of its documents with non-empty heads, and the
//! set digest the XOR of all of them: order-independent, so either side can keep it up to date
//! document by document ([`SetSummary`]) instead of hashing its whole catalog on every connect.
//!
//! **Messages** (all also carry `type`, `senderId`, `targetId`):
//! - `crm-summary` (client → server, right after `peer`): `count` (uint, documents in the set) and
//!   `digest` (16-byte bstr): the set digest of every document the client holds.
//! - `crm-summary-reply` (server → client): `count`, `digest` of the set the client may read on the
//!   server, `match` (bool: both digests and counts are equal). When they differ, either
//!   `entries` (the whole set: one bstr of 24-byte records `documentId(16) ‖ docDigest[..8]`; sent
//!   when either set is empty or the server's is small) or `buckets` (one bstr of [`BUCKETS`]
//!   8-byte records: each bucket's digest, first 8 bytes).
//! - `crm-buckets` (client → server, after `buckets`): `buckets`, a bstr of big-endian u16 bucket
//!   numbers whose digests differ from the client's.
//! - `crm-bucket-entries` (server → client): `buckets` (the same list) and `entries` (as above) of
//!   the server's documents in those buckets.
//!   The client then runs the Automerge sync protocol for exactly the documents whose digest differs
//!   or that only one side has (within the listed buckets), a `request` for those it lacks, a `sync`
//!   for the others, all in `crm-batch`es. So a mismatch costs ~32 KiB of bucket digests plus ~24
//!   bytes per document of the differing buckets (~44 per bucket per 180k documents), not 24 bytes per
//!   document of the book.
//! - `crm-batch` (both ways): `items`, an array of `[kind, documentId(16-byte bstr), data(bstr)]` where
//!   kind 0 = `sync`, 1 = `request`, 2 = `doc-unavailable` (empty data). Each item means exactly what
//!   the standalone message would mean; a batch is only a way to share one frame. Version 3 adds:
//!   - kind 3 = `fetch` (client → server, empty data): "I hold nothing of this document: send it
//!     whole". It asks like a `request` and is answered like one (`doc-unavailable` for a document
//!     the peer may not read or the server lacks), or
//!   - kind 4 = `doc` (server → client): `data` is the document as the server stores it (what
//!     `Automerge::load` takes: a document chunk, maybe followed by change chunks), sent as stored,
//!     without an Automerge sync round. The client stores it as it came. Both sides then hold the
//!     document at the heads of those bytes, as after a completed sync; nothing is acknowledged
//!     (nothing need be: the server keeps no state for it, the client tells nothing about it until
//!     it is committed). A server whose copy is busy (loaded, in flight) may answer a `fetch` with
//!     a `sync` carrying the whole document instead, as it would answer a `request`.
//!
//!   A restore (a client holding nothing) thus costs one `fetch` per document up, the stored bytes
//!   down, and neither side loads the document into Automerge for the transfer.
//!
//! After the summary exchange the server pushes every change of a document the peer may read to a
//! `crmBatch` peer (it subscribed to its whole readable set), not only of documents it synced.
//!
//! Sync states (`automerge::sync::State::encode`, 34 bytes once in sync) are kept by the client per
//! server `storageId` between connections and handed back on connect, so a document that differs
//! costs only the changes since the last sync.

pub(crate) mod cbor;
mod grants;
mod ids;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::document_id::{DocumentId, DocumentIdError};
use cbor::{Value, Writer};
pub use grants::{BookGrant, Grants, Role, UnknownRole, GRANTS_PATH};
pub use ids::{IdError, PeerId, SessionId, StorageId, MAX_ID_LEN};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: &str = "1";
/// The highest version of the `crmBatch` extension this crate speaks.
pub const CRM_BATCH_VERSION: u64 = 3;
/// The lowest version of the `crmBatch` extension this crate speaks.
pub const CRM_BATCH_MIN_VERSION: u64 = 2;
/// The first version with `fetch` and `doc` batch items.
pub const CRM_BATCH_FETCH_VERSION: u64 = 3;

/// The `crmBatch` version to use with a peer that announced `offered` (the highest it speaks):
/// the highest version both speak, if any.
pub fn negotiate_batch(offered: Option<u64>) -> Option<u64> {
    offered
        .filter(|v| *v >= CRM_BATCH_MIN_VERSION)
        .map(|v| v.min(CRM_BATCH_VERSION))
}
/// Buckets of the `crmBatch` summary (by the first 12 bits of a document id's bytes).
pub const BUCKETS: usize = 4096;
/// Why our server refused a token: the first line of its HTTP 401 body, which `crm` reads to
/// say what to do next.
pub mod token_refusal {
    pub const UNKNOWN: &str = "unknown token";
    pub const REVOKED: &str = "this token was revoked";
    pub const EXPIRED: &str = "this token expired";
    /// Its user was removed, or anything else: no better word for it.
    pub const NOT_VALID: &str = "this token is not valid";
}

/// The largest frame [`decode`] accepts (a full sync of a big document is one frame).
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;
/// The most items one `crm-batch` may carry.
pub const MAX_BATCH_ITEMS: usize = 100_000;

/// What a peer says about itself in `join` / `peer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    pub storage_id: Option<StorageId>,
    pub is_ephemeral: bool,
    /// `crmBatch`: the version of our extension the peer speaks, if any.
    pub crm_batch: Option<u64>,
}

/// The kind of one item in a `crm-batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchKind {
    Sync = 0,
    Request = 1,
    DocUnavailable = 2,
    /// Version 3: send this document whole (empty data).
    Fetch = 3,
    /// Version 3: a whole document as stored (data: what `Automerge::load` takes).
    Doc = 4,
}

/// One document's message inside a `crm-batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    pub kind: BatchKind,
    pub document_id: DocumentId,
    /// An Automerge sync message (empty for `Fetch`, a stored document for `Doc`). For
    /// `DocUnavailable`, empty, or [`UNAVAILABLE_HELD`]: the sender holds every change the peer
    /// named in its message, so the peer's copy strands nothing (it is only not shared with it).
    pub data: Vec<u8>,
}

/// The data of a `DocUnavailable` batch item telling the peer that nothing of its copy is
/// missing on the sender (see [`BatchItem::data`]); a peer that does not know it ignores it.
pub const UNAVAILABLE_HELD: &[u8] = &[1];

/// 8 bytes standing for a document's heads in a summary (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeadsDigest(pub [u8; 8]);

/// One document of a `crm-summary-reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryEntry {
    pub document_id: DocumentId,
    pub heads: HeadsDigest,
}

/// The digest of a set of documents (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SummaryDigest(pub [u8; 16]);

/// The digest of one document's heads: first 8 bytes of SHA-256 over the sorted heads.
pub fn heads_digest(heads: &[automerge::ChangeHash]) -> HeadsDigest {
    let mut sorted: Vec<_> = heads.to_vec();
    sorted.sort();
    let mut h = Sha256::new();
    for head in &sorted {
        h.update(head.0);
    }
    let out = h.finalize();
    let mut d = [0u8; 8];
    d.copy_from_slice(&out[..8]);
    HeadsDigest(d)
}

/// The digest of a set of documents: the XOR of their [`doc_digest`]s (see the module doc).
pub fn summary_digest(set: &BTreeMap<DocumentId, DocDigest>) -> SummaryDigest {
    let mut s = SetSummary::default();
    for (id, d) in set {
        s.add(id, d);
    }
    s.digest()
}

/// A document's `docDigest` (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DocDigest(pub [u8; 16]);

impl DocDigest {
    /// The 8 bytes a summary entry carries.
    pub fn entry(&self) -> HeadsDigest {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.0[..8]);
        HeadsDigest(d)
    }
}

/// The `docDigest` of a document with these heads (sorted here).
pub fn doc_digest(id: &DocumentId, heads: &[automerge::ChangeHash]) -> DocDigest {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    if heads.windows(2).all(|w| w[0] <= w[1]) {
        for head in heads {
            h.update(head.0);
        }
    } else {
        let mut sorted: Vec<_> = heads.to_vec();
        sorted.sort();
        for head in &sorted {
            h.update(head.0);
        }
    }
    let out = h.finalize();
    let mut d = [0u8; 16];
    d.copy_from_slice(&out[..16]);
    DocDigest(d)
}

/// The summary bucket of a document: the first 12 bits of its id bytes.
pub fn bucket_of(id: &DocumentId) -> u16 {
    let b = id.as_bytes();
    (u16::from(b[0]) << 4) | u16::from(b[1] >> 4)
}

/// The first and the last document id of a bucket.
pub fn bucket_range(bucket: u16) -> (DocumentId, DocumentId) {
    let mut lo = [0u8; 16];
    lo[0] = (bucket >> 4) as u8;
    lo[1] = ((bucket & 0xf) as u8) << 4;
    let mut hi = [0xffu8; 16];
    hi[0] = lo[0];
    hi[1] = lo[1] | 0x0f;
    (DocumentId::from_bytes(lo), DocumentId::from_bytes(hi))
}

/// A set of documents summarised for `crmBatch`: how many, and each bucket's digest. Kept up to
/// date document by document with [`SetSummary::add`] / [`SetSummary::remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSummary {
    pub count: u64,
    /// [`BUCKETS`] digests.
    pub buckets: Vec<[u8; 16]>,
}

impl Default for SetSummary {
    fn default() -> Self {
        SetSummary {
            count: 0,
            buckets: vec![[0; 16]; BUCKETS],
        }
    }
}

impl SetSummary {
    fn xor(&mut self, id: &DocumentId, d: &DocDigest) {
        let b = &mut self.buckets[usize::from(bucket_of(id))];
        for (x, y) in b.iter_mut().zip(d.0) {
            *x ^= y;
        }
    }

    /// Adds a document (with non-empty heads).
    pub fn add(&mut self, id: &DocumentId, d: &DocDigest) {
        self.count += 1;
        self.xor(id, d);
    }

    /// Removes a document added before.
    pub fn remove(&mut self, id: &DocumentId, d: &DocDigest) {
        self.count = self.count.saturating_sub(1);
        self.xor(id, d);
    }

    /// The set digest: the XOR of every bucket's.
    pub fn digest(&self) -> SummaryDigest {
        let mut d = [0u8; 16];
        for b in &self.buckets {
            for (x, y) in d.iter_mut().zip(b) {
                *x ^= y;
            }
        }
        SummaryDigest(d)
    }

    /// The bucket digests as `crm-summary-reply` carries them (8 bytes each).
    pub fn wire_buckets(&self) -> Vec<[u8; 8]> {
        self.buckets
            .iter()
            .map(|b| {
                let mut d = [0u8; 8];
                d.copy_from_slice(&b[..8]);
                d
            })
            .collect()
    }

    /// Encodes for storage: count (8 bytes, big-endian) then the bucket digests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 16 * BUCKETS);
        v.extend_from_slice(&self.count.to_be_bytes());
        for b in &self.buckets {
            v.extend_from_slice(b);
        }
        v
    }

    /// Decodes [`SetSummary::to_bytes`]; `None` if damaged.
    pub fn from_bytes(bytes: &[u8]) -> Option<SetSummary> {
        if bytes.len() != 8 + 16 * BUCKETS {
            return None;
        }
        let count = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let buckets = bytes[8..]
            .chunks_exact(16)
            .map(|c| c.try_into().unwrap_or([0; 16]))
            .collect();
        Some(SetSummary { count, buckets })
    }
}

/// One protocol message. Field names follow the JS ones (`senderId` → `sender_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Client → server handshake. `supported_protocol_versions: None` means `["1"]`.
    Join {
        sender_id: PeerId,
        peer_metadata: PeerMetadata,
        supported_protocol_versions: Option<Vec<String>>,
    },
    /// Server → client handshake answer.
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        peer_metadata: PeerMetadata,
        selected_protocol_version: String,
    },
    /// An Automerge sync message for one document.
    Sync {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    /// Like `Sync`, from a peer that has no copy of the document.
    Request {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    },
    /// "I do not have it / you may not have it" (deliberately ambiguous).
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
    },
    /// Presence/cursor data, relayed and deduplicated by (sender, session, count).
    Ephemeral {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        session_id: SessionId,
        count: u64,
        data: Vec<u8>,
    },
    /// Heads-gossip subscription control; parsed and ignored by our engine.
    RemoteSubscriptionChange {
        sender_id: PeerId,
        target_id: PeerId,
        add: Vec<StorageId>,
        remove: Vec<StorageId>,
    },
    /// Heads gossip; parsed (only its document) and ignored by our engine.
    RemoteHeadsChanged {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
    },
    /// A fatal protocol error; the sender closes the connection.
    Error {
        sender_id: Option<PeerId>,
        target_id: Option<PeerId>,
        message: String,
    },
    /// The peer is going away.
    Leave { sender_id: PeerId },
    /// Extension: the client's summary of its documents.
    CrmSummary {
        sender_id: PeerId,
        target_id: PeerId,
        count: u64,
        digest: SummaryDigest,
    },
    /// Extension: the server's answer to a summary.
    CrmSummaryReply {
        sender_id: PeerId,
        target_id: PeerId,
        count: u64,
        digest: SummaryDigest,
        matched: bool,
        entries: Vec<SummaryEntry>,
        /// Bucket digests (empty, or [`BUCKETS`] of them).
        buckets: Vec<[u8; 8]>,
    },
    /// Extension: the buckets whose digests differ, asked for by the client.
    CrmBuckets {
        sender_id: PeerId,
        target_id: PeerId,
        buckets: Vec<u16>,
    },
    /// Extension: the server's entries of the asked buckets.
    CrmBucketEntries {
        sender_id: PeerId,
        target_id: PeerId,
        buckets: Vec<u16>,
        entries: Vec<SummaryEntry>,
    },
    /// Extension: messages for many documents in one frame.
    CrmBatch {
        sender_id: PeerId,
        target_id: PeerId,
        items: Vec<BatchItem>,
    },
}

impl Message {
    /// A `request` (the sender has nothing of the document yet) or a `sync` carrying `data`, an
    /// encoded Automerge sync message.
    pub fn doc_sync(
        request: bool,
        sender_id: PeerId,
        target_id: PeerId,
        document_id: DocumentId,
        data: Vec<u8>,
    ) -> Message {
        if request {
            Message::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
        } else {
            Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            }
        }
    }

    /// The `type` string on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Sync { .. } => "sync",
            Message::Request { .. } => "request",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Message::RemoteHeadsChanged { .. } => "remote-heads-changed",
            Message::Error { .. } => "error",
            Message::Leave { .. } => "leave",
            Message::CrmSummary { .. } => "crm-summary",
            Message::CrmSummaryReply { .. } => "crm-summary-reply",
            Message::CrmBuckets { .. } => "crm-buckets",
            Message::CrmBucketEntries { .. } => "crm-bucket-entries",
            Message::CrmBatch { .. } => "crm-batch",
        }
    }

    /// The `senderId`, if the message has one.
    pub fn sender_id(&self) -> Option<&PeerId> {
        match self {
            Message::Join { sender_id, .. }
            | Message::Peer { sender_id, .. }
            | Message::Sync { sender_id, .. }
            | Message::Request { sender_id, .. }
            | Message::DocUnavailable { sender_id, .. }
            | Message::Ephemeral { sender_id, .. }
            | Message::RemoteSubscriptionChange { sender_id, .. }
            | Message::RemoteHeadsChanged { sender_id, .. }
            | Message::Leave { sender_id }
            | Message::CrmSummary { sender_id, .. }
            | Message::CrmSummaryReply { sender_id, .. }
            | Message::CrmBuckets { sender_id, .. }
            | Message::CrmBucketEntries { sender_id, .. }
            | Message::CrmBatch { sender_id, .. } => Some(sender_id),
            Message::Error { sender_id, .. } => sender_id.as_ref(),
        }
    }
}

/// Why a frame is not a protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes is larger than the limit of {MAX_FRAME_LEN}")]
    TooLarge(usize),
    #[error("invalid CBOR at byte {offset}: {reason}")]
    Cbor { offset: usize, reason: String },
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    #[error("CBOR nested deeper than {0}")]
    TooDeep(usize),
    #[error("the message is not a CBOR map")]
    NotAMap,
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` is not {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error("field `{field}`: {source}")]
    InvalidId {
        field: &'static str,
        source: IdError,
    },
    #[error("field `{field}`: {source}")]
    InvalidDocumentId {
        field: &'static str,
        source: DocumentIdError,
    },
    #[error("field `{field}`: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

// ---------------------------------------------------------------------------------------------
// Decoding

fn field<'v>(map: &'v Value, name: &'static str) -> Result<&'v Value, DecodeError> {
    map.get(name).ok_or(DecodeError::MissingField(name))
}

fn text<'v>(map: &'v Value, name: &'static str) -> Result<&'v str, DecodeError> {
    field(map, name)?.as_str().ok_or(DecodeError::WrongType {
        field: name,
        expected: "a text string",
    })
}

/// [`bytes`] without copying them: the last use of the field.
fn take_bytes(map: &mut Value, name: &'static str) -> Result<Vec<u8>, DecodeError> {
    field(map, name)?;
    map.take_bytes(name).ok_or(DecodeError::WrongType {
        field: name,
        expected: "a byte string",
    })
}

fn bytes(map: &Value, name: &'static str) -> Result<Vec<u8>, DecodeError> {
    field(map, name)?
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or(DecodeError::WrongType {
            field: name,
            expected: "a byte string",
        })
}

fn uint(map: &Value, name: &'static str) -> Result<u64, DecodeError> {
    field(map, name)?.as_u64().ok_or(DecodeError::WrongType {
        field: name,
        expected: "a non-negative integer",
    })
}

fn id<T: std::str::FromStr<Err = IdError>>(
    map: &Value,
    name: &'static str,
) -> Result<T, DecodeError> {
    text(map, name)?
        .parse()
        .map_err(|source| DecodeError::InvalidId {
            field: name,
            source,
        })
}

fn opt_id<T: std::str::FromStr<Err = IdError>>(
    map: &Value,
    name: &'static str,
) -> Result<Option<T>, DecodeError> {
    match map.get(name) {
        None => Ok(None),
        Some(_) => id(map, name).map(Some),
    }
}

fn doc_id(map: &Value, name: &'static str) -> Result<DocumentId, DecodeError> {
    recent_doc_id(text(map, name)?).map_err(|source| DecodeError::InvalidDocumentId {
        field: name,
        source,
    })
}

/// `text` parsed as a document id, from [`RECENT_DOC_IDS`] when it was lately.
fn recent_doc_id(text: &str) -> Result<DocumentId, DocumentIdError> {
    RECENT_DOC_IDS.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(id) = recent.get(text) {
            return Ok(id);
        }
        let id = text.parse()?;
        recent.put(text, id);
        Ok(id)
    })
}

thread_local! {
    /// Document ids this thread read from the wire lately: peers name the same few documents in
    /// frame after frame, and checking a bs58check id (base-58 arithmetic and two SHA-256s)
    /// costs more than the rest of decoding an acknowledgement.
    static RECENT_DOC_IDS: std::cell::RefCell<RecentDocIds> = const {
        std::cell::RefCell::new(RecentDocIds { entries: Vec::new(), next: 0 })
    };
}

/// The last [`RecentDocIds::CAPACITY`] distinct valid ids read, with their text.
struct RecentDocIds {
    entries: Vec<(String, DocumentId)>,
    next: usize,
}

impl RecentDocIds {
    const CAPACITY: usize = 16;

    fn get(&self, text: &str) -> Option<DocumentId> {
        self.entries
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, id)| *id)
    }

    fn put(&mut self, text: &str, id: DocumentId) {
        if self.entries.len() < Self::CAPACITY {
            self.entries.push((text.to_owned(), id));
        } else {
            self.entries[self.next] = (text.to_owned(), id);
            self.next = (self.next + 1) % Self::CAPACITY;
        }
    }
}

fn doc_id_bytes(b: &[u8], name: &'static str) -> Result<DocumentId, DecodeError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| DecodeError::Invalid {
        field: name,
        reason: "a document id must be 16 bytes",
    })?;
    Ok(DocumentId::from_bytes(arr))
}

fn digest(map: &Value) -> Result<SummaryDigest, DecodeError> {
    let b = bytes(map, "digest")?;
    let arr: [u8; 16] = b.as_slice().try_into().map_err(|_| DecodeError::Invalid {
        field: "digest",
        reason: "a summary digest must be 16 bytes",
    })?;
    Ok(SummaryDigest(arr))
}

fn metadata(map: &Value) -> Result<PeerMetadata, DecodeError> {
    let Some(md) = map.get("peerMetadata") else {
        return Ok(PeerMetadata::default());
    };
    if !matches!(md, Value::Map(_)) {
        return Err(DecodeError::WrongType {
            field: "peerMetadata",
            expected: "a map",
        });
    }
    Ok(PeerMetadata {
        storage_id: opt_id(md, "storageId")?,
        is_ephemeral: matches!(md.get("isEphemeral"), Some(Value::Bool(true))),
        crm_batch: md.get("crmBatch").and_then(Value::as_u64),
    })
}

fn storage_ids(map: &Value, name: &'static str) -> Result<Vec<StorageId>, DecodeError> {
    match map.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                let s = v.as_str().ok_or(DecodeError::WrongType {
                    field: name,
                    expected: "an array of text strings",
                })?;
                s.parse().map_err(|source| DecodeError::InvalidId {
                    field: name,
                    source,
                })
            })
            .collect(),
        Some(_) => Err(DecodeError::WrongType {
            field: name,
            expected: "an array",
        }),
    }
}

fn batch_items(map: &Value) -> Result<Vec<BatchItem>, DecodeError> {
    const WRONG: DecodeError = DecodeError::WrongType {
        field: "items",
        expected: "an array of [kind, documentId, data]",
    };
    let Value::Array(items) = field(map, "items")? else {
        return Err(WRONG);
    };
    if items.len() > MAX_BATCH_ITEMS {
        return Err(DecodeError::Invalid {
            field: "items",
            reason: "too many items in one batch",
        });
    }
    items
        .iter()
        .map(|item| {
            let Value::Array(parts) = item else {
                return Err(WRONG);
            };
            let [kind, doc, data] = parts.as_slice() else {
                return Err(WRONG);
            };
            let kind = match kind.as_u64() {
                Some(0) => BatchKind::Sync,
                Some(1) => BatchKind::Request,
                Some(2) => BatchKind::DocUnavailable,
                Some(3) => BatchKind::Fetch,
                Some(4) => BatchKind::Doc,
                _ => {
                    return Err(DecodeError::Invalid {
                        field: "items",
                        reason: "unknown item kind",
                    })
                }
            };
            let document_id = doc_id_bytes(doc.as_bytes().ok_or(WRONG)?, "items")?;
            let data = data.as_bytes().ok_or(WRONG)?.to_vec();
            Ok(BatchItem {
                kind,
                document_id,
                data,
            })
        })
        .collect()
}

fn summary_entries(map: &Value) -> Result<Vec<SummaryEntry>, DecodeError> {
    let Some(v) = map.get("entries") else {
        return Ok(Vec::new());
    };
    let b = v.as_bytes().ok_or(DecodeError::WrongType {
        field: "entries",
        expected: "a byte string",
    })?;
    if b.len() % 24 != 0 {
        return Err(DecodeError::Invalid {
            field: "entries",
            reason: "length is not a multiple of 24",
        });
    }
    b.chunks_exact(24)
        .map(|rec| {
            let document_id = doc_id_bytes(&rec[..16], "entries")?;
            let mut heads = [0u8; 8];
            heads.copy_from_slice(&rec[16..]);
            Ok(SummaryEntry {
                document_id,
                heads: HeadsDigest(heads),
            })
        })
        .collect()
}

fn bucket_digests(map: &Value) -> Result<Vec<[u8; 8]>, DecodeError> {
    let Some(v) = map.get("buckets") else {
        return Ok(Vec::new());
    };
    let b = v.as_bytes().ok_or(DecodeError::WrongType {
        field: "buckets",
        expected: "a byte string",
    })?;
    if b.len() != 8 * BUCKETS {
        return Err(DecodeError::Invalid {
            field: "buckets",
            reason: "not one 8-byte digest per bucket",
        });
    }
    Ok(b.chunks_exact(8)
        .map(|c| c.try_into().unwrap_or([0; 8]))
        .collect())
}

fn bucket_list(map: &Value) -> Result<Vec<u16>, DecodeError> {
    let b = bytes(map, "buckets")?;
    if b.len() % 2 != 0 || b.len() > 2 * BUCKETS {
        return Err(DecodeError::Invalid {
            field: "buckets",
            reason: "not a list of at most 4096 bucket numbers",
        });
    }
    b.chunks_exact(2)
        .map(|c| {
            let n = u16::from_be_bytes([c[0], c[1]]);
            if usize::from(n) < BUCKETS {
                Ok(n)
            } else {
                Err(DecodeError::Invalid {
                    field: "buckets",
                    reason: "bucket number out of range",
                })
            }
        })
        .collect()
}

/// Decode one frame. Never panics.
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(DecodeError::TooLarge(frame.len()));
    }
    match decode_doc_message(frame) {
        Some(message) => Ok(message),
        None => decode_any(frame),
    }
}

/// `sync` and `request` frames as automerge-repo writes them (one definite-length map of text
/// keys with text values and a byte string), read straight from the bytes: they are nearly every
/// frame, and building a CBOR tree first costs more than the rest of handling one. Anything
/// else (another type, a key more or repeated, a tag, an id that does not parse) is `None`, and
/// [`decode_any`] decides; whatever this reads, that reads the same.
fn decode_doc_message(frame: &[u8]) -> Option<Message> {
    fn once<'b>(slot: &mut Option<&'b str>, d: &mut minicbor::Decoder<'b>) -> Option<()> {
        if slot.is_some() || d.datatype().ok()? != minicbor::data::Type::String {
            return None;
        }
        *slot = Some(d.str().ok()?);
        Some(())
    }
    let mut d = minicbor::Decoder::new(frame);
    if d.datatype().ok()? != minicbor::data::Type::Map {
        return None;
    }
    let entries = d.map().ok()??;
    if entries != 5 {
        return None;
    }
    let (mut ty, mut sender, mut target, mut document, mut data) = (None, None, None, None, None);
    for _ in 0..entries {
        if d.datatype().ok()? != minicbor::data::Type::String {
            return None;
        }
        match d.str().ok()? {
            "type" => once(&mut ty, &mut d)?,
            "senderId" => once(&mut sender, &mut d)?,
            "targetId" => once(&mut target, &mut d)?,
            "documentId" => once(&mut document, &mut d)?,
            "data" => {
                if data.is_some() || d.datatype().ok()? != minicbor::data::Type::Bytes {
                    return None;
                }
                data = Some(d.bytes().ok()?);
            }
            _ => return None,
        }
    }
    if d.position() != frame.len() {
        return None;
    }
    let sender_id = sender?.parse().ok()?;
    let target_id = target?.parse().ok()?;
    let document_id = recent_doc_id(document?).ok()?;
    let request = match ty? {
        "sync" => false,
        "request" => true,
        _ => return None,
    };
    let data = data?.to_vec();
    Some(Message::doc_sync(
        request,
        sender_id,
        target_id,
        document_id,
        data,
    ))
}

/// Any frame, through a CBOR tree.
fn decode_any(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut m = cbor::read(frame)?;
    if !matches!(m, Value::Map(_)) {
        return Err(DecodeError::NotAMap);
    }
    let ty = text(&m, "type")?.to_owned();
    let msg = match ty.as_str() {
        "join" => Message::Join {
            sender_id: id(&m, "senderId")?,
            peer_metadata: metadata(&m)?,
            supported_protocol_versions: match m.get("supportedProtocolVersions") {
                None => None,
                Some(Value::Array(vs)) => Some(
                    vs.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .take(64)
                        .collect(),
                ),
                Some(_) => {
                    return Err(DecodeError::WrongType {
                        field: "supportedProtocolVersions",
                        expected: "an array",
                    })
                }
            },
        },
        "peer" => Message::Peer {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            peer_metadata: metadata(&m)?,
            selected_protocol_version: text(&m, "selectedProtocolVersion")?.to_owned(),
        },
        "sync" => Message::Sync {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            data: take_bytes(&mut m, "data")?,
        },
        "request" => Message::Request {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            data: take_bytes(&mut m, "data")?,
        },
        "doc-unavailable" => Message::DocUnavailable {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
        },
        "ephemeral" => Message::Ephemeral {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
            session_id: id(&m, "sessionId")?,
            count: uint(&m, "count")?,
            data: bytes(&m, "data")?,
        },
        "remote-subscription-change" => Message::RemoteSubscriptionChange {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            add: storage_ids(&m, "add")?,
            remove: storage_ids(&m, "remove")?,
        },
        "remote-heads-changed" => Message::RemoteHeadsChanged {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            document_id: doc_id(&m, "documentId")?,
        },
        "error" => Message::Error {
            sender_id: opt_id(&m, "senderId")?,
            target_id: opt_id(&m, "targetId")?,
            message: m
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        "leave" => Message::Leave {
            sender_id: id(&m, "senderId")?,
        },
        "crm-summary" => Message::CrmSummary {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            count: uint(&m, "count")?,
            digest: digest(&m)?,
        },
        "crm-summary-reply" => Message::CrmSummaryReply {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            count: uint(&m, "count")?,
            digest: digest(&m)?,
            matched: matches!(m.get("match"), Some(Value::Bool(true))),
            entries: summary_entries(&m)?,
            buckets: bucket_digests(&m)?,
        },
        "crm-buckets" => Message::CrmBuckets {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            buckets: bucket_list(&m)?,
        },
        "crm-bucket-entries" => Message::CrmBucketEntries {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            buckets: bucket_list(&m)?,
            entries: summary_entries(&m)?,
        },
        "crm-batch" => Message::CrmBatch {
            sender_id: id(&m, "senderId")?,
            target_id: id(&m, "targetId")?,
            items: batch_items(&m)?,
        },
        _ => return Err(DecodeError::UnknownType(ty)),
    };
    Ok(msg)
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn write_metadata(w: &mut Writer, md: &PeerMetadata) {
    let n = 1 + usize::from(md.storage_id.is_some()) + usize::from(md.crm_batch.is_some());
    w.map(n);
    if let Some(s) = &md.storage_id {
        w.str("storageId").str(s.as_str());
    }
    w.str("isEphemeral").bool(md.is_ephemeral);
    if let Some(v) = md.crm_batch {
        w.str("crmBatch").uint(v);
    }
}

/// Encode one message as a CBOR map (minimal headers, absent optional fields left out).
pub fn encode(msg: &Message) -> Vec<u8> {
    // Sized once: a sync frame is its payload plus ~150 bytes of keys and ids.
    let payload = match msg {
        Message::Sync { data, .. }
        | Message::Request { data, .. }
        | Message::Ephemeral { data, .. } => data.len(),
        _ => 0,
    };
    let mut w = Writer::with_capacity(192 + payload);
    let ty = msg.type_name();
    match msg {
        Message::Join {
            sender_id,
            peer_metadata,
            supported_protocol_versions,
        } => {
            w.map(3 + usize::from(supported_protocol_versions.is_some()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("peerMetadata");
            write_metadata(&mut w, peer_metadata);
            if let Some(vs) = supported_protocol_versions {
                w.str("supportedProtocolVersions").array(vs.len());
                for v in vs {
                    w.str(v);
                }
            }
        }
        Message::Peer {
            sender_id,
            target_id,
            peer_metadata,
            selected_protocol_version,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("peerMetadata");
            write_metadata(&mut w, peer_metadata);
            w.str("selectedProtocolVersion")
                .str(selected_protocol_version);
            w.str("targetId").str(target_id.as_str());
        }
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        }
        | Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("data").bytes(data);
            w.str("documentId").str(&document_id.to_string());
            w.str("senderId").str(sender_id.as_str());
        }
        Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        }
        | Message::RemoteHeadsChanged {
            sender_id,
            target_id,
            document_id,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("documentId").str(&document_id.to_string());
            w.str("senderId").str(sender_id.as_str());
        }
        Message::Ephemeral {
            sender_id,
            target_id,
            document_id,
            session_id,
            count,
            data,
        } => {
            w.map(7);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("count").uint(*count);
            w.str("sessionId").str(session_id.as_str());
            w.str("documentId").str(&document_id.to_string());
            w.str("data").bytes(data);
            w.str("senderId").str(sender_id.as_str());
        }
        Message::RemoteSubscriptionChange {
            sender_id,
            target_id,
            add,
            remove,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("targetId")
                .str(target_id.as_str());
            w.str("senderId").str(sender_id.as_str());
            w.str("add").array(add.len());
            for s in add {
                w.str(s.as_str());
            }
            w.str("remove").array(remove.len());
            for s in remove {
                w.str(s.as_str());
            }
        }
        Message::Error {
            sender_id,
            target_id,
            message,
        } => {
            w.map(2 + usize::from(sender_id.is_some()) + usize::from(target_id.is_some()));
            w.str("type").str(ty).str("message").str(message);
            if let Some(s) = sender_id {
                w.str("senderId").str(s.as_str());
            }
            if let Some(t) = target_id {
                w.str("targetId").str(t.as_str());
            }
        }
        Message::Leave { sender_id } => {
            w.map(2);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
        }
        Message::CrmSummary {
            sender_id,
            target_id,
            count,
            digest,
        } => {
            w.map(5);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("count").uint(*count).str("digest").bytes(&digest.0);
        }
        Message::CrmSummaryReply {
            sender_id,
            target_id,
            count,
            digest,
            matched,
            entries,
            buckets,
        } => {
            w.map(6 + usize::from(!entries.is_empty()) + usize::from(!buckets.is_empty()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("count").uint(*count).str("digest").bytes(&digest.0);
            w.str("match").bool(*matched);
            if !entries.is_empty() {
                w.str("entries").bytes(&pack_entries(entries));
            }
            if !buckets.is_empty() {
                w.str("buckets").bytes(&buckets.concat());
            }
        }
        Message::CrmBuckets {
            sender_id,
            target_id,
            buckets,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("buckets").bytes(&pack_buckets(buckets));
        }
        Message::CrmBucketEntries {
            sender_id,
            target_id,
            buckets,
            entries,
        } => {
            w.map(4 + usize::from(!entries.is_empty()));
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("buckets").bytes(&pack_buckets(buckets));
            if !entries.is_empty() {
                w.str("entries").bytes(&pack_entries(entries));
            }
        }
        Message::CrmBatch {
            sender_id,
            target_id,
            items,
        } => {
            w.map(4);
            w.str("type")
                .str(ty)
                .str("senderId")
                .str(sender_id.as_str());
            w.str("targetId").str(target_id.as_str());
            w.str("items").array(items.len());
            for item in items {
                w.array(3)
                    .uint(item.kind as u64)
                    .bytes(item.document_id.as_bytes())
                    .bytes(&item.data);
            }
        }
    }
    w.into_bytes()
}

fn pack_entries(entries: &[SummaryEntry]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(entries.len() * 24);
    for e in entries {
        packed.extend_from_slice(e.document_id.as_bytes());
        packed.extend_from_slice(&e.heads.0);
    }
    packed
}

fn pack_buckets(buckets: &[u16]) -> Vec<u8> {
    buckets.iter().flat_map(|b| b.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests;
