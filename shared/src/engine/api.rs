//! The engine's API boundary: events in, actions out, and the small types they use.
//!
//! API boundary: everything the client and server shells need is here and in [`super::Engine`]'s
//! methods; nothing here does I/O.

use crate::document_id::DocumentId;
use crate::protocol::{Message, PeerId, PeerMetadata, SessionId, StorageId};

/// Milliseconds since an epoch chosen by the caller (the engine only compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }
    pub fn as_millis(self) -> u64 {
        self.0
    }
}

/// A connection, numbered by the shell (unique for the engine's lifetime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

/// WebSocket close codes the engine uses.
pub mod close_code {
    /// Normal closure (the peer left or sent `error`).
    pub const NORMAL: u16 = 1000;
    /// Protocol violation (no common version, message before `join`...).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A frame or sync message that does not decode.
    pub const INVALID_DATA: u16 = 1007;
    /// The peer joined again on a newer connection.
    pub const REPLACED: u16 = 4000;
}

/// How the engine presents itself and when it forgets things.
#[derive(Debug, Clone)]
pub struct Config {
    pub peer_id: PeerId,
    pub storage_id: Option<StorageId>,
    pub is_ephemeral: bool,
    /// Offer / accept the `crmBatch` extension.
    pub batch: bool,
    /// [`Event::Tick`] unloads documents idle for this long.
    pub idle_unload_after_ms: u64,
    /// [`super::Engine::unload_settled`] keeps this many of the most recently settled documents
    /// in memory: one in constant use (a record many peers follow) is not loaded again after
    /// every change.
    pub keep_settled: usize,
    /// How long an ephemeral (sender, session) is remembered for deduplication.
    pub ephemeral_dedupe_ms: u64,
}

impl Config {
    pub fn new(peer_id: PeerId) -> Self {
        Config {
            peer_id,
            storage_id: None,
            is_ephemeral: false,
            batch: true,
            idle_unload_after_ms: 5 * 60 * 1000,
            keep_settled: 256,
            ephemeral_dedupe_ms: 10 * 60 * 1000,
        }
    }
}

/// Encoded per-document sync states of one peer (`automerge::sync::State::encode`).
pub type SavedSyncStates = Vec<(DocumentId, Vec<u8>)>;

/// Something that happened, for [`super::Engine::handle`].
#[derive(Debug, Clone)]
pub enum Event {
    /// The shell accepted an inbound connection: wait for its `join`.
    Accepted { conn: ConnectionId },
    /// The shell opened a connection to a server: send `join`. `sync_states` are the states saved
    /// from the last session with that server (by its storage id), restored when it answers.
    Connected {
        conn: ConnectionId,
        sync_states: SavedSyncStates,
    },
    /// A binary frame arrived.
    Frame { conn: ConnectionId, bytes: Vec<u8> },
    /// A binary frame arrived that the shell already decoded with [`crate::protocol::decode`]
    /// (to inspect it first): handled exactly like its [`Event::Frame`], without decoding again.
    Message {
        conn: ConnectionId,
        message: Message,
    },
    /// The connection is gone (closed by either side, or failed).
    Disconnected { conn: ConnectionId },
    /// Answer to [`Action::Load`]: the stored bytes of each document (`None`: not stored).
    Loaded {
        documents: Vec<(DocumentId, Option<Vec<u8>>)>,
    },
    /// The application changed (or created) a document and has already persisted `changes`
    /// (anything `Automerge::load_incremental` takes: `save()`, `save_after()`, raw changes).
    LocalChange {
        document_id: DocumentId,
        changes: Vec<u8>,
    },
    /// The application wants a document it may not have: sync it with every server we connected to.
    Want { document_id: DocumentId },
    /// The application sends presence data for a document to interested peers.
    SendEphemeral {
        document_id: DocumentId,
        session_id: SessionId,
        count: u64,
        data: Vec<u8>,
    },
    /// Answer to [`Action::LoadCatalog`]: the stored documents with their heads (of the asked
    /// buckets, or all of them: `complete`).
    Catalog {
        documents: Vec<(DocumentId, Vec<automerge::ChangeHash>)>,
        complete: bool,
    },
    /// Answer to [`Action::StoreDocument`], once committed: each document's heads as stored
    /// (those of the bytes), or why the bytes did not load (nothing stored).
    Stored {
        documents: Vec<(DocumentId, Result<Vec<automerge::ChangeHash>, String>)>,
    },
    /// Answer to [`Action::LoadRaw`]: the stored bytes of each document (`None`: not stored).
    LoadedRaw {
        documents: Vec<(DocumentId, Option<Vec<u8>>)>,
    },
    /// Time passed: unload idle documents, forget old ephemeral sessions.
    Tick,
}

