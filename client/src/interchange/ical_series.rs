//! Recurring events and tasks of a calendar as the CRM keeps a repeating activity: one activity
//! per occurrence (`recurrence.rs` says which occurrences), all naming the series.
//!
//! Each occurrence is keyed `UID#RECURRENCE-ID`, the id RFC 5545 gives an occurrence: the UTC
//! time of its original start (`...#20260105T080000Z`), the day of an all-day one
//! (`...#20260105`), the wall-clock time of a floating one. The key is kept in the activity's
//! `external_ids`, so importing the file again finds every occurrence. A moved or changed
//! occurrence (a component with RECURRENCE-ID) replaces the occurrence it names, under the same
//! key.

use super::recurrence::{Rule, MAX_OCCURRENCES};
use super::vtimezone::offset_at;
use super::{ActivityIn, Problem};
use calcard::common::timezone::Tz;
use calcard::common::{DateTimeResult, PartialDateTime};
use calcard::icalendar::timezone::TzResolver;
use calcard::icalendar::{ICalendar, ICalendarComponent, ICalendarProperty, ICalendarValue};
use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use std::collections::{BTreeSet, HashMap};

/// The zone a time of the file is written in.
#[derive(Debug, Clone)]
enum Zone {
    /// Floating, UTC or an offset, or a zone `calcard` knows.
    Known(Tz),
    /// A VTIMEZONE under a name no zone database knows, by its own rules.
    Rules(String),
}

impl Zone {
    fn of(
        cal: &ICalendar,
        tzid: Option<&str>,
        dt: &DateTimeResult,
        tzs: &TzResolver<String>,
    ) -> Zone {
        if let Some(o) = dt.offset {
            return Zone::Known(Tz::Fixed(o));
        }
        match tzid {
            None => Zone::Known(Tz::Floating),
            Some(id) => match tzs.resolve(id) {
                Some(tz) => Zone::Known(tz),
                None if offset_at(cal, id, dt.date_time).is_some() => Zone::Rules(id.to_string()),
                None => Zone::Known(Tz::Floating),
            },
        }
    }

    /// The instant of wall-clock time `wall` here, in UTC; `None` when floating.
    fn utc(&self, cal: &ICalendar, wall: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Zone::Known(tz) if tz.is_floating() => None,
            Zone::Known(tz) => tz
                .from_local_datetime(&wall)
                .earliest()
                .map(|t| t.naive_utc()),
            Zone::Rules(id) => {
                offset_at(cal, id, wall).map(|o| wall - Duration::seconds(i64::from(o)))
            }
        }
    }

    /// The wall-clock time here of the UTC instant `utc` (floating: as is).
    fn wall(&self, cal: &ICalendar, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Known(tz) if tz.is_floating() => utc,
            Zone::Known(tz) => tz.from_utc_datetime(&utc).naive_local(),
            Zone::Rules(id) => offset_at(cal, id, utc)
                .map(|o| utc + Duration::seconds(i64::from(o)))
                .unwrap_or(utc),
        }
    }

    /// This computer's local time of wall-clock time `wall` here (floating: as is).
    fn local(&self, cal: &ICalendar, wall: NaiveDateTime) -> NaiveDateTime {
        match self.utc(cal, wall) {
            Some(u) => chrono::Utc
                .from_utc_datetime(&u)
                .with_timezone(&chrono::Local)
                .naive_local(),
            None => wall,
        }
    }
}

/// A recurring component's first occurrence: its zone and wall-clock time.
struct Start {
    zone: Zone,
    wall: NaiveDateTime,
    all_day: bool,
}

