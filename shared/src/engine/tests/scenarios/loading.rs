//! Document slots: loading on demand, unloading when idle or settled, and documents a restarted
//! server registers without loading them.

use crate::engine::tests::network::{doc_id, get, Net};
use crate::engine::{Action, Event};

use super::{ours, plain, server_config, SERVER, STEPS};

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
