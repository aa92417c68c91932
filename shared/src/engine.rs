//! The sans-IO sync engine shared by the server (many peers, many documents) and the client (one
//! server peer, many documents).
//!
//! # Shape
//!
//! [`Engine::handle`] takes the current time and one [`Event`] (a connection opened or closed, a frame
//! arrived, documents were loaded from storage, the user changed a document, a timer ticked) and
//! returns the [`Action`]s the I/O shell must perform, in order: send a message, persist changes,
//! load documents, close a connection, tell the application something. The engine never blocks,
//! never reads a clock and never touches a socket or a file, so it runs the same in the axum server,
//! in the CLI client and in deterministic in-memory tests.
//!
//! Both roles live in one engine: a connection the shell *accepted* ([`Event::Accepted`]) waits for a
//! `join` and is answered like the reference sync server would; a connection the shell *opened*
//! ([`Event::Connected`]) sends `join` and pushes every local document to that peer (our server).
//!
//! The engine keeps one `automerge::sync::State` per (peer, document) and the Automerge documents
//! that are loaded; a catalog of (document, heads) for every known document, loaded or not, feeds
//! the `crmBatch` summary (see [`crate::protocol`]).
//!
//! # Durability contract
//!
//! When an incoming sync message changes a document, the engine emits [`Action::Persist`] for those
//! changes **before** any [`Action::Send`] that relays or acknowledges them (a sync message carries
//! our heads, so even an ack tells the sender "I have it"). The shell executes actions in order and
//! must not perform a `Send` until every earlier `Persist` is durable (committed and synced). Group
//! commit is fine: run all persists of one `handle` call in one transaction, then send.
//! Local changes ([`Event::LocalChange`]) are the shell's to persist *before* handing them over; the
//! engine does not emit `Persist` for them.
//!
//! # Loading and unloading
//!
//! A message for a document that is not in memory makes the engine emit [`Action::Load`] and buffer
//! that document's messages until [`Event::Loaded`] arrives (with `None` if storage lacks it).
//! [`Event::Tick`] unloads documents nobody touched for [`Config::idle_unload_after_ms`]; their heads
//! stay in the catalog and their sync states stay with the peers.
//!
//! # Driving it
//!
//! Server shell: `register_stored` every stored (document, heads) at startup; on each accepted socket
//! `Accepted`, then `Frame` per binary message, `Disconnected` at the end; execute actions in order
//! (`Persist` durably before later `Send`s; answer `Load` with `Loaded` and `LoadRaw` with
//! `LoadedRaw`, at once); call `Tick` every few seconds. On `PeerConnected` it may
//! `restore_sync_states` kept by the peer's storage id, and keep the states of
//! `PeerDisconnected`. Access control plugs in through [`AccessPolicy`].
//!
//! Client shell: `register_stored` its local documents; `Connected` (with the states saved for the
//! server's storage id) when the socket opens; `LocalChange` after committing an edit locally;
//! `Want` to fetch a document by id; `Persist` actions are merged remote changes (update the read
//! model from them); `StoreDocument` is a document fetched whole (store it, commit, then answer
//! `Stored`: meanwhile the shell may go on sending, nothing sent depends on it);
//! `SummaryCompared` then [`Engine::is_synced_with`] tell when a `crm sync` is done; keep
//! `PeerDisconnected`'s states for the next connect.
//!
//! # Protocol errors
//!
//! A frame that does not decode (other than an unknown `type`, which is ignored for forward
//! compatibility), a `join` without version "1", or an invalid Automerge sync message is answered with
//! an `error` message and [`Action::Close`]. A message whose `senderId` is not the connection's peer is
//! dropped (except relayed `ephemeral` messages arriving on a connection we opened).

mod access;
mod ack;
mod api;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ChangeHash};

use crate::document_id::DocumentId;
use crate::protocol::{
    self, bucket_of, bucket_range, doc_digest, negotiate_batch, BatchItem, BatchKind, DecodeError,
    DocDigest, HeadsDigest, Message, PeerId, PeerMetadata, SessionId, SetSummary, SummaryEntry,
    BUCKETS, CRM_BATCH_FETCH_VERSION, CRM_BATCH_MIN_VERSION, CRM_BATCH_VERSION, PROTOCOL_VERSION,
};
pub use access::{AccessPolicy, AllowAll, FnPolicy, PeerContext};
pub use api::{close_code, Action, Config, ConnectionId, Event, SavedSyncStates, Timestamp};

/// Messages buffered for a document while it loads.
#[derive(Debug)]
enum Pending {
    Incoming {
        peer: PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        data: Vec<u8>,
    },
    /// Start (or continue) syncing with a peer; a `request` if we have nothing.
    SyncWith(PeerId),
    Local(Vec<u8>),
    /// A peer's sync message for a document we hold and it may not read: answered
    /// `doc-unavailable` once loaded, saying whether we hold every change it named.
    Denied {
        peer: PeerId,
        conn: ConnectionId,
        data: Vec<u8>,
    },
}

enum DocState {
    Unloaded,
    Loading(Vec<Pending>),
    Loaded(Box<Automerge>),
    /// Asked for whole (`fetch`) and not stored yet: work for it waits here. `arrived`: the
    /// `doc` came and the shell is storing it ([`Action::StoreDocument`]).
    Fetching {
        queue: Vec<Pending>,
        arrived: bool,
    },
}

struct DocSlot {
    /// The catalog entry: the last known heads (empty: we have nothing).
    heads: Vec<ChangeHash>,
    /// The `docDigest` of `heads` (`None` when empty), kept with them.
    digest: Option<DocDigest>,
    state: DocState,
    last_used: Timestamp,
}

impl DocSlot {
    fn new(state: DocState, now: Timestamp) -> Self {
        DocSlot {
            heads: Vec::new(),
            digest: None,
            state,
            last_used: now,
        }
    }

    /// Sets the heads; returns the digests before and after.
    fn set_heads(
        &mut self,
        id: &DocumentId,
        heads: Vec<ChangeHash>,
    ) -> (Option<DocDigest>, Option<DocDigest>) {
        let old = self.digest;
        if heads != self.heads {
            self.digest = (!heads.is_empty()).then(|| doc_digest(id, &heads));
            self.heads = heads;
        }
        (old, self.digest)
    }
}

/// What waits for [`Event::Catalog`].
enum AfterCatalog {
    /// Compare the peer's entries (of these buckets, or of everything) with ours.
    Compare {
        peer: PeerId,
        scope: Option<Vec<u16>>,
        entries: Vec<SummaryEntry>,
    },
    /// Sync every document with a peer that does not speak `crmBatch`.
    PushAll(PeerId),
}

/// Keeps a deferred catalog's summary up to date with a change of one document's digest.
fn update_summary(
    summary: Option<&mut SetSummary>,
    id: &DocumentId,
    (old, new): (Option<DocDigest>, Option<DocDigest>),
) {
    if let Some(s) = summary {
        if old != new {
            if let Some(d) = old {
                s.remove(id, &d);
            }
            if let Some(d) = new {
                s.add(id, &d);
            }
        }
    }
}

/// How a document a summary found differing starts syncing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Both sides have it: the sync protocol.
    Sync,
    /// Only we have it: the first message carries everything.
    PeerLacks,
    /// Only the peer has it: fetched whole where the peer speaks it, else requested.
    WeLack,
}

struct Peer {
    conn: ConnectionId,
    metadata: PeerMetadata,
    batch: bool,
    /// The peer speaks `fetch` / `doc` (`crmBatch` 3 or later).
    fetch: bool,
    /// We opened the connection: the peer is our server and gets every document.
    outbound: bool,
    states: BTreeMap<DocumentId, sync::State>,
    /// Documents whose state with this peer is not settled (see [`settled`]): kept up to date
    /// at the end of every `handle`, so [`Engine::is_synced_with`] is O(1).
    unsettled: BTreeSet<DocumentId>,
    /// Documents a summary found differing, not started yet (and whether the peer lacks each):
    /// started as others settle, so that at most [`SYNC_WINDOW`] are in flight and memory on both
    /// sides follows that window, not the size of the book.
    backlog: VecDeque<(DocumentId, Start)>,
    /// Documents asked for with `fetch` and not stored yet (in flight like `unsettled` ones).
    fetching: BTreeSet<DocumentId>,
}

struct Conn {
    outbound: bool,
    peer: Option<PeerId>,
    saved_states: SavedSyncStates,
}

/// Output collected during one `handle` call.
#[derive(Default)]
struct Out {
    actions: Vec<Action>,
    /// Items for `crmBatch` peers, flushed as one frame per peer at the end of the call.
    batches: BTreeMap<PeerId, (ConnectionId, Vec<BatchItem>)>,
    load: BTreeSet<DocumentId>,
    /// Documents whose stored bytes peers `fetch`ed, and who asked.
    raw: BTreeMap<DocumentId, Vec<PeerId>>,
    /// Documents whose heads or load state changed: re-settled with every peer in `finish`.
    touched: Vec<DocumentId>,
    /// (peer, document) pairs whose sync state may have changed: re-settled in `finish` with
    /// that peer only, so an acknowledgement costs the same with 1 peer or 1000.
    touched_states: Vec<(PeerId, DocumentId)>,
}

/// A summary mismatch lists every document when the server has at most this many (else it sends
/// bucket digests first).
const LIST_ALL_UP_TO: u64 = if cfg!(test) { 4 } else { BUCKETS as u64 };

