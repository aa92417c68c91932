//! Validated values typed on the command line: e-mails, phones, money, dates, durations, user names.
//!
//! Every parser returns a [`ValueError`] whose message names the bad input and what was expected,
//! so the CLI can print it as a one-line error.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use std::fmt;

/// Why a typed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("`{0}` is not an e-mail address (expected something like name@example.com)")]
    Email(String),
    #[error(
        "`{0}` is not a phone number (expected digits, spaces, + - . ( ) and at least 3 digits)"
    )]
    Phone(String),
    #[error("`{0}` is not a date (expected YYYY-MM-DD, e.g. 2026-12-31)")]
    Date(String),
    #[error("`{0}` is not a date (expected 2026-12-31, today, tomorrow, monday, last monday, +3d, -2w, next month{1})")]
    TypedDate(String, &'static str),
    #[error("`{0}` is not a date and time (expected 2026-12-01T10:00, `tomorrow 10:00`, `monday 14:30`, now, +3d{1})")]
    TypedMoment(String, &'static str),
    #[error("`{0}` is not a date and time (expected YYYY-MM-DDTHH:MM, e.g. 2026-12-01T10:00)")]
    DateTime(String),
    #[error("`{0}` is not an amount (expected a decimal number like 12000.50 with at most {1} decimals)")]
    Amount(String, u32),
    #[error("amount `{0}` is too large")]
    AmountRange(String),
    #[error("`{0}` is not a currency (expected an ISO 4217 code like EUR, USD, GBP or JPY)")]
    Currency(String),
    #[error("{field} `{value}` is negative (expected zero or more)")]
    Negative { field: &'static str, value: String },
    #[error("`{0}` is not a duration (expected minutes, hours or days like 30m, 2h, 1d)")]
    Duration(String),
    #[error("`{0}` is not a user name (expected 1-64 lowercase letters, digits, '.', '-' or '_')")]
    User(String),
    #[error("`{value}` is not a valid {field} (expected one of: {expected})")]
    Choice {
        field: &'static str,
        value: String,
        expected: String,
    },
    #[error("`{value}` is not a valid {field} (expected an integer from {min} to {max})")]
    Range {
        field: &'static str,
        value: String,
        min: i64,
        max: i64,
    },
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// An e-mail address, checked for shape (not deliverability).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        let bad = || ValueError::Email(s.to_string());
        let (local, domain) = t.split_once('@').ok_or_else(bad)?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !t.chars().any(|c| c.is_whitespace() || c.is_control())
            && t.len() <= 254;
        if ok {
            Ok(Email(t.to_string()))
        } else {
            Err(bad())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as typed, checked for allowed characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        let allowed = t
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()/".contains(c));
        let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
        if allowed && (3..=20).contains(&digits) {
            Ok(Phone(t.to_string()))
        } else {
            Err(ValueError::Phone(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The active ISO 4217 currency codes, sorted.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An ISO 4217 currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let up = s.trim().to_ascii_uppercase();
        let b = up.as_bytes();
        if b.len() == 3 && ISO_4217.binary_search(&up.as_str()).is_ok() {
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(ValueError::Currency(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII uppercase letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Number of decimals of the minor unit (cents for EUR, none for JPY).
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "CLP" | "ISK" | "VND" | "XOF" | "XAF" | "UGX" | "PYG" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a decimal amount (`12000.50`, `-3`, `1_000`, `12,000.50`) into integer minor units of
/// `currency`. Never goes through floating point.
///
/// Commas are thousands separators only where they cannot be a decimal comma: groups of exactly
/// three digits after the first, and either a decimal point, several commas, or a currency with
/// fewer than three decimals (`12,50` is refused: it may mean 12.50).
pub fn parse_amount(s: &str, currency: Currency) -> Result<i64, ValueError> {
    let exp = currency.exponent();
    let bad = || ValueError::Amount(s.to_string(), exp);
    let t: String = s.trim().chars().filter(|c| *c != '_').collect();
    let t = if t.contains(',') {
        without_thousands_commas(&t, exp).ok_or_else(bad)?
    } else {
        t
    };
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.as_str()),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
        || frac_part.len() > exp as usize
    {
        return Err(bad());
    }
    let range = || ValueError::AmountRange(s.to_string());
    let mut minor: i64 = 0;
    for c in int_part.chars().chain(
        frac_part
            .chars()
            .chain(std::iter::repeat('0'))
            .take(exp as usize),
    ) {
        let d = i64::from(c as u8 - b'0');
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(d))
            .ok_or_else(range)?;
    }
    // Keep amounts well inside what every consumer (JSON numbers, JS clients) represents exactly.
    if minor > 9_007_199_254_740_991 {
        return Err(range());
    }
    Ok(if neg { -minor } else { minor })
}

/// `12,000.50` as `12000.50`, or `None` where a comma may not be a thousands separator.
fn without_thousands_commas(t: &str, exp: u32) -> Option<String> {
    let (int_part, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let digits = int_part.strip_prefix('-').unwrap_or(int_part);
    let groups: Vec<&str> = digits.split(',').collect();
    let grouped = (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()));
    let unambiguous = frac.is_some() || groups.len() > 2 || exp < 3;
    if !grouped || !unambiguous || frac.is_some_and(|f| f.contains(',')) {
        return None;
    }
    let mut out = int_part.replace(',', "");
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// Formats integer minor units as a decimal string (`1200050` EUR -> `12000.50`).
pub fn format_amount(minor: i64, currency: Currency) -> String {
    let exp = currency.exponent();
    if exp == 0 {
        return minor.to_string();
    }
    let div = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / div as u64,
        abs % div as u64,
        width = exp as usize
    )
}

/// Parses an ISO 8601 calendar date, `2026-12-31`.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| ValueError::Date(s.to_string()))
}

/// Parses an ISO 8601 local date and time: `2026-12-01T10:00`, `2026-12-01 10:00`, with optional
/// seconds. A bare date means the start of that day.
pub fn parse_datetime(s: &str) -> Result<NaiveDateTime, ValueError> {
    let t = s.trim();
    for fmt in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    Err(ValueError::DateTime(s.to_string()))
}

/// The canonical stored form of a local date-time: `2026-12-01T10:00` (seconds only when non-zero).
pub fn format_datetime(dt: NaiveDateTime) -> String {
    if dt.format("%S").to_string() == "00" {
        dt.format("%Y-%m-%dT%H:%M").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// Parses a reminder offset like `30m`, `2h`, `1d` (or bare minutes) into minutes.
pub fn parse_duration_minutes(s: &str) -> Result<i64, ValueError> {
    let t = s.trim();
    let bad = || ValueError::Duration(s.to_string());
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "m"),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let factor = match unit {
        "m" | "min" => 1,
        "h" => 60,
        "d" => 24 * 60,
        _ => return Err(bad()),
    };
    let minutes = n.checked_mul(factor).ok_or_else(bad)?;
    if minutes > 366 * 24 * 60 {
        return Err(bad());
    }
    Ok(minutes)
}

/// A user's login name: lowercase letters, digits, `.`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct UserName(String);

impl UserName {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
        if ok {
            Ok(UserName(s.to_string()))
        } else {
            Err(ValueError::User(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_are_exact_minor_units() {
        let eur = Currency::EUR;
        assert_eq!(parse_amount("12000.50", eur), Ok(1_200_050));
        assert_eq!(parse_amount("12000.5", eur), Ok(1_200_050));
        assert_eq!(parse_amount("7", eur), Ok(700));
        assert_eq!(parse_amount("-0.07", eur), Ok(-7));
        assert_eq!(parse_amount(".5", eur), Ok(50));
        assert_eq!(parse_amount("1_000", eur), Ok(100_000));
        let jpy = Currency::parse("jpy").unwrap();
        assert!(Currency::parse("XYZ").is_err());
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(parse_amount("1500", jpy), Ok(1500));
        assert!(parse_amount("1500.5", jpy).is_err());
        assert!(parse_amount("12.345", eur).is_err());
        assert!(parse_amount("12,50", eur).is_err());
        assert_eq!(parse_amount("12,000.50", eur), Ok(1_200_050));
        assert_eq!(parse_amount("12,000", eur), Ok(1_200_000));
        assert_eq!(parse_amount("1,234,567", jpy), Ok(1_234_567));
        assert!(parse_amount("12,0000", eur).is_err());
        assert!(parse_amount("1,2,3", eur).is_err());
        assert!(parse_amount("12.000,50", eur).is_err());
        let kwd = Currency::parse("KWD").unwrap();
        assert!(
            parse_amount("1,500", kwd).is_err(),
            "a decimal comma for a 3-decimal currency"
        );
        assert_eq!(parse_amount("1,500.250", kwd), Ok(1_500_250));
        assert!(parse_amount("", eur).is_err());
        assert!(parse_amount(".", eur).is_err());
        assert!(parse_amount("1e5", eur).is_err());
        assert!(matches!(
            parse_amount("99999999999999999999", eur),
            Err(ValueError::AmountRange(_))
        ));
        assert_eq!(format_amount(1_200_050, eur), "12000.50");
        assert_eq!(format_amount(-7, eur), "-0.07");
        assert_eq!(format_amount(1500, jpy), "1500");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("2026-12-31").unwrap().to_string(), "2026-12-31");
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("31/12/2026").is_err());
        let dt = parse_datetime("2026-12-01T10:00").unwrap();
        assert_eq!(format_datetime(dt), "2026-12-01T10:00");
        assert_eq!(
            format_datetime(parse_datetime("2026-12-01").unwrap()),
            "2026-12-01T00:00"
        );
        assert!(parse_datetime("2026-12-01T25:00").is_err());
    }

    #[test]
    fn emails_phones_durations_users() {
        assert!(Email::parse("ana@example.com").is_ok());
        for bad in [
            "ana",
            "ana@",
            "@x.com",
            "a b@x.com",
            "a@x",
            "a@@x.com",
            "a@x.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Phone::parse("+33 (1) 23-45-67").is_ok());
        assert!(Phone::parse("12").is_err());
        assert!(Phone::parse("call me").is_err());
        assert_eq!(parse_duration_minutes("30m"), Ok(30));
        assert_eq!(parse_duration_minutes("2h"), Ok(120));
        assert_eq!(parse_duration_minutes("1d"), Ok(1440));
        assert_eq!(parse_duration_minutes("15"), Ok(15));
        assert!(parse_duration_minutes("soon").is_err());
        assert!(parse_duration_minutes("99999999999999999d").is_err());
        assert!(UserName::parse("ana.silva").is_ok());
        assert!(UserName::parse("Ana").is_err());
        assert!(UserName::parse("").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,40}") {
            let _ = Email::parse(&s);
            let _ = Phone::parse(&s);
            let _ = Currency::parse(&s);
            let _ = parse_amount(&s, Currency::EUR);
            let _ = parse_date(&s);
            let _ = parse_datetime(&s);
            let _ = parse_duration_minutes(&s);
            let _ = UserName::parse(&s);
        }

        #[test]
        fn amounts_round_trip(minor in -9_000_000_000_000i64..9_000_000_000_000i64) {
            let text = format_amount(minor, Currency::EUR);
            prop_assert_eq!(parse_amount(&text, Currency::EUR), Ok(minor));
        }
    }
}
