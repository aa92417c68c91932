//! `crm duplicates dismiss A B`: a pair said not to be the same is no longer listed nor flagged,
//! on this laptop and, once synced through the real server, on the team's; `--undo` takes it
//! back, and history shows both.

use crm_tests::{Crm, SyncServer};
use serde_json::Value;

/// Whether `crm duplicates KIND --json` lists the pair of `a` and `b`.
fn listed(crm: &Crm, kind: &str, a: &str, b: &str) -> bool {
    crm.json(&["duplicates", kind])["pairs"]
        .as_array()
        .expect("duplicates --json has pairs")
        .iter()
        .any(|p| {
            let ids = [p["a"]["id"].as_str(), p["b"]["id"].as_str()];
            ids.contains(&Some(a)) && ids.contains(&Some(b))
        })
}

fn dismissed(crm: &Crm, kind: &str) -> Vec<Value> {
    crm.json(&["duplicates", "dismissed", kind])["pairs"]
        .as_array()
        .expect("dismissed --json has pairs")
        .clone()
}

#[test]
fn a_dismissed_pair_is_no_longer_listed_until_the_dismissal_is_undone() {
    let crm = Crm::init("ana");
    let a = crm.add(&[
        "contact",
        "add",
        "--name",
        "Maria Silva",
        "--email",
        "m.silva@acme.pt",
    ]);
    let b = crm.add(&["contact", "add", "--name", "Maria Silva"]);
    let other = crm.add(&["contact", "add", "--name", "maria silva"]);
    assert!(listed(&crm, "contacts", &a, &b));

    let out = crm.run(&["duplicates", "dismiss", &a[..6], &b[..6]]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("Dismissed") && said.contains("--undo"),
        "{said}"
    );
    assert!(
        !listed(&crm, "contacts", &a, &b),
        "the dismissed pair is gone"
    );
    assert!(listed(&crm, "contacts", &a, &other), "other pairs stay");
    let kept = dismissed(&crm, "contacts");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["a"]["name"], "Maria Silva");
    // Both records say so in their history.
    for id in [&a, &b] {
        let history = crm.ok(&["history", id]);
        assert!(
            history.contains("dismissed as not a duplicate"),
            "{history}"
        );
    }
    // Dismissing it again changes nothing.
    let again = crm.run(&["duplicates", "dismiss", &b, &a]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already"),
        "{again:?}"
    );

    crm.ok(&["duplicates", "dismiss", &a, &b, "--undo"]);
    assert!(
        listed(&crm, "contacts", &a, &b),
        "listed again after --undo"
    );
    assert!(dismissed(&crm, "contacts").is_empty());
}

#[test]
fn a_pair_that_is_not_two_contacts_or_two_orgs_is_refused_in_one_line() {
    let crm = Crm::init("ana");
    let a = crm.add(&["contact", "add", "--name", "Maria Silva"]);
    let org = crm.add(&["org", "add", "--name", "Maria Silva Lda"]);
    let err = crm.fail(&["duplicates", "dismiss", &a, &org]);
    assert!(err.contains("two contacts or two organizations"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = crm.fail(&["duplicates", "dismiss", &a, &a]);
    assert!(err.contains("same record"), "{err}");
    let err = crm.fail(&["duplicates", "dismiss", &a, "zzzzzzzz"]);
    assert!(err.contains("zzzzzzzz"), "{err}");
    assert!(crm.json(&["duplicates", "dismissed"])["pairs"]
        .as_array()
        .is_some_and(Vec::is_empty));
}

#[test]
fn a_rep_dismissing_a_pair_takes_it_off_the_managers_list_through_the_server() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    server.admin(&["user", "add", "max", "--role", "manager"]);
    let max = server.device("max", "north", &server.token("max"));
    let mine = ana.add(&["org", "add", "--name", "Acme Pumps, Lda."]);
    let theirs = bruno.add(&["org", "add", "--name", "ACME PUMPS LDA"]);
    ana.ok(&["sync"]);
    bruno.ok(&["sync"]);
    max.ok(&["sync"]);
    assert!(
        listed(&max, "orgs", &mine, &theirs),
        "the manager sees the pair"
    );

    // Ana knows they are two companies: she dismisses the pair, and the team stops seeing it.
    bruno.ok(&["sync"]);
    ana.ok(&["sync"]);
    ana.ok(&["duplicates", "dismiss", &mine, &theirs]);
    ana.ok(&["sync"]);
    max.ok(&["sync"]);
    assert!(
        !listed(&max, "orgs", &mine, &theirs),
        "the manager no longer sees it"
    );
    assert_eq!(dismissed(&max, "orgs").len(), 1);
    bruno.ok(&["sync"]);
    assert!(!listed(&bruno, "orgs", &mine, &theirs));

    // The manager undoes it; Ana sees the pair again.
    max.ok(&["duplicates", "dismiss", &theirs, &mine, "--undo"]);
    max.ok(&["sync"]);
    ana.ok(&["sync"]);
    assert!(
        listed(&ana, "orgs", &mine, &theirs),
        "ana sees the pair again"
    );
}
