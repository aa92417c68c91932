//! Scenario tests: one behaviour each, on the in-memory network.

use super::network::{doc_id, get, peer, Net};
use crate::engine::{close_code, Action, Config, ConnectionId, Event, FnPolicy, Timestamp};
use crate::protocol::{self, BatchKind, Message, PeerMetadata};

const STEPS: usize = 200;
/// The server's storage id: the key under which clients keep their sync states.
const SERVER: &str = "server-storage";

fn server_config() -> Config {
    let mut c = Config::new(peer("server"));
    c.storage_id = Some("server-storage".parse().unwrap());
    c
}

/// A client speaking plain automerge-repo (no extension).
fn plain(name: &str) -> Config {
    let mut c = Config::new(peer(name));
    c.batch = false;
    c.is_ephemeral = true;
    c
}

fn ours(name: &str) -> Config {
    let mut c = Config::new(peer(name));
    c.storage_id = Some(format!("{name}-storage").parse().unwrap());
    c
}

#[test]
fn upload_of_a_new_document() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let d = doc_id(1);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);

    assert_eq!(net.sent_types(a, s), ["join", "sync", "sync"]);
    assert!(net.nodes[a].engine.is_synced_with(&peer("server")));
    assert!(net.nodes[s].engine.is_synced_with(&peer("alice")));
    assert_eq!(net.sent_types(s, a), ["peer", "sync", "sync"]);
    let stored = net.stored(s, &d).expect("server persisted the document");
    assert_eq!(get(&stored, "name").as_deref(), Some("Ada"));
    assert_eq!(stored.get_heads(), net.stored(a, &d).unwrap().get_heads());
    // The persist precedes the acknowledgement (the network checks every send against the store).
    assert!(net.nodes[s]
        .log
        .iter()
        .any(|a| matches!(a, Action::Persist { document_id, .. } if *document_id == d)));
}

#[test]
fn fetch_via_request() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    let d = doc_id(2);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);

    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);
    assert_eq!(net.sent_types(b, s)[..2], ["join", "request"]);
    let fetched = net
        .stored(b, &d)
        .expect("bob persisted the fetched document");
    assert_eq!(get(&fetched, "name").as_deref(), Some("Ada"));
}

#[test]
fn unknown_document_is_unavailable() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let b = net.add(plain("bob"));
    let d = doc_id(3);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);
    assert_eq!(net.sent_types(s, b), ["peer", "doc-unavailable"]);
    assert!(net.nodes[b]
        .log
        .iter()
        .any(|a| matches!(a, Action::Unavailable { document_id, .. } if *document_id == d)));
    assert!(net.stored(s, &d).is_none(), "a request creates nothing");
}

#[test]
fn a_change_fans_out_to_two_other_peers() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    let c = net.add(plain("carol"));
    let d = doc_id(4);
    net.put(a, d, "name", "Ada");
    for n in [a, b, c] {
        net.connect(n, s, SERVER);
    }
    net.run_until_quiescent(STEPS);
    for n in [b, c] {
        net.event(n, Event::Want { document_id: d });
    }
    net.run_until_quiescent(STEPS);

    net.put(a, d, "name", "Ada Lovelace");
    net.run_until_quiescent(STEPS);
    for n in [b, c] {
        let doc = net.stored(n, &d).unwrap();
        assert_eq!(get(&doc, "name").as_deref(), Some("Ada Lovelace"));
    }
}

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
fn a_denied_read_looks_exactly_like_an_unknown_document() {
    let secret = doc_id(6);
    let unknown = doc_id(7);
    let mut net = Net::new();
    let policy = FnPolicy {
        read: move |ctx: crate::engine::PeerContext<'_>, d: &crate::DocumentId| {
            !(ctx.peer_id.as_str() == "bob" && *d == secret)
        },
        write: |_: crate::engine::PeerContext<'_>, _: &crate::DocumentId| true,
    };
    let s = net.add_with_policy(server_config(), Box::new(policy));
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    net.put(a, secret, "salary", "a lot");
    net.connect(a, s, SERVER);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert!(net.stored(s, &secret).is_some());

    let answer = |net: &mut Net, d| {
        net.event(b, Event::Want { document_id: d });
        net.run_until_quiescent(STEPS);
        let last = net
            .sent
            .iter()
            .rev()
            .find(|x| x.from == s && x.to == b)
            .unwrap();
        let mut bytes = protocol::encode(&last.message);
        // Blank out the document id so the two answers can be compared byte for byte.
        let id = d.to_string();
        let pos = bytes
            .windows(id.len())
            .position(|w| w == id.as_bytes())
            .unwrap();
        bytes[pos..pos + id.len()].fill(b'_');
        bytes
    };
    let denied = answer(&mut net, secret);
    let missing = answer(&mut net, unknown);
    assert_eq!(denied, missing);
    assert!(net.stored(b, &secret).is_none());
    // Uploading over a denied document is refused the same way and changes nothing.
    net.put(b, secret, "salary", "zero");
    net.run_until_quiescent(STEPS);
    let s_doc = net.stored(s, &secret).unwrap();
    assert_eq!(get(&s_doc, "salary").as_deref(), Some("a lot"));
}

