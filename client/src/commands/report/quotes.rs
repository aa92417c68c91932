//! The quotes report (`crm report quotes --by owner|month|status`): quotes sent, accepted and
//! rejected, the acceptance rate, the average discount and the value accepted, per group and
//! currency, from `rm_quotes` alone.
//!
//! As of a moment T, a quote is as its recorded times say: a draft until `sent_at`, sent until
//! `closed_at` (then accepted, rejected or superseded, as it is now), expired when still sent
//! after its last valid day; a quote dated after T is not counted. A revision replaced by a
//! newer one (superseded) is not counted: its newest revision is. A quote removed since T is not
//! counted either (the read model keeps no removed quote's past).

use super::*;

/// One quote as it stood at the report's moment.
struct QuoteAt {
    owner: String,
    currency: String,
    status: String,
    /// The local day it was sent, else its date.
    day: Option<NaiveDate>,
    /// Net and discount given when sent (minor units).
    net: i64,
    discount: i64,
}

/// The statuses counted as sent (the customer got it).
const SENT: &[&str] = &["sent", "accepted", "rejected", "expired"];

fn quotes_at(store: &Store, as_of: AsOf, today: NaiveDate) -> Result<Vec<QuoteAt>> {
    let t = as_of.0.unwrap_or(i64::MAX);
    let day_t = as_of.0.and_then(local_date).unwrap_or(today);
    let mut stmt = store.conn().prepare(
        "SELECT owner, coalesce(currency, 'EUR'), status, quote_date, valid_until, sent_at,
                closed_at, coalesce(net, 0), coalesce(discount, 0)
         FROM rm_quotes WHERE deleted = 0",
    )?;
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let quote_date: Option<NaiveDate> = r
            .get::<_, Option<String>>(3)?
            .and_then(|d| parse_date(&d).ok());
        if quote_date.is_some_and(|d| d > day_t) {
            continue;
        }
        let valid_until: Option<NaiveDate> = r
            .get::<_, Option<String>>(4)?
            .and_then(|d| parse_date(&d).ok());
        let sent_at: Option<i64> = r.get::<_, Option<i64>>(5)?.filter(|s| *s <= t);
        let closed_at: Option<i64> = r.get::<_, Option<i64>>(6)?.filter(|c| *c <= t);
        let now: String = r.get(2)?;
        let status = match (sent_at, closed_at) {
            (_, Some(_)) => now,
            (None, None) if now == "superseded" => now,
            (None, None) => "draft".to_string(),
            (Some(_), None) if valid_until.is_some_and(|v| v < day_t) => "expired".into(),
            (Some(_), None) => "sent".into(),
        };
        if status == "superseded" {
            continue;
        }
        out.push(QuoteAt {
            owner: r.get(0)?,
            currency: r.get(1)?,
            day: sent_at.and_then(local_date).or(quote_date),
            status,
            net: r.get(7)?,
            discount: r.get(8)?,
        });
    }
    Ok(out)
}

/// A group's figures: quotes, sent, accepted, rejected, net and discount of the sent ones,
/// net accepted.
#[derive(Default)]
struct Figures {
    quotes: i64,
    sent: i64,
    accepted: i64,
    rejected: i64,
    net: i64,
    discount: i64,
    accepted_net: i64,
}

impl Figures {
    fn add(&mut self, q: &QuoteAt) {
        self.quotes += 1;
        if SENT.contains(&q.status.as_str()) {
            self.sent += 1;
            self.net += q.net;
            self.discount += q.discount;
        }
        match q.status.as_str() {
            "accepted" => {
                self.accepted += 1;
                self.accepted_net += q.net;
            }
            "rejected" => self.rejected += 1,
            _ => {}
        }
    }

    fn cells(&self, group: &str, currency: &str) -> Vec<Cell> {
        let pct = |part: i64, whole: i64| (whole > 0).then(|| 100.0 * part as f64 / whole as f64);
        vec![
            Cell::Text(group.to_string()),
            Cell::Text(currency.to_string()),
            Cell::Int(self.quotes),
            Cell::Int(self.sent),
            Cell::Int(self.accepted),
            Cell::Int(self.rejected),
            Cell::Percent(pct(self.accepted, self.sent)),
            Cell::Percent(pct(self.discount, self.net + self.discount)),
            money(self.accepted_net, currency),
        ]
    }
}

pub(super) fn quotes(
    store: &Store,
    as_of: AsOf,
    period: Period,
    by: ReportBy,
    today: NaiveDate,
) -> Result<Report> {
    let mut groups: BTreeMap<(String, String), Figures> = BTreeMap::new();
    let mut totals: BTreeMap<String, Figures> = BTreeMap::new();
    for q in quotes_at(store, as_of, today)? {
        if period.is_set() && !q.day.is_some_and(|d| period.contains(d)) {
            continue;
        }
        let key = match by {
            ReportBy::Status => q.status.clone(),
            ReportBy::Month => q
                .day
                .map(|d| d.format("%Y-%m").to_string())
                .unwrap_or_else(|| "(none)".into()),
            _ => q.owner.clone(),
        };
        groups.entry((key, q.currency.clone())).or_default().add(&q);
        totals.entry(q.currency.clone()).or_default().add(&q);
    }
    let mut rows: Vec<Vec<Cell>> = groups.iter().map(|((g, cur), f)| f.cells(g, cur)).collect();
    rows.extend(totals.iter().map(|(cur, f)| f.cells("total", cur)));
    Ok(Report {
        as_of: None,
        title: format!("Quotes by {}", by_name(by)),
        columns: vec![
            (by_name(by), "GROUP"),
            ("currency", "CURRENCY"),
            ("quotes", "QUOTES"),
            ("sent", "SENT"),
            ("accepted", "ACCEPTED"),
            ("rejected", "REJECTED"),
            ("acceptance_rate", "ACCEPTED %"),
            ("average_discount", "AVG DISCOUNT %"),
            ("accepted_value", "ACCEPTED VALUE"),
        ],
        rows,
        warnings: Vec::new(),
        notes: vec![
            "Sent: sent, accepted, rejected or expired. Accepted %: accepted of sent. Avg discount: discounts given of the list value of the sent quotes. Accepted value: net, without tax. A revision replaced by a newer one is not counted.".into(),
        ],
    })
}
