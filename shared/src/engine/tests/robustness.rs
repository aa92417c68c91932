//! Property: no frame a peer can send makes the engine panic, and the engine stays usable.

use proptest::prelude::*;

use super::network::{doc_id, peer, Net};
use crate::engine::{Config, ConnectionId, Engine, Event, Timestamp};
use crate::protocol::{self, Message};

/// Frames real peers sent to a server in a short session (plain and extension clients).
fn recorded_frames() -> &'static [Vec<u8>] {
    static FRAMES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    FRAMES.get_or_init(record)
}

fn record() -> Vec<Vec<u8>> {
    let mut net = Net::new();
    let mut sc = Config::new(peer("server"));
    sc.storage_id = Some("server-storage".parse().unwrap());
    let s = net.add(sc);
    let mut plain = Config::new(peer("plain"));
    plain.batch = false;
    let p = net.add(plain);
    let c = net.add(Config::new(peer("ours")));
    for (i, n) in [p, c].into_iter().enumerate() {
        for d in 0..3 {
            net.put(n, doc_id(d + 10 * i as u8), "k", "v");
        }
    }
    net.connect(p, s, "server-storage");
    net.connect(c, s, "server-storage");
    net.run_until_quiescent(200);
    net.event(
        p,
        Event::Want {
            document_id: doc_id(99),
        },
    );
    net.run_until_quiescent(200);
    net.sent
        .iter()
        .filter(|x| x.to == s)
        .map(|x| protocol::encode(&x.message))
        .collect()
}

fn mutate(mut f: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, byte, op) in edits {
        if f.is_empty() {
            f.push(byte);
            continue;
        }
        let i = pos % f.len();
        match op {
            0 => f[i] = byte,
            1 => {
                f.remove(i);
            }
            2 => f.insert(i, byte),
            _ => f.truncate(i),
        }
    }
    f
}

/// Mutate the Automerge payload but keep a valid envelope, so the sync layer itself is fuzzed.
fn mutate_payload(frame: &[u8], edits: &[(usize, u8, u8)]) -> Option<Vec<u8>> {
    match protocol::decode(frame).ok()? {
        Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        } => Some(protocol::encode(&Message::Sync {
            sender_id,
            target_id,
            document_id,
            data: mutate(data, edits),
        })),
        Message::CrmBatch {
            sender_id,
            target_id,
            mut items,
        } => {
            for item in &mut items {
                item.data = mutate(std::mem::take(&mut item.data), edits);
            }
            Some(protocol::encode(&Message::CrmBatch {
                sender_id,
                target_id,
                items,
            }))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_server_survives_any_frame_sequence(
        script in proptest::collection::vec(
            (any::<usize>(), proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 0..4), any::<bool>()),
            1..12,
        ),
    ) {
        let frames = recorded_frames();
        let mut server = Engine::new(Config::new(peer("server")));
        let now = Timestamp(0);
        for conn in [ConnectionId(1), ConnectionId(2)] {
            server.handle(now, Event::Accepted { conn });
        }
        // Both recorded clients join first, so later frames reach the document layer.
        for f in frames.iter().filter(|f| matches!(protocol::decode(f), Ok(Message::Join { .. }))).take(2).enumerate() {
            server.handle(now, Event::Frame { conn: ConnectionId(f.0 as u64 + 1), bytes: f.1.clone() });
        }
        for (pick, edits, payload_only) in script {
            let original = &frames[pick % frames.len()];
            let bytes = if payload_only {
                mutate_payload(original, &edits).unwrap_or_else(|| original.clone())
            } else {
                mutate(original.clone(), &edits)
            };
            let conn = ConnectionId(1 + (pick % 2) as u64);
            let actions = server.handle(now, Event::Frame { conn, bytes });
            for a in actions {
                if let crate::engine::Action::Load { documents } = a {
                    let loaded = documents.into_iter().map(|d| (d, None)).collect();
                    server.handle(now, Event::Loaded { documents: loaded });
                }
            }
        }
        server.handle(Timestamp(u64::MAX / 2), Event::Tick);
    }
}
