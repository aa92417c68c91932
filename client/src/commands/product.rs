//! `crm product add|list|show|edit|rm|import`: the catalogue. A product is a record of its own
//! (one document) in the catalogue's book ([`CATALOGUE_BOOK`]), which every user reads and only
//! managers and admins write: a rep's laptop refuses a change to it (the server would refuse it
//! at every sync). Its SKU is unique: `add` refuses a SKU the data dir knows, and two products
//! with one SKU made offline by two managers are listed as a clash to settle (remove or rename
//! one).

pub mod args;

use super::{new_id, record, Ctx};
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};
use args::{ProductCommand, ProductEdit, ProductFields};
use crm_shared::quote_rules;
use crm_shared::schema::{Edit, Record, Scalar, CATALOGUE_BOOK};
use crm_shared::values::{format_amount, Currency};
use crm_shared::RecordKind;

const KIND: RecordKind = RecordKind::Product;

/// Refuses a rep: only managers and admins change the catalogue.
fn require_manager(ctx: &Ctx, store: &Store) -> Result<()> {
    super::roles::require_manager(
        ctx,
        store,
        "changes the catalogue (products and their prices)",
    )
}

pub fn run(ctx: &Ctx, cmd: ProductCommand) -> Result<()> {
    if !matches!(cmd, ProductCommand::List | ProductCommand::Show { .. }) {
        require_manager(ctx, &ctx.open()?)?;
    }
    match cmd {
        ProductCommand::Add(f) => {
            let mut store = ctx.open()?;
            if let Some(p) = by_sku(&store, &f.sku)? {
                anyhow::bail!(
                    "SKU {} is already the product \"{}\": choose another SKU or edit it with `crm product edit {}`",
                    f.sku,
                    p.title(),
                    f.sku
                );
            }
            let mut edits = add_edits(&f)?;
            if let Some(b) = &f.bundle {
                edits.push(bundle_edit(&store, &f.sku, b)?);
            }
            let record =
                store.create_in(KIND, new_id(), None, CATALOGUE_BOOK, &edits, ctx.now_ms)?;
            record::saved(ctx, &store, &record)
        }
        ProductCommand::List => list(ctx),
        ProductCommand::Show { id } => {
            let store = ctx.open()?;
            let p = resolve(&store, &id)?;
            record::show(ctx, &store, &p, serde_json::Value::Null)
        }
        ProductCommand::Edit { id, fields } => {
            let mut store = ctx.open()?;
            let p = resolve(&store, &id)?;
            let mut edits = edit_edits(&p, &fields)?;
            if let Some(b) = &fields.bundle {
                edits.push(if b.trim().is_empty() {
                    Edit::Clear { field: "bundle" }
                } else {
                    bundle_edit(&store, p.str("sku").unwrap_or(""), b)?
                });
            }
            if edits.is_empty() {
                anyhow::bail!("nothing to change: give at least one --FIELD VALUE (see `crm product edit --help`)");
            }
            let record = store.edit(p.id, ctx.now_ms, |_| Ok(edits))?;
            record::saved(ctx, &store, &record)
        }
        ProductCommand::Rm { id } => {
            let store = ctx.open()?;
            let p = resolve(&store, &id)?;
            drop(store);
            let id = p.id.to_string();
            record::rm(ctx, KIND, crate::cli::RmArgs { id, restore: false })
        }
        ProductCommand::Import { file } => import(ctx, &file),
    }
}

