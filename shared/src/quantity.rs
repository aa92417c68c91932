//! Quantities of a quote line, in thousandths of the product's unit: a divisible unit (hours,
//! kilograms, days) takes up to three decimals (`2.5`, `0.125`), any other (pieces, licences)
//! whole numbers only. Always more than zero. Read as people type them, said back in the
//! shortest form (`2.5`, `30`).

use std::fmt;

/// Thousandths in one unit.
pub const MILLI: i64 = 1000;

/// The largest quantity a line takes, in whole units.
pub const MAX_UNITS: i64 = 1_000_000_000;

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QtyError {
    #[error("quantity {0:?} is not a number: give e.g. 3 or 2.5")]
    NotANumber(String),
    #[error("quantity {0:?} must be more than zero")]
    NotPositive(String),
    #[error("quantity {0:?} has more than three decimals")]
    TooPrecise(String),
    #[error("quantity {0:?} is too large (at most {MAX_UNITS})")]
    TooLarge(String),
    #[error("quantity {text:?} is not whole, and {unit} is sold in whole units only")]
    NotWhole { text: String, unit: String },
}

/// Reads `text` (`3`, `2.5`, `0.125`) into thousandths; `divisible` allows decimals, `unit`
/// names the unit in the error.
pub fn parse_qty(text: &str, divisible: bool, unit: &str) -> Result<i64, QtyError> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if t.starts_with('-') && t.len() > 1 && digits(&whole[1..]) && digits(frac) {
        return Err(QtyError::NotPositive(text.to_string()));
    }
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(QtyError::NotANumber(text.to_string()));
    }
    if frac.len() > 3 {
        return Err(QtyError::TooPrecise(text.to_string()));
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| QtyError::TooLarge(text.to_string()))?
    };
    if w > MAX_UNITS {
        return Err(QtyError::TooLarge(text.to_string()));
    }
    let f: i64 = format!("{frac:0<3}")
        .parse()
        .map_err(|_| QtyError::NotANumber(text.to_string()))?;
    let milli = w * MILLI + f;
    if milli == 0 {
        return Err(QtyError::NotPositive(text.to_string()));
    }
    if !divisible && f != 0 {
        return Err(QtyError::NotWhole {
            text: text.to_string(),
            unit: unit.to_string(),
        });
    }
    Ok(milli)
}

/// A quantity in thousandths, shown and serialized in its shortest decimal form (a whole
/// quantity is a JSON integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Qty(pub i64);

impl Qty {
    pub fn is_whole(self) -> bool {
        self.0 % MILLI == 0
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let (w, r) = (self.0.abs() / MILLI, self.0.abs() % MILLI);
        if r == 0 {
            write!(f, "{sign}{w}")
        } else {
            let frac = format!("{r:03}");
            write!(f, "{sign}{w}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl serde::Serialize for Qty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_whole() {
            s.serialize_i64(self.0 / MILLI)
        } else {
            s.serialize_f64(self.0 as f64 / MILLI as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisible_units_take_up_to_three_decimals() {
        assert_eq!(parse_qty("2.5", true, "hour"), Ok(2500));
        assert_eq!(parse_qty("0.125", true, "kg"), Ok(125));
        assert_eq!(parse_qty(" 30 ", true, "hour"), Ok(30_000));
        assert!(matches!(
            parse_qty("0.1255", true, "kg"),
            Err(QtyError::TooPrecise(_))
        ));
    }

    #[test]
    fn whole_units_refuse_fractions_negatives_and_zero() {
        assert_eq!(parse_qty("20", false, "licence"), Ok(20_000));
        assert_eq!(parse_qty("2.0", false, "licence"), Ok(2000));
        assert!(matches!(
            parse_qty("2.5", false, "licence"),
            Err(QtyError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_qty("-3", true, "hour"),
            Err(QtyError::NotPositive(_))
        ));
        assert!(matches!(
            parse_qty("0", true, "hour"),
            Err(QtyError::NotPositive(_))
        ));
        assert!(matches!(
            parse_qty("three", true, "hour"),
            Err(QtyError::NotANumber(_))
        ));
    }

    #[test]
    fn quantities_are_said_in_their_shortest_form() {
        assert_eq!(Qty(2500).to_string(), "2.5");
        assert_eq!(Qty(30_000).to_string(), "30");
        assert_eq!(Qty(125).to_string(), "0.125");
        assert_eq!(serde_json::to_string(&Qty(30_000)).unwrap(), "30");
        assert_eq!(serde_json::to_string(&Qty(2500)).unwrap(), "2.5");
    }
}
