//! The per-document exchange: uploads, requests, unknown documents, fan-out, the durability
//! order of persists and sends, and documents that arrive whole.

use crate::engine::tests::network::{doc_id, get, peer, Net};
use crate::engine::{Action, ConnectionId, Event, Timestamp};
use crate::protocol::{self};

use super::{plain, server_config, SERVER, STEPS};

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