/// The first occurrence of a component: DTSTART, else (a task) DUE.
fn start_of(cal: &ICalendar, comp: &ICalendarComponent, tzs: &TzResolver<String>) -> Option<Start> {
    let entry = comp
        .property(&ICalendarProperty::Dtstart)
        .or_else(|| comp.property(&ICalendarProperty::Due))?;
    let ICalendarValue::PartialDateTime(p) = entry.values.first()? else {
        return None;
    };
    let dt = p.to_date_time()?;
    Some(Start {
        zone: Zone::of(cal, entry.tz_id(), &dt, tzs),
        wall: dt.date_time,
        all_day: p.hour.is_none(),
    })
}

/// A date-time value of the file (EXDATE, RDATE, UNTIL) in the wall-clock time of `start`.
fn wall_in(
    cal: &ICalendar,
    start: &Start,
    tzid: Option<&str>,
    p: &PartialDateTime,
    tzs: &TzResolver<String>,
) -> Option<NaiveDateTime> {
    let dt = p.to_date_time()?;
    if p.hour.is_none() {
        return Some(dt.date_time);
    }
    let own = Zone::of(cal, tzid, &dt, tzs);
    Some(match own.utc(cal, dt.date_time) {
        Some(utc) => start.zone.wall(cal, utc),
        None => dt.date_time,
    })
}

fn stamp(cal: &ICalendar, zone: &Zone, wall: NaiveDateTime, all_day: bool) -> String {
    if all_day {
        return wall.format("%Y%m%d").to_string();
    }
    match zone.utc(cal, wall) {
        Some(u) => u.format("%Y%m%dT%H%M%SZ").to_string(),
        None => wall.format("%Y%m%dT%H%M%S").to_string(),
    }
}

/// What the recurring components of a calendar say, read before their occurrences are made.
#[derive(Default)]
pub struct Series {
    /// UID -> whether the series is all-day, and its rule as the activities keep it.
    masters: HashMap<String, (bool, String)>,
    /// The occurrence keys a moved or changed occurrence replaces.
    replaced: BTreeSet<String>,
    /// The last moment occurrences are brought in: a year after the import day.
    window_end: NaiveDateTime,
}

impl Series {
    /// Reads which components recur and which occurrences their overrides replace;
    /// occurrences will be brought in up to a year after `today`.
    pub fn read(cal: &ICalendar, tzs: &TzResolver<String>, today: NaiveDate) -> Series {
        let mut s = Series {
            window_end: today
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(today)
                .and_hms_opt(23, 59, 59)
                .unwrap_or_default(),
            ..Series::default()
        };
        for comp in &cal.components {
            let (Some(uid), Some(rule)) = (comp.uid(), rule_of(comp)) else {
                continue;
            };
            if let Some(start) = start_of(cal, comp, tzs) {
                s.masters.insert(
                    uid.trim().to_string(),
                    (start.all_day, format!("RRULE:{rule}")),
                );
            }
        }
        for comp in cal.components.iter().filter(|c| c.is_recurrence_override()) {
            if let Some(key) = s.override_key(cal, comp, tzs) {
                s.replaced.insert(key);
            }
        }
        s
    }

    /// The key of the occurrence a moved or changed occurrence replaces.
    fn override_key(
        &self,
        cal: &ICalendar,
        comp: &ICalendarComponent,
        tzs: &TzResolver<String>,
    ) -> Option<String> {
        let uid = comp.uid()?.trim();
        let entry = comp.property(&ICalendarProperty::RecurrenceId)?;
        let ICalendarValue::PartialDateTime(p) = entry.values.first()? else {
            return None;
        };
        let dt = p.to_date_time()?;
        let all_day = self.masters.get(uid).is_some_and(|m| m.0) || p.hour.is_none();
        let zone = Zone::of(cal, entry.tz_id(), &dt, tzs);
        Some(format!(
            "{uid}#{}",
            stamp(cal, &zone, dt.date_time, all_day)
        ))
    }

