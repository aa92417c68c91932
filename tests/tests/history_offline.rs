//! `crm history` tells a change made while a sync session of the data dir was connected to the
//! server (OFFLINE no) from one made with none connected (OFFLINE yes), with the real server,
//! a user, a book, a grant and a token.

use crm_tests::{wait_for, SyncServer};
use serde_json::Value;
use std::time::Duration;

/// The `offline` mark of each change of a record, oldest first.
fn offline_marks(history: &Value) -> Vec<Option<bool>> {
    history
        .as_array()
        .expect("crm history --json prints an array")
        .iter()
        .map(|e| e["offline"].as_bool())
        .collect()
}

/// The OFFLINE column of the `crm history` table, oldest first.
fn offline_column(table: &str) -> Vec<String> {
    let mut lines = table.lines().skip_while(|l| !l.contains("OFFLINE"));
    let header = lines.next().expect("the table has a header with OFFLINE");
    let at = header.find("OFFLINE").expect("an OFFLINE column");
    let who = header.find("WHO").expect("a WHO column");
    // One line per change: its first field's, the one naming who made it.
    lines
        .filter(|l| l.len() > at && l.get(who..).is_some_and(|w| w.starts_with("ana")))
        .map(|l| l[at..].split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_change_made_while_a_sync_is_connected_is_not_offline() {
    let server = SyncServer::start();
    server.admin(&["user", "add", "ana"]);
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    let ana = server.device("ana", "north", &server.token("ana"));

    // No sync running: offline.
    let id = ana.add(&["contact", "add", "--name", "Carla Duarte"]);
    assert_eq!(
        offline_marks(&ana.json(&["history", &id])),
        vec![Some(true)]
    );
    assert!(!crm_client::live::is_live(ana.dir()));

    // `crm sync --watch` connected: not offline.
    let watch = ana.watch();
    assert!(
        wait_for(Duration::from_secs(20), || crm_client::live::is_live(
            ana.dir()
        )),
        "the watch never connected"
    );
    ana.ok(&["contact", "edit", &id, "--title", "Buyer"]);
    assert_eq!(
        offline_marks(&ana.json(&["history", &id])),
        vec![Some(true), Some(false)]
    );

    // The watch stopped (killed, as a closed laptop lid would): offline again.
    drop(watch);
    assert!(!crm_client::live::is_live(ana.dir()));
    ana.ok(&["contact", "edit", &id, "--title", "Head of Purchasing"]);
    assert_eq!(
        offline_marks(&ana.json(&["history", &id])),
        vec![Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        offline_column(&ana.ok(&["history", &id])),
        vec!["yes", "no", "yes"]
    );
}
