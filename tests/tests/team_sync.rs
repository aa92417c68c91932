//! Records reach the team in its real setup: a server with users, books, grants and tokens, reps
//! syncing live (`crm sync --watch`) and now and then, and a server restored from a backup.

use crm_tests::{contact_names, wait_for, SyncServer};
use std::time::Duration;

#[test]
fn a_record_made_while_watching_reaches_the_other_rep_of_the_book() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let watcher = bruno.watch();
    assert!(
        wait_for(Duration::from_secs(20), || watcher
            .output()
            .contains("Syncing live")),
        "the watcher starts: {}",
        watcher.output()
    );
    bruno.add(&["contact", "add", "--name", "Made During Watch"]);
    let arrived = wait_for(Duration::from_secs(20), || {
        ana.ok(&["sync"]);
        contact_names(&ana) == ["Made During Watch"]
    });
    assert!(
        arrived,
        "a contact added while bruno watches reaches ana: she has {:?}; watcher said:\n{}\nserver log:\n{}",
        contact_names(&ana),
        watcher.output(),
        server.log()
    );
    // And the other way: what ana adds reaches bruno's watching laptop without his asking.
    ana.add(&["contact", "add", "--name", "Sent To A Watcher"]);
    ana.ok(&["sync"]);
    assert!(
        wait_for(Duration::from_secs(20), || contact_names(&bruno)
            .contains(&"Sent To A Watcher".to_string())),
        "ana's contact reaches bruno's watcher: {:?}",
        contact_names(&bruno)
    );
    // The watcher said what it sent and received, one line each.
    let said = |what: &str| watcher.output().lines().any(|l| l.contains(what));
    assert!(
        wait_for(Duration::from_secs(10), || said("sent changes of 1 record")
            && said("received 1 record (1 new, 0 updated)")),
        "{}",
        watcher.output()
    );
}

#[test]
fn a_watcher_says_when_it_reconnects() {
    let mut server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let watcher = bruno.watch();
    assert!(
        wait_for(Duration::from_secs(20), || watcher
            .output()
            .contains("connected to ws://")),
        "{}",
        watcher.output()
    );
    server.kill9();
    server
        .restart_on_same_port()
        .expect("the server restarts on its address");
    assert!(
        wait_for(Duration::from_secs(40), || watcher
            .output()
            .contains("reconnected to ws://")),
        "{}\nserver log:\n{}",
        watcher.output(),
        server.log()
    );
    // And it still syncs live after the reconnect.
    ana.add(&["contact", "add", "--name", "After The Restart"]);
    ana.ok(&["sync"]);
    assert!(wait_for(Duration::from_secs(20), || contact_names(&bruno)
        == ["After The Restart"]));
}

