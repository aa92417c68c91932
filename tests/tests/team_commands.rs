//! Everyday commands in the team's real setup: a server with users, books, grants and tokens, a
//! rep and a manager each on their own laptop. Bulk edits travel like any edit; a rep's laptop
//! refuses a manager's command once it knows the rep's role.

use crm_tests::{expect_clean_failure, expect_ok, message, rows, run_with_stdin, Crm, SyncServer};

/// Book `north` with reps ana and bruno and manager max; returns (ana, max) laptops.
fn north_team(server: &SyncServer) -> (Crm, Crm) {
    for args in [
        &["user", "add", "ana"][..],
        &["user", "add", "bruno"],
        &["user", "add", "max", "--role", "manager"],
        &["book", "add", "north"],
        &["grant", "ana", "north"],
        &["grant", "bruno", "north"],
    ] {
        server.admin(args);
    }
    let ana = server.device("ana", "north", &server.token("ana"));
    let max = server.device("max", "north", &server.token("max"));
    (ana, max)
}

fn owners(crm: &Crm) -> Vec<String> {
    let mut all: Vec<String> = rows(&crm.json(&["case", "list"]))
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r["title"].as_str().unwrap_or(""),
                r["owner"].as_str().unwrap_or("")
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_rep_reassigns_a_batch_of_cases_and_the_manager_receives_all_of_it() {
    let server = SyncServer::start();
    let (ana, max) = north_team(&server);
    for title in ["Fleet", "Vans", "Trucks"] {
        ana.add(&["case", "add", "--title", title, "--grade", "B"]);
    }
    ana.add(&["case", "add", "--title", "Kept", "--grade", "A"]);
    ana.ok(&["sync"]);
    let ids = ana.ok(&["case", "list", "--grade", "B", "--ids"]);
    assert_eq!(ids.lines().count(), 3, "{ids}");
    // A batch with an id of another kind is refused whole, naming its line.
    let contact = ana.add(&["contact", "add", "--name", "Not A Case"]);
    let mut cmd = ana.command();
    cmd.args(["case", "edit", "-", "--owner", "bruno"]);
    let err = expect_clean_failure(
        &["case", "edit", "-"],
        run_with_stdin(cmd, &format!("{ids}{contact}\n")),
    );
    assert!(message(&err).starts_with("line 4"), "{err}");
    assert!(owners(&ana).iter().all(|o| o.ends_with("=ana")));
    let mut cmd = ana.command();
    cmd.args(["case", "edit", "-", "--owner", "bruno"]);
    expect_ok(&["case", "edit", "-"], run_with_stdin(cmd, &ids));
    ana.ok(&["sync"]);
    max.ok(&["sync"]);
    assert_eq!(
        owners(&max),
        ["Fleet=bruno", "Kept=ana", "Trucks=bruno", "Vans=bruno"],
        "the manager receives the whole batch"
    );
    // The rep's history of one of them says who changed the owner, from where.
    let first = ids.lines().next().unwrap_or("");
    let history = max.ok(&["history", first]);
    assert!(history.contains("owner"), "{history}");
}

#[test]
fn a_rep_cannot_hand_over_another_reps_work_and_is_told_who_can() {
    let server = SyncServer::start();
    let (ana, max) = north_team(&server);
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    let visit = bruno.add(&[
        "activity",
        "add",
        "--kind",
        "visit",
        "--subject",
        "Plant tour",
        "--at",
        "2026-12-10T10:00",
    ]);
    bruno.ok(&["sync"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    // Ana's laptop knows she is a rep, and knows max is a manager by his user record.
    let err = ana.fail(&["handover", "--from", "bruno", "--to", "ana"]);
    let said = message(&err);
    assert!(said.contains("only a manager or an admin"), "{err}");
    assert!(
        said.contains("ana is a rep") && said.contains("ask max"),
        "{err}"
    );
    assert_eq!(ana.json(&["activity", "show", &visit])["owner"], "bruno");
    let err = ana.fail(&["settings", "probability", "proposal", "30"]);
    assert!(message(&err).contains("ask max"), "{err}");
    // Her own work she may hand over.
    ana.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Mine",
        "--at",
        "2026-12-11T09:00",
    ]);
    ana.ok(&["handover", "--from", "ana", "--to", "bruno"]);
    // The manager may; the rep receives the handover.
    max.ok(&["handover", "--from", "bruno", "--to", "ana"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert_eq!(ana.json(&["activity", "show", &visit])["owner"], "ana");
}

#[test]
fn a_laptop_that_never_learned_its_role_allows_a_handover_as_before() {
    let offline = Crm::init("ana");
    offline.add(&[
        "activity",
        "add",
        "--kind",
        "visit",
        "--subject",
        "Tour",
        "--at",
        "2026-12-10T10:00",
        "--owner",
        "bruno",
    ]);
    let out = offline.ok(&["handover", "--from", "bruno", "--to", "ana"]);
    assert!(out.contains("Handed 1 activities"), "{out}");
}
