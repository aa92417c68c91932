//! Pricing a quote, purely: each line's net amount rounded half away from zero to the minor
//! unit (the rounding is per line, and stated on the document), the totals per tax rate, the
//! discount limit of a role, and the readable, offline-unique quote number.
//!
//! Amounts are integer minor units; a quantity is in thousandths of its unit (`quantity`), so
//! 2.5 hours is exact and a line's gross amount is rounded like its discount; a discount is in
//! basis points (1 % = 100) so `12.5%` is exact; a tax rate is in whole percent.

use crate::quantity::{Qty, MILLI};
use std::collections::BTreeMap;

/// One line to price: a unit price, a quantity and a discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub sku: String,
    pub unit_price: i64,
    /// Thousandths of the unit.
    pub qty_milli: i64,
    /// Basis points off the line's gross amount (0..=10_000).
    pub discount_bp: i64,
    /// Whole percent.
    pub tax_percent: i64,
}

/// A priced line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PricedLine {
    pub sku: String,
    pub qty: Qty,
    pub unit_price: i64,
    pub gross: i64,
    pub discount: i64,
    pub net: i64,
    pub tax_percent: i64,
}

/// A quote's totals: net, tax per rate and gross.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub lines: Vec<PricedLine>,
    pub net: i64,
    /// Tax rate (percent) -> (net amount at that rate, tax on it).
    pub by_rate: BTreeMap<i64, (i64, i64)>,
    pub tax: i64,
    pub gross: i64,
    /// The total discount given, in minor units.
    pub discount: i64,
}

/// The rounding rule, as the document states it.
pub const ROUNDING_RULE: &str =
    "Each line (quantity times unit price, then its discount) is rounded half away from zero to the minor unit; tax per rate on the sum of its lines.";

/// `num / den` rounded half away from zero (den > 0).
fn div_round(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// Why a quote cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the total of line {0} is too large to hold")]
    Overflow(String),
}

/// Prices every line (per-line rounding) and sums them per tax rate.
pub fn price(lines: &[LineInput]) -> Result<Totals, PricingError> {
    let mut priced = Vec::with_capacity(lines.len());
    let mut by_rate: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let (mut net, mut discount) = (0i64, 0i64);
    for l in lines {
        let overflow = || PricingError::Overflow(l.sku.clone());
        let gross = i64::try_from(div_round(
            i128::from(l.unit_price) * i128::from(l.qty_milli),
            i128::from(MILLI),
        ))
        .map_err(|_| overflow())?;
        let off = i64::try_from(div_round(
            i128::from(gross) * i128::from(l.discount_bp),
            10_000,
        ))
        .map_err(|_| overflow())?;
        let line_net = gross - off;
        net = net.checked_add(line_net).ok_or_else(overflow)?;
        discount = discount.checked_add(off).ok_or_else(overflow)?;
        let e = by_rate.entry(l.tax_percent).or_default();
        e.0 = e.0.checked_add(line_net).ok_or_else(overflow)?;
        priced.push(PricedLine {
            sku: l.sku.clone(),
            qty: Qty(l.qty_milli),
            unit_price: l.unit_price,
            gross,
            discount: off,
            net: line_net,
            tax_percent: l.tax_percent,
        });
    }
    let mut tax = 0i64;
    for (rate, (base, t)) in by_rate.iter_mut() {
        *t = i64::try_from(div_round(i128::from(*base) * i128::from(*rate), 100))
            .map_err(|_| PricingError::Overflow(format!("tax {rate}%")))?;
        tax += *t;
    }
    Ok(Totals {
        lines: priced,
        net,
        by_rate,
        tax,
        gross: net + tax,
        discount,
    })
}

/// The largest discount (basis points) a role may give without a manager's approval: a rep
/// 10 %, a manager 30 %, an admin any.
pub fn discount_limit_bp(role: &str) -> i64 {
    match role {
        "admin" => 10_000,
        "manager" => 3_000,
        _ => 1_000,
    }
}

