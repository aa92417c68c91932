//! The occurrences of a recurring calendar event or task that `crm import` brings in, each
//! becoming an activity of its own as a repeating activity of the CRM does.
//!
//! The rule (RRULE) is expanded by the `rrule` crate in the event's own wall-clock time, so an
//! event at 09:00 stays at 09:00 across a daylight-saving change, as RFC 5545 says; its zone
//! then gives each occurrence's instant. The window: from the first occurrence (DTSTART) up to a
//! year after the import day, or sooner where the rule ends (UNTIL, COUNT). RDATEs are added,
//! EXDATEs left out. At most [`MAX_OCCURRENCES`] per series, as for `--repeat`: when the window
//! holds more, the latest are kept (those nearest to now and ahead), and the earlier counted.

use calcard::icalendar::ICalendarRecurrenceRule;
use chrono::NaiveDateTime;
use std::collections::BTreeSet;

/// The most occurrences of one series an import brings in (a daily series of a year).
pub const MAX_OCCURRENCES: usize = 366;

/// Iterations of a rule before giving up on reaching the window's end (a rule every second).
const MAX_STEPS: usize = 200_000;

/// The occurrences of a rule, in the event's wall-clock time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Occurrences {
    /// In order, at most [`MAX_OCCURRENCES`].
    pub starts: Vec<NaiveDateTime>,
    /// Occurrences in the window before the first of `starts`, left out by the cap.
    pub left_out: usize,
}

/// What expands a rule: the first occurrence, the rule, and the window's end, all in the
/// event's wall-clock time.
pub struct Rule<'a> {
    pub first: NaiveDateTime,
    pub rule: &'a ICalendarRecurrenceRule,
    /// The rule's UNTIL, in the event's wall-clock time (inclusive).
    pub until: Option<NaiveDateTime>,
    pub rdates: Vec<NaiveDateTime>,
    pub exdates: BTreeSet<NaiveDateTime>,
    /// All-day: EXDATEs match by day.
    pub all_day: bool,
    pub window_end: NaiveDateTime,
}

impl Rule<'_> {
    /// The occurrences in the window; an error names what in the rule cannot be read.
    pub fn expand(&self) -> Result<Occurrences, String> {
        let mut rule = self.rule.clone();
        // UNTIL is applied here, in wall-clock time (the rule's may be in UTC).
        rule.until = None;
        let text = format!(
            "DTSTART:{}Z\nRRULE:{rule}",
            self.first.format("%Y%m%dT%H%M%S")
        );
        let set: rrule::RRuleSet = text.parse().map_err(|e: rrule::RRuleError| {
            format!("its rule `{}` cannot be read: {e}", self.rule)
        })?;
        let end = match self.until {
            Some(u) if u < self.window_end => u,
            _ => self.window_end,
        };
        let mut all: BTreeSet<NaiveDateTime> = BTreeSet::new();
        for (i, t) in (&set).into_iter().enumerate() {
            let t = t.naive_utc();
            if t > end || i >= MAX_STEPS {
                break;
            }
            all.insert(t);
        }
        all.extend(self.rdates.iter().filter(|t| **t <= self.window_end));
        all.insert(self.first);
        let kept: Vec<NaiveDateTime> = all.into_iter().filter(|t| !self.excluded(*t)).collect();
        let left_out = kept.len().saturating_sub(MAX_OCCURRENCES);
        Ok(Occurrences {
            starts: kept[left_out..].to_vec(),
            left_out,
        })
    }

    fn excluded(&self, t: NaiveDateTime) -> bool {
        if self.all_day {
            self.exdates.iter().any(|x| x.date() == t.date())
        } else {
            self.exdates.contains(&t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calcard::icalendar::{ICalendarProperty, ICalendarValue};
    use calcard::{Entry, Parser};

    fn rule_of(text: &str) -> ICalendarRecurrenceRule {
        let cal = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260105T090000\r\nRRULE:{text}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let Entry::ICalendar(cal) = Parser::new(&cal).entry() else {
            panic!("a calendar");
        };
        cal.components
            .iter()
            .find_map(
                |c| match c.property(&ICalendarProperty::Rrule)?.values.first()? {
                    ICalendarValue::RecurrenceRule(r) => Some((**r).clone()),
                    _ => None,
                },
            )
            .expect("a rule")
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn rule<'a>(r: &'a ICalendarRecurrenceRule, first: &str, end: &str) -> Rule<'a> {
        Rule {
            first: at(first),
            rule: r,
            until: None,
            rdates: Vec::new(),
            exdates: BTreeSet::new(),
            all_day: false,
            window_end: at(end),
        }
    }

    #[test]
    fn a_weekly_rule_on_two_days_with_a_count_and_an_exdate() {
        let r = rule_of("FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE");
        let mut x = rule(&r, "2026-01-05T09:00", "2027-01-05T00:00");
        x.exdates.insert(at("2026-01-07T09:00"));
        let got = x.expand().unwrap();
        assert_eq!(
            got.starts,
            [
                at("2026-01-05T09:00"),
                at("2026-01-12T09:00"),
                at("2026-01-14T09:00")
            ]
        );
        assert_eq!(got.left_out, 0);
    }

    #[test]
    fn an_endless_rule_stops_at_the_window_and_keeps_the_latest_when_capped() {
        let r = rule_of("FREQ=DAILY");
        let got = rule(&r, "2026-01-05T09:00", "2026-01-09T23:59")
            .expand()
            .unwrap();
        assert_eq!(got.starts.len(), 5);
        let got = rule(&r, "2025-01-01T09:00", "2026-12-31T23:59")
            .expand()
            .unwrap();
        assert_eq!(got.starts.len(), MAX_OCCURRENCES);
        assert_eq!(got.starts.last(), Some(&at("2026-12-31T09:00")));
        assert_eq!(got.left_out, 365 + 365 - MAX_OCCURRENCES);
    }

    #[test]
    fn until_ends_the_rule_and_rdates_add_occurrences() {
        let r = rule_of("FREQ=MONTHLY;BYMONTHDAY=-1");
        let mut x = rule(&r, "2026-01-31T16:00", "2027-01-01T00:00");
        x.until = Some(at("2026-04-30T16:00"));
        x.rdates.push(at("2026-02-14T10:00"));
        let got = x.expand().unwrap();
        assert_eq!(
            got.starts,
            [
                at("2026-01-31T16:00"),
                at("2026-02-14T10:00"),
                at("2026-02-28T16:00"),
                at("2026-03-31T16:00"),
                at("2026-04-30T16:00")
            ]
        );
    }
}
