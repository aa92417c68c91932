//! The HTTP routes: WebSocket upgrades on `/` and `/sync` (authenticated, counted against the
//! connection caps), `/me`, `/healthz` and `/metrics`.

use super::connection::connection;
use crate::access::Access;
use crate::config::ServeArgs;
use crate::directory::{unix_now, Directory, Principal};
use crate::hub::Input;
use crate::limits::LimitCounters;
use crate::metrics::{Exposition, Limit, Metrics, CONTENT_TYPE};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::Query;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// WebSocket read size per connection (see [`upgrade`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(super) hub: mpsc::Sender<Input>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) next_conn: Arc<AtomicU64>,
    pub(super) args: Arc<ServeArgs>,
    pub(super) access: Arc<Access>,
    pub(super) directory: Arc<Mutex<Directory>>,
    pub(super) limits: Arc<LimitCounters>,
    /// What `/metrics` shows.
    pub(super) exposition: Arc<Exposition>,
    /// Open WebSocket connections per user (the `--max-connections-per-user` cap).
    pub(super) user_conns: Arc<Mutex<HashMap<String, usize>>>,
    /// The storage id the server gives in `peerMetadata` (also answered by `/me`).
    pub(super) storage_id: Arc<str>,
}

/// One user's WebSocket connection, counted while it lives.
pub(super) struct UserSlot {
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
    ([("content-type", CONTENT_TYPE)], state.exposition.render())
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
        None => crate::directory::open_grants(&state.storage_id),
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
    if state.metrics.connections_open.get()
        >= i64::try_from(state.args.max_connections).unwrap_or(i64::MAX)
    {
        state.limits.refuse(Limit::MaxConnections);
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
                state.limits.refuse(Limit::ConnectionsPerUser);
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
