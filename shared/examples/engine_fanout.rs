//! The sync engine alone, fanning one writer's edits out to K subscribers, in one process: the
//! engine's share of the server's CPU per edit, without sockets, threads or storage (which
//! `crm-sync-load fanout` measures with them). Deterministic work, so two builds compare well.
//!
//! `cargo run --release -p crm-shared --example engine_fanout -- [PEERS] [EDITS]`
//!
//! Timed: the server engine's `handle` calls, decoding the frames it receives and encoding the
//! ones it sends (what the server's hub and connection tasks do around the engine). Not timed:
//! the subscribers, real automerge documents with their own sync states that apply every change
//! and answer as automerge-repo does.

// A measuring tool run by a developer: a panic is its error report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use crm_shared::engine::{Action, Config, ConnectionId, Engine, Event, Timestamp};
use crm_shared::protocol::{self, Message, PeerId, PeerMetadata};
use crm_shared::DocumentId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

struct Subscriber {
    id: PeerId,
    conn: ConnectionId,
    doc: AutoCommit,
    state: automerge::sync::State,
}

struct Bench {
    server: Engine,
    server_id: PeerId,
    subs: Vec<Subscriber>,
    doc_id: DocumentId,
    timed: Duration,
    now: u64,
    /// Frames from subscribers to the server, in arrival order, with their connection.
    inbox: VecDeque<(ConnectionId, Vec<u8>)>,
}

fn peer(name: String) -> PeerId {
    PeerId::try_from(name).expect("a valid peer id")
}

impl Bench {
    /// The server handles one frame; its outgoing frames are delivered to the subscribers, whose
    /// answers queue up in the inbox.
    fn deliver(&mut self, conn: ConnectionId, bytes: Vec<u8>) {
        self.now += 1;
        let t = Instant::now();
        let message = protocol::decode(&bytes).expect("a frame the engine can read");
        let mut events = VecDeque::from([Event::Message { conn, message }]);
        let mut frames = Vec::new();
        while let Some(event) = events.pop_front() {
            for action in self.server.handle(Timestamp(self.now), event) {
                match action {
                    Action::Send { conn, message } => {
                        frames.push((conn, protocol::encode(&message)))
                    }
                    // Only the first request loads the record (nothing stored: a new one); it
                    // stays loaded while peers follow it.
                    Action::Load { documents } => events.push_back(Event::Loaded {
                        documents: documents.into_iter().map(|id| (id, None)).collect(),
                    }),
                    _ => {}
                }
            }
        }
        self.timed += t.elapsed();
        for (conn, frame) in frames {
            self.deliver_to_subscriber(conn, &frame);
        }
    }

    fn deliver_to_subscriber(&mut self, conn: ConnectionId, frame: &[u8]) {
        let Some(sub) = self.subs.iter_mut().find(|s| s.conn == conn) else {
            return;
        };
        let Ok(message) = protocol::decode(frame) else {
            panic!("the server sent a frame that does not decode")
        };
        let data = match message {
            Message::Sync { data, .. } | Message::Request { data, .. } => data,
            _ => return,
        };
        let m = automerge::sync::Message::decode(&data).expect("a sync message");
        sub.doc
            .sync()
            .receive_sync_message(&mut sub.state, m)
            .expect("applies");
        if let Some(reply) = sub.doc.sync().generate_sync_message(&mut sub.state) {
            let frame = protocol::encode(&Message::Sync {
                sender_id: sub.id.clone(),
                target_id: self.server_id.clone(),
                document_id: self.doc_id,
                data: reply.encode(),
            });
            self.inbox.push_back((conn, frame));
        }
    }

    fn drain(&mut self) {
        while let Some((conn, frame)) = self.inbox.pop_front() {
            self.deliver(conn, frame);
        }
    }

    /// Subscriber `i` sends what its sync state says the server lacks.
    fn push_from(&mut self, i: usize, request: bool) {
        let sub = &mut self.subs[i];
        let Some(m) = sub.doc.sync().generate_sync_message(&mut sub.state) else {
            return;
        };
        let (sender_id, target_id, document_id) =
            (sub.id.clone(), self.server_id.clone(), self.doc_id);
        let data = m.encode();
        let message = Message::doc_sync(request, sender_id, target_id, document_id, data);
        let conn = sub.conn;
        self.deliver(conn, protocol::encode(&message));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let peers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let edits: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let server_id = peer("bench-server".into());
    let mut config = Config::new(server_id.clone());
    config.batch = false;
    let mut bench = Bench {
        server: Engine::new(config),
        server_id,
        subs: Vec::new(),
        doc_id: DocumentId::from_random([7; 16]),
        timed: Duration::ZERO,
        now: 0,
        inbox: VecDeque::new(),
    };
    // The writer (subscriber 0) creates the record; everyone joins and syncs it.
    for i in 0..=peers {
        let conn = ConnectionId(i as u64 + 1);
        let id = peer(format!("peer-{i:04}-bench"));
        bench.server.handle(Timestamp(0), Event::Accepted { conn });
        let join = protocol::encode(&Message::Join {
            sender_id: id.clone(),
            peer_metadata: PeerMetadata::default(),
            supported_protocol_versions: Some(vec!["1".into()]),
        });
        let mut doc = AutoCommit::new();
        if i == 0 {
            doc.put(ROOT, "name", "Acme Corp").expect("put");
        }
        bench.subs.push(Subscriber {
            id,
            conn,
            doc,
            state: automerge::sync::State::new(),
        });
        bench.deliver(conn, join);
        bench.push_from(i, i > 0);
        bench.drain();
    }
    let warm_up = bench.timed;
    bench.timed = Duration::ZERO;
    let t = Instant::now();
    // Per-edit figures of batches of edits: their median is steadier than the mean on a busy
    // machine.
    let batch = (edits / 20).max(1);
    let mut batches = Vec::new();
    let mut before = Duration::ZERO;
    for n in 0..edits {
        bench.subs[0]
            .doc
            .put(ROOT, "amount", n as i64)
            .expect("put");
        bench.push_from(0, false);
        bench.drain();
        if (n + 1) % batch == 0 {
            batches.push((bench.timed - before).as_secs_f64() * 1e3 / batch as f64);
            before = bench.timed;
        }
    }
    let wall = t.elapsed();
    batches.sort_by(f64::total_cmp);
    let median = batches.get(batches.len() / 2).copied().unwrap_or(0.0);
    let heads = bench.subs[0].doc.get_heads();
    let behind = bench
        .subs
        .iter_mut()
        .map(|s| s.doc.get_heads())
        .filter(|h| *h != heads)
        .count();
    assert_eq!(behind, 0, "every subscriber has every edit");
    println!(
        "engine fan-out: {peers} subscribers, {edits} edits: {:.3} ms of engine work per edit \
         (median of batches of {batch}: {median:.3} ms, {:.2} µs per subscriber), joining took \
         {:.1} ms, the whole run {:.1} s",
        bench.timed.as_secs_f64() * 1e3 / edits as f64,
        median * 1e3 / peers as f64,
        warm_up.as_secs_f64() * 1e3,
        wall.as_secs_f64()
    );
}
