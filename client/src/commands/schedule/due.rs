//! When a schedule is due: its cron pattern (`croner`, 5 fields) read in its time zone
//! (`chrono-tz`), the key of each run, and the next run in words.
//!
//! Daylight saving: times are local to the schedule's zone, so `0 8 * * MON` is 08:00 in
//! Lisbon in winter and in summer. A local time that a change skips (01:30 on the spring-forward
//! night) is run at the first valid time after it, as `croner` finds it; a local time that
//! happens twice (01:30 on the fall-back night) is one run, since a run's key is its local time.

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::str::FromStr;

/// A schedule's timing: the pattern and the zone it is read in.
pub struct Timing {
    cron: Cron,
    pub tz: Tz,
}

impl Timing {
    /// Reads a cron pattern and a zone name, each error saying what to give.
    pub fn parse(pattern: &str, tz: &str) -> Result<Timing> {
        let fields = pattern.split_whitespace().count();
        if fields != 5 {
            anyhow::bail!(
                "`{pattern}` is not a cron pattern of 5 fields (minute hour day month weekday), e.g. \"0 8 * * MON\""
            );
        }
        let cron = Cron::from_str(pattern).map_err(|e| {
            anyhow::anyhow!("`{pattern}` is not a cron pattern ({e}); e.g. \"0 8 * * MON\"")
        })?;
        let tz = Tz::from_str(tz).map_err(|_| {
            anyhow::anyhow!("`{tz}` is not a time zone: give an IANA name, e.g. Europe/Lisbon")
        })?;
        Ok(Timing { cron, tz })
    }

    fn at(&self, ms: i64) -> Option<DateTime<Tz>> {
        Utc.timestamp_millis_opt(ms)
            .single()
            .map(|t| t.with_timezone(&self.tz))
    }

    /// The first run strictly after `ms`.
    pub fn next_after(&self, ms: i64) -> Option<DateTime<Tz>> {
        self.cron.find_next_occurrence(&self.at(ms)?, false).ok()
    }

    /// The latest run at or before `ms` (the one a runner owes when it has not been sent).
    pub fn latest_due(&self, ms: i64) -> Option<DateTime<Tz>> {
        self.cron.find_previous_occurrence(&self.at(ms)?, true).ok()
    }

    /// The pattern in words, e.g. "At 08:00 on Monday".
    pub fn describe(&self) -> String {
        self.cron.describe().trim_end_matches('.').to_string()
    }
}

/// The key of a run: the schedule's name and the run's local time in its zone.
pub fn run_key(name: &str, due: &DateTime<Tz>) -> String {
    format!("{name}@{}", due.format("%Y-%m-%dT%H:%M"))
}

/// A moment and how far it is from `now_ms`, e.g. "Mon 7 Dec 08:00 Europe/Lisbon (in 2 days)".
pub fn in_words(when: &DateTime<Tz>, now_ms: i64) -> String {
    let minutes = (when.timestamp_millis() - now_ms).max(0) / 60_000;
    let gap = match minutes {
        0 => "now".to_string(),
        m if m < 60 => format!("in {m} min"),
        m if m < 48 * 60 => format!("in {} h {} min", m / 60, m % 60),
        m => format!("in {} days", m / (24 * 60)),
    };
    format!(
        "{} {} ({gap})",
        when.format("%a %-d %b %H:%M"),
        when.timezone()
    )
}

/// The zone of this machine (for `--tz`'s default), else UTC.
pub fn local_zone() -> String {
    std::env::var("TZ")
        .ok()
        .filter(|tz| Tz::from_str(tz).is_ok())
        .or_else(|| iana_time_zone::get_timezone().ok())
        .filter(|tz| Tz::from_str(tz).is_ok())
        .unwrap_or_else(|| "UTC".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_monday_eight_oclock_schedule_stays_at_eight_local_across_the_change_to_winter_time() {
        let t = Timing::parse("0 8 * * MON", "Europe/Lisbon").unwrap();
        let lisbon = t.tz;
        // Summer: 08:00 in Lisbon is 07:00 UTC; winter: 08:00 UTC.
        let summer = t.next_after(ms(lisbon, 2026, 10, 14, 12, 0)).unwrap();
        assert_eq!(
            summer.with_timezone(&Utc).format("%F %H:%M").to_string(),
            "2026-10-19 07:00"
        );
        let winter = t.next_after(ms(lisbon, 2026, 10, 21, 12, 0)).unwrap();
        assert_eq!(
            winter.with_timezone(&Utc).format("%F %H:%M").to_string(),
            "2026-10-26 08:00"
        );
        assert_eq!(run_key("monday", &winter), "monday@2026-10-26T08:00");
    }

    #[test]
    fn a_local_time_that_happens_twice_on_the_fall_back_night_is_one_run() {
        let t = Timing::parse("30 1 * * *", "Europe/Lisbon").unwrap();
        // 2026-10-25: at 02:00 summer time clocks go back to 01:00; 01:30 happens twice.
        let first = t.next_after(ms(t.tz, 2026, 10, 25, 0, 0)).unwrap();
        let after = t.next_after(first.timestamp_millis()).unwrap();
        assert_eq!(run_key("x", &first), "x@2026-10-25T01:30");
        assert_ne!(run_key("x", &after), run_key("x", &first), "{after}");
    }

    #[test]
    fn a_local_time_skipped_by_the_spring_forward_night_still_runs_that_day() {
        let t = Timing::parse("30 1 * * *", "Europe/Lisbon").unwrap();
        // 2027-03-28: at 01:00 clocks go forward to 02:00; 01:30 does not exist.
        let run = t.next_after(ms(t.tz, 2027, 3, 27, 12, 0)).unwrap();
        assert_eq!(run.format("%F").to_string(), "2027-03-28", "{run}");
    }

    #[test]
    fn bad_patterns_and_zones_are_refused_with_an_example() {
        let e = Timing::parse("0 8 * *", "UTC").err().unwrap().to_string();
        assert!(e.contains("5 fields"), "{e}");
        let e = Timing::parse("0 25 * * *", "UTC")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not a cron pattern"), "{e}");
        let e = Timing::parse("0 8 * * *", "Mars/Base")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("IANA"), "{e}");
    }
}