/// Documents started from a summary that may be in flight with one peer at a time. Wide enough
/// for several frames to be on the way, so that each side works on one while the other works
/// on the next (a 180k-record restore: 1000 took 53 s, 4000 39 s, on 2 cores).
const SYNC_WINDOW: usize = 4000;

/// Documents fetched whole that may be in flight with one peer at a time. They cost the server
/// nothing while in flight (it sends stored bytes and keeps no state), the client their bytes:
/// wide, so that the client can store them in big transactions while more arrive.
const FETCH_WINDOW: usize = 16_384;

/// At most this many messages are generated in a row for one (peer, document).
const MAX_GENERATE: usize = 8;

/// Distinct sync states remembered while fanning one change out (peers in other states get
/// messages of their own).
const MEMO_STATES: usize = 8;

/// What generating did for one sync state: the state before and after, and the messages.
struct Generated {
    before: sync::State,
    after: sync::State,
    messages: Vec<Vec<u8>>,
}

/// Items of one `crm-batch` frame at most (the decoder takes up to `MAX_BATCH_ITEMS`).
const BATCH_FRAME_ITEMS: usize = 20_000;
/// Bytes of one `crm-batch` frame, about (servers accept 16 MiB frames by default).
const BATCH_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// The sync engine. See the module doc.
pub struct Engine {
    config: Config,
    policy: Box<dyn AccessPolicy>,
    docs: BTreeMap<DocumentId, DocSlot>,
    peers: BTreeMap<PeerId, Peer>,
    conns: BTreeMap<ConnectionId, Conn>,
    ephemeral_seen: BTreeMap<(PeerId, SessionId), (u64, Timestamp)>,
    /// Documents in the `Loading` state.
    loading: usize,
    /// Loaded documents that settled since the last [`Engine::unload_settled`].
    recently_used: BTreeSet<DocumentId>,
    /// Settled documents kept loaded ([`Config::keep_settled`]), oldest first: by when they last
    /// settled, and that time of each.
    kept: BTreeMap<u64, DocumentId>,
    kept_at: BTreeMap<DocumentId, u64>,
    settles: u64,
    /// How many peers each document is unsettled with (the `unsettled` sets of [`Peer`],
    /// counted per document): "settled everywhere" without looking at every peer.
    unsettled_peers: BTreeMap<DocumentId, usize>,
    /// Set by [`Engine::register_summary`]: the catalog is not (all) registered, this is its
    /// summary, kept up to date with changes; [`Action::LoadCatalog`] fetches parts when needed.
    deferred: Option<SetSummary>,
    awaiting_catalog: Vec<AfterCatalog>,
    /// Documents read raw for peers that fetched them ([`Action::LoadRaw`]), and who asked.
    awaiting_raw: BTreeMap<DocumentId, Vec<PeerId>>,
    /// Peers with a non-empty backlog: pumped at the end of every call (looking at every peer
    /// there would make each acknowledgement cost O(peers)).
    backlogged: BTreeSet<PeerId>,
}

impl Engine {
    /// An engine that lets every peer read and write every document.
    pub fn new(config: Config) -> Self {
        Self::with_policy(config, Box::new(AllowAll))
    }

    pub fn with_policy(config: Config, policy: Box<dyn AccessPolicy>) -> Self {
        Engine {
            config,
            policy,
            docs: BTreeMap::new(),
            peers: BTreeMap::new(),
            conns: BTreeMap::new(),
            ephemeral_seen: BTreeMap::new(),
            loading: 0,
            recently_used: BTreeSet::new(),
            kept: BTreeMap::new(),
            kept_at: BTreeMap::new(),
            settles: 0,
            unsettled_peers: BTreeMap::new(),
            deferred: None,
            awaiting_catalog: Vec::new(),
            awaiting_raw: BTreeMap::new(),
            backlogged: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Tell the engine which documents storage holds, with their heads, without loading them
    /// (the catalog behind `crmBatch` summaries). Call at startup.
    pub fn register_stored(
        &mut self,
        docs: impl IntoIterator<Item = (DocumentId, Vec<ChangeHash>)>,
    ) {
        for (id, heads) in docs {
            let slot = self
                .docs
                .entry(id)
                .or_insert_with(|| DocSlot::new(DocState::Unloaded, Timestamp(0)));
            if matches!(slot.state, DocState::Unloaded) {
                slot.set_heads(&id, heads);
            }
        }
    }

    /// Instead of [`Engine::register_stored`] at startup: the summary of what storage holds (the
    /// shell keeps it, e.g. up to date in its own store, so a connect reads no catalog). When a
    /// summary exchange needs documents, the engine asks with [`Action::LoadCatalog`].
    pub fn register_summary(&mut self, summary: SetSummary) {
        self.deferred = Some(summary);
    }

    /// A loaded document, if it is in memory.
    pub fn document(&self, id: &DocumentId) -> Option<&Automerge> {
        match &self.docs.get(id)?.state {
            DocState::Loaded(doc) => Some(doc),
            _ => None,
        }
    }

    /// The catalog: every known document with non-empty heads.
    pub fn catalog(&self) -> BTreeMap<DocumentId, Vec<ChangeHash>> {
        self.docs
            .iter()
            .filter(|(_, s)| !s.heads.is_empty())
            .map(|(id, s)| (*id, s.heads.clone()))
            .collect()
    }

    /// How many documents are in memory.
    pub fn loaded_count(&self) -> usize {
        self.docs
            .values()
            .filter(|s| matches!(s.state, DocState::Loaded(_)))
            .count()
    }

    /// The connected peers.
    pub fn peers(&self) -> Vec<(PeerId, ConnectionId)> {
        self.peers
            .iter()
            .map(|(p, s)| (p.clone(), s.conn))
            .collect()
    }

    /// The sync states of a connected peer, encoded for storage.
    pub fn sync_states(&self, peer: &PeerId) -> SavedSyncStates {
        self.peers
            .get(peer)
            .map(|p| encode_states(&p.states))
            .unwrap_or_default()
    }

    /// Restore saved sync states of a connected peer (invalid entries are skipped); returns how
    /// many were restored. Servers call this on [`Action::PeerConnected`] if they keep states.
    ///
    /// A document that already has a state with the peer keeps it: that state was made this
    /// session and is newer than any saved one. Where the summary found the peer lacks the
    /// document, the first message still carries every change: a saved state claiming the peer
    /// holds our heads may be stale (a server restored from a backup) and would leave our changes
    /// unsent.
    pub fn restore_sync_states(&mut self, peer: &PeerId, states: SavedSyncStates) -> usize {
        let ids: Vec<DocumentId> = states.iter().map(|(id, _)| *id).collect();
        let Some(p) = self.peers.get_mut(peer) else {
            return 0;
        };
        let n = restore_states(&mut p.states, states);
        for id in ids {
            let ours = self
                .docs
                .get(&id)
                .map(|s| s.heads.as_slice())
                .unwrap_or(&[]);
            resettle(p, id, ours, &mut self.unsettled_peers);
        }
        n
    }

    /// Unloads loaded documents that no peer has anything in flight for (all their sync states
    /// are settled), but for the [`Config::keep_settled`] that settled most recently. Their heads
    /// stay in the catalog and their states with the peers; a later message loads them again.
    /// Shells call this after they persisted a round (the server after every group commit, the
    /// client after every merge), so memory follows the documents in flight rather than every
    /// document touched. Returns how many were unloaded.
    pub fn unload_settled(&mut self) -> usize {
        let mut gone = Vec::new();
        self.unload_settled_into(&mut gone)
    }

    /// [`Engine::unload_settled`], handing the unloaded documents to `gone` instead of dropping
    /// them here: freeing a document's memory costs about a tenth of what loading it did, which a
    /// shell may spend on another thread.
    pub fn unload_settled_into(&mut self, gone: &mut Vec<Automerge>) -> usize {
        for id in std::mem::take(&mut self.recently_used) {
            self.settles += 1;
            if let Some(at) = self.kept_at.insert(id, self.settles) {
                self.kept.remove(&at);
            }
            self.kept.insert(self.settles, id);
        }
        let mut n = 0;
        while self.kept.len() > self.config.keep_settled {
            let Some((_, id)) = self.kept.pop_first() else {
                break;
            };
            self.kept_at.remove(&id);
            let Some(slot) = self.docs.get_mut(&id) else {
                continue;
            };
            if !matches!(slot.state, DocState::Loaded(_)) {
                continue;
            }
            debug_assert_eq!(
                self.unsettled_peers.get(&id).copied().unwrap_or(0),
                self.peers
                    .values()
                    .filter(|p| p.unsettled.contains(&id))
                    .count(),
                "unsettled count of {id}"
            );
            if self.unsettled_peers.contains_key(&id) {
                continue; // in flight again: looked at when it settles
            }
            if let DocState::Loaded(doc) = std::mem::replace(&mut slot.state, DocState::Unloaded) {
                gone.push(*doc);
            }
            n += 1;
            if slot.heads.is_empty() {
                self.docs.remove(&id);
            }
        }
        n
    }

    /// How many documents we fetched whole from `peer` are not stored yet (asked for, on the way,
    /// or being stored by the shell).
    pub fn fetching(&self, peer: &PeerId) -> usize {
        self.peers.get(peer).map_or(0, |p| p.fetching.len())
    }

    /// The catalog heads of a document (loaded or not), if known.
    pub fn heads(&self, id: &DocumentId) -> Option<&[ChangeHash]> {
        self.docs.get(id).map(|s| s.heads.as_slice())
    }

    /// True when nothing is in flight with `peer`: every document we share with it has the same
    /// heads on both sides as far as the last messages tell, and nothing is loading.
    pub fn is_synced_with(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|p| {
            self.loading == 0
                && p.unsettled.is_empty()
                && p.backlog.is_empty()
                && p.fetching.is_empty()
        })
    }

    /// Handle one event at time `now`; returns the actions to perform, in order.
    pub fn handle(&mut self, now: Timestamp, event: Event) -> Vec<Action> {
        let mut out = Out::default();
        match event {
            Event::Accepted { conn } => {
                self.conns.insert(
                    conn,
                    Conn {
                        outbound: false,
                        peer: None,
                        saved_states: Vec::new(),
                    },
                );
            }
            Event::Connected { conn, sync_states } => {
                self.conns.insert(
                    conn,
                    Conn {
                        outbound: true,
                        peer: None,
                        saved_states: sync_states,
                    },
                );
                out.actions.push(Action::Send {
                    conn,
                    message: Message::Join {
                        sender_id: self.config.peer_id.clone(),
                        peer_metadata: self
                            .our_metadata(self.config.batch.then_some(CRM_BATCH_VERSION)),
                        supported_protocol_versions: Some(vec![PROTOCOL_VERSION.to_owned()]),
                    },
                });
            }
            Event::Frame { conn, bytes } => self.on_frame(now, conn, &bytes, &mut out),
            Event::Message { conn, message } => self.on_message(now, conn, message, &mut out),
            Event::Disconnected { conn } => self.drop_conn(conn, &mut out),
            Event::Loaded { documents } => {
                for (id, bytes) in documents {
                    self.on_loaded(now, id, bytes, &mut out);
                }
            }
            Event::LocalChange {
                document_id,
                changes,
            } => self.with_doc(now, document_id, Pending::Local(changes), &mut out),
            Event::Want { document_id } => {
                let servers: Vec<PeerId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.outbound)
                    .map(|(id, _)| id.clone())
                    .collect();
                if servers.is_empty() {
                    // Make sure it is loaded so a later connect syncs it.
                    self.touch_or_load(now, document_id, &mut out);
                    out.touched.push(document_id);
                }
                for peer in servers {
                    self.with_doc(now, document_id, Pending::SyncWith(peer), &mut out);
                }
            }
            Event::SendEphemeral {
                document_id,
                session_id,
                count,
                data,
            } => {
                let sender = self.config.peer_id.clone();
                self.relay_ephemeral(now, &sender, document_id, session_id, count, data, &mut out);
            }
            Event::Catalog {
                documents,
                complete,
            } => self.on_catalog(now, documents, complete, &mut out),
            Event::Stored { documents } => {
                for (id, result) in documents {
                    self.on_stored(id, result, &mut out);
                }
            }
            Event::LoadedRaw { documents } => {
                for (id, bytes) in documents {
                    self.on_loaded_raw(now, id, bytes, &mut out);
                }
            }
            Event::Tick => self.tick(now),
        }
        self.finish(now, out)
    }

