//! The command-line contract (docs/command-line.md), run against the real `crm` binary.

use crm_tests::{is_id, message, rows, Crm};
use serde_json::Value;

fn row_by_id<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    rows(list).iter().find(|r| r["id"] == id)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = rows(list)
        .iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn init_creates_the_data_dir_and_refuses_to_run_twice() {
    let crm = Crm::new();
    assert!(!crm.dir().exists());
    let v = crm.json(&["init", "--user", "ana", "--name", "Ana Silva"]);
    assert_eq!(v["user"], "ana");
    assert_eq!(v["name"], "Ana Silva");
    assert_eq!(v["book"], "default");
    assert!(is_id(v["id"].as_str().unwrap_or_default()), "{v}");
    assert_eq!(v["device"].as_str().map(str::len), Some(32), "{v}");
    assert!(crm.store_file().is_file());

    let before = crm.store_bytes();
    let err = crm.fail(&["init", "--user", "bruno"]);
    assert!(message(&err).contains("already holds a CRM store"), "{err}");
    assert_eq!(
        crm.store_bytes(),
        before,
        "a refused init changed the store"
    );

    // The human form says who is ready where.
    let other = Crm::new();
    let out = other.ok(&["init", "--user", "bruno", "--name", "Bruno Costa"]);
    assert!(
        out.contains("Bruno Costa") && out.contains("bruno"),
        "{out}"
    );
}

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

/// Creates two contacts, through the client library on this data dir, whose ids differ only in
/// their last bytes (so their printed ids share a long prefix). Returns their ids.
fn plant_twins(crm: &Crm) -> (String, String) {
    use crm_shared::schema::Edit;
    use crm_shared::values::Currency;
    use crm_shared::{DocumentId, RecordKind};
    let mut store = crm_client::Store::open(crm.dir(), &mut |_, _| {}).expect("open the store");
    let mut ids = Vec::new();
    for (last, name) in [(1u8, "Twin One"), (2u8, "Twin Two")] {
        let mut bytes = [0x5a; 16];
        bytes[15] = last;
        let id = DocumentId::from_bytes(bytes);
        let edit = Edit::parse_set(RecordKind::Contact, "name", name, Currency::EUR).unwrap();
        store
            .create(RecordKind::Contact, id, None, &[edit], 1_790_000_000_000)
            .expect("create a contact");
        ids.push(id.to_string());
    }
    (ids[0].clone(), ids[1].clone())
}

