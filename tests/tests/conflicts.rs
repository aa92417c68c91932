//! Two replicas edit the same records offline and merge with `crm merge --from`: no edit is lost,
//! concurrent values of one field are kept as a conflict until resolved, and both replicas end
//! up identical.

use crm_tests::{message, rows, Crm};
use serde_json::Value;

/// What both replicas must agree on after merging: every list, every conflict, and each record
/// as `show --json` prints it.
fn view(crm: &Crm, shown: &[(&str, &str)]) -> Value {
    let mut v = crm.snapshot();
    for (kind, id) in shown {
        v[format!("{kind} {id}")] = crm.json(&[kind, "show", id]);
    }
    v
}

fn merge(into: &Crm, from: &Crm) -> Value {
    into.json(&["merge", "--from", from.dir().to_str().unwrap()])
}

fn users(conflict: &Value) -> Vec<String> {
    let mut u: Vec<String> = conflict["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["user"].as_str().unwrap_or("?").to_string())
        .collect();
    u.sort();
    u
}

fn values(conflict: &Value) -> Vec<String> {
    let mut v: Vec<String> = conflict["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap_or("?").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn concurrent_edits_merge_and_conflicts_are_kept_until_resolved() {
    // Ana's laptop has the book; Bruno's new laptop gets a copy of it.
    let ana = Crm::init("ana");
    let org = ana.add(&["org", "add", "--name", "Acme Corp"]);
    let contact = ana.add(&[
        "contact",
        "add",
        "--name",
        "Carla Duarte",
        "--title",
        "Buyer",
        "--phone",
        "+351 912 000 000",
        "--org",
        &org,
        "--notes",
        "Met at the fair.",
    ]);
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--amount",
        "1000",
        "--org",
        &org,
    ]);
    let bruno = Crm::init("bruno");
    let copied = merge(&bruno, &ana);
    assert_eq!(copied["changed"], 4, "{copied}");
    assert_eq!(
        bruno.json(&["contact", "show", &contact]),
        ana.json(&["contact", "show", &contact])
    );

    // Offline, each edits: different fields of the contact, the same field (title), the notes,
    // and the case that Ana removes while Bruno edits it; and each adds records.
    ana.ok(&["contact", "edit", &contact, "--phone", "+351 913 111 111"]);
    bruno.ok(&["contact", "edit", &contact, "--region", "north"]);
    ana.ok(&["contact", "edit", &contact, "--title", "Head of Purchasing"]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--title",
        "Purchasing Director",
    ]);
    ana.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        "Met at the fair. Wants a demo.",
    ]);
    bruno.ok(&[
        "contact",
        "edit",
        &contact,
        "--notes",
        "Lisbon: Met at the fair.",
    ]);
    ana.ok(&["case", "rm", &case]);
    bruno.ok(&["case", "edit", &case, "--amount", "2500.75", "--grade", "A"]);
    let ana_org = ana.add(&["org", "add", "--name", "Globex"]);
    let bruno_contact = bruno.add(&["contact", "add", "--name", "Dario Rossi"]);
    assert_ne!(ana.snapshot(), bruno.snapshot());

    // Merge both ways.
    let a = merge(&ana, &bruno);
    assert_eq!(
        a["changed"], 4,
        "contact, case, Bruno's user and Bruno's contact: {a}"
    );
    let b = merge(&bruno, &ana);
    assert_eq!(b["changed"], 3, "contact, case and Ana's org: {b}");
    let shown = [
        ("contact", contact.as_str()),
        ("case", case.as_str()),
        ("org", org.as_str()),
    ];
    let merged = view(&ana, &shown);
    assert_eq!(
        merged,
        view(&bruno, &shown),
        "the replicas differ after merging"
    );
    // Merging again changes nothing.
    assert_eq!(merge(&ana, &bruno)["changed"], 0);
    assert_eq!(merge(&bruno, &ana)["changed"], 0);

    // Different fields merged; both notes insertions are there.
    let c = ana.json(&["contact", "show", &contact]);
    assert_eq!(c["phones"][0]["value"], "+351 913 111 111");
    assert_eq!(c["region"], "north");
    assert_eq!(c["notes"], "Lisbon: Met at the fair. Wants a demo.");
    // The title shows one of the two values, and the conflict keeps both with their authors.
    let title = c["title"].as_str().unwrap();
    assert!(
        ["Head of Purchasing", "Purchasing Director"].contains(&title),
        "{title}"
    );
    let conflicts = ana.json(&["conflicts"]);
    assert_eq!(
        rows(&conflicts).len(),
        1,
        "only the title holds concurrent values: {conflicts:#}"
    );
    let t = &conflicts[0];
    assert_eq!(t["id"], contact.as_str());
    assert_eq!(t["field"], "title");
    assert_eq!(t["type"], "contact");
    assert_eq!(values(t), vec!["Head of Purchasing", "Purchasing Director"]);
    assert_eq!(users(t), vec!["ana", "bruno"]);
    // The value shown first is the one the record shows.
    assert_eq!(t["values"][0]["value"], title);
    assert_eq!(c["conflicts"][0]["field"], "title");
    assert_eq!(bruno.json(&["conflicts"]), conflicts);
    let table = bruno.ok(&["conflicts"]);
    assert!(
        table.contains("Head of Purchasing") && table.contains("Purchasing Director"),
        "{table}"
    );
    assert!(bruno
        .ok(&["contact", "show", &contact])
        .contains("Conflicting values"));

    // History shows both users and what each changed.
    let history = ana.json(&["history", &contact]);
    let by = |user: &str| -> Vec<String> {
        history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["user"] == user)
            .flat_map(|e| e["fields"].as_array().unwrap().clone())
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    assert!(by("bruno").contains(&"region".to_string()), "{history:#}");
    assert!(by("bruno").contains(&"title".to_string()), "{history:#}");
    assert!(by("ana").contains(&"phones".to_string()), "{history:#}");

    // The removed case stays removed, and carries Bruno's concurrent edit.
    let k = ana.json(&["case", "show", &case]);
    assert!(k["deleted_at"].is_i64(), "{k}");
    assert_eq!(k["amount"], 250_075);
    assert_eq!(k["grade"], "A");
    assert!(rows(&bruno.json(&["case", "list"])).is_empty());
    let removed = bruno.json(&["case", "list", "--deleted"]);
    assert_eq!(removed[0]["id"], case.as_str());
    assert_eq!(removed[0]["amount"], 250_075);

    // Records added on each side are on both.
    for crm in [&ana, &bruno] {
        assert_eq!(crm.json(&["org", "show", &ana_org])["name"], "Globex");
        assert_eq!(
            crm.json(&["contact", "show", &bruno_contact])["name"],
            "Dario Rossi"
        );
    }

    // Resolving on one replica clears the conflict there, then everywhere after a merge.
    let err = ana.fail(&["resolve", &contact, "region", "south"]);
    assert!(message(&err).contains("not in conflict"), "{err}");
    ana.ok(&["resolve", &contact[..8], "title", "Purchasing Manager"]);
    assert_eq!(ana.json(&["conflicts"]), serde_json::json!([]));
    assert_eq!(
        ana.json(&["contact", "show", &contact])["title"],
        "Purchasing Manager"
    );
    assert!(ana.ok(&["conflicts"]).contains("No conflicts"));
    merge(&bruno, &ana);
    assert_eq!(bruno.json(&["conflicts"]), serde_json::json!([]));
    merge(&ana, &bruno);
    let resolved = view(&ana, &shown);
    assert_eq!(resolved, view(&bruno, &shown));
    assert_eq!(
        resolved[format!("contact {contact}")]["title"],
        "Purchasing Manager"
    );
    let err = ana.fail(&["resolve", &contact, "title", "Again"]);
    assert!(message(&err).contains("no conflicting values"), "{err}");
}

