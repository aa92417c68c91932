//! The task of one WebSocket connection: frames in are checked against the limits and handed
//! to the hub, the hub's frames go out, and the connection ends on a close, a failure, a broken
//! limit or silence.

use super::routes::{AppState, UserSlot};
use crate::close_code;
use crate::directory::Principal;
use crate::hub::{Input, Outgoing};
use crate::limits::{self, ChangeLimits, TokenBucket};
use crate::metrics::{Limit, Metrics};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use crm_shared::engine::{ConnectionId, Event};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One WebSocket connection: frames in go to the hub, the hub's frames go out.
///
/// `slot` counts it against its user's `--max-connections-per-user` until the peer is gone (its
/// close or failure read), not until the writer has finished: a rep who syncs again at once must
/// not find the slot of the connection they just closed still taken.
pub(super) async fn connection(
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
    metrics.connections_open.inc();
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
        metrics.connections_open.dec();
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
                    state.limits.refuse(Limit::HandshakeTimeout);
                    kick(&state, conn, close_code::POLICY, "no join in time").await;
                } else {
                    tracing::info!(conn = conn.0, "closing an idle connection");
                }
                break;
            }
            Some(None) => break,
            Some(Some(Err(e))) => {
                tracing::info!(conn = conn.0, cause = %e, "connection failed");
                let (code, reason) = read_failure(e);
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
                    state.limits.throttled.inc();
                    tokio::time::sleep(pause).await;
                }
                let event = match limits::admit(conn, &bytes, &change_limits) {
                    Ok((seen, event)) => {
                        joined |= seen.join;
                        state.limits.accepted(seen.inflated);
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
    metrics.connections_open.dec();
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

/// The close code and reason for a failed read: a frame over `--max-frame-bytes` (tungstenite's
/// capacity error) is said to be too large (1009); anything else broke the WebSocket framing
/// (1002).
fn read_failure(e: axum::Error) -> (u16, &'static str) {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => (close_code::TOO_BIG, "frame too large"),
        _ => (close_code::PROTOCOL_ERROR, "bad WebSocket frame"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{CapacityError, ProtocolError};

    #[test]
    fn a_frame_over_the_limit_is_told_apart_from_broken_framing_by_its_type() {
        let too_long = tungstenite::Error::Capacity(CapacityError::MessageTooLong {
            size: 10,
            max_size: 5,
        });
        assert_eq!(
            read_failure(axum::Error::new(too_long)).0,
            close_code::TOO_BIG
        );
        let broken = tungstenite::Error::Protocol(ProtocolError::NonZeroReservedBits);
        assert_eq!(
            read_failure(axum::Error::new(broken)).0,
            close_code::PROTOCOL_ERROR
        );
    }
}
