//! The handshake and the connection: protocol versions, malformed frames, a replaced
//! connection, a spoofed sender, and the `crmBatch` version both sides agree on.

use crate::engine::tests::network::{doc_id, peer, Net};
use crate::engine::{close_code, Action, ConnectionId, Event, Timestamp};
use crate::protocol::{self, BatchKind, Message, PeerMetadata};

use super::{disk_only_fleet, plain, server_config, SERVER, STEPS};

#[test]
fn join_with_unsupported_version_gets_an_error_and_a_close() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let conn = ConnectionId(7);
    let engine = &mut net.nodes[s].engine;
    engine.handle(Timestamp(0), Event::Accepted { conn });
    let join = Message::Join {
        sender_id: peer("future"),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: Some(vec!["2".into()]),
    };
    let actions = engine.handle(
        Timestamp(0),
        Event::Frame {
            conn,
            bytes: protocol::encode(&join),
        },
    );
    assert!(matches!(
        &actions[..],
        [
            Action::Send { message: Message::Error { target_id: Some(t), .. }, .. },
            Action::Close { code: close_code::PROTOCOL_ERROR, .. },
        ] if *t == peer("future")
    ));
    // A missing list means "1".
    engine.handle(
        Timestamp(0),
        Event::Accepted {
            conn: ConnectionId(8),
        },
    );
    let join = Message::Join {
        sender_id: peer("old"),
        peer_metadata: PeerMetadata::default(),
        supported_protocol_versions: None,
    };
    let actions = engine.handle(
        Timestamp(0),
        Event::Frame {
            conn: ConnectionId(8),
            bytes: protocol::encode(&join),
        },
    );
    assert!(matches!(
        &actions[0],
        Action::Send {
            message: Message::Peer { .. },
            ..
        }
    ));
}

#[test]
fn a_malformed_frame_closes_with_invalid_data() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let engine = &mut net.nodes[s].engine;
    engine.handle(
        Timestamp(0),
        Event::Accepted {
            conn: ConnectionId(1),
        },
    );
    let actions = engine.handle(
        Timestamp(0),
        Event::Frame {
            conn: ConnectionId(1),
            bytes: vec![0xb9, 0xff],
        },
    );
    assert!(matches!(
        actions.last(),
        Some(Action::Close {
            code: close_code::INVALID_DATA,
            ..
        })
    ));
}

#[test]
fn a_second_join_replaces_the_older_connection() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let first = net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    let second = net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert!(net.nodes[s].log.iter().any(|act| matches!(
        act,
        Action::Close { conn, code: close_code::REPLACED, .. } if *conn == first
    )));
    assert_eq!(net.nodes[s].engine.peers(), vec![(peer("alice"), second)]);
}

#[test]
fn a_message_with_another_sender_is_dropped() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let d = doc_id(5);
    let conn = net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    let spoofed = Message::Request {
        sender_id: peer("mallory"),
        target_id: peer("server"),
        document_id: d,
        data: automerge::sync::Message::decode(&[0x42, 0, 0, 1, 0, 0, 0])
            .map(|m| m.encode())
            .unwrap_or_default(),
    };
    let before = net.sent.len();
    net.event(
        s,
        Event::Frame {
            conn,
            bytes: protocol::encode(&spoofed),
        },
    );
    assert_eq!(net.sent.len(), before, "no answer to a spoofed sender");
}

#[test]
fn a_version_2_client_is_served_as_before() {
    // An older client announces crmBatch 2: the server agrees on 2 and never sends it `doc`s;
    // a `fetch` from it is refused like a request for an unknown document.
    let (mut net, s, _, _, docs) = disk_only_fleet(3);
    net.nodes[s].engine.unload_settled();
    let conn = ConnectionId(200);
    net.event(s, Event::Accepted { conn });
    let handle = |net: &mut Net, m: &Message| {
        net.nodes[s].engine.handle(
            Timestamp(net.now),
            Event::Frame {
                conn,
                bytes: protocol::encode(m),
            },
        )
    };
    let actions = handle(
        &mut net,
        &Message::Join {
            sender_id: peer("old"),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
                crm_batch: Some(2),
            },
            supported_protocol_versions: None,
        },
    );
    assert!(actions.iter().any(|a| matches!(a,
        Action::Send { message: Message::Peer { peer_metadata, .. }, .. }
            if peer_metadata.crm_batch == Some(2))));
    let actions = handle(
        &mut net,
        &Message::CrmBatch {
            sender_id: peer("old"),
            target_id: peer("server"),
            items: vec![protocol::BatchItem {
                kind: BatchKind::Fetch,
                document_id: docs[0],
                data: Vec::new(),
            }],
        },
    );
    assert_eq!(
        actions,
        vec![Action::Send {
            conn,
            message: Message::DocUnavailable {
                sender_id: peer("server"),
                target_id: peer("old"),
                document_id: docs[0],
            },
        }]
    );
    // A request is answered with the sync protocol, as version 2 has it.
    let doc = automerge::Automerge::new();
    let mut state = automerge::sync::State::new();
    let first = automerge::sync::SyncDoc::generate_sync_message(&doc, &mut state).unwrap();
    let mut actions = handle(
        &mut net,
        &Message::CrmBatch {
            sender_id: peer("old"),
            target_id: peer("server"),
            items: vec![
                protocol::BatchItem {
                    kind: BatchKind::Request,
                    document_id: docs[0],
                    data: first.clone().encode(),
                },
                protocol::BatchItem {
                    kind: BatchKind::Request,
                    document_id: docs[1],
                    data: first.encode(),
                },
            ],
        },
    );
    // Loads are answered as a shell would.
    let mut sent = Vec::new();
    while let Some(a) = actions.pop() {
        match a {
            Action::Load { documents } => {
                let loaded = documents
                    .iter()
                    .map(|d| (*d, net.nodes[s].store.get(d).cloned()))
                    .collect();
                actions.extend(
                    net.nodes[s]
                        .engine
                        .handle(Timestamp(net.now), Event::Loaded { documents: loaded }),
                );
            }
            Action::Send { message, .. } => sent.push(message),
            _ => {}
        }
    }
    let items: Vec<_> = sent
        .iter()
        .flat_map(|m| match m {
            Message::CrmBatch { items, .. } => items.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.kind == BatchKind::Sync));
}
