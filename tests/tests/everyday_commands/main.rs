//! The commands a rep reaches for every day: logging what happened in one line, marking work
//! done, repeating meetings, typing dates as people say them. Time is fixed with `CRM_NOW`
//! (friday 2026-12-04, 09:00) so "monday" and "tomorrow" mean the same day on every run.

use crm_tests::{expect_clean_failure, expect_ok, rows, run_with_stdin, Crm};
use serde_json::Value;
use std::process::Output;

mod activities;

const NOW: &str = "2026-12-04T09:00";

/// Runs `crm ARGS` at `NOW`; returns (stdout, stderr).
fn run(crm: &Crm, args: &[&str]) -> Output {
    crm.command()
        .env("CRM_NOW", NOW)
        .args(args)
        .output()
        .expect("crm starts")
}

fn ok(crm: &Crm, args: &[&str]) -> (String, String) {
    let out = run(crm, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (expect_ok(args, out), stderr)
}

fn fail(crm: &Crm, args: &[&str]) -> String {
    expect_clean_failure(args, run(crm, args))
}

fn json(crm: &Crm, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(crm, &all).0).expect("JSON")
}

fn id(crm: &Crm, args: &[&str]) -> String {
    ok(crm, args).0.trim().to_string()
}

/// Runs `crm ARGS` at `NOW` with `input` on stdin.
fn with_stdin(crm: &Crm, args: &[&str], input: &str) -> Output {
    let mut cmd = crm.command();
    cmd.env("CRM_NOW", NOW).args(args);
    run_with_stdin(cmd, input)
}

/// A rep with an organization and a contact working there; returns (crm, org, contact).
fn rep() -> (Crm, String, String) {
    let crm = Crm::init("ana");
    let org = id(&crm, &["org", "add", "--name", "Acme", "--region", "north"]);
    let contact = id(
        &crm,
        &["contact", "add", "--name", "Rui Costa", "--org", &org],
    );
    (crm, org, contact)
}

#[test]
fn dates_are_typed_as_people_say_them_and_told_back_in_iso_form() {
    let (crm, org, _) = rep();
    let (task, err) = ok(
        &crm,
        &[
            "activity",
            "add",
            "--kind",
            "task",
            "--subject",
            "Send the quote",
            "--due",
            "monday",
        ],
    );
    assert!(err.contains("due 2026-12-07 (monday)"), "{err}");
    assert_eq!(
        json(&crm, &["activity", "show", task.trim()])["due"],
        "2026-12-07T00:00"
    );
    for (typed, stored) in [
        ("+3d", "2026-12-07"),
        ("2w", "2026-12-18"),
        ("next month", "2027-01-04"),
        ("tomorrow", "2026-12-05"),
    ] {
        let (case, err) = ok(
            &crm,
            &[
                "case",
                "add",
                "--title",
                typed,
                "--org",
                &org,
                "--close-date",
                typed,
            ],
        );
        assert!(
            err.contains(&format!("close date {stored} (")),
            "{typed}: {err}"
        );
        assert_eq!(
            json(&crm, &["case", "show", case.trim()])["close_date"],
            stored,
            "{typed}"
        );
    }
    // A slashed date is ambiguous until the data dir's locale says which comes first.
    let err = fail(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "Slashed",
            "--close-date",
            "31/12/2026",
        ],
    );
    assert!(err.contains("crm config locale"), "{err}");
    ok(&crm, &["config", "locale", "dmy"]);
    assert_eq!(json(&crm, &["config", "locale"])["locale"], "dmy");
    let (case, err) = ok(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "Slashed",
            "--close-date",
            "31/12/2026",
        ],
    );
    assert!(err.contains("close date 2026-12-31 (thursday)"), "{err}");
    assert_eq!(
        json(&crm, &["case", "show", case.trim()])["close_date"],
        "2026-12-31"
    );
    fail(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "US date",
            "--close-date",
            "12/31/2026",
        ],
    );
    ok(&crm, &["config", "locale", "mdy"]);
    let case = id(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "US date",
            "--close-date",
            "12/31/2026",
        ],
    );
    assert_eq!(
        json(&crm, &["case", "show", &case])["close_date"],
        "2026-12-31"
    );
    let err = fail(&crm, &["config", "locale", "klingon"]);
    assert!(err.contains("dmy"), "{err}");
    // Filters take the same forms.
    let soon = json(&crm, &["case", "list", "--closing-before", "+2d"]);
    let titles: Vec<&str> = rows(&soon)
        .iter()
        .filter_map(|r| r["title"].as_str())
        .collect();
    assert_eq!(titles, ["tomorrow"]);
    // Nonsense is refused with the forms understood, and nothing is saved.
    let err = fail(
        &crm,
        &[
            "activity",
            "add",
            "--kind",
            "call",
            "--subject",
            "x",
            "--at",
            "someday",
        ],
    );
    assert!(err.contains("tomorrow") && err.contains("+3d"), "{err}");
}