#[test]
fn a_restore_and_an_edit_on_two_replicas_merge() {
    let ana = Crm::init("ana");
    let id = ana.add(&["contact", "add", "--name", "Elena Novak"]);
    ana.ok(&["contact", "rm", &id]);
    let bruno = Crm::init("bruno");
    merge(&bruno, &ana);
    assert!(bruno.json(&["contact", "show", &id])["deleted_at"].is_i64());
    bruno.ok(&["contact", "rm", &id, "--restore"]);
    ana.ok(&["contact", "edit", &id, "--title", "CFO"]);
    merge(&ana, &bruno);
    merge(&bruno, &ana);
    for crm in [&ana, &bruno] {
        let c = crm.json(&["contact", "show", &id]);
        assert_eq!(c["deleted_at"], Value::Null, "the restore was lost");
        assert_eq!(c["title"], "CFO", "the edit was lost");
        assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 1);
    }
    assert_eq!(ana.snapshot(), bruno.snapshot());
}

#[test]
fn merging_a_data_dir_into_itself_or_a_missing_one_fails_cleanly() {
    let ana = Crm::init("ana");
    ana.add(&["contact", "add", "--name", "Elena Novak"]);
    let before = ana.snapshot();
    let err = ana.fail(&["merge", "--from", ana.dir().to_str().unwrap()]);
    assert!(message(&err).contains("same data dir"), "{err}");
    let missing = ana.scratch().join("nowhere");
    let err = ana.fail(&["merge", "--from", missing.to_str().unwrap()]);
    assert!(message(&err).contains("nowhere"), "{err}");
    assert!(!missing.exists(), "merge --from created the other data dir");
    assert_eq!(ana.snapshot(), before);
}

