//! Activities in one line: a call logged done, work marked done with its outcome, a weekly meeting saved as its occurrences.

use super::*;

#[test]
fn a_call_is_logged_done_in_one_line_with_who_and_what_came_of_it() {
    let (crm, org, contact) = rep();
    let (out, err) = ok(
        &crm,
        &[
            "log",
            "call",
            "--contact",
            &contact,
            "--outcome",
            "wants a quote",
            "--at",
            "today 8:30",
        ],
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
    let visit = id(
        &crm,
        &["log", "visit", "--contact", &contact, "--duration", "1h"],
    );
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
        &[
            "activity",
            "add",
            "--kind",
            "meeting",
            "--subject",
            "Demo",
            "--at",
            "tomorrow 10:00",
            "--contact",
            &contact,
        ],
    );
    ok(
        &crm,
        &[
            "activity",
            "edit",
            &meeting,
            "--location",
            "Acme HQ",
            "--at",
            "monday 14:00",
        ],
    );
    let edited = json(&crm, &["activity", "show", &meeting]);
    assert_eq!(edited["start"], "2026-12-07T14:00");
    assert_eq!(edited["location"], "Acme HQ");
    assert_eq!(edited["status"], "planned");
    ok(
        &crm,
        &[
            "activity",
            "done",
            &meeting,
            "--outcome",
            "ordered 20 units",
        ],
    );
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
            "activity",
            "add",
            "--kind",
            "meeting",
            "--subject",
            "Weekly review",
            "--at",
            "monday 10:00",
            "--end",
            "monday 11:00",
            "--contact",
            &contact,
            "--org",
            &org,
            "--location",
            "Acme HQ",
            "--repeat",
            "weekly",
            "--until",
            "2026-12-31",
        ],
    );
    assert!(err.contains("Saved 4 activities"), "{err}");
    let ids: Vec<&str> = out.lines().collect();
    assert_eq!(ids.len(), 4, "{out}");
    let starts: Vec<String> = ids
        .iter()
        .map(|i| {
            json(&crm, &["activity", "show", i])["start"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        starts,
        [
            "2026-12-07T10:00",
            "2026-12-14T10:00",
            "2026-12-21T10:00",
            "2026-12-28T10:00"
        ]
    );
    let last = json(&crm, &["activity", "show", ids[3]]);
    assert_eq!(last["end"], "2026-12-28T11:00");
    assert_eq!(last["series"], ids[0]);
    // Each occurrence is its own record: one is done, the others stay planned.
    ok(&crm, &["activity", "done", ids[1]]);
    assert_eq!(
        json(&crm, &["activity", "show", ids[2]])["status"],
        "planned"
    );
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
        &[
            "activity",
            "add",
            "--kind",
            "call",
            "--subject",
            "x",
            "--at",
            "today",
            "--repeat",
            "daily",
            "--until",
            "2028-01-01",
        ],
    );
    assert!(err.contains("earlier --until"), "{err}");
    assert_eq!(rows(&json(&crm, &["activity", "list"])).len(), 4);
}