/// The edits of a new product, every value checked.
fn add_edits(f: &ProductFields) -> Result<Vec<Edit>> {
    let currency = Currency::parse(&f.currency)?;
    let mut e = vec![
        Edit::parse_set(KIND, "sku", f.sku.trim(), currency)?,
        Edit::parse_set(KIND, "name", &f.name, currency)?,
        Edit::parse_set(KIND, "currency", currency.as_str(), currency)?,
        Edit::parse_set(KIND, "price", &f.price, currency)
            .with_context(|| format!("--price {}", f.price))?,
        Edit::parse_set(KIND, "tax", &f.tax.to_string(), currency)
            .context("--tax is a whole percent from 0 to 100")?,
        Edit::parse_set(KIND, "active", "yes", currency)?,
    ];
    if f.divisible {
        e.push(Edit::parse_set(KIND, "divisible", "yes", currency)?);
    }
    if f.sku.trim().is_empty() || f.sku.contains(char::is_whitespace) {
        anyhow::bail!("SKU {:?} must be one word (letters, digits, - or _)", f.sku);
    }
    for (name, v) in [("unit", &f.unit), ("description", &f.description)] {
        if let Some(v) = v {
            e.push(Edit::parse_set(KIND, name, v, currency)?);
        }
    }
    for (name, v) in [("min_qty", f.min_qty), ("max_qty", f.max_qty)] {
        if let Some(v) = v {
            e.push(Edit::parse_set(KIND, name, &v.to_string(), currency)?);
        }
    }
    for (field, items) in [("requires", &f.requires), ("excludes", &f.excludes)] {
        for item in items {
            e.push(Edit::AddToSet {
                field,
                item: item.trim().to_string(),
            });
        }
    }
    Ok(e)
}

fn edit_edits(p: &Record, f: &ProductEdit) -> Result<Vec<Edit>> {
    let currency = currency_of(p)?;
    let mut e = Vec::new();
    let texts = [
        ("name", f.name.clone()),
        ("price", f.price.clone()),
        ("tax", f.tax.map(|t| t.to_string())),
        ("unit", f.unit.clone()),
        ("description", f.description.clone()),
        ("active", f.active.clone()),
        ("divisible", f.divisible.clone()),
        ("max_qty", f.max_qty.map(|t| t.to_string())),
    ];
    for (name, v) in texts {
        if let Some(v) = v {
            e.push(Edit::parse_set(KIND, name, &v, currency).with_context(|| format!("--{name}"))?);
        }
    }
    Ok(e)
}

/// The edit making `sku` a bundle of `text` (`FLEET:1,SUP-PRO:1`): each SKU a product here,
/// none the bundle itself.
fn bundle_edit(store: &Store, sku: &str, text: &str) -> Result<Edit> {
    let items = quote_rules::parse_bundle(text).map_err(|m| anyhow::anyhow!("--bundle: {m}"))?;
    for (item, _) in &items {
        if item == sku.trim() {
            anyhow::bail!("--bundle: {sku} cannot contain itself");
        }
        if by_sku(store, item)?.is_none() {
            anyhow::bail!(
                "--bundle: unknown SKU {item}: add it with `crm product add` first; nothing was changed"
            );
        }
    }
    Ok(Edit::Set {
        field: "bundle",
        value: Scalar::Str(quote_rules::format_bundle(&items)),
    })
}

/// A product's currency (EUR when it has none).
pub fn currency_of(p: &Record) -> Result<Currency> {
    Ok(Currency::parse(p.str("currency").unwrap_or("EUR"))?)
}

/// The live product whose SKU is `sku`, if any (the first by id when two share it).
pub fn by_sku(store: &Store, sku: &str) -> Result<Option<Record>> {
    let id: Option<String> = store
        .conn()
        .query_row(
            "SELECT id FROM rm_catalogue WHERE type = 'product' AND key = ?1 AND deleted = 0 ORDER BY id LIMIT 1",
            [sku.trim()],
            |r| r.get(0),
        )
        .ok();
    match id {
        Some(id) => {
            let (id, _) = store.resolve(&id, Some(KIND))?;
            Ok(Some(store.record(id)?))
        }
        None => Ok(None),
    }
}

/// The product a user names by SKU or id.
pub fn resolve(store: &Store, text: &str) -> Result<Record> {
    if let Some(p) = by_sku(store, text)? {
        return Ok(p);
    }
    match store.resolve(text, Some(KIND)) {
        Ok((id, _)) => Ok(store.record(id)?),
        Err(_) => anyhow::bail!(
            "unknown product {text:?}: give a SKU from `crm product list` or add it with `crm product add`"
        ),
    }
}