#[test]
fn a_record_someone_else_removed_is_named_with_the_way_back() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let ines = ana.add(&["contact", "add", "--name", "Ines Duarte"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    // Bruno edits it offline while ana removes it.
    bruno.ok(&["contact", "edit", &ines, "--title", "CFO"]);
    ana.ok(&["contact", "rm", &ines]);
    ana.ok(&["sync"]);
    let said = bruno.ok(&["sync"]);
    assert!(
        said.contains("1 record removed by someone else")
            && said.contains("contact \"Ines Duarte\"")
            && said.contains(&format!("crm contact rm {ines} --restore")),
        "{said}"
    );
    assert!(contact_names(&bruno).is_empty());
    // His edit is kept in the removed record and comes back with it.
    bruno.ok(&["contact", "rm", &ines, "--restore"]);
    assert_eq!(bruno.json(&["contact", "show", &ines])["title"], "CFO");
    let report = bruno.json(&["sync"]);
    assert_eq!(report["records"], serde_json::json!([]), "{report}");
}

#[test]
fn records_made_after_a_backup_come_back_after_a_restore() {
    let mut server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    ana.add(&["contact", "add", "--name", "Before Backup"]);
    ana.ok(&["sync"]);
    let backup = server.data_dir().with_file_name("backup.sqlite3");
    server.admin(&["backup", "--to", backup.to_str().expect("a UTF-8 path")]);

    // After the backup: ana adds a record and edits the old one, bruno adds one; all synced.
    let after = ana.add(&["contact", "add", "--name", "After Backup"]);
    let before = ana.ids("contact");
    let old = before
        .iter()
        .find(|id| **id != after)
        .expect("the old record");
    ana.ok(&["contact", "edit", old, "--title", "Edited After Backup"]);
    ana.ok(&["sync"]);
    bruno.add(&["contact", "add", "--name", "Bruno After Backup"]);
    bruno.ok(&["sync"]);

    // The server's disk is lost; IT restores last night's backup.
    server.kill9();
    let restored = std::process::Command::new(crm_tests::sync_server_bin())
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--data-dir")
        .arg(server.data_dir())
        .output()
        .expect("crm-sync-server restore runs");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    // Same address: the laptops' saved sync states are of the server before the restore.
    server
        .restart_on_same_port()
        .expect("the server restarts on its address");

    // The laptops re-offer what the restored server lacks; nothing is "no longer shared".
    for rep in [&ana, &bruno] {
        let report = rep.json(&["sync"]);
        assert_eq!(report["unshared"], 0, "{report}");
        assert_eq!(report["refused"], 0, "{report}");
    }
    // A new laptop has everything, including the edit made after the backup.
    let fresh = server.device("ana", "north", &server.token("ana"));
    assert_eq!(
        contact_names(&fresh),
        ["After Backup", "Before Backup", "Bruno After Backup"]
    );
    let shown = fresh.json(&["contact", "show", old]);
    assert_eq!(shown["title"], "Edited After Backup", "{shown}");
}

#[test]
fn after_a_restore_a_record_moved_away_is_unshared_not_refused() {
    let mut server = SyncServer::start();
    let (ana, _bruno) = server.north_team();
    for args in [
        &["user", "add", "max", "--role", "manager"][..],
        &["book", "add", "south"],
    ] {
        server.admin(args);
    }
    let max = server.device("max", "north", &server.token("max"));
    let ines = ana.add(&["contact", "add", "--name", "Ines Duarte"]);
    ana.ok(&["sync"]);
    max.ok(&["sync"]);
    let backup = server.data_dir().with_file_name("backup.sqlite3");
    server.admin(&["backup", "--to", backup.to_str().expect("a UTF-8 path")]);
    // The manager moves it to south after the backup; the server is then restored from it.
    max.ok(&["move", &ines, "--book", "south"]);
    max.ok(&["sync"]);
    server.kill9();
    server.admin(&["restore", "--from", backup.to_str().expect("a UTF-8 path")]);
    server
        .restart_on_same_port()
        .expect("the server restarts on its address");
    // The manager's laptop sends the move again; ana's copy (from before the move) strands
    // nothing: it is no longer shared with her, not refused.
    let max_token = server.token("max");
    max.ok(&["sync", "--token", &max_token]);
    let ana_token = server.token("ana");
    let out = ana.run(&["--json", "sync", "--token", &ana_token]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["refused"], 0, "{report}");
    assert_eq!(report["unshared"], 1, "{report}");
    assert_eq!(report["records"][0]["records"][0]["id"], ines.as_str());
}

#[test]
fn a_case_won_and_lost_at_once_is_named_by_the_sync_that_merges_it() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let deal = ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--amount",
        "1000",
        "--currency",
        "EUR",
    ]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    // Offline, each moves it: ana loses it, bruno wins it.
    ana.ok(&[
        "case", "move", &deal, "--stage", "lost", "--reason", "price",
    ]);
    bruno.ok(&["case", "move", &deal, "--stage", "won"]);
    ana.ok(&["sync"]);
    let report = bruno.json(&["sync"]);
    let group = report["records"]
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["cause"] == "attention"))
        .unwrap_or_else(|| panic!("no record to settle: {report}"));
    assert_eq!(group["records"][0]["id"], deal.as_str(), "{report}");
    assert!(
        group["why"]
            .as_str()
            .is_some_and(|w| w.contains("won and lost")),
        "{report}"
    );
    // Settled as the line says, the next sync names nothing.
    bruno.ok(&["resolve", &deal, "stage", "won"]);
    let report = bruno.json(&["sync"]);
    assert_eq!(report["records"], serde_json::json!([]), "{report}");
    let shown = bruno.json(&["case", "show", &deal]);
    assert!(shown.get("loss_reason").is_none(), "{shown}");
}
