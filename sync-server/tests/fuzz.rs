//! Fuzzing, bounded for CI: random and mutated frames through the real path of an incoming frame
//! (the connection's limit check, then the hub: access screening, the engine, storage), on one
//! hub for the whole run. Nothing may panic or stop the hub, and after every case a well-behaved
//! peer still joins and gets its document acknowledged. `PROPTEST_CASES` runs more.
//! Crashers found become the regression cases at the bottom.

// A test may unwrap: a panic is its failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_shared::engine::{Config, ConnectionId, Engine, Event};
use crm_shared::protocol::{self, BatchItem, BatchKind, Message, PeerMetadata};
use crm_shared::DocumentId;
use crm_sync_server::access::{Access, BookPolicy};
use crm_sync_server::directory::Directory;
use crm_sync_server::hub::{self, HubAccess, HubConfig, Input, Outgoing};
use crm_sync_server::limits::{self, ChangeLimits};
use crm_sync_server::metrics::Metrics;
use crm_sync_server::storage::SqliteStorage;
use crm_tests::bomb;
use crm_tests::peer::{self, peer_id};
use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

const LIMITS: ChangeLimits = ChangeLimits {
    max_bytes: 4 << 20,
    max_ops: 100_000,
};

struct Hub {
    tx: mpsc::Sender<Input>,
    next: AtomicU64,
    _dir: tempfile::TempDir,
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("sync.sqlite3");
        let storage = SqliteStorage::open(&store).unwrap();
        let directory = Directory::open(&store).unwrap();
        let access = Arc::new(Access::new(true, directory.doc_books().unwrap()));
        let mut config = Config::new(peer_id("fuzz-server"));
        config.storage_id = None;
        let engine = Engine::with_policy(config, Box::new(BookPolicy(access.clone())));
        let (tx, rx) = mpsc::channel(1024);
        let hub_access = HubAccess {
            access: access.clone(),
            directory: Directory::open(&store).unwrap(),
        };
        std::thread::spawn(move || {
            hub::run(
                engine,
                storage,
                rx,
                Arc::new(Metrics::default()),
                HubConfig::default(),
                hub_access,
            )
        });
        ACCESS.set(access).ok();
        Hub {
            tx,
            next: AtomicU64::new(1),
            _dir: dir,
        }
    })
}

static ACCESS: OnceLock<Arc<Access>> = OnceLock::new();

/// Opens a connection on the hub; returns it and its outgoing queue.
fn open() -> (ConnectionId, mpsc::Receiver<Outgoing>) {
    let hub = hub();
    let conn = ConnectionId(hub.next.fetch_add(1, Relaxed));
    ACCESS.get().unwrap().connect(conn, None);
    let (queue, rx) = mpsc::channel(4096);
    hub.tx.blocking_send(Input::Open { conn, queue }).unwrap();
    hub.tx
        .blocking_send(Input::Event(Event::Accepted { conn }))
        .unwrap();
    (conn, rx)
}

/// What the server's connection task does with a frame: the limit check, then the hub.
fn deliver(conn: ConnectionId, frame: Vec<u8>) -> bool {
    match limits::admit(conn, &frame, &LIMITS) {
        Ok((_, event)) => {
            hub().tx.blocking_send(Input::Event(event)).unwrap();
            true
        }
        Err(v) => {
            hub()
                .tx
                .blocking_send(Input::Kick {
                    conn,
                    code: v.close_code(),
                    reason: v.reason(),
                })
                .unwrap();
            false
        }
    }
}

fn close(conn: ConnectionId) {
    hub()
        .tx
        .blocking_send(Input::Event(Event::Disconnected { conn }))
        .unwrap();
    ACCESS.get().unwrap().disconnect(conn);
}

fn join(name: &str) -> Vec<u8> {
    let metadata = PeerMetadata {
        crm_batch: Some(1),
        ..PeerMetadata::default()
    };
    protocol::encode(&peer::join_with(name, metadata))
}

fn sync_data(text: &str) -> Vec<u8> {
    let mut doc = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "name", text).unwrap();
    let mut state = automerge::sync::State::new();
    let msg = automerge::sync::SyncDoc::generate_sync_message(&doc.sync(), &mut state);
    msg.unwrap().encode()
}

