//! Dates as people type them: `today`, `tomorrow`, `monday` (the next one), `last monday` (the one
//! before today), `+3d`, `2w`, `next month`, `last week`, ISO `2026-12-31`, and the local forms `31/12/2026` or `12/31/2026` when the
//! user's locale says which comes first; each optionally followed by a time (`tomorrow 10:00`).
//!
//! Pure: "now" is an argument (the client passes its clock). The forms are few and fixed, so they
//! are parsed here on `chrono` rather than with a natural-language date crate: those read many
//! more forms than a rep types, pick their own meaning for a bare weekday, and know no per-user
//! day/month order.

use crate::values::{format_datetime, ValueError};
use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

/// Which comes first in a date written with slashes (`crm config locale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// Not set: only ISO dates and the words; `1/2/2026` is refused as ambiguous.
    #[default]
    Iso,
    /// `31/12/2026` (most of the world).
    DayFirst,
    /// `12/31/2026` (the United States).
    MonthFirst,
}

impl DateOrder {
    /// The names `crm config locale` takes: `iso`, `dmy`, `mdy`.
    pub fn parse(s: &str) -> Result<DateOrder, ValueError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "iso" | "ymd" | "" => Ok(DateOrder::Iso),
            "dmy" | "day-first" | "dd/mm/yyyy" => Ok(DateOrder::DayFirst),
            "mdy" | "month-first" | "mm/dd/yyyy" => Ok(DateOrder::MonthFirst),
            _ => Err(ValueError::Choice {
                field: "locale",
                value: s.to_string(),
                expected: "dmy (31/12/2026), mdy (12/31/2026), iso (2026-12-31)".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DateOrder::Iso => "iso",
            DateOrder::DayFirst => "dmy",
            DateOrder::MonthFirst => "mdy",
        }
    }
}

/// What typed dates are read against: now (the client's clock) and the user's day/month order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypedDates {
    pub now: NaiveDateTime,
    pub order: DateOrder,
}

impl TypedDates {
    pub fn day(&self, text: &str) -> Result<NaiveDate, ValueError> {
        parse_day(text, self.now.date(), self.order)
    }

    pub fn moment(&self, text: &str) -> Result<NaiveDateTime, ValueError> {
        parse_moment(text, self.now, self.order)
    }
}

/// How often an activity repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    Weekly,
    Monthly,
}

impl Repeat {
    pub fn parse(s: &str) -> Result<Repeat, ValueError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Ok(Repeat::Daily),
            "weekly" | "week" => Ok(Repeat::Weekly),
            "monthly" | "month" => Ok(Repeat::Monthly),
            _ => Err(ValueError::Choice {
                field: "repeat",
                value: s.to_string(),
                expected: "daily, weekly, monthly".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Repeat::Daily => "daily",
            Repeat::Weekly => "weekly",
            Repeat::Monthly => "monthly",
        }
    }
}

/// The moments of a series starting at `first`, repeating `every` up to the end of day `until`:
/// `first` itself, then each next one. A monthly series on the 31st falls on the last day of
/// shorter months. `None` when there would be more than `max`.
pub fn occurrences(
    first: NaiveDateTime,
    every: Repeat,
    until: NaiveDate,
    max: usize,
) -> Option<Vec<NaiveDateTime>> {
    let mut out = Vec::new();
    for i in 0u32.. {
        let next = match every {
            Repeat::Daily => first.checked_add_days(Days::new(u64::from(i))),
            Repeat::Weekly => first.checked_add_days(Days::new(7 * u64::from(i))),
            Repeat::Monthly => first.checked_add_months(Months::new(i)),
        };
        match next {
            Some(n) if n.date() <= until => {
                if out.len() == max {
                    return None;
                }
                out.push(n);
            }
            _ => break,
        }
    }
    Some(out)
}

