//! `crm price-list ...`: named price lists. A list is a workspace document (no book, its id
//! derived from its name) that every laptop receives at sync and prices quotes from offline;
//! only managers and admins change lists (refused here from the kept grants, and by the server).
//! A list holds a currency, an optional region and customer kind, validity dates, its own
//! prices for some products (product id -> minor units) and a percentage off list prices.

pub mod args;

use super::{edits, product, record, roles, Ctx};
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};
use args::{PriceListCommand, TermArgs};
use crm_shared::price_lists::{self, ListTerms};
use crm_shared::pricing::{format_discount, parse_discount};
use crm_shared::schema::{price_list_id, Edit, Record};
use crm_shared::values::{format_amount, parse_amount, Currency};
use crm_shared::{DocumentId, RecordKind};

const KIND: RecordKind = RecordKind::PriceList;

pub fn run(ctx: &Ctx, cmd: PriceListCommand) -> Result<()> {
    match cmd {
        PriceListCommand::Add { name, terms } => add(ctx, &name, &terms),
        PriceListCommand::SetPrice {
            list,
            product,
            price,
        } => set_price(ctx, &list, &product, Some(&price)),
        PriceListCommand::UnsetPrice { list, product } => set_price(ctx, &list, &product, None),
        PriceListCommand::List => list(ctx),
        PriceListCommand::Show { list } => show(ctx, &list),
        PriceListCommand::Edit { list, terms } => {
            let mut store = ctx.open()?;
            roles::require_manager(ctx, &store, "changes price lists")?;
            let l = resolve(&store, &list)?;
            let edits = term_edits(&store, &terms, Some(&l))?;
            if edits.is_empty() {
                anyhow::bail!("nothing to change: give at least one of --currency, --region, --kind, --from, --until, --percent-off");
            }
            let record = store.edit(l.id, ctx.now_ms, |_| Ok(edits))?;
            record::saved(ctx, &store, &record)
        }
        PriceListCommand::Rm { list } => {
            let mut store = ctx.open()?;
            roles::require_manager(ctx, &store, "changes price lists")?;
            let l = resolve(&store, &list)?;
            let now = ctx.now_ms;
            store.edit(l.id, now, |_| Ok(vec![Edit::Delete { at: now }]))?;
            eprintln!("Removed price list \"{}\".", l.title());
            Ok(())
        }
        PriceListCommand::Import { list, file } => import(ctx, &list, &file),
    }
}

fn add(ctx: &Ctx, name: &str, terms: &TermArgs) -> Result<()> {
    let mut store = ctx.open()?;
    roles::require_manager(ctx, &store, "changes price lists")?;
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("a price list needs a name");
    }
    let id = price_list_id(name);
    if let Ok(existing) = store.record(id) {
        if existing.is_deleted() {
            anyhow::bail!(
                "a removed price list was called \"{}\": choose another name",
                existing.title()
            );
        }
        anyhow::bail!(
            "price list \"{}\" exists: change it with `crm price-list edit`",
            existing.title()
        );
    }
    let Some(currency) = terms.currency.as_deref() else {
        anyhow::bail!("a price list needs --currency (e.g. --currency EUR)");
    };
    let currency = Currency::parse(currency)?;
    let mut edits = vec![Edit::parse_set(KIND, "name", name, currency)?];
    edits.extend(term_edits(&store, terms, None)?);
    // A workspace document: no book.
    let record = store.create_in(KIND, id, None, "", &edits, ctx.now_ms)?;
    record::saved(ctx, &store, &record)
}

/// The edits of the terms given, every value checked (an empty value clears an optional one).
fn term_edits(store: &Store, t: &TermArgs, existing: Option<&Record>) -> Result<Vec<Edit>> {
    let currency = match (&t.currency, existing) {
        (Some(c), _) => Currency::parse(c)?,
        (None, Some(r)) => currency_of(r)?,
        (None, None) => Currency::EUR,
    };
    let mut e = Vec::new();
    let clear = |field: &'static str| Edit::Clear { field };
    if let Some(c) = &t.currency {
        e.push(Edit::parse_set(KIND, "currency", c, currency)?);
    }
    if let Some(r) = &t.region {
        e.push(Edit::parse_set(KIND, "region", r, currency)?);
    }
    if let Some(k) = &t.kind {
        e.push(if k.trim().is_empty() {
            clear("customer_kind")
        } else {
            Edit::parse_set(KIND, "customer_kind", k, currency).context("--kind")?
        });
    }
    let mut from = existing.and_then(|r| r.str("valid_from")?.parse().ok());
    let mut until = existing.and_then(|r| r.str("valid_until")?.parse().ok());
    for (flag, field, text, slot) in [
        ("--from", "valid_from", &t.from, &mut from),
        ("--until", "valid_until", &t.until, &mut until),
    ] {
        if let Some(text) = text {
            if text.trim().is_empty() {
                *slot = None;
                e.push(clear(field));
            } else {
                let day = edits::typed_day(store, flag, text)?;
                *slot = Some(day);
                e.push(Edit::parse_set(KIND, field, &day.to_string(), currency)?);
            }
        }
    }
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            anyhow::bail!(
                "the list would end ({u}) before it starts ({f}): give --until on or after --from"
            );
        }
    }
    if let Some(p) = &t.percent_off {
        if p.trim().is_empty() {
            e.push(clear("percent_off"));
        } else {
            let bp = parse_discount(p).map_err(|m| anyhow::anyhow!("--percent-off: {m}"))?;
            e.push(Edit::Set {
                field: "percent_off",
                value: crm_shared::schema::Scalar::Int(bp),
            });
        }
    }
    Ok(e)
}

