//! The commands a rep reaches for every day: logging what happened in one line, marking work
//! done, repeating meetings, typing dates as people say them. Time is fixed with `CRM_NOW`
//! (friday 2026-12-04, 09:00) so "monday" and "tomorrow" mean the same day on every run.

use crm_tests::{expect_clean_failure, expect_ok, rows, Crm};
use serde_json::Value;
use std::io::Write;
use std::process::{Output, Stdio};

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

/// Runs `crm ARGS` with `input` on stdin.
pub fn with_stdin(crm: &Crm, args: &[&str], input: &str) -> Output {
    let mut child = crm
        .command()
        .env("CRM_NOW", NOW)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crm starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("crm ends")
}

/// A rep with an organization and a contact working there; returns (crm, org, contact).
fn rep() -> (Crm, String, String) {
    let crm = Crm::init("ana");
    let org = id(&crm, &["org", "add", "--name", "Acme", "--region", "north"]);
    let contact = id(&crm, &["contact", "add", "--name", "Rui Costa", "--org", &org]);
    (crm, org, contact)
}

#[test]
fn a_call_is_logged_done_in_one_line_with_who_and_what_came_of_it() {
    let (crm, org, contact) = rep();
    let (out, err) = ok(
        &crm,
        &["log", "call", "--contact", &contact, "--outcome", "wants a quote", "--at", "today 8:30"],
    );
    assert!(err.contains("at 2026-12-04T08:30 (friday)"), "{err}");
    let call = json(&crm, &["activity", "show", out.trim()]);
    assert_eq!(call["kind"], "call");
    assert_eq!(call["status"], "done");
    assert_eq!(call["subject"], "Call with Rui Costa");
    assert_eq!(call["outcome"], "wants a quote");
    assert_eq!(call["start"], "2026-12-04T08:30");
    assert_eq!(call["contact"], contact.as_str());
    assert_eq!(call["org"], org.as_str(), "the contact's organization");
    // Without --at it happened now; a visit with a duration ends after it.
    let visit = id(&crm, &["log", "visit", "--contact", &contact, "--duration", "1h"]);
    let visit = json(&crm, &["activity", "show", &visit]);
    assert_eq!(visit["subject"], "Visit to Rui Costa");
    assert_eq!(visit["start"], "2026-12-04T09:00");
    assert_eq!(visit["end"], "2026-12-04T10:00");
    // Logged with no one to name is refused, and saves nothing.
    let err = fail(&crm, &["log", "email"]);
    assert!(err.contains("--contact"), "{err}");
    assert_eq!(rows(&json(&crm, &["activity", "list"])).len(), 2);
}

#[test]
fn an_activity_is_marked_done_with_its_outcome_and_edited_by_id() {
    let (crm, _, contact) = rep();
    let meeting = id(
        &crm,
        &["activity", "add", "--kind", "meeting", "--subject", "Demo", "--at", "tomorrow 10:00", "--contact", &contact],
    );
    ok(&crm, &["activity", "edit", &meeting, "--location", "Acme HQ", "--at", "monday 14:00"]);
    let edited = json(&crm, &["activity", "show", &meeting]);
    assert_eq!(edited["start"], "2026-12-07T14:00");
    assert_eq!(edited["location"], "Acme HQ");
    assert_eq!(edited["status"], "planned");
    ok(&crm, &["activity", "done", &meeting, "--outcome", "ordered 20 units"]);
    let done = json(&crm, &["activity", "show", &meeting]);
    assert_eq!(done["status"], "done");
    assert_eq!(done["outcome"], "ordered 20 units");
    let err = fail(&crm, &["activity", "done", &meeting]);
    assert!(err.contains("already done"), "{err}");
}

