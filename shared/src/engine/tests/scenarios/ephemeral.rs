//! Ephemeral messages: relayed to the other peers once, duplicates dropped.

use crate::engine::tests::network::{doc_id, peer, Net};
use crate::engine::{Action, Event};

use super::{plain, server_config, SERVER, STEPS};

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