/// A list's currency.
pub fn currency_of(l: &Record) -> Result<Currency> {
    Ok(Currency::parse(l.str("currency").unwrap_or("EUR"))?)
}

/// The price list a user names: by name, or by id (or a unique prefix).
pub fn resolve(store: &Store, text: &str) -> Result<Record> {
    if let Ok(r) = store.record(price_list_id(text)) {
        if !r.is_deleted() {
            return Ok(r);
        }
    }
    match store.resolve(text, Some(KIND)) {
        Ok((id, _)) => Ok(store.record(id)?),
        Err(_) => {
            anyhow::bail!("unknown price list {text:?}: give a name from `crm price-list list`")
        }
    }
}

/// Every live price list, by name.
pub fn all(store: &Store) -> Result<Vec<Record>> {
    let mut stmt = store.conn().prepare(
        "SELECT id FROM rm_catalogue WHERE type = 'price_list' AND deleted = 0 ORDER BY key, id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Ok(id) = id.parse::<DocumentId>() {
            out.push(store.record(id)?);
        }
    }
    Ok(out)
}

/// What the selection rule reads of a list.
pub fn terms(l: &Record) -> ListTerms {
    ListTerms {
        name: l.title().to_string(),
        currency: l.str("currency").unwrap_or("EUR").to_string(),
        region: l.str("region").map(String::from),
        kind: l.str("customer_kind").map(String::from),
        from: l.str("valid_from").and_then(|d| d.parse().ok()),
        until: l.str("valid_until").and_then(|d| d.parse().ok()),
    }
}

/// The list's own price of product `p`, if it has one.
pub fn own_price(l: &Record, p: DocumentId) -> Option<i64> {
    l.links("prices")?.get(&p.to_string())?.parse().ok()
}

/// The unit price of product `p` on list `l` (its own price, else the percentage off the
/// product's list price, else the list price).
pub fn price_of(l: &Record, p: &Record) -> i64 {
    price_lists::unit_price(
        own_price(l, p.id),
        l.int("percent_off"),
        p.int("price").unwrap_or(0),
    )
}

fn set_price(ctx: &Ctx, list: &str, product: &str, price: Option<&str>) -> Result<()> {
    let mut store = ctx.open()?;
    roles::require_manager(ctx, &store, "changes price lists")?;
    let l = resolve(&store, list)?;
    let p = product::resolve(&store, product)?;
    let currency = currency_of(&l)?;
    let edit = match price {
        Some(text) => Edit::Link {
            field: "prices",
            id: p.id,
            role: checked_price(text, currency)?.to_string(),
        },
        None => Edit::Unlink {
            field: "prices",
            id: p.id,
        },
    };
    let record = store.edit(l.id, ctx.now_ms, |_| Ok(vec![edit]))?;
    let sku = p.str("sku").unwrap_or("");
    match own_price(&record, p.id) {
        Some(m) => eprintln!(
            "Saved {sku} at {} {currency} on price list \"{}\".",
            format_amount(m, currency),
            l.title()
        ),
        None => eprintln!(
            "Removed {sku}'s own price from price list \"{}\".",
            l.title()
        ),
    }
    Ok(())
}

/// A price as typed, in `currency`'s minor units, from 0.
fn checked_price(text: &str, currency: Currency) -> Result<i64> {
    let minor = parse_amount(text, currency).with_context(|| format!("price {text:?}"))?;
    if minor < 0 {
        anyhow::bail!("price {text} is negative: give a price from 0");
    }
    Ok(minor)
}