/// The days of a named period around `today`, as `[first, end)`: `this-month`, `next-month`,
/// `this-quarter`, `next-quarter`, `this-year`.
pub fn period(name: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ValueError> {
    let month_start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    let this_month = month_start(today.year(), today.month());
    let quarter = month_start(today.year(), (today.month() - 1) / 3 * 3 + 1);
    let (first, months) = match name.trim().to_ascii_lowercase().as_str() {
        "this-month" => (this_month, 1),
        "next-month" => (
            this_month.and_then(|d| d.checked_add_months(Months::new(1))),
            1,
        ),
        "this-quarter" => (quarter, 3),
        "next-quarter" => (
            quarter.and_then(|d| d.checked_add_months(Months::new(3))),
            3,
        ),
        "this-year" => (month_start(today.year(), 1), 12),
        _ => {
            return Err(ValueError::Choice {
                field: "period",
                value: name.to_string(),
                expected: "this-month, next-month, this-quarter, next-quarter, this-year".into(),
            })
        }
    };
    let overflow = || ValueError::Date(name.to_string());
    let first = first.ok_or_else(overflow)?;
    let end = first
        .checked_add_months(Months::new(months))
        .ok_or_else(overflow)?;
    Ok((first, end))
}

/// Why a typed date was refused: the message lists the forms understood.
fn bad(text: &str, order: DateOrder) -> ValueError {
    let local = match order {
        DateOrder::Iso => "; for 31/12/2026 set `crm config locale dmy` (or mdy)",
        DateOrder::DayFirst => ", 31/12/2026",
        DateOrder::MonthFirst => ", 12/31/2026",
    };
    ValueError::TypedDate(text.to_string(), local)
}

/// A day as typed, relative to `today`.
pub fn parse_day(text: &str, today: NaiveDate, order: DateOrder) -> Result<NaiveDate, ValueError> {
    let t = text.trim().to_lowercase();
    let t = t.as_str();
    let fail = || bad(text, order);
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d);
    }
    match t {
        "today" => return Ok(today),
        "tomorrow" => return today.checked_add_days(Days::new(1)).ok_or_else(fail),
        "yesterday" => return today.checked_sub_days(Days::new(1)).ok_or_else(fail),
        "next week" => return today.checked_add_days(Days::new(7)).ok_or_else(fail),
        "next month" => return today.checked_add_months(Months::new(1)).ok_or_else(fail),
        "next year" => return today.checked_add_months(Months::new(12)).ok_or_else(fail),
        "last week" => return today.checked_sub_days(Days::new(7)).ok_or_else(fail),
        "last month" => return today.checked_sub_months(Months::new(1)).ok_or_else(fail),
        "last year" => return today.checked_sub_months(Months::new(12)).ok_or_else(fail),
        _ => {}
    }
    if let Some(day) = t.strip_prefix("last ").and_then(weekday) {
        // The one before: today's weekday means a week ago.
        let back = (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
        let back = if back == 0 { 7 } else { back };
        return today
            .checked_sub_days(Days::new(u64::from(back)))
            .ok_or_else(fail);
    }
    let weekday_text = t.strip_prefix("next ").unwrap_or(t);
    if let Some(day) = weekday(weekday_text) {
        // The next one: today's weekday means a week from today.
        let ahead = (7 + day.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
        let ahead = if ahead == 0 { 7 } else { ahead };
        return today
            .checked_add_days(Days::new(u64::from(ahead)))
            .ok_or_else(fail);
    }
    if let Some(d) = offset(t, today) {
        return d.ok_or_else(fail);
    }
    if let Some(d) = local(t, order) {
        return d.ok_or_else(fail);
    }
    Err(fail())
}

/// A moment as typed: a day (as [`parse_day`]) with an optional time (`tomorrow 10:00`,
/// `2026-12-01T10:00`), `now`, or a time alone (today). A day alone is its start.
pub fn parse_moment(
    text: &str,
    now: NaiveDateTime,
    order: DateOrder,
) -> Result<NaiveDateTime, ValueError> {
    moment(text, now, order).map_err(|e| match e {
        ValueError::TypedDate(_, local) => ValueError::TypedMoment(text.to_string(), local),
        other => other,
    })
}

fn moment(text: &str, now: NaiveDateTime, order: DateOrder) -> Result<NaiveDateTime, ValueError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now.with_second(0).unwrap_or(now));
    }
    if let Ok(dt) = crate::values::parse_datetime(t) {
        return Ok(dt);
    }
    if let Some(time) = time_of_day(t) {
        return Ok(now.date().and_time(time));
    }
    // The time is the last word, after a space or a `T`.
    if let Some((day, time)) = t.rsplit_once([' ', 'T']).and_then(|(d, tm)| {
        let time = time_of_day(tm)?;
        Some((d, time))
    }) {
        return Ok(parse_day(day, now.date(), order)?.and_time(time));
    }
    Ok(parse_day(t, now.date(), order)?.and_time(NaiveTime::MIN))
}

/// How a parsed date is told back: `2026-12-07 (monday)`.
pub fn describe_day(d: NaiveDate) -> String {
    format!("{d} ({})", weekday_name(d.weekday()))
}

