//! The sync session behind `crm sync`: the WebSocket shell around the sans-IO sync engine of `crm-shared`.
//!
//! The engine decides what to send; this module moves bytes and keeps the durability rule: changes
//! that arrive are merged into the store in one committed transaction per round ([`Store::merge_batch`])
//! before any later message goes out, because a sync message tells the server what we have.
//!
//! One-shot sync runs until the engine is in sync with the server and nothing is in flight; `--watch`
//! stays connected, pushes changes that other `crm` commands commit (it polls the store's change
//! order), and reconnects with backoff when the connection drops or the server restarts.

mod connect;
mod feed;
mod fetcher;
pub mod grants;
mod reminders;

use crate::store::Store;
use connect::connect;
pub use connect::{endpoint, is_tls, CaCertError, CaCerts};
use crm_shared::engine::{Action, Config, ConnectionId, Engine, Event, Timestamp};
use crm_shared::protocol::{self, PeerId, StorageId};
use crm_shared::DocumentId;
pub use feed::Feed;
use fetcher::Fetcher;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Why a sync failed. Local data is never changed by a failed sync beyond what was committed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no sync server configured: run `crm init --server ws://HOST:PORT` on a new data dir, or pass --server")]
    NoServer,
    #[error("`{0}` is not a sync server URL (expected ws://HOST:PORT or wss://HOST:PORT)")]
    BadUrl(String),
    #[error("cannot reach the sync server at {url}: {cause}")]
    Connect { url: String, cause: String },
    /// An HTTP answer other than 401/403 to the upgrade (a proxy's 503, a web server): retried by
    /// `--watch`.
    #[error("{url} is not a sync server (HTTP {status})")]
    NotSyncServer { url: String, status: u16 },
    /// 429/503 to the upgrade: the server's connection limits (retried by `--watch`).
    #[error(
        "the sync server is busy (HTTP {status}{}): close other `crm sync --watch` sessions of this user, or try again in a moment",
        reason_text(reason)
    )]
    Busy { status: u16, reason: String },
    /// 401/403 to the upgrade, with the first line the server gave as its reason.
    #[error(
        "the sync server refused the connection (HTTP {status}{}): {next}",
        reason_text(reason)
    )]
    Refused {
        status: u16,
        reason: String,
        next: &'static str,
    },
    /// The server's TLS certificate: not retried by `--watch`, like a refused token.
    #[error("the sync server's certificate is not trusted ({cause}): {next}")]
    Untrusted { cause: String, next: &'static str },
    #[error("the sync server stopped answering for {0} s")]
    Timeout(u64),
    #[error("the sync server closed the connection ({code}: {reason})")]
    Closed { code: u16, reason: String },
    #[error("the connection to the sync server failed: {0}")]
    Socket(String),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

/// What to sync with and how.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub url: String,
    pub token: Option<String>,
    /// Trusted for `wss://` besides the operating system's roots.
    pub ca_certs: CaCerts,
    pub watch: bool,
    /// Show a progress bar for large transfers.
    pub progress: bool,
    /// Give up when the server sends nothing for this long.
    pub timeout: Duration,
    /// `--watch` tells what it does as JSON lines instead of text.
    pub json: bool,
}

/// What one sync did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncReport {
    pub server: String,
    /// Records that arrived new.
    pub created: u64,
    /// Records that existed here and received changes.
    pub updated: u64,
    /// Documents the summary found different on the two sides.
    pub differing: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub millis: u64,
    /// Records held here with changes the server refused (`doc-unavailable`): changes it did not
    /// take (a move by a rep, an edit under a read-only grant, a book not granted); they stay here.
    pub refused: u64,
    /// Records held here, with nothing the server lacked, that it no longer shares with us (moved
    /// to a book we may not read, or our grant was taken away); they stay here as they were.
    pub unshared: u64,
    /// The records counted in `refused`, in the order the server named them.
    #[serde(skip)]
    pub refused_ids: Vec<DocumentId>,
    /// The records counted in `unshared`.
    #[serde(skip)]
    pub unshared_ids: Vec<DocumentId>,
    /// Records listed here that arrived removed (someone else's `crm rm`).
    #[serde(skip)]
    pub removed_ids: Vec<DocumentId>,
    /// Records the merge of what arrived left needing attention, with why.
    #[serde(skip)]
    pub attention: Vec<(DocumentId, String)>,
    /// Contacts and organizations new here or changed (checked for likely duplicates).
    #[serde(skip)]
    pub arrived: Vec<DocumentId>,
    /// Records whose local changes a `--watch` session sent.
    #[serde(skip)]
    pub pushed: u64,
}

