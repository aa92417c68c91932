//! Asking the server what the token may do: `GET /me` beside the sync path, with the same
//! `Authorization: Bearer` token, TCP and TLS as the WebSocket (see [`Grants`]).
//!
//! One HTTP/1.0 request on its own connection (the server answers with a length and closes),
//! read under the connect timeout; the answer is at most [`MAX_ANSWER`] bytes.

use super::connect::{bearer, http_refusal, transport};
use super::{endpoint, is_tls, SyncError};
use crate::session::CaCerts;
use crm_shared::protocol::{Grants, GRANTS_PATH};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long connecting, asking and reading the answer may take together.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of an answer read (a rep's grants are a few hundred).
const MAX_ANSWER: u64 = 1024 * 1024;

/// The grants endpoint for the sync URL `server`: `/me` beside its path (`ws://h:1` and
/// `ws://h:1/sync` ask `/me`, `wss://h/crm/sync` asks `/crm/me`).
pub fn grants_path(sync_url: &str) -> String {
    let path = sync_url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    format!("{dir}/{GRANTS_PATH}")
}

/// Asks `server` (a `ws://` or `wss://` URL) what `token` may do there.
pub fn fetch(server: &str, token: Option<&str>, ca_certs: &CaCerts) -> Result<Grants, SyncError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Socket(e.to_string()))?;
    let url = endpoint(server)?;
    runtime.block_on(async {
        match tokio::time::timeout(TIMEOUT, ask(server, &url, token, ca_certs)).await {
            Ok(answer) => answer,
            Err(_) => Err(SyncError::Connect {
                url: url.clone(),
                cause: "timed out".into(),
            }),
        }
    })
}

async fn ask(
    server: &str,
    url: &str,
    token: Option<&str>,
    ca_certs: &CaCerts,
) -> Result<Grants, SyncError> {
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or_default();
    let mut request = format!(
        "GET {} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n",
        grants_path(url)
    );
    if let Some(token) = token {
        let value = bearer(token)?;
        let value = value
            .to_str()
            .map_err(|e| SyncError::Socket(e.to_string()))?;
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    // A TLS server drops a plain request at once (or answers it with TLS bytes); so does a
    // busy server.
    let unanswered = |e: &dyn std::fmt::Display| SyncError::Connect {
        url: url.to_string(),
        cause: if is_tls(url) {
            format!("{e}: the server's answer is not HTTP (is it a sync server?)")
        } else {
            format!(
                "{e}: the server closed the connection without answering (busy, or it serves \
                 TLS: then use a wss:// URL)"
            )
        },
    };
    let broken = |e: std::io::Error| unanswered(&e);
    let mut stream = transport(server, url, ca_certs).await?;
    stream.write_all(request.as_bytes()).await.map_err(broken)?;
    stream.flush().await.map_err(broken)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .await
        .map_err(broken)?;
    let (status, body) = parse_answer(&answer).ok_or_else(|| unanswered(&"no HTTP answer"))?;
    if status != 200 {
        return Err(http_refusal(url, status, body));
    }
    serde_json::from_slice(body).map_err(|_| SyncError::NotSyncServer {
        url: url.to_string(),
        status,
    })
}

/// The status and body of an HTTP/1.x answer whose body runs to the end.
fn parse_answer(answer: &[u8]) -> Option<(u16, &[u8])> {
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(answer.get(..split)?).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some((status, answer.get(split + 4..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grants_endpoint_is_beside_the_sync_path() {
        assert_eq!(grants_path("ws://h:1/sync"), "/me");
        assert_eq!(grants_path("wss://h/crm/sync"), "/crm/me");
        assert_eq!(grants_path("ws://h:1/"), "/me");
        assert_eq!(grants_path("ws://h:1/sync?x=1"), "/me");
    }

    #[test]
    fn an_answer_is_read_as_status_and_body() {
        let ok = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_answer(ok), Some((200, &b"{}"[..])));
        let refused = b"HTTP/1.1 401 Unauthorized\r\n\r\nunknown token\n";
        assert_eq!(parse_answer(refused), Some((401, &b"unknown token\n"[..])));
        assert_eq!(parse_answer(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_answer(b""), None);
    }
}
