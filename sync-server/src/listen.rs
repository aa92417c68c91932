//! The accept loop: plain TCP or TLS, HTTP/1.1 with upgrades, and limits on connections that
//! have not become WebSockets yet (a flood of half-open connections): at most
//! `--max-pending-connections` of them, and each must finish its TLS handshake and send its
//! request headers within `--handshake-timeout-secs`.

use crate::limits::LimitCounters;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How connections are accepted.
pub struct Accept {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub handshake_timeout: Duration,
    pub max_pending: usize,
    pub counters: Arc<LimitCounters>,
}

/// Accepts connections until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    accept: Accept,
    mut stop: watch::Receiver<bool>,
) {
    let pending = Arc::new(Semaphore::new(accept.max_pending.max(1)));
    let accept = Arc::new(accept);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a little,
                    // never spin, never stop serving.
                    tracing::warn!(cause = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            accept.counters.pending_connections.fetch_add(1, Relaxed);
            tracing::debug!(%peer, "too many pending connections: dropping one");
            drop(tcp);
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(cause = %e, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let accept = accept.clone();
        tokio::spawn(async move {
            match &accept.tls {
                None => {
                    // A peer that connects and says nothing: closed after the handshake timeout
                    // (hyper's header timeout starts with the first byte).
                    let mut first = [0u8; 1];
                    match tokio::time::timeout(accept.handshake_timeout, tcp.peek(&mut first)).await
                    {
                        Ok(Ok(n)) if n > 0 => http(tcp, router, &accept, permit).await,
                        Ok(_) => {}
                        Err(_) => {
                            accept.counters.handshake_timeout.fetch_add(1, Relaxed);
                            tracing::debug!(%peer, "nothing received in time: closing");
                        }
                    }
                }
                Some(tls) => {
                    match tokio::time::timeout(accept.handshake_timeout, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => http(stream, router, &accept, permit).await,
                        Ok(Err(e)) => {
                            accept.counters.tls_handshake_failed.fetch_add(1, Relaxed);
                            tracing::debug!(%peer, cause = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            accept.counters.handshake_timeout.fetch_add(1, Relaxed);
                            tracing::debug!(%peer, "TLS handshake timed out");
                        }
                    }
                }
            }
        });
    }
}

/// HTTP/1.1 on one connection. The pending permit is held until the request headers arrived
/// (the connection then either upgrades and counts as a WebSocket, or is a short request).
async fn http<I>(io: I, router: Router, accept: &Accept, permit: tokio::sync::OwnedSemaphorePermit)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(accept.handshake_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        if e.is_timeout() {
            accept.counters.handshake_timeout.fetch_add(1, Relaxed);
        }
        tracing::debug!(cause = %e, "HTTP connection ended");
    }
    drop(permit);
}
