//! Which price list prices a quote, purely. A list applies to a quote when it is in the
//! quote's currency and valid on the quote date (from and until inclusive, either open), and
//! when its region and customer kind, where set, are the customer's. Among those that apply
//! the most specific wins (region and kind both match, over one of them, over neither set),
//! then the latest `from` (an open `from` is the earliest), then the name. A product's own
//! price on the list wins over the list's percentage off the product's list price.

use chrono::NaiveDate;
use std::cmp::Reverse;

/// What the rule reads of a price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTerms {
    pub name: String,
    pub currency: String,
    pub region: Option<String>,
    pub kind: Option<String>,
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// The customer's region and kind (its organization's), the quote's currency and date.
#[derive(Debug, Clone, Copy)]
pub struct QuoteTerms<'a> {
    pub currency: &'a str,
    pub date: NaiveDate,
    pub region: Option<&'a str>,
    pub kind: Option<&'a str>,
}

/// Why a list does not apply to a quote, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    #[error("it is in {list}, the quote in {quote}")]
    Currency { list: String, quote: String },
    #[error("it is valid from {0} on")]
    NotYet(NaiveDate),
    #[error("it expired on {0}")]
    Expired(NaiveDate),
    #[error("it is for region {list}, the customer's is {customer}")]
    Region { list: String, customer: String },
    #[error("it is for {list} customers, the customer is {customer}")]
    Kind { list: String, customer: String },
}

/// Why a list was chosen: what it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub region: Option<String>,
    pub kind: Option<String>,
}

impl Matched {
    /// How specific the match is: 2 (region and kind), 1 or 0.
    pub fn specificity(&self) -> u8 {
        u8::from(self.region.is_some()) + u8::from(self.kind.is_some())
    }

