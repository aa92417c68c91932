//! A week of a field rep and her manager, scripted day by day on a fresh team: the real
//! `crm-sync-server` with users, a book, grants and tokens, and each on a laptop of their own.
//! Time is set per command with `CRM_NOW`, so "tomorrow", "friday" and "this month" mean the same
//! days on every run. What is checked is what a rep and a manager read: the figures of reports,
//! search hits, a conflict shown and settled as displayed, the grades warning.

use crm_tests::{expect_ok, rows, Crm, SyncServer};
use serde_json::Value;

/// Runs `args` on `crm` at `now` (UTC); returns stdout, failing the test on an error.
fn on(crm: &Crm, now: &str, args: &[&str]) -> String {
    let out = crm
        .command()
        .env("CRM_NOW", now)
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm can be started");
    expect_ok(args, out)
}

/// Like `on`, with stderr too (where dates typed are said back in ISO form).
fn said(crm: &Crm, now: &str, args: &[&str]) -> (String, String) {
    let out = crm
        .command()
        .env("CRM_NOW", now)
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm can be started");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (expect_ok(args, out).trim().to_string(), stderr)
}

fn json_on(crm: &Crm, now: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = on(crm, now, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: {e}\n{out}"))
}

/// The row of a report whose `key` column is `value`.
fn row<'a>(report: &'a Value, key: &str, value: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("a report has rows: {report}"))
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no row {key}={value} in {report}"))
}

const MON: &str = "2026-12-07T09:00";
const TUE: &str = "2026-12-08T09:00";
const WED: &str = "2026-12-09T09:00";
const THU: &str = "2026-12-10T17:00";
const FRI: &str = "2026-12-11T08:30";