    /// What we say about ourselves: `batch` is the `crmBatch` version offered (a client: the
    /// highest we speak) or agreed (a server: see [`negotiate_batch`]).
    fn our_metadata(&self, batch: Option<u64>) -> PeerMetadata {
        PeerMetadata {
            storage_id: self.config.storage_id.clone(),
            is_ephemeral: self.config.is_ephemeral,
            crm_batch: batch,
        }
    }

    fn finish(&mut self, now: Timestamp, mut out: Out) -> Vec<Action> {
        self.resettle_touched(&mut out);
        if !self.backlogged.is_empty() {
            let pumping: Vec<PeerId> = self.backlogged.iter().cloned().collect();
            for peer in &pumping {
                self.pump(now, peer, &mut out);
            }
            let peers = &self.peers;
            self.backlogged
                .retain(|id| peers.get(id).is_some_and(|p| !p.backlog.is_empty()));
            self.resettle_touched(&mut out);
        }
        for (peer, (conn, items)) in std::mem::take(&mut out.batches) {
            // (A `doc-unavailable` with data says more than the plain message can.)
            let alone = match items.as_slice() {
                [item] => match item.kind {
                    BatchKind::Sync | BatchKind::Request => true,
                    BatchKind::DocUnavailable => item.data.is_empty(),
                    BatchKind::Fetch | BatchKind::Doc => false,
                },
                _ => false,
            };
            if alone {
                if let Some(message) = single_message(&self.config.peer_id, &peer, items) {
                    out.actions.push(Action::Send { conn, message });
                }
                continue;
            }
            // Frames stay well under every frame limit (a big book is many batches), and the
            // receiver starts on the first while the rest are still on the way.
            for items in split_batch(items) {
                out.actions.push(Action::Send {
                    conn,
                    message: Message::CrmBatch {
                        sender_id: self.config.peer_id.clone(),
                        target_id: peer.clone(),
                        items,
                    },
                });
            }
        }
        if !out.load.is_empty() {
            out.actions.push(Action::Load {
                documents: out.load.into_iter().collect(),
            });
        }
        if !out.raw.is_empty() {
            let documents: Vec<DocumentId> = out.raw.keys().copied().collect();
            for (id, peers) in out.raw {
                self.awaiting_raw.entry(id).or_default().extend(peers);
            }
            out.actions.push(Action::LoadRaw { documents });
        }
        out.actions
    }

    /// Starts backlogged documents with `peer` while fewer than [`SYNC_WINDOW`] are in flight.
    fn pump(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let mut sync_budget = SYNC_WINDOW.saturating_sub(p.unsettled.len() + self.loading);
        let mut fetch_budget = FETCH_WINDOW.saturating_sub(p.fetching.len());
        loop {
            let Some(p) = self.peers.get_mut(peer) else {
                return;
            };
            let Some(&(id, start)) = p.backlog.front() else {
                break;
            };
            let fetch = start == Start::WeLack && p.fetch && p.outbound;
            let budget = if fetch {
                &mut fetch_budget
            } else {
                &mut sync_budget
            };
            if *budget == 0 {
                break;
            }
            *budget -= 1;
            p.backlog.pop_front();
            if fetch {
                // The summary says we hold nothing of it: ask for it whole. (Were it stored
                // after all, e.g. by another process since, its bytes merge harmlessly.)
                let slot = self
                    .docs
                    .entry(id)
                    .or_insert_with(|| DocSlot::new(DocState::Unloaded, now));
                if slot.heads.is_empty() && matches!(slot.state, DocState::Unloaded) {
                    slot.state = DocState::Fetching {
                        queue: Vec::new(),
                        arrived: false,
                    };
                    slot.last_used = now;
                    p.fetching.insert(id);
                    let item = BatchItem {
                        kind: BatchKind::Fetch,
                        document_id: id,
                        data: Vec::new(),
                    };
                    push_item(&self.config.peer_id, peer, p.conn, true, item, out);
                    continue;
                }
            }
            if start == Start::PeerLacks {
                // The peer's list is complete and lacks this document: its first message
                // carries every change, saving a round trip (as if the peer had said
                // "heads: [], have: nothing"). Were the list stale, resent changes are harmless.
                mark_peer_lacks(p.states.entry(id).or_default());
            }
            // The catalog is the client's list of stored documents: one it does not list is
            // requested at once, without a storage round trip. (Were it stored after all, the
            // server's answer merges harmlessly into it.)
            self.docs
                .entry(id)
                .or_insert_with(|| DocSlot::new(DocState::Loaded(Box::new(Automerge::new())), now));
            self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
        }
    }

    fn resettle_touched(&mut self, out: &mut Out) {
        let mut touched = std::mem::take(&mut out.touched);
        touched.sort_unstable();
        touched.dedup();
        let mut pairs = std::mem::take(&mut out.touched_states);
        pairs.sort_unstable();
        pairs.dedup();
        for (peer, id) in &pairs {
            if touched.binary_search(id).is_ok() {
                continue; // re-settled with every peer below
            }
            let ours = self.docs.get(id).map(|s| s.heads.as_slice()).unwrap_or(&[]);
            if let Some(p) = self.peers.get_mut(peer) {
                resettle(p, *id, ours, &mut self.unsettled_peers);
            }
        }
        for id in &touched {
            let ours = self.docs.get(id).map(|s| s.heads.as_slice()).unwrap_or(&[]);
            for p in self.peers.values_mut() {
                resettle(p, *id, ours, &mut self.unsettled_peers);
            }
        }
        // Settling only ever follows a touch: a document still in flight is looked at again
        // when it settles.
        for id in touched
            .into_iter()
            .chain(pairs.into_iter().map(|(_, id)| id))
        {
            let loaded = self
                .docs
                .get(&id)
                .is_some_and(|s| matches!(s.state, DocState::Loaded(_)));
            if loaded && !self.unsettled_peers.contains_key(&id) {
                self.recently_used.insert(id);
            }
        }
    }

    /// Adds (or replaces) a peer, keeping the per-document unsettled counts.
    fn insert_peer(&mut self, id: PeerId, peer: Peer) {
        for doc in &peer.unsettled {
            *self.unsettled_peers.entry(*doc).or_insert(0) += 1;
        }
        if let Some(old) = self.peers.insert(id, peer) {
            self.forget_unsettled(&old.unsettled);
        }
    }