/// Reads a discount as people type it (`10`, `10%`, `12.5 %`) into basis points.
pub fn parse_discount(text: &str) -> Result<i64, String> {
    let t = text.trim().trim_end_matches('%').trim();
    let bad =
        || format!("discount {text:?} is not a percentage between 0 and 100 (e.g. 10% or 12.5)");
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !(whole.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: i64 = whole.parse().map_err(|_| bad())?;
    let f: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let bp = w
        .checked_mul(100)
        .and_then(|w| w.checked_add(f))
        .ok_or_else(bad)?;
    if bp > 10_000 {
        return Err(bad());
    }
    Ok(bp)
}

/// Basis points as people read them: `10%`, `12.5%`.
pub fn format_discount(bp: i64) -> String {
    if bp % 100 == 0 {
        format!("{}%", bp / 100)
    } else {
        format!("{}%", (bp as f64) / 100.0)
    }
}

/// The quote number: `Q-YEAR-USER-NNNN`. Unique offline because each user numbers their own
/// quotes: the counter is the count of quotes this user already made (on the one laptop they
/// use at a time) plus one. A user working on two laptops at once could make the same number
/// twice; the sync then shows both quotes, and `crm quote list` marks the duplicate number.
pub fn quote_number(year: i32, user: &str, seq: u32) -> String {
    format!("Q-{year}-{user}-{seq:04}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(price: i64, qty: i64, bp: i64, tax: i64) -> LineInput {
        LineInput {
            sku: "S".into(),
            unit_price: price,
            qty_milli: qty * MILLI,
            discount_bp: bp,
            tax_percent: tax,
        }
    }

    #[test]
    fn a_line_is_rounded_half_away_from_zero_on_its_own() {
        // 3 x 3.33 = 9.99; 12.5 % off = 1.24875 -> 1.25 off; net 8.74.
        let t = price(&[line(333, 3, 1250, 23)]).unwrap();
        assert_eq!(t.lines[0].discount, 125);
        assert_eq!(t.lines[0].net, 874);
        // 23 % of 8.74 = 2.0102 -> 2.01
        assert_eq!(t.by_rate[&23], (874, 201));
        assert_eq!(t.gross, 1075);
    }

    #[test]
    fn taxes_are_summed_per_rate() {
        let t = price(&[
            line(1000, 1, 0, 23),
            line(500, 2, 0, 23),
            line(999, 1, 0, 8),
        ])
        .unwrap();
        assert_eq!(t.by_rate[&23], (2000, 460));
        assert_eq!(t.by_rate[&8], (999, 80));
        assert_eq!(t.tax, 540);
        assert_eq!(t.net, 2999);
    }

    #[test]
    fn an_overflowing_line_is_an_error_not_a_panic() {
        assert!(price(&[line(i64::MAX, 2, 0, 0)]).is_err());
    }

    #[test]
    fn discounts_are_read_as_people_type_them() {
        assert_eq!(parse_discount("10%"), Ok(1000));
        assert_eq!(parse_discount("12.5"), Ok(1250));
        assert_eq!(parse_discount(" 0 % "), Ok(0));
        assert!(parse_discount("-5").is_err());
        assert!(parse_discount("101").is_err());
        assert!(parse_discount("ten").is_err());
        assert_eq!(format_discount(1250), "12.5%");
    }

    #[test]
    fn a_fractional_quantity_is_rounded_per_line_half_away_from_zero() {
        // 2.5 hours at 85.33 = 213.325 -> 213.33; 10 % off 213.33 = 21.333 -> 21.33.
        let mut l = line(8533, 1, 1000, 23);
        l.qty_milli = 2500;
        let t = price(&[l.clone()]).unwrap();
        assert_eq!(t.lines[0].gross, 21_333);
        assert_eq!(t.lines[0].discount, 2133);
        assert_eq!(t.lines[0].net, 19_200);
        assert_eq!(t.lines[0].qty.to_string(), "2.5");
        // 0.125 kg at 0.10 = 0.0125 -> 0.01.
        l.unit_price = 10;
        l.qty_milli = 125;
        l.discount_bp = 0;
        assert_eq!(price(&[l]).unwrap().lines[0].gross, 1);
    }

    #[test]
    fn quote_numbers_are_readable() {
        assert_eq!(quote_number(2026, "ana", 7), "Q-2026-ana-0007");
    }

    proptest! {
        #[test]
        fn the_totals_are_the_sum_of_the_lines(
            ls in proptest::collection::vec((0i64..1_000_000, 0i64..1000, 0i64..=10_000, 0i64..30), 0..50)
        ) {
            let lines: Vec<_> = ls.iter().map(|&(p, q, d, t)| line(p, q, d, t)).collect();
            let t = price(&lines).unwrap();
            prop_assert_eq!(t.net, t.lines.iter().map(|l| l.net).sum::<i64>());
            prop_assert_eq!(t.net + t.discount, t.lines.iter().map(|l| l.gross).sum::<i64>());
            prop_assert_eq!(t.tax, t.by_rate.values().map(|v| v.1).sum::<i64>());
            for l in &t.lines {
                prop_assert!(l.net >= 0 && l.net <= l.gross);
            }
        }
    }
}
