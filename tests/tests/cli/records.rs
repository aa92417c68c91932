//! Records through the command line: add, show, list, edit, remove and restore, search, id prefixes.

use super::*;

#[test]
fn each_add_prints_exactly_the_new_id_and_show_returns_the_fields() {
    let crm = Crm::init("ana");
    let org = crm.add(&[
        "org",
        "add",
        "--name",
        "Acme Corp",
        "--industry",
        "software",
        "--kind",
        "customer",
        "--region",
        "north",
        "--website",
        "https://acme.example",
    ]);
    let contact = crm.add(&[
        "contact",
        "add",
        "--name",
        "Bruno Costa",
        "--email",
        "bruno@acme.example",
        "--phone",
        "mobile=+351 912 345 678",
        "--org",
        &format!("{org}=buyer"),
        "--title",
        "CTO",
        "--tag",
        "vip",
        "--do-not-call",
        "yes",
    ]);
    let case = crm.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--org",
        &org,
        "--contact",
        &format!("{contact}=decision-maker"),
        "--amount",
        "12000.50",
        "--grade",
        "A",
        "--close-date",
        "2026-12-31",
        "--competitor",
        "Globex",
    ]);
    let activity = crm.add(&[
        "activity",
        "add",
        "--kind",
        "visit",
        "--subject",
        "Site visit",
        "--at",
        "2026-12-01T10:00",
        "--end",
        "2026-12-01 11:30",
        "--case",
        &case,
        "--contact",
        &contact,
        "--remind",
        "2h",
        "--location",
        "Lisbon",
    ]);
    let ids = [&org, &contact, &case, &activity];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b, "two records got the same id");
        }
    }

    let o = crm.json(&["org", "show", &org]);
    assert_eq!(o["id"], org.as_str());
    assert_eq!(o["type"], "organization");
    assert_eq!(o["name"], "Acme Corp");
    assert_eq!(o["industry"], "software");
    assert_eq!(o["kind"], "customer");
    assert_eq!(o["region"], "north");
    assert_eq!(o["created_by"], "ana");
    assert_eq!(o["owner"], "ana");
    assert_eq!(o["deleted_at"], Value::Null);
    assert_eq!(names(&o["contacts"], "id"), vec![contact.clone()]);
    assert_eq!(names(&o["cases"], "id"), vec![case.clone()]);

    let c = crm.json(&["contact", "show", &contact]);
    assert_eq!(c["id"], contact.as_str());
    assert_eq!(c["type"], "contact");
    assert_eq!(c["name"], "Bruno Costa");
    assert_eq!(c["title"], "CTO");
    assert_eq!(c["do_not_call"], true);
    assert_eq!(c["tags"], serde_json::json!(["vip"]));
    assert_eq!(
        c["emails"],
        serde_json::json!([{"label": "work", "value": "bruno@acme.example"}])
    );
    assert_eq!(
        c["phones"],
        serde_json::json!([{"label": "mobile", "value": "+351 912 345 678"}])
    );
    assert_eq!(c["orgs"][&org], "buyer");
    assert_eq!(names(&c["cases"], "id"), vec![case.clone()]);
    assert_eq!(names(&c["activities"], "id"), vec![activity.clone()]);

    let k = crm.json(&["case", "show", &case]);
    assert_eq!(k["id"], case.as_str());
    assert_eq!(k["title"], "Fleet renewal");
    assert_eq!(k["org"], org.as_str());
    assert_eq!(k["contacts"][&contact], "decision-maker");
    assert_eq!(k["amount"], 1_200_050);
    assert_eq!(k["currency"], "EUR");
    assert_eq!(k["stage"], "prospecting");
    assert_eq!(k["grade"], "A");
    assert_eq!(k["close_date"], "2026-12-31");
    assert_eq!(k["competitors"], serde_json::json!(["Globex"]));
    assert_eq!(names(&k["activities"], "id"), vec![activity.clone()]);

    let a = crm.json(&["activity", "show", &activity]);
    assert_eq!(a["id"], activity.as_str());
    assert_eq!(a["kind"], "visit");
    assert_eq!(a["subject"], "Site visit");
    assert_eq!(a["start"], "2026-12-01T10:00");
    assert_eq!(a["end"], "2026-12-01T11:30");
    assert_eq!(a["status"], "planned");
    assert_eq!(a["remind"], 120);
    assert_eq!(a["case"], case.as_str());

    // `--json` on add prints the created record.
    let j = crm.json(&["org", "add", "--name", "Globex"]);
    assert_eq!(j["name"], "Globex");
    assert!(is_id(j["id"].as_str().unwrap_or_default()), "{j}");
    assert_eq!(
        crm.json(&["org", "show", j["id"].as_str().unwrap()])["name"],
        "Globex"
    );

    // The human `show` names the fields and resolves references to names.
    let text = crm.ok(&["case", "show", &case]);
    for want in [
        "Fleet renewal",
        "12000.50 EUR",
        "Acme Corp",
        "Bruno Costa",
        "prospecting",
    ] {
        assert!(text.contains(want), "`case show` lacks {want:?}:\n{text}");
    }
}

