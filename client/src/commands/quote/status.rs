//! A quote's life after its lines: sent (only with every rule kept), accepted (optionally winning its case), a discount approved by a manager, revised into a new draft.
//! Each change records its time (`sent_at`, `closed_at`), and sending records the totals the
//! customer was shown, so the quote history and the quotes report (with `--as-of`) read the
//! read model alone.

use super::*;

/// Moves quote `quote` from one of `from` to `to`, with `more` edits, and records when.
pub(super) fn status_change(
    ctx: &Ctx,
    quote: &str,
    from: &[&str],
    to: &str,
    more: Vec<Edit>,
) -> Result<Record> {
    let mut store = ctx.open()?;
    let q = resolve(&store, quote)?;
    let now = q.str("status").unwrap_or("draft");
    if !from.contains(&now) {
        anyhow::bail!(
            "quote {} is {now}: only a {} quote can become {to}",
            q.title(),
            from.join(" or ")
        );
    }
    let at = if to == "sent" { "sent_at" } else { "closed_at" };
    let mut edits = vec![set("status", to), int(at, ctx.now_ms)];
    edits.extend(more);
    let r = store.edit(q.id, ctx.now_ms, |_| Ok(edits))?;
    eprintln!("Quote {} is {to}.", q.title());
    Ok(r)
}

pub(super) fn send(ctx: &Ctx, quote: &str) -> Result<()> {
    let store = ctx.open()?;
    let q = resolve(&store, quote)?;
    draft(&q)?;
    if let Some(v) = q.str("valid_until").and_then(|v| parse_date(v).ok()) {
        if v < ctx.today {
            anyhow::bail!(
                "quote {} expired on {v}: it cannot be sent; make a new revision with `crm quote revise {}`",
                q.title(),
                q.title()
            );
        }
    }
    let snap = Snapshot::now(&store, q.id)?;
    let (totals, broken) = snap.compute()?;
    if snap.lines.is_empty() {
        anyhow::bail!(
            "quote {} has no lines: add one with `crm quote add-line` first",
            q.title()
        );
    }
    if !broken.is_empty() {
        anyhow::bail!(
            "quote {} breaks its rules and stays a draft: {}",
            q.title(),
            broken.join("; ")
        );
    }
    drop(store);
    let shown = vec![
        int("net", totals.net),
        int("total", totals.gross),
        int("discount_total", totals.discount),
    ];
    status_change(ctx, quote, &["draft"], "sent", shown)?;
    Ok(())
}

pub(super) fn accept(ctx: &Ctx, quote: &str, win: bool) -> Result<()> {
    let q = status_change(ctx, quote, &["sent"], "accepted", Vec::new())?;
    if win {
        let mut store = ctx.open()?;
        let snap = Snapshot::now(&store, q.id)?;
        let (totals, _) = snap.compute()?;
        let case_id = ref_id(&q, "case")?;
        let currency = currency_of(&q)?;
        store.edit(case_id, ctx.now_ms, |_| {
            Ok(vec![
                set("currency", currency.as_str()),
                int("amount", totals.net),
            ])
        })?;
        let (case, warning) = crate::commands::case::move_case(
            &mut store,
            &case_id.to_string(),
            Stage::Won,
            None,
            ctx.now_ms,
            ctx.today,
        )?;
        if let Some(w) = warning {
            eprintln!("{w}");
        }
        eprintln!(
            "Case \"{}\" is won at {}.",
            case.title(),
            format_amount(totals.net, currency)
        );
    }
    Ok(())
}

pub(super) fn approve(ctx: &Ctx, quote: &str, discount: &str) -> Result<()> {
    let mut store = ctx.open()?;
    crate::commands::roles::require_manager(ctx, &store, "approves discounts over a rep's limit")?;
    let q = resolve(&store, quote)?;
    draft(&q)?;
    let bp = parse_discount(discount).map_err(anyhow::Error::msg)?;
    let user = store.identity.user.clone();
    store.edit(q.id, ctx.now_ms, |_| {
        Ok(vec![
            int("approved_discount", bp),
            set("approved_by", user.clone()),
        ])
    })?;
    eprintln!(
        "Approved discounts up to {} on quote {}.",
        format_discount(bp),
        q.title()
    );
    Ok(())
}

pub(super) fn revise(ctx: &Ctx, quote: &str) -> Result<()> {
    let mut store = ctx.open()?;
    let q = resolve(&store, quote)?;
    if q.str("status") == Some("superseded") {
        anyhow::bail!(
            "quote {} revision {} already has a newer revision",
            q.title(),
            q.int("revision").unwrap_or(1)
        );
    }
    let revision = q.int("revision").unwrap_or(1) + 1;
    let valid = ctx.today + chrono::Duration::days(30);
    let mut edits = vec![
        set("number", q.title()),
        set("case", q.str("case").unwrap_or("")),
        set("status", "draft"),
        int("revision", revision),
        set("previous", q.id.to_string()),
        set("currency", q.str("currency").unwrap_or("EUR")),
        set("quote_date", ctx.today.to_string()),
        set("valid_until", valid.to_string()),
    ];
    for field in ["price_list", "price_list_reason"] {
        if let Some(v) = q.str(field) {
            edits.push(set(field, v));
        }
    }
    if let (Some(by), Some(d)) = (q.str("approved_by"), q.int("approved_discount")) {
        edits.push(set("approved_by", by));
        edits.push(int("approved_discount", d));
    }
    let new_id_ = new_id();
    let mut lines = Vec::new();
    for l in lines_of(&store, q.id)? {
        let l = store.record(l)?;
        let mut e = vec![
            set("quote", new_id_.to_string()),
            set("product", l.str("product").unwrap_or("")),
            int("quantity", super::snapshot::qty_milli(&l)),
            int("discount", l.int("discount").unwrap_or(0)),
            set("currency", l.str("currency").unwrap_or("EUR")),
        ];
        if let Some(p) = l.int("price") {
            e.push(int("price", p));
        }
        lines.push(e);
    }
    // One transaction: the new revision, its lines and the old one made read-only are saved
    // together or not at all.
    let book = q.book.clone();
    let mut batch = store.batch(ctx.now_ms)?;
    batch.create_in(RecordKind::Quote, new_id_, &book, &edits)?;
    for e in lines {
        batch.create_in(RecordKind::QuoteLine, new_id(), &book, &e)?;
    }
    batch.edit(
        q.id,
        vec![set("status", "superseded"), int("closed_at", ctx.now_ms)],
    )?;
    batch.commit()?;
    eprintln!(
        "Quote {} revision {revision} is a draft; revision {} is kept read-only.",
        q.title(),
        revision - 1
    );
    println!("{new_id_}");
    Ok(())
}
