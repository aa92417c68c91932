//! The automerge-repo WebSocket protocol, version "1", plus our many-documents extension.
//!
//! One binary WebSocket message is one CBOR map ([`decode()`] / [`encode()`]). The messages and their
//! fields follow `@automerge/automerge-repo` 2.5.6 (`src/network/messages.ts`) and
//! `automerge-repo-network-websocket` (`join`, `peer`, `error`, `leave`); see `PROTOCOL.md`.
//!
//! API boundary: [`decode()`] never panics, whatever the input: it bounds nesting ([`cbor::MAX_DEPTH`]),
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
mod decode;
mod encode;
mod grants;
mod ids;
mod summary;
pub mod token_refusal;

use crate::document_id::DocumentId;
pub use decode::DecodeError;
pub use encode::encode;
pub use grants::{BookGrant, Grants, Role, UnknownRole, GRANTS_PATH};
pub use ids::{IdError, PeerId, SessionId, StorageId, MAX_ID_LEN};
pub use summary::{
    bucket_of, bucket_range, doc_digest, heads_digest, summary_digest, DocDigest, HeadsDigest,
    SetSummary, SummaryDigest, SummaryEntry, BUCKETS,
};

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

/// The largest frame [`decode()`] accepts (a full sync of a big document is one frame).
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

/// Decode one frame. Never panics.
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(DecodeError::TooLarge(frame.len()));
    }
    match decode::doc_message(frame) {
        Some(message) => Ok(message),
        None => decode::any(frame),
    }
}

#[cfg(test)]
mod tests;
