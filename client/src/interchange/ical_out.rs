//! Activities as iCalendar (RFC 5545): a task as VTODO, anything else as VEVENT; UID is the
//! record id and SEQUENCE the number of its changes after the first; times are written in UTC;
//! the reminder is a VALARM. `X-CRM-KIND` and `X-CRM-STATUS` carry what iCalendar has no word for.

use super::vcard_out::{escape, line};
use chrono::{NaiveDateTime, TimeZone};
use crm_shared::schema::Record;

pub fn begin(out: &mut String) {
    line(out, "BEGIN:VCALENDAR");
    line(out, "VERSION:2.0");
    line(out, "PRODID:-//crm//offline CRM//EN");
    line(out, "CALSCALE:GREGORIAN");
}

pub fn end(out: &mut String) {
    line(out, "END:VCALENDAR");
}

/// A stored local date-time in UTC, `YYYYMMDDTHHMMSSZ`; a time this computer's zone skips (a
/// daylight-saving gap) is written as it is stored, floating, so nothing is shifted.
fn utc(local: &str) -> Option<String> {
    let dt = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M").ok()?;
    Some(match chrono::Local.from_local_datetime(&dt).earliest() {
        Some(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y%m%dT%H%M%SZ")
            .to_string(),
        None => dt.format("%Y%m%dT%H%M%S").to_string(),
    })
}

/// Writes one activity. `sequence` counts its changes after the first; `stamp_ms` is now.
pub fn component(out: &mut String, r: &Record, sequence: usize, stamp_ms: i64) {
    let kind = r.str("kind").unwrap_or("meeting");
    let todo = kind == "task";
    let name = if todo { "VTODO" } else { "VEVENT" };
    line(out, &format!("BEGIN:{name}"));
    line(out, &format!("UID:{}", r.id));
    line(out, &format!("SEQUENCE:{sequence}"));
    if let Some(t) = chrono::DateTime::from_timestamp_millis(stamp_ms) {
        line(out, &format!("DTSTAMP:{}", t.format("%Y%m%dT%H%M%SZ")));
    }
    line(
        out,
        &format!("SUMMARY:{}", escape(r.str("subject").unwrap_or(""))),
    );
    for (field, prop) in [
        ("start", "DTSTART"),
        ("end", if todo { "X-CRM-END" } else { "DTEND" }),
        ("due", if todo { "DUE" } else { "X-CRM-DUE" }),
    ] {
        if let Some(t) = r.str(field).and_then(utc) {
            line(out, &format!("{prop}:{t}"));
        }
    }
    if let Some(l) = r.str("location") {
        line(out, &format!("LOCATION:{}", escape(l)));
    }
    if let Some(n) = r.str("notes").filter(|n| !n.is_empty()) {
        line(out, &format!("DESCRIPTION:{}", escape(n)));
    }
    let status = r.str("status").unwrap_or("planned");
    let ical_status = match (todo, status) {
        (_, "cancelled") => "CANCELLED",
        (true, "done") => "COMPLETED",
        (true, _) => "NEEDS-ACTION",
        (false, _) => "CONFIRMED",
    };
    line(out, &format!("STATUS:{ical_status}"));
    line(out, &format!("X-CRM-KIND:{kind}"));
    line(out, &format!("X-CRM-STATUS:{status}"));
    for a in r.set("attendees") {
        if a.contains('@') && !a.contains(' ') {
            line(out, &format!("ATTENDEE:mailto:{a}"));
        } else {
            line(out, &format!("X-CRM-ATTENDEE:{}", escape(a)));
        }
    }
    for (field, prop) in [
        ("case", "X-CRM-CASE"),
        ("contact", "X-CRM-CONTACT"),
        ("org", "X-CRM-ORG"),
    ] {
        if let Some(id) = r.str(field) {
            line(out, &format!("{prop}:{id}"));
        }
    }
    if let Some(m) = r.int("remind") {
        line(out, "BEGIN:VALARM");
        line(out, "ACTION:DISPLAY");
        line(
            out,
            &format!("DESCRIPTION:{}", escape(r.str("subject").unwrap_or(""))),
        );
        line(out, &format!("TRIGGER:-PT{m}M"));
        line(out, "END:VALARM");
    }
    line(out, &format!("END:{name}"));
}
