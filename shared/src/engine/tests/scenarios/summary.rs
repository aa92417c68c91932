//! Summary reconciliation (`crmBatch`): what a connect costs when everything, something or
//! nothing changed, and what a plain automerge-repo client sees of it.

use crate::engine::tests::network::{doc_id, get, peer, Net};
use crate::engine::{Action, Event};
use crate::protocol::{self, BatchKind, Message};

use super::{ours, plain, server_config, synced_fleet, SERVER, STEPS};

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
