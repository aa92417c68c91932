//! The axum application: WebSocket upgrades on `/` and `/sync`, `/healthz`, `/metrics`.

use crate::access::{Access, BookPolicy};
use crate::auth::{Directory, Principal};
use crate::config::ServeArgs;
use crate::hub::{self, HubAccess, HubConfig, Input, Outgoing};
use crate::limits::{self, ChangeLimits, LimitCounters, TokenBucket};
use crate::metrics::Metrics;
use crate::storage::SqliteStorage;
use crate::storage::Storage;
use anyhow::Context;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::Query;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use crm_shared::engine::{Config, ConnectionId, Engine, Event};
use crm_shared::protocol::{PeerId, StorageId};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The name of the server's store file inside `--data-dir`.
pub const STORE_FILE: &str = "sync.sqlite3";

/// WebSocket read size per connection (see [`upgrade`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    hub: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    next_conn: Arc<AtomicU64>,
    args: Arc<ServeArgs>,
    access: Arc<Access>,
    directory: Arc<Mutex<Directory>>,
    limits: Arc<LimitCounters>,
    /// Open WebSocket connections per user (the `--max-connections-per-user` cap).
    user_conns: Arc<Mutex<HashMap<String, usize>>>,
    /// The storage id the server gives in `peerMetadata` (also answered by `/me`).
    storage_id: Arc<str>,
}

/// One user's WebSocket connection, counted while it lives.
struct UserSlot {
    user: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(n) = counts.get_mut(&self.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&self.user);
                }
            }
        }
    }
}

/// The routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(upgrade))
        .route("/sync", get(upgrade))
        .route("/me", get(me))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    state.limits.render(&mut text);
    state.access.render(&mut text);
    ([("content-type", "text/plain; version=0.0.4")], text)
}

/// The token of a request: `Authorization: Bearer T`, or `?token=T` for browsers.
fn request_token(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| query.get("token").cloned())
}

