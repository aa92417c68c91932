//! A customer's quote history: the quotes sent to a contact (quotes of cases they are a contact
//! of) or to an organization (quotes of its cases), newest first, read from `rm_quotes` alone.
//! Drafts never sent are not listed; every sent revision is, with the status it has now.

use crate::output;
use crate::store::Store;
use anyhow::Result;
use crm_shared::values::{format_amount, Currency};
use rusqlite::types::Value;

/// Which customer.
#[derive(Debug, Clone, Copy)]
pub enum Customer {
    Contact,
    Organization,
}

/// One quote sent to the customer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub id: String,
    pub number: String,
    pub revision: i64,
    /// The day it was sent (local).
    pub date: String,
    pub status: String,
    /// The total shown (with tax), in minor units of `currency`.
    pub total: Option<i64>,
    pub currency: String,
    pub case_id: String,
    pub case: String,
}

/// The quotes sent to contact or organization `id`, newest first.
pub fn sent_to(store: &Store, customer: Customer, id: &str) -> Result<Vec<Sent>> {
    let cases = match customer {
        Customer::Contact => "SELECT case_id FROM rm_case_contacts WHERE contact_id = ?1",
        Customer::Organization => "SELECT id FROM rm_cases WHERE org_id = ?1",
    };
    let sql = format!(
        "SELECT q.id, q.number, q.revision, q.sent_at, q.status, q.total, q.currency, q.case_id,
                coalesce(c.title, '')
         FROM rm_quotes q LEFT JOIN rm_cases c ON c.id = q.case_id
         WHERE q.deleted = 0 AND q.sent_at IS NOT NULL AND q.case_id IN ({cases})
         ORDER BY q.sent_at DESC, q.number DESC, q.revision DESC"
    );
    let mut stmt = store.conn().prepare_cached(&sql)?;
    let rows = stmt.query_map([Value::Text(id.to_string())], |r| {
        let sent_at: i64 = r.get(3)?;
        Ok(Sent {
            id: r.get(0)?,
            number: r.get(1)?,
            revision: r.get(2)?,
            date: output::local_time_ms(sent_at).chars().take(10).collect(),
            status: r.get(4)?,
            total: r.get(5)?,
            currency: r
                .get::<_, Option<String>>(6)?
                .unwrap_or_else(|| "EUR".into()),
            case_id: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            case: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The history as table cells: number, revision, date, status, total, case.
pub fn cells(quotes: &[Sent]) -> Vec<Vec<String>> {
    quotes
        .iter()
        .map(|q| {
            let currency = Currency::parse(&q.currency).unwrap_or(Currency::EUR);
            vec![
                q.number.clone(),
                q.revision.to_string(),
                q.date.clone(),
                q.status.clone(),
                q.total
                    .map(|t| format!("{} {currency}", format_amount(t, currency)))
                    .unwrap_or_default(),
                q.case.clone(),
            ]
        })
        .collect()
}

/// The header of [`cells`].
pub const HEADER: [&str; 6] = ["NUMBER", "REV", "SENT", "STATUS", "TOTAL", "CASE"];

/// Prints the history under "Quotes" (nothing when there is none).
pub fn print(quotes: &[Sent]) {
    output::print_section("\nQuotes", &HEADER, cells(quotes), "");
}
