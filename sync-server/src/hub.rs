//! The hub: one thread that owns the sync engine and the storage, and drives both.
//!
//! Connections send [`Input`]s on a bounded channel (a fast sender waits: backpressure). The hub
//! drains what is waiting, feeds each event to the engine, answers `Load` actions from storage at
//! once, then commits every `Persist` of the round in ONE storage transaction (group commit) and only
//! then hands the round's outgoing frames to the connections. So nothing is relayed or acknowledged
//! before it is on disk.
//!
//! Each connection has a bounded outgoing queue; a peer that does not read fast enough to keep it
//! from filling is closed (1008, "too slow") rather than buffered without bound.
//!
//! A storage failure is fatal: the hub closes every connection (1011) and stops, so that no
//! change is ever acknowledged that storage did not take. Clients resend on reconnect.

use crate::access::{self, Access};
use crate::close_code;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::storage::{Append, Storage};
use crm_shared::engine::{Action, ConnectionId, Engine, Event, Timestamp};
use crm_shared::protocol;
use crm_shared::DocumentId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What the hub sends a connection's writer.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Vec<u8>),
    Close { code: u16, reason: String },
}

/// What connections and timers send the hub.
pub enum Input {
    /// A new connection and its outgoing queue (followed by its `Accepted` event).
    Open {
        conn: ConnectionId,
        queue: mpsc::Sender<Outgoing>,
    },
    Event(Event),
    /// Close a connection for a reason found outside the engine (a revoked token).
    Kick {
        conn: ConnectionId,
        code: u16,
        reason: String,
    },
    /// Time passed: unload idle documents, compact storage a little.
    Tick,
    /// Finish the round, close every connection (1001) and stop.
    Shutdown,
}

/// How the hub behaves.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Inputs handled per round (per group commit) at most.
    pub max_round: usize,
    /// Compact a document once it has this many chunks.
    pub compact_after_chunks: u32,
    /// Documents compacted per tick at most.
    pub compactions_per_tick: u32,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_round: 512,
            compact_after_chunks: 32,
            compactions_per_tick: 16,
        }
    }
}

/// Why the hub stopped.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("cannot record documents' books: {0}")]
    Books(#[from] crate::directory::DirectoryError),
}

/// Access control: the shared state the engine's policy reads, and where learned books go.
pub struct HubAccess {
    pub access: Arc<Access>,
    pub directory: Directory,
}

struct Hub<S: Storage> {
    engine: Engine,
    storage: S,
    conns: HashMap<ConnectionId, mpsc::Sender<Outgoing>>,
    metrics: Arc<Metrics>,
    config: HubConfig,
    started: Instant,
    /// Documents in storage, for the `documents_known` gauge. Counted, never recomputed: walking
    /// the engine's catalog costs O(stored documents) and rounds happen once per frame.
    known: u64,
    /// Documents a load found missing from storage: the first persist of one stores a new
    /// document. Forgotten on tick once the engine no longer holds them.
    unstored: HashSet<DocumentId>,
    access: HubAccess,
    /// Documents whose root `book` incoming changes touched: their book is read again when
    /// they are next persisted (a move), and forgotten once they leave memory.
    rebook: HashSet<DocumentId>,
    /// Unloaded documents are freed on a thread of their own, off the hub's path.
    free: Option<std::sync::mpsc::Sender<Vec<automerge::Automerge>>>,
}