    /// `region north, kind reseller`, or `no region or kind set` for a general list.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            self.region.as_ref().map(|r| format!("region {r}")),
            self.kind.as_ref().map(|k| format!("kind {k}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "a general list, no region or kind set".into()
        } else {
            parts.join(", ")
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Whether `list` applies to the quote `q`, and what it matched.
pub fn applies(list: &ListTerms, q: &QuoteTerms<'_>) -> Result<Matched, NotApplicable> {
    if !same(&list.currency, q.currency) {
        return Err(NotApplicable::Currency {
            list: list.currency.clone(),
            quote: q.currency.to_string(),
        });
    }
    if let Some(from) = list.from.filter(|f| q.date < *f) {
        return Err(NotApplicable::NotYet(from));
    }
    if let Some(until) = list.until.filter(|u| q.date > *u) {
        return Err(NotApplicable::Expired(until));
    }
    let region = match &list.region {
        None => None,
        Some(r) if q.region.is_some_and(|c| same(r, c)) => Some(r.clone()),
        Some(r) => {
            return Err(NotApplicable::Region {
                list: r.clone(),
                customer: q.region.unwrap_or("not set").to_string(),
            })
        }
    };
    let kind = match &list.kind {
        None => None,
        Some(k) if q.kind.is_some_and(|c| same(k, c)) => Some(k.clone()),
        Some(k) => {
            return Err(NotApplicable::Kind {
                list: k.clone(),
                customer: q.kind.unwrap_or("not set").to_string(),
            })
        }
    };
    Ok(Matched { region, kind })
}

/// The list that prices the quote `q` (its index in `lists`), by the rule above; `None` when
/// none applies.
pub fn choose(lists: &[ListTerms], q: &QuoteTerms<'_>) -> Option<(usize, Matched)> {
    lists
        .iter()
        .enumerate()
        .filter_map(|(i, l)| applies(l, q).ok().map(|m| (i, m)))
        .min_by_key(|(i, m)| {
            let l = &lists[*i];
            (
                Reverse(m.specificity()),
                Reverse(l.from.unwrap_or(NaiveDate::MIN)),
                l.name.clone(),
            )
        })
}

/// The unit price of a product on a list: the list's own price for it when it has one, else
/// the product's list price less the list's percentage off (basis points; the price rounded
/// half away from zero to the minor unit), else the product's list price.
pub fn unit_price(own: Option<i64>, percent_off_bp: Option<i64>, list_price: i64) -> i64 {
    if let Some(p) = own {
        return p;
    }
    match percent_off_bp.filter(|bp| *bp > 0) {
        Some(bp) => {
            // The discounted price itself is rounded: 120.50 less 5 % = 114.475 -> 114.48.
            let scaled = i128::from(list_price) * i128::from(10_000 - bp.min(10_000));
            let price = (scaled + 5_000 * scaled.signum()) / 10_000;
            i64::try_from(price).unwrap_or(list_price)
        }
        None => list_price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn list(name: &str, region: Option<&str>, kind: Option<&str>, from: Option<&str>) -> ListTerms {
        ListTerms {
            name: name.into(),
            currency: "EUR".into(),
            region: region.map(String::from),
            kind: kind.map(String::from),
            from: from.map(day),
            until: None,
        }
    }

    fn north_reseller(date: &str) -> QuoteTerms<'static> {
        QuoteTerms {
            currency: "EUR",
            date: day(date),
            region: Some("north"),
            kind: Some("reseller"),
        }
    }

    #[test]
    fn the_most_specific_list_wins_over_a_later_general_one() {
        let lists = vec![
            list("General", None, None, Some("2026-06-01")),
            list("North", Some("north"), None, Some("2026-01-01")),
            list(
                "North resellers",
                Some("North"),
                Some("reseller"),
                Some("2026-01-01"),
            ),
        ];
        let (i, m) = choose(&lists, &north_reseller("2026-07-01")).unwrap();
        assert_eq!(lists[i].name, "North resellers");
        assert_eq!(m.describe(), "region North, kind reseller");
    }

    #[test]
    fn among_equally_specific_lists_the_latest_from_then_the_name_wins() {
        let lists = vec![
            list("B north", Some("north"), None, Some("2026-01-01")),
            list("A north", Some("north"), None, Some("2026-01-01")),
            list("Old north", Some("north"), None, None),
        ];
        let (i, _) = choose(&lists, &north_reseller("2026-07-01")).unwrap();
        assert_eq!(lists[i].name, "A north");
        let later = vec![
            lists[0].clone(),
            list("Z north", Some("north"), None, Some("2026-03-01")),
        ];
        let (i, _) = choose(&later, &north_reseller("2026-07-01")).unwrap();
        assert_eq!(later[i].name, "Z north");
    }

    #[test]
    fn a_list_of_another_region_kind_currency_or_time_never_applies() {
        let q = north_reseller("2026-07-01");
        let south = list("South", Some("south"), None, None);
        assert!(matches!(
            applies(&south, &q),
            Err(NotApplicable::Region { .. })
        ));
        let partners = list("Partners", None, Some("partner"), None);
        assert!(matches!(
            applies(&partners, &q),
            Err(NotApplicable::Kind { .. })
        ));
        let mut usd = list("USD", None, None, None);
        usd.currency = "USD".into();
        assert!(matches!(
            applies(&usd, &q),
            Err(NotApplicable::Currency { .. })
        ));
        let mut expired = list("2025", Some("north"), Some("reseller"), Some("2025-01-01"));
        expired.until = Some(day("2025-12-31"));
        assert_eq!(
            applies(&expired, &q),
            Err(NotApplicable::Expired(day("2025-12-31")))
        );
        let future = list("2027", None, None, Some("2027-01-01"));
        assert!(matches!(
            applies(&future, &q),
            Err(NotApplicable::NotYet(_))
        ));
        assert!(choose(&[south, partners, usd, expired, future], &q).is_none());
        // The last valid day still applies.
        let mut last_day = list("Ends today", None, None, None);
        last_day.until = Some(day("2026-07-01"));
        assert!(applies(&last_day, &q).is_ok());
    }

    #[test]
    fn a_customer_without_a_region_gets_only_lists_without_one() {
        let q = QuoteTerms {
            currency: "EUR",
            date: day("2026-07-01"),
            region: None,
            kind: Some("reseller"),
        };
        let lists = vec![
            list("North", Some("north"), None, None),
            list("Resellers", None, Some("reseller"), None),
        ];
        let (i, m) = choose(&lists, &q).unwrap();
        assert_eq!(lists[i].name, "Resellers");
        assert_eq!(m.specificity(), 1);
    }

    #[test]
    fn a_products_own_price_wins_over_the_percentage_off() {
        assert_eq!(unit_price(Some(80_000), Some(500), 100_000), 80_000);
        assert_eq!(unit_price(None, Some(500), 100_000), 95_000);
        // 12.5 % off 9.99 = 8.74125 -> 8.74; 5 % off 120.50 = 114.475 -> 114.48.
        assert_eq!(unit_price(None, Some(1250), 999), 874);
        assert_eq!(unit_price(None, Some(500), 12_050), 11_448);
        assert_eq!(unit_price(None, Some(10_000), 12_050), 0);
        assert_eq!(unit_price(None, None, 100_000), 100_000);
    }
}
