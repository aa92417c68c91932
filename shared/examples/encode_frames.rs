//! How long `protocol::encode` takes per frame, for the frames a server sends most: an
//! acknowledgement-sized `sync`, a `sync` carrying a few changes, a `crm-batch` of a thousand
//! items, a `crm-summary-reply` with every bucket digest, and a `join`. Deterministic work, so
//! two builds (e.g. two CBOR writers) compare well; the median of several rounds is printed,
//! with a fingerprint of each frame's bytes.
//!
//! `cargo run --release -p crm-shared --example encode_frames -- [ROUNDS]`

// A benchmark may unwrap: its inputs are fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use crm_shared::protocol::{self, BatchItem, BatchKind, Message, PeerId, PeerMetadata, BUCKETS};
use crm_shared::DocumentId;

fn peer(name: &str) -> PeerId {
    name.parse().expect("a valid peer id")
}

fn doc(n: u16) -> DocumentId {
    let mut bytes = [7u8; 16];
    bytes[..2].copy_from_slice(&n.to_be_bytes());
    DocumentId::from_bytes(bytes)
}

fn sync(len: usize) -> Message {
    Message::Sync {
        sender_id: peer("server"),
        target_id: peer("client-k70wuzbp"),
        document_id: doc(1),
        data: vec![0x42; len],
    }
}

/// FNV-1a of the bytes: two builds that print the same wrote the same frames.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Nanoseconds per encoding of `msg`, median of `rounds` rounds of `per_round` encodings.
fn measure(msg: &Message, rounds: usize, per_round: usize) -> (f64, Vec<u8>) {
    let bytes = protocol::encode(msg);
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                black_box(protocol::encode(black_box(msg)));
            }
            t.elapsed().as_nanos() as f64 / per_round as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], bytes)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let batch = Message::CrmBatch {
        sender_id: peer("server"),
        target_id: peer("client-k70wuzbp"),
        items: (0..1000)
            .map(|i| BatchItem {
                kind: BatchKind::Sync,
                document_id: doc(i),
                data: vec![0x42; 100],
            })
            .collect(),
    };
    let reply = Message::CrmSummaryReply {
        sender_id: peer("server"),
        target_id: peer("client-k70wuzbp"),
        count: 180_000,
        digest: protocol::SetSummary::default().digest(),
        matched: false,
        entries: Vec::new(),
        buckets: vec![[9u8; 8]; BUCKETS],
    };
    let join = Message::Join {
        sender_id: peer("client-k70wuzbp"),
        peer_metadata: PeerMetadata {
            storage_id: Some("3aa4106c-d435-4025-8eb7-1d7d51031bfd".parse().expect("id")),
            is_ephemeral: false,
            crm_batch: Some(3),
        },
        supported_protocol_versions: Some(vec!["1".to_owned()]),
    };
    let cases: [(&str, Message, usize); 5] = [
        ("sync, 40-byte ack", sync(40), 200_000),
        ("sync, 2 KiB of changes", sync(2048), 100_000),
        ("crm-batch, 1000 items", batch, 500),
        ("crm-summary-reply, 4096 buckets", reply, 2_000),
        ("join", join, 200_000),
    ];
    for (name, msg, per_round) in &cases {
        let (ns, bytes) = measure(msg, rounds, *per_round);
        println!(
            "{name:<34} {:>7} bytes (fingerprint {:016x}) {ns:>10.1} ns per frame",
            bytes.len(),
            fingerprint(&bytes)
        );
    }
}
