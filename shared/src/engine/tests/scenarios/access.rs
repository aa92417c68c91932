//! The access policy: a denied read (or fetch) looks exactly like an unknown document; a denied
//! write is not applied.

use crate::engine::tests::network::{doc_id, get, peer, Net};
use crate::engine::{Action, ConnectionId, Event, FnPolicy, Timestamp};
use crate::protocol::{self, BatchKind, Message, PeerMetadata};

use super::{ours, plain, server_config, SERVER, STEPS};

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
