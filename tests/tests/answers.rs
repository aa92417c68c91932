//! Everyday answers a rep and a manager rely on: reports and lists that say what is there,
//! conflicts shown and resolved in the form of `show`, and cases whose fields agree with
//! their stage.

use crm_tests::{rows, Crm};
use serde_json::Value;

/// The row of a report whose `key` column is `value`, if any.
fn find<'a>(report: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row[key] == value))
}

#[test]
fn a_case_takes_its_region_from_its_organization() {
    let crm = Crm::init("ana");
    let org = crm.add(&["org", "add", "--name", "Acme", "--region", "north"]);
    let case = crm.add(&[
        "case", "add", "--title", "Big deal", "--org", &org, "--amount", "1000",
    ]);
    crm.ok(&["case", "move", &case, "--stage", "won"]);
    // A case with its own region keeps it.
    let own = crm.add(&[
        "case",
        "add",
        "--title",
        "Own region",
        "--org",
        &org,
        "--amount",
        "50",
        "--region",
        "south",
    ]);
    crm.ok(&["case", "move", &own, "--stage", "won"]);

    let revenue = crm.json(&["report", "revenue", "--by", "region"]);
    let north = find(&revenue, "region", "north").unwrap_or_else(|| panic!("{revenue}"));
    assert_eq!(north["cases"], 1, "{revenue}");
    assert_eq!(north["revenue"], 100000, "{revenue}");
    assert_eq!(
        find(&revenue, "region", "south").map(|r| r["cases"].clone()),
        Some(1.into())
    );
    assert!(find(&revenue, "region", "(none)").is_none(), "{revenue}");

    let listed = crm.json(&["case", "list", "--region", "north"]);
    let ids: Vec<&str> = rows(&listed)
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [case.as_str()], "{listed}");

    // The organization moves to another region: its cases follow.
    crm.ok(&["org", "edit", &org, "--region", "east"]);
    let revenue = crm.json(&["report", "revenue", "--by", "region"]);
    assert!(find(&revenue, "region", "north").is_none(), "{revenue}");
    assert_eq!(
        find(&revenue, "region", "east").map(|r| r["cases"].clone()),
        Some(1.into())
    );
    let pipeline = crm.json(&["report", "pipeline", "--by", "region"]);
    assert!(find(&pipeline, "region", "north").is_none(), "{pipeline}");
    let listed = crm.json(&["case", "list", "--region", "EAST"]);
    assert_eq!(rows(&listed).len(), 1, "{listed}");
}

fn merge(into: &Crm, from: &Crm) {
    into.ok(&[
        "merge",
        "--from",
        from.dir().to_str().expect("a UTF-8 path"),
    ]);
}

/// Ana and a copy of her data dir on Bruno's laptop, sharing one case of 1000.00 EUR.
fn two_replicas() -> (Crm, Crm, String) {
    let ana = Crm::init("ana");
    let case = ana.add(&["case", "add", "--title", "Fleet", "--amount", "1000"]);
    let bruno = Crm::init("bruno");
    merge(&bruno, &ana);
    (ana, bruno, case)
}

#[test]
fn conflicting_amounts_are_shown_and_resolved_as_decimals() {
    let (ana, bruno, case) = two_replicas();
    ana.ok(&["case", "edit", &case, "--amount", "12500"]);
    bruno.ok(&["case", "edit", &case, "--amount", "13000.50"]);
    merge(&ana, &bruno);

    let table = ana.ok(&["conflicts"]);
    assert!(
        table.contains("12500.00") && table.contains("13000.50"),
        "{table}"
    );
    assert!(!table.contains("1250000"), "{table}");
    let shown = ana.ok(&["case", "show", &case]);
    assert!(
        shown.contains("12500.00") && shown.contains("13000.50"),
        "{shown}"
    );
    assert!(!shown.contains("1250000"), "{shown}");

    // Scripts get the stored value and the form `crm resolve` takes.
    let listed = ana.json(&["conflicts"]);
    let amount = rows(&listed)
        .iter()
        .find(|c| c["field"] == "amount")
        .unwrap_or_else(|| panic!("{listed}"));
    let mut texts: Vec<&str> = amount["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["text"].as_str())
        .collect();
    texts.sort();
    assert_eq!(texts, ["12500.00", "13000.50"], "{listed}");

    // The value as shown is the value kept.
    ana.ok(&["resolve", &case, "amount", "12500.00"]);
    let after = ana.json(&["case", "show", &case]);
    assert_eq!(after["amount"], 1250000, "{after}");
    assert_eq!(rows(&after["conflicts"]).len(), 0, "{after}");
}

#[test]
fn the_same_value_written_twice_is_no_conflict() {
    let (ana, bruno, case) = two_replicas();
    ana.ok(&["case", "edit", &case, "--amount", "12500", "--grade", "A"]);
    bruno.ok(&["case", "edit", &case, "--amount", "12500", "--grade", "B"]);
    merge(&ana, &bruno);
    let listed = ana.json(&["conflicts"]);
    let fields: Vec<&str> = rows(&listed)
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["grade"], "{listed}");
    let err = ana.fail(&["resolve", &case, "amount", "12500"]);
    assert!(err.contains("not in conflict"), "{err}");
}

