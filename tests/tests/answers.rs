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
