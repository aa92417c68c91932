//! The server over real sockets: handshake, upload, fetch, bad frames, health and metrics.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_shared::protocol::{Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use crm_sync_server::config::ServeArgs;
use crm_tests::peer::{self, join, recv, send, Socket};
use futures_util::SinkExt;
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message as Ws;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let args = ServeArgs::new(addr, dir.path().to_path_buf());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crm_sync_server::server::run(listener, args, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

async fn connect(addr: SocketAddr, path: &str) -> Socket {
    peer::connect(&format!("ws://{addr}{path}")).await
}

#[tokio::test]
async fn a_document_uploaded_by_one_peer_is_fetched_by_another() {
    let server = start().await;
    let mut doc = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "name", "Acme").unwrap();
    let id = DocumentId::from_random([9; 16]);

    // Peer A uploads through `/`.
    let mut a = connect(server.addr, "/").await;
    send(&mut a, &join("peer-a")).await.unwrap();
    let Some(Ok(Message::Peer {
        sender_id: server_id,
        ..
    })) = recv(&mut a).await
    else {
        panic!("no peer message")
    };
    let mut state = automerge::sync::State::new();
    use automerge::sync::SyncDoc;
    for _ in 0..10 {
        if let Some(m) = doc.sync().generate_sync_message(&mut state) {
            send(
                &mut a,
                &Message::Sync {
                    sender_id: PeerId::try_from("peer-a".to_string()).unwrap(),
                    target_id: server_id.clone(),
                    document_id: id,
                    data: m.encode(),
                },
            )
            .await
            .unwrap();
        }
        match recv(&mut a).await {
            Some(Ok(Message::Sync { data, .. })) => {
                let m = automerge::sync::Message::decode(&data).unwrap();
                doc.sync().receive_sync_message(&mut state, m).unwrap();
            }
            other => panic!("unexpected {other:?}"),
        }
        if state.shared_heads == doc.get_heads() {
            break;
        }
    }
    assert_eq!(
        state.shared_heads,
        doc.get_heads(),
        "the server acknowledged the upload"
    );

    // Peer B fetches through `/sync`.
    let mut b = connect(server.addr, "/sync").await;
    send(&mut b, &join("peer-b")).await.unwrap();
    assert!(matches!(recv(&mut b).await, Some(Ok(Message::Peer { .. }))));
    let mut copy = automerge::AutoCommit::new();
    let mut bstate = automerge::sync::State::new();
    let first = copy.sync().generate_sync_message(&mut bstate).unwrap();
    send(
        &mut b,
        &Message::Request {
            sender_id: PeerId::try_from("peer-b".to_string()).unwrap(),
            target_id: server_id.clone(),
            document_id: id,
            data: first.encode(),
        },
    )
    .await
    .unwrap();
    let Some(Ok(Message::Sync { data, .. })) = recv(&mut b).await else {
        panic!("no sync")
    };
    copy.sync()
        .receive_sync_message(
            &mut bstate,
            automerge::sync::Message::decode(&data).unwrap(),
        )
        .unwrap();
    assert_eq!(copy.get_heads(), doc.get_heads());

    // An unknown document is unavailable.
    let mut empty = automerge::AutoCommit::new();
    let mut s = automerge::sync::State::new();
    let m = empty.sync().generate_sync_message(&mut s).unwrap();
    send(
        &mut b,
        &Message::Request {
            sender_id: PeerId::try_from("peer-b".to_string()).unwrap(),
            target_id: server_id,
            document_id: DocumentId::from_random([3; 16]),
            data: m.encode(),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        recv(&mut b).await,
        Some(Ok(Message::DocUnavailable { .. }))
    ));

    let mut server = server;
    let _ = server.stop.take().unwrap().send(());
    server.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn garbage_and_wrong_versions_close_only_that_connection() {
    let server = start().await;
    let mut good = connect(server.addr, "/").await;
    send(&mut good, &join("good")).await.unwrap();
    assert!(matches!(
        recv(&mut good).await,
        Some(Ok(Message::Peer { .. }))
    ));

    let mut bad = connect(server.addr, "/").await;
    bad.send(Ws::Binary(vec![0xff, 0x00, 0x13].into()))
        .await
        .unwrap();
    match recv(&mut bad).await {
        Some(Ok(Message::Error { .. })) | Some(Err(_)) | None => {}
        other => panic!("garbage was not refused: {other:?}"),
    }

    let mut old = connect(server.addr, "/").await;
    send(
        &mut old,
        &Message::Join {
            sender_id: PeerId::try_from("old".to_string()).unwrap(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: Some(vec!["0".into()]),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        recv(&mut old).await,
        Some(Ok(Message::Error { .. }))
    ));

    // The good connection still works: a second join on it is answered or ignored, never fatal to
    // the server; health and metrics answer.
    let body = http_get(server.addr, "/healthz").await;
    assert!(body.contains("ok"), "{body}");
    let metrics = http_get(server.addr, "/metrics").await;
    assert!(
        metrics.contains("crm_sync_connections_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("crm_sync_protocol_errors_total"),
        "{metrics}"
    );
    drop(good);
    let mut server = server;
    let _ = server.stop.take().unwrap().send(());
    server.task.await.unwrap().unwrap();
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
