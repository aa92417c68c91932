//! `serve --tls-cert --tls-key`: a wss:// client that trusts the (self-signed, rcgen) certificate
//! joins and syncs; plain ws:// and a client that does not trust the certificate are refused, and
//! the server keeps serving.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::sync::SyncDoc;
use crm_shared::protocol::Message;
use crm_sync_server::config::ServeArgs;
use crm_tests::peer::Peer;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;

fn client_config(
    trusted: Option<&rustls::pki_types::CertificateDer<'static>>,
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(cert) = trusted {
        roots.add(cert.clone()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn wss(
    addr: std::net::SocketAddr,
    config: rustls::ClientConfig,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    String,
> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let url = format!("wss://localhost:{}/sync", addr.port());
    let (ws, _) = tokio_tungstenite::client_async(url, tls)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

#[tokio::test]
async fn a_wss_client_trusting_the_certificate_syncs_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).unwrap();
    let cert_der = certified.cert.der().clone();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut args = ServeArgs::new(addr, dir.path().join("data"));
    args.tls_cert = Some(cert_file);
    args.tls_key = Some(key_file);
    args.handshake_timeout_secs = 2;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crm_sync_server::server::run(listener, args, async move {
        let _ = stopped.await;
    }));

    // Plain WebSocket on the TLS port: no upgrade.
    let plain = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(format!("ws://{addr}/sync")),
    )
    .await
    .unwrap();
    assert!(plain.is_err());
    // A client that does not trust the certificate.
    let err = wss(addr, client_config(None)).await.unwrap_err();
    assert!(err.contains("certificate"), "{err}");

    // A client that trusts it: join, then upload a document and get it acknowledged.
    let ws = wss(addr, client_config(Some(&cert_der))).await.unwrap();
    let mut peer = Peer::join_on(ws, "tls-peer").await.expect("a joined peer");
    let mut doc = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "name", "Acme").unwrap();
    let mut state = automerge::sync::State::new();
    let msg = doc.sync().generate_sync_message(&mut state).unwrap();
    let id = crm_shared::DocumentId::from_random([3; 16]);
    assert!(peer.send(&peer.sync(id, msg.encode(), false)).await);
    let answered = peer.recv().await;
    assert!(
        matches!(answered, Message::Sync { document_id, .. } if document_id == id),
        "{answered:?}"
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
