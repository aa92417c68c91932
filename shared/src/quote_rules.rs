//! Configuration rules of a quote, checked purely: a product may require another (at least one
//! of the SKUs it names), exclude another, or limit its quantity. Every broken rule is said in
//! words; a quote with broken rules may be kept as a draft but not sent.

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
}

/// Every broken rule of a quote whose lines are `(sku, qty)`, in words.
pub fn check(lines: &[(String, i64)], rules: &[ProductRules]) -> Vec<String> {
    let mut qty: BTreeMap<&str, i64> = BTreeMap::new();
    for (sku, q) in lines {
        *qty.entry(sku.as_str()).or_default() += q;
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
        if let Some(max) = r.max_qty.filter(|&m| q > m) {
            broken.push(format!(
                "{} is limited to {max} per quote (the quote has {q})",
                r.sku
            ));
        }
        if let Some(min) = r.min_qty.filter(|&m| q < m) {
            broken.push(format!(
                "{} needs at least {min} (the quote has {q})",
                r.sku
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
        (s.into(), q)
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
}
