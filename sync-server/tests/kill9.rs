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

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, ROOT};
use crm_shared::protocol::{self, Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Ws;

const ITERATIONS: usize = 6;
/// Documents the client streams at most.
const MAX_DOCS: usize = 24;

struct ServerProcess {
    child: Child,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    addr: String,
}

impl ServerProcess {
    fn start(data_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm-sync-server"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("CRM_SYNC_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start crm-sync-server");
        // Kept open: the server must never write to a closed pipe.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .to_string();
        ServerProcess {
            child,
            _stdout: stdout,
            addr,
        }
    }

    /// SIGKILL (std's `Child::kill` on Unix).
    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
    }

    fn reap(&mut self) {
        let status = self.child.wait().unwrap();
        assert!(
            !status.success(),
            "the server should have died of SIGKILL: {status}"
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(addr: &str, me: &PeerId) -> Option<(Socket, PeerId)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .ok()?;
    let join = Message::Join {
        sender_id: me.clone(),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: Some(vec!["1".into()]),
    };
    ws.send(Ws::Binary(protocol::encode(&join).into()))
        .await
        .ok()?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Ws::Binary(b)))) => match protocol::decode(&b).ok()? {
                Message::Peer { sender_id, .. } => return Some((ws, sender_id)),
                other => panic!("expected peer, got {other:?}"),
            },
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

fn sync_msg(me: &PeerId, server: &PeerId, id: DocumentId, data: Vec<u8>, request: bool) -> Ws {
    let (sender_id, target_id, document_id) = (me.clone(), server.clone(), id);
    let msg = Message::doc_sync(request, sender_id, target_id, document_id, data);
    Ws::Binary(protocol::encode(&msg).into())
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
    server: &mut ServerProcess,
    docs: &mut Vec<Local>,
    kill: KillAt,
    rng: &mut impl Rng,
) -> Stats {
    let me = PeerId::try_from(format!("writer-{}", rng.random::<u32>())).unwrap();
    let mut stats = Stats::default();
    let mut killed = false;
    let Some((mut ws, server_id)) = join(&server.addr, &me).await else {
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
                    if ws
                        .send(sync_msg(&me, &server_id, d.id, m.encode(), false))
                        .await
                        .is_err()
                    {
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
            let frame = match tokio::time::timeout(wait, ws.next()).await {
                Err(_) => break,
                Ok(Some(Ok(Ws::Binary(b)))) => b,
                Ok(Some(Ok(Ws::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => break 'outer,
                Ok(Some(Ok(_))) => continue,
            };
            wait = Duration::ZERO;
            stats.frames_received += 1;
            let Ok(Message::Sync {
                document_id, data, ..
            }) = protocol::decode(&frame)
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
                if ws
                    .send(sync_msg(&me, &server_id, d.id, m.encode(), false))
                    .await
                    .is_err()
                {
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
async fn fetch(
    ws: &mut Socket,
    me: &PeerId,
    server: &PeerId,
    id: DocumentId,
) -> Option<AutoCommit> {
    let mut doc = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let first = doc.sync().generate_sync_message(&mut state).unwrap();
    ws.send(sync_msg(me, server, id, first.encode(), true))
        .await
        .unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the restarted server did not answer")
            .expect("socket closed")
            .expect("socket error");
        let Ws::Binary(b) = frame else { continue };
        match protocol::decode(&b).unwrap() {
            Message::DocUnavailable { document_id, .. } if document_id == id => return None,
            Message::Sync {
                document_id, data, ..
            } if document_id == id => {
                let m = automerge::sync::Message::decode(&data).unwrap();
                doc.sync().receive_sync_message(&mut state, m).unwrap();
                if let Some(m) = doc.sync().generate_sync_message(&mut state) {
                    ws.send(sync_msg(me, server, id, m.encode(), false))
                        .await
                        .unwrap();
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
async fn verify(addr: &str, docs: &[Local], iteration: usize) -> (usize, usize) {
    let me = PeerId::try_from(format!("verifier-{iteration}")).unwrap();
    let (mut ws, server) = join(addr, &me).await.expect("join the restarted server");
    let (mut acked_docs, mut acked_changes) = (0, 0);
    for d in docs {
        let fetched = fetch(&mut ws, &me, &server, d.id).await;
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
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let mut rng = rand::rng();
    let mut docs: Vec<Local> = Vec::new();
    let mut server = ServerProcess::start(&data);
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
        server.reap();
        server = ServerProcess::start(&data);
        let (acked_docs, changes) = verify(&server.addr, &docs, iteration).await;
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