#[test]
fn lists_print_tables_and_json_rows() {
    let crm = Crm::init("ana");
    let empty = crm.ok(&["contact", "list"]);
    assert!(empty.contains("No contacts"), "{empty}");
    assert_eq!(crm.json(&["contact", "list"]), serde_json::json!([]));

    let org = crm.add(&["org", "add", "--name", "Acme Corp", "--region", "north"]);
    let ana = crm.add(&["contact", "add", "--name", "Zoe Berg", "--org", &org]);
    let bruno = crm.add(&[
        "contact",
        "add",
        "--name",
        "Bruno Costa",
        "--email",
        "bruno@acme.example",
    ]);
    let list = crm.json(&["contact", "list"]);
    // Sorted by name.
    assert_eq!(names(&list, "name"), vec!["Bruno Costa", "Zoe Berg"]);
    assert_eq!(list[0]["id"], bruno.as_str());
    assert_eq!(list[0]["email"], "bruno@acme.example");
    assert_eq!(list[1]["id"], ana.as_str());
    assert_eq!(list[1]["orgs"], "Acme Corp");
    assert_eq!(list[1]["owner"], "ana");

    let table = crm.ok(&["contact", "list"]);
    assert!(
        table.contains("NAME") && table.contains("E-MAIL"),
        "{table}"
    );
    assert!(table.contains("Bruno Costa") && table.contains("Zoe Berg"));
    // Tables show short ids, which work as prefixes.
    assert!(table.contains(&bruno[..10]), "{table}");

    let by_org = crm.json(&["contact", "list", "--org", &org]);
    assert_eq!(names(&by_org, "id"), vec![ana.clone()]);
    let limited = crm.json(&["contact", "list", "--limit", "1"]);
    assert_eq!(rows(&limited).len(), 1);

    let orgs = crm.json(&["org", "list", "--region", "NORTH"]);
    assert_eq!(names(&orgs, "name"), vec!["Acme Corp"]);
    assert!(crm.ok(&["org", "list"]).contains("Acme Corp"));

    crm.add(&[
        "case", "add", "--title", "Deal A", "--stage", "proposal", "--grade", "B",
    ]);
    crm.add(&["case", "add", "--title", "Deal B", "--owner", "bruno"]);
    let cases = crm.json(&["case", "list"]);
    assert_eq!(names(&cases, "title"), vec!["Deal A", "Deal B"]);
    let proposal = crm.json(&["case", "list", "--stage", "proposal"]);
    assert_eq!(names(&proposal, "title"), vec!["Deal A"]);
    assert_eq!(proposal[0]["probability"], 60);
    let owned = crm.json(&["case", "list", "--owner", "bruno"]);
    assert_eq!(names(&owned, "title"), vec!["Deal B"]);
    let graded = crm.json(&["case", "list", "--grade", "b"]);
    assert_eq!(names(&graded, "title"), vec!["Deal A"]);
    assert!(crm.ok(&["case", "list"]).contains("Deal A"));

    crm.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Call Zoe",
        "--at",
        "2026-12-01T09:00",
    ]);
    crm.add(&[
        "activity",
        "add",
        "--kind",
        "task",
        "--subject",
        "Write quote",
        "--due",
        "2026-12-03T12:00",
    ]);
    let acts = crm.json(&["activity", "list", "--kind", "task"]);
    assert_eq!(names(&acts, "subject"), vec!["Write quote"]);
    let range = crm.json(&[
        "activity",
        "list",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
    ]);
    assert_eq!(names(&range, "subject"), vec!["Call Zoe"]);
    assert!(crm.ok(&["activity", "list"]).contains("Write quote"));
}

