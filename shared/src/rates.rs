//! Exchange rates of the workspace (dated, set in the settings document) and converting amounts
//! with them, exactly: integer minor units times a decimal rate, rounded half away from zero,
//! never through floating point.

use crate::values::{Currency, ValueError};
use chrono::NaiveDate;
use serde::Serialize;

/// Most decimals a rate may have.
const MAX_SCALE: u32 = 10;

/// A positive decimal rate: `mantissa / 10^scale` (0.92 is 92 / 10^2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    mantissa: i128,
    scale: u32,
}

impl Rate {
    /// Parses `0.92`, `1.0845`, `150` (also `1,250.5` with thousands separators refused: a rate
    /// has no need of them).
    pub fn parse(text: &str) -> Result<Rate, ValueError> {
        let t = text.trim();
        let bad = || ValueError::Choice {
            field: "exchange rate",
            value: text.to_string(),
            expected: format!(
                "a positive decimal number with at most {MAX_SCALE} decimals, like 0.92"
            ),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (int.is_empty() && frac.is_empty())
            || !digits_only(int)
            || !digits_only(frac)
            || frac.len() > MAX_SCALE as usize
            || int.len() > 12
        {
            return Err(bad());
        }
        let mantissa: i128 = format!("{int}{frac}").parse().map_err(|_| bad())?;
        if mantissa == 0 {
            return Err(bad());
        }
        Ok(Rate {
            mantissa,
            scale: frac.len() as u32,
        })
    }

    /// `minor` units of `from` in minor units of `to` at this rate (1 `from` = rate `to`), or
    /// with `inverse` at its inverse (1 `to` = rate `from`). `None` on overflow.
    pub fn convert(self, minor: i64, from: Currency, to: Currency, inverse: bool) -> Option<i64> {
        let pow = |e: u32| 10i128.checked_pow(e);
        let (mut num, mut den) = (i128::from(minor), 1i128);
        if inverse {
            num = num.checked_mul(pow(self.scale)?)?;
            den = den.checked_mul(self.mantissa)?;
        } else {
            num = num.checked_mul(self.mantissa)?;
            den = den.checked_mul(pow(self.scale)?)?;
        }
        num = num.checked_mul(pow(to.exponent())?)?;
        den = den.checked_mul(pow(from.exponent())?)?;
        // Round half away from zero.
        let q = (num.abs().checked_mul(2)?.checked_add(den)?) / den.checked_mul(2)?;
        let q = if num < 0 { -q } else { q };
        i64::try_from(q).ok()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = format!(
            "{:0>width$}",
            self.mantissa,
            width = self.scale as usize + 1
        );
        let (int, frac) = digits.split_at(digits.len() - self.scale as usize);
        if frac.is_empty() {
            write!(f, "{int}")
        } else {
            write!(f, "{int}.{frac}")
        }
    }
}

/// 1 `from` is worth `rate` `to`, from `date` on (until a later rate of the pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeRate {
    pub from: String,
    pub to: String,
    pub date: String,
    pub rate: String,
}

impl ExchangeRate {
    fn parts(&self) -> Option<(Currency, Currency, NaiveDate, Rate)> {
        Some((
            Currency::parse(&self.from).ok()?,
            Currency::parse(&self.to).ok()?,
            crate::values::parse_date(&self.date).ok()?,
            Rate::parse(&self.rate).ok()?,
        ))
    }

    /// How a report says it used this rate: `1 USD = 0.92 EUR (2026-12-01)`.
    pub fn describe(&self) -> String {
        format!(
            "1 {} = {} {} ({})",
            self.from, self.rate, self.to, self.date
        )
    }
}

/// A conversion of an amount: its value in the target currency and the rate used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted<'r> {
    pub minor: i64,
    pub rate: &'r ExchangeRate,
}