#[test]
fn a_weekly_meeting_is_saved_as_one_activity_per_week_until_its_last_day() {
    let (crm, org, contact) = rep();
    let (out, err) = ok(
        &crm,
        &[
            "activity", "add", "--kind", "meeting", "--subject", "Weekly review", "--at", "monday 10:00",
            "--end", "monday 11:00", "--contact", &contact, "--org", &org, "--location", "Acme HQ",
            "--repeat", "weekly", "--until", "2026-12-31",
        ],
    );
    assert!(err.contains("Saved 4 activities"), "{err}");
    let ids: Vec<&str> = out.lines().collect();
    assert_eq!(ids.len(), 4, "{out}");
    let starts: Vec<String> = ids
        .iter()
        .map(|i| json(&crm, &["activity", "show", i])["start"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        starts,
        ["2026-12-07T10:00", "2026-12-14T10:00", "2026-12-21T10:00", "2026-12-28T10:00"]
    );
    let last = json(&crm, &["activity", "show", ids[3]]);
    assert_eq!(last["end"], "2026-12-28T11:00");
    assert_eq!(last["series"], ids[0]);
    // Each occurrence is its own record: one is done, the others stay planned.
    ok(&crm, &["activity", "done", ids[1]]);
    assert_eq!(json(&crm, &["activity", "show", ids[2]])["status"], "planned");
    // The agenda of a week shows its occurrence, who it is with and where.
    let (agenda, _) = ok(&crm, &["agenda", "--week", "--date", "2026-12-21"]);
    let line = agenda
        .lines()
        .find(|l| l.contains("Weekly review"))
        .unwrap_or_else(|| panic!("the week's occurrence is on the agenda:\n{agenda}"));
    assert!(line.contains("2026-12-21T10:00"), "{line}");
    assert!(line.contains("Rui Costa (Acme)"), "who it is with: {line}");
    assert!(line.contains("Acme HQ"), "where: {line}");
    assert_eq!(agenda.matches("Weekly review").count(), 1, "{agenda}");
    let items = json(&crm, &["agenda", "--date", "monday"]);
    assert_eq!(items["items"][0]["with"], "Rui Costa (Acme)");
    // A series past a year of days is refused, and nothing is saved.
    let err = fail(
        &crm,
        &["activity", "add", "--kind", "call", "--subject", "x", "--at", "today", "--repeat", "daily", "--until", "2028-01-01"],
    );
    assert!(err.contains("earlier --until"), "{err}");
    assert_eq!(rows(&json(&crm, &["activity", "list"])).len(), 4);
}

#[test]
fn dates_are_typed_as_people_say_them_and_told_back_in_iso_form() {
    let (crm, org, _) = rep();
    let (task, err) = ok(
        &crm,
        &["activity", "add", "--kind", "task", "--subject", "Send the quote", "--due", "monday"],
    );
    assert!(err.contains("due 2026-12-07 (monday)"), "{err}");
    assert_eq!(json(&crm, &["activity", "show", task.trim()])["due"], "2026-12-07T00:00");
    for (typed, stored) in [("+3d", "2026-12-07"), ("2w", "2026-12-18"), ("next month", "2027-01-04"), ("tomorrow", "2026-12-05")] {
        let (case, err) = ok(
            &crm,
            &["case", "add", "--title", typed, "--org", &org, "--close-date", typed],
        );
        assert!(err.contains(&format!("close date {stored} (")), "{typed}: {err}");
        assert_eq!(json(&crm, &["case", "show", case.trim()])["close_date"], stored, "{typed}");
    }
    // A slashed date is ambiguous until the data dir's locale says which comes first.
    let err = fail(&crm, &["case", "add", "--title", "Slashed", "--close-date", "31/12/2026"]);
    assert!(err.contains("crm config locale"), "{err}");
    ok(&crm, &["config", "locale", "dmy"]);
    assert_eq!(json(&crm, &["config", "locale"])["locale"], "dmy");
    let (case, err) = ok(&crm, &["case", "add", "--title", "Slashed", "--close-date", "31/12/2026"]);
    assert!(err.contains("close date 2026-12-31 (thursday)"), "{err}");
    assert_eq!(json(&crm, &["case", "show", case.trim()])["close_date"], "2026-12-31");
    fail(&crm, &["case", "add", "--title", "US date", "--close-date", "12/31/2026"]);
    ok(&crm, &["config", "locale", "mdy"]);
    let case = id(&crm, &["case", "add", "--title", "US date", "--close-date", "12/31/2026"]);
    assert_eq!(json(&crm, &["case", "show", &case])["close_date"], "2026-12-31");
    let err = fail(&crm, &["config", "locale", "klingon"]);
    assert!(err.contains("dmy"), "{err}");
    // Filters take the same forms.
    let soon = json(&crm, &["case", "list", "--closing-before", "+2d"]);
    let titles: Vec<&str> = rows(&soon).iter().filter_map(|r| r["title"].as_str()).collect();
    assert_eq!(titles, ["tomorrow"]);
    // Nonsense is refused with the forms understood, and nothing is saved.
    let err = fail(&crm, &["activity", "add", "--kind", "call", "--subject", "x", "--at", "someday"]);
    assert!(err.contains("tomorrow") && err.contains("+3d"), "{err}");
}

#[test]
fn amounts_take_a_thousands_separator_where_it_cannot_be_a_decimal_comma() {
    let (crm, org, _) = rep();
    let case = id(&crm, &["case", "add", "--title", "Fleet", "--org", &org, "--amount", "12,000.50"]);
    let shown = json(&crm, &["case", "show", &case]);
    assert_eq!(shown["amount"], 1_200_050, "{shown}");
    ok(&crm, &["case", "edit", &case, "--amount", "1,250,000"]);
    assert_eq!(json(&crm, &["case", "show", &case])["amount"], 125_000_000);
    let err = fail(&crm, &["case", "edit", &case, "--amount", "12,50"]);
    assert!(err.contains("12,50"), "{err}");
    assert_eq!(json(&crm, &["case", "show", &case])["amount"], 125_000_000);
}