/// Runs the hub on the current thread until [`Input::Shutdown`] or every sender is dropped.
pub fn run<S: Storage>(
    mut engine: Engine,
    mut storage: S,
    mut inputs: mpsc::Receiver<Input>,
    metrics: Arc<Metrics>,
    config: HubConfig,
    access: HubAccess,
) -> Result<(), HubError> {
    let catalog = storage.catalog()?;
    let known = catalog.len() as u64;
    Metrics::set(&metrics.documents_known, known);
    engine.register_stored(catalog);
    let mut hub = Hub {
        engine,
        storage,
        conns: HashMap::new(),
        metrics,
        config,
        started: Instant::now(),
        known,
        unstored: HashSet::new(),
        access,
        rebook: HashSet::new(),
        free: None,
    };
    let (free, freed) = std::sync::mpsc::channel::<Vec<automerge::Automerge>>();
    let freer = std::thread::Builder::new()
        .name("crm-hub-free".into())
        .spawn(move || while freed.recv().is_ok() {})
        .ok();
    if freer.is_some() {
        hub.free = Some(free);
    }
    let mut round = Vec::with_capacity(hub.config.max_round);
    loop {
        let Some(first) = inputs.blocking_recv() else {
            break;
        };
        round.push(first);
        while round.len() < hub.config.max_round {
            match inputs.try_recv() {
                Ok(input) => round.push(input),
                Err(_) => break,
            }
        }
        let shutdown = round.iter().any(|i| matches!(i, Input::Shutdown));
        let result = hub.round(round.drain(..));
        if let Err(e) = result {
            tracing::error!(cause = %e, "storage failed: closing every connection and stopping");
            hub.close_all(close_code::INTERNAL, "server storage failure");
            return Err(e);
        }
        if shutdown {
            hub.close_all(close_code::GOING_AWAY, "server shutting down");
            break;
        }
    }
    Ok(())
}