impl SyncReport {
    /// True when `id` is already counted as refused or unshared.
    fn counted(&self, id: &DocumentId) -> bool {
        self.refused_ids.contains(id) || self.unshared_ids.contains(id)
    }

    /// Adds what a merge into the store did.
    fn add(&mut self, merged: crate::store::Merged) {
        self.created += merged.created;
        self.updated += merged.updated;
        self.removed_ids.extend(merged.removed);
        self.attention.extend(merged.attention);
        self.arrived.extend(merged.arrived);
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const CONN: ConnectionId = ConnectionId(1);

struct Session<'a> {
    store: &'a mut Store,
    engine: Engine,
    started: Instant,
    report: SyncReport,
    server: Option<PeerId>,
    /// What the saved sync states are kept under: the server's storage id (its URL if it gives
    /// none). A server restored from a backup has a new storage id: it is another peer, and
    /// nothing saved about the old one is trusted.
    states_key: String,
    batch: bool,
    summary_done: bool,
    pending: Vec<(DocumentId, Vec<u8>)>,
    /// Documents whose saved sync state was looked up this session.
    restored: std::collections::HashSet<DocumentId>,
    bar: Option<indicatif::ProgressBar>,
    progress: bool,
    closed: Option<(u16, String)>,
    /// Unloaded documents go to a thread that frees them, off the path between frames.
    dropper: Dropper,
    /// Documents sent whole are read on worker threads, then stored here.
    fetcher: Fetcher,
    /// Documents the workers read, waiting for the next transaction.
    fetched: Vec<crate::store::FetchedDocument>,
    fetched_results: Vec<(DocumentId, Result<Vec<automerge::ChangeHash>, String>)>,
}

/// Documents fetched whole are stored in transactions of about this many (each commit rewrites
/// the pages of every index it touched: fewer, bigger ones cost much less per document).
const STORE_FETCHED_DOCS: usize = 4096;

/// Frees unloaded documents on a thread of its own (ends when dropped).
struct Dropper {
    tx: Option<std::sync::mpsc::Sender<Vec<automerge::Automerge>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dropper {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<automerge::Automerge>>();
        let thread = std::thread::Builder::new()
            .name("crm-free".into())
            .spawn(move || while rx.recv().is_ok() {})
            .ok();
        Dropper {
            tx: thread.is_some().then_some(tx),
            thread,
        }
    }

