//! A raw protocol peer: a WebSocket that speaks the sync protocol by hand, for tests that send
//! what `crm` never would (bad frames, bombs, floods) or watch the server's answers one by one.
//!
//! [`join`] builds the one `join` message every such peer opens with. [`Peer`] is the async
//! peer (tokio tests); [`blocking`] the same over a blocking socket.

use crm_shared::protocol::{self, Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;

/// How long a peer waits for the server before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A peer id from a test's name for it.
pub fn peer_id(name: &str) -> PeerId {
    PeerId::try_from(name.to_string()).expect("a valid peer id")
}

/// The `join` a peer named `name` opens with (protocol version 1, no metadata).
pub fn join(name: &str) -> Message {
    join_with(name, PeerMetadata::default())
}

/// The `join` of a peer named `name` that says `metadata` of itself.
pub fn join_with(name: &str, metadata: PeerMetadata) -> Message {
    Message::Join {
        sender_id: peer_id(name),
        peer_metadata: metadata,
        supported_protocol_versions: Some(vec!["1".into()]),
    }
}

/// A WebSocket over plain TCP.
pub type Socket = WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server said next: a message, or its close frame (code, reason).
pub type Next = Result<Message, (u16, String)>;

/// A joined peer: its socket, its id and the server's.
pub struct Peer<S = tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    pub ws: WebSocketStream<S>,
    pub me: PeerId,
    pub server: PeerId,
}

/// An open WebSocket to `url` (`ws://ADDR/sync`), not joined yet.
pub async fn connect(url: &str) -> Socket {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the server accepts a WebSocket");
    ws
}

impl Peer {
    /// Connects to `url` (`ws://ADDR/`) and joins as `name`; `None` when the server cannot be
    /// reached or does not answer with `peer`.
    pub async fn connect(url: &str, name: &str) -> Option<Peer> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
        Peer::join_on(ws, name).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    /// Joins as `name` on an open WebSocket (plain or TLS).
    pub async fn join_on(mut ws: WebSocketStream<S>, name: &str) -> Option<Peer<S>> {
        send(&mut ws, &join(name)).await.ok()?;
        match recv(&mut ws).await? {
            Ok(Message::Peer { sender_id, .. }) => Some(Peer {
                ws,
                me: peer_id(name),
                server: sender_id,
            }),
            other => panic!("expected peer, got {other:?}"),
        }
    }

    /// Sends one message; false when the socket is gone.
    pub async fn send(&mut self, message: &Message) -> bool {
        send(&mut self.ws, message).await.is_ok()
    }

    /// Sends sync data for a document (a `request` when we have nothing yet).
    pub async fn send_sync(&mut self, id: DocumentId, data: Vec<u8>, request: bool) -> bool {
        let message = self.sync(id, data, request);
        self.send(&message).await
    }

    /// The sync message for a document, from this peer to the server.
    pub fn sync(&self, id: DocumentId, data: Vec<u8>, request: bool) -> Message {
        Message::doc_sync(request, self.me.clone(), self.server.clone(), id, data)
    }

    /// The next message or close frame; `None` when the socket ends without one. Panics when the
    /// server says nothing for [`TIMEOUT`].
    pub async fn next(&mut self) -> Option<Next> {
        recv(&mut self.ws).await
    }

    /// The next message; panics on a close, an error or silence.
    pub async fn recv(&mut self) -> Message {
        match self.next().await {
            Some(Ok(message)) => message,
            other => panic!("expected a message from the server, got {other:?}"),
        }
    }
}

/// Sends one protocol message on `ws`.
pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    message: &Message,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Ws::Binary(protocol::encode(message).into())).await
}

/// The next protocol message or close frame on `ws`, skipping pings; `None` when the socket
/// ends. Panics after [`TIMEOUT`] of silence, or on a frame that does not decode.
pub async fn recv<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Option<Next> {
    loop {
        let next = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("timed out waiting for the server")?;
        match next {
            Ok(Ws::Binary(b)) => {
                return Some(Ok(protocol::decode(&b).expect("a frame that decodes")))
            }
            Ok(Ws::Close(Some(f))) => return Some(Err((f.code.into(), f.reason.to_string()))),
            Ok(Ws::Close(None)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The same peer over a blocking socket (tests that are not async).
pub mod blocking {
    use super::{join, Message, PeerId, TIMEOUT};
    use crm_shared::protocol;
    use std::net::TcpStream;
    use tokio_tungstenite::tungstenite::{self, Message as Ws};

    /// A blocking WebSocket over plain TCP.
    pub type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

    /// A WebSocket to `url` (`ws://ADDR/sync`) whose reads time out after twice [`TIMEOUT`]: a
    /// test never hangs.
    pub fn connect(url: &str) -> Socket {
        let (ws, _) = tungstenite::connect(url).expect("the server accepts a WebSocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(TIMEOUT * 2))
                .expect("a read timeout can be set");
        }
        ws
    }

    /// Connects to `url` and joins as `name`; returns the socket and the server's peer id.
    pub fn peer(url: &str, name: &str) -> (Socket, PeerId) {
        let mut ws = connect(url);
        send(&mut ws, &join(name));
        loop {
            match ws.read().expect("the server answers the join") {
                Ws::Binary(b) => match protocol::decode(&b).expect("a frame that decodes") {
                    Message::Peer { sender_id, .. } => return (ws, sender_id),
                    other => panic!("expected peer, got {other:?}"),
                },
                _ => continue,
            }
        }
    }

    /// Sends one protocol message.
    pub fn send(ws: &mut Socket, message: &Message) {
        ws.send(Ws::Binary(protocol::encode(message).into()))
            .expect("the message can be sent");
    }

    /// Reads until the server closes; returns the close code and reason (`None`: no close frame).
    pub fn closed(ws: &mut Socket) -> Option<(u16, String)> {
        loop {
            match ws.read() {
                Ok(Ws::Close(Some(f))) => return Some((f.code.into(), f.reason.to_string())),
                Ok(Ws::Close(None)) => return None,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}
