//! Sync states kept across sessions: a reconnect with saved states costs less than a fresh one.

use super::{synced_fleet, SERVER, STEPS};

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
