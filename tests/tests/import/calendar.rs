//! iCalendar files: times converted from their zones (also zones a file defines under an unknown name), recurring events with their moved occurrences.

use super::*;

/// The activity whose subject is `subject` (of a recurring one, the first occurrence).
fn activity(crm: &Crm, subject: &str) -> Value {
    let list = crm.json(&["activity", "list", "--all"]);
    let row = rows(&list)
        .iter()
        .filter(|r| r["subject"] == subject)
        .min_by_key(|r| r["at"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("no activity {subject:?} in {list}"));
    crm.json(&["activity", "show", row["id"].as_str().unwrap_or("")])
}

#[test]
fn calendar_times_are_converted_from_their_zones_and_a_recurring_event_keeps_its_rule() {
    let crm = Crm::init("ana");
    let out = import(&crm, &[&ours("calendar-vtimezone-rrule-vtodo.ics")]);
    // Four single ones, and the weekly call's ten occurrences (COUNT=10).
    assert_eq!(
        out["created"].as_array().map(Vec::len),
        Some(4 + 10),
        "{out}"
    );
    // A Windows zone name (with its VTIMEZONE) at 09:30 is 09:30 in Berlin.
    let weekly = activity(&crm, "Weekly pipeline call");
    assert_eq!(weekly["kind"], "meeting");
    assert_eq!(weekly["start"], "2026-07-07T09:30");
    assert_eq!(weekly["end"], "2026-07-07T09:45");
    assert_eq!(weekly["remind"], 15);
    assert_eq!(weekly["location"], "Room 4");
    assert_eq!(strings(&weekly["attendees"]), ["ana.ruiz@example.com"]);
    assert_eq!(weekly["notes"], "Go through the open cases.");
    assert_eq!(weekly["repeat"], "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=TU");
    // 14:00 in New York in January is 20:00 in Berlin; DURATION gives the end.
    let visit = activity(&crm, "Visit at Hudson Freight");
    assert_eq!(visit["start"], "2026-01-15T20:00");
    assert_eq!(visit["end"], "2026-01-15T21:30");
    assert_eq!(visit["location"], "12 Pier St, New York");
    // UTC.
    let call = activity(&crm, "Call with Oslo office");
    assert_eq!(call["start"], "2026-11-20T17:00");
    assert_eq!(call["status"], "cancelled");
    // Tasks: a due time and an alarm an hour before it; a completed one.
    let offer = activity(&crm, "Send the revised offer");
    assert_eq!(offer["kind"], "task");
    assert_eq!(offer["due"], "2026-07-10T17:00");
    assert_eq!(offer["remind"], 60);
    assert_eq!(
        activity(&crm, "Book the trade fair stand")["status"],
        "done"
    );
}

#[test]
fn real_calendar_exports_import_with_their_moved_occurrences_in_place() {
    let crm = Crm::init("ana");
    let thunderbird = import(
        &crm,
        &[&real_file("ics/thunderbird-vtodo-valarm-recurring.ics")],
    );
    // The moved occurrences (RECURRENCE-ID) are imported in place of those they move.
    assert_eq!(
        thunderbird["skipped"],
        serde_json::json!([]),
        "{thunderbird}"
    );
    let todo = activity(&crm, "todo with alarm");
    assert_eq!(todo["kind"], "task");
    assert_eq!(
        todo["repeat"], "RRULE:FREQ=DAILY;UNTIL=20231223T090000Z",
        "{todo}"
    );
    for f in [
        "ics/google-calendar-export-valarm.ics",
        "ics/google-calendar-recurring-exdate-override.ics",
        "ics/outlook-2010-meeting-request.ics",
        "ics/exchange-2010-recurring-overrides.ics",
        "ics/exchange-cdo-meeting-request-quirky-rrule.ics",
    ] {
        let out = import(&crm, &[&real_file(f)]);
        assert!(
            !out["created"].as_array().map(Vec::is_empty).unwrap_or(true),
            "{f}: {out}"
        );
    }
    // Outlook's "Eastern Standard Time" at 12:00 on 2013-06-10 (daylight time) is 18:00 in Berlin.
    let meeting = activity(&crm, "Team Meeting");
    assert_eq!(meeting["start"], "2013-06-10T18:00", "{meeting}");
    assert_eq!(meeting["end"], "2013-06-10T19:00", "{meeting}");
    let google = activity(&crm, "event with alarms");
    assert_eq!(google["remind"], 10, "{google}");
}

#[test]
fn a_zone_the_file_defines_under_an_unknown_name_is_converted_by_its_own_rules() {
    let crm = Crm::init("ana");
    // Exchange's `GMT +0100 (Standard) / GMT +0200 (Daylight)`: 10:00 on 3 July is summer time,
    // 08:00 UTC.
    let file = real_file("ics/exchange-cdo-meeting-request-quirky-rrule.ics");
    let args = ["--json", "import", file.as_str()];
    let out = crm
        .command()
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("crm runs");
    let out: Value = serde_json::from_str(&crm_tests::expect_ok(&args, out)).expect("JSON");
    assert_eq!(out["warnings"], serde_json::json!([]), "{out}");
    let standup = activity(&crm, "Sprint 25 Daily Standup");
    assert_eq!(standup["start"], "2015-07-03T08:00", "{standup}");
    assert_eq!(standup["end"], "2015-07-03T08:30", "{standup}");
}