#[test]
fn a_denied_write_is_not_applied_but_reads_still_flow() {
    let d = doc_id(8);
    let mut net = Net::new();
    let policy = FnPolicy {
        read: |_: crate::engine::PeerContext<'_>, _: &crate::DocumentId| true,
        write: |ctx: crate::engine::PeerContext<'_>, _: &crate::DocumentId| {
            ctx.peer_id.as_str() != "bob"
        },
    };
    let s = net.add_with_policy(server_config(), Box::new(policy));
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);
    assert_eq!(
        get(&net.stored(b, &d).unwrap(), "name").as_deref(),
        Some("Ada")
    );
    net.put(b, d, "name", "Bob was here");
    net.run_until_quiescent(STEPS);
    assert_eq!(
        get(&net.stored(s, &d).unwrap(), "name").as_deref(),
        Some("Ada")
    );
}

/// Sets up a server holding `n` documents that `client` (our extension) has synced, then disconnects.
fn synced_fleet(n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    synced_fleet_on(server_config(), n)
}

/// [`synced_fleet`] on a server that keeps no settled document in memory: after
/// `unload_settled` it holds them on disk only.
fn disk_only_fleet(n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    let mut config = server_config();
    config.keep_settled = 0;
    synced_fleet_on(config, n)
}

fn synced_fleet_on(config: Config, n: u8) -> (Net, usize, usize, usize, Vec<crate::DocumentId>) {
    let mut net = Net::new();
    let s = net.add(config);
    let c = net.add(ours("client"));
    let other = net.add(ours("other"));
    let docs: Vec<_> = (0..n).map(|i| doc_id(100 + i)).collect();
    for (i, d) in docs.iter().enumerate() {
        net.put(c, *d, "n", &i.to_string());
    }
    let conn = net.connect(c, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.disconnect(conn);
    (net, s, c, other, docs)
}

#[test]
fn the_extension_uploads_everything_on_first_connect_in_one_batch() {
    let (net, s, c, _, docs) = synced_fleet(10);
    for d in &docs {
        assert_eq!(
            net.stored(s, d).unwrap().get_heads(),
            net.stored(c, d).unwrap().get_heads()
        );
    }
    let types = net.sent_types(c, s);
    assert_eq!(types[..3], ["join", "crm-summary", "crm-batch"]);
    let Some(Message::CrmBatch { items, .. }) = net
        .sent
        .iter()
        .find(|x| x.from == c && x.message.type_name() == "crm-batch")
        .map(|x| &x.message)
    else {
        panic!("no batch")
    };
    assert_eq!(items.len(), 10);
}

#[test]
fn the_extension_costs_one_small_round_trip_when_nothing_changed() {
    let (mut net, s, c, _, _) = synced_fleet(10);
    let before = net.sent.len();
    net.connect(c, s, SERVER);
    net.run_until_quiescent(STEPS);
    let after: Vec<_> = net.sent[before..].iter().collect();
    let types: Vec<_> = after.iter().map(|x| x.message.type_name()).collect();
    assert_eq!(types, ["join", "peer", "crm-summary", "crm-summary-reply"]);
    let summary_bytes: usize = after[2..].iter().map(|x| x.bytes).sum();
    assert!(
        summary_bytes < 300,
        "summary round trip took {summary_bytes} bytes"
    );
    assert!(net.nodes[c]
        .log
        .iter()
        .any(|a| matches!(a, Action::SummaryCompared { differing: 0, .. })));
}

#[test]
fn the_extension_syncs_only_differing_documents_in_one_batch() {
    let (mut net, s, c, other, docs) = synced_fleet(10);
    // Another peer changes two documents and creates one; the client changes one offline.
    let oc = net.connect(other, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.put(other, docs[1], "n", "changed");
    net.put(other, docs[2], "n", "changed");
    let fresh = doc_id(250);
    net.put(other, fresh, "n", "new");
    net.run_until_quiescent(STEPS);
    net.disconnect(oc);
    net.put(c, docs[7], "n", "offline edit");

    let before = net.sent.len();
    net.connect(c, s, SERVER);
    net.run_until_quiescent(STEPS);
    let batch = net.sent[before..]
        .iter()
        .find(|x| x.from == c && x.message.type_name() == "crm-batch")
        .map(|x| x.message.clone());
    let Some(Message::CrmBatch { items, .. }) = batch else {
        panic!("the client sent no batch")
    };
    let mut ids: Vec<_> = items.iter().map(|i| i.document_id).collect();
    ids.sort();
    let mut expected = vec![docs[1], docs[2], docs[7], fresh];
    expected.sort();
    assert_eq!(ids, expected);
    // The one the client lacks is fetched whole.
    assert!(items
        .iter()
        .any(|i| i.document_id == fresh && i.kind == BatchKind::Fetch));
    // And everything converged.
    for d in [docs[1], docs[2], docs[7], fresh] {
        assert_eq!(
            net.stored(s, &d).unwrap().get_heads(),
            net.stored(c, &d).unwrap().get_heads()
        );
    }
    assert_eq!(
        get(&net.stored(c, &fresh).unwrap(), "n").as_deref(),
        Some("new")
    );
    assert_eq!(
        get(&net.stored(s, &docs[7]).unwrap(), "n").as_deref(),
        Some("offline edit")
    );
}

#[test]
fn the_extension_pushes_new_documents_to_connected_batch_peers() {
    let (mut net, s, c, other, _) = synced_fleet(2);
    net.connect(c, s, SERVER);
    net.connect(other, s, SERVER);
    net.run_until_quiescent(STEPS);
    let fresh = doc_id(251);
    net.put(other, fresh, "n", "live");
    net.run_until_quiescent(STEPS);
    assert_eq!(
        get(&net.stored(c, &fresh).unwrap(), "n").as_deref(),
        Some("live")
    );
}

#[test]
fn a_plain_client_never_sees_extension_messages() {
    let (mut net, s, _, _, docs) = synced_fleet(3);
    let p = net.add(plain("plain"));
    net.connect(p, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(
        p,
        Event::Want {
            document_id: docs[0],
        },
    );
    net.run_until_quiescent(STEPS);
    let to_plain = net.sent_types(s, p);
    assert!(
        to_plain.iter().all(|t| !t.starts_with("crm-")),
        "{to_plain:?}"
    );
    let peer_msg = net.sent.iter().find(|x| x.from == s && x.to == p).unwrap();
    assert!(
        matches!(&peer_msg.message, Message::Peer { peer_metadata, .. } if peer_metadata.crm_batch.is_none())
    );
}

#[test]
fn saved_sync_states_make_a_reconnect_cheaper() {
    // Same edit, synced once with restored states and once from scratch: compare bytes.
    let cost = |restore: bool| {
        let (mut net, s, c, _, docs) = synced_fleet(1);
        // A long history, synced, then one more edit.
        for i in 0..200 {
            net.put(c, docs[0], &format!("k{i}"), "v");
        }
        let conn = net.connect(c, s, SERVER);
        net.run_until_quiescent(STEPS);
        net.disconnect(conn);
        net.put(c, docs[0], "last", "edit");
        if !restore {
            net.nodes[c].saved.clear();
            net.nodes[s].saved.clear();
        }
        let before = net.sent.len();
        net.connect(c, s, SERVER);
        net.run_until_quiescent(STEPS);
        net.sent[before..].iter().map(|x| x.bytes).sum::<usize>()
    };
    let with = cost(true);
    let without = cost(false);
    assert!(
        with < without,
        "restored {with} bytes, fresh {without} bytes"
    );
}

#[test]
fn documents_load_on_demand_and_unload_when_idle() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let d = doc_id(9);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert_eq!(net.nodes[s].engine.loaded_count(), 1);

    net.advance(10 * 60 * 1000);
    net.event(s, Event::Tick);
    assert_eq!(net.nodes[s].engine.loaded_count(), 0);
    assert!(
        net.nodes[s].engine.catalog().contains_key(&d),
        "heads stay in the catalog"
    );

    net.put(a, d, "name", "Ada L.");
    net.run_until_quiescent(STEPS);
    assert!(net.nodes[s]
        .log
        .iter()
        .any(|x| matches!(x, Action::Load { documents } if documents == &vec![d])));
    assert_eq!(
        get(&net.stored(s, &d).unwrap(), "name").as_deref(),
        Some("Ada L.")
    );
}

#[test]
fn settled_documents_unload_but_the_most_recent_stay() {
    let mut net = Net::new();
    let mut config = server_config();
    config.keep_settled = 1;
    let s = net.add(config);
    let a = net.add(plain("alice"));
    let (old, hot) = (doc_id(21), doc_id(22));
    net.put(a, old, "name", "Ada");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.put(a, hot, "name", "Bea");
    net.run_until_quiescent(STEPS);
    assert_eq!(net.nodes[s].engine.loaded_count(), 2);
    assert_eq!(
        net.nodes[s].engine.unload_settled(),
        1,
        "the older one goes"
    );
    assert!(net.nodes[s].engine.document(&old).is_none());
    assert!(net.nodes[s].engine.document(&hot).is_some());

    // The kept document takes its next change without a load.
    let loads = |net: &Net| {
        net.nodes[s]
            .log
            .iter()
            .filter(|x| matches!(x, Action::Load { .. }))
            .count()
    };
    let before = loads(&net);
    net.put(a, hot, "name", "Bea L.");
    net.run_until_quiescent(STEPS);
    assert_eq!(net.nodes[s].engine.unload_settled(), 0);
    assert_eq!(loads(&net), before);
    assert_eq!(
        get(&net.stored(s, &hot).unwrap(), "name").as_deref(),
        Some("Bea L.")
    );
}

#[test]
fn a_restarted_server_serves_registered_documents() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(ours("alice"));
    let d = doc_id(10);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);

    // A new server engine over the same store, told what storage holds.
    let store = net.nodes[s].store.clone();
    let s2 = net.add(server_config());
    net.nodes[s2].store = store;
    let heads = net.stored(s2, &d).unwrap().get_heads();
    net.nodes[s2].engine.register_stored([(d, heads)]);
    let before = net.sent.len();
    net.connect(a, s2, SERVER);
    net.run_until_quiescent(STEPS);
    let types: Vec<_> = net.sent[before..]
        .iter()
        .map(|x| x.message.type_name())
        .collect();
    assert_eq!(types, ["join", "peer", "crm-summary", "crm-summary-reply"]);
    assert_eq!(
        net.nodes[s2].engine.loaded_count(),
        0,
        "a matching summary loads nothing"
    );
}

