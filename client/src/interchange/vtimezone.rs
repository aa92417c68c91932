//! The UTC offset of a local time in a VTIMEZONE that names no known zone (Exchange's
//! `GMT +0100 (Standard) / GMT +0200 (Daylight)`): from the component's own STANDARD and
//! DAYLIGHT observances, each a start and a yearly rule (month and n-th weekday), as RFC 5545
//! 3.6.5 defines them. Known zone names are resolved by `calcard`; this is the fallback.

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarFrequency, ICalendarProperty,
    ICalendarValue, ICalendarWeekday,
};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};

/// The offset from UTC (seconds) that the VTIMEZONE `tzid` of `cal` gives the local time `at`;
/// `None` when the calendar has no such VTIMEZONE or it holds no usable observance.
pub fn offset_at(cal: &ICalendar, tzid: &str, at: NaiveDateTime) -> Option<i32> {
    let tz = cal.components.iter().find(|c| {
        c.component_type == ICalendarComponentType::VTimezone && c.tz_id_text() == Some(tzid)
    })?;
    let mut best: Option<(NaiveDateTime, i32)> = None;
    for id in &tz.component_ids {
        let Some(obs) = cal.component_by_id(*id) else {
            continue;
        };
        if !matches!(
            obs.component_type,
            ICalendarComponentType::Standard | ICalendarComponentType::Daylight
        ) {
            continue;
        }
        let Some(onset) = latest_onset(obs, at) else {
            continue;
        };
        let Some(to) = offset(obs, &ICalendarProperty::Tzoffsetto) else {
            continue;
        };
        if best.is_none_or(|(b, _)| onset > b) {
            best = Some((onset, to));
        }
    }
    best.map(|(_, to)| to)
}

trait TzIdText {
    fn tz_id_text(&self) -> Option<&str>;
}

impl TzIdText for ICalendarComponent {
    fn tz_id_text(&self) -> Option<&str> {
        self.property(&ICalendarProperty::Tzid)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_text())
    }
}

fn offset(obs: &ICalendarComponent, prop: &ICalendarProperty) -> Option<i32> {
    let ICalendarValue::PartialDateTime(p) = obs.property(prop)?.values.first()? else {
        return None;
    };
    let p: &PartialDateTime = p;
    let s = i32::from(p.tz_hour.unwrap_or_default()) * 3600
        + i32::from(p.tz_minute.unwrap_or_default()) * 60;
    Some(if p.tz_minus { -s } else { s })
}

/// The last time at or before `at` that the observance began (local wall time).
fn latest_onset(obs: &ICalendarComponent, at: NaiveDateTime) -> Option<NaiveDateTime> {
    let ICalendarValue::PartialDateTime(start) =
        obs.property(&ICalendarProperty::Dtstart)?.values.first()?
    else {
        return None;
    };
    let start = start.to_date_time()?.date_time;
    if start > at {
        return None;
    }
    let rule = obs
        .property(&ICalendarProperty::Rrule)
        .and_then(|e| e.values.first())
        .and_then(|v| match v {
            ICalendarValue::RecurrenceRule(r) => Some(r),
            _ => None,
        });
    let Some(rule) = rule.filter(|r| r.freq == ICalendarFrequency::Yearly) else {
        return Some(start);
    };
    let (Some(month), Some(day)) = (rule.bymonth.first(), rule.byday.first()) else {
        return Some(start);
    };
    let until = rule
        .until
        .as_ref()
        .and_then(|u| u.to_date_time())
        .map(|u| u.date_time);
    for year in [at.year(), at.year() - 1] {
        let Some(date) = nth_weekday(
            year,
            u32::from(month.month()),
            day.ordwk.unwrap_or(1),
            weekday(&day.weekday),
        ) else {
            continue;
        };
        let onset = date.and_time(start.time());
        if onset <= at && onset >= start && until.is_none_or(|u| onset <= u) {
            return Some(onset);
        }
    }
    Some(start)
}

fn weekday(w: &ICalendarWeekday) -> Weekday {
    match w {
        ICalendarWeekday::Sunday => Weekday::Sun,
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
    }
}

/// The `n`-th `weekday` of a month (`-1`: the last).
fn nth_weekday(year: i32, month: u32, n: i16, weekday: Weekday) -> Option<NaiveDate> {
    if n > 0 {
        NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8)
    } else {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        let last = next - Duration::days(1);
        let back = (7 + last.weekday().num_days_from_monday() as i64
            - weekday.num_days_from_monday() as i64)
            % 7;
        Some(last - Duration::days(back + 7 * (i64::from(-n) - 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sunday_and_the_second_sunday_are_found() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(nth_weekday(2015, 3, -1, Weekday::Sun), d(2015, 3, 29));
        assert_eq!(nth_weekday(2015, 10, -1, Weekday::Sun), d(2015, 10, 25));
        assert_eq!(nth_weekday(2026, 3, 2, Weekday::Sun), d(2026, 3, 8));
    }
}
