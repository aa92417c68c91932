//! Decoding real frames captured between JS automerge-repo 2.5.6 peers, round trips, and fuzzing.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const JOIN: &str = "b900046474797065646a6f696e6873656e64657249646d706565722d6b373077757a62706c706565724d65746164617461b900026973746f726167654964f76b6973457068656d6572616cf57819737570706f7274656450726f746f636f6c56657273696f6e73816131";
const PEER: &str = "b90005647479706564706565726873656e64657249647173746f726167652d7365727665722d766d6c706565724d65746164617461b900026973746f726167654964782433616134313036632d643433352d343032352d386562372d3164376435313033316266646b6973457068656d6572616cf47773656c656374656450726f746f636f6c56657273696f6e61316874617267657449646d706565722d6b373077757a6270";
const SYNC_C2S: &str = "b9000564747970656473796e636874617267657449647173746f726167652d7365727665722d766d6464617461582f4201d3f20929e52764f0a3fbc9af2a4b97e4289ed7787a084116e45ca2f32830c64700010005010a07094f000202846a646f63756d656e744964781c335446516d3541794b3541575a34505a4a65785759505844396a324a6873656e64657249646d706565722d6b373077757a6270";
const SYNC_S2C: &str = "b9000564747970656473796e636874617267657449646d706565722d6b373077757a62706464617461582a430001d3f20929e52764f0a3fbc9af2a4b97e4289ed7787a084116e45ca2f32830c647010000000201026a646f63756d656e744964781c335446516d3541794b3541575a34505a4a65785759505844396a324a6873656e64657249647173746f726167652d7365727665722d766d";
const REQUEST: &str = "b90005647479706567726571756573746874617267657449647173746f726167652d7365727665722d766d6a646f63756d656e744964781c335446516d3541794b3541575a34505a4a65785759505844396a324a64646174614a420000010000000202846873656e64657249646e706565722d7a6733333469797171";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn peer(s: &str) -> PeerId {
    s.parse().unwrap()
}

fn doc() -> DocumentId {
    "3TFQm5AyK5AWZ4PZJexWYPXD9j2J".parse().unwrap()
}

#[test]
fn decodes_captured_join() {
    let m = decode(&hex(JOIN)).unwrap();
    assert_eq!(
        m,
        Message::Join {
            sender_id: peer("peer-k70wuzbp"),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
                crm_batch: None
            },
            supported_protocol_versions: Some(vec!["1".into()]),
        }
    );
}

#[test]
fn decodes_captured_peer() {
    let m = decode(&hex(PEER)).unwrap();
    assert_eq!(
        m,
        Message::Peer {
            sender_id: peer("storage-server-vm"),
            target_id: peer("peer-k70wuzbp"),
            peer_metadata: PeerMetadata {
                storage_id: Some("3aa4106c-d435-4025-8eb7-1d7d51031bfd".parse().unwrap()),
                is_ephemeral: false,
                crm_batch: None
            },
            selected_protocol_version: "1".into(),
        }
    );
}

#[test]
fn decodes_captured_syncs_and_their_automerge_payloads() {
    for (frame, from, to, len, first) in [
        (SYNC_C2S, "peer-k70wuzbp", "storage-server-vm", 47, 0x42),
        (SYNC_S2C, "storage-server-vm", "peer-k70wuzbp", 42, 0x43),
    ] {
        let Message::Sync {
            sender_id,
            target_id,
            document_id,
            data,
        } = decode(&hex(frame)).unwrap()
        else {
            panic!("not a sync message")
        };
        assert_eq!(sender_id, peer(from));
        assert_eq!(target_id, peer(to));
        assert_eq!(document_id, doc());
        assert_eq!(data.len(), len);
        assert_eq!(data[0], first);
        automerge::sync::Message::decode(&data).unwrap();
    }
}

#[test]
fn decodes_captured_request() {
    let Message::Request {
        sender_id,
        target_id,
        document_id,
        data,
    } = decode(&hex(REQUEST)).unwrap()
    else {
        panic!("not a request")
    };
    assert_eq!(sender_id, peer("peer-zg334iyqq"));
    assert_eq!(target_id, peer("storage-server-vm"));
    assert_eq!(document_id, doc());
    let sync = automerge::sync::Message::decode(&data).unwrap();
    assert!(sync.heads.is_empty() && sync.changes.is_empty());
}