#[test]
fn ephemeral_messages_are_relayed_once() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    let d = doc_id(11);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);
    let send = |net: &mut Net, count| {
        net.event(
            a,
            Event::SendEphemeral {
                document_id: d,
                session_id: "sess".parse().unwrap(),
                count,
                data: vec![1, 2, 3],
            },
        );
        net.run_until_quiescent(STEPS);
    };
    send(&mut net, 1);
    send(&mut net, 1); // a duplicate
    send(&mut net, 2);
    let got: Vec<_> = net.nodes[b]
        .log
        .iter()
        .filter_map(|x| match x {
            Action::Ephemeral { sender_id, .. } => Some(sender_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![peer("alice"), peer("alice")]);
}

#[test]
fn persist_comes_before_any_send_in_the_same_batch_of_actions() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    let d = doc_id(12);
    net.put(a, d, "name", "Ada");
    net.connect(a, s, SERVER);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);
    // Replay what alice sent, plus one more edit, into a fresh server and look at raw actions.
    net.put(a, d, "name", "Ada L.");
    net.run_until_quiescent(STEPS);
    let frames: Vec<Vec<u8>> = net
        .sent
        .iter()
        .filter(|x| x.from == a && x.to == s)
        .map(|x| protocol::encode(&x.message))
        .collect();
    let mut fresh = crate::engine::Engine::new(server_config());
    fresh.handle(
        Timestamp(0),
        Event::Accepted {
            conn: ConnectionId(1),
        },
    );
    let mut persisted = 0;
    for bytes in frames {
        let mut actions = fresh.handle(
            Timestamp(0),
            Event::Frame {
                conn: ConnectionId(1),
                bytes,
            },
        );
        if let Some(Action::Load { documents }) = actions.last() {
            let documents = documents.iter().map(|d| (*d, None)).collect();
            actions = fresh.handle(Timestamp(0), Event::Loaded { documents });
        }
        if let Some(p) = actions
            .iter()
            .position(|x| matches!(x, Action::Persist { .. }))
        {
            persisted += 1;
            assert!(
                !actions[..p]
                    .iter()
                    .any(|x| matches!(x, Action::Send { .. })),
                "a send preceded the persist: {actions:?}"
            );
        }
    }
    assert!(persisted >= 2);
}

