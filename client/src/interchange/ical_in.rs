//! Activities from iCalendar files: VEVENT -> meeting (or the kind our own export wrote),
//! VTODO -> task, the first VALARM -> the reminder.
//!
//! Times with a TZID are converted through the file's VTIMEZONE (or the IANA or Windows zone it
//! names, as `calcard` resolves it; a VTIMEZONE under a name no one knows by its own rules,
//! `vtimezone.rs`) to this computer's local time, which is how the CRM keeps them; UTC times
//! likewise; floating times are kept as written. A recurring event or task becomes one activity
//! per occurrence, a moved occurrence replacing the one it moves (`ical_series.rs`).

use super::{clean, ActivityIn, Incoming, Parsed, Problem};
use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::timezone::TzResolver;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarParameterName,
    ICalendarParameterValue, ICalendarProperty, ICalendarRelated, ICalendarStatus, ICalendarValue,
};
use calcard::{Entry, Parser};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};

/// Reads the activities of an iCalendar file's text; recurring ones up to a year after `today`.
pub fn read(text: &str, today: NaiveDate) -> Parsed {
    let mut parsed = Parsed::default();
    let starts = structure(text, &mut parsed);
    if !parsed.fatal.is_empty() {
        return parsed;
    }
    let cal = match Parser::new(text).entry() {
        Entry::ICalendar(cal) => cal,
        _ => {
            parsed.fatal.push(Problem {
                line: 1,
                reason: "not an iCalendar file (it should begin with BEGIN:VCALENDAR)".into(),
            });
            return parsed;
        }
    };
    let tzs = cal.build_owned_tz_resolver();
    let series = super::ical_series::Series::read(&cal, &tzs, today);
    let mut i = 0;
    for comp in &cal.components {
        let kind = match comp.component_type {
            ICalendarComponentType::VEvent => "meeting",
            ICalendarComponentType::VTodo => "task",
            _ => continue,
        };
        let line = starts.get(i).copied().unwrap_or(0);
        i += 1;
        let (a, warnings) = match activity(&cal, comp, kind, &tzs) {
            Ok(read) => read,
            Err(reason) => {
                parsed.skipped.push(Problem { line, reason });
                continue;
            }
        };
        parsed
            .warnings
            .extend(warnings.into_iter().map(|reason| Problem { line, reason }));
        if comp.is_recurrence_override() {
            let a = series.replacement(&cal, comp, &tzs, a);
            parsed.items.push((line, Incoming::Activity(a)));
            continue;
        }
        match series.occurrences(&cal, comp, &tzs, &a, line, &mut parsed.warnings) {
            Ok(all) => parsed
                .items
                .extend(all.into_iter().map(|o| (line, Incoming::Activity(o)))),
            Err(reason) => {
                // The rule cannot be expanded: the first occurrence, the rule in its notes.
                let mut a = a;
                let rule = comp
                    .property(&ICalendarProperty::Rrule)
                    .and_then(|e| e.values.first())
                    .and_then(|v| match v {
                        ICalendarValue::RecurrenceRule(r) => Some(format!("Repeats: RRULE:{r}")),
                        _ => None,
                    });
                a.notes = match (a.notes.take(), rule) {
                    (Some(n), Some(r)) => Some(format!("{n}\n{r}")),
                    (n, r) => n.or(r),
                };
                parsed.warnings.push(Problem {
                    line,
                    reason: format!("a recurring event whose occurrences cannot be worked out ({reason}): its first occurrence is imported, the rule kept in its notes"),
                });
                parsed.items.push((line, Incoming::Activity(a)));
            }
        }
    }
    parsed
}

/// The lines where each VEVENT and VTODO begins, in order; an unbalanced BEGIN/END is fatal.
fn structure(text: &str, parsed: &mut Parsed) -> Vec<usize> {
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut starts = Vec::new();
    let mut seen_calendar = false;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r').trim_start_matches('\u{feff}');
        let upper = line.to_ascii_uppercase();
        if let Some(name) = upper.strip_prefix("BEGIN:") {
            let name = name.trim().to_string();
            if name == "VEVENT" || name == "VTODO" {
                starts.push(n);
            }
            seen_calendar |= name == "VCALENDAR";
            stack.push((name, n));
        } else if let Some(name) = upper.strip_prefix("END:") {
            match stack.pop() {
                Some((open, _)) if open == name.trim() => {}
                Some((open, at)) => {
                    parsed.fatal.push(Problem {
                        line: n,
                        reason: format!(
                            "END:{} where {open} (begun at line {at}) should end: the file is damaged",
                            name.trim()
                        ),
                    });
                    return starts;
                }
                None => {
                    parsed.fatal.push(Problem {
                        line: n,
                        reason: format!("END:{} without its BEGIN", name.trim()),
                    });
                    return starts;
                }
            }
        }
    }
    if let Some((open, at)) = stack.last() {
        parsed.fatal.push(Problem {
            line: *at,
            reason: format!("{open} begun here never ends: the file is cut short"),
        });
    } else if !seen_calendar {
        parsed.fatal.push(Problem {
            line: 1,
            reason: "no BEGIN:VCALENDAR in the file: it is not an iCalendar file".into(),
        });
    }
    starts
}

