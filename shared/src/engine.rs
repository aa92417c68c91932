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
//!
//! # Map
//!
//! One concept per child module:
//! - `api`: events in, actions out, the configuration; `access`: the access-policy hook.
//! - `route`: incoming frames, routed to the concept that handles them.
//! - `handshake`: `join` and `peer`; `connection`: connections and peers, closing them.
//! - `summary`: the `crmBatch` summary exchange; `backlog`: differing documents, started a
//!   window at a time.
//! - `slots`: document slots, loading and idle unloading.
//! - `exchange`: a peer's sync messages for one document, and local changes; `fan_out`:
//!   generating messages for peers; `ack`: acknowledgements answered from the sync state.
//! - `fetch`: whole documents (`fetch` and `doc`).
//! - `settle`: what is in flight with whom, and unloading settled documents.
//! - `states`: sync states kept across sessions.
//! - `batch`: the output of one call, items gathered into frames per peer.
//! - `ephemeral`: relayed ephemeral messages.

mod access;
mod ack;
mod api;
mod backlog;
mod batch;
mod connection;
mod ephemeral;
mod exchange;
mod fan_out;
mod fetch;
mod handshake;
mod route;
mod settle;
mod slots;
mod states;
mod summary;

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ChangeHash};

use crate::document_id::DocumentId;
use crate::protocol::{
    Message, PeerId, SessionId, SetSummary, CRM_BATCH_VERSION, PROTOCOL_VERSION,
};
pub use access::{AccessPolicy, AllowAll, FnPolicy, PeerContext};
pub use api::{close_code, Action, Config, ConnectionId, Event, SavedSyncStates, Timestamp};

use batch::Out;
use connection::{Conn, Peer};
use slots::{DocSlot, DocState, Pending};
use states::encode_states;
use summary::AfterCatalog;

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

    /// Unloads idle documents and forgets old ephemeral duplicates.
    fn tick(&mut self, now: Timestamp) {
        self.unload_idle(now);
        self.forget_old_ephemeral(now);
    }
}

#[cfg(test)]
mod tests;