#[test]
fn a_few_changes_in_a_big_set_list_only_differing_buckets() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(ours("alice"));
    let docs: Vec<_> = (1..=12u8)
        .map(|n| crate::DocumentId::from_bytes([n.wrapping_mul(53); 16]))
        .collect();
    for d in &docs {
        net.put(a, *d, "name", "Ada");
    }
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    for d in &docs {
        assert!(net.stored(s, d).is_some(), "uploaded");
    }

    // Alice restarts with only the summary of her store (no catalog), edits two documents offline.
    let conn = *net.links.keys().next().unwrap();
    net.disconnect(conn);
    net.run_until_quiescent(STEPS);
    let a2 = net.add(ours("alice"));
    net.nodes[a2].store = net.nodes[a].store.clone();
    net.put(a2, docs[2], "name", "Ada L.");
    net.put(a2, docs[7], "name", "Ada K.");
    let mut summary = protocol::SetSummary::default();
    for (id, bytes) in &net.nodes[a2].store {
        let heads = automerge::Automerge::load(bytes).unwrap().get_heads();
        summary.add(id, &protocol::doc_digest(id, &heads));
    }
    net.nodes[a2].engine = crate::engine::Engine::new(ours("alice"));
    net.nodes[a2].engine.register_summary(summary);
    let before = net.sent.len();
    net.connect(a2, s, SERVER);
    net.run_until_quiescent(STEPS);
    let types: Vec<_> = net.sent[before..]
        .iter()
        .map(|x| x.message.type_name())
        .collect();
    assert_eq!(
        &types[..6],
        [
            "join",
            "peer",
            "crm-summary",
            "crm-summary-reply",
            "crm-buckets",
            "crm-bucket-entries"
        ]
    );
    let asked = net.sent[before..]
        .iter()
        .find_map(|x| match &x.message {
            Message::CrmBuckets { buckets, .. } => Some(buckets.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        asked.len(),
        2,
        "only the two changed documents' buckets: {asked:?}"
    );
    assert!(net.nodes[a2]
        .log
        .iter()
        .any(|x| matches!(x, Action::LoadCatalog { buckets: Some(b) } if b.len() == 2)));
    assert!(net.nodes[a2]
        .log
        .iter()
        .any(|x| matches!(x, Action::SummaryCompared { differing: 2, .. })));
    assert!(net.nodes[a2].engine.is_synced_with(&peer("server")));
    assert_eq!(
        get(&net.stored(s, &docs[2]).unwrap(), "name").as_deref(),
        Some("Ada L.")
    );
    assert_eq!(
        get(&net.stored(s, &docs[7]).unwrap(), "name").as_deref(),
        Some("Ada K.")
    );

    // And a reconnect with nothing changed matches at once.
    let mut summary = protocol::SetSummary::default();
    for (id, bytes) in &net.nodes[a2].store {
        let heads = automerge::Automerge::load(bytes).unwrap().get_heads();
        summary.add(id, &protocol::doc_digest(id, &heads));
    }
    let conn = *net.links.iter().rev().find(|(_, l)| l.open).unwrap().0;
    net.disconnect(conn);
    net.run_until_quiescent(STEPS);
    net.nodes[a2].engine = crate::engine::Engine::new(ours("alice"));
    net.nodes[a2].engine.register_summary(summary);
    let before = net.sent.len();
    net.connect(a2, s, SERVER);
    net.run_until_quiescent(STEPS);
    let types: Vec<_> = net.sent[before..]
        .iter()
        .map(|x| x.message.type_name())
        .collect();
    assert_eq!(types, ["join", "peer", "crm-summary", "crm-summary-reply"]);
}

#[test]
fn a_document_fetched_whole_is_persisted_as_it_came() {
    let mut net = Net::new();
    let s = net.add(server_config());
    let a = net.add(plain("alice"));
    let b = net.add(plain("bob"));
    let d = doc_id(40);
    net.put(a, d, "name", "Ada");
    net.put(a, d, "city", "London");
    net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.connect(b, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.event(b, Event::Want { document_id: d });
    net.run_until_quiescent(STEPS);

    // Bob had nothing: the server sent the whole document, which bob stored as one document
    // chunk (compact, loads fast) rather than re-encoding it as a run of changes.
    let persisted: Vec<&Vec<u8>> = net.nodes[b]
        .log
        .iter()
        .filter_map(|x| match x {
            Action::Persist {
                document_id,
                changes,
            } if *document_id == d => Some(changes),
            _ => None,
        })
        .collect();
    assert_eq!(persisted.len(), 1);
    assert!(crate::engine::exchange::is_document_chunk(persisted[0]));
    let fetched = net.stored(b, &d).expect("bob persisted the document");
    assert_eq!(get(&fetched, "city").as_deref(), Some("London"));
    assert_eq!(fetched.get_heads(), net.stored(a, &d).unwrap().get_heads());
}

#[test]
fn document_chunks_are_told_from_other_bytes() {
    use automerge::transaction::Transactable;
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "name", "Ada").unwrap();
    let whole = doc.save();
    assert!(crate::engine::exchange::is_document_chunk(&whole));
    doc.put(automerge::ROOT, "name", "Grace").unwrap();
    let change = doc.save_incremental();
    assert!(!crate::engine::exchange::is_document_chunk(&change));
    let mut two = whole.clone();
    two.extend_from_slice(&change);
    assert!(!crate::engine::exchange::is_document_chunk(&two));
    assert!(!crate::engine::exchange::is_document_chunk(
        &whole[..whole.len() - 1]
    ));
    assert!(!crate::engine::exchange::is_document_chunk(&[]));
}

/// The items of every `crm-batch` sent from `from` to `to` after `since`.
fn batch_items(net: &Net, since: usize, from: usize, to: usize) -> Vec<protocol::BatchItem> {
    net.sent[since..]
        .iter()
        .filter(|x| x.from == from && x.to == to)
        .flat_map(|x| match &x.message {
            Message::CrmBatch { items, .. } => items.clone(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_fresh_device_fetches_every_document_whole_as_stored() {
    let (mut net, s, _, _, docs) = disk_only_fleet(10);
    // The server holds them on disk only (as after its round: nothing in flight stays loaded).
    net.nodes[s].engine.unload_settled();
    assert_eq!(net.nodes[s].engine.loaded_count(), 0);
    let fresh = net.add(ours("fresh"));
    let before = net.sent.len();
    let log_before = net.nodes[s].log.len();
    let conn = net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);

    // Up: one fetch per document, in one batch; down: each document's stored bytes.
    let up = batch_items(&net, before, fresh, s);
    assert_eq!(up.len(), docs.len());
    assert!(up
        .iter()
        .all(|i| i.kind == BatchKind::Fetch && i.data.is_empty()));
    let down = batch_items(&net, before, s, fresh);
    assert_eq!(down.len(), docs.len());
    for item in &down {
        assert_eq!(item.kind, BatchKind::Doc);
        assert_eq!(Some(&item.data), net.nodes[s].store.get(&item.document_id));
    }
    // ...stored as they came, at the server's heads.
    for d in &docs {
        assert_eq!(net.nodes[fresh].store.get(d), net.nodes[s].store.get(d));
        assert_eq!(
            net.stored(fresh, d).unwrap().get_heads(),
            net.stored(s, d).unwrap().get_heads()
        );
    }
    // The server never loaded them into Automerge, persisted nothing, and nothing was
    // acknowledged: one round trip of fetches and documents after the summary.
    let server_log = &net.nodes[s].log[log_before..];
    assert!(!server_log
        .iter()
        .any(|a| matches!(a, Action::Load { .. } | Action::Persist { .. })));
    assert!(server_log
        .iter()
        .any(|a| matches!(a, Action::LoadRaw { .. })));
    assert_eq!(net.nodes[s].engine.loaded_count(), 0);
    assert_eq!(
        net.sent_types(fresh, s)[..],
        ["join", "crm-summary", "crm-batch"]
    );
    assert!(net.nodes[fresh].engine.is_synced_with(&peer("server")));
    assert!(net.nodes[s].engine.is_synced_with(&peer("fresh")));

    // The saved sync states hold the heads both sides have: the next reconnect is one small
    // round trip, and a later change costs only that change.
    net.disconnect(conn);
    let saved = net.nodes[fresh].saved.get(SERVER).cloned().unwrap();
    assert_eq!(saved.len(), docs.len());
    for (id, bytes) in &saved {
        let state = automerge::sync::State::decode(bytes).unwrap();
        assert_eq!(state.shared_heads, net.stored(s, id).unwrap().get_heads());
    }
    let before = net.sent.len();
    let conn = net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    let types: Vec<_> = net.sent[before..]
        .iter()
        .map(|x| x.message.type_name())
        .collect();
    assert_eq!(types, ["join", "peer", "crm-summary", "crm-summary-reply"]);
    net.disconnect(conn);
}

/// (kind, document) of every document message sent from `from` to `to` after `since`.
fn doc_messages(
    net: &Net,
    since: usize,
    from: usize,
    to: usize,
) -> Vec<(BatchKind, crate::DocumentId)> {
    net.sent[since..]
        .iter()
        .filter(|x| x.from == from && x.to == to)
        .flat_map(|x| match &x.message {
            Message::CrmBatch { items, .. } => {
                items.iter().map(|i| (i.kind, i.document_id)).collect()
            }
            Message::Sync { document_id, .. } => vec![(BatchKind::Sync, *document_id)],
            Message::Request { document_id, .. } => vec![(BatchKind::Request, *document_id)],
            Message::DocUnavailable { document_id, .. } => {
                vec![(BatchKind::DocUnavailable, *document_id)]
            }
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_change_after_a_fetch_costs_only_that_change() {
    let (mut net, s, c, _, docs) = disk_only_fleet(3);
    net.nodes[s].engine.unload_settled();
    let fresh = net.add(ours("fresh"));
    let conn = net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.disconnect(conn);
    // The uploader changes one document; the fresh device then syncs just that one, from the
    // state it saved after the fetch.
    let cc = net.connect(c, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.put(c, docs[1], "n", "changed");
    net.run_until_quiescent(STEPS);
    net.disconnect(cc);
    let before = net.sent.len();
    net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert_eq!(
        get(&net.stored(fresh, &docs[1]).unwrap(), "n").as_deref(),
        Some("changed")
    );
    let down = doc_messages(&net, before, s, fresh);
    assert!(!down.is_empty());
    assert!(down.iter().all(|m| *m == (BatchKind::Sync, docs[1])));
    let up = doc_messages(&net, before, fresh, s);
    assert!(up.iter().all(|m| *m == (BatchKind::Sync, docs[1])));
}

#[test]
fn a_fetch_of_a_document_in_memory_is_answered_with_the_sync_protocol() {
    // The server still holds the documents in memory (in flight elsewhere, or unsaved):
    // it answers from that copy, as it would a request, and the client converges.
    let (mut net, s, _, _, docs) = synced_fleet(4);
    assert!(net.nodes[s].engine.loaded_count() > 0);
    let fresh = net.add(ours("fresh"));
    let before = net.sent.len();
    net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    let down = batch_items(&net, before, s, fresh);
    assert!(down.iter().any(|i| i.kind == BatchKind::Sync));
    for d in &docs {
        assert_eq!(
            net.stored(fresh, d).unwrap().get_heads(),
            net.stored(s, d).unwrap().get_heads()
        );
    }
    assert!(net.nodes[fresh].engine.is_synced_with(&peer("server")));
}

#[test]
fn a_fetch_of_a_denied_document_looks_like_one_of_an_unknown_document() {
    let secret = doc_id(60);
    let open = doc_id(61);
    let unknown = doc_id(62);
    let mut net = Net::new();
    let policy = FnPolicy {
        read: move |ctx: crate::engine::PeerContext<'_>, d: &crate::DocumentId| {
            !(ctx.peer_id.as_str() == "fresh" && *d == secret)
        },
        write: |_: crate::engine::PeerContext<'_>, _: &crate::DocumentId| true,
    };
    let mut config = server_config();
    config.keep_settled = 0;
    let s = net.add_with_policy(config, Box::new(policy));
    let a = net.add(ours("alice"));
    net.put(a, secret, "salary", "a lot");
    net.put(a, open, "name", "Acme");
    let conn = net.connect(a, s, SERVER);
    net.run_until_quiescent(STEPS);
    net.disconnect(conn);
    net.nodes[s].engine.unload_settled();

    // The summary leaves the secret out, so a restore never asks for it...
    let fresh = net.add(ours("fresh"));
    let conn = net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert!(net.stored(fresh, &open).is_some());
    assert!(net.stored(fresh, &secret).is_none());
    net.disconnect(conn);
    // ...and a fetch for it anyway gets the answer one for a missing document gets.
    let conn = ConnectionId(100);
    net.event(s, Event::Accepted { conn });
    let handle = |net: &mut Net, frame: &Message| {
        net.nodes[s].engine.handle(
            Timestamp(net.now),
            Event::Frame {
                conn,
                bytes: protocol::encode(frame),
            },
        )
    };
    handle(
        &mut net,
        &Message::Join {
            sender_id: peer("fresh"),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
                crm_batch: Some(protocol::CRM_BATCH_VERSION),
            },
            supported_protocol_versions: None,
        },
    );
    let fetch = |d| Message::CrmBatch {
        sender_id: peer("fresh"),
        target_id: peer("server"),
        items: vec![protocol::BatchItem {
            kind: BatchKind::Fetch,
            document_id: d,
            data: Vec::new(),
        }],
    };
    let unavailable = |d| {
        vec![Action::Send {
            conn,
            message: Message::DocUnavailable {
                sender_id: peer("server"),
                target_id: peer("fresh"),
                document_id: d,
            },
        }]
    };
    assert_eq!(handle(&mut net, &fetch(secret)), unavailable(secret));
    assert_eq!(handle(&mut net, &fetch(unknown)), unavailable(unknown));
    // The open one is read raw for that peer.
    assert_eq!(
        handle(&mut net, &fetch(open)),
        vec![Action::LoadRaw {
            documents: vec![open]
        }]
    );
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

#[test]
fn a_fetch_interrupted_by_a_disconnect_completes_on_the_next_connect() {
    let (mut net, s, _, _, docs) = disk_only_fleet(6);
    net.nodes[s].engine.unload_settled();
    let fresh = net.add(ours("fresh"));
    let before = net.sent.len();
    let conn = net.connect(fresh, s, SERVER);
    // Deliver the join, the summary and the fetches, then cut the line before the documents.
    for _ in 0..5 {
        for key in net.busy() {
            net.deliver(key);
        }
    }
    assert_eq!(batch_items(&net, before, s, fresh).len(), docs.len());
    net.disconnect(conn);
    assert!(docs.iter().all(|d| net.stored(fresh, d).is_none()));
    net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    for d in &docs {
        assert_eq!(
            net.stored(fresh, d).unwrap().get_heads(),
            net.stored(s, d).unwrap().get_heads()
        );
    }
    assert!(net.nodes[fresh].engine.is_synced_with(&peer("server")));
}

#[test]
fn a_document_that_does_not_load_ends_the_session_and_stores_nothing() {
    let d = doc_id(70);
    let mut net = Net::new();
    let s = net.add(server_config());
    let fresh = net.add(ours("fresh"));
    // The server's storage holds bytes that are no document (a damaged file).
    net.nodes[s].store.insert(d, b"not a document".to_vec());
    let heads = vec![automerge::ChangeHash([7; 32])];
    net.nodes[s].engine.register_stored([(d, heads)]);
    net.connect(fresh, s, SERVER);
    net.run_until_quiescent(STEPS);
    assert!(!net.nodes[fresh].store.contains_key(&d));
    assert!(net.nodes[fresh].log.iter().any(|a| matches!(a,
        Action::Close { code, .. } if *code == close_code::INVALID_DATA)));
}