/// Converts `minor` units of `from` into `to` with the latest rate of the pair dated on or
/// before `day` (the pair's own, else the inverse of `to` -> `from`). `None` when there is none
/// (or the result overflows). The same currency converts as it is, with no rate.
pub fn convert<'r>(
    rates: &'r [ExchangeRate],
    minor: i64,
    from: Currency,
    to: Currency,
    day: NaiveDate,
) -> Option<Option<Converted<'r>>> {
    if from == to {
        return Some(None);
    }
    let best = rates
        .iter()
        .filter_map(|r| r.parts().map(|p| (r, p)))
        .filter(|(_, (f, t, d, _))| *d <= day && ((*f, *t) == (from, to) || (*f, *t) == (to, from)))
        .max_by(|(_, (f1, _, d1, _)), (_, (f2, _, d2, _))| {
            // The latest date; on the same date the pair's own direction.
            d1.cmp(d2).then_with(|| (*f1 == from).cmp(&(*f2 == from)))
        })?;
    let (r, (f, _, _, rate)) = best;
    let minor = rate.convert(minor, from, to, f != from)?;
    Some(Some(Converted { minor, rate: r }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap()
    }

    fn rate(from: &str, to: &str, date: &str, rate: &str) -> ExchangeRate {
        ExchangeRate {
            from: from.into(),
            to: to.into(),
            date: date.into(),
            rate: rate.into(),
        }
    }

    fn day(d: &str) -> NaiveDate {
        crate::values::parse_date(d).unwrap()
    }

    #[test]
    fn rates_are_exact_decimals() {
        assert_eq!(Rate::parse("0.92").unwrap().to_string(), "0.92");
        assert_eq!(Rate::parse("150").unwrap().to_string(), "150");
        assert_eq!(Rate::parse(".5").unwrap().to_string(), "0.5");
        for bad in ["0", "-1", "abc", "1.2.3", "", "0.12345678901", "1e3", "1,5"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        let r = Rate::parse("0.92").unwrap();
        // 1000.00 USD at 0.92 is 920.00 EUR.
        assert_eq!(
            r.convert(100_000, cur("USD"), cur("EUR"), false),
            Some(92_000)
        );
        // 920.00 EUR at the inverse of 0.92 is 1000.00 USD.
        assert_eq!(
            r.convert(92_000, cur("EUR"), cur("USD"), true),
            Some(100_000)
        );
        // Between exponents: 1500 JPY at 0.0062 EUR is 9.30 EUR.
        let jpy = Rate::parse("0.0062").unwrap();
        assert_eq!(jpy.convert(1500, cur("JPY"), cur("EUR"), false), Some(930));
        // Half a cent rounds away from zero.
        let half = Rate::parse("0.5").unwrap();
        assert_eq!(half.convert(1, cur("USD"), cur("EUR"), false), Some(1));
        assert_eq!(half.convert(-1, cur("USD"), cur("EUR"), false), Some(-1));
    }

    #[test]
    fn the_latest_rate_on_or_before_the_day_is_used() {
        let rates = vec![
            rate("USD", "EUR", "2026-01-01", "0.90"),
            rate("USD", "EUR", "2026-06-01", "0.95"),
            rate("EUR", "GBP", "2026-01-01", "0.80"),
        ];
        let (usd, eur, gbp) = (cur("USD"), cur("EUR"), cur("GBP"));
        let c = convert(&rates, 100_000, usd, eur, day("2026-03-01"))
            .unwrap()
            .unwrap();
        assert_eq!((c.minor, c.rate.date.as_str()), (90_000, "2026-01-01"));
        let c = convert(&rates, 100_000, usd, eur, day("2026-12-01"))
            .unwrap()
            .unwrap();
        assert_eq!(c.minor, 95_000);
        assert_eq!(c.rate.describe(), "1 USD = 0.95 EUR (2026-06-01)");
        // GBP -> EUR through the inverse of EUR -> GBP.
        let c = convert(&rates, 80_000, gbp, eur, day("2026-12-01"))
            .unwrap()
            .unwrap();
        assert_eq!(c.minor, 100_000);
        assert_eq!(convert(&rates, 100, usd, eur, day("2025-12-31")), None);
        assert_eq!(
            convert(&rates, 100, cur("JPY"), eur, day("2026-12-31")),
            None
        );
        assert_eq!(
            convert(&rates, 100, eur, eur, day("2026-12-31")),
            Some(None)
        );
    }
}