#[test]
fn edit_changes_only_the_named_field() {
    let crm = Crm::init("ana");
    let id = crm.add(&[
        "contact",
        "add",
        "--name",
        "Bruno Costa",
        "--title",
        "CTO",
        "--region",
        "north",
        "--email",
        "bruno@acme.example",
    ]);
    let mut before = crm.json(&["contact", "show", &id]);
    let printed = crm.ok(&["contact", "edit", &id, "--title", "Head of IT"]);
    assert_eq!(printed.trim(), id, "edit prints the id");
    let after = crm.json(&["contact", "show", &id]);
    assert_eq!(after["title"], "Head of IT");
    before["title"] = "Head of IT".into();
    assert_eq!(after, before, "an edit of the title changed other fields");

    // --clear empties an optional field; the list follows.
    crm.ok(&["contact", "edit", &id, "--clear", "region"]);
    let shown = crm.json(&["contact", "show", &id]);
    assert!(shown.get("region").is_none(), "{shown}");
    assert_eq!(crm.json(&["contact", "list"])[0]["title"], "Head of IT");

    // An edit of a case amount keeps its minor units exact.
    let case = crm.add(&["case", "add", "--title", "Deal", "--amount", "10"]);
    crm.ok(&["case", "edit", &case, "--amount", "99.99"]);
    assert_eq!(crm.json(&["case", "show", &case])["amount"], 9999);
    let a = crm.add(&[
        "activity",
        "add",
        "--kind",
        "call",
        "--subject",
        "Call",
        "--at",
        "2026-12-01T09:00",
    ]);
    crm.ok(&[
        "activity",
        "edit",
        &a,
        "--status",
        "done",
        "--notes",
        "Agreed on a demo.",
    ]);
    let shown = crm.json(&["activity", "show", &a]);
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["notes"], "Agreed on a demo.");
    let org = crm.add(&["org", "add", "--name", "Acme"]);
    crm.ok(&["org", "edit", &org, "--name", "Acme Corp"]);
    assert_eq!(crm.json(&["org", "list"])[0]["name"], "Acme Corp");
}

#[test]
fn rm_hides_a_record_deleted_shows_it_and_restore_brings_it_back() {
    let crm = Crm::init("ana");
    for kind in ["org", "contact", "case", "activity"] {
        let id = match kind {
            "org" => crm.add(&["org", "add", "--name", "Gone Inc"]),
            "contact" => crm.add(&["contact", "add", "--name", "Gone Person"]),
            "case" => crm.add(&["case", "add", "--title", "Gone deal"]),
            _ => crm.add(&[
                "activity",
                "add",
                "--kind",
                "note",
                "--subject",
                "Gone note",
            ]),
        };
        let keep = match kind {
            "org" => crm.add(&["org", "add", "--name", "Kept Inc"]),
            "contact" => crm.add(&["contact", "add", "--name", "Kept Person"]),
            "case" => crm.add(&["case", "add", "--title", "Kept deal"]),
            _ => crm.add(&[
                "activity",
                "add",
                "--kind",
                "note",
                "--subject",
                "Kept note",
            ]),
        };
        assert_eq!(crm.ok(&[kind, "rm", &id]).trim(), id);
        let list = crm.json(&[kind, "list"]);
        assert!(row_by_id(&list, &id).is_none(), "{kind} rm left it listed");
        assert!(row_by_id(&list, &keep).is_some(), "{kind} rm hid another");
        let all = crm.json(&[kind, "list", "--deleted"]);
        assert!(
            row_by_id(&all, &id).is_some(),
            "{kind} list --deleted hides it"
        );
        let shown = crm.json(&[kind, "show", &id]);
        assert!(shown["deleted_at"].is_i64(), "{kind} show: {shown}");
        assert!(crm.ok(&[kind, "show", &id]).contains("REMOVED"));

        crm.ok(&[kind, "rm", &id, "--restore"]);
        let list = crm.json(&[kind, "list"]);
        assert!(
            row_by_id(&list, &id).is_some(),
            "{kind} rm --restore kept it hidden"
        );
        assert_eq!(crm.json(&[kind, "show", &id])["deleted_at"], Value::Null);
    }
    // A removed contact leaves search results.
    let c = crm.add(&["contact", "add", "--name", "Searchable Sam"]);
    assert_eq!(
        rows(&crm.json(&["contact", "list", "--search", "sam"])).len(),
        1
    );
    crm.ok(&["contact", "rm", &c]);
    assert_eq!(
        rows(&crm.json(&["contact", "list", "--search", "sam"])).len(),
        0
    );
}

