//! `crm demo-data` keeps sample records out of real work: it refuses a data dir that holds real
//! records or syncs with a server unless given `--force`, marks every record it makes (`demo`),
//! and `crm demo-data --remove` removes them all (as `crm rm` does), also on the team's laptops.

use crm_tests::{contact_names, message, rows, Crm, SyncServer};
use serde_json::Value;

/// A small sample book: 3 organizations, 4 contacts, 2 cases, 5 activities.
const SMALL: [&str; 9] = [
    "demo-data",
    "--orgs",
    "3",
    "--contacts",
    "4",
    "--cases",
    "2",
    "--activities",
    "5",
];
const SMALL_TOTAL: u64 = 3 + 4 + 2 + 5;

fn small(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args = SMALL.to_vec();
    args.extend_from_slice(extra);
    args
}

/// Every organization, contact, case and activity that is not removed, as `show --json` prints it.
fn live_records(crm: &Crm) -> Vec<Value> {
    let mut all = Vec::new();
    for kind in ["org", "contact", "case", "activity"] {
        for row in rows(&crm.json(&[kind, "list", "--limit", "100000"])) {
            let id = row["id"].as_str().expect("every row has an id");
            all.push(crm.json(&[kind, "show", id]));
        }
    }
    all
}

#[test]
fn a_new_data_dir_gets_sample_records_each_marked_demo() {
    let crm = Crm::new();
    crm.ok(&small(&[]));
    let records = live_records(&crm);
    assert_eq!(records.len() as u64, SMALL_TOTAL);
    for r in &records {
        assert_eq!(
            r["demo"],
            Value::Bool(true),
            "not marked as sample data: {r}"
        );
    }
    // Sample data on top of sample data is still sample data.
    crm.ok(&small(&["--seed", "7"]));
    assert_eq!(live_records(&crm).len() as u64, 2 * SMALL_TOTAL);
    // `show` says so too.
    let id = rows(&crm.json(&["contact", "list", "--limit", "1"]))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = crm.ok(&["contact", "show", &id]);
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start().starts_with("demo") && l.trim_end().ends_with("yes")),
        "{shown}"
    );
}

#[test]
fn a_data_dir_with_real_records_is_refused_unless_forced() {
    let crm = Crm::init("ana");
    let real = crm.add(&["contact", "add", "--name", "Carla Duarte"]);
    let err = crm.fail(&small(&[]));
    let line = message(&err);
    assert!(
        line.contains("real records (the contact \"Carla Duarte\""),
        "{err}"
    );
    assert!(line.contains("--force"), "{err}");
    assert_eq!(contact_names(&crm), vec!["Carla Duarte"]);
    assert_eq!(crm.ids("org").len(), 0, "nothing half-written");

    crm.ok(&small(&["--force"]));
    assert_eq!(live_records(&crm).len() as u64, SMALL_TOTAL + 1);
    let carla = crm.json(&["contact", "show", &real]);
    assert!(
        carla.get("demo").is_none(),
        "a real record is not sample data: {carla}"
    );

    // --remove takes the sample records away and leaves the real one.
    let removed = crm.json(&["demo-data", "--remove"]);
    assert_eq!(removed["removed"], SMALL_TOTAL, "{removed}");
    assert_eq!(contact_names(&crm), vec!["Carla Duarte"]);
    for kind in ["org", "case", "activity"] {
        assert!(
            rows(&crm.json(&[kind, "list", "--limit", "100000"])).is_empty(),
            "a sample {kind} is left"
        );
    }
    // Removed as `crm rm` removes: flagged, still there.
    assert_eq!(crm.ids("contact").len(), 5);
    let text = crm.ok(&["demo-data", "--remove"]);
    assert!(text.contains("No sample records"), "{text}");
    let again = crm.json(&["demo-data", "--remove"]);
    assert_eq!(again["removed"], 0, "{again}");
}

#[test]
fn a_data_dir_that_syncs_is_refused_and_forced_samples_are_removed_for_the_team_too() {
    let server = SyncServer::start();
    for user in ["ana", "bruno"] {
        server.admin(&["user", "add", user]);
    }
    server.admin(&["book", "add", "north"]);
    server.admin(&["grant", "ana", "north"]);
    server.admin(&["grant", "bruno", "north"]);
    let ana = Crm::new();
    let ready = ana.ok(&[
        "init",
        "--user",
        "ana",
        "--book",
        "north",
        "--server",
        &server.url(),
        "--token",
        &server.token("ana"),
    ]);
    assert!(
        !ready.contains("demo-data"),
        "init suggests sample data on a data dir that syncs:\n{ready}"
    );
    let bruno = server.device("bruno", "north", &server.token("bruno"));

    let err = ana.fail(&small(&[]));
    let line = message(&err);
    assert!(line.contains(&server.url()), "{err}");
    assert!(line.contains("--force"), "{err}");
    assert!(live_records(&ana).is_empty(), "nothing half-written");

    // Forced: the samples reach the team, marked, and --remove takes them away everywhere.
    ana.ok(&small(&["--force"]));
    ana.add(&["contact", "add", "--name", "Real Rita"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    let received = live_records(&bruno);
    assert_eq!(received.len() as u64, SMALL_TOTAL + 1);
    assert_eq!(
        received
            .iter()
            .filter(|r| r["demo"] == Value::Bool(true))
            .count() as u64,
        SMALL_TOTAL
    );
    let removed = ana.json(&["demo-data", "--remove"]);
    assert_eq!(removed["removed"], SMALL_TOTAL, "{removed}");
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    assert_eq!(contact_names(&bruno), vec!["Real Rita"]);
    assert_eq!(live_records(&bruno).len(), 1);
}