#[test]
fn concurrent_stage_moves_keep_both_in_the_history_and_conflict_on_the_stage() {
    let ana = Crm::init("ana");
    let case = ana.add(&[
        "case",
        "add",
        "--title",
        "Pilot",
        "--stage",
        "qualification",
    ]);
    let bruno = Crm::init("bruno");
    merge(&bruno, &ana);
    ana.ok(&["case", "move", &case, "--stage", "proposal"]);
    bruno.ok(&[
        "case",
        "move",
        &case,
        "--stage",
        "lost",
        "--reason",
        "No budget",
    ]);
    merge(&ana, &bruno);
    merge(&bruno, &ana);
    let shown = [("case", case.as_str())];
    assert_eq!(view(&ana, &shown), view(&bruno, &shown));
    let k = ana.json(&["case", "show", &case]);
    let mut moves: Vec<(String, String)> = k["stage_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["stage"].as_str().unwrap().into(),
                c["by"].as_str().unwrap().into(),
            )
        })
        .collect();
    moves.sort();
    assert_eq!(
        moves,
        vec![
            ("lost".to_string(), "bruno".to_string()),
            ("proposal".to_string(), "ana".to_string()),
            ("qualification".to_string(), "ana".to_string()),
        ],
        "{k:#}"
    );
    // Bruno's loss reason merged in; the stage itself holds both values.
    assert_eq!(k["loss_reason"], "No budget");
    let conflicts = ana.json(&["conflicts"]);
    let stage = rows(&conflicts)
        .iter()
        .find(|c| c["field"] == "stage")
        .unwrap_or_else(|| panic!("no stage conflict: {conflicts:#}"));
    assert_eq!(values(stage), vec!["lost", "proposal"]);
    assert_eq!(users(stage), vec!["ana", "bruno"]);
    ana.ok(&["resolve", &case, "stage", "proposal"]);
    let after = ana.json(&["conflicts"]);
    assert!(
        rows(&after).iter().all(|c| c["field"] != "stage"),
        "{after:#}"
    );
    assert_eq!(ana.json(&["case", "show", &case])["stage"], "proposal");
}

#[test]
fn merging_a_copy_that_won_a_case_this_one_lost_names_it_to_settle() {
    let ana = Crm::init("ana");
    let deal = ana.add(&["case", "add", "--title", "Fleet renewal"]);
    let usb = Crm::init("bruno");
    usb.ok(&["merge", "--from", ana.dir().to_str().expect("a UTF-8 path")]);
    ana.ok(&[
        "case", "move", &deal, "--stage", "lost", "--reason", "price",
    ]);
    usb.ok(&["case", "move", &deal, "--stage", "won"]);
    let said = ana.ok(&["merge", "--from", usb.dir().to_str().expect("a UTF-8 path")]);
    assert!(
        said.contains("To settle: case Fleet renewal") && said.contains("won and lost at once"),
        "{said}"
    );
    let json = ana.json(&["merge", "--from", usb.dir().to_str().expect("a UTF-8 path")]);
    assert_eq!(
        json["attention"],
        serde_json::json!([]),
        "nothing changed: {json}"
    );
}