/// Valid frames of every kind, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let me = peer_id("fuzzer");
    let server = peer_id("fuzz-server");
    let id = DocumentId::from_random([5; 16]);
    vec![
        join("fuzzer"),
        protocol::encode(&Message::Sync {
            sender_id: me.clone(),
            target_id: server.clone(),
            document_id: id,
            data: sync_data("Acme"),
        }),
        protocol::encode(&Message::Request {
            sender_id: me.clone(),
            target_id: server.clone(),
            document_id: DocumentId::from_random([6; 16]),
            data: sync_data(""),
        }),
        protocol::encode(&Message::CrmBatch {
            sender_id: me.clone(),
            target_id: server.clone(),
            items: vec![
                BatchItem {
                    kind: BatchKind::Sync,
                    document_id: DocumentId::from_random([7; 16]),
                    data: sync_data("Batch"),
                },
                BatchItem {
                    kind: BatchKind::DocUnavailable,
                    document_id: id,
                    data: Vec::new(),
                },
            ],
        }),
        protocol::encode(&Message::Sync {
            sender_id: me.clone(),
            target_id: server.clone(),
            document_id: DocumentId::from_random([8; 16]),
            data: bomb::sync_message("notes", 1 << 16),
        }),
        protocol::encode(&Message::Leave { sender_id: me }),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutate(mut frame: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = frame.len().max(1);
        match m {
            Mutation::Flip(at, x) => {
                if !frame.is_empty() {
                    frame[at % len] ^= x | 1;
                }
            }
            Mutation::Truncate(at) => frame.truncate(at % len),
            Mutation::Insert(at, bytes) => {
                let at = at % (frame.len() + 1);
                frame.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove(at, n) => {
                let at = at % len;
                let end = (at + n).min(frame.len());
                if at < end {
                    frame.drain(at..end);
                }
            }
        }
    }
    frame
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Mutation::Flip(a, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), 1usize..32).prop_map(|(a, n)| Mutation::Remove(a, n)),
    ]
}

/// A frame: random bytes, or a seed with mutations.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let n = seeds().len();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (0..n, prop::collection::vec(mutation(), 1..6))
            .prop_map(|(i, m)| mutate(seeds()[i].clone(), &m)),
    ]
}

/// Waits for the next outgoing frame or close of a connection.
fn next(rx: &mut mpsc::Receiver<Outgoing>) -> Option<Outgoing> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match rx.try_recv() {
            Ok(o) => return Some(o),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the hub stopped answering"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// A well-behaved peer still joins and gets its document answered.
fn good_peer_still_served(n: u64) {
    let (conn, mut rx) = open();
    let name = format!("good-{n}");
    assert!(deliver(conn, join(&name)));
    match next(&mut rx) {
        Some(Outgoing::Frame(b)) => {
            assert!(matches!(protocol::decode(&b), Ok(Message::Peer { .. })))
        }
        other => panic!("no peer message: {other:?}"),
    }
    let sync = protocol::encode(&Message::Sync {
        sender_id: peer_id(&name),
        target_id: peer_id("fuzz-server"),
        document_id: DocumentId::from_random({
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&n.to_le_bytes());
            b[15] = 0xee;
            b
        }),
        data: sync_data("still here"),
    });
    assert!(deliver(conn, sync));
    match next(&mut rx) {
        Some(Outgoing::Frame(b)) => assert!(protocol::decode(&b).is_ok()),
        other => panic!("no answer to a sync: {other:?}"),
    }
    close(conn);
}

fn run_case(frames: Vec<Vec<u8>>, joined_first: bool) {
    let (conn, mut rx) = open();
    if joined_first {
        deliver(conn, join("fuzzer"));
    }
    for f in frames {
        if !deliver(conn, f) {
            break;
        }
    }
    close(conn);
    // Drain what was sent (the hub must not block on it).
    while let Ok(_out) = rx.try_recv() {}
}

static CASE: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_and_mutated_frames_never_break_the_server(
        frames in prop::collection::vec(frame(), 1..6),
        joined_first in any::<bool>(),
    ) {
        run_case(frames, joined_first);
        let n = CASE.fetch_add(1, Relaxed);
        if n.is_multiple_of(16) {
            good_peer_still_served(n);
        }
    }

    #[test]
    fn the_frame_decoder_and_limit_check_never_panic(frame in frame()) {
        let _ = protocol::decode(&frame);
        let _ = limits::admit(ConnectionId(1), &frame, &LIMITS);
        let _ = limits::check_changes(&frame, &LIMITS);
    }
}

#[test]
fn regressions_and_the_bomb_through_the_hub() {
    // The bomb is refused by the limit check, before the hub.
    let (conn, _rx) = open();
    assert!(deliver(conn, join("bomber")));
    let bomb = protocol::encode(&Message::Sync {
        sender_id: peer_id("bomber"),
        target_id: peer_id("fuzz-server"),
        document_id: DocumentId::from_random([9; 16]),
        data: bomb::sync_message("notes", 8 << 20),
    });
    assert!(!deliver(conn, bomb));
    close(conn);
    good_peer_still_served(u64::MAX);
}
