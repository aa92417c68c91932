//! `crm import` of recurring events and tasks: one activity per occurrence in the event's own
//! zone (wall-clock time kept across daylight-saving changes), EXDATEs left out, moved
//! occurrences (RECURRENCE-ID) in place of those they move, a window of up to a year ahead and
//! at most 366 of a series; each occurrence found again by UID and RECURRENCE-ID, so importing
//! the file again creates nothing. Run in Berlin time on a fixed day (`CRM_NOW`).

use chrono::{Datelike, Days, NaiveDate, Weekday};
use crm_tests::{rows, Crm};
use serde_json::Value;
use std::path::Path;

const TODAY: &str = "2026-06-30T12:00";

fn fixture(sub: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(sub)
        .display()
        .to_string()
}

fn ours() -> String {
    fixture("fixtures/interchange/calendar-recurring-exdate-override.ics")
}

fn real(name: &str) -> String {
    fixture(&format!("../../shared/fixtures/interchange/ics/{name}"))
}

fn crm_json(crm: &Crm, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = crm
        .command()
        .env("TZ", "Europe/Berlin")
        .env("CRM_NOW", TODAY)
        .args(&all)
        .output()
        .expect("crm runs");
    let text = crm_tests::expect_ok(&all, out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn import(crm: &Crm, file: &str) -> Value {
    crm_json(crm, &["import", file])
}

/// The activities whose subject starts with `subject`, shown, by start.
fn occurrences(crm: &Crm, subject: &str) -> Vec<Value> {
    let list = crm_json(crm, &["activity", "list", "--all"]);
    let mut found: Vec<Value> = rows(&list)
        .iter()
        .filter(|r| r["subject"].as_str().unwrap_or("").starts_with(subject))
        .map(|r| crm_json(crm, &["activity", "show", r["id"].as_str().unwrap_or("")]))
        .collect();
    found.sort_by_key(|a| a["start"].as_str().unwrap_or("").to_string());
    found
}

fn starts(found: &[Value]) -> Vec<String> {
    found
        .iter()
        .map(|a| a["start"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_weekly_meeting_keeps_its_new_york_time_across_daylight_saving_without_its_exdate_and_with_its_move(
) {
    let crm = Crm::init("ana");
    // A dry run tells the occurrences apart by their start.
    let planned = crm_json(&crm, &["import", &ours(), "--dry-run"]);
    let at: Vec<&str> = planned["created"]
        .as_array()
        .expect("created")
        .iter()
        .filter(|r| r["title"] == "Weekly pipeline review")
        .filter_map(|r| r["at"].as_str())
        .collect();
    assert_eq!(
        at,
        [
            "2026-03-02T15:00",
            "2026-03-09T14:00",
            "2026-03-30T15:00",
            "2026-04-06T15:00"
        ]
    );
    import(&crm, &ours());
    let weekly = occurrences(&crm, "Weekly pipeline review");
    // COUNT=6 Mondays at 09:00 New York from 2 March 2026: New York moves its clocks on 8 March,
    // Berlin on 29 March. 16 March is an EXDATE; 23 March moved to Tuesday 24th at 14:00.
    assert_eq!(
        starts(&weekly),
        [
            "2026-03-02T15:00",
            "2026-03-09T14:00",
            "2026-03-24T19:00",
            "2026-03-30T15:00",
            "2026-04-06T15:00"
        ],
        "{weekly:?}"
    );
    let first = weekly[0]["id"].as_str().expect("an id").to_string();
    for a in &weekly {
        assert_eq!(
            a["series"],
            first.as_str(),
            "one series, named by its first: {a}"
        );
        assert_eq!(a["repeat"], "RRULE:FREQ=WEEKLY;COUNT=6;BYDAY=MO");
        assert_eq!(a["location"], "Room 4");
    }
    assert_eq!(weekly[2]["subject"], "Weekly pipeline review (moved)");
    assert_eq!(weekly[2]["end"], "2026-03-24T19:30");
    assert_eq!(weekly[0]["end"], "2026-03-02T15:30");
    assert_eq!(weekly[0]["remind"], 10);
    // Each is kept under UID#RECURRENCE-ID: the moved one under the time it was moved from.
    assert_eq!(
        weekly[2]["external_ids"],
        serde_json::json!(["5F1C2A9E-7B44-4E8B-9D0A-weekly-review#20260323T130000Z"])
    );
    // A monthly rule on the last day, ended by UNTIL (in UTC).
    let board = occurrences(&crm, "Board call");
    assert_eq!(
        starts(&board),
        [
            "2026-01-31T16:00",
            "2026-02-28T16:00",
            "2026-03-31T16:00",
            "2026-04-30T16:00"
        ]
    );
}

#[test]
fn an_endless_rule_comes_in_up_to_a_year_ahead_and_at_most_366_the_latest() {
    let crm = Crm::init("ana");
    let out = import(&crm, &ours());
    let today = NaiveDate::from_ymd_opt(2026, 6, 30).expect("a date");
    let year_ahead = NaiveDate::from_ymd_opt(2027, 6, 30).expect("a date");
    // Weekdays from 1 June 2026 (07:00 UTC, 09:00 in Berlin in summer) to a year after today.
    let mut weekdays = Vec::new();
    let mut d = NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date");
    while d <= year_ahead {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            weekdays.push(d);
        }
        d = d + Days::new(1);
    }
    let standup = occurrences(&crm, "Daily stand-up");
    assert_eq!(standup.len(), weekdays.len());
    assert_eq!(standup[0]["start"], "2026-06-01T09:00");
    assert_eq!(standup[0]["end"], "2026-06-01T09:15");
    // In winter 07:00 UTC is 08:00 in Berlin.
    assert!(starts(&standup).contains(&"2027-01-04T08:00".to_string()));
    assert!(today < year_ahead);

    // Daily since 1 January 2025: more than 366 to a year ahead, so the latest 366, and a note.
    let site = occurrences(&crm, "Daily site check");
    assert_eq!(site.len(), 366);
    assert_eq!(site[365]["start"], "2027-06-30T00:00");
    assert_eq!(site[0]["start"], "2026-06-30T00:00");
    let all_days =
        (year_ahead - NaiveDate::from_ymd_opt(2025, 1, 1).expect("a date")).num_days() + 1;
    let note = format!("{} earlier occurrences left out", all_days - 366);
    assert!(
        out["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|p| p["reason"].as_str().unwrap_or("").contains(&note))),
        "{note}: {}",
        out["warnings"]
    );
}

#[test]
fn importing_recurring_calendars_again_creates_nothing() {
    let crm = Crm::init("ana");
    let files = [
        ours(),
        real("google-calendar-recurring-exdate-override.ics"),
        real("exchange-2010-recurring-overrides.ics"),
        real("thunderbird-vtodo-valarm-recurring.ics"),
        real("exchange-cdo-meeting-request-quirky-rrule.ics"),
    ];
    for f in &files {
        let first = import(&crm, f);
        assert!(
            !first["created"].as_array().is_some_and(Vec::is_empty),
            "{f}: {first}"
        );
    }
    let before = crm.snapshot();
    for f in &files {
        let again = import(&crm, f);
        assert_eq!(again["created"], serde_json::json!([]), "{f}: {again}");
        assert_eq!(again["updated"], serde_json::json!([]), "{f}: {again}");
    }
    assert_eq!(crm.snapshot(), before);
}

#[test]
fn real_recurring_exports_bring_every_occurrence_with_exdates_and_moves_honoured() {
    let crm = Crm::init("ana");
    // Google: yearly from 2014 at 19:00 Los Angeles, 2016 excluded, 2014 moved to 18:30; up to
    // a year after today (2027-06-30), so 2014 to 2026.
    import(&crm, &real("google-calendar-recurring-exdate-override.ics"));
    let vespers = starts(&occurrences(&crm, "Vespers for the Feast of St. Joseph"));
    let mut expected = vec!["2014-08-02T03:30".to_string()];
    expected.extend(
        (2015..=2026)
            .filter(|y| *y != 2016)
            .map(|y| format!("{y}-08-02T04:00")),
    );
    assert_eq!(vespers, expected);

    // Exchange: all-day every other Thursday until 16 September 2020, three of them moved to the
    // Friday after (their RECURRENCE-ID in "GMT Standard Time", the series all-day).
    import(&crm, &real("exchange-2010-recurring-overrides.ics"));
    let bins = starts(&occurrences(&crm, "Refuse black bin"));
    let days = [
        "04-02", "04-17", "04-30", "05-14", "05-29", "06-11", "06-25", "07-09", "07-23", "08-06",
        "08-20", "09-04",
    ];
    let expected: Vec<String> = days.iter().map(|d| format!("2020-{d}T00:00")).collect();
    assert_eq!(bins, expected);

    // Thunderbird: a daily task, its due time repeating, until 23 December 2023.
    import(&crm, &real("thunderbird-vtodo-valarm-recurring.ics"));
    let todos = occurrences(&crm, "todo with alarm");
    let todos: Vec<&Value> = todos
        .iter()
        .filter(|t| t["subject"] == "todo with alarm")
        .collect();
    assert_eq!(todos.len(), 7, "{todos:?}");
    assert!(todos.iter().all(|t| t["kind"] == "task"));
}