#[test]
fn contact_search_finds_by_name_email_phone_digits_org_and_notes() {
    let crm = Crm::init("ana");
    let acme = crm.add(&["org", "add", "--name", "Acme Logistics"]);
    let bruno = crm.add(&[
        "contact",
        "add",
        "--name",
        "Bruno Costa",
        "--email",
        "b.costa@initech.example",
        "--phone",
        "+351 912 345 678",
        "--org",
        &acme,
        "--notes",
        "Plays golf on Fridays",
    ]);
    let other = crm.add(&[
        "contact",
        "add",
        "--name",
        "Zoe Berg",
        "--email",
        "zoe@globex.example",
        "--phone",
        "+49 30 1234 5678",
        "--notes",
        "Prefers tennis",
    ]);
    let found = |q: &str| names(&crm.json(&["contact", "list", "--search", q]), "id");
    for q in [
        "Bruno",
        "costa",
        "BRU",
        "b.costa@initech.example",
        "initech",
        "912345678",
        "351912345678",
        "1912",
        "912 345",
        "Acme",
        "logistics",
        "golf",
        "fridays",
    ] {
        assert_eq!(found(q), vec![bruno.clone()], "search {q:?}");
    }
    assert_eq!(found("tennis"), vec![other.clone()]);
    assert_eq!(found("3012"), vec![other.clone()]);
    // Digits from anywhere in a number: both numbers end in 12345678.
    let mut both = vec![bruno.clone(), other.clone()];
    both.sort();
    assert_eq!(found("12345678"), both);
    assert!(found("nobody").is_empty());
    assert!(found("golf tennis").is_empty(), "every word must match");
    // An edit updates the index.
    crm.ok(&["contact", "edit", &other, "--notes", "Now plays golf too"]);
    let mut both = vec![bruno, other];
    both.sort();
    assert_eq!(found("golf"), both);
    // The table form searches too.
    assert!(crm
        .ok(&["contact", "list", "--search", "tennis"])
        .contains("No contacts"));
}

#[test]
fn id_prefixes_work_and_bad_ids_fail_clearly() {
    let crm = Crm::init("ana");
    let id = crm.add(&["contact", "add", "--name", "Bruno Costa"]);
    for len in [4, 6, 10] {
        assert_eq!(
            crm.json(&["contact", "show", &id[..len]])["id"],
            id.as_str(),
            "prefix of {len}"
        );
    }
    assert_eq!(
        crm.json(&["contact", "show", &format!("automerge:{id}")])["id"],
        id.as_str()
    );
    crm.ok(&["contact", "edit", &id[..8], "--title", "CTO"]);
    assert_eq!(crm.json(&["contact", "show", &id])["title"], "CTO");

    let err = crm.fail(&["contact", "show", &id[..3]]);
    assert!(message(&err).contains("at least 4 characters"), "{err}");
    let err = crm.fail(&["contact", "show", "zzzzzzzzzz"]);
    assert!(
        message(&err).contains("no contact with id `zzzzzzzzzz`"),
        "{err}"
    );
    let err = crm.fail(&["contact", "show", "ab-cd!"]);
    assert!(message(&err).contains("ab-cd!"), "{err}");
    let org = crm.add(&["org", "add", "--name", "Acme"]);
    let err = crm.fail(&["contact", "show", &org]);
    assert!(
        message(&err).contains("is a organization, not a contact")
            || message(&err).contains("not a contact"),
        "{err}"
    );

    // Two records whose ids share a long prefix: the prefix is ambiguous, longer ones are not.
    let (a, b) = plant_twins(&crm);
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert!(
        common >= 6,
        "planted ids {a} {b} share only {common} characters"
    );
    let err = crm.fail(&["contact", "show", &a[..common]]);
    assert!(message(&err).contains("matches several records"), "{err}");
    assert!(message(&err).contains(&a[..common]), "{err}");
    assert_eq!(
        crm.json(&["contact", "show", &a[..common + 1]])["id"],
        a.as_str()
    );
    assert_eq!(
        crm.json(&["contact", "show", &b[..common + 1]])["id"],
        b.as_str()
    );
    let err = crm.fail(&["contact", "rm", &a[..common]]);
    assert!(message(&err).contains("matches several records"), "{err}");
    assert_eq!(rows(&crm.json(&["contact", "list"])).len(), 3);
}
