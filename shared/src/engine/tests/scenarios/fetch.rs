//! Whole-document fetch: a fresh device fetches every document as stored; what follows a fetch;
//! a fetch of a document in memory, one interrupted by a disconnect, one that does not load.

use crate::engine::tests::network::{doc_id, get, peer, Net};
use crate::engine::{close_code, Action};
use crate::protocol::{self, BatchKind, Message};

use super::{disk_only_fleet, ours, server_config, synced_fleet, SERVER, STEPS};

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