#[test]
fn amounts_take_a_thousands_separator_where_it_cannot_be_a_decimal_comma() {
    let (crm, org, _) = rep();
    let case = id(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "Fleet",
            "--org",
            &org,
            "--amount",
            "12,000.50",
        ],
    );
    let shown = json(&crm, &["case", "show", &case]);
    assert_eq!(shown["amount"], 1_200_050, "{shown}");
    ok(&crm, &["case", "edit", &case, "--amount", "1,250,000"]);
    assert_eq!(json(&crm, &["case", "show", &case])["amount"], 125_000_000);
    let err = fail(&crm, &["case", "edit", &case, "--amount", "12,50"]);
    assert!(err.contains("12,50"), "{err}");
    assert_eq!(json(&crm, &["case", "show", &case])["amount"], 125_000_000);
}

#[test]
fn ids_piped_from_a_list_are_edited_in_one_transaction_or_not_at_all() {
    let (crm, org, _) = rep();
    let mine: Vec<String> = (1..=3)
        .map(|i| {
            id(
                &crm,
                &[
                    "case",
                    "add",
                    "--title",
                    &format!("North {i}"),
                    "--org",
                    &org,
                    "--grade",
                    "A",
                ],
            )
        })
        .collect();
    let other = id(
        &crm,
        &["case", "add", "--title", "Elsewhere", "--grade", "C"],
    );
    let (listed, _) = ok(&crm, &["case", "list", "--grade", "A", "--ids"]);
    let mut listed_ids: Vec<&str> = listed.lines().collect();
    listed_ids.sort();
    let mut want: Vec<&str> = mine.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed_ids, want, "--ids prints the full ids, one a line");
    // A bad id on line 3 refuses the whole batch: no case changes owner.
    let bad = format!("{}\n{}\nnot-an-id\n", mine[0], mine[1]);
    let out = with_stdin(&crm, &["case", "edit", "-", "--owner", "bruno"], &bad);
    let err = expect_clean_failure(&["case", "edit", "-"], out);
    assert!(err.contains("line 3"), "{err}");
    let owners = |crm: &Crm| -> Vec<String> {
        rows(&json(crm, &["case", "list"]))
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r["title"].as_str().unwrap_or(""),
                    r["owner"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert!(
        owners(&crm).iter().all(|o| o.ends_with("=ana")),
        "{:?}",
        owners(&crm)
    );
    // The ids of the list, piped in: all three change, the other case does not.
    let out = with_stdin(&crm, &["case", "edit", "-", "--owner", "bruno"], &listed);
    let printed = expect_ok(&["case", "edit", "-"], out);
    assert_eq!(printed.lines().count(), 3, "{printed}");
    let mut now = owners(&crm);
    now.sort();
    assert_eq!(
        now,
        [
            "Elsewhere=ana",
            "North 1=bruno",
            "North 2=bruno",
            "North 3=bruno"
        ]
    );
    // Stage moves and book moves take ids the same way.
    let out = with_stdin(&crm, &["case", "move", "-", "--stage", "proposal"], &listed);
    expect_ok(&["case", "move", "-"], out);
    let stages: Vec<&str> = mine.iter().map(|_| "proposal").collect();
    let got: Vec<String> = mine
        .iter()
        .map(|c| {
            json(&crm, &["case", "show", c])["stage"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(got, stages);
    assert_eq!(
        json(&crm, &["case", "show", &other])["stage"],
        "prospecting"
    );
    let out = with_stdin(&crm, &["move", "-", "--book", "south"], &listed);
    expect_ok(&["move", "-"], out);
    assert_eq!(json(&crm, &["case", "show", &mine[2]])["book"], "south");
    assert_eq!(json(&crm, &["case", "show", &other])["book"], "default");
    // Nothing on stdin is refused, saying how to pipe ids in.
    let out = with_stdin(&crm, &["case", "edit", "-", "--grade", "B"], "");
    let err = expect_clean_failure(&["case", "edit", "-"], out);
    assert!(err.contains("--ids"), "{err}");
}

#[test]
fn history_shows_each_fields_old_and_new_value_and_a_short_diff_of_text() {
    let (crm, _, contact) = rep();
    ok(
        &crm,
        &[
            "contact",
            "edit",
            &contact,
            "--title",
            "CFO",
            "--notes",
            "Met at the fair",
        ],
    );
    ok(
        &crm,
        &[
            "contact",
            "edit",
            &contact,
            "--title",
            "Finance Director",
            "--notes",
            "Met at the Lisbon fair",
        ],
    );
    let (table, _) = ok(&crm, &["history", &contact]);
    assert!(table.contains("CFO -> Finance Director"), "{table}");
    assert!(table.contains("Met at the {+Lisbon+} fair"), "{table}");
    let entries = json(&crm, &["history", &contact]);
    let last = &entries[entries.as_array().map_or(0, |a| a.len() - 1)];
    let change = |field: &str| {
        last["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["field"] == field))
            .cloned()
            .unwrap_or_else(|| panic!("the last change names {field}: {last}"))
    };
    assert_eq!(change("title")["before"], "CFO");
    assert_eq!(change("title")["after"], "Finance Director");
    assert_eq!(change("notes")["before"], "Met at the fair");
    assert_eq!(change("notes")["after"], "Met at the Lisbon fair");
    assert_eq!(change("notes")["diff"], "Met at the {+Lisbon+} fair");
    // The first change made the record: every field from nothing.
    assert_eq!(entries[0]["changes"][0]["before"], "");
}

#[test]
fn saved_views_keep_a_list_with_its_flags_in_the_data_dir() {
    let (crm, org, _) = rep();
    let add = |title: &str, extra: &[&str]| {
        let mut args = vec!["case", "add", "--title", title, "--org", &org];
        args.extend_from_slice(extra);
        id(&crm, &args)
    };
    add("Mine this month", &["--close-date", "2026-12-20"]);
    add("Mine next month", &["--close-date", "2027-01-15"]);
    add(
        "Bruno's this month",
        &["--close-date", "2026-12-21", "--owner", "bruno"],
    );
    let won = add("Mine won this month", &["--close-date", "2026-12-22"]);
    ok(&crm, &["case", "move", &won, "--stage", "won"]);
    let titles = |list: &Value| -> Vec<String> {
        let mut t: Vec<String> = rows(list)
            .iter()
            .map(|r| r["title"].as_str().unwrap_or("").to_string())
            .collect();
        t.sort();
        t
    };
    let listed = json(
        &crm,
        &[
            "case",
            "list",
            "--open",
            "--mine",
            "--closing",
            "this-month",
        ],
    );
    assert_eq!(titles(&listed), ["Mine this month"]);
    assert_eq!(
        titles(&json(
            &crm,
            &["case", "list", "--open", "--closing", "this-quarter"]
        )),
        ["Bruno's this month", "Mine this month"]
    );
    assert_eq!(
        titles(&json(
            &crm,
            &["case", "list", "--mine", "--closing", "next-month"]
        )),
        ["Mine next month"]
    );
    let err = fail(&crm, &["case", "list", "--closing", "someday"]);
    assert!(err.contains("this-month"), "{err}");

    let (_, said) = ok(
        &crm,
        &[
            "view",
            "save",
            "closing",
            "case",
            "list",
            "--open",
            "--mine",
            "--closing",
            "this-month",
        ],
    );
    assert!(said.contains("crm view closing"), "{said}");
    assert!(
        crm.dir().join("views.json").exists(),
        "kept in the data dir"
    );
    assert_eq!(json(&crm, &["view", "closing"]), listed);
    // Flags given when running it are added to the saved ones.
    let (table, _) = ok(&crm, &["view", "closing"]);
    assert!(
        table.contains("Mine this month") && !table.contains("next month"),
        "{table}"
    );
    assert_eq!(
        rows(&json(&crm, &["view", "closing", "--grade", "A"])).len(),
        0
    );
    let views = json(&crm, &["view", "list"]);
    assert_eq!(views["closing"][0], "case");
    // Only list commands are views; a bad flag is caught when saving.
    let err = fail(
        &crm,
        &["view", "save", "oops", "case", "add", "--title", "x"],
    );
    assert!(err.contains("a view holds a list"), "{err}");
    let err = fail(&crm, &["view", "save", "oops", "case", "list", "--nope"]);
    assert!(err.contains("--nope"), "{err}");
    let err = fail(&crm, &["view", "nope"]);
    assert!(
        err.contains("closing"),
        "the error names the saved views: {err}"
    );
    ok(&crm, &["view", "rm", "closing"]);
    fail(&crm, &["view", "closing"]);
}

#[test]
fn reports_total_in_the_base_currency_at_the_dated_rates_and_say_which() {
    let (crm, org, _) = rep();
    for (title, amount, currency) in [
        ("Euro deal", "1000", "EUR"),
        ("Dollar deal", "1,000.00", "USD"),
        ("Pound deal", "500", "GBP"),
    ] {
        let case = id(
            &crm,
            &[
                "case",
                "add",
                "--title",
                title,
                "--org",
                &org,
                "--amount",
                amount,
                "--currency",
                currency,
            ],
        );
        ok(&crm, &["case", "move", &case, "--stage", "won"]);
    }
    ok(
        &crm,
        &[
            "case",
            "add",
            "--title",
            "Open dollars",
            "--org",
            &org,
            "--amount",
            "2000",
            "--currency",
            "USD",
        ],
    );
    // No rates: totals stay per currency, as before.
    let plain = json(&crm, &["report", "revenue"]);
    assert!(
        rows(&plain["rows"])
            .iter()
            .all(|r| r["month"] != "total in EUR"),
        "{plain}"
    );

    ok(
        &crm,
        &["settings", "rate", "USD", "0.90", "--date", "2026-01-01"],
    );
    ok(
        &crm,
        &["settings", "rate", "USD", "0.92", "--date", "2026-12-01"],
    );
    let shown = json(&crm, &["settings", "show"]);
    assert_eq!(rows(&shown["rates"]).len(), 2, "{shown}");
    let revenue = json(&crm, &["report", "revenue"]);
    let total = |report: &Value, group: &str, key: &str| {
        rows(&report["rows"])
            .iter()
            .find(|r| r[group] == "total in EUR")
            .unwrap_or_else(|| panic!("a total in EUR: {report}"))[key]
            .clone()
    };
    // 1000.00 EUR + 1000.00 USD at 0.92; the pounds have no rate and are left out, with a warning.
    assert_eq!(total(&revenue, "month", "revenue"), 192_000);
    assert_eq!(total(&revenue, "month", "cases"), 2);
    let notes = revenue["notes"].to_string();
    assert!(notes.contains("1 USD = 0.92 EUR (2026-12-01)"), "{notes}");
    let warnings = revenue["warnings"].to_string();
    assert!(
        warnings.contains("GBP") && warnings.contains("left out"),
        "{warnings}"
    );
    // The original currencies stay in the report beside the converted total.
    let currencies: Vec<&str> = rows(&revenue["rows"])
        .iter()
        .filter(|r| r["month"] == "total")
        .filter_map(|r| r["currency"].as_str())
        .collect();
    assert_eq!(currencies, ["EUR", "GBP", "USD"]);

    ok(
        &crm,
        &["settings", "rate", "GBP", "1.17", "--date", "2026-06-01"],
    );
    let revenue = json(&crm, &["report", "revenue"]);
    assert_eq!(
        total(&revenue, "month", "revenue"),
        100_000 + 92_000 + 58_500
    );
    assert_eq!(revenue["warnings"], serde_json::json!([]));
    // The pipeline converts its open value the same way, and the table says so.
    let pipeline = json(&crm, &["report", "pipeline"]);
    assert_eq!(total(&pipeline, "stage", "value"), 184_000);
    let (table, _) = ok(&crm, &["report", "pipeline"]);
    assert!(
        table.contains("total in EUR") && table.contains("1840.00"),
        "{table}"
    );
    assert!(table.contains("1 USD = 0.92 EUR (2026-12-01)"), "{table}");
    // A rate is exact: nonsense is refused, and a removed rate is gone.
    let err = fail(&crm, &["settings", "rate", "USD", "-1"]);
    assert!(err.contains("exchange rate"), "{err}");
    fail(&crm, &["settings", "rate", "EUR", "1"]);
    ok(
        &crm,
        &[
            "settings",
            "rate",
            "USD",
            "--remove",
            "--date",
            "2026-12-01",
        ],
    );
    let revenue = json(&crm, &["report", "revenue"]);
    assert_eq!(
        total(&revenue, "month", "revenue"),
        100_000 + 90_000 + 58_500
    );
}