#[test]
fn captured_frames_survive_a_round_trip() {
    for frame in [JOIN, PEER, SYNC_C2S, SYNC_S2C, REQUEST] {
        let m = decode(&hex(frame)).unwrap();
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }
}

#[test]
fn unknown_type_is_named() {
    let mut w = cbor::Writer::default();
    w.map(2)
        .str("type")
        .str("frobnicate")
        .str("senderId")
        .str("x");
    assert_eq!(
        decode(&w.into_bytes()),
        Err(DecodeError::UnknownType("frobnicate".into()))
    );
}

#[test]
fn missing_fields_and_bad_ids_are_errors() {
    let mut w = cbor::Writer::default();
    w.map(2).str("type").str("sync").str("senderId").str("x");
    assert_eq!(
        decode(&w.into_bytes()),
        Err(DecodeError::MissingField("targetId"))
    );
    let mut w = cbor::Writer::default();
    w.map(5).str("type").str("sync").str("senderId").str("x");
    w.str("targetId").str("y").str("documentId").str("abc");
    w.str("data").bytes(&[]);
    assert!(matches!(
        decode(&w.into_bytes()),
        Err(DecodeError::InvalidDocumentId { .. })
    ));
    assert_eq!(decode(&[0x01]), Err(DecodeError::NotAMap));
    assert!(decode(&[]).is_err());
}