    /// Forgets a peer's unsettled documents in the per-document counts (it left or was replaced).
    fn forget_unsettled(&mut self, unsettled: &BTreeSet<DocumentId>) {
        for id in unsettled {
            uncount(&mut self.unsettled_peers, id);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Connections and handshake

    fn fail(&mut self, conn: ConnectionId, code: u16, reason: String, out: &mut Out) {
        let target_id = self.conns.get(&conn).and_then(|c| c.peer.clone());
        out.actions.push(Action::Send {
            conn,
            message: Message::Error {
                sender_id: Some(self.config.peer_id.clone()),
                target_id,
                message: reason.clone(),
            },
        });
        self.close(conn, code, reason, out);
    }

    fn close(&mut self, conn: ConnectionId, code: u16, reason: String, out: &mut Out) {
        // Flush batched items for this connection first: they precede the close.
        let flush: Vec<PeerId> = out
            .batches
            .iter()
            .filter(|(_, (c, _))| *c == conn)
            .map(|(p, _)| p.clone())
            .collect();
        for peer in flush {
            if let Some((c, items)) = out.batches.remove(&peer) {
                for items in split_batch(items) {
                    out.actions.push(Action::Send {
                        conn: c,
                        message: Message::CrmBatch {
                            sender_id: self.config.peer_id.clone(),
                            target_id: peer.clone(),
                            items,
                        },
                    });
                }
            }
        }
        out.actions.push(Action::Close { conn, code, reason });
        self.drop_conn(conn, out);
    }

    fn drop_conn(&mut self, conn: ConnectionId, out: &mut Out) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(peer_id) = c.peer else { return };
        if self.peers.get(&peer_id).map(|p| p.conn) != Some(conn) {
            return; // replaced by a newer connection already
        }
        if let Some(p) = self.peers.remove(&peer_id) {
            self.forget_unsettled(&p.unsettled);
            out.batches.remove(&peer_id);
            // Fetches that got no answer: nothing is coming for them any more. (One whose
            // `doc` came is being stored by the shell and ends with `Stored`.)
            for id in &p.fetching {
                if matches!(
                    self.docs.get(id).map(|s| &s.state),
                    Some(DocState::Fetching { arrived: false, .. })
                ) {
                    self.leave_fetching(*id, DocState::Unloaded, out);
                }
            }
            out.actions.push(Action::PeerDisconnected {
                conn,
                peer_id,
                storage_id: p.metadata.storage_id.clone(),
                sync_states: encode_states(&p.states),
            });
        }
    }

    fn on_frame(&mut self, now: Timestamp, conn: ConnectionId, bytes: &[u8], out: &mut Out) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match protocol::decode(bytes) {
            Ok(msg) => self.on_message(now, conn, msg, out),
            Err(DecodeError::UnknownType(_)) => {}
            Err(e) => self.fail(
                conn,
                close_code::INVALID_DATA,
                format!("bad frame: {e}"),
                out,
            ),
        }
    }