    fn free(&self, docs: Vec<automerge::Automerge>) {
        if let (Some(tx), false) = (&self.tx, docs.is_empty()) {
            // A gone thread hands them back: freed here then.
            let _freed_here = tx.send(docs);
        }
    }
}

impl Drop for Dropper {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reason_text(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

/// Syncs the store with the server once (or, with `watch`, until interrupted).
pub fn sync(store: &mut Store, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Socket(e.to_string()))?;
    runtime.block_on(async {
        let mut feed = Feed::new(opts.json);
        if !opts.watch {
            return session(store, opts, &mut feed).await;
        }
        let mut backoff = 1;
        loop {
            match session(store, opts, &mut feed).await {
                Ok(_) => backoff = 1,
                Err(SyncError::Store(e)) => return Err(SyncError::Store(e)),
                Err(e @ SyncError::Refused { .. }) => return Err(e),
                Err(e @ SyncError::Untrusted { .. }) => return Err(e),
                Err(e) => {
                    feed.lost();
                    eprintln!("crm: {e}; reconnecting in {backoff} s");
                    tokio::time::sleep(Duration::from_secs(backoff)).await;
                    backoff = (backoff * 2).min(30);
                }
            }
        }
    })
}

async fn session(
    store: &mut Store,
    opts: &SyncOptions,
    feed: &mut Feed,
) -> Result<SyncReport, SyncError> {
    let mut ws = connect(opts).await?;
    let _live = crate::live::LiveLock::hold(store.dir());
    if opts.watch {
        feed.connected(&opts.url);
    }
    let mut config = Config::new(peer_id(store));
    config.storage_id = StorageId::try_from(store.identity.device.clone()).ok();
    let mut engine = Engine::new(config);
    // The summary of the stored documents (kept in the store: no catalog is read unless the
    // server's differs) and the change position it covers. The position is read before any
    // catalog: a change another `crm` process commits later is after `last_seq`, so `--watch`
    // pushes it (and if the catalog already holds it too, pushing it twice is harmless).
    let (mut last_seq, summary) = store.sync_summary()?;
    engine.register_summary(summary);
    let mut s = Session {
        store,
        engine,
        started: Instant::now(),
        report: SyncReport {
            server: opts.url.clone(),
            ..SyncReport::default()
        },
        server: None,
        states_key: opts.url.clone(),
        batch: false,
        summary_done: false,
        pending: Vec::new(),
        restored: std::collections::HashSet::new(),
        bar: None,
        progress: opts.progress,
        closed: None,
        dropper: Dropper::new(),
        fetcher: Fetcher::new(),
        fetched: Vec::new(),
        fetched_results: Vec::new(),
    };
    s.handle(
        &mut ws,
        Event::Connected {
            conn: CONN,
            // Saved states are restored lazily, as documents load (see `Action::Load`): a
            // reconnect whose summary matches reads none of them.
            sync_states: Vec::new(),
        },
    )
    .await?;
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    let mut last_heard = Instant::now();
    loop {
        if let Some((code, reason)) = s.closed.take() {
            return Err(SyncError::Closed { code, reason });
        }
        if !opts.watch && s.quiescent() {
            break;
        }
        tokio::select! {
            frame = ws.next() => {
                last_heard = Instant::now();
                match frame {
                    None => return Err(SyncError::Closed { code: 1006, reason: "connection lost".into() }),
                    Some(Err(e)) => return Err(SyncError::Socket(e.to_string())),
                    Some(Ok(Ws::Binary(bytes))) => {
                        s.report.frames_received += 1;
                        s.report.bytes_received += bytes.len() as u64;
                        s.handle(&mut ws, Event::Frame { conn: CONN, bytes: bytes.to_vec() }).await?;
                    }
                    Some(Ok(Ws::Close(frame))) => {
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        return Err(SyncError::Closed { code, reason });
                    }
                    Some(Ok(_)) => {}
                }
            }
            done = s.fetcher.next(), if s.fetcher.busy() => {
                if let Some(done) = done {
                    last_heard = Instant::now();
                    s.stored(&mut ws, done).await?;
                }
            }
            _ = poll.tick() => {
                if last_heard.elapsed() > opts.timeout && !(opts.watch && s.quiescent()) {
                    return Err(SyncError::Timeout(opts.timeout.as_secs()));
                }
                if opts.watch {
                    let seq = s.store.change_seq()?;
                    // Not before the summaries are compared: the summary sent covers the store
                    // as of `last_seq`, and a document stored since then and handed over earlier
                    // would be in neither side's summary, so never sent.
                    if seq > last_seq && s.compared() {
                        // What this session merged or fetched is in the engine at those
                        // heads already: only other processes' changes are read and pushed.
                        let engine = &s.engine;
                        let changed = s.store.changed_since(last_seq, &|id, heads| {
                            engine
                                .heads(id)
                                .is_some_and(|ours| crm_shared::heads::same_heads(ours, heads))
                        })?;
                        last_seq = seq;
                        s.report.pushed += changed.len() as u64;
                        for (document_id, changes) in changed {
                            s.handle(&mut ws, Event::LocalChange { document_id, changes }).await?;
                        }
                    }
                    s.handle(&mut ws, Event::Tick).await?;
                }
            }
        }
        if opts.watch {
            feed.tell(&s.report);
            feed.remind(s.store);
        }
    }
    s.finish(&mut ws).await
}

/// What the sync states saved for the server with this storage id are kept under.
pub fn states_key(storage_id: &str) -> String {
    format!("storage:{storage_id}")
}

/// A fresh peer id per session (the server replaces an older connection with the same id);
/// the device id is our storage id.
fn peer_id(store: &Store) -> PeerId {
    let mut nonce = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
    let id = format!(
        "crm-{}-{}",
        store.identity.user,
        crate::store::hex_encode(&nonce)
    );
    PeerId::try_from(id).unwrap_or_else(|_| {
        PeerId::try_from("crm-client".to_string()).unwrap_or_else(|_| unreachable!())
    })
}

impl Session<'_> {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.started.elapsed().as_millis() as u64)
    }