#[test]
fn document_ids_read_lately_are_still_checked_one_by_one() {
    let frame = |id: &str| {
        let mut w = cbor::Writer::default();
        w.map(5).str("type").str("sync").str("senderId").str("x");
        w.str("targetId").str("y").str("documentId").str(id);
        w.str("data").bytes(&[1, 2]);
        w.into_bytes()
    };
    let id_of = |bytes: &[u8]| match decode(bytes) {
        Ok(Message::Sync { document_id, .. }) => Ok(document_id),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    let ids: Vec<DocumentId> = (0..40u8)
        .map(|n| DocumentId::from_random([n; 16]))
        .collect();
    // More ids than are remembered, twice over, interleaved with a known one: each decodes to
    // itself.
    for _ in 0..2 {
        for id in &ids {
            assert_eq!(id_of(&frame(&id.to_string())), Ok(*id));
            assert_eq!(id_of(&frame(&doc().to_string())), Ok(doc()));
        }
    }
    // A known id with one character changed (its checksum fails) is refused after the real one.
    let text = doc().to_string();
    let last = if text.ends_with('2') { '3' } else { '2' };
    let broken = format!("{}{last}", &text[..text.len() - 1]);
    assert!(matches!(
        id_of(&frame(&broken)),
        Err(DecodeError::InvalidDocumentId { .. })
    ));
    assert_eq!(id_of(&frame(&text)), Ok(doc()));
    // The payload is moved out, not lost.
    assert!(matches!(decode(&frame(&text)), Ok(Message::Sync { data, .. }) if data == [1, 2]));
}

#[test]
fn a_float_count_is_accepted() {
    let mut w = cbor::Writer::default();
    w.map(7)
        .str("type")
        .str("ephemeral")
        .str("senderId")
        .str("a");
    w.str("targetId")
        .str("b")
        .str("documentId")
        .str(&doc().to_string());
    w.str("sessionId").str("s").str("data").bytes(&[1, 2]);
    let mut bytes = w.into_bytes();
    bytes.extend_from_slice(&[0x65]);
    bytes.extend_from_slice(b"count");
    bytes.push(0xfb);
    bytes.extend_from_slice(&3.0f64.to_be_bytes());
    let Message::Ephemeral { count, .. } = decode(&bytes).unwrap() else {
        panic!("not ephemeral")
    };
    assert_eq!(count, 3);
}

fn samples() -> Vec<Message> {
    let a = peer("peer-a");
    let b = peer("server");
    vec![
        Message::Join {
            sender_id: a.clone(),
            peer_metadata: PeerMetadata {
                storage_id: Some("st".parse().unwrap()),
                is_ephemeral: false,
                crm_batch: Some(1),
            },
            supported_protocol_versions: None,
        },
        Message::DocUnavailable {
            sender_id: b.clone(),
            target_id: a.clone(),
            document_id: doc(),
        },
        Message::Ephemeral {
            sender_id: a.clone(),
            target_id: b.clone(),
            document_id: doc(),
            session_id: "sess".parse().unwrap(),
            count: 7,
            data: vec![9; 3],
        },
        Message::RemoteSubscriptionChange {
            sender_id: a.clone(),
            target_id: b.clone(),
            add: vec!["x".parse().unwrap()],
            remove: vec![],
        },
        Message::RemoteHeadsChanged {
            sender_id: a.clone(),
            target_id: b.clone(),
            document_id: doc(),
        },
        Message::Error {
            sender_id: Some(b.clone()),
            target_id: None,
            message: "no".into(),
        },
        Message::Leave {
            sender_id: a.clone(),
        },
        Message::CrmSummary {
            sender_id: a.clone(),
            target_id: b.clone(),
            count: 2,
            digest: SummaryDigest([5; 16]),
        },
        Message::CrmSummaryReply {
            sender_id: b.clone(),
            target_id: a.clone(),
            count: 1,
            digest: SummaryDigest([6; 16]),
            matched: false,
            entries: vec![SummaryEntry {
                document_id: doc(),
                heads: HeadsDigest([7; 8]),
            }],
            buckets: vec![],
        },
        Message::CrmSummaryReply {
            sender_id: b.clone(),
            target_id: a.clone(),
            count: 9000,
            digest: SummaryDigest([6; 16]),
            matched: false,
            entries: vec![],
            buckets: (0..BUCKETS).map(|i| [(i % 251) as u8; 8]).collect(),
        },
        Message::CrmBuckets {
            sender_id: a.clone(),
            target_id: b.clone(),
            buckets: vec![0, 17, 4095],
        },
        Message::CrmBucketEntries {
            sender_id: b.clone(),
            target_id: a.clone(),
            buckets: vec![17],
            entries: vec![SummaryEntry {
                document_id: doc(),
                heads: HeadsDigest([7; 8]),
            }],
        },
        Message::CrmBatch {
            sender_id: a,
            target_id: b,
            items: vec![
                BatchItem {
                    kind: BatchKind::Sync,
                    document_id: doc(),
                    data: vec![0x42, 0],
                },
                BatchItem {
                    kind: BatchKind::DocUnavailable,
                    document_id: doc(),
                    data: vec![],
                },
                BatchItem {
                    kind: BatchKind::Fetch,
                    document_id: doc(),
                    data: vec![],
                },
                BatchItem {
                    kind: BatchKind::Doc,
                    document_id: doc(),
                    data: vec![0x85, 0x6f, 0x4a, 0x83],
                },
            ],
        },
    ]
}

#[test]
fn the_batch_version_is_the_highest_both_speak() {
    assert_eq!(negotiate_batch(None), None);
    assert_eq!(negotiate_batch(Some(1)), None);
    assert_eq!(negotiate_batch(Some(2)), Some(2));
    assert_eq!(negotiate_batch(Some(3)), Some(3));
    assert_eq!(negotiate_batch(Some(99)), Some(CRM_BATCH_VERSION));
}

#[test]
fn an_unknown_batch_item_kind_is_an_error() {
    let mut w = cbor::Writer::default();
    w.map(4);
    w.str("type").str("crm-batch").str("senderId").str("a");
    w.str("targetId").str("b");
    w.str("items").array(1);
    w.array(3).uint(5).bytes(doc().as_bytes()).bytes(&[]);
    assert!(matches!(
        decode(&w.into_bytes()),
        Err(DecodeError::Invalid { field: "items", .. })
    ));
}

#[test]
fn every_message_kind_round_trips() {
    for m in samples() {
        assert_eq!(decode(&encode(&m)).unwrap(), m, "{}", m.type_name());
    }
}

#[test]
fn digests_are_order_independent_and_sensitive() {
    let h1 = automerge::ChangeHash([1; 32]);
    let h2 = automerge::ChangeHash([2; 32]);
    assert_eq!(heads_digest(&[h1, h2]), heads_digest(&[h2, h1]));
    assert_ne!(heads_digest(&[h1]), heads_digest(&[h2]));
    let mut set = BTreeMap::new();
    let empty = summary_digest(&set);
    set.insert(doc(), doc_digest(&doc(), &[h1]));
    assert_ne!(summary_digest(&set), empty);
    assert_eq!(doc_digest(&doc(), &[h1, h2]), doc_digest(&doc(), &[h2, h1]));
}

#[test]
fn set_summaries_update_document_by_document() {
    let h1 = automerge::ChangeHash([1; 32]);
    let h2 = automerge::ChangeHash([2; 32]);
    let ids: Vec<DocumentId> = (0..50u8)
        .map(|n| DocumentId::from_bytes([n.wrapping_mul(37); 16]))
        .collect();
    let mut full = SetSummary::default();
    for id in &ids {
        full.add(id, &doc_digest(id, &[h1]));
    }
    // Change one document: remove the old digest, add the new one.
    let mut updated = full.clone();
    updated.remove(&ids[3], &doc_digest(&ids[3], &[h1]));
    updated.add(&ids[3], &doc_digest(&ids[3], &[h2]));
    let mut rebuilt = SetSummary::default();
    for (i, id) in ids.iter().enumerate() {
        rebuilt.add(id, &doc_digest(id, &[if i == 3 { h2 } else { h1 }]));
    }
    assert_eq!(updated, rebuilt);
    assert_ne!(updated.digest(), full.digest());
    assert_eq!(SetSummary::from_bytes(&updated.to_bytes()), Some(updated));
    for id in &ids {
        let (lo, hi) = bucket_range(bucket_of(id));
        assert!(lo <= *id && *id <= hi);
    }
}

fn valid_frames() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [JOIN, PEER, SYNC_C2S, SYNC_S2C, REQUEST]
        .iter()
        .map(|h| hex(h))
        .collect();
    v.extend(samples().iter().map(encode));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_frames(
        which in 0usize..15,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let frames = valid_frames();
        let mut f = frames[which % frames.len()].clone();
        for (pos, byte, op) in edits {
            if f.is_empty() { break; }
            let i = pos % f.len();
            match op {
                0 => f[i] = byte,
                1 => { f.remove(i); }
                _ => f.insert(i, byte),
            }
        }
        if let Ok(m) = decode(&f) {
            // Whatever decodes must re-encode to something that decodes to the same message.
            prop_assert_eq!(decode(&encode(&m)), Ok(m));
        }
        // The direct reading of sync and request frames agrees with the general one.
        if let Some(m) = decode::doc_message(&f) {
            prop_assert_eq!(decode::any(&f), Ok(m));
        }
    }
}