fn text_of(comp: &ICalendarComponent, prop: &ICalendarProperty) -> Option<String> {
    comp.property(prop)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .and_then(clean)
}

/// A date or date-time property in local time; `None` when absent. Date-only values are the
/// day's start.
fn local_time(
    cal: &ICalendar,
    comp: &ICalendarComponent,
    prop: &ICalendarProperty,
    tzs: &TzResolver<String>,
    warnings: &mut Vec<String>,
) -> Option<NaiveDateTime> {
    let entry = comp.property(prop)?;
    let pdt = match entry.values.first()? {
        ICalendarValue::PartialDateTime(p) => p.as_ref(),
        _ => return None,
    };
    let tzid = entry.tz_id();
    let tz = match tzid.map(|id| (id, tzs.resolve(id))) {
        None => None,
        Some((_, Some(tz))) => Some(tz),
        // A zone by a name no one knows: its own VTIMEZONE's observances give the offset.
        Some((id, None)) => {
            let offset = pdt
                .to_date_time()
                .and_then(|r| super::vtimezone::offset_at(cal, id, r.date_time))
                .and_then(chrono::FixedOffset::east_opt);
            match offset {
                Some(o) => Some(Tz::Fixed(o)),
                None => {
                    warnings.push(format!(
                        "time zone `{id}` is not known and the file does not define it: its times are kept as written"
                    ));
                    Some(Tz::Floating)
                }
            }
        }
    };
    to_local(pdt, tz)
}

fn to_local(pdt: &PartialDateTime, tz: Option<Tz>) -> Option<NaiveDateTime> {
    let r = pdt.to_date_time()?;
    if pdt.hour.is_none() {
        return r.date_time.date().and_hms_opt(0, 0, 0);
    }
    if let Some(offset) = r.offset {
        let utc = offset.from_local_datetime(&r.date_time).single()?;
        return Some(utc.with_timezone(&chrono::Local).naive_local());
    }
    match tz {
        Some(tz) if !tz.is_floating() => {
            let t = tz.from_local_datetime(&r.date_time).earliest()?;
            Some(t.with_timezone(&chrono::Local).naive_local())
        }
        _ => Some(r.date_time),
    }
}

/// Our own `X-CRM-...` time properties: UTC (`YYYYMMDDTHHMMSSZ`) or floating.
fn utc_text(comp: &ICalendarComponent, name: &str) -> Option<NaiveDateTime> {
    let t = text_of(comp, &ICalendarProperty::Other(name.into()))?;
    match NaiveDateTime::parse_from_str(&t, "%Y%m%dT%H%M%SZ") {
        Ok(utc) => Some(
            chrono::Utc
                .from_utc_datetime(&utc)
                .with_timezone(&chrono::Local)
                .naive_local(),
        ),
        // Floating: a local time as it is stored.
        Err(_) => NaiveDateTime::parse_from_str(&t, "%Y%m%dT%H%M%S").ok(),
    }
}

fn fmt(t: NaiveDateTime) -> String {
    crm_shared::values::format_datetime(t)
}

