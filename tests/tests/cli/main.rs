//! The command-line contract (docs/command-line.md), run against the real `crm` binary.

use crm_tests::{is_id, message, rows, Crm};
use serde_json::Value;

mod records;

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
