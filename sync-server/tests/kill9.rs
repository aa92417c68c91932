//! Durability under `kill -9`: whatever the server acknowledged survives a crash at any moment.
//!
//! The real `crm-sync-server` binary runs on one data dir. A raw-protocol client streams uploads
//! and edits of many documents (several in flight at once, so the server group-commits them, and
//! enough per document that compaction runs) and records every change the server acknowledged:
//! the heads of every sync message the server sent it (the server persists before it sends, so its
//! heads are a claim that they are on disk). At a random moment the server gets SIGKILL; the client
//! keeps reading until the socket dies (frames already on the wire count too). The server restarts
//! on the same data dir, a fresh peer fetches every document, and every acknowledged change must be
//! there. Then streaming resumes against the restarted server, for several iterations.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, ROOT};
use crm_shared::protocol::{self, Message};
use crm_shared::DocumentId;
use crm_tests::peer::Peer;
use crm_tests::SyncServer;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;

const ITERATIONS: usize = 6;
/// Documents the client streams at most.
const MAX_DOCS: usize = 24;

/// A protocol message as a WebSocket frame.
fn frame(message: &Message) -> Ws {
    Ws::Binary(protocol::encode(message).into())
}

/// One document of the writing client.
struct Local {
    id: DocumentId,
    doc: AutoCommit,
    state: automerge::sync::State,
    in_flight: bool,
    /// Every hash the server ever listed in its heads for this document.
    acked: BTreeSet<ChangeHash>,
    edits: u64,
}

impl Local {
    fn new(rng: &mut impl Rng) -> Self {
        let id = DocumentId::from_random(rng.random());
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "kind", "contact").unwrap();
        let notes = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.splice_text(&notes, 0, 0, "created").unwrap();
        doc.commit();
        Local {
            id,
            doc,
            state: automerge::sync::State::new(),
            in_flight: false,
            acked: BTreeSet::new(),
            edits: 0,
        }
    }

    fn edit(&mut self, rng: &mut impl Rng) {
        self.edits += 1;
        self.doc.put(ROOT, "edits", self.edits).unwrap();
        if rng.random_bool(0.3) {
            let (_, notes) = self.doc.get(ROOT, "notes").unwrap().unwrap();
            let len = self.doc.length(&notes);
            let text = format!(
                " edit {} {}",
                self.edits,
                "x".repeat(rng.random_range(0..200))
            );
            self.doc.splice_text(&notes, len, 0, &text).unwrap();
        }
        self.doc.commit();
    }
}

#[derive(Default, Debug)]
struct Stats {
    frames_sent: u64,
    frames_received: u64,
    edits: u64,
}

/// When to SIGKILL the server.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// At this moment, whatever the server is doing.
    Time(Instant),
    /// Right after this many frames from the server arrived: the server has just sent an
    /// acknowledgement, so a server that sent before committing would be caught in the act.
    Frame(u64),
}