impl<S: Storage> Hub<S> {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.started.elapsed().as_millis() as u64)
    }

    /// One round: handle every input, commit every persist at once, then send.
    fn round(&mut self, inputs: impl Iterator<Item = Input>) -> Result<(), HubError> {
        let mut events: VecDeque<Event> = VecDeque::new();
        let mut refusals = Vec::new();
        let mut tick = false;
        for input in inputs {
            match input {
                Input::Open { conn, queue } => {
                    self.conns.insert(conn, queue);
                }
                Input::Event(Event::Frame { conn, bytes }) => match protocol::decode(&bytes) {
                    // Connection tasks hand on decoded messages; a frame that decodes (from
                    // another shell) is screened all the same.
                    Ok(message) => self.screen(conn, message, &mut events, &mut refusals),
                    Err(_) => events.push_back(Event::Frame { conn, bytes }),
                },
                Input::Event(Event::Message { conn, message }) => {
                    self.screen(conn, message, &mut events, &mut refusals)
                }
                Input::Event(e) => events.push_back(e),
                Input::Kick { conn, code, reason } => {
                    tracing::info!(conn = conn.0, code, %reason, "closing connection");
                    Metrics::add(&self.metrics.connections_refused, 1);
                    self.close(conn, code, &reason);
                    events.push_back(Event::Disconnected { conn });
                }
                Input::Tick => {
                    events.push_back(Event::Tick);
                    tick = true;
                }
                Input::Shutdown => {}
            }
        }
        let mut actions = Vec::new();
        while let Some(event) = events.pop_front() {
            let now = self.now();
            for action in self.engine.handle(now, event) {
                match action {
                    Action::Load { documents } => {
                        events.push_front(self.load(documents)?);
                    }
                    Action::LoadRaw { documents } => {
                        events.push_front(self.load_raw(documents)?);
                    }
                    other => actions.push(other),
                }
            }
        }
        let moved = self.persist(&mut actions)?;
        if !moved.is_empty() {
            self.announce_moved(moved, &mut actions)?;
        }
        // Persisted: documents no peer has anything in flight for leave memory at once.
        let mut gone = Vec::new();
        self.engine.unload_settled_into(&mut gone);
        if let (Some(free), false) = (&self.free, gone.is_empty()) {
            // Should the thread be gone, they come back and are freed here.
            let _freed_here = free.send(gone);
        }
        let books = self.access.access.take_new_books();
        if !books.is_empty() {
            self.access.directory.set_doc_books(&books)?;
        }
        actions.extend(refusals);
        self.dispatch(actions);
        if tick {
            self.compact()?;
            // O(documents known to the engine): once per tick, not once per round.
            Metrics::set(
                &self.metrics.documents_loaded,
                self.engine.loaded_count() as u64,
            );
            let engine = &self.engine;
            self.unstored.retain(|id| engine.document(id).is_some());
            self.rebook.retain(|id| engine.document(id).is_some());
        }
        Ok(())
    }

    /// Messages are screened for documents' books before the engine applies them: new
    /// documents in a book the sender may not write, and moves by anyone but a manager or an
    /// admin, are refused.
    fn screen(
        &mut self,
        conn: ConnectionId,
        message: protocol::Message,
        events: &mut VecDeque<Event>,
        refusals: &mut Vec<Action>,
    ) {
        let engine = &self.engine;
        let storage = std::cell::RefCell::new(&mut self.storage);
        // Asked only before refusing a move: read from the engine's copy, else from storage.
        let holds = |id: &DocumentId, heads: &[automerge::ChangeHash]| {
            let has = |doc: &automerge::Automerge| {
                heads
                    .iter()
                    .all(|h| automerge::ReadDoc::get_change_by_hash(doc, h).is_some())
            };
            match engine.document(id) {
                Some(doc) => has(doc),
                None => matches!(storage.borrow_mut().load(id), Ok(Some(bytes))
                    if automerge::Automerge::load(&bytes).is_ok_and(|doc| has(&doc))),
            }
        };
        let screened = self.access.access.screen(
            conn,
            message,
            |id| engine.heads(id).is_some_and(|heads| !heads.is_empty()),
            holds,
        );
        self.rebook.extend(screened.rebook);
        for message in screened.replies {
            refusals.push(Action::Send { conn, message });
        }
        if let Some(message) = screened.message {
            events.push_back(Event::Message { conn, message });
        }
    }

    fn load(&mut self, ids: Vec<DocumentId>) -> Result<Event, HubError> {
        let t = Instant::now();
        let mut documents = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = self.storage.load(&id)?;
            if bytes.is_none() {
                self.unstored.insert(id);
            }
            documents.push((id, bytes));
        }
        Metrics::add(&self.metrics.storage_loads, documents.len() as u64);
        self.metrics
            .storage_load_seconds
            .observe(t.elapsed().as_secs_f64());
        Ok(Event::Loaded { documents })
    }

    /// Stored bytes for peers that fetch documents whole: sent as they are, never loaded here.
    fn load_raw(&mut self, ids: Vec<DocumentId>) -> Result<Event, HubError> {
        let t = Instant::now();
        let mut documents = Vec::with_capacity(ids.len());
        for id in ids {
            documents.push((id, self.storage.load(&id)?));
        }
        Metrics::add(&self.metrics.storage_raw_reads, documents.len() as u64);
        self.metrics
            .storage_load_seconds
            .observe(t.elapsed().as_secs_f64());
        Ok(Event::LoadedRaw { documents })
    }

    /// Group commit of every `Persist` of the round; returns the documents that moved to
    /// another book. (The changes are moved out of the actions: dispatching ignores `Persist`.)
    fn persist(&mut self, actions: &mut [Action]) -> Result<Vec<DocumentId>, HubError> {
        let appends: Vec<Append> = actions
            .iter_mut()
            .filter_map(|a| match a {
                Action::Persist {
                    document_id,
                    changes,
                } => Some(Append {
                    document_id: *document_id,
                    changes: std::mem::take(changes),
                    heads: self
                        .engine
                        .document(document_id)
                        .map(|d| d.get_heads())
                        .unwrap_or_default(),
                }),
                _ => None,
            })
            .collect();
        if appends.is_empty() {
            return Ok(Vec::new());
        }
        let stored: Vec<DocumentId> = appends.iter().map(|a| a.document_id).collect();
        let moves = access::books::before_store(
            &self.access.access,
            &mut self.access.directory,
            &self.engine,
            &mut self.rebook,
            &stored,
        )?;
        let t = Instant::now();
        self.storage.append(&appends)?;
        self.metrics.record_commit(t.elapsed());
        for a in &appends {
            if self.unstored.remove(&a.document_id) {
                self.known += 1;
            }
        }
        Metrics::set(&self.metrics.documents_known, self.known);
        let moved = access::books::after_store(&self.access.access, moves);
        Ok(moved)
    }

    /// Offers documents that moved (stored, their new book recorded) to every peer that may
    /// read them now: the engine's fan-out of the move went by the old book.
    fn announce_moved(
        &mut self,
        moved: Vec<DocumentId>,
        actions: &mut Vec<Action>,
    ) -> Result<(), HubError> {
        let mut events: VecDeque<Event> = moved
            .into_iter()
            .map(|document_id| Event::LocalChange {
                document_id,
                changes: Vec::new(),
            })
            .collect();
        let mut more = Vec::new();
        while let Some(event) = events.pop_front() {
            let now = self.now();
            for action in self.engine.handle(now, event) {
                match action {
                    Action::Load { documents } => events.push_front(self.load(documents)?),
                    other => more.push(other),
                }
            }
        }
        // Nothing new to store is expected; should there be, it is stored before it is sent.
        let again = self.persist(&mut more)?;
        debug_assert!(again.is_empty(), "a document moved again with no change");
        actions.extend(more);
        Ok(())
    }

    fn dispatch(&mut self, actions: Vec<Action>) {
        let mut gone = Vec::new();
        // Every frame is encoded before any is handed on: the connections' tasks are then woken
        // in one burst (the runtime's workers wake once for all of them, not once per frame).
        let mut frames: VecDeque<Vec<u8>> = actions
            .iter()
            .filter_map(|action| match action {
                Action::Send { message, .. } => Some(protocol::encode(message)),
                _ => None,
            })
            .collect();
        for action in actions {
            match action {
                Action::Send { conn, .. } => {
                    let Some(bytes) = frames.pop_front() else {
                        continue;
                    };
                    let Some(queue) = self.conns.get(&conn) else {
                        continue;
                    };
                    let len = bytes.len() as u64;
                    match queue.try_send(Outgoing::Frame(bytes)) {
                        Ok(()) => {
                            Metrics::add(&self.metrics.frames_out, 1);
                            Metrics::add(&self.metrics.bytes_out, len);
                        }
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::warn!(conn = conn.0, "send queue full: closing a slow peer");
                            Metrics::add(&self.metrics.slow_consumers_closed, 1);
                            self.close(conn, close_code::POLICY, "too slow: send queue full");
                            gone.push(conn);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => gone.push(conn),
                    }
                }
                Action::Close { conn, code, reason } => {
                    if code != close_code::NORMAL && code != close_code::REPLACED {
                        Metrics::add(&self.metrics.protocol_errors, 1);
                        tracing::info!(conn = conn.0, code, %reason, "closing connection");
                    }
                    self.close(conn, code, &reason);
                }
                Action::PeerConnected {
                    conn,
                    peer_id,
                    batch,
                    ..
                } => {
                    tracing::debug!(conn = conn.0, peer = %peer_id, batch, "peer joined");
                }
                Action::PeerDisconnected { conn, peer_id, .. } => {
                    tracing::debug!(conn = conn.0, peer = %peer_id, "peer left");
                }
                Action::LoadFailed { document_id, error } => {
                    tracing::error!(document = %document_id, cause = %error, "stored document does not load");
                }
                Action::Persist { .. }
                | Action::Load { .. }
                | Action::LoadRaw { .. }
                | Action::StoreDocument { .. }
                | Action::Unavailable { .. }
                | Action::Ephemeral { .. }
                | Action::SummaryCompared { .. }
                | Action::LoadCatalog { .. } => {}
            }
        }
        for conn in gone {
            if self.conns.remove(&conn).is_some() {
                let now = self.now();
                // The engine forgets the peer; anything it wants to send now has nowhere to go.
                let _ignored = self.engine.handle(now, Event::Disconnected { conn });
            }
        }
    }

    fn close(&mut self, conn: ConnectionId, code: u16, reason: &str) {
        if let Some(queue) = self.conns.remove(&conn) {
            // A full queue cannot take the close either; dropping the sender ends the writer.
            let _full_or_gone = queue.try_send(Outgoing::Close {
                code,
                reason: reason.to_string(),
            });
        }
    }

    fn close_all(&mut self, code: u16, reason: &str) {
        let conns: Vec<_> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close(conn, code, reason);
        }
    }

    fn compact(&mut self) -> Result<(), HubError> {
        let ids = self.storage.needs_compaction(
            self.config.compact_after_chunks,
            self.config.compactions_per_tick,
        )?;
        for id in ids {
            match self.storage.compact(&id) {
                Ok(()) => Metrics::add(&self.metrics.compactions, 1),
                Err(crate::storage::StorageError::Damaged(id, cause)) => {
                    tracing::error!(document = %id, %cause, "cannot compact a damaged document");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
