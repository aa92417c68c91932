//! Configuration rules of a quote, checked purely: a product may require another (at least one
//! of the SKUs it names), exclude another, or limit its quantity. Every broken rule is said in
//! words; a quote with broken rules may be kept as a draft but not sent.
//!
//! A bundle (a product made of others, `SKU:QTY,...`, sold at its own price) puts its
//! components on the quote: a bundle holding the support plan satisfies "requires a support
//! plan", and its components count towards exclusions.

use crate::quantity::{Qty, MILLI};
use std::collections::BTreeMap;

/// A product's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductRules {
    pub sku: String,
    /// At least one of these must be on the quote.
    pub requires: Vec<String>,
    /// None of these may be on the quote.
    pub excludes: Vec<String>,
    pub min_qty: Option<i64>,
    pub max_qty: Option<i64>,
    /// A bundle's components: (SKU, units in one bundle).
    pub contains: Vec<(String, i64)>,
}

/// Reads a bundle's contents as typed (`FLEET:1,SUP-PRO:2`; `SKU` alone is one unit).
pub fn parse_bundle(text: &str) -> Result<Vec<(String, i64)>, String> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (sku, qty) = part.split_once(':').unwrap_or((part, "1"));
        let sku = sku.trim();
        if sku.is_empty() || sku.contains(char::is_whitespace) {
            return Err(format!(
                "bundle item {part:?} is not SKU:QTY (e.g. FLEET:1,SUP-PRO:1)"
            ));
        }
        let qty = match qty.trim().parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                return Err(format!(
                    "bundle item {part:?}: the quantity must be a whole number from 1"
                ))
            }
        };
        if out.iter().any(|(s, _)| s == sku) {
            return Err(format!(
                "bundle names {sku} twice: give it once with its quantity"
            ));
        }
        out.push((sku.to_string(), qty));
    }
    if out.is_empty() {
        return Err("a bundle needs at least one SKU:QTY (e.g. FLEET:1,SUP-PRO:1)".into());
    }
    Ok(out)
}

/// A bundle's contents as stored and shown (`FLEET:1,SUP-PRO:2`).
pub fn format_bundle(items: &[(String, i64)]) -> String {
    items
        .iter()
        .map(|(s, q)| format!("{s}:{q}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every broken rule of a quote whose lines are `(sku, quantity in thousandths)`, in words.
pub fn check(lines: &[(String, i64)], rules: &[ProductRules]) -> Vec<String> {
    let mut qty: BTreeMap<&str, i64> = BTreeMap::new();
    for (sku, q) in lines {
        *qty.entry(sku.as_str()).or_default() += q;
        let components = rules.iter().find(|r| &r.sku == sku).map(|r| &r.contains);
        for (c, n) in components.into_iter().flatten() {
            *qty.entry(c.as_str()).or_default() += q.saturating_mul(*n);
        }
    }
    let mut broken = Vec::new();
    for r in rules {
        let Some(&q) = qty.get(r.sku.as_str()) else {
            continue;
        };
        if !r.requires.is_empty() && !r.requires.iter().any(|s| qty.contains_key(s.as_str())) {
            broken.push(format!("{} requires {}", r.sku, r.requires.join(" or ")));
        }
        for x in &r.excludes {
            if qty.contains_key(x.as_str()) && (x < &r.sku || !excluded_both_ways(rules, x, &r.sku))
            {
                broken.push(format!("{} cannot be on the same quote as {x}", r.sku));
            }
        }
        if let Some(max) = r.max_qty.filter(|&m| q > m.saturating_mul(MILLI)) {
            broken.push(format!(
                "{} is limited to {max} per quote (the quote has {})",
                r.sku,
                Qty(q)
            ));
        }
        if let Some(min) = r.min_qty.filter(|&m| q < m.saturating_mul(MILLI)) {
            broken.push(format!(
                "{} needs at least {min} (the quote has {})",
                r.sku,
                Qty(q)
            ));
        }
    }
    broken
}

/// True when `a` also excludes `b` (so the pair is said once).
fn excluded_both_ways(rules: &[ProductRules], a: &str, b: &str) -> bool {
    rules
        .iter()
        .any(|r| r.sku == a && r.excludes.iter().any(|x| x == b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<ProductRules> {
        vec![
            ProductRules {
                sku: "FLEET".into(),
                requires: vec!["SUP-STD".into(), "SUP-PRO".into()],
                excludes: vec!["SINGLE".into()],
                max_qty: Some(100),
                ..Default::default()
            },
            ProductRules {
                sku: "SINGLE".into(),
                excludes: vec!["FLEET".into()],
                ..Default::default()
            },
        ]
    }

    fn l(s: &str, q: i64) -> (String, i64) {
        (s.into(), q * MILLI)
    }

    #[test]
    fn a_fleet_licence_without_a_support_plan_is_named() {
        let b = check(&[l("FLEET", 5)], &rules());
        assert_eq!(b, vec!["FLEET requires SUP-STD or SUP-PRO"]);
        assert!(check(&[l("FLEET", 5), l("SUP-PRO", 1)], &rules()).is_empty());
    }

    #[test]
    fn every_broken_rule_is_listed_once() {
        let b = check(&[l("FLEET", 150), l("SINGLE", 1)], &rules());
        assert_eq!(
            b,
            vec![
                "FLEET requires SUP-STD or SUP-PRO",
                "FLEET is limited to 100 per quote (the quote has 150)",
                "SINGLE cannot be on the same quote as FLEET",
            ]
        );
    }

    #[test]
    fn a_bundle_holding_the_support_plan_satisfies_the_rule() {
        let mut r = rules();
        r.push(ProductRules {
            sku: "KIT".into(),
            contains: parse_bundle("FLEET:1, SUP-PRO:1").unwrap(),
            ..Default::default()
        });
        assert!(check(&[l("KIT", 1)], &r).is_empty());
        // Its components count: a kit's fleet licence excludes a single licence.
        assert_eq!(
            check(&[l("KIT", 2), l("SINGLE", 1)], &r),
            vec!["SINGLE cannot be on the same quote as FLEET"]
        );
    }

    #[test]
    fn bundles_are_read_as_typed() {
        assert_eq!(
            parse_bundle("FLEET:2,SUP-PRO").unwrap(),
            vec![("FLEET".to_string(), 2), ("SUP-PRO".to_string(), 1)]
        );
        assert!(parse_bundle("FLEET:0").is_err());
        assert!(parse_bundle("FLEET:1,FLEET:2").is_err());
        assert!(parse_bundle(" , ").is_err());
        assert_eq!(format_bundle(&parse_bundle("A:1,B:3").unwrap()), "A:1,B:3");
    }
}