#[test]
fn lists_say_when_they_show_only_part_and_json_returns_everything() {
    let crm = Crm::new();
    crm.ok(&[
        "demo-data",
        "--user",
        "ana",
        "--orgs",
        "230",
        "--contacts",
        "260",
        "--cases",
        "240",
        "--activities",
        "270",
    ]);
    for (kind, total) in [
        ("org", 230),
        ("contact", 260),
        ("case", 240),
        ("activity", 270),
    ] {
        let all = crm.json(&[kind, "list"]);
        assert_eq!(rows(&all).len(), total, "crm --json {kind} list");
        assert_eq!(rows(&crm.json(&[kind, "list", "--all"])).len(), total);
        assert_eq!(rows(&crm.json(&[kind, "list", "--limit", "7"])).len(), 7);

        // The table shows a page and says so on stderr, leaving stdout to the rows.
        let out = crm.run(&[kind, "list"]);
        assert!(out.status.success(), "crm {kind} list: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("showing 200 of {total} (use --limit N or --all)")),
            "crm {kind} list: {stderr}"
        );
        assert!(!stdout.contains("showing"), "{stdout}");
        let out = crm.run(&[kind, "list", "--all"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
        let rows_printed = stdout
            .lines()
            .filter(|l| l.trim_end().ends_with(" ana"))
            .count();
        assert_eq!(rows_printed, total, "crm {kind} list --all");
        let err = crm.fail(&[kind, "list", "--all", "--limit", "5"]);
        assert!(err.contains("--all") && err.contains("--limit"), "{err}");
    }
    // All shown: nothing to say.
    let out = crm.run(&["case", "list", "--limit", "500"]);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    let few = Crm::init("ana");
    let out = few.run(&["org", "list"]);
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
}

#[test]
fn reps_without_cases_or_activities_are_in_the_grades_and_activity_reports() {
    let ana = Crm::init("ana");
    ana.ok(&["settings", "grades", "--a", "1", "--b", "0", "--c", "0"]);
    ana.add(&["case", "add", "--title", "Fleet", "--grade", "A"]);
    // Bruno's laptop joins: the workspace knows him, though he has no case yet.
    let bruno = Crm::init("bruno");
    merge(&ana, &bruno);

    let grades = ana.json(&["report", "grades"]);
    let row = find(&grades, "owner", "bruno").unwrap_or_else(|| panic!("{grades}"));
    assert_eq!(row["a"], 0, "{grades}");
    assert_eq!(row["status"], "TOO FEW: A 0 < 1", "{grades}");
    let warned: Vec<&str> = grades["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str())
        .collect();
    assert_eq!(
        warned,
        ["bruno has 0 open A cases, fewer than the minimum of 1"],
        "{grades}"
    );
    assert_eq!(
        find(&grades, "owner", "ana").map(|r| r["status"].clone()),
        Some("ok".into())
    );

    let activity = ana.json(&["report", "activity"]);
    let row = find(&activity, "owner", "bruno").unwrap_or_else(|| panic!("{activity}"));
    assert_eq!(row["done"], 0, "{activity}");
    assert_eq!(row["planned"], 0, "{activity}");
    assert!(find(&activity, "owner", "ana").is_some(), "{activity}");
    let table = ana.ok(&["report", "grades"]);
    assert!(
        table.contains("WARNING: bruno has 0 open A cases"),
        "{table}"
    );
}

fn last_stage(case: &Value) -> Value {
    case["stage_history"]
        .as_array()
        .and_then(|h| h.last())
        .map(|c| c["stage"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn a_lost_case_moved_to_won_forgets_its_loss() {
    let crm = Crm::init("ana");
    let case = crm.add(&["case", "add", "--title", "Fleet", "--stage", "proposal"]);
    crm.ok(&[
        "case", "move", &case, "--stage", "lost", "--reason", "price",
    ]);
    let lost = crm.json(&["case", "show", &case]);
    assert_eq!(lost["loss_reason"], "price", "{lost}");
    assert_eq!(lost["lost_from_stage"], "proposal", "{lost}");

    crm.ok(&["case", "move", &case, "--stage", "won"]);
    let won = crm.json(&["case", "show", &case]);
    assert_eq!(won["stage"], "won", "{won}");
    assert_eq!(won["loss_reason"], Value::Null, "{won}");
    assert_eq!(won["lost_from_stage"], Value::Null, "{won}");
    let shown = crm.ok(&["case", "show", &case]);
    assert!(!shown.contains("price"), "{shown}");
}

#[test]
fn a_won_and_lost_conflict_resolved_to_won_leaves_a_won_case() {
    let (ana, bruno, case) = two_replicas();
    ana.ok(&["case", "move", &case, "--stage", "won"]);
    bruno.ok(&[
        "case", "move", &case, "--stage", "lost", "--reason", "price",
    ]);
    merge(&ana, &bruno);
    let listed = ana.json(&["conflicts"]);
    assert!(
        rows(&listed).iter().any(|c| c["field"] == "stage"),
        "{listed}"
    );

    ana.ok(&["resolve", &case, "stage", "won"]);
    let won = ana.json(&["case", "show", &case]);
    assert_eq!(won["stage"], "won", "{won}");
    assert_eq!(won["loss_reason"], Value::Null, "{won}");
    assert_eq!(won["lost_from_stage"], Value::Null, "{won}");
    assert_eq!(last_stage(&won), "won", "{won}");
    assert_eq!(rows(&won["conflicts"]).len(), 0, "{won}");

    // The same, settled the other way: a lost case with its reason.
    let (ana, bruno, case) = two_replicas();
    ana.ok(&["case", "move", &case, "--stage", "won"]);
    bruno.ok(&[
        "case", "move", &case, "--stage", "lost", "--reason", "price",
    ]);
    merge(&bruno, &ana);
    bruno.ok(&["resolve", &case, "stage", "lost"]);
    let lost = bruno.json(&["case", "show", &case]);
    assert_eq!(lost["stage"], "lost", "{lost}");
    assert_eq!(lost["loss_reason"], "price", "{lost}");
    assert_eq!(last_stage(&lost), "lost", "{lost}");
    let revenue = bruno.json(&["report", "revenue"]);
    assert!(find(&revenue, "month", "total").is_none(), "{revenue}");
}
