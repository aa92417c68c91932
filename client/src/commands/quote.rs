//! `crm quote ...`: quotes on a case. A quote is a record in its case's book; each line is a
//! record of its own (so two reps editing different lines merge, and the same line's quantity
//! is a field conflict like any other). Numbers are `Q-YEAR-USER-NNNN` with the user's own
//! counter (unique offline while a user works on one laptop at a time). Only a draft may be
//! changed; `revise` makes the next revision and keeps the old one read-only.

pub mod args;
pub mod document;
pub mod history;
mod price_source;
pub mod snapshot;
mod status;
mod verify;

use super::product;
use super::{new_id, record, Ctx};
use crate::output;
use crate::store::Store;
use anyhow::{Context, Result};
use args::QuoteCommand;
use crm_shared::pricing::{self, discount_limit_bp, format_discount, parse_discount};
use crm_shared::quantity::{parse_qty, Qty};
use crm_shared::schema::{Edit, Record, Scalar};
use crm_shared::values::{format_amount, parse_amount, parse_date, Currency};
use crm_shared::{DocumentId, RecordKind, Stage};
use snapshot::{lines_of, ref_id, Snapshot};
use status::{accept, approve, revise, send, status_change};

pub use snapshot::rules_of;

fn set(field: &'static str, v: impl Into<String>) -> Edit {
    Edit::Set {
        field,
        value: Scalar::Str(v.into()),
    }
}

fn int(field: &'static str, v: i64) -> Edit {
    Edit::Set {
        field,
        value: Scalar::Int(v),
    }
}