/// Every live product, by SKU.
pub fn all(store: &Store) -> Result<Vec<Record>> {
    let mut stmt = store.conn().prepare(
        "SELECT id FROM rm_catalogue WHERE type = 'product' AND deleted = 0 ORDER BY key, id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let (id, _) = store.resolve(&id, Some(KIND))?;
        out.push(store.record(id)?);
    }
    Ok(out)
}

fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let products = all(&store)?;
    if ctx.json {
        return output::json(&products);
    }
    let mut t = output::table(&["SKU", "NAME", "PRICE", "TAX", "UNIT", "ACTIVE", "ID"]);
    for (i, p) in products.iter().enumerate() {
        let sku = p.str("sku").unwrap_or("");
        let clash = products
            .iter()
            .enumerate()
            .any(|(j, q)| i != j && q.str("sku") == Some(sku));
        let currency = currency_of(p)?;
        t.add_row(vec![
            if clash {
                format!("{sku} (CLASH)")
            } else {
                sku.to_string()
            },
            match p.str("bundle") {
                Some(b) => format!("{} (bundle: {b})", p.title()),
                None => p.title().to_string(),
            },
            format_amount(p.int("price").unwrap_or(0), currency),
            format!("{}%", p.int("tax").unwrap_or(0)),
            match (
                p.str("unit").unwrap_or(""),
                p.bool("divisible") == Some(true),
            ) {
                (u, true) => format!("{u} (divisible)").trim().to_string(),
                (u, false) => u.to_string(),
            },
            if p.bool("active").unwrap_or(true) {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            output::short_id(&p.id.to_string()),
        ]);
    }
    output::print_table(t, "No products: add one with `crm product add`.");
    if products
        .iter()
        .enumerate()
        .any(|(i, p)| products[..i].iter().any(|q| q.str("sku") == p.str("sku")))
    {
        eprintln!("A SKU marked CLASH was given to two products (made offline by two people): remove one with `crm product rm ID` or give it another SKU.");
    }
    Ok(())
}

/// `crm product import FILE.csv`: every row checked first, then all saved in one transaction.
fn import(ctx: &Ctx, file: &std::path::Path) -> Result<()> {
    let mut store = ctx.open()?;
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("cannot read {}", file.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (Some(sku), Some(name), Some(price)) = (col("sku"), col("name"), col("price")) else {
        anyhow::bail!(
            "{}: the header must name sku, name and price columns",
            file.display()
        );
    };
    let (cur, tax, unit, desc) = (col("currency"), col("tax"), col("unit"), col("description"));
    let mut seen = std::collections::BTreeSet::new();
    let mut records = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.with_context(|| format!("{}: line {line}", file.display()))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let f = ProductFields {
            sku: get(Some(sku)).unwrap_or("").to_string(),
            name: get(Some(name)).unwrap_or("").to_string(),
            price: get(Some(price)).unwrap_or("").to_string(),
            currency: get(cur).unwrap_or("EUR").to_string(),
            tax: match get(tax) {
                Some(t) => t.trim_end_matches('%').parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}: line {line}: tax {t:?} is not a whole percent",
                        file.display()
                    )
                })?,
                None => 0,
            },
            unit: get(unit).map(String::from),
            description: get(desc).map(String::from),
            requires: vec![],
            excludes: vec![],
            min_qty: None,
            max_qty: None,
            divisible: false,
            bundle: None,
        };
        let edits = add_edits(&f).with_context(|| format!("{}: line {line}", file.display()))?;
        if !seen.insert(f.sku.clone()) || by_sku(&store, &f.sku)?.is_some() {
            anyhow::bail!(
                "{}: line {line}: SKU {} is already in the catalogue or the file; nothing was imported",
                file.display(),
                f.sku
            );
        }
        records.push((new_id(), edits));
    }
    let mut batch = store.batch(ctx.now_ms)?;
    for (id, edits) in &records {
        batch.create_in(KIND, *id, CATALOGUE_BOOK, edits)?;
    }
    batch.commit()?;
    eprintln!("Imported {} products.", records.len());
    Ok(())
}