/// How a parsed moment is told back: `2026-12-07T10:00 (monday)`.
pub fn describe_moment(dt: NaiveDateTime) -> String {
    format!("{} ({})", format_datetime(dt), weekday_name(dt.weekday()))
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn weekday(t: &str) -> Option<Weekday> {
    let all = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    all.into_iter().find(|w| {
        let name = weekday_name(*w);
        t == name || (t.len() >= 3 && name.starts_with(t))
    })
}

/// `+3d`, `3d`, `-2d`, `2w`, `+1m` (months), `in 3 days`, `3 weeks`: `None` if not this form.
fn offset(t: &str, today: NaiveDate) -> Option<Option<NaiveDate>> {
    let t = t.strip_prefix("in ").unwrap_or(t);
    let (neg, body) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    let split = body.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = body.split_at(split);
    let n: u32 = num.parse().ok()?;
    let unit = unit.trim();
    let days = |k: u64| {
        let d = Days::new(u64::from(n) * k);
        Some(if neg {
            today.checked_sub_days(d)
        } else {
            today.checked_add_days(d)
        })
    };
    match unit {
        "d" | "day" | "days" => days(1),
        "w" | "week" | "weeks" => days(7),
        "m" | "mo" | "month" | "months" => {
            let m = Months::new(n);
            Some(if neg {
                today.checked_sub_months(m)
            } else {
                today.checked_add_months(m)
            })
        }
        _ => None,
    }
}

/// `31/12/2026` or `12/31/2026` (also with dots) as the locale orders it; `None` if not this form.
fn local(t: &str, order: DateOrder) -> Option<Option<NaiveDate>> {
    let parts: Vec<&str> = t.split(['/', '.']).collect();
    if parts.len() != 3 || !parts.iter().all(|p| !p.is_empty() && p.len() <= 4) {
        return None;
    }
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts[2].len() != 4 {
        return Some(None);
    }
    let (day, month) = match order {
        DateOrder::Iso => return Some(None),
        DateOrder::DayFirst => (nums[0], nums[1]),
        DateOrder::MonthFirst => (nums[1], nums[0]),
    };
    Some(NaiveDate::from_ymd_opt(nums[2] as i32, month, day))
}

fn time_of_day(t: &str) -> Option<NaiveTime> {
    ["%H:%M", "%H:%M:%S", "%Hh%M", "%Hh"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Friday 2026-12-04.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    fn day(t: &str, order: DateOrder) -> String {
        parse_day(t, today(), order).unwrap().to_string()
    }

    #[test]
    fn words_and_offsets_count_from_today() {
        let iso = DateOrder::Iso;
        assert_eq!(day("today", iso), "2026-12-04");
        assert_eq!(day("Tomorrow", iso), "2026-12-05");
        assert_eq!(day("yesterday", iso), "2026-12-03");
        assert_eq!(day("+3d", iso), "2026-12-07");
        assert_eq!(day("3d", iso), "2026-12-07");
        assert_eq!(day("-3d", iso), "2026-12-01");
        assert_eq!(day("2w", iso), "2026-12-18");
        assert_eq!(day("in 2 weeks", iso), "2026-12-18");
        assert_eq!(day("next week", iso), "2026-12-11");
        assert_eq!(day("next month", iso), "2027-01-04");
        assert_eq!(day("+1m", iso), "2027-01-04");
        assert_eq!(day("2026-12-31", iso), "2026-12-31");
    }

    #[test]
    fn a_weekday_is_the_next_one() {
        let iso = DateOrder::Iso;
        assert_eq!(day("monday", iso), "2026-12-07");
        assert_eq!(day("mon", iso), "2026-12-07");
        assert_eq!(day("next monday", iso), "2026-12-07");
        assert_eq!(day("saturday", iso), "2026-12-05");
        // Today is a friday: "friday" is the one a week ahead.
        assert_eq!(day("friday", iso), "2026-12-11");
        assert_eq!(day("thursday", iso), "2026-12-10");
    }

    #[test]
    fn last_counts_back_from_today() {
        let iso = DateOrder::Iso;
        assert_eq!(day("last monday", iso), "2026-11-30");
        assert_eq!(day("last thursday", iso), "2026-12-03");
        // Today is a friday: "last friday" is a week ago.
        assert_eq!(day("last friday", iso), "2026-11-27");
        assert_eq!(day("last week", iso), "2026-11-27");
        assert_eq!(day("last month", iso), "2026-11-04");
        assert_eq!(day("last year", iso), "2025-12-04");
        assert!(parse_day("last blursday", today(), iso).is_err());
    }

    #[test]
    fn slashed_dates_follow_the_locale() {
        assert_eq!(day("31/12/2026", DateOrder::DayFirst), "2026-12-31");
        assert_eq!(day("31.12.2026", DateOrder::DayFirst), "2026-12-31");
        assert_eq!(day("12/31/2026", DateOrder::MonthFirst), "2026-12-31");
        assert_eq!(day("01/02/2026", DateOrder::DayFirst), "2026-02-01");
        assert_eq!(day("01/02/2026", DateOrder::MonthFirst), "2026-01-02");
        let refused = parse_day("31/12/2026", today(), DateOrder::Iso).unwrap_err();
        assert!(
            refused.to_string().contains("crm config locale"),
            "{refused}"
        );
        assert!(parse_day("12/31/2026", today(), DateOrder::DayFirst).is_err());
        assert!(parse_day("31/12/26", today(), DateOrder::DayFirst).is_err());
        assert!(parse_day("soon", today(), DateOrder::DayFirst).is_err());
        assert!(parse_day("2026-02-30", today(), DateOrder::Iso).is_err());
    }

    #[test]
    fn moments_take_a_time_after_the_day() {
        let now = today().and_hms_opt(9, 41, 7).unwrap();
        let iso = DateOrder::Iso;
        let m = |t: &str| format_datetime(parse_moment(t, now, iso).unwrap());
        assert_eq!(m("tomorrow 10:00"), "2026-12-05T10:00");
        assert_eq!(m("monday 14:30"), "2026-12-07T14:30");
        assert_eq!(m("2026-12-01T10:00"), "2026-12-01T10:00");
        assert_eq!(m("2026-12-01 10:00"), "2026-12-01T10:00");
        assert_eq!(m("15:00"), "2026-12-04T15:00");
        assert_eq!(m("now"), "2026-12-04T09:41");
        assert_eq!(m("+2d"), "2026-12-06T00:00");
        let dmy = parse_moment("31/12/2026 18:00", now, DateOrder::DayFirst).unwrap();
        assert_eq!(format_datetime(dmy), "2026-12-31T18:00");
        let bad = parse_moment("tomorrow 25:00", now, iso).unwrap_err();
        assert!(bad.to_string().contains("not a date and time"), "{bad}");
        assert_eq!(describe_moment(dmy), "2026-12-31T18:00 (thursday)");
        assert_eq!(describe_day(today()), "2026-12-04 (friday)");
    }

    #[test]
    fn a_series_repeats_until_its_last_day() {
        let first = NaiveDate::from_ymd_opt(2026, 1, 31)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let until = NaiveDate::from_ymd_opt(2026, 4, 30).unwrap();
        let monthly: Vec<String> = occurrences(first, Repeat::Monthly, until, 100)
            .unwrap()
            .into_iter()
            .map(format_datetime)
            .collect();
        assert_eq!(
            monthly,
            [
                "2026-01-31T09:00",
                "2026-02-28T09:00",
                "2026-03-31T09:00",
                "2026-04-30T09:00"
            ]
        );
        let weekly = occurrences(first, Repeat::Weekly, until, 100).unwrap();
        assert_eq!(weekly.len(), 13);
        assert_eq!(format_datetime(weekly[1]), "2026-02-07T09:00");
        assert_eq!(occurrences(first, Repeat::Daily, until, 10), None);
        let before = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(occurrences(first, Repeat::Daily, before, 10), Some(vec![]));
    }

    #[test]
    fn periods_are_whole_months_and_quarters() {
        let p = |name: &str| {
            let (a, b) = period(name, today()).unwrap();
            format!("{a}..{b}")
        };
        assert_eq!(p("this-month"), "2026-12-01..2027-01-01");
        assert_eq!(p("next-month"), "2027-01-01..2027-02-01");
        assert_eq!(p("this-quarter"), "2026-10-01..2027-01-01");
        assert_eq!(p("next-quarter"), "2027-01-01..2027-04-01");
        assert_eq!(p("this-year"), "2026-01-01..2027-01-01");
        assert!(period("someday", today()).is_err());
    }

    proptest! {
        #[test]
        fn typed_dates_never_panic(s in ".{0,30}") {
            let now = today().and_hms_opt(12, 0, 0).unwrap();
            for order in [DateOrder::Iso, DateOrder::DayFirst, DateOrder::MonthFirst] {
                let _ = parse_day(&s, today(), order);
                let _ = parse_moment(&s, now, order);
            }
        }
    }
}