#[test]
fn sync_and_request_frames_are_read_directly_and_the_same_as_through_a_tree() {
    let mut direct = 0;
    for frame in valid_frames() {
        if let Some(m) = decode::doc_message(&frame) {
            direct += 1;
            assert!(matches!(m, Message::Sync { .. } | Message::Request { .. }));
            assert_eq!(decode::any(&frame), Ok(m));
        }
    }
    assert!(
        direct >= 3,
        "the captured sync and request frames take the direct way"
    );
    // What the direct reading leaves to the tree: a sixth key, a repeated key, a tagged payload.
    let frame = |extra: &dyn Fn(&mut cbor::Writer), entries: usize| {
        let mut w = cbor::Writer::default();
        w.map(entries)
            .str("type")
            .str("sync")
            .str("senderId")
            .str("x");
        w.str("targetId")
            .str("y")
            .str("documentId")
            .str(&doc().to_string());
        extra(&mut w);
        w.into_bytes()
    };
    let plain = frame(
        &|w| {
            w.str("data").bytes(&[1]);
        },
        5,
    );
    assert!(decode::doc_message(&plain).is_some());
    let sixth = frame(
        &|w| {
            w.str("data").bytes(&[1]).str("extra").uint(1);
        },
        6,
    );
    assert!(decode::doc_message(&sixth).is_none());
    assert!(matches!(decode(&sixth), Ok(Message::Sync { .. })));
    let repeated = frame(
        &|w| {
            w.str("senderId").bytes(&[1]);
        },
        5,
    );
    assert!(decode::doc_message(&repeated).is_none());
    assert!(
        decode(&repeated).is_err(),
        "no data, and the general reading says so"
    );
    let mut tagged = frame(
        &|w| {
            w.str("data");
        },
        5,
    );
    tagged.extend_from_slice(&[0xd8, 0x40, 0x41, 0x01]); // tag 64 (Uint8Array) around h'01'
    assert!(decode::doc_message(&tagged).is_none());
    assert!(matches!(decode(&tagged), Ok(Message::Sync { data, .. }) if data == [1]));
}
