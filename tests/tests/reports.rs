//! Reports on a known pipeline with known stage histories: exact figures, now and "as of" earlier
//! dates, before and after later edits. Time is fixed with `CRM_NOW` (and `TZ=UTC`).

use crm_tests::{expect_ok, Crm};
use serde_json::Value;

/// Runs `crm` at a fixed local time (UTC).
fn at(crm: &Crm, now: &str, args: &[&str]) -> String {
    let out = crm
        .command()
        .env("CRM_NOW", now)
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm can be started");
    expect_ok(args, out)
}

fn add_at(crm: &Crm, now: &str, args: &[&str]) -> String {
    at(crm, now, args).trim().to_string()
}

fn report(crm: &Crm, args: &[&str]) -> Value {
    let mut all = vec!["--json", "report"];
    all.extend_from_slice(args);
    let out = at(crm, "2026-03-31T12:00", &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: {e}\n{out}"))
}

/// The row of a report whose `key` column is `value`.
fn row<'a>(r: &'a Value, key: &str, value: &str) -> &'a Value {
    r["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row[key] == value))
        .unwrap_or_else(|| panic!("no row {key}={value} in {r}"))
}

struct Book {
    crm: Crm,
    a: String,
    c: String,
    meeting: String,
}

/// Six cases with known histories (all at 10:00 UTC):
/// - A ana north 1000 grade A: Jan 1 created, Jan 11 qualification, Jan 21 proposal, Feb 10 won.
/// - B ana south 2000 grade B: Jan 1, Jan 11 qualification, Jan 21 lost (price).
/// - C bruno north 4000 grade A: Jan 1, Jan 11 qualification, Feb 10 proposal, Mar 5 lost.
/// - D ana north 500 grade B: Feb 1 created, still prospecting.
/// - E ana north 2500 grade A: Jan 1, Jan 11 qualification, Jan 21 proposal, Mar 6 lost.
/// - F bruno south 3000 grade C: Jan 1, Feb 20 won.
fn book() -> Book {
    let crm = Crm::new();
    at(&crm, "2026-01-01T09:00", &["init", "--user", "ana"]);
    at(
        &crm,
        "2026-01-01T09:00",
        &["settings", "grades", "--a", "1", "--b", "1", "--c", "0"],
    );
    let case = |now: &str, title: &str, owner: &str, region: &str, amount: &str, grade: &str| {
        add_at(
            &crm,
            now,
            &[
                "case", "add", "--title", title, "--owner", owner, "--region", region, "--amount",
                amount, "--grade", grade,
            ],
        )
    };
    let jan1 = "2026-01-01T10:00";
    let a = case(jan1, "A", "ana", "north", "1000", "A");
    let b = case(jan1, "B", "ana", "south", "2000", "B");
    let c = case(jan1, "C", "bruno", "north", "4000", "A");
    let e = case(jan1, "E", "ana", "north", "2500", "A");
    let f = case(jan1, "F", "bruno", "south", "3000", "C");
    let mv = |now: &str, id: &str, stage: &str| {
        at(&crm, now, &["case", "move", id, "--stage", stage]);
    };
    let lose = |now: &str, id: &str, reason: &str| {
        at(
            &crm,
            now,
            &["case", "move", id, "--stage", "lost", "--reason", reason],
        );
    };
    for id in [&a, &b, &c, &e] {
        mv("2026-01-11T10:00", id, "qualification");
    }
    mv("2026-01-21T10:00", &a, "proposal");
    mv("2026-01-21T10:00", &e, "proposal");
    lose("2026-01-21T10:00", &b, "price");
    case("2026-02-01T10:00", "D", "ana", "north", "500", "B");
    mv("2026-02-10T10:00", &a, "won");
    mv("2026-02-10T10:00", &c, "proposal");
    mv("2026-02-20T10:00", &f, "won");
    lose("2026-03-05T10:00", &c, "competitor");
    lose("2026-03-06T10:00", &e, "timing");
    // Activities: ana a done call and a done visit, a planned meeting; bruno two done calls.
    let act = |now: &str, kind: &str, when: &str, status: &str, owner: &str| {
        add_at(
            &crm,
            now,
            &[
                "activity",
                "add",
                "--kind",
                kind,
                "--subject",
                kind,
                "--at",
                when,
                "--status",
                status,
                "--owner",
                owner,
            ],
        )
    };
    act(
        "2026-01-05T10:00",
        "call",
        "2026-01-05T11:00",
        "done",
        "ana",
    );
    act(
        "2026-01-06T10:00",
        "visit",
        "2026-01-06T11:00",
        "done",
        "ana",
    );
    let meeting = act(
        "2026-01-07T10:00",
        "meeting",
        "2026-02-15T11:00",
        "planned",
        "ana",
    );
    act(
        "2026-01-08T10:00",
        "call",
        "2026-01-08T11:00",
        "done",
        "bruno",
    );
    act(
        "2026-02-08T10:00",
        "call",
        "2026-02-08T11:00",
        "done",
        "bruno",
    );
    Book { crm, a, c, meeting }
}