fn activity(
    cal: &ICalendar,
    comp: &ICalendarComponent,
    default_kind: &str,
    tzs: &TzResolver<String>,
) -> Result<(ActivityIn, Vec<String>), String> {
    let mut warnings = Vec::new();
    let kind = text_of(comp, &ICalendarProperty::Other("X-CRM-KIND".into()))
        .and_then(|k| crm_shared::model::choice("kind", &k, crm_shared::model::ACTIVITY_KINDS).ok())
        .unwrap_or(default_kind);
    let mut a = ActivityIn {
        uid: comp.uid().and_then(clean),
        kind: kind.to_string(),
        subject: text_of(comp, &ICalendarProperty::Summary)
            .unwrap_or_else(|| "(no subject)".into()),
        location: text_of(comp, &ICalendarProperty::Location),
        ..ActivityIn::default()
    };
    let start = local_time(cal, comp, &ICalendarProperty::Dtstart, tzs, &mut warnings);
    let mut end = local_time(cal, comp, &ICalendarProperty::Dtend, tzs, &mut warnings);
    if end.is_none() {
        if let (Some(s), Some(ICalendarValue::Duration(d))) = (
            start,
            comp.property(&ICalendarProperty::Duration)
                .and_then(|e| e.values.first()),
        ) {
            end = Some(s + duration(d));
        }
    }
    let end = end.or_else(|| utc_text(comp, "X-CRM-END"));
    let due = local_time(cal, comp, &ICalendarProperty::Due, tzs, &mut warnings)
        .or_else(|| utc_text(comp, "X-CRM-DUE"));
    if default_kind == "meeting" && start.is_none() {
        return Err("an event without DTSTART: no time to put it at".into());
    }
    a.start = start.map(fmt);
    a.end = end.filter(|e| Some(*e) >= start).map(fmt);
    a.due = due.map(fmt);
    a.status = text_of(comp, &ICalendarProperty::Other("X-CRM-STATUS".into()))
        .and_then(|s| {
            crm_shared::model::choice("status", &s, crm_shared::model::ACTIVITY_STATUSES).ok()
        })
        .map(str::to_string)
        .or_else(|| {
            comp.status().map(|s| {
                match s {
                    ICalendarStatus::Completed => "done",
                    ICalendarStatus::Cancelled => "cancelled",
                    _ => "planned",
                }
                .to_string()
            })
        });
    for e in comp.properties(&ICalendarProperty::Attendee) {
        let cn = e
            .parameters(&ICalendarParameterName::Cn)
            .find_map(|v| v.as_text());
        let addr = e.values.first().and_then(|v| v.as_text()).map(|t| {
            let t = t.trim();
            t.strip_prefix("mailto:")
                .or_else(|| t.strip_prefix("MAILTO:"))
                .unwrap_or(t)
                .to_string()
        });
        if let Some(who) = addr.or(cn.map(str::to_string)).and_then(|w| clean(&w)) {
            a.attendees.push(who);
        }
    }
    for e in comp.properties(&ICalendarProperty::Other("X-CRM-ATTENDEE".into())) {
        if let Some(who) = e.values.first().and_then(|v| v.as_text()).and_then(clean) {
            a.attendees.push(who);
        }
    }
    for field in ["case", "contact", "org"] {
        let prop = ICalendarProperty::Other(format!("X-CRM-{}", field.to_ascii_uppercase()));
        if let Some(id) = text_of(comp, &prop) {
            a.related.push((field.to_string(), id));
        }
    }
    let notes: Vec<String> = comp
        .properties(&ICalendarProperty::Description)
        .filter_map(|e| e.values.first().and_then(|v| v.as_text()).and_then(clean))
        .collect();
    a.notes = (!notes.is_empty()).then(|| notes.join("\n"));
    a.remind = reminder(cal, comp, start.or(due), end.or(due));
    Ok((a, warnings))
}

fn duration(d: &calcard::icalendar::ICalendarDuration) -> chrono::Duration {
    let secs = (d.weeks as i64 * 7 + d.days as i64) * 86400
        + d.hours as i64 * 3600
        + d.minutes as i64 * 60
        + d.seconds as i64;
    chrono::Duration::seconds(if d.neg { -secs } else { secs })
}

/// Minutes before the start (or due time) of the first alarm that alerts someone.
fn reminder(
    cal: &ICalendar,
    comp: &ICalendarComponent,
    start: Option<NaiveDateTime>,
    end: Option<NaiveDateTime>,
) -> Option<i64> {
    for id in &comp.component_ids {
        let Some(alarm) = cal.component_by_id(*id) else {
            continue;
        };
        if alarm.component_type != ICalendarComponentType::VAlarm {
            continue;
        }
        let action = alarm
            .property(&ICalendarProperty::Action)
            .and_then(|e| e.values.first())
            .map(|v| format!("{v:?}").to_ascii_uppercase())
            .unwrap_or_default();
        if action.contains("NONE") {
            continue;
        }
        let Some(trigger) = alarm.property(&ICalendarProperty::Trigger) else {
            continue;
        };
        let related_end = trigger
            .parameters(&ICalendarParameterName::Related)
            .any(|v| matches!(v, ICalendarParameterValue::Related(ICalendarRelated::End)));
        let at = match trigger.values.first() {
            Some(ICalendarValue::Duration(d)) => {
                let base = if related_end { end.or(start) } else { start };
                base.map(|b| b + duration(d))
            }
            Some(ICalendarValue::PartialDateTime(p)) => to_local(p, None),
            _ => None,
        };
        if let (Some(at), Some(s)) = (at, start) {
            let minutes = (s - at).num_minutes();
            if (0..=60 * 24 * 60).contains(&minutes) {
                return Some(minutes);
            }
        }
    }
    None
}