    /// The handshake is done and, with `crmBatch`, the summaries are compared: from here on a
    /// local change is sent to the server as it is handed over.
    fn compared(&self) -> bool {
        self.server.is_some() && (self.summary_done || !self.batch)
    }

    /// Nothing left to do: the handshake and summary are done and both sides hold the same heads.
    fn quiescent(&self) -> bool {
        let Some(server) = &self.server else {
            return false;
        };
        self.compared()
            && self.pending.is_empty()
            && !self.fetcher.busy()
            && self.engine.is_synced_with(server)
    }

    /// Feeds one event, and everything it leads to, through the engine.
    async fn handle(&mut self, ws: &mut Socket, event: Event) -> Result<(), SyncError> {
        let mut events = vec![event];
        while let Some(event) = events.pop() {
            let now = self.now();
            for action in self.engine.handle(now, event) {
                match action {
                    Action::Send { message, .. } => {
                        // Durability: what we tell the server we have must be committed first.
                        self.flush()?;
                        let bytes = protocol::encode(&message);
                        self.report.frames_sent += 1;
                        self.report.bytes_sent += bytes.len() as u64;
                        ws.send(Ws::Binary(bytes.into()))
                            .await
                            .map_err(|e| SyncError::Socket(e.to_string()))?;
                    }
                    Action::Persist {
                        document_id,
                        changes,
                    } => self.pending.push((document_id, changes)),
                    Action::StoreDocument { document_id, bytes } => {
                        self.fetcher.queue(document_id, bytes)
                    }
                    Action::LoadRaw { documents } => {
                        // Only a server serves fetches; a client holds nothing to send raw.
                        events.push(Event::LoadedRaw {
                            documents: documents.into_iter().map(|d| (d, None)).collect(),
                        });
                    }
                    Action::Load { documents } => {
                        // The saved sync states of documents loaded for the first time this
                        // session, before the engine generates anything for them.
                        if let Some(server) = &self.server {
                            let fresh: Vec<DocumentId> = documents
                                .iter()
                                .copied()
                                .filter(|id| self.restored.insert(*id))
                                .collect();
                            let states = self.store.sync_states_of(&self.states_key, &fresh)?;
                            self.engine.restore_sync_states(server, states);
                        }
                        let loaded = self.store.documents_bytes(&documents)?;
                        events.push(Event::Loaded { documents: loaded });
                    }
                    Action::LoadCatalog { buckets } => {
                        let (documents, complete) = match &buckets {
                            None => (self.store.catalog()?, true),
                            Some(b) => (self.store.catalog_of_buckets(b)?, false),
                        };
                        events.push(Event::Catalog {
                            documents,
                            complete,
                        });
                    }
                    Action::Close { code, reason, .. } => {
                        let _gone = ws
                            .send(Ws::Close(Some(
                                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                                    code: CloseCode::from(code),
                                    reason: reason.clone().into(),
                                },
                            )))
                            .await;
                        self.closed = Some((code, reason));
                    }
                    Action::PeerConnected {
                        peer_id,
                        batch,
                        metadata,
                        ..
                    } => {
                        if let Some(storage) = &metadata.storage_id {
                            self.states_key = states_key(&storage.to_string());
                        }
                        self.server = Some(peer_id);
                        self.batch = batch;
                    }
                    Action::PeerDisconnected { sync_states, .. } => {
                        self.store
                            .save_sync_states(&self.states_key, &sync_states)?;
                    }
                    Action::SummaryCompared { differing, .. } => {
                        self.summary_done = true;
                        self.report.differing = differing as u64;
                        if self.progress && differing >= 200 {
                            let bar = indicatif::ProgressBar::new(differing as u64);
                            bar.set_message("records");
                            self.bar = Some(bar);
                        }
                    }
                    Action::Unavailable {
                        document_id,
                        unsent,
                        ..
                    } => {
                        // Only records held here count: a request for one we lack is no refusal.
                        let held = self
                            .engine
                            .heads(&document_id)
                            .is_some_and(|h| !h.is_empty());
                        if held && !self.report.counted(&document_id) {
                            if unsent {
                                self.report.refused += 1;
                                self.report.refused_ids.push(document_id);
                            } else {
                                self.report.unshared += 1;
                                self.report.unshared_ids.push(document_id);
                            }
                        }
                    }
                    Action::LoadFailed { .. } | Action::Ephemeral { .. } => {}
                }
            }
        }
        self.fetcher.send();
        self.flush()
    }

    /// Takes documents the workers read (and whatever else they have ready); once enough are
    /// waiting, or all that are on the way, stores them in one transaction and tells the engine,
    /// which fetches more as these leave its window.
    async fn stored(&mut self, ws: &mut Socket, first: fetcher::Done) -> Result<(), SyncError> {
        let more = self.fetcher.ready();
        for (id, read) in std::iter::once(first).chain(more).flatten() {
            match read {
                Ok(doc) => {
                    self.fetched_results.push((id, Ok(doc.heads().to_vec())));
                    self.fetched.push(doc);
                }
                Err(e) => self.fetched_results.push((id, Err(e))),
            }
        }
        let on_the_way = self
            .server
            .as_ref()
            .map_or(0, |server| self.engine.fetching(server));
        let waiting = self.fetched_results.len();
        if waiting < STORE_FETCHED_DOCS && waiting < on_the_way {
            return Ok(()); // more are coming: stored with them
        }
        let docs = std::mem::take(&mut self.fetched);
        let results = std::mem::take(&mut self.fetched_results);
        let merged = self.store.store_fetched(docs)?;
        if let Some(bar) = &self.bar {
            bar.inc(merged.created + merged.updated);
        }
        self.report.add(merged);
        // Committed: only now may anything we send count on having them.
        self.handle(ws, Event::Stored { documents: results }).await
    }

    /// Commits the pending incoming changes in one transaction.
    fn flush(&mut self) -> Result<(), SyncError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let engine = &self.engine;
        let merged = self
            .store
            .merge_batch(&self.pending, &|id| engine.document(id))?;
        self.pending.clear();
        // Committed: documents nothing is in flight for need not stay in memory.
        let mut gone = Vec::new();
        self.engine.unload_settled_into(&mut gone);
        self.dropper.free(gone);
        if let Some(bar) = &self.bar {
            bar.inc(merged.created + merged.updated);
        }
        self.report.add(merged);
        Ok(())
    }

    /// Saves the sync states for next time and leaves politely.
    async fn finish(mut self, ws: &mut Socket) -> Result<SyncReport, SyncError> {
        self.flush()?;
        if let Some(server) = &self.server {
            let states = self.engine.sync_states(server);
            self.store.save_sync_states(&self.states_key, &states)?;
        }
        if self.report.created + self.report.updated > 0 {
            // Fold what arrived into the stored summary now, so the next connect reads none of it.
            self.store.sync_summary()?;
        }
        let _gone = ws.close(None).await;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.report.millis = self.started.elapsed().as_millis() as u64;
        Ok(self.report)
    }
}