#[test]
fn a_week_of_a_rep_and_her_manager_gives_exact_answers() {
    let server = SyncServer::start();
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
    // Bruno has a laptop but no open case all week: the grades warning must name him.
    let bruno = server.device("bruno", "north", &server.token("bruno"));
    bruno.ok(&["sync"]);

    // Monday. Ana writes dates the way she says them, day first.
    on(&ana, MON, &["config", "locale", "dmy"]);
    let org = on(
        &ana,
        MON,
        &["org", "add", "--name", "Nordwind GmbH", "--region", "north"],
    );
    let org = org.trim();
    let jurgen = on(
        &ana,
        MON,
        &[
            "contact",
            "add",
            "--name",
            "Jürgen Weiß",
            "--email",
            "jw@nordwind.de",
            "--org",
            org,
        ],
    );
    let jurgen = jurgen.trim();
    let (fleet, told) = said(
        &ana,
        MON,
        &[
            "case",
            "add",
            "--title",
            "Fleet renewal",
            "--org",
            org,
            "--amount",
            "12,000.50",
            "--close-date",
            "31/12/2026",
            "--grade",
            "A",
        ],
    );
    assert!(told.contains("close date 2026-12-31"), "{told}");
    let (vans, _) = said(
        &ana,
        MON,
        &[
            "case",
            "add",
            "--title",
            "Vans",
            "--org",
            org,
            "--amount",
            "4000",
            "--close-date",
            "+4w",
            "--grade",
            "B",
        ],
    );
    on(
        &ana,
        MON,
        &[
            "log",
            "call",
            "--contact",
            jurgen,
            "--outcome",
            "wants a quote",
        ],
    );
    let (_, told) = said(
        &ana,
        MON,
        &[
            "activity",
            "add",
            "--kind",
            "meeting",
            "--subject",
            "Weekly review",
            "--contact",
            jurgen,
            "--at",
            "tomorrow 10:00",
            "--repeat",
            "weekly",
            "--until",
            "31/12/2026",
            "--location",
            "Hamburg",
        ],
    );
    assert!(told.contains("2026-12-08"), "{told}");
    on(&ana, MON, &["sync"]);

    // Tuesday: the manager receives all of it and sees the region on the case via its
    // organization; ana's week shows who each meeting is with, and where.
    on(&max, TUE, &["sync"]);
    let pipeline = json_on(&max, TUE, &["report", "pipeline", "--by", "region"]);
    let north = row(&pipeline, "region", "north");
    assert_eq!(north["cases"], 2, "{pipeline}");
    let agenda = on(&ana, TUE, &["agenda", "--week"]);
    let meetings: Vec<&str> = agenda
        .lines()
        .filter(|l| l.contains("Weekly review"))
        .collect();
    assert_eq!(
        meetings.len(),
        1,
        "one meeting in the week from tuesday:\n{agenda}"
    );
    assert!(
        meetings[0].contains("Jürgen Weiß (Nordwind GmbH)") && meetings[0].contains("Hamburg"),
        "{agenda}"
    );

    // Both change the amount of the fleet deal, each offline; then both sync.
    on(&ana, TUE, &["case", "edit", &fleet, "--amount", "13,000"]);
    on(&max, TUE, &["case", "edit", &fleet, "--amount", "12,500"]);
    on(&ana, TUE, &["sync"]);
    on(&max, TUE, &["sync"]);
    on(&ana, TUE, &["sync"]);
    let conflicts = json_on(&max, TUE, &["conflicts"]);
    let shown = rows(&conflicts)
        .iter()
        .find(|c| c["id"] == fleet.as_str() && c["field"] == "amount")
        .unwrap_or_else(|| panic!("no amount conflict on the fleet case: {conflicts}"));
    let values: Vec<String> = shown["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        values.contains(&"13000.00".to_string()) && values.contains(&"12500.00".to_string()),
        "amounts are shown as `show` shows them: {values:?} in {shown}"
    );
    // The manager settles it with the value as shown.
    on(&max, TUE, &["resolve", &fleet, "amount", "12500.00"]);
    on(&max, TUE, &["sync"]);
    on(&ana, WED, &["sync"]);
    let case = json_on(&ana, WED, &["case", "show", &fleet]);
    assert_eq!(
        case["amount"], 1_250_000,
        "12,500.00 EUR in minor units: {case}"
    );
    assert_eq!(json_on(&ana, WED, &["conflicts"]), serde_json::json!([]));

    // Wednesday: search finds Jürgen however he is typed; the deal is closing this month.
    for typed in ["weiss", "Weiß", "nordwind", "jw@nordwind"] {
        let hits = json_on(&ana, WED, &["contact", "list", "--search", typed]);
        assert_eq!(rows(&hits).len(), 1, "search {typed}: {hits}");
    }
    let closing = json_on(&ana, WED, &["case", "list", "--closing", "this-month"]);
    let titles: Vec<&str> = rows(&closing)
        .iter()
        .filter_map(|r| r["title"].as_str())
        .collect();
    assert_eq!(titles, ["Fleet renewal"], "{closing}");

    // Thursday: the fleet deal is won; the vans deal is lost, with its reason.
    on(&ana, THU, &["case", "move", &fleet, "--stage", "won"]);
    on(
        &ana,
        THU,
        &[
            "case", "move", &vans, "--stage", "lost", "--reason", "price",
        ],
    );
    on(&ana, THU, &["sync"]);

    // Friday morning: the manager's reports, exact.
    on(&max, FRI, &["sync"]);
    let revenue = json_on(
        &max,
        FRI,
        &["report", "revenue", "--by", "region", "--month", "2026-12"],
    );
    let north = row(&revenue, "region", "north");
    assert_eq!(
        (north["cases"].as_i64(), north["revenue"].as_i64()),
        (Some(1), Some(1_250_000)),
        "the won deal at the amount settled on tuesday: {revenue}"
    );
    let pipeline = json_on(&max, FRI, &["report", "pipeline", "--by", "region"]);
    assert_eq!(
        pipeline["rows"].as_array().map(Vec::len),
        Some(0),
        "nothing open on friday: {pipeline}"
    );
    // As of Tuesday evening both deals were open, the fleet one at the settled amount.
    let tuesday = json_on(
        &max,
        FRI,
        &[
            "report",
            "pipeline",
            "--by",
            "region",
            "--as-of",
            "last tuesday",
        ],
    );
    assert_eq!(tuesday["as_of"], "2026-12-08", "{tuesday}");
    assert_eq!(row(&tuesday, "region", "north")["cases"], 2, "{tuesday}");
    let grades = on(&max, FRI, &["report", "grades"]);
    assert!(
        grades.contains("WARNING: bruno has 0 open A cases"),
        "{grades}"
    );
    let history = on(&max, FRI, &["history", &fleet]);
    assert!(history.contains("12500.00"), "{history}");
}