/// A list's terms in words: `EUR, region north, kind reseller, 2026-01-01 to 2026-12-31, 5% off`.
fn describe(l: &Record) -> String {
    let mut parts = vec![l.str("currency").unwrap_or("EUR").to_string()];
    if let Some(r) = l.str("region") {
        parts.push(format!("region {r}"));
    }
    if let Some(k) = l.str("customer_kind") {
        parts.push(format!("kind {k}"));
    }
    match (l.str("valid_from"), l.str("valid_until")) {
        (None, None) => {}
        (f, u) => parts.push(format!(
            "{} to {}",
            f.unwrap_or("always"),
            u.unwrap_or("open")
        )),
    }
    if let Some(bp) = l.int("percent_off").filter(|b| *b > 0) {
        parts.push(format!("{} off list", format_discount(bp)));
    }
    parts.join(", ")
}

fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let lists = all(&store)?;
    if ctx.json {
        return output::json(&lists);
    }
    let mut t = output::table(&[
        "NAME", "CURRENCY", "REGION", "KIND", "FROM", "UNTIL", "% OFF", "PRICES", "ID",
    ]);
    for l in &lists {
        t.add_row(vec![
            l.title().to_string(),
            l.str("currency").unwrap_or("").to_string(),
            l.str("region").unwrap_or("").to_string(),
            l.str("customer_kind").unwrap_or("").to_string(),
            l.str("valid_from").unwrap_or("").to_string(),
            l.str("valid_until").unwrap_or("").to_string(),
            l.int("percent_off")
                .map(format_discount)
                .unwrap_or_default(),
            l.links("prices").map_or(0, |p| p.len()).to_string(),
            output::short_id(&l.id.to_string()),
        ]);
    }
    output::print_table(
        t,
        "No price lists: a manager adds one with `crm price-list add NAME --currency EUR`.",
    );
    Ok(())
}

fn show(ctx: &Ctx, list: &str) -> Result<()> {
    let store = ctx.open()?;
    let l = resolve(&store, list)?;
    let currency = currency_of(&l)?;
    let mut rows = Vec::new();
    for p in product::all(&store)? {
        let own = own_price(&l, p.id);
        let same_currency = product::currency_of(&p)? == currency;
        if own.is_none() && !same_currency {
            continue;
        }
        rows.push(serde_json::json!({
            "sku": p.str("sku").unwrap_or(""),
            "product": p.id.to_string(),
            "name": p.title(),
            "list_price": same_currency.then(|| p.int("price").unwrap_or(0)),
            "price": price_of(&l, &p),
            "own_price": own.is_some(),
        }));
    }
    if ctx.json {
        return record::show(ctx, &store, &l, serde_json::json!({ "products": rows }));
    }
    println!("Price list \"{}\": {}", l.title(), describe(&l));
    let mut t = output::table(&["SKU", "PRODUCT", "LIST PRICE", "PRICE HERE", "FROM"]);
    for r in &rows {
        let money = |v: &serde_json::Value| {
            v.as_i64()
                .map(|m| format_amount(m, currency))
                .unwrap_or_default()
        };
        t.add_row(vec![
            r["sku"].as_str().unwrap_or("").to_string(),
            r["name"].as_str().unwrap_or("").to_string(),
            money(&r["list_price"]),
            money(&r["price"]),
            if r["own_price"].as_bool() == Some(true) {
                "its own price"
            } else if l.int("percent_off").is_some_and(|b| b > 0) {
                "% off list"
            } else {
                "list price"
            }
            .to_string(),
        ]);
    }
    output::print_table(t, "No products in this currency.");
    Ok(())
}

/// `crm price-list import LIST FILE.csv`: every row checked first, then all saved in one change.
fn import(ctx: &Ctx, list: &str, file: &std::path::Path) -> Result<()> {
    let mut store = ctx.open()?;
    roles::require_manager(ctx, &store, "changes price lists")?;
    let l = resolve(&store, list)?;
    let currency = currency_of(&l)?;
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("cannot read {}", file.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(sku), Some(price)) = (col("sku"), col("price")) else {
        anyhow::bail!(
            "{}: the header must name sku and price columns",
            file.display()
        );
    };
    let mut edits = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.with_context(|| format!("{}: line {line}", file.display()))?;
        let at = |c: usize| row.get(c).map(str::trim).unwrap_or("");
        let p = product::by_sku(&store, at(sku))?.ok_or_else(|| {
            anyhow::anyhow!(
                "{}: line {line}: unknown SKU {:?}; nothing was imported",
                file.display(),
                at(sku)
            )
        })?;
        let minor = checked_price(at(price), currency)
            .with_context(|| format!("{}: line {line}", file.display()))?;
        edits.push(Edit::Link {
            field: "prices",
            id: p.id,
            role: minor.to_string(),
        });
    }
    let n = edits.len();
    store.edit(l.id, ctx.now_ms, |_| Ok(edits))?;
    eprintln!("Saved {n} prices on price list \"{}\".", l.title());
    Ok(())
}