/// The principal of a request: `None` in open mode (no users yet), or the answer refusing it
/// (401 with the reason from [`crm_shared::protocol::token_refusal`] as its first line).
///
/// Open mode is decided here, not from a cached flag, so the first user added closes it at once.
#[allow(clippy::result_large_err)]
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<Principal>, Response> {
    let has_users = match state.directory.lock().map(|d| d.has_users()) {
        Ok(Ok(has)) => has,
        _ => return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    };
    if !has_users {
        return Ok(None);
    }
    state.access.set_open(false);
    let Some(token) = request_token(headers, query) else {
        Metrics::add(&state.metrics.connections_refused, 1);
        return Err((
            StatusCode::UNAUTHORIZED,
            "a token is required: `Authorization: Bearer TOKEN`\n",
        )
            .into_response());
    };
    // The principal, or why the token is no good (said to the client).
    let found = match state.directory.lock() {
        Ok(d) => d.authenticate(&token, unix_now()).map(|p| {
            p.ok_or_else(|| {
                d.refusal(&token, unix_now())
                    .unwrap_or(crm_shared::protocol::token_refusal::UNKNOWN)
            })
        }),
        Err(_) => return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    };
    match found {
        Ok(Ok(p)) => Ok(Some(p)),
        Ok(Err(why)) => {
            Metrics::add(&state.metrics.connections_refused, 1);
            Err((StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response())
        }
        Err(e) => {
            tracing::error!(cause = %e, "cannot check a token");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// `GET /me`: who the token belongs to and what they may do, so a client can choose its book
/// and refuse on the laptop what the server would refuse
/// ([`crm_shared::protocol::Grants`]).
async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let principal = match authenticate(&state, &headers, &query) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let books = match state.directory.lock().map(|d| d.books()) {
        Ok(Ok(books)) => books,
        Ok(Err(e)) => {
            tracing::error!(cause = %e, "cannot list the books");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let grants = match &principal {
        Some(p) => p.grants(&books, &state.storage_id),
        None => crate::auth::open_grants(&state.storage_id),
    };
    axum::Json(grants).into_response()
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // Authentication happens before the upgrade: no token, no WebSocket.
    let principal = match authenticate(&state, &headers, &query) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    if state.metrics.connections_open.load(Relaxed) >= state.args.max_connections as u64 {
        Metrics::add(&state.limits.max_connections, 1);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections: try again later\n",
        )
            .into_response();
    }
    let slot = match &principal {
        None => None,
        Some(p) => {
            let Ok(mut counts) = state.user_conns.lock() else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let n = counts.entry(p.user.clone()).or_insert(0);
            if *n >= state.args.max_connections_per_user {
                drop(counts);
                Metrics::add(&state.limits.per_user, 1);
                Metrics::add(&state.metrics.connections_refused, 1);
                tracing::info!(user = %p.user, "too many connections for one user: refusing one");
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many connections for user {} (at most {})\n",
                        p.user, state.args.max_connections_per_user
                    ),
                )
                    .into_response();
            }
            *n += 1;
            Some(UserSlot {
                user: p.user.clone(),
                counts: state.user_conns.clone(),
            })
        }
    };
    let limit = state.args.max_frame_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite zero-fills its read buffer before each read: at the default 128 KiB that
        // is 128 KiB of resident memory per idle connection, and 128 KiB written per small frame
        // (an acknowledgement is ~100 bytes). Bigger frames still arrive whole (the buffer grows
        // for them), in reads of this size.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(socket, state, principal, slot))
        .into_response()
}

/// Seconds since the epoch (token expiry and revocation times).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One WebSocket connection: frames in go to the hub, the hub's frames go out.
///
/// `slot` counts it against its user's `--max-connections-per-user` until the peer is gone (its
/// close or failure read), not until the writer has finished: a rep who syncs again at once must
/// not find the slot of the connection they just closed still taken.
async fn connection(
    socket: WebSocket,
    state: AppState,
    principal: Option<Principal>,
    slot: Option<UserSlot>,
) {
    let conn = ConnectionId(state.next_conn.fetch_add(1, Relaxed));
    state.access.connect(conn, principal);
    let (queue_tx, mut queue_rx) = mpsc::channel::<Outgoing>(state.args.send_queue);
    let metrics = state.metrics.clone();
    Metrics::add(&metrics.connections_total, 1);
    Metrics::add(&metrics.connections_open, 1);
    if state
        .hub
        .send(Input::Open {
            conn,
            queue: queue_tx,
        })
        .await
        .is_err()
        || state
            .hub
            .send(Input::Event(Event::Accepted { conn }))
            .await
            .is_err()
    {
        metrics.connections_open.fetch_sub(1, Relaxed);
        return;
    }
    let (mut sink, mut stream) = socket.split();
    let ping_every = Duration::from_secs((state.args.idle_timeout_secs / 3).max(1));
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(ping_every);
        ping.tick().await;
        loop {
            tokio::select! {
                out = queue_rx.recv() => match out {
                    Some(Outgoing::Frame(bytes)) => {
                        if sink.send(Message::Binary(bytes.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close { code, reason }) => {
                        let frame = CloseFrame { code, reason: reason.into() };
                        let _peer_may_be_gone = sink.send(Message::Close(Some(frame))).await;
                        break;
                    }
                    None => break,
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let idle = Duration::from_secs(state.args.idle_timeout_secs.max(1));
    let handshake = Duration::from_secs(state.args.handshake_timeout_secs.max(1));
    let handshake_deadline = Instant::now() + handshake;
    let mut joined = false;
    let change_limits = ChangeLimits {
        max_bytes: state.args.max_change_bytes,
        max_ops: state.args.max_change_ops,
    };
    let mut bucket = TokenBucket::new(
        state.args.rate_frames,
        state.args.rate_bytes,
        state.args.max_frame_bytes as u64,
        Instant::now(),
    );
    // One timer for the connection, moved on only when it fires: re-arming a timer for every
    // frame costs more than the rest of reading an acknowledgement.
    let mut last_frame = Instant::now();
    let deadline = tokio::time::sleep_until(handshake_deadline.into());
    tokio::pin!(deadline);
    loop {
        let next = tokio::select! {
            next = stream.next() => Some(next),
            () = &mut deadline => None,
        };
        let msg = match next {
            None => {
                let due = if joined {
                    last_frame + idle
                } else {
                    handshake_deadline
                };
                if due > Instant::now() {
                    deadline.as_mut().reset(due.into());
                    continue;
                }
                if !joined {
                    tracing::info!(conn = conn.0, "no join in time: closing");
                    Metrics::add(&state.limits.handshake_timeout, 1);
                    kick(&state, conn, limits::CLOSE_POLICY, "no join in time").await;
                } else {
                    tracing::info!(conn = conn.0, "closing an idle connection");
                }
                break;
            }
            Some(None) => break,
            Some(Some(Err(e))) => {
                tracing::info!(conn = conn.0, cause = %e, "connection failed");
                // A frame over --max-frame-bytes ("Space limit exceeded: Message too long"):
                // say so (1009). Anything else broke the WebSocket framing: 1002.
                let text = e.to_string();
                let (code, reason) = if text.contains("too long") || text.contains("limit") {
                    (limits::CLOSE_TOO_BIG, "frame too large")
                } else {
                    (1002, "bad WebSocket frame")
                };
                kick(&state, conn, code, reason).await;
                break;
            }
            Some(Some(Ok(msg))) => msg,
        };
        last_frame = Instant::now();
        match msg {
            Message::Binary(bytes) => {
                Metrics::add(&metrics.frames_in, 1);
                Metrics::add(&metrics.bytes_in, bytes.len() as u64);
                if let Some(pause) = bucket.take(bytes.len(), last_frame) {
                    // Over its rate: read nothing more from this peer for a while (its TCP
                    // window fills and it slows down); others are not affected.
                    Metrics::add(&state.limits.throttled, 1);
                    tokio::time::sleep(pause).await;
                }
                let event = match limits::admit(conn, &bytes, &change_limits) {
                    Ok((seen, event)) => {
                        joined |= seen.join;
                        state.limits.inflated_max.fetch_max(seen.inflated, Relaxed);
                        event
                    }
                    Err(violation) => {
                        let reason = violation.reason();
                        tracing::warn!(conn = conn.0, ?violation, "refusing a frame: closing");
                        state.limits.count(&violation);
                        kick(&state, conn, violation.close_code(), &reason).await;
                        break;
                    }
                };
                if state.hub.send(Input::Event(event)).await.is_err() {
                    break;
                }
            }
            Message::Text(_) => {
                tracing::info!(conn = conn.0, "text frame: closing");
                Metrics::add(&metrics.protocol_errors, 1);
                break;
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    drop(slot);
    let _hub_gone = state
        .hub
        .send(Input::Event(Event::Disconnected { conn }))
        .await;
    // The hub drops the queue on close; give the writer a moment to send a close frame, then
    // stop it (it holds the socket: a writer left running keeps a dead peer's socket open).
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    state.access.disconnect(conn);
    metrics.connections_open.fetch_sub(1, Relaxed);
}

/// Closes one connection through the hub (which sends the close frame and forgets the peer).
async fn kick(state: &AppState, conn: ConnectionId, code: u16, reason: &str) {
    let _hub_gone = state
        .hub
        .send(Input::Kick {
            conn,
            code,
            reason: reason.to_string(),
        })
        .await;
}

/// Runs the server on a bound listener until `shutdown` completes, then lets the hub finish its
/// round (everything acknowledged is committed) and close every connection.
pub async fn run(
    listener: TcpListener,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let lock = crate::backup::DataDirLock::acquire(&args.data_dir, "serve")?;
    run_locked(listener, args, shutdown, lock).await
}

/// [`run`] with the data dir lock already held (taken before binding, so that a second server
/// on the same data dir fails before it says it listens).
pub async fn run_locked(
    listener: TcpListener,
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    _lock: crate::backup::DataDirLock,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data dir {}", args.data_dir.display()))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let storage = SqliteStorage::open(&args.data_dir.join(STORE_FILE))?;
    let storage_id = storage_id(&args)?;
    let mut config = Config::new(PeerId::try_from(format!("crm-sync-{storage_id}"))?);
    config.storage_id = Some(StorageId::try_from(storage_id.clone())?);
    config.idle_unload_after_ms = args.idle_unload_secs * 1000;
    let store_path = args.data_dir.join(STORE_FILE);
    let directory = Directory::open(&store_path)?;
    let access = Arc::new(Access::new(!directory.has_users()?, directory.doc_books()?));
    if access.is_open() {
        tracing::warn!("no users yet: anyone may connect and sync; add a user (`crm-sync-server user add`) to require tokens");
    }
    backfill_books(&directory, &access, &store_path)?;
    let engine = Engine::with_policy(config, Box::new(BookPolicy(access.clone())));
    let metrics = Arc::new(Metrics::default());
    let (hub_tx, hub_rx) = mpsc::channel(4096);
    let hub_metrics = metrics.clone();
    let hub_access = HubAccess {
        access: access.clone(),
        directory: Directory::open(&store_path)?,
    };
    let hub_thread = std::thread::Builder::new()
        .name("hub".into())
        .spawn(move || {
            hub::run(
                engine,
                storage,
                hub_rx,
                hub_metrics,
                HubConfig::default(),
                hub_access,
            )
        })?;
    let directory = Arc::new(Mutex::new(directory));
    let watcher = tokio::spawn(watch_access(
        directory.clone(),
        access.clone(),
        hub_tx.clone(),
    ));
    let ticker = {
        let hub = hub_tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if hub.send(Input::Tick).await.is_err() {
                    break;
                }
            }
        })
    };
    let limit_counters = Arc::new(LimitCounters::default());
    let accept = crate::listen::Accept {
        tls,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs.max(1)),
        max_pending: args.max_pending_connections,
        max_pending_per_ip: args.max_pending_per_ip,
        counters: limit_counters.clone(),
    };
    let state = AppState {
        hub: hub_tx.clone(),
        metrics,
        next_conn: Arc::new(AtomicU64::new(1)),
        args: Arc::new(args),
        access,
        directory,
        limits: limit_counters,
        user_conns: Arc::new(Mutex::new(HashMap::new())),
        storage_id: storage_id.into(),
    };
    let tls_on = accept.tls.is_some();
    tracing::info!(addr = %listener.local_addr()?, tls = tls_on, "serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // (The accept loop sets TCP_NODELAY: frames are small and latency matters; without it, a
    // frame written while the previous one is unacknowledged waits for the peer's delayed ACK.)
    let serve = crate::listen::serve(listener, app(state), accept, stop_rx.clone());
    tokio::select! {
        _ = serve => {}
        _ = shutdown => { let _ = stop_tx.send(true); }
    }
    tracing::info!("shutting down");
    ticker.abort();
    watcher.abort();
    let _ = hub_tx.send(Input::Shutdown).await;
    drop(hub_tx);
    let joined = tokio::task::spawn_blocking(move || hub_thread.join()).await?;
    match joined {
        Ok(result) => result?,
        Err(_) => anyhow::bail!("the hub thread panicked"),
    }
    drop(stop_rx);
    Ok(())
}

/// The server's stable storage id, kept in the data dir so clients can keep sync states across
/// restarts.
fn storage_id(args: &ServeArgs) -> anyhow::Result<String> {
    let path = args.data_dir.join("storage-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return Ok(id);
        }
    }
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let id = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Every half second: applies grants and revocations to live connections (a revoked or expired
/// token's connections are closed; changed grants take effect), and leaves open mode once a
/// user exists.
async fn watch_access(
    directory: Arc<Mutex<Directory>>,
    access: Arc<Access>,
    hub: mpsc::Sender<Input>,
) {
    let mut every = tokio::time::interval(Duration::from_millis(500));
    loop {
        every.tick().await;
        let mut kicks = Vec::new();
        {
            let Ok(d) = directory.lock() else { return };
            let now = unix_now();
            if access.is_open() && d.has_users().unwrap_or(false) {
                tracing::info!("a user exists: tokens are required from now on");
                access.set_open(false);
                kicks.extend(access.anonymous_connections());
            }
            for (token, conn) in access.connections_by_token() {
                match d.principal_of_token(token, now) {
                    Ok(Some(p)) => access.refresh(conn, p),
                    Ok(None) => kicks.push(conn),
                    Err(e) => tracing::error!(cause = %e, "cannot check tokens"),
                }
            }
        }
        for conn in kicks {
            access.disconnect(conn);
            let kick = Input::Kick {
                conn,
                code: 1008,
                reason: "token revoked or expired".into(),
            };
            if hub.send(kick).await.is_err() {
                return;
            }
        }
    }
}

/// Records the book of stored documents that have none recorded (a crash between storing a
/// document and recording its book, or a store from before books).
fn backfill_books(
    directory: &Directory,
    access: &Access,
    storage: &std::path::Path,
) -> anyhow::Result<()> {
    let missing = directory.docs_without_book()?;
    if missing.is_empty() {
        return Ok(());
    }
    let mut store = SqliteStorage::open(storage)?;
    let mut found = Vec::new();
    for id in missing {
        if let Some(bytes) = store.load(&id)? {
            if let Ok(doc) = automerge::Automerge::load(&bytes) {
                if let Some(book) = crate::access::book_of_document(&doc) {
                    found.push((id, book));
                }
            }
        }
    }
    for (id, book) in &found {
        access.learn(*id, book.clone());
    }
    let mut d = Directory::open(storage)?;
    d.set_doc_books(&access.take_new_books())?;
    tracing::info!(
        documents = found.len(),
        "recorded the books of stored documents"
    );
    Ok(())
}