/// Something the shell must do, in order (see the durability contract in the module doc).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Encode with [`crate::protocol::encode`] and send on `conn`.
    Send {
        conn: ConnectionId,
        message: Message,
    },
    /// Durably append `changes` (loadable with `load_incremental`) to the document's storage
    /// before executing any later `Send`.
    Persist {
        document_id: DocumentId,
        changes: Vec<u8>,
    },
    /// Read these documents from storage and answer with [`Event::Loaded`].
    Load { documents: Vec<DocumentId> },
    /// Read the stored bytes of these documents, as for `Load`, and answer with
    /// [`Event::LoadedRaw`] at once: they are sent as they are (`crmBatch` `doc` items), never
    /// loaded here. (What storage holds of a document the engine has not loaded is exactly its
    /// catalog heads.)
    LoadRaw { documents: Vec<DocumentId> },
    /// A document the server sent whole (`crmBatch` `doc`), which this replica did not hold:
    /// store `bytes` as they are (`Automerge::load` takes them), with whatever the shell derives
    /// from the document, and answer with [`Event::Stored`] once committed. Nothing the engine
    /// sends depends on it before that, so the shell may go on sending meanwhile.
    StoreDocument {
        document_id: DocumentId,
        bytes: Vec<u8>,
    },
    /// Only after [`super::Engine::register_summary`]: read the catalog (the stored documents
    /// of these summary buckets, see [`crate::protocol::bucket_of`], or all of them) and answer
    /// with [`Event::Catalog`].
    LoadCatalog { buckets: Option<Vec<u16>> },
    /// Close the connection (after sending what precedes this action).
    Close {
        conn: ConnectionId,
        code: u16,
        reason: String,
    },
    /// The handshake on `conn` completed.
    PeerConnected {
        conn: ConnectionId,
        peer_id: PeerId,
        metadata: PeerMetadata,
        batch: bool,
    },
    /// The peer is gone; keep `sync_states` (by `storage_id`) to pass to the next
    /// [`Event::Connected`] so the next session costs little.
    PeerDisconnected {
        conn: ConnectionId,
        peer_id: PeerId,
        storage_id: Option<StorageId>,
        sync_states: SavedSyncStates,
    },
    /// A peer answered `doc-unavailable` (it lacks the document or we may not have it).
    /// `unsent`: our copy holds changes the peer was not known to have (it did not take them);
    /// false when, as far as our last sync with it tells, it had all of ours (it no longer shares
    /// the document with us, e.g. it moved to a book we may not read).
    Unavailable {
        document_id: DocumentId,
        peer_id: PeerId,
        unsent: bool,
    },
    /// Stored bytes of a document failed to load; the document is treated as unavailable.
    LoadFailed {
        document_id: DocumentId,
        error: String,
    },
    /// Presence data from a peer (deduplicated).
    Ephemeral {
        document_id: DocumentId,
        sender_id: PeerId,
        session_id: SessionId,
        data: Vec<u8>,
    },
    /// The `crmBatch` summary exchange with `peer_id` finished: `differing` documents are syncing.
    SummaryCompared { peer_id: PeerId, differing: usize },
}
