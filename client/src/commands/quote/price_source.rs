//! Where a quote's prices come from: the price list named with `--price-list`, or the one the
//! selection rule chooses for the case's customer (`crm_shared::price_lists`), recorded on the
//! quote with the reason; and a line's unit price from that list when it is added.

use crate::commands::{price_list, product};
use crate::store::Store;
use anyhow::Result;
use crm_shared::price_lists::{self, QuoteTerms};
use crm_shared::schema::Record;
use crm_shared::values::Currency;
use crm_shared::DocumentId;

/// The list a quote is priced from and why.
pub struct Chosen {
    pub list: Record,
    /// `chosen: region north, kind reseller`, or `named with --price-list`.
    pub reason: String,
}

/// The customer's region and kind: its organization's (the case's region when the
/// organization names none).
fn customer(store: &Store, case: &Record) -> (Option<String>, Option<String>) {
    let org = case
        .str("org")
        .and_then(|o| o.parse::<DocumentId>().ok())
        .and_then(|o| store.record(o).ok());
    let region = org
        .as_ref()
        .and_then(|o| o.str("region"))
        .or(case.str("region"))
        .map(String::from);
    let kind = org.as_ref().and_then(|o| o.str("kind")).map(String::from);
    (region, kind)
}

/// The list for a new quote on `case` in `currency` dated `date`: the one named (refused when
/// it is of another currency or not valid on the date), else the rule's choice, else none.
pub fn choose(
    store: &Store,
    case: &Record,
    currency: Currency,
    date: chrono::NaiveDate,
    named: Option<&str>,
) -> Result<Option<Chosen>> {
    if let Some(name) = named {
        let list = price_list::resolve(store, name)?;
        let terms = price_list::terms(&list);
        // Named by the rep: its region and kind are taken as meant; currency and dates hold.
        let q = QuoteTerms {
            currency: currency.as_str(),
            date,
            region: terms.region.as_deref(),
            kind: terms.kind.as_deref(),
        };
        if let Err(why) = price_lists::applies(&terms, &q) {
            anyhow::bail!(
                "price list \"{}\" cannot price this quote: {why} (the quote is in {currency}, dated {date}); choose another with `crm price-list list`; nothing was changed",
                list.title()
            );
        }
        return Ok(Some(Chosen {
            list,
            reason: "named with --price-list".into(),
        }));
    }
    let lists = price_list::all(store)?;
    let terms: Vec<_> = lists.iter().map(price_list::terms).collect();
    let (region, kind) = customer(store, case);
    let q = QuoteTerms {
        currency: currency.as_str(),
        date,
        region: region.as_deref(),
        kind: kind.as_deref(),
    };
    Ok(price_lists::choose(&terms, &q).map(|(i, m)| Chosen {
        list: lists[i].clone(),
        reason: format!("chosen: {}", m.describe()),
    }))
}

/// The price list quote `q` records, as it is now.
pub fn of_quote(store: &Store, q: &Record) -> Result<Option<Record>> {
    match q
        .str("price_list")
        .and_then(|l| l.parse::<DocumentId>().ok())
    {
        Some(id) => Ok(Some(store.record(id)?)),
        None => Ok(None),
    }
}

/// The unit price of `p` on quote `q` (in `currency`): from its price list when it has one,
/// else the product's list price; an error when neither is in the quote's currency.
pub fn unit_price(store: &Store, q: &Record, p: &Record, currency: Currency) -> Result<i64> {
    let list = of_quote(store, q)?;
    let sku = p.str("sku").unwrap_or("");
    if let Some(own) = list.as_ref().and_then(|l| price_list::own_price(l, p.id)) {
        return Ok(own);
    }
    let product_currency = product::currency_of(p)?;
    if product_currency != currency {
        anyhow::bail!(
            "product {sku} is priced in {product_currency} and quote {} is in {currency}{}: give --price in {currency}",
            q.title(),
            list.as_ref()
                .map(|l| format!(" (price list \"{}\" has no price for it)", l.title()))
                .unwrap_or_default()
        );
    }
    Ok(match &list {
        Some(l) => price_list::price_of(l, p),
        None => p.int("price").unwrap_or(0),
    })
}

/// The sentence saying where the prices come from, for `show` and the document.
pub fn sentence(list: Option<&Record>, q: &Record) -> String {
    match list {
        Some(l) => format!(
            "Priced from price list '{}' ({}).",
            l.title(),
            q.str("price_list_reason")
                .unwrap_or("recorded on the quote")
        ),
        None => "Prices: the products' list prices (no price list applied).".into(),
    }
}
