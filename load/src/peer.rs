//! Raw protocol peers: joined over loopback WebSockets, reading and writing on their own tasks.

use anyhow::{bail, Context};
use automerge::sync::SyncDoc;
use automerge::AutoCommit;
use crm_shared::protocol::{self, Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Ws;

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) struct Peer {
    pub(crate) tx: SplitSink<Socket, Ws>,
    pub(crate) rx: SplitStream<Socket>,
    pub(crate) me: PeerId,
    pub(crate) server: PeerId,
}

impl Peer {
    pub(crate) async fn join(addr: SocketAddr, name: String) -> anyhow::Result<Peer> {
        // Small buffers: thousands of these live in this process.
        let config = WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/"),
            Some(config),
            true, // TCP_NODELAY, as browsers and the `ws` package do
        )
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
        let (mut tx, mut rx) = ws.split();
        let me = PeerId::try_from(name)?;
        let join = Message::Join {
            sender_id: me.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: Some(vec!["1".into()]),
        };
        tx.send(Ws::Binary(protocol::encode(&join).into())).await?;
        let server = match next_message(&mut rx).await? {
            (Message::Peer { sender_id, .. }, _) => sender_id,
            (other, _) => bail!("expected `peer`, got {other:?}"),
        };
        Ok(Peer { tx, rx, me, server })
    }

    pub(crate) async fn send_sync(
        &mut self,
        id: DocumentId,
        data: Vec<u8>,
        request: bool,
    ) -> anyhow::Result<()> {
        let (sender_id, target_id, document_id) = (self.me.clone(), self.server.clone(), id);
        let msg = Message::doc_sync(request, sender_id, target_id, document_id, data);
        self.tx
            .send(Ws::Binary(protocol::encode(&msg).into()))
            .await?;
        Ok(())
    }

    /// Syncs `doc` until `done`, answering the server.
    pub(crate) async fn sync_until(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
        state: &mut automerge::sync::State,
        request: bool,
        done: impl Fn(&AutoCommit, &automerge::sync::State) -> bool,
    ) -> anyhow::Result<()> {
        let mut request = request;
        if let Some(m) = doc.sync().generate_sync_message(state) {
            self.send_sync(id, m.encode(), request).await?;
            request = false;
        }
        while !done(doc, state) {
            let msg = tokio::time::timeout(Duration::from_secs(30), next_message(&mut self.rx))
                .await
                .context("no answer from the server in 30 s")??
                .0;
            match msg {
                Message::Sync {
                    document_id, data, ..
                } if document_id == id => {
                    let m = automerge::sync::Message::decode(&data)?;
                    doc.sync().receive_sync_message(state, m)?;
                    if let Some(m) = doc.sync().generate_sync_message(state) {
                        self.send_sync(id, m.encode(), request).await?;
                        request = false;
                    }
                }
                Message::DocUnavailable { .. } => bail!("the server says {id} is unavailable"),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The next protocol message and when its frame arrived.
pub(crate) async fn next_message(
    rx: &mut SplitStream<Socket>,
) -> anyhow::Result<(Message, Instant)> {
    loop {
        match rx.next().await {
            Some(Ok(Ws::Binary(b))) => {
                let at = Instant::now();
                return Ok((protocol::decode(&b)?, at));
            }
            Some(Ok(Ws::Close(frame))) => bail!("the server closed the connection: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the connection"),
        }
    }
}

/// Opens `n` joined peers, `batch` handshakes at a time.
pub(crate) async fn join_many(
    addr: SocketAddr,
    n: usize,
    prefix: &str,
) -> anyhow::Result<Vec<Peer>> {
    let mut peers = Vec::with_capacity(n);
    let batch = 100;
    for start in (0..n).step_by(batch) {
        let joins = (start..(start + batch).min(n))
            .map(|i| tokio::spawn(Peer::join(addr, format!("{prefix}-{i}"))));
        for j in joins.collect::<Vec<_>>() {
            peers.push(j.await??);
        }
    }
    Ok(peers)
}