#[test]
fn reports_give_exact_figures_now_and_as_of_earlier_dates_whatever_was_edited_since() {
    let Book { crm, a, c, meeting } = book();

    // Funnel now: entered and lost per stage; proposal loses most.
    let f = report(&crm, &["funnel"]);
    let entered = |r: &Value, s: &str| row(r, "stage", s)["entered"].as_i64();
    let lost = |r: &Value, s: &str| row(r, "stage", s)["lost"].as_i64();
    assert_eq!(entered(&f, "prospecting"), Some(6), "{f}");
    assert_eq!(entered(&f, "qualification"), Some(4));
    assert_eq!(entered(&f, "needs-analysis"), Some(0));
    assert_eq!(entered(&f, "proposal"), Some(3));
    assert_eq!(entered(&f, "won"), Some(2));
    assert_eq!(entered(&f, "lost"), Some(3));
    assert_eq!(lost(&f, "qualification"), Some(1));
    assert_eq!(lost(&f, "proposal"), Some(2));
    assert_eq!(row(&f, "stage", "proposal")["lost_percent"], 66.7);
    assert!(
        f["notes"][0].as_str().unwrap().contains("proposal: 2"),
        "{f}"
    );

    // Cycle: A won after 40 days, F after 50; stays per stage.
    let cy = report(&crm, &["cycle"]);
    let won = row(&cy, "what", "creation to won");
    assert_eq!(
        (
            won["cases"].as_i64(),
            won["average_days"].as_f64(),
            won["median_days"].as_f64()
        ),
        (Some(2), Some(45.0), Some(45.0)),
        "{cy}"
    );
    let p = row(&cy, "what", "in prospecting");
    assert_eq!(
        (
            p["cases"].as_i64(),
            p["average_days"].as_f64(),
            p["median_days"].as_f64()
        ),
        (Some(5), Some(18.0), Some(10.0))
    );
    let q = row(&cy, "what", "in qualification");
    assert_eq!(
        (
            q["cases"].as_i64(),
            q["average_days"].as_f64(),
            q["median_days"].as_f64()
        ),
        (Some(4), Some(15.0), Some(10.0))
    );
    let pr = row(&cy, "what", "in proposal");
    assert_eq!(
        (
            pr["cases"].as_i64(),
            pr["average_days"].as_f64(),
            pr["median_days"].as_f64()
        ),
        (Some(3), Some(29.0), Some(23.0))
    );

    // Revenue: by month, and February by region and by owner.
    let r = report(&crm, &["revenue"]);
    let feb = row(&r, "month", "2026-02");
    assert_eq!(
        (feb["cases"].as_i64(), feb["revenue"].as_i64()),
        (Some(2), Some(400_000)),
        "{r}"
    );
    let r = report(&crm, &["revenue", "--by", "region", "--month", "2026-02"]);
    assert_eq!(row(&r, "region", "north")["revenue"], 100_000, "{r}");
    assert_eq!(row(&r, "region", "south")["revenue"], 300_000);
    let last = report(&crm, &["revenue", "--by", "region", "--month", "last"]);
    assert_eq!(
        last["rows"], r["rows"],
        "on March 31st, the last month is February"
    );
    let r = report(&crm, &["revenue", "--by", "owner"]);
    assert_eq!(row(&r, "owner", "bruno")["revenue"], 300_000, "{r}");

    // Pipeline now: only D is open.
    let p = report(&crm, &["pipeline"]);
    let pro = row(&p, "stage", "prospecting");
    assert_eq!(
        (
            pro["cases"].as_i64(),
            pro["value"].as_i64(),
            pro["weighted"].as_i64()
        ),
        (Some(1), Some(50_000), Some(5_000)),
        "{p}"
    );

    // Grades now: ana holds D (B) only; bruno nothing open.
    let g = report(&crm, &["grades"]);
    assert_eq!(row(&g, "owner", "ana")["b"], 1, "{g}");
    let warnings = g["warnings"].to_string();
    assert!(warnings.contains("ana has 0 open A cases"), "{g}");
    assert!(warnings.contains("bruno has 0 open B cases"), "{g}");

    // Activity: done per kind next to win rate.
    let act = report(&crm, &["activity"]);
    let ana = row(&act, "owner", "ana");
    assert_eq!(
        (
            ana["calls"].as_i64(),
            ana["visits"].as_i64(),
            ana["planned"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{act}"
    );
    assert_eq!(
        (
            ana["won"].as_i64(),
            ana["lost"].as_i64(),
            ana["win_rate"].as_f64()
        ),
        (Some(1), Some(2), Some(33.3))
    );
    let bruno = row(&act, "owner", "bruno");
    assert_eq!(
        (bruno["calls"].as_i64(), bruno["win_rate"].as_f64()),
        (Some(2), Some(50.0))
    );

    // As of January 25th: A and E in proposal, C in qualification, F in prospecting; B lost.
    let before = |crm: &Crm| {
        [
            report(crm, &["pipeline", "--as-of", "2026-01-25"]),
            report(crm, &["funnel", "--as-of", "2026-01-25"]),
            report(crm, &["grades", "--as-of", "2026-01-25"]),
            report(crm, &["activity", "--as-of", "2026-01-25"]),
            report(crm, &["revenue", "--as-of", "2026-02-15", "--by", "region"]),
            report(crm, &["pipeline", "--as-of", "2026-01-25", "--by", "owner"]),
        ]
    };
    let old = before(&crm);
    let p = &old[0];
    let check = |s: &str, n: i64, v: i64, w: i64| {
        let r = row(p, "stage", s);
        assert_eq!(
            (
                r["cases"].as_i64(),
                r["value"].as_i64(),
                r["weighted"].as_i64()
            ),
            (Some(n), Some(v), Some(w)),
            "{s}: {p}"
        );
    };
    check("prospecting", 1, 300_000, 30_000);
    check("qualification", 1, 400_000, 80_000);
    check("proposal", 2, 350_000, 210_000);
    check("total", 4, 1_050_000, 320_000);
    assert_eq!(
        row(&old[1], "stage", "qualification")["lost"],
        1,
        "{}",
        old[1]
    );
    assert_eq!(row(&old[1], "stage", "proposal")["entered"], 2);
    assert_eq!(row(&old[2], "owner", "ana")["a"], 2, "{}", old[2]);
    assert_eq!(row(&old[2], "owner", "bruno")["c"], 1);
    assert_eq!(row(&old[3], "owner", "ana")["planned"], 1, "{}", old[3]);
    assert_eq!(
        row(&old[4], "region", "north")["revenue"],
        100_000,
        "{}",
        old[4]
    );
    assert_eq!(
        old[4]["rows"].as_array().map(Vec::len),
        Some(2),
        "north and the total: {}",
        old[4]
    );

    // Later edits: A's amount and region change, C is removed, the meeting is done, a new case.
    at(
        &crm,
        "2026-03-20T10:00",
        &["case", "edit", &a, "--amount", "9999", "--region", "east"],
    );
    at(&crm, "2026-03-20T10:00", &["case", "rm", &c]);
    at(
        &crm,
        "2026-03-20T10:00",
        &["activity", "edit", &meeting, "--status", "done"],
    );
    add_at(
        &crm,
        "2026-03-20T10:00",
        &["case", "add", "--title", "G", "--amount", "7"],
    );
    assert_eq!(before(&crm), old, "as-of reports changed after later edits");

    // ... while reports of now see them.
    let r = report(&crm, &["revenue", "--by", "region"]);
    assert_eq!(row(&r, "region", "east")["revenue"], 999_900, "{r}");
    let act = report(&crm, &["activity"]);
    assert_eq!(row(&act, "owner", "ana")["meetings"], 1, "{act}");
    let f = report(&crm, &["funnel"]);
    assert_eq!(row(&f, "stage", "proposal")["lost"], 1, "C is removed: {f}");

    // The same answers survive a rebuild of the read model from the documents.
    at(&crm, "2026-03-31T12:00", &["rebuild"]);
    assert_eq!(before(&crm), old, "as-of reports changed after a rebuild");

    // Tables and CSV.
    let csv = at(
        &crm,
        "2026-03-31T12:00",
        &["report", "pipeline", "--as-of", "2026-01-25", "--csv"],
    );
    assert!(
        csv.starts_with("stage,currency,cases,value,weighted\n"),
        "{csv}"
    );
    assert!(csv.contains("proposal,EUR,2,3500.00,2100.00"), "{csv}");
    let table = at(&crm, "2026-03-31T12:00", &["report", "grades"]);
    assert!(
        table.contains("WARNING: bruno has 0 open A cases"),
        "{table}"
    );
}

#[test]
fn report_dates_are_typed_as_people_say_them_and_shown_in_iso_form() {
    let Book { crm, .. } = book();
    // Now is 2026-03-31 12:00 (see `report`): yesterday is 2026-03-30.
    let iso = report(&crm, &["pipeline", "--as-of", "2026-03-30"]);
    assert_eq!(iso["as_of"], "2026-03-30", "{iso}");
    let typed = report(&crm, &["pipeline", "--as-of", "yesterday"]);
    assert_eq!(
        typed, iso,
        "--as-of yesterday is not the report of 2026-03-30"
    );
    let revenue_iso = report(
        &crm,
        &["revenue", "--from", "2026-02-01", "--to", "2026-03-30"],
    );
    crm.ok(&["config", "locale", "dmy"]);
    assert_eq!(
        report(&crm, &["pipeline", "--as-of", "30/03/2026"]),
        iso,
        "a day/month/year date in the dmy locale"
    );
    assert_eq!(
        report(
            &crm,
            &["revenue", "--from", "01/02/2026", "--to", "yesterday"]
        ),
        revenue_iso
    );
    let table = at(
        &crm,
        "2026-03-31T12:00",
        &["report", "pipeline", "--as-of", "yesterday"],
    );
    assert!(table.contains("as of 2026-03-30"), "{table}");
}

#[test]
fn report_options_are_checked() {
    let crm = Crm::init("ana");
    for args in [
        &["report", "pipeline", "--as-of", "the day before"][..],
        &["report", "revenue", "--from", "someday"],
        &["report", "funnel", "--by", "region"],
        &["report", "pipeline", "--month", "2026-02"],
        &["report", "revenue", "--month", "2026-13"],
        &[
            "report",
            "revenue",
            "--from",
            "2026-03-01",
            "--to",
            "2026-02-01",
        ],
    ] {
        crm.fail(args);
    }
    // An empty book reports nothing, cleanly.
    for kind in [
        "pipeline", "funnel", "cycle", "revenue", "grades", "activity",
    ] {
        crm.ok(&["report", kind]);
        crm.ok(&["report", kind, "--as-of", "2020-01-01", "--csv"]);
    }
}