/// Streams edits to the server until the socket dies; kills the server as `kill` says.
async fn stream(
    server: &mut SyncServer,
    docs: &mut Vec<Local>,
    kill: KillAt,
    rng: &mut impl Rng,
) -> Stats {
    let me = format!("writer-{}", rng.random::<u32>());
    let mut stats = Stats::default();
    let mut killed = false;
    let Some(mut peer) = Peer::connect(&server.url(), &me).await else {
        server.kill9();
        return stats;
    };
    // A fresh connection starts fresh sync sessions (the server keeps no state for a new peer).
    for d in docs.iter_mut() {
        d.state = automerge::sync::State::new();
        d.in_flight = false;
    }
    let give_up = Instant::now() + Duration::from_secs(20);
    'outer: loop {
        if let KillAt::Time(at) = kill {
            if !killed && Instant::now() >= at {
                server.kill9();
                killed = true;
            }
        }
        assert!(
            Instant::now() < give_up,
            "the socket did not die after SIGKILL"
        );
        if !killed {
            if docs.len() < MAX_DOCS && rng.random_bool(0.2) {
                docs.push(Local::new(rng));
            }
            for d in docs.iter_mut().filter(|d| !d.in_flight) {
                for _ in 0..rng.random_range(1..=3) {
                    d.edit(rng);
                    stats.edits += 1;
                }
                if let Some(m) = d.doc.sync().generate_sync_message(&mut d.state) {
                    let sync = peer.sync(d.id, m.encode(), false);
                    if peer.ws.send(frame(&sync)).await.is_err() {
                        break 'outer;
                    }
                    stats.frames_sent += 1;
                    d.in_flight = true;
                }
            }
        }
        // Read what is there (the writes above are pipelined across documents): wait a little
        // for the first frame, then take every frame already received.
        let mut wait = Duration::from_millis(20);
        loop {
            let bytes = match tokio::time::timeout(wait, peer.ws.next()).await {
                Err(_) => break,
                Ok(Some(Ok(Ws::Binary(b)))) => b,
                Ok(Some(Ok(Ws::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => break 'outer,
                Ok(Some(Ok(_))) => continue,
            };
            wait = Duration::ZERO;
            stats.frames_received += 1;
            let Ok(Message::Sync {
                document_id, data, ..
            }) = protocol::decode(&bytes)
            else {
                continue;
            };
            let Some(d) = docs.iter_mut().find(|d| d.id == document_id) else {
                panic!("a sync message for a document we never sent: {document_id}");
            };
            let m = automerge::sync::Message::decode(&data).unwrap();
            d.acked.extend(m.heads.iter().copied());
            d.doc.sync().receive_sync_message(&mut d.state, m).unwrap();
            d.in_flight = false;
            if let KillAt::Frame(n) = kill {
                if !killed && stats.frames_received >= n {
                    server.kill9();
                    killed = true;
                }
            }
            if killed {
                continue;
            }
            if let Some(m) = d.doc.sync().generate_sync_message(&mut d.state) {
                let sync = peer.sync(d.id, m.encode(), false);
                if peer.ws.send(frame(&sync)).await.is_err() {
                    break 'outer;
                }
                stats.frames_sent += 1;
                d.in_flight = true;
            }
        }
    }
    if !killed {
        server.kill9();
    }
    stats
}

/// A fresh peer fetches `id` completely; `None` if the server does not have it.
async fn fetch(peer: &mut Peer, id: DocumentId) -> Option<AutoCommit> {
    let mut doc = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let first = doc.sync().generate_sync_message(&mut state).unwrap();
    assert!(peer.send(&peer.sync(id, first.encode(), true)).await);
    loop {
        match peer.recv().await {
            Message::DocUnavailable { document_id, .. } if document_id == id => return None,
            Message::Sync {
                document_id, data, ..
            } if document_id == id => {
                let m = automerge::sync::Message::decode(&data).unwrap();
                doc.sync().receive_sync_message(&mut state, m).unwrap();
                if let Some(m) = doc.sync().generate_sync_message(&mut state) {
                    assert!(peer.send(&peer.sync(id, m.encode(), false)).await);
                }
                // Converged: we have every head the server says it has.
                if state.their_heads.as_deref() == Some(doc.get_heads().as_slice()) {
                    return Some(doc);
                }
            }
            _ => {}
        }
    }
}

/// Every acknowledged change of every document is on the restarted server.
async fn verify(url: &str, docs: &[Local], iteration: usize) -> (usize, usize) {
    let mut peer = Peer::connect(url, &format!("verifier-{iteration}"))
        .await
        .expect("join the restarted server");
    let (mut acked_docs, mut acked_changes) = (0, 0);
    for d in docs {
        let fetched = fetch(&mut peer, d.id).await;
        if d.acked.is_empty() {
            continue; // never acknowledged: the server may or may not have it
        }
        let Some(mut fetched) = fetched else {
            panic!(
                "iteration {iteration}: {} was acknowledged ({} heads) but is unavailable after kill -9",
                d.id,
                d.acked.len()
            );
        };
        let missing: Vec<&ChangeHash> = d
            .acked
            .iter()
            .filter(|h| fetched.get_change_by_hash(h).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "iteration {iteration}: {} lost acknowledged changes after kill -9: {missing:?}",
            d.id
        );
        // Whatever the server has is what we wrote (no foreign or damaged data).
        for h in fetched.get_heads() {
            assert!(d.doc.get_change_by_hash(&h).is_some());
        }
        acked_docs += 1;
        acked_changes += fetched.get_changes(&[]).len();
    }
    (acked_docs, acked_changes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_at_random_moments() {
    let mut rng = rand::rng();
    let mut docs: Vec<Local> = Vec::new();
    let mut server = SyncServer::start();
    let started = Instant::now();
    for iteration in 0..ITERATIONS {
        // Mostly mid-stream; sometimes right after the handshake; sometimes after a compaction
        // tick (the server compacts documents with >= 32 chunks once a second); every other
        // iteration right after an acknowledgement arrived.
        let now = Instant::now();
        let kill = match (iteration % 2, rng.random_range(0..4)) {
            (1, _) => KillAt::Frame(rng.random_range(1..300)),
            (_, 0) => KillAt::Time(now + Duration::from_millis(rng.random_range(0..30))),
            (_, 1) => KillAt::Time(now + Duration::from_millis(rng.random_range(1000..1600))),
            _ => KillAt::Time(now + Duration::from_millis(rng.random_range(30..1000))),
        };
        let stats = stream(&mut server, &mut docs, kill, &mut rng).await;
        let url = server.restart();
        let (acked_docs, changes) = verify(&url, &docs, iteration).await;
        eprintln!(
            "iteration {iteration}: SIGKILL {:?}; {stats:?}; {acked_docs}/{} documents acknowledged, {changes} changes verified",
            match kill {
                KillAt::Time(at) => format!("after {:?}", at - now),
                KillAt::Frame(n) => format!("after frame {n}"),
            },
            docs.len()
        );
    }
    assert!(
        docs.iter().any(|d| !d.acked.is_empty()),
        "the server never acknowledged anything: the test proved nothing"
    );
    eprintln!("{ITERATIONS} kill -9 iterations in {:?}", started.elapsed());
}