    fn on_message(&mut self, now: Timestamp, conn: ConnectionId, msg: Message, out: &mut Out) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (outbound, conn_peer) = (c.outbound, c.peer.clone());
        let Some(peer) = conn_peer else {
            return self.on_handshake(now, conn, outbound, msg, out);
        };
        let relayed_ephemeral = outbound && matches!(msg, Message::Ephemeral { .. });
        if msg.sender_id() != Some(&peer) && !relayed_ephemeral {
            if let Message::Error { message, .. } = &msg {
                // An error without (or with another) sender still ends the session.
                let reason = message.clone();
                return self.close(conn, close_code::NORMAL, reason, out);
            }
            return; // spoofed or confused sender: drop
        }
        match msg {
            Message::Join { .. } if !outbound => self.on_handshake(now, conn, outbound, msg, out),
            Message::Join { .. } | Message::Peer { .. } => {}
            Message::Sync {
                document_id, data, ..
            } => self.on_doc_message(now, &peer, conn, BatchKind::Sync, document_id, data, out),
            Message::Request {
                document_id, data, ..
            } => self.on_doc_message(now, &peer, conn, BatchKind::Request, document_id, data, out),
            Message::DocUnavailable { document_id, .. } => {
                self.on_unavailable(&peer, document_id, false, out)
            }
            Message::Ephemeral {
                sender_id,
                document_id,
                session_id,
                count,
                data,
                ..
            } => self.relay_ephemeral(now, &sender_id, document_id, session_id, count, data, out),
            Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. } => {}
            Message::Error { message, .. } => self.close(conn, close_code::NORMAL, message, out),
            Message::Leave { .. } => self.close(conn, close_code::NORMAL, "peer left".into(), out),
            Message::CrmSummary { count, digest, .. } => {
                self.on_summary(&peer, conn, count, digest, out)
            }
            Message::CrmSummaryReply {
                matched,
                entries,
                buckets,
                ..
            } => self.on_summary_reply(&peer, matched, entries, buckets, out),
            Message::CrmBuckets { buckets, .. } => self.on_buckets(&peer, conn, buckets, out),
            Message::CrmBucketEntries {
                buckets, entries, ..
            } => {
                if outbound {
                    self.compare(&peer, Some(buckets), entries, out)
                }
            }
            Message::CrmBatch { items, .. } => {
                for item in items {
                    match item.kind {
                        BatchKind::DocUnavailable => self.on_unavailable(
                            &peer,
                            item.document_id,
                            item.data == protocol::UNAVAILABLE_HELD,
                            out,
                        ),
                        BatchKind::Fetch if !outbound => {
                            self.on_fetch(now, &peer, item.document_id, out)
                        }
                        BatchKind::Doc if outbound => {
                            self.on_whole_document(&peer, item.document_id, item.data, out)
                        }
                        // A client does not serve fetches; a server takes no `doc`s.
                        BatchKind::Fetch | BatchKind::Doc => {}
                        kind => self.on_doc_message(
                            now,
                            &peer,
                            conn,
                            kind,
                            item.document_id,
                            item.data,
                            out,
                        ),
                    }
                }
            }
        }
    }

    fn on_handshake(
        &mut self,
        now: Timestamp,
        conn: ConnectionId,
        outbound: bool,
        msg: Message,
        out: &mut Out,
    ) {
        match (outbound, msg) {
            (
                false,
                Message::Join {
                    sender_id,
                    peer_metadata,
                    supported_protocol_versions,
                },
            ) => {
                let offers_v1 = supported_protocol_versions
                    .as_ref()
                    .is_none_or(|vs| vs.iter().any(|v| v == PROTOCOL_VERSION));
                if !offers_v1 {
                    out.actions.push(Action::Send {
                        conn,
                        message: Message::Error {
                            sender_id: Some(self.config.peer_id.clone()),
                            target_id: Some(sender_id),
                            message: format!(
                                "unsupported protocol version (this server speaks \"{PROTOCOL_VERSION}\")"
                            ),
                        },
                    });
                    return self.close(
                        conn,
                        close_code::PROTOCOL_ERROR,
                        "no common protocol version".into(),
                        out,
                    );
                }
                let version =
                    negotiate_batch(peer_metadata.crm_batch).filter(|_| self.config.batch);
                let batch = version.is_some();
                let mut states = BTreeMap::new();
                let mut unsettled = BTreeSet::new();
                if let Some(old) = self.peers.get(&sender_id) {
                    let old_conn = old.conn;
                    if old_conn != conn {
                        // Keep what survives a reconnect (shared heads), drop in-flight state.
                        restore_states(&mut states, encode_states(&old.states));
                        out.batches.remove(&sender_id);
                        out.actions.push(Action::Close {
                            conn: old_conn,
                            code: close_code::REPLACED,
                            reason: "replaced by a newer connection".into(),
                        });
                        self.conns.remove(&old_conn);
                    } else {
                        states = old.states.clone();
                        unsettled = old.unsettled.clone();
                    }
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.peer = Some(sender_id.clone());
                }
                self.insert_peer(
                    sender_id.clone(),
                    Peer {
                        conn,
                        metadata: peer_metadata.clone(),
                        batch,
                        fetch: version.is_some_and(|v| v >= CRM_BATCH_FETCH_VERSION),
                        outbound: false,
                        states,
                        unsettled,
                        backlog: VecDeque::new(),
                        fetching: BTreeSet::new(),
                    },
                );
                out.actions.push(Action::Send {
                    conn,
                    message: Message::Peer {
                        sender_id: self.config.peer_id.clone(),
                        target_id: sender_id.clone(),
                        peer_metadata: self.our_metadata(version),
                        selected_protocol_version: PROTOCOL_VERSION.to_owned(),
                    },
                });
                out.actions.push(Action::PeerConnected {
                    conn,
                    peer_id: sender_id,
                    metadata: peer_metadata,
                    batch,
                });
            }
            (
                true,
                Message::Peer {
                    sender_id,
                    peer_metadata,
                    selected_protocol_version,
                    ..
                },
            ) => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    return self.fail(
                        conn,
                        close_code::PROTOCOL_ERROR,
                        format!("unsupported protocol version {selected_protocol_version:?}"),
                        out,
                    );
                }
                // The server answers with the version both speak (one we offered at most).
                let version = peer_metadata
                    .crm_batch
                    .filter(|v| (CRM_BATCH_MIN_VERSION..=CRM_BATCH_VERSION).contains(v))
                    .filter(|_| self.config.batch);
                let batch = version.is_some();
                let saved = match self.conns.get_mut(&conn) {
                    Some(c) => {
                        c.peer = Some(sender_id.clone());
                        std::mem::take(&mut c.saved_states)
                    }
                    None => return,
                };
                if let Some(old) = self.peers.get(&sender_id) {
                    if old.conn != conn {
                        let old_conn = old.conn;
                        out.actions.push(Action::Close {
                            conn: old_conn,
                            code: close_code::REPLACED,
                            reason: "replaced by a newer connection".into(),
                        });
                        self.conns.remove(&old_conn);
                    }
                }
                let mut states = BTreeMap::new();
                restore_states(&mut states, saved);
                self.insert_peer(
                    sender_id.clone(),
                    Peer {
                        conn,
                        metadata: peer_metadata.clone(),
                        batch,
                        fetch: version.is_some_and(|v| v >= CRM_BATCH_FETCH_VERSION),
                        outbound: true,
                        states,
                        unsettled: BTreeSet::new(),
                        backlog: VecDeque::new(),
                        fetching: BTreeSet::new(),
                    },
                );
                out.actions.push(Action::PeerConnected {
                    conn,
                    peer_id: sender_id.clone(),
                    metadata: peer_metadata,
                    batch,
                });
                if batch {
                    let summary = self.own_summary();
                    out.actions.push(Action::Send {
                        conn,
                        message: Message::CrmSummary {
                            sender_id: self.config.peer_id.clone(),
                            target_id: sender_id,
                            count: summary.count,
                            digest: summary.digest(),
                        },
                    });
                } else if self.deferred.is_some() {
                    self.awaiting_catalog.push(AfterCatalog::PushAll(sender_id));
                    out.actions.push(Action::LoadCatalog { buckets: None });
                } else {
                    self.push_all(now, &sender_id, out);
                }
            }
            (_, Message::Error { message, .. }) => {
                self.close(conn, close_code::NORMAL, message, out)
            }
            (false, other) => self.fail(
                conn,
                close_code::PROTOCOL_ERROR,
                format!("expected join, got {}", other.type_name()),
                out,
            ),
            (true, _) => {} // nothing but `peer` or `error` is meaningful before the handshake
        }
    }

    // -----------------------------------------------------------------------------------------
    // The crmBatch summary

    /// Every document with non-empty heads, as a summary entry.
    fn own_summary(&self) -> SetSummary {
        if let Some(s) = &self.deferred {
            return s.clone();
        }
        let mut s = SetSummary::default();
        for (id, slot) in &self.docs {
            if let Some(d) = &slot.digest {
                s.add(id, d);
            }
        }
        s
    }

    /// The documents `visible` (of these buckets, or all) with their digests.
    fn entries<'a>(
        &'a self,
        scope: Option<&[u16]>,
        visible: impl Fn(&DocumentId) -> bool + 'a,
    ) -> Vec<(DocumentId, DocDigest)> {
        let pick = |(id, slot): (&DocumentId, &DocSlot)| {
            slot.digest.filter(|_| visible(id)).map(|d| (*id, d))
        };
        match scope {
            None => self.docs.iter().filter_map(pick).collect(),
            Some(buckets) => {
                let mut buckets = buckets.to_vec();
                buckets.sort_unstable();
                buckets.dedup();
                buckets
                    .into_iter()
                    .flat_map(|b| {
                        let (lo, hi) = bucket_range(b);
                        self.docs.range(lo..=hi).filter_map(pick)
                    })
                    .collect()
            }
        }
    }

    fn sync_with_all(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        let ids: Vec<DocumentId> = self.docs.keys().copied().collect();
        for id in ids {
            self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
        }
    }

    fn push_all(&mut self, now: Timestamp, peer: &PeerId, out: &mut Out) {
        self.sync_with_all(now, peer, out);
    }

    /// The summary of what `peer` may read here.
    fn visible_summary(&self, peer: &PeerId, conn: ConnectionId) -> Option<SetSummary> {
        let p = self.peers.get(peer)?;
        let ctx = PeerContext {
            conn,
            peer_id: peer,
            metadata: &p.metadata,
        };
        let mut s = SetSummary::default();
        for (id, slot) in &self.docs {
            if let Some(d) = &slot.digest {
                if self.policy.may_read(ctx, id) {
                    s.add(id, d);
                }
            }
        }
        Some(s)
    }

    fn visible_entries(
        &self,
        peer: &PeerId,
        conn: ConnectionId,
        scope: Option<&[u16]>,
    ) -> Vec<SummaryEntry> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        let ctx = PeerContext {
            conn,
            peer_id: peer,
            metadata: &p.metadata,
        };
        let policy = &self.policy;
        self.entries(scope, move |id| policy.may_read(ctx, id))
            .into_iter()
            .map(|(id, d)| SummaryEntry {
                document_id: id,
                heads: d.entry(),
            })
            .collect()
    }

    fn on_summary(
        &mut self,
        peer: &PeerId,
        conn: ConnectionId,
        count: u64,
        digest: protocol::SummaryDigest,
        out: &mut Out,
    ) {
        if !self.peers.get(peer).is_some_and(|p| p.batch) {
            return;
        }
        let Some(set) = self.visible_summary(peer, conn) else {
            return;
        };
        let ours = set.digest();
        let matched = ours == digest && set.count == count;
        // A mismatch lists everything when either side is empty or ours is small, else sends
        // the bucket digests so that only differing buckets get listed.
        let (entries, buckets) = if matched {
            (Vec::new(), Vec::new())
        } else if count == 0 || set.count <= LIST_ALL_UP_TO {
            (self.visible_entries(peer, conn, None), Vec::new())
        } else {
            (Vec::new(), set.wire_buckets())
        };
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmSummaryReply {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                count: set.count,
                digest: ours,
                matched,
                entries,
                buckets,
            },
        });
    }

    fn on_buckets(&mut self, peer: &PeerId, conn: ConnectionId, buckets: Vec<u16>, out: &mut Out) {
        if !self.peers.get(peer).is_some_and(|p| p.batch && !p.outbound) {
            return;
        }
        let entries = self.visible_entries(peer, conn, Some(&buckets));
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmBucketEntries {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                buckets,
                entries,
            },
        });
    }

    fn on_summary_reply(
        &mut self,
        peer: &PeerId,
        matched: bool,
        entries: Vec<SummaryEntry>,
        buckets: Vec<[u8; 8]>,
        out: &mut Out,
    ) {
        if matched {
            out.actions.push(Action::SummaryCompared {
                peer_id: peer.clone(),
                differing: 0,
            });
            return;
        }
        if buckets.is_empty() {
            return self.compare(peer, None, entries, out);
        }
        let ours = self.own_summary().wire_buckets();
        let differing: Vec<u16> = (0..BUCKETS)
            .filter(|&b| buckets.get(b) != ours.get(b))
            .map(|b| b as u16)
            .collect();
        if differing.is_empty() {
            out.actions.push(Action::SummaryCompared {
                peer_id: peer.clone(),
                differing: 0,
            });
            return;
        }
        let Some(conn) = self.peers.get(peer).map(|p| p.conn) else {
            return;
        };
        out.actions.push(Action::Send {
            conn,
            message: Message::CrmBuckets {
                sender_id: self.config.peer_id.clone(),
                target_id: peer.clone(),
                buckets: differing,
            },
        });
    }

    /// Compares the peer's entries (of `scope`, or of everything) with ours, once ours are known.
    fn compare(
        &mut self,
        peer: &PeerId,
        scope: Option<Vec<u16>>,
        entries: Vec<SummaryEntry>,
        out: &mut Out,
    ) {
        if self.deferred.is_some() {
            out.actions.push(Action::LoadCatalog {
                buckets: scope.clone(),
            });
            self.awaiting_catalog.push(AfterCatalog::Compare {
                peer: peer.clone(),
                scope,
                entries,
            });
            return;
        }
        self.compare_now(peer, scope.as_deref(), entries, out);
    }

    fn on_catalog(
        &mut self,
        now: Timestamp,
        documents: Vec<(DocumentId, Vec<ChangeHash>)>,
        complete: bool,
        out: &mut Out,
    ) {
        self.register_stored(documents);
        if complete {
            self.deferred = None;
        }
        for work in std::mem::take(&mut self.awaiting_catalog) {
            match work {
                AfterCatalog::Compare {
                    peer,
                    scope,
                    entries,
                } => self.compare_now(&peer, scope.as_deref(), entries, out),
                AfterCatalog::PushAll(peer) => {
                    if self.peers.contains_key(&peer) {
                        self.push_all(now, &peer, out);
                    }
                }
            }
        }
    }

    fn compare_now(
        &mut self,
        peer: &PeerId,
        scope: Option<&[u16]>,
        entries: Vec<SummaryEntry>,
        out: &mut Out,
    ) {
        if !self.peers.contains_key(peer) {
            return;
        }
        let in_scope = |id: &DocumentId| scope.is_none_or(|s| s.contains(&bucket_of(id)));
        // The documents that differ, and whether the peer lacks each one.
        let theirs: BTreeMap<DocumentId, HeadsDigest> = entries
            .into_iter()
            .filter(|e| in_scope(&e.document_id))
            .map(|e| (e.document_id, e.heads))
            .collect();
        let ours: BTreeMap<DocumentId, HeadsDigest> = self
            .entries(scope, |_| true)
            .into_iter()
            .map(|(id, d)| (id, d.entry()))
            .collect();
        let ids: BTreeSet<DocumentId> = theirs.keys().chain(ours.keys()).copied().collect();
        let differing: Vec<(DocumentId, Start)> = ids
            .into_iter()
            .filter(|id| theirs.get(id) != ours.get(id))
            .map(|id| {
                let start = if !theirs.contains_key(&id) {
                    Start::PeerLacks
                } else if !ours.contains_key(&id) {
                    Start::WeLack
                } else {
                    Start::Sync
                };
                (id, start)
            })
            .collect();
        out.actions.push(Action::SummaryCompared {
            peer_id: peer.clone(),
            differing: differing.len(),
        });
        if let Some(p) = self.peers.get_mut(peer) {
            p.backlog.extend(differing);
            if !p.backlog.is_empty() {
                self.backlogged.insert(peer.clone());
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Documents

    fn ctx_of<'a>(peers: &'a BTreeMap<PeerId, Peer>, peer: &'a PeerId) -> Option<PeerContext<'a>> {
        peers.get(peer).map(|p| PeerContext {
            conn: p.conn,
            peer_id: peer,
            metadata: &p.metadata,
        })
    }

    fn may_read(&self, peer: &PeerId, doc: &DocumentId) -> bool {
        Self::ctx_of(&self.peers, peer).is_some_and(|ctx| self.policy.may_read(ctx, doc))
    }

    fn may_write(&self, peer: &PeerId, doc: &DocumentId) -> bool {
        Self::ctx_of(&self.peers, peer).is_some_and(|ctx| self.policy.may_write(ctx, doc))
    }

    /// Make sure a document is loaded or loading, without any work queued.
    fn touch_or_load(&mut self, now: Timestamp, id: DocumentId, out: &mut Out) {
        let slot = self
            .docs
            .entry(id)
            .or_insert_with(|| DocSlot::new(DocState::Unloaded, now));
        slot.last_used = now;
        if matches!(slot.state, DocState::Unloaded) {
            slot.state = DocState::Loading(Vec::new());
            self.loading += 1;
            out.load.insert(id);
        }
    }

    /// Run `work` on a document now if it is loaded, else queue it and load the document.
    fn with_doc(&mut self, now: Timestamp, id: DocumentId, work: Pending, out: &mut Out) {
        self.touch_or_load(now, id, out);
        match self.docs.get_mut(&id).map(|s| &mut s.state) {
            Some(DocState::Loading(queue)) | Some(DocState::Fetching { queue, .. }) => {
                queue.push(work)
            }
            Some(DocState::Loaded(_)) => self.run(id, work, out),
            _ => {}
        }
    }

    fn on_loaded(&mut self, now: Timestamp, id: DocumentId, bytes: Option<Vec<u8>>, out: &mut Out) {
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let DocState::Loading(_) = slot.state else {
            return; // not asked for (or already loaded): ignore
        };
        let doc = match bytes.as_deref().map(Automerge::load) {
            None => Ok(Automerge::new()),
            Some(Ok(doc)) => Ok(doc),
            Some(Err(e)) => Err(e.to_string()),
        };
        let queue = match std::mem::replace(&mut slot.state, DocState::Unloaded) {
            DocState::Loading(q) => q,
            _ => Vec::new(),
        };
        self.loading -= 1;
        out.touched.push(id);
        slot.last_used = now;
        match doc {
            Ok(doc) => {
                // The stored heads: already in a deferred summary.
                let heads = doc.get_heads();
                slot.set_heads(&id, heads);
                slot.state = DocState::Loaded(Box::new(doc));
                for work in queue {
                    self.run(id, work, out);
                }
            }
            Err(error) => {
                out.actions.push(Action::LoadFailed {
                    document_id: id,
                    error,
                });
                for work in queue {
                    if let Pending::Incoming { peer, kind, .. } = work {
                        if kind != BatchKind::DocUnavailable {
                            self.send_unavailable(&peer, id, out);
                        }
                    }
                }
            }
        }
    }

    fn run(&mut self, id: DocumentId, work: Pending, out: &mut Out) {
        match work {
            Pending::Incoming {
                peer,
                conn,
                kind,
                data,
            } => {
                // The peer may have gone (or reconnected elsewhere) while the document loaded.
                if self.peers.get(&peer).map(|p| p.conn) == Some(conn) {
                    self.receive(&peer, conn, kind, id, &data, out);
                }
            }
            Pending::SyncWith(peer) => {
                if self.peers.contains_key(&peer) && self.may_read(&peer, &id) {
                    let empty = self.docs.get(&id).is_none_or(|s| s.heads.is_empty());
                    let kind = if empty {
                        BatchKind::Request
                    } else {
                        BatchKind::Sync
                    };
                    self.generate(&peer, id, kind, out);
                }
            }
            Pending::Denied { peer, conn, data } => {
                if self.peers.get(&peer).map(|p| p.conn) != Some(conn) {
                    return;
                }
                let held = match (
                    self.docs.get(&id).map(|s| &s.state),
                    sync::Message::decode(&data),
                ) {
                    (Some(DocState::Loaded(doc)), Ok(msg)) => msg
                        .heads
                        .iter()
                        .all(|h| automerge::ReadDoc::get_change_by_hash(&**doc, h).is_some()),
                    _ => false,
                };
                let item = BatchItem {
                    kind: BatchKind::DocUnavailable,
                    document_id: id,
                    data: if held {
                        protocol::UNAVAILABLE_HELD.to_vec()
                    } else {
                        Vec::new()
                    },
                };
                push_item(&self.config.peer_id, &peer, conn, true, item, out);
            }
            Pending::Local(changes) => {
                let Some(slot) = self.docs.get_mut(&id) else {
                    return;
                };
                let DocState::Loaded(doc) = &mut slot.state else {
                    return;
                };
                // A local change the shell could not load is the shell's bug, not a peer's:
                // report it like a failed load and keep going.
                if let Err(e) = doc.load_incremental(&changes) {
                    out.actions.push(Action::LoadFailed {
                        document_id: id,
                        error: e.to_string(),
                    });
                    return;
                }
                let heads = doc.get_heads();
                let change = slot.set_heads(&id, heads);
                update_summary(self.deferred.as_mut(), &id, change);
                out.touched.push(id);
                // A document never synced with our server (no state, saved or from this
                // session: a record made while connected) may be new to it, and a server that
                // screens new documents by their book judges one only by its changes: the first
                // message carries them all, as for a document the summary found missing there.
                // (Were the server holding it after all, resent changes are harmless.)
                for p in self.peers.values_mut().filter(|p| p.outbound) {
                    if let std::collections::btree_map::Entry::Vacant(v) = p.states.entry(id) {
                        mark_peer_lacks(v.insert(sync::State::new()));
                    }
                }
                // Always fan out: the change may already have been in the loaded bytes.
                self.fan_out(id, None, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_doc_message(
        &mut self,
        now: Timestamp,
        peer: &PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        id: DocumentId,
        data: Vec<u8>,
        out: &mut Out,
    ) {
        if !self.may_read(peer, &id) {
            // A `crmBatch` peer holding a copy of a document we hold (moved to a book it may not
            // read) learns whether its copy strands anything: it tells the two apart by the heads
            // both sides last shared, which it may have lost (a restored server is a new peer).
            let held_here = self.docs.get(&id).is_some_and(|s| !s.heads.is_empty());
            let batch = self.peers.get(peer).is_some_and(|p| p.batch);
            if held_here && batch && kind == BatchKind::Sync && !data.is_empty() {
                let work = Pending::Denied {
                    peer: peer.clone(),
                    conn,
                    data,
                };
                return self.with_doc(now, id, work, out);
            }
            return self.send_unavailable(peer, id, out);
        }
        let fetched = self
            .peers
            .get_mut(peer)
            .is_some_and(|p| p.fetching.remove(&id));
        if fetched {
            // A fetch answered with the sync protocol (the server's copy was busy): from here
            // on it is a request like any other, from an empty document.
            self.leave_fetching(id, DocState::Loaded(Box::new(Automerge::new())), out);
        }
        self.with_doc(
            now,
            id,
            Pending::Incoming {
                peer: peer.clone(),
                conn,
                kind,
                data,
            },
            out,
        );
    }

    fn receive(
        &mut self,
        peer: &PeerId,
        conn: ConnectionId,
        kind: BatchKind,
        id: DocumentId,
        data: &[u8],
        out: &mut Out,
    ) {
        out.touched_states.push((peer.clone(), id));
        let may_write = self.may_write(peer, &id);
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let DocState::Loaded(doc) = &mut slot.state else {
            return;
        };
        let empty = slot.heads.is_empty();
        if empty && (kind == BatchKind::Request || !may_write) {
            // Unknown here (or a denied upload): indistinguishable from a denied read.
            if kind == BatchKind::Request {
                // Remember the asker (as automerge-repo does): when the document shows up, the
                // fan-out sends it to them.
                if let Some(p) = self.peers.get_mut(peer) {
                    p.states.entry(id).or_default();
                }
            }
            return self.send_unavailable(peer, id, out);
        }
        let msg = match sync::Message::decode(data) {
            Ok(m) => m,
            Err(e) => {
                return self.fail(
                    conn,
                    close_code::INVALID_DATA,
                    format!("invalid sync message for {id}: {e}"),
                    out,
                )
            }
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        // A peer that may not write here and holds changes we lack would wait forever for us to
        // ask for them (a read-only state never does): it is told the document is unavailable,
        // after whatever we have for it, so its sync ends and its edits stay with it.
        let refused =
            !may_write && !automerge::ReadDoc::get_missing_deps(&**doc, &msg.heads).is_empty();
        let state = p.states.entry(id).or_default();
        state.set_read_only(!may_write);
        // An acknowledgement of our heads changes nothing but the sync state.
        let msg = match ack::receive(doc, &slot.heads, state, msg) {
            Ok(()) => {
                self.generate(peer, id, BatchKind::Sync, out);
                return;
            }
            Err(msg) => msg,
        };
        let before = slot.heads.clone();
        // A document that arrives whole (a V2 message carries one document chunk) is persisted
        // as it came: compact and fast to load, and no encoding here.
        let whole = (may_write && before.is_empty())
            .then(|| whole_document(&msg))
            .flatten();
        if let Err(e) = doc.receive_sync_message(state, msg) {
            return self.fail(
                conn,
                close_code::INVALID_DATA,
                format!("sync message for {id} rejected: {e}"),
                out,
            );
        }
        let after = doc.get_heads();
        let changed = after != before;
        if changed {
            let changes = match whole {
                // The document was empty: it now holds exactly that chunk's changes.
                Some(chunk) => chunk,
                // A new document is stored in the compact document format (loads much faster
                // than a run of changes); otherwise only what is new.
                None if before.is_empty() => doc.save(),
                None => doc.save_after(&before),
            };
            out.actions.push(Action::Persist {
                document_id: id,
                changes,
            });
            let change = slot.set_heads(&id, after);
            update_summary(self.deferred.as_mut(), &id, change);
            out.touched.push(id);
        }
        self.generate(peer, id, BatchKind::Sync, out);
        if refused {
            self.send_unavailable(peer, id, out);
        }
        if changed {
            self.fan_out(id, Some(peer), out);
        }
    }

    /// Send changes of a document to every interested peer but `except`.
    fn fan_out(&mut self, id: DocumentId, except: Option<&PeerId>, out: &mut Out) {
        let targets: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(pid, p)| {
                Some(*pid) != except && (p.outbound || p.batch || p.states.contains_key(&id))
            })
            .map(|(pid, _)| pid.clone())
            .collect();
        // Peers in the same sync state (every subscriber that acknowledged the last change) get
        // the same messages: generated once, not once per peer.
        let mut memo = Vec::new();
        for peer in targets {
            if self.may_read(&peer, &id) {
                self.generate_with(&peer, id, BatchKind::Sync, &mut memo, out);
            }
        }
    }

    fn generate(&mut self, peer: &PeerId, id: DocumentId, kind: BatchKind, out: &mut Out) {
        self.generate_with(peer, id, kind, &mut Vec::new(), out);
    }

    /// Generates the next messages of one document for `peer`, reusing what `memo` holds for a
    /// peer that was in the same state (generating depends only on the document and the state).
    fn generate_with(
        &mut self,
        peer: &PeerId,
        id: DocumentId,
        kind: BatchKind,
        memo: &mut Vec<Generated>,
        out: &mut Out,
    ) {
        out.touched_states.push((peer.clone(), id));
        let Some(DocSlot {
            state: DocState::Loaded(doc),
            heads,
            ..
        }) = self.docs.get(&id)
        else {
            return;
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let state = p.states.entry(id).or_default();
        let (conn, batch) = (p.conn, p.batch);
        if ack::nothing_to_send(doc, state, heads) {
            return;
        }
        let messages = match memo.iter().find(|g| g.before == *state) {
            Some(g) => {
                state.clone_from(&g.after);
                g.messages.clone()
            }
            None => {
                let before = state.clone();
                let mut messages = Vec::new();
                for _ in 0..MAX_GENERATE {
                    let Some(msg) = doc.generate_sync_message(state) else {
                        break;
                    };
                    messages.push(msg.encode());
                }
                if memo.len() < MEMO_STATES {
                    memo.push(Generated {
                        before,
                        after: state.clone(),
                        messages: messages.clone(),
                    });
                }
                messages
            }
        };
        for data in messages {
            let item = BatchItem {
                kind,
                document_id: id,
                data,
            };
            push_item(&self.config.peer_id, peer, conn, batch, item, out);
        }
    }

    fn send_unavailable(&mut self, peer: &PeerId, id: DocumentId, out: &mut Out) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let item = BatchItem {
            kind: BatchKind::DocUnavailable,
            document_id: id,
            data: Vec::new(),
        };
        push_item(&self.config.peer_id, peer, p.conn, p.batch, item, out);
    }

    /// `held`: the peer said it holds every change of ours we named ([`protocol::UNAVAILABLE_HELD`]).
    fn on_unavailable(&mut self, peer: &PeerId, id: DocumentId, held: bool, out: &mut Out) {
        // The heads both sides were known to hold (restored from the last session too): ours
        // among them means the peer had everything of ours.
        let ours = self.docs.get(&id).map_or(&[][..], |s| s.heads.as_slice());
        let shared = self
            .peers
            .get(peer)
            .and_then(|p| p.states.get(&id))
            .map_or(&[][..], |st| st.shared_heads.as_slice());
        let unsent = !held && !ours.iter().all(|h| shared.contains(h));
        out.actions.push(Action::Unavailable {
            document_id: id,
            peer_id: peer.clone(),
            unsent,
        });
        // Forget the session state: the peer has nothing for us to build on.
        let mut fetched = false;
        if let Some(p) = self.peers.get_mut(peer) {
            p.states.remove(&id);
            fetched = p.fetching.remove(&id);
        }
        if fetched
            && matches!(
                self.docs.get(&id).map(|s| &s.state),
                Some(DocState::Fetching { arrived: false, .. })
            )
        {
            self.leave_fetching(id, DocState::Unloaded, out);
        }
        out.touched_states.push((peer.clone(), id));
    }

    // -----------------------------------------------------------------------------------------
    // Whole documents: `fetch` and `doc` (crmBatch 3)

    /// Ends the `Fetching` state of a document: `state` replaces it, and the work that waited
    /// runs (or waits for a load) as it would have.
    fn leave_fetching(&mut self, id: DocumentId, state: DocState, out: &mut Out) {
        let Some(slot) = self.docs.get_mut(&id) else {
            return;
        };
        let queue = match std::mem::replace(&mut slot.state, state) {
            DocState::Fetching { queue, .. } => queue,
            other => {
                slot.state = other; // not fetching: left as it was
                return;
            }
        };
        let now = slot.last_used;
        out.touched.push(id);
        for work in queue {
            self.with_doc(now, id, work, out);
        }
    }

    /// A peer asks for a document whole (server side).
    fn on_fetch(&mut self, now: Timestamp, peer: &PeerId, id: DocumentId, out: &mut Out) {
        if !self.peers.get(peer).is_some_and(|p| p.fetch) || !self.may_read(peer, &id) {
            return self.send_unavailable(peer, id, out);
        }
        let Some(slot) = self.docs.get(&id) else {
            return self.send_unavailable(peer, id, out);
        };
        if slot.heads.is_empty() {
            // Unknown here, or known empty: as for a `request`.
            return self.send_unavailable(peer, id, out);
        }
        if matches!(slot.state, DocState::Unloaded) {
            // Not in memory, so storage holds exactly its catalog heads: sent as stored.
            out.raw.entry(id).or_default().push(peer.clone());
            return;
        }
        // In memory (maybe with changes not yet persisted): the sync protocol, as for a
        // `request`, with everything in the first message.
        self.sync_whole(now, peer, id, out);
    }

    /// Starts syncing `id` with a peer that has nothing of it (its first message carries
    /// every change, as if the peer had said "heads: [], have: nothing").
    fn sync_whole(&mut self, now: Timestamp, peer: &PeerId, id: DocumentId, out: &mut Out) {
        if let Some(p) = self.peers.get_mut(peer) {
            mark_peer_lacks(p.states.entry(id).or_default());
        }
        self.with_doc(now, id, Pending::SyncWith(peer.clone()), out);
    }

    /// Stored bytes read for peers that fetched them (server side): each gets them as they are.
    fn on_loaded_raw(
        &mut self,
        now: Timestamp,
        id: DocumentId,
        bytes: Option<Vec<u8>>,
        out: &mut Out,
    ) {
        let Some(peers) = self.awaiting_raw.remove(&id) else {
            return; // not asked for: ignore
        };
        let unloaded = self
            .docs
            .get(&id)
            .is_some_and(|s| matches!(s.state, DocState::Unloaded) && !s.heads.is_empty());
        for peer in peers {
            let Some(p) = self.peers.get(&peer) else {
                continue;
            };
            let conn = p.conn;
            match &bytes {
                // What storage holds is what the catalog says: the bytes go as they are. No
                // state is kept: the peer now holds these heads, and should the document change
                // before it goes, the next sync message starts from what the peer says.
                Some(bytes) if unloaded => {
                    let item = BatchItem {
                        kind: BatchKind::Doc,
                        document_id: id,
                        data: bytes.clone(),
                    };
                    push_item(&self.config.peer_id, &peer, conn, true, item, out);
                }
                // Loaded meanwhile: the sync protocol, from the copy in memory.
                Some(_) => self.sync_whole(now, &peer, id, out),
                None => self.send_unavailable(&peer, id, out),
            }
        }
    }

    /// A document we fetched came whole (client side): the shell stores it.
    fn on_whole_document(&mut self, peer: &PeerId, id: DocumentId, bytes: Vec<u8>, out: &mut Out) {
        if !self
            .peers
            .get(peer)
            .is_some_and(|p| p.fetching.contains(&id))
        {
            return; // not asked for: ignore
        }
        let Some(DocSlot {
            state: DocState::Fetching { arrived, .. },
            ..
        }) = self.docs.get_mut(&id)
        else {
            return;
        };
        if *arrived {
            return; // a second copy: the first is being stored
        }
        *arrived = true;
        out.actions.push(Action::StoreDocument {
            document_id: id,
            bytes,
        });
    }

    /// The shell stored a fetched document (client side).
    fn on_stored(
        &mut self,
        id: DocumentId,
        result: Result<Vec<ChangeHash>, String>,
        out: &mut Out,
    ) {
        if !matches!(
            self.docs.get(&id).map(|s| &s.state),
            Some(DocState::Fetching { arrived: true, .. })
        ) {
            return; // not being stored: ignore
        }
        let peers: Vec<PeerId> = self
            .peers
            .iter_mut()
            .filter_map(|(pid, p)| p.fetching.remove(&id).then(|| pid.clone()))
            .collect();
        match result {
            Ok(heads) => {
                if let Some(slot) = self.docs.get_mut(&id) {
                    let change = slot.set_heads(&id, heads.clone());
                    update_summary(self.deferred.as_mut(), &id, change);
                }
                // Both sides hold these heads, as after a completed sync: a later change of
                // either side costs only that change.
                for peer in &peers {
                    if let Some(p) = self.peers.get_mut(peer) {
                        p.states.insert(id, synced_state(&heads));
                    }
                }
                self.leave_fetching(id, DocState::Unloaded, out);
            }
            Err(error) => {
                self.leave_fetching(id, DocState::Unloaded, out);
                out.actions.push(Action::LoadFailed {
                    document_id: id,
                    error: error.clone(),
                });
                for peer in &peers {
                    if let Some(conn) = self.peers.get(peer).map(|p| p.conn) {
                        self.fail(
                            conn,
                            close_code::INVALID_DATA,
                            format!("document {id} does not load: {error}"),
                            out,
                        );
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Ephemeral messages and housekeeping

    #[allow(clippy::too_many_arguments)]
    fn relay_ephemeral(
        &mut self,
        now: Timestamp,
        sender: &PeerId,
        id: DocumentId,
        session: SessionId,
        count: u64,
        data: Vec<u8>,
        out: &mut Out,
    ) {
        let key = (sender.clone(), session.clone());
        if let Some((last, _)) = self.ephemeral_seen.get(&key) {
            if count <= *last {
                return; // duplicate or stale
            }
        }
        self.ephemeral_seen.insert(key, (count, now));
        let local = *sender == self.config.peer_id;
        if !local {
            out.actions.push(Action::Ephemeral {
                document_id: id,
                sender_id: sender.clone(),
                session_id: session.clone(),
                data: data.clone(),
            });
        }
        let targets: Vec<(PeerId, ConnectionId)> = self
            .peers
            .iter()
            .filter(|(pid, p)| {
                *pid != sender && (p.outbound || p.batch || p.states.contains_key(&id))
            })
            .map(|(pid, p)| (pid.clone(), p.conn))
            .collect();
        for (peer, conn) in targets {
            if !self.may_read(&peer, &id) {
                continue;
            }
            out.actions.push(Action::Send {
                conn,
                message: Message::Ephemeral {
                    sender_id: sender.clone(),
                    target_id: peer,
                    document_id: id,
                    session_id: session.clone(),
                    count,
                    data: data.clone(),
                },
            });
        }
    }

    fn tick(&mut self, now: Timestamp) {
        let idle = self.config.idle_unload_after_ms;
        self.docs.retain(|_, slot| {
            if let DocState::Loaded(_) = slot.state {
                if slot.last_used.0.saturating_add(idle) <= now.0 {
                    slot.state = DocState::Unloaded;
                }
            }
            // An empty document nobody is loading is nothing worth remembering.
            !(matches!(slot.state, DocState::Unloaded) && slot.heads.is_empty())
        });
        let ttl = self.config.ephemeral_dedupe_ms;
        self.ephemeral_seen
            .retain(|_, (_, at)| at.0.saturating_add(ttl) > now.0);
    }
}

fn push_item(
    me: &PeerId,
    peer: &PeerId,
    conn: ConnectionId,
    batch: bool,
    item: BatchItem,
    out: &mut Out,
) {
    if batch {
        out.batches
            .entry(peer.clone())
            .or_insert_with(|| (conn, Vec::new()))
            .1
            .push(item);
    } else if let Some(message) = single_message(me, peer, vec![item]) {
        out.actions.push(Action::Send { conn, message });
    }
}

/// Nothing in flight for one (peer, document): untouched this session (a restored state the
/// summary found equal, or a document not yet started), or the peer's last known heads are ours
/// (or the peer refuses our changes and has nothing pending from us).
/// Once we have spoken, we wait for an answer.
fn settled(state: &sync::State, ours: &[ChangeHash]) -> bool {
    match &state.their_heads {
        None => !state.have_responded && !state.in_flight,
        Some(theirs) => {
            // A peer that keeps our changes out (a read-only grant) will never reach our heads:
            // once nothing of ours is in flight, there is nothing left to wait for.
            crate::heads::same_heads(theirs, ours)
                || (state.is_peer_read_only() && !state.in_flight)
        }
    }
}

/// Recomputes whether `id` is settled with peer `p`.
/// Recomputes whether `id` is settled with peer `p`, keeping `counts` (peers unsettled per
/// document) in step.
fn resettle(
    p: &mut Peer,
    id: DocumentId,
    ours: &[ChangeHash],
    counts: &mut BTreeMap<DocumentId, usize>,
) {
    match p.states.get(&id) {
        Some(st) if !settled(st, ours) => {
            if p.unsettled.insert(id) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        _ => {
            if p.unsettled.remove(&id) {
                uncount(counts, &id);
            }
        }
    }
}

fn uncount(counts: &mut BTreeMap<DocumentId, usize>, id: &DocumentId) {
    if let Some(n) = counts.get_mut(id) {
        *n -= 1;
        if *n == 0 {
            counts.remove(id);
        }
    }
}

/// The bytes of a sync message that carries one whole document (a single document chunk, as
/// automerge sends to a peer that has nothing), if it is one.
fn whole_document(msg: &sync::Message) -> Option<Vec<u8>> {
    let mut chunks = msg.changes.iter();
    let (Some(chunk), None) = (chunks.next(), chunks.next()) else {
        return None;
    };
    is_document_chunk(chunk).then(|| chunk.to_vec())
}

/// Automerge's storage format: a chunk starts with 4 magic bytes and a 4-byte checksum, then
/// its type (0: a whole document) and its length (LEB128). True for exactly one document chunk.
fn is_document_chunk(bytes: &[u8]) -> bool {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if bytes.len() < 9 || bytes[..4] != MAGIC || bytes[8] != 0 {
        return false;
    }
    let mut len: u64 = 0;
    for (i, b) in bytes[9..].iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(len)
                .ok()
                .and_then(|len| len.checked_add(9 + i + 1))
                == Some(bytes.len());
        }
    }
    false
}

/// Splits batch items into runs of at most [`BATCH_FRAME_ITEMS`] items and about
/// [`BATCH_FRAME_BYTES`] bytes (a single bigger item travels alone).
fn split_batch(items: Vec<BatchItem>) -> Vec<Vec<BatchItem>> {
    let mut frames = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        // The item's data plus its id, kind and CBOR framing.
        let size = item.data.len() + 32;
        if !current.is_empty()
            && (current.len() >= BATCH_FRAME_ITEMS || bytes + size > BATCH_FRAME_BYTES)
        {
            frames.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        frames.push(current);
    }
    frames
}

/// The standalone message for a one-item batch.
fn single_message(me: &PeerId, peer: &PeerId, mut items: Vec<BatchItem>) -> Option<Message> {
    let item = items.pop()?;
    let (sender_id, target_id, document_id, data) =
        (me.clone(), peer.clone(), item.document_id, item.data);
    Some(match item.kind {
        BatchKind::Sync => Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        },
        BatchKind::Request => Message::Request {
            sender_id,
            target_id,
            document_id,
            data,
        },
        BatchKind::DocUnavailable => Message::DocUnavailable {
            sender_id,
            target_id,
            document_id,
        },
        // No standalone message: these travel only in a batch.
        BatchKind::Fetch | BatchKind::Doc => return None,
    })
}

/// The sync state of a document both sides hold at `heads`, as a completed sync leaves it.
fn synced_state(heads: &[ChangeHash]) -> sync::State {
    sync::State {
        shared_heads: heads.to_vec(),
        last_sent_heads: heads.to_vec(),
        their_heads: Some(heads.to_vec()),
        their_need: Some(Vec::new()),
        their_have: Some(vec![sync::Have {
            last_sync: heads.to_vec(),
            ..sync::Have::default()
        }]),
        have_responded: true,
        ..sync::State::default()
    }
}

fn encode_states(states: &BTreeMap<DocumentId, sync::State>) -> SavedSyncStates {
    states.iter().map(|(id, s)| (*id, s.encode())).collect()
}

/// Marks a sync state as with a peer known to hold nothing of the document (as if it had said
/// "heads: [], have: nothing"): the next message generated carries every change.
fn mark_peer_lacks(state: &mut sync::State) {
    state.their_heads = Some(Vec::new());
    state.their_need = Some(Vec::new());
    state.their_have = Some(vec![sync::Have::default()]);
}

/// Decodes saved states into `into`. A state `into` already holds for a document is newer and
/// kept, except one only marked "the peer lacks it" ([`mark_peer_lacks`]): the saved state takes
/// its place with the mark, so the first message still carries every change, and the heads the
/// peer was last known to share still tell a refusal from a document it hides from us
/// ([`Action::Unavailable`]'s `unsent`).
fn restore_states(into: &mut BTreeMap<DocumentId, sync::State>, saved: SavedSyncStates) -> usize {
    let mut n = 0;
    for (id, bytes) in saved {
        let marked = match into.get(&id) {
            None => false,
            Some(state)
                if state.their_heads.as_deref() == Some(&[]) && state.sent_hashes.is_empty() =>
            {
                true
            }
            Some(_) => continue,
        };
        if let Ok(mut state) = sync::State::decode(&bytes) {
            if marked {
                mark_peer_lacks(&mut state);
            }
            into.insert(id, state);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests;