#[test]
fn case_move_records_stage_history_and_lost_needs_a_reason() {
    let crm = Crm::init("ana");
    let id = crm.add(&[
        "case",
        "add",
        "--title",
        "Fleet renewal",
        "--stage",
        "qualification",
    ]);
    let shown = crm.json(&["case", "show", &id]);
    let history = shown["stage_history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["stage"], "qualification");
    assert_eq!(history[0]["by"], "ana");

    assert_eq!(
        crm.ok(&["case", "move", &id, "--stage", "proposal"]).trim(),
        id
    );
    let shown = crm.json(&["case", "show", &id]);
    assert_eq!(shown["stage"], "proposal");
    let history = shown["stage_history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["from"], "qualification");
    assert_eq!(history[1]["stage"], "proposal");
    assert_eq!(history[1]["by"], "ana");
    assert!(history[1]["at"].as_i64() >= history[0]["at"].as_i64());
    assert_eq!(crm.json(&["case", "list"])[0]["probability"], 60);

    // Lost needs a reason; without one nothing changes.
    let before = crm.json(&["case", "show", &id]);
    let err = crm.fail(&["case", "move", &id, "--stage", "lost"]);
    assert!(message(&err).contains("reason"), "{err}");
    let err = crm.fail(&["case", "move", &id, "--stage", "lost", "--reason", "  "]);
    assert!(message(&err).contains("reason"), "{err}");
    assert_eq!(crm.json(&["case", "show", &id]), before);
    // Moving to the stage it is in is refused.
    let err = crm.fail(&["case", "move", &id, "--stage", "proposal"]);
    assert!(message(&err).contains("already in stage proposal"), "{err}");
    // `case edit --stage` is refused: the history must record moves.
    let err = crm.fail(&["case", "edit", &id, "--stage", "won"]);
    assert!(message(&err).contains("case move"), "{err}");

    crm.ok(&[
        "case",
        "move",
        &id,
        "--stage",
        "lost",
        "--reason",
        "Too expensive",
    ]);
    let lost = crm.json(&["case", "show", &id]);
    assert_eq!(lost["stage"], "lost");
    assert_eq!(lost["lost_from_stage"], "proposal");
    assert_eq!(lost["loss_reason"], "Too expensive");
    assert!(
        lost["close_date"].is_string(),
        "a lost case gets a close date: {lost}"
    );
    let history = lost["stage_history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["from"], "proposal");
    assert_eq!(history[2]["stage"], "lost");
    let listed = crm.json(&["case", "list", "--stage", "lost"]);
    assert_eq!(names(&listed, "id"), vec![id.clone()]);
    assert_eq!(listed[0]["probability"], 0);

    // Won: probability 100 from the stage.
    let won = crm.add(&["case", "add", "--title", "Easy win"]);
    crm.ok(&["case", "move", &won, "--stage", "won"]);
    let listed = crm.json(&["case", "list", "--stage", "won"]);
    assert_eq!(listed[0]["probability"], 100);
    assert!(crm
        .json(&["case", "show", &won])
        .get("lost_from_stage")
        .is_none());
}

#[test]
fn amounts_are_exact_minor_units() {
    let crm = Crm::init("ana");
    let cases = [
        ("12000.50", None, 1_200_050i64),
        ("12000.5", None, 1_200_050),
        ("0.1", None, 10),
        ("0.07", None, 7),
        ("7", None, 700),
        ("1_000", None, 100_000),
        ("90071992547409.91", None, 9_007_199_254_740_991),
        ("1500", Some("JPY"), 1500),
        ("1.234", Some("KWD"), 1234),
    ];
    for (amount, currency, minor) in cases {
        let mut args = vec!["case", "add", "--title", "Deal", "--amount", amount];
        if let Some(c) = currency {
            args.extend(["--currency", c]);
        }
        let id = crm.add(&args);
        let shown = crm.json(&["case", "show", &id]);
        assert_eq!(shown["amount"], minor, "--amount {amount} {currency:?}");
        assert_eq!(shown["currency"], currency.unwrap_or("EUR"));
        let list = crm.json(&["case", "list"]);
        assert_eq!(row_by_id(&list, &id).unwrap()["amount"], minor);
    }
    let id = crm.add(&[
        "case", "add", "--title", "Budgeted", "--amount", "12000.50", "--budget", "15000",
    ]);
    let shown = crm.json(&["case", "show", &id]);
    assert_eq!(shown["budget"], 1_500_000);
    let text = crm.ok(&["case", "show", &id]);
    assert!(
        text.contains("12000.50 EUR") && text.contains("15000.00 EUR"),
        "{text}"
    );
    assert!(crm.ok(&["case", "list"]).contains("12000.50 EUR"));
}

#[test]
fn agenda_shows_the_day_or_week_and_overdue_tasks() {
    let crm = Crm::init("ana");
    let add = |kind: &str, subject: &str, flag: &str, when: &str, extra: &[&str]| {
        let mut args = vec![
            "activity",
            "add",
            "--kind",
            kind,
            "--subject",
            subject,
            flag,
            when,
        ];
        args.extend_from_slice(extra);
        crm.add(&args)
    };
    add("visit", "Morning visit", "--at", "2099-12-01T09:00", &[]);
    add("call", "Late call", "--at", "2099-12-01T23:59", &[]);
    add("meeting", "Next day", "--at", "2099-12-02T00:00", &[]);
    add("meeting", "Day before", "--at", "2099-11-30T23:59", &[]);
    add("meeting", "End of week", "--at", "2099-12-07T23:59", &[]);
    add("meeting", "After the week", "--at", "2099-12-08T00:00", &[]);
    add("task", "Due that day", "--due", "2099-12-01T17:00", &[]);
    add(
        "meeting",
        "Cancelled",
        "--at",
        "2099-12-01T11:00",
        &["--status", "cancelled"],
    );
    add(
        "meeting",
        "Bruno's",
        "--at",
        "2099-12-01T12:00",
        &["--owner", "bruno"],
    );
    let gone = add("meeting", "Removed", "--at", "2099-12-01T13:00", &[]);
    crm.ok(&["activity", "rm", &gone]);
    // Overdue: planned tasks due before today. The dates here are far from today on either side,
    // so that the test means the same whenever it runs.
    add("task", "Overdue task", "--due", "2001-01-01T09:00", &[]);
    add(
        "task",
        "Done long ago",
        "--due",
        "2001-01-02T09:00",
        &["--status", "done"],
    );
    add("task", "Far future task", "--due", "2999-01-01T09:00", &[]);

    let subjects = |v: &Value, key: &str| -> Vec<String> {
        rows(&v[key])
            .iter()
            .map(|r| r["subject"].as_str().unwrap().to_string())
            .collect()
    };
    let day = crm.json(&["agenda", "--day", "--date", "2099-12-01"]);
    assert_eq!(day["user"], "ana");
    assert_eq!(day["from"], "2099-12-01");
    assert_eq!(
        subjects(&day, "items"),
        vec!["Morning visit", "Due that day", "Late call"],
        "in time order"
    );
    assert_eq!(subjects(&day, "overdue"), vec!["Overdue task"]);
    // --day is the default.
    assert_eq!(crm.json(&["agenda", "--date", "2099-12-01"]), day);

    let week = crm.json(&["agenda", "--week", "--date", "2099-12-01"]);
    assert_eq!(
        subjects(&week, "items"),
        vec![
            "Morning visit",
            "Due that day",
            "Late call",
            "Next day",
            "End of week"
        ]
    );
    assert_eq!(subjects(&week, "overdue"), vec!["Overdue task"]);

    let bruno = crm.json(&["agenda", "--user", "bruno", "--date", "2099-12-01"]);
    assert_eq!(subjects(&bruno, "items"), vec!["Bruno's"]);

    let text = crm.ok(&["agenda", "--week", "--date", "2099-12-01"]);
    assert!(
        text.contains("End of week") && text.contains("Overdue task"),
        "{text}"
    );
    assert!(!text.contains("After the week"), "{text}");
    let empty = crm.ok(&["agenda", "--date", "2099-06-01"]);
    assert!(empty.contains("Nothing planned"), "{empty}");
    crm.fail(&["agenda", "--day", "--week"]);
}

#[test]
fn crm_home_works_like_data_dir() {
    let crm = Crm::new();
    let out = Crm::bare_command()
        .env("CRM_HOME", crm.dir())
        .args(["init", "--user", "ana"])
        .output()
        .unwrap();
    crm_tests::expect_ok(&["init"], out);
    assert!(
        crm.store_file().is_file(),
        "init with CRM_HOME made no store there"
    );
    let id = crm.add(&["contact", "add", "--name", "Bruno Costa"]);
    let via_env = Crm::bare_command()
        .env("CRM_HOME", crm.dir())
        .args(["--json", "contact", "list"])
        .output()
        .unwrap();
    let via_env: Value = serde_json::from_str(&crm_tests::expect_ok(&["list"], via_env)).unwrap();
    assert_eq!(via_env, crm.json(&["contact", "list"]));
    assert_eq!(via_env[0]["id"], id.as_str());

    // --data-dir wins over CRM_HOME.
    let other = Crm::init("bruno");
    let out = other
        .command()
        .env("CRM_HOME", crm.dir())
        .args(["--json", "contact", "list"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_str(&crm_tests::expect_ok(&["list"], out)).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn history_shows_users_and_fields() {
    let crm = Crm::init("ana");
    let id = crm.add(&["contact", "add", "--name", "Bruno Costa", "--title", "CTO"]);
    crm.ok(&["contact", "edit", &id, "--region", "north"]);
    crm.ok(&["contact", "edit", &id, "--notes", "Met at the fair"]);
    let h = crm.json(&["history", &id]);
    let entries = h.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{h:#}");
    for e in entries {
        assert_eq!(e["user"], "ana");
        assert_eq!(e["device"].as_str().map(str::len), Some(32));
        assert!(e["at"].as_i64().unwrap() > 0);
    }
    let fields = |i: usize| -> Vec<&str> {
        entries[i]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect()
    };
    assert!(
        fields(0).contains(&"name") && fields(0).contains(&"title"),
        "{h:#}"
    );
    assert_eq!(fields(1), vec!["region"]);
    assert_eq!(fields(2), vec!["notes"]);
    let text = crm.ok(&["history", &id[..6]]);
    assert!(
        text.contains("Bruno Costa") && text.contains("ana"),
        "{text}"
    );
    assert!(text.contains("region") && text.contains("notes"), "{text}");
}

#[test]
fn relate_links_contacts_and_organizations() {
    let crm = Crm::init("ana");
    let a = crm.add(&["contact", "add", "--name", "Ana Silva"]);
    let b = crm.add(&["contact", "add", "--name", "Bruno Costa"]);
    let rel = crm.add(&["relate", &a, &b, "--as", "referred-by"]);
    let shown = crm.json(&["contact", "show", &b]);
    let related = rows(&shown["relationships"]);
    assert_eq!(related.len(), 1);
    assert_eq!(related[0]["id"], rel.as_str());
    assert_eq!(related[0]["kind"], "referred-by");
    let text = crm.ok(&["contact", "show", &a]);
    let line = text
        .lines()
        .find(|l| l.contains("is referred-by"))
        .unwrap_or_else(|| panic!("no relationship line:\n{text}"));
    let (from, to) = line.split_once("is referred-by").unwrap();
    assert!(
        from.contains("Ana Silva") && to.contains("Bruno Costa"),
        "{line}"
    );
    let err = crm.fail(&["relate", &a, &a, "--as", "colleague"]);
    assert!(message(&err).contains("itself"), "{err}");
}

#[test]
fn rebuild_gives_the_same_read_model() {
    let crm = Crm::init("ana");
    crm.ok(&[
        "demo-data",
        "--contacts",
        "30",
        "--orgs",
        "5",
        "--cases",
        "10",
        "--activities",
        "20",
    ]);
    let before = crm.snapshot();
    assert_eq!(rows(&before["contacts"]).len(), 30);
    assert_eq!(rows(&before["orgs"]).len(), 5);
    assert_eq!(rows(&before["cases"]).len(), 10);
    assert_eq!(rows(&before["activities"]).len(), 20);
    let v = crm.json(&["rebuild"]);
    // 65 records and the user.
    assert_eq!(v["documents"], 66);
    assert_eq!(crm.snapshot(), before);
}