pub fn run(ctx: &Ctx, cmd: QuoteCommand) -> Result<()> {
    match cmd {
        QuoteCommand::New {
            case,
            valid_until,
            currency,
            price_list,
        } => new(
            ctx,
            &case,
            valid_until.as_deref(),
            currency.as_deref(),
            price_list.as_deref(),
        ),
        QuoteCommand::AddLine {
            quote,
            product,
            qty,
            discount,
            price,
        } => add_line(
            ctx,
            &quote,
            &product,
            &qty,
            discount.as_deref(),
            price.as_deref(),
        ),
        QuoteCommand::EditLine(e) => {
            edit_line(ctx, &e.line, e.qty.as_deref(), e.discount.as_deref())
        }
        QuoteCommand::RmLine { line } => {
            let mut store = ctx.open()?;
            let (id, _) = store.resolve(&line, Some(RecordKind::QuoteLine))?;
            let l = store.record(id)?;
            draft(&store.record(ref_id(&l, "quote")?)?)?;
            let now = ctx.now_ms;
            store.edit(id, now, |_| Ok(vec![Edit::Delete { at: now }]))?;
            eprintln!("Removed line {}.", output::short_id(&id.to_string()));
            Ok(())
        }
        QuoteCommand::Show { quote } => show_quote(ctx, &quote),
        QuoteCommand::List { case } => list(ctx, case.as_deref()),
        QuoteCommand::Send { quote } => send(ctx, &quote),
        QuoteCommand::Accept { quote, win } => accept(ctx, &quote, win),
        QuoteCommand::Reject { quote } => {
            status_change(ctx, &quote, &["sent"], "rejected", Vec::new())?;
            Ok(())
        }
        QuoteCommand::Approve { quote, discount } => approve(ctx, &quote, &discount),
        QuoteCommand::Revise { quote } => revise(ctx, &quote),
        QuoteCommand::Pdf { quote, out, html } => {
            let store = ctx.open()?;
            let q = resolve(&store, &quote)?;
            let snap = Snapshot::now(&store, q.id)?;
            let (totals, _) = snap.compute()?;
            let currency = currency_of(&q)?;
            let bytes = if html {
                document::html(&snap, &totals, currency).into_bytes()
            } else {
                document::pdf(&snap, &totals, currency)?
            };
            crate::replace_file::replace(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("Wrote {} ({} bytes).", out.display(), bytes.len());
            Ok(())
        }
        QuoteCommand::Verify { file } => {
            let store = ctx.open()?;
            let differences = verify::verify(&store, &file)?;
            if differences.is_empty() {
                println!("{} matches the quote as recorded here.", file.display());
                Ok(())
            } else {
                for d in &differences {
                    println!("{d}");
                }
                anyhow::bail!(
                    "{} does not match the quote as recorded here ({} difference{})",
                    file.display(),
                    differences.len(),
                    if differences.len() == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// A quote's currency (EUR when it has none).
pub fn currency_of(q: &Record) -> Result<Currency> {
    Ok(Currency::parse(q.str("currency").unwrap_or("EUR"))?)
}

/// The quote a user names: its number (the latest revision) or its id.
pub fn resolve(store: &Store, text: &str) -> Result<Record> {
    let mut stmt = store.conn().prepare_cached(
        "SELECT id FROM rm_catalogue WHERE type = 'quote' AND key = ?1 AND deleted = 0",
    )?;
    let ids = stmt
        .query_map([text.trim()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut best: Option<Record> = None;
    for id in ids {
        let Ok(id) = id.parse::<DocumentId>() else {
            continue;
        };
        let r = store.record(id)?;
        if best
            .as_ref()
            .is_none_or(|b| r.int("revision") > b.int("revision"))
        {
            best = Some(r);
        }
    }
    if let Some(b) = best {
        return Ok(b);
    }
    match store.resolve(text, Some(RecordKind::Quote)) {
        Ok((id, _)) => Ok(store.record(id)?),
        Err(_) => {
            anyhow::bail!("unknown quote {text:?}: give a number or id from `crm quote list`")
        }
    }
}

/// Refuses changes to a quote that is not a draft.
fn draft(q: &Record) -> Result<()> {
    match q.str("status") {
        Some("draft") | None => Ok(()),
        Some(s) => anyhow::bail!(
            "quote {} is {s} and read-only: make a new revision with `crm quote revise {}`",
            q.title(),
            q.title()
        ),
    }
}

/// The role this data dir's user has on the server, as last told ("rep" when not known to be more).
fn role(ctx: &Ctx) -> Result<&'static str> {
    use crm_shared::protocol::Role;
    Ok(
        match super::credentials::kept_grants(&ctx.data_dir)?.and_then(|g| g.role) {
            Some(Role::Admin) => "admin",
            Some(Role::Manager) => "manager",
            _ => "rep",
        },
    )
}

fn new(
    ctx: &Ctx,
    case: &str,
    valid_until: Option<&str>,
    currency: Option<&str>,
    price_list: Option<&str>,
) -> Result<()> {
    let mut store = ctx.open()?;
    let (case_id, _) = store.resolve(case, Some(RecordKind::Case))?;
    let c = store.record(case_id)?;
    if let Some(stage) = c.str("stage").filter(|s| *s == "won" || *s == "lost") {
        anyhow::bail!(
            "case \"{}\" is closed ({stage}): quotes go on open cases; reopen it with `crm case move` first",
            c.title()
        );
    }
    let currency = Currency::parse(currency.or(c.str("currency")).unwrap_or("EUR"))?;
    let valid = match valid_until {
        Some(v) => parse_date(v)?,
        None => ctx.today + chrono::Duration::days(30),
    };
    if valid < ctx.today {
        anyhow::bail!("--valid-until {valid} is in the past: give a date from today on");
    }
    let chosen = price_source::choose(&store, &c, currency, ctx.today, price_list)?;
    let user = store.identity.user.clone();
    let number = next_number(&store, ctx.today, &user)?;
    let mut edits = vec![
        set("number", number.clone()),
        set("case", case_id.to_string()),
        set("status", "draft"),
        int("revision", 1),
        set("currency", currency.as_str()),
        set("quote_date", ctx.today.to_string()),
        set("valid_until", valid.to_string()),
    ];
    if let Some(ch) = &chosen {
        edits.push(set("price_list", ch.list.id.to_string()));
        edits.push(set("price_list_reason", ch.reason.clone()));
    }
    let record = store.create_in(
        RecordKind::Quote,
        new_id(),
        None,
        &c.book,
        &edits,
        ctx.now_ms,
    )?;
    if ctx.json {
        return output::json(&record);
    }
    eprintln!(
        "Saved quote {number} on case \"{}\" (draft, valid until {valid}). {}",
        c.title(),
        price_source::sentence(chosen.as_ref().map(|ch| &ch.list), &record)
    );
    println!("{number}");
    Ok(())
}

/// The user's next quote number this year: one more than the highest they made.
fn next_number(store: &Store, today: chrono::NaiveDate, user: &str) -> Result<String> {
    use chrono::Datelike;
    let prefix = pricing::quote_number(today.year(), user, 0);
    let prefix = prefix.trim_end_matches('0');
    let mut stmt = store
        .conn()
        .prepare("SELECT key FROM rm_catalogue WHERE type = 'quote' AND key LIKE ?1 || '%'")?;
    let keys = stmt
        .query_map([prefix], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let highest = keys
        .iter()
        .filter_map(|k| k.strip_prefix(prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    Ok(pricing::quote_number(today.year(), user, highest + 1))
}

/// Reads a quantity of product `p` into thousandths: more than zero, whole unless the product
/// is divisible.
fn quantity(text: &str, p: &Record) -> Result<i64> {
    use crm_shared::quantity::QtyError;
    let divisible = p.bool("divisible").unwrap_or(false);
    let sku = p.str("sku").unwrap_or("");
    let unit = p.str("unit").unwrap_or("unit");
    parse_qty(text, divisible, unit).map_err(|e| match e {
        QtyError::NotWhole { .. } => anyhow::anyhow!(
            "quantity {text:?} is not whole: {sku} is sold in whole {unit}s (not divisible); give a whole number; nothing was changed"
        ),
        e => anyhow::anyhow!("{e} ({sku}); nothing was changed"),
    })
}

/// Refuses a discount over what this user may give on `q` (their role's limit, or the approval
/// recorded on the quote).
fn check_discount(ctx: &Ctx, q: &Record, bp: i64) -> Result<()> {
    let role = role(ctx)?;
    let limit = discount_limit_bp(role).max(q.int("approved_discount").unwrap_or(0));
    if bp > limit {
        anyhow::bail!(
            "a discount of {} is over the {} allowed on quote {} (a {role}'s limit is {}): a manager approves more with `crm quote approve {} --discount {}`; nothing was changed",
            format_discount(bp),
            format_discount(limit),
            q.title(),
            format_discount(discount_limit_bp(role)),
            q.title(),
            format_discount(bp)
        );
    }
    Ok(())
}

fn add_line(
    ctx: &Ctx,
    quote: &str,
    product: &str,
    qty: &str,
    discount: Option<&str>,
    price: Option<&str>,
) -> Result<()> {
    let mut store = ctx.open()?;
    let q = resolve(&store, quote)?;
    draft(&q)?;
    let p = product::resolve(&store, product)?;
    if p.bool("active") == Some(false) {
        anyhow::bail!(
            "product {} is inactive: it cannot be quoted",
            p.str("sku").unwrap_or("")
        );
    }
    let qty = quantity(qty, &p)?;
    let currency = currency_of(&q)?;
    let list_price = match price {
        Some(_) => None,
        None => Some(price_source::unit_price(&store, &q, &p, currency)?),
    };
    let bp = discount
        .map(parse_discount)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .unwrap_or(0);
    check_discount(ctx, &q, bp)?;
    let mut edits = vec![
        set("quote", q.id.to_string()),
        set("product", p.id.to_string()),
        int("quantity", qty),
        int("discount", bp),
        set("currency", currency.as_str()),
    ];
    // From a price list, the line keeps the price it was added with.
    if let (Some(minor), Some(_)) = (list_price, q.str("price_list")) {
        edits.push(int("price", minor));
    }
    if let Some(price) = price {
        let minor = parse_amount(price, currency).with_context(|| format!("--price {price}"))?;
        if minor < 0 {
            anyhow::bail!("--price {price} is negative: give a price from 0");
        }
        edits.push(int("price", minor));
    }
    let line = store.create_in(
        RecordKind::QuoteLine,
        new_id(),
        None,
        &q.book,
        &edits,
        ctx.now_ms,
    )?;
    eprintln!(
        "Added {} x {} to quote {} (line {}).",
        Qty(qty),
        p.str("sku").unwrap_or(""),
        q.title(),
        output::short_id(&line.id.to_string())
    );
    println!("{}", line.id);
    Ok(())
}

fn edit_line(ctx: &Ctx, line: &str, qty: Option<&str>, discount: Option<&str>) -> Result<()> {
    let mut store = ctx.open()?;
    let (id, _) = store.resolve(line, Some(RecordKind::QuoteLine))?;
    let l = store.record(id)?;
    let q = store.record(ref_id(&l, "quote")?)?;
    draft(&q)?;
    let p = store.record(ref_id(&l, "product")?)?;
    let mut edits = Vec::new();
    if let Some(qty) = qty {
        edits.push(int("quantity", quantity(qty, &p)?));
        if l.int("qty").is_some() {
            edits.push(Edit::Clear { field: "qty" });
        }
    }
    if let Some(d) = discount {
        let bp = parse_discount(d).map_err(anyhow::Error::msg)?;
        check_discount(ctx, &q, bp)?;
        edits.push(int("discount", bp));
    }
    if edits.is_empty() {
        anyhow::bail!("nothing to change: give --qty or --discount");
    }
    store.edit(id, ctx.now_ms, |_| Ok(edits))?;
    eprintln!(
        "Saved line {} of quote {}.",
        output::short_id(&id.to_string()),
        q.title()
    );
    Ok(())
}

fn show_quote(ctx: &Ctx, quote: &str) -> Result<()> {
    let store = ctx.open()?;
    let q = resolve(&store, quote)?;
    let snap = Snapshot::now(&store, q.id)?;
    let (totals, broken) = snap.compute()?;
    let currency = currency_of(&q)?;
    let mut conflicts = Vec::new();
    for l in &snap.lines {
        let mut doc = store.load(l.line.id)?;
        for c in crm_shared::schema::conflicts(doc.document(), RecordKind::QuoteLine) {
            conflicts.push(serde_json::json!({"line": l.line.id.to_string(), "conflict": c}));
        }
    }
    let priced_from = price_source::sentence(snap.price_list.as_ref(), &q);
    if ctx.json {
        let price_list = snap.price_list.as_ref().map(|l| {
            serde_json::json!({"id": l.id.to_string(), "name": l.title(),
                "reason": q.str("price_list_reason")})
        });
        return output::json(&serde_json::json!({
            "quote": q, "totals": totals, "broken_rules": broken, "conflicts": conflicts,
            "lines": snap.lines.iter().map(|l| l.line.id.to_string()).collect::<Vec<_>>(),
            "price_list": price_list, "priced_from": priced_from,
        }));
    }
    println!(
        "Quote {} revision {} ({}) on case \"{}\", valid until {}, by {}",
        q.title(),
        q.int("revision").unwrap_or(1),
        q.str("status").unwrap_or("draft"),
        snap.case.title(),
        q.str("valid_until").unwrap_or("-"),
        q.owner
    );
    if let Some(by) = q.str("approved_by") {
        println!(
            "Discounts up to {} approved by {by}",
            format_discount(q.int("approved_discount").unwrap_or(0))
        );
    }
    let mut t = output::table(&[
        "LINE",
        "SKU",
        "PRODUCT",
        "QTY",
        "UNIT PRICE",
        "DISCOUNT",
        "NET",
        "TAX",
    ]);
    for (l, p) in snap.lines.iter().zip(&totals.lines) {
        t.add_row(vec![
            output::short_id(&l.line.id.to_string()),
            p.sku.clone(),
            l.product.title().to_string(),
            p.qty.to_string(),
            format_amount(p.unit_price, currency),
            format_discount(l.line.int("discount").unwrap_or(0)),
            format_amount(p.net, currency),
            format!("{}%", p.tax_percent),
        ]);
        for (sku, n) in snapshot::bundle_of(&l.product) {
            let qty = Qty(p.qty.0.saturating_mul(n));
            t.add_row(vec![
                String::new(),
                format!("  {sku}"),
                "(in the bundle)".into(),
                qty.to_string(),
            ]);
        }
    }
    output::print_table(t, "No lines yet: add one with `crm quote add-line`.");
    println!("Net {}", format_amount(totals.net, currency));
    for (rate, (base, tax)) in &totals.by_rate {
        println!(
            "Tax {rate}% on {}: {}",
            format_amount(*base, currency),
            format_amount(*tax, currency)
        );
    }
    println!("Total {}", format_amount(totals.gross, currency));
    println!("{priced_from} {}", pricing::ROUNDING_RULE);
    for b in &broken {
        println!("Broken rule: {b}");
    }
    for c in &conflicts {
        println!(
            "Conflict on line {}: {}",
            output::short_id(c["line"].as_str().unwrap_or("")),
            c["conflict"]
        );
    }
    Ok(())
}

fn list(ctx: &Ctx, case: Option<&str>) -> Result<()> {
    let store = ctx.open()?;
    let case_id = case
        .map(|c| store.resolve(c, Some(RecordKind::Case)))
        .transpose()?
        .map(|c| c.0.to_string());
    let quotes = quotes_where(&store, case_id.as_deref())?;
    if ctx.json {
        return output::json(&quotes);
    }
    let mut t = output::table(&[
        "NUMBER",
        "REV",
        "STATUS",
        "CASE",
        "OWNER",
        "VALID UNTIL",
        "ID",
    ]);
    for q in &quotes {
        t.add_row(vec![
            q.title().to_string(),
            q.int("revision").unwrap_or(1).to_string(),
            q.str("status").unwrap_or("draft").to_string(),
            record::ref_name(&store, q.str("case").unwrap_or("")),
            q.owner.clone(),
            q.str("valid_until").unwrap_or("").to_string(),
            output::short_id(&q.id.to_string()),
        ]);
    }
    output::print_table(t, "No quotes: start one with `crm quote new CASE`.");
    Ok(())
}

/// The live quotes (of one case when given), newest first.
pub fn quotes_where(store: &Store, case: Option<&str>) -> Result<Vec<Record>> {
    let mut stmt = store.conn().prepare(
        "SELECT id FROM rm_catalogue WHERE type = 'quote' AND deleted = 0 AND (?1 IS NULL OR parent = ?1) ORDER BY key DESC, id",
    )?;
    let ids = stmt
        .query_map([case], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for id in ids {
        if let Ok(id) = id.parse() {
            out.push(store.record(id)?);
        }
    }
    Ok(out)
}