    /// A moved or changed occurrence, read as an activity: keyed as the occurrence it replaces,
    /// in its series.
    pub fn replacement(
        &self,
        cal: &ICalendar,
        comp: &ICalendarComponent,
        tzs: &TzResolver<String>,
        mut a: ActivityIn,
    ) -> ActivityIn {
        if let Some(key) = self.override_key(cal, comp, tzs) {
            let uid = comp.uid().map(|u| u.trim().to_string());
            a.repeat = uid
                .as_ref()
                .and_then(|u| self.masters.get(u))
                .map(|m| m.1.clone());
            a.series = uid;
            a.uid = Some(key);
        }
        a
    }

    /// The occurrences of a recurring component (`a`: it read as one activity) from its start to
    /// the window's end, less those replaced by a moved occurrence. An error names what could
    /// not be read; the caller then keeps `a` as it is.
    pub fn occurrences(
        &self,
        cal: &ICalendar,
        comp: &ICalendarComponent,
        tzs: &TzResolver<String>,
        a: &ActivityIn,
        line: usize,
        warnings: &mut Vec<Problem>,
    ) -> Result<Vec<ActivityIn>, String> {
        let Some(rule) = rule_of(comp) else {
            return Ok(vec![a.clone()]);
        };
        let start = start_of(cal, comp, tzs).ok_or("it has no start to repeat from")?;
        let until = rule.until.as_ref().and_then(|u| {
            let t = wall_in(cal, &start, None, u, tzs)?;
            Some(if u.hour.is_none() {
                t.date().and_hms_opt(23, 59, 59).unwrap_or(t)
            } else {
                t
            })
        });
        let dates = |prop: ICalendarProperty| -> Vec<NaiveDateTime> {
            comp.properties(&prop)
                .flat_map(|e| {
                    let tzid = e.tz_id();
                    e.values.iter().filter_map(move |v| match v {
                        ICalendarValue::PartialDateTime(p) => Some((tzid, p.as_ref())),
                        _ => None,
                    })
                })
                .filter_map(|(tzid, p)| wall_in(cal, &start, tzid, p, tzs))
                .collect()
        };
        let expanded = Rule {
            first: start.wall,
            rule,
            until,
            rdates: dates(ICalendarProperty::Rdate),
            exdates: dates(ICalendarProperty::Exdate).into_iter().collect(),
            all_day: start.all_day,
            window_end: self.window_end,
        }
        .expand()?;
        if expanded.left_out > 0 {
            warnings.push(Problem {
                line,
                reason: format!(
                    "{} earlier occurrences left out: at most {MAX_OCCURRENCES} of a series are imported, the latest",
                    expanded.left_out
                ),
            });
        }
        let uid = comp.uid().map(|u| u.trim().to_string());
        let first_local = start.zone.local(cal, start.wall);
        let shift = |text: &Option<String>, by: Duration| {
            text.as_deref()
                .and_then(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M").ok())
                .map(|t| crm_shared::values::format_datetime(t + by))
        };
        let mut out = Vec::with_capacity(expanded.starts.len());
        for wall in expanded.starts {
            let key = uid
                .as_ref()
                .map(|u| format!("{u}#{}", stamp(cal, &start.zone, wall, start.all_day)));
            if key.as_ref().is_some_and(|k| self.replaced.contains(k)) {
                continue;
            }
            let by = start.zone.local(cal, wall) - first_local;
            let mut o = a.clone();
            o.start = shift(&a.start, by);
            o.end = shift(&a.end, by);
            o.due = shift(&a.due, by);
            o.uid = key;
            o.series = Some(uid.clone().unwrap_or_else(|| format!("line {line}")));
            o.repeat = Some(format!("RRULE:{rule}"));
            out.push(o);
        }
        Ok(out)
    }
}

/// A component's RRULE.
fn rule_of(comp: &ICalendarComponent) -> Option<&calcard::icalendar::ICalendarRecurrenceRule> {
    match comp.property(&ICalendarProperty::Rrule)?.values.first()? {
        ICalendarValue::RecurrenceRule(r) => Some(r),
        _ => None,
    }
}
