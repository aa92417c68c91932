//! `crm duplicates`: likely duplicates found by shared e-mail, phone or folded name, and the
//! pairs a sync or a `crm merge` brings in flagged as needing attention, in the team's real
//! setup (a server with users, books, grants and tokens).

use crm_tests::{Crm, SyncServer};
use serde_json::Value;

/// The pairs of `crm duplicates KIND --json`.
fn pairs(crm: &Crm, kind: &str) -> Vec<Value> {
    crm.json(&["duplicates", kind])["pairs"]
        .as_array()
        .expect("duplicates --json has pairs")
        .clone()
}

/// The pair of `a` and `b` in `pairs`, if listed.
fn pair_of<'a>(pairs: &'a [Value], a: &str, b: &str) -> Option<&'a Value> {
    pairs.iter().find(|p| {
        let ids = [p["a"]["id"].as_str(), p["b"]["id"].as_str()];
        ids.contains(&Some(a)) && ids.contains(&Some(b))
    })
}

fn reasons(p: &Value) -> Vec<String> {
    p["reasons"]
        .as_array()
        .expect("a pair has reasons")
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn likely_duplicates_are_found_by_email_phone_and_folded_name_with_a_score_and_why() {
    let crm = Crm::init("ana");
    let ines = crm.add(&[
        "contact",
        "add",
        "--name",
        "Inês Duarte",
        "--email",
        "ines@acme.pt",
    ]);
    let duarte = crm.add(&[
        "contact",
        "add",
        "--name",
        "DUARTE, Ines",
        "--email",
        "INES@acme.pt",
    ]);
    let rui = crm.add(&[
        "contact",
        "add",
        "--name",
        "Rui Costa",
        "--phone",
        "+351 912 345 678",
    ]);
    let costa = crm.add(&[
        "contact",
        "add",
        "--name",
        "R. Costa",
        "--phone",
        "00351-912-345-678",
    ]);
    let sergei = crm.add(&["contact", "add", "--name", "Сергей Иванов"]);
    let ivanov = crm.add(&["contact", "add", "--name", "Sergei Ivanov"]);
    let alone = crm.add(&[
        "contact",
        "add",
        "--name",
        "Vera Lindqvist",
        "--email",
        "vera@x.se",
    ]);

    let found = pairs(&crm, "contacts");
    let same = pair_of(&found, &ines, &duarte).expect("same e-mail and folded name");
    assert_eq!(same["score"], 100, "{same}");
    let why = reasons(same);
    assert!(
        why.contains(&"same e-mail ines@acme.pt".to_string()),
        "{why:?}"
    );
    assert!(why.contains(&"same name".to_string()), "{why:?}");
    let phone = pair_of(&found, &rui, &costa).expect("one phone written two ways");
    assert_eq!(reasons(phone), ["same phone ...912345678"]);
    assert_eq!(phone["score"], 45);
    let script = pair_of(&found, &sergei, &ivanov).expect("one name in two scripts");
    assert_eq!(reasons(script), ["same name"]);
    assert!(
        found
            .iter()
            .all(|p| p["a"]["id"] != alone.as_str() && p["b"]["id"] != alone.as_str()),
        "a contact sharing nothing is in no pair: {found:?}"
    );
    // Best first.
    let scores: Vec<i64> = found
        .iter()
        .map(|p| p["score"].as_i64().unwrap_or(0))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // The table names them and says how to merge.
    let out = crm.run(&["duplicates"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Inês Duarte") && stdout.contains("same e-mail"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("crm merge-records"));
}

#[test]
fn contacts_at_the_same_organization_score_higher_and_orgs_are_listed_apart() {
    let crm = Crm::init("ana");
    let acme = crm.add(&["org", "add", "--name", "Acme Pumps, Lda."]);
    let acme2 = crm.add(&["org", "add", "--name", "ACME PUMPS LDA"]);
    let other = crm.add(&["org", "add", "--name", "Atlas Foods"]);
    let a = crm.add(&["contact", "add", "--name", "Luis Martins", "--org", &acme]);
    let b = crm.add(&["contact", "add", "--name", "Luís Martins", "--org", &acme]);
    let c = crm.add(&["contact", "add", "--name", "Luis Martins", "--org", &other]);

    let contacts = pairs(&crm, "contacts");
    let same_org = pair_of(&contacts, &a, &b).expect("same name, same org");
    assert_eq!(same_org["score"], 60);
    assert!(reasons(same_org).contains(&"same organization".to_string()));
    assert_eq!(pair_of(&contacts, &a, &c).expect("same name")["score"], 40);

    let orgs = pairs(&crm, "orgs");
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert!(pair_of(&orgs, &acme, &acme2).is_some());
}

#[test]
fn a_kind_that_is_not_contacts_or_orgs_is_refused_in_one_line() {
    let crm = Crm::init("ana");
    let err = crm.fail(&["duplicates", "cases"]);
    assert!(err.contains("contacts") && err.contains("orgs"), "{err}");
}

#[test]
fn two_reps_adding_the_same_person_offline_are_told_by_sync_and_shown_first() {
    let server = SyncServer::start();
    let (ana, bruno) = server.north_team();
    let mine = ana.add(&[
        "contact",
        "add",
        "--name",
        "Inês Duarte",
        "--email",
        "ines@acme.pt",
    ]);
    let theirs = bruno.add(&[
        "contact",
        "add",
        "--name",
        "Ines Duarte",
        "--phone",
        "912 345 678",
    ]);
    // Unrelated pairs already on one laptop are not news of a sync.
    bruno.add(&["contact", "add", "--name", "Old Pair"]);
    bruno.add(&["contact", "add", "--name", "old pair"]);
    let sent = bruno.ok(&["sync"]);
    assert!(!sent.contains("likely duplicate"), "{sent}");

    let told = ana.ok(&["sync"]);
    let line: Vec<&str> = told
        .lines()
        .filter(|l| l.contains("likely duplicate"))
        .collect();
    assert_eq!(line.len(), 1, "one line about it: {told}");
    assert!(
        line[0].contains("1 likely duplicate pair") && line[0].contains("Duarte"),
        "{told}"
    );
    assert!(line[0].contains("crm duplicates"), "{told}");
    assert_eq!(ana.json(&["sync"])["likely_duplicates"], 0, "told once");

    let found = pairs(&ana, "contacts");
    let flagged = pair_of(&found, &mine, &theirs).expect("the pair is listed");
    assert_eq!(flagged["attention"], true);
    assert_eq!(
        found[0], *flagged,
        "needing attention comes first: {found:?}"
    );
    let old = found
        .iter()
        .find(|p| p["a"]["name"] == "Old Pair" || p["b"]["name"] == "Old Pair");
    assert_eq!(old.expect("the old pair is listed")["attention"], false);

    // Merged, the pair needs nothing more.
    ana.ok(&["merge-records", &mine, &theirs]);
    let found = pairs(&ana, "contacts");
    assert!(pair_of(&found, &mine, &theirs).is_none(), "{found:?}");
    assert!(found.iter().all(|p| p["attention"] == false), "{found:?}");
}

#[test]
fn merging_another_data_dir_flags_the_duplicates_it_brings() {
    let here = Crm::init("ana");
    let there = Crm::init("ana");
    here.add(&[
        "contact",
        "add",
        "--name",
        "Rita Weber",
        "--email",
        "rita@weber.de",
    ]);
    there.add(&[
        "contact",
        "add",
        "--name",
        "Rita M. Weber",
        "--email",
        "Rita@Weber.de",
    ]);
    let dir = there.dir().to_str().expect("a UTF-8 path").to_string();
    let out = here.ok(&["merge", "--from", &dir]);
    assert!(out.contains("1 likely duplicate pair"), "{out}");
    let found = pairs(&here, "contacts");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["attention"], true);
}

#[test]
fn an_import_flags_the_duplicates_it_makes_with_records_already_here() {
    let ana = Crm::init("ana");
    let rita = ana.add(&[
        "contact",
        "add",
        "--name",
        "Rita Weber",
        "--email",
        "rita@weber.de",
    ]);
    // The same person under another address: the import cannot match her, so it adds her.
    let card = ana.dir().join("rita.vcf");
    std::fs::write(
        &card,
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Rita Weber\r\nN:Weber;Rita;;;\r\nEMAIL:rita.w@example.org\r\nEND:VCARD\r\n",
    )
    .expect("the card is written");
    let path = card.to_str().expect("a UTF-8 path");
    let out = ana.ok(&["import", path]);
    assert!(out.contains("1 likely duplicate pair"), "{out}");
    let found = pairs(&ana, "contacts");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["attention"], true);
    assert!(found[0]["a"]["id"] == rita.as_str() || found[0]["b"]["id"] == rita.as_str());
    // Importing the same card again makes nothing new to flag.
    let again = ana.json(&["import", path]);
    assert_eq!(again["likely_duplicates"], 0, "{again}");
}
