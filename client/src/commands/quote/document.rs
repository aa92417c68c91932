//! The quote document's rows, drawn as a PDF by `crate::pdf` or written as HTML. Deterministic:
//! the same quote gives the same bytes. The fingerprint goes into the PDF's keywords (and its
//! XMP metadata) in plain text, where `crm quote verify` reads it back. The company's header
//! (settings: logo at the top left, name, address) opens it and its terms close it.

use super::price_source;
use super::snapshot::{bundle_of, Snapshot};
use crate::pdf::{self, row, Meta, Row};
use anyhow::Result;
use crm_shared::pricing::{format_discount, Totals, ROUNDING_RULE};
use crm_shared::quantity::Qty;
use crm_shared::values::{format_amount, Currency};

/// `text`'s lines, each cut at spaces into lines of at most `width` characters.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        for word in line.split_whitespace() {
            if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push(current);
    }
    out
}

/// The company's name and address, above the quote.
fn header_rows(s: &Snapshot) -> Vec<Row> {
    let c = &s.company;
    let mut out = Vec::new();
    if let Some(name) = &c.name {
        out.push(row(14.0, vec![(40.0, name.clone())]));
    }
    for line in wrapped(c.address.as_deref().unwrap_or(""), 90) {
        if !line.is_empty() {
            out.push(row(9.0, vec![(40.0, line)]));
        }
    }
    if !out.is_empty() {
        out.push(row(10.0, vec![]));
    }
    out
}

/// The company's terms, closing the document.
fn terms_rows(s: &Snapshot) -> Vec<Row> {
    let Some(terms) = &s.company.terms else {
        return Vec::new();
    };
    let mut out = vec![row(10.0, vec![]), row(10.0, vec![(40.0, "Terms".into())])];
    out.extend(
        wrapped(terms, 110)
            .into_iter()
            .map(|line| row(8.0, vec![(40.0, line)])),
    );
    out
}

/// The document's rows, top to bottom: the same for the PDF and the HTML.
fn rows(s: &Snapshot, totals: &Totals, currency: Currency) -> Vec<Row> {
    let q = &s.quote;
    let money = |m: i64| format_amount(m, currency);
    let mut out = header_rows(s);
    out.extend([
        row(
            18.0,
            vec![(
                40.0,
                format!(
                    "Quote {} (revision {})",
                    q.str("number").unwrap_or(""),
                    q.int("revision").unwrap_or(1)
                ),
            )],
        ),
        row(10.0, vec![]),
    ]);
    let customer = s.org.as_ref().map(|o| o.title()).unwrap_or(s.case.title());
    for (k, v) in [
        ("Customer", customer.to_string()),
        ("Case", s.case.title().to_string()),
        ("Prepared by", q.owner.clone()),
        ("Date", q.str("quote_date").unwrap_or("").to_string()),
        (
            "Valid until",
            q.str("valid_until").unwrap_or("").to_string(),
        ),
        ("Status", q.str("status").unwrap_or("draft").to_string()),
    ] {
        out.push(row(10.0, vec![(40.0, format!("{k}:")), (130.0, v)]));
    }
    out.push(row(10.0, vec![]));
    out.push(row(
        9.0,
        [
            (40.0, "SKU"),
            (100.0, "Product"),
            (250.0, "Qty"),
            (330.0, "Unit price"),
            (400.0, "Discount"),
            (480.0, "Net"),
            (550.0, "Tax"),
        ]
        .into_iter()
        .map(|(x, t)| (x, t.to_string()))
        .collect(),
    ));
    for (l, p) in s.lines.iter().zip(&totals.lines) {
        let discount = l.line.int("discount").unwrap_or(0);
        out.push(row(
            9.0,
            vec![
                (40.0, p.sku.clone()),
                (100.0, l.product.title().to_string()),
                (
                    250.0,
                    format!("{} {}", p.qty, l.product.str("unit").unwrap_or("")),
                ),
                (330.0, money(p.unit_price)),
                (
                    400.0,
                    if discount > 0 {
                        format!("{} (-{})", format_discount(discount), money(p.discount))
                    } else {
                        String::new()
                    },
                ),
                (480.0, money(p.net)),
                (550.0, format!("{}%", p.tax_percent)),
            ],
        ));
        for (sku, n) in bundle_of(&l.product) {
            out.push(row(
                8.0,
                vec![
                    (52.0, format!("includes {sku}")),
                    (250.0, Qty(p.qty.0.saturating_mul(n)).to_string()),
                ],
            ));
        }
    }
    out.push(row(10.0, vec![]));
    out.push(row(
        10.0,
        vec![(330.0, "Net".into()), (480.0, money(totals.net))],
    ));
    for (rate, (base, tax)) in &totals.by_rate {
        out.push(row(
            10.0,
            vec![
                (330.0, format!("Tax {rate}% on {}", money(*base))),
                (480.0, money(*tax)),
            ],
        ));
    }
    out.push(row(
        12.0,
        vec![(330.0, "Total".into()), (480.0, money(totals.gross))],
    ));
    if totals.discount > 0 {
        out.push(row(
            9.0,
            vec![
                (330.0, "Discounts given".into()),
                (480.0, money(totals.discount)),
            ],
        ));
    }
    out.push(row(10.0, vec![]));
    out.push(row(
        8.0,
        vec![(40.0, format!("Amounts in {currency}. {ROUNDING_RULE}"))],
    ));
    out.push(row(
        8.0,
        vec![(40.0, price_source::sentence(s.price_list.as_ref(), q))],
    ));
    out.extend(terms_rows(s));
    out
}

/// The PDF bytes of the quote.
pub fn pdf(s: &Snapshot, totals: &Totals, currency: Currency) -> Result<Vec<u8>> {
    let number = s.quote.str("number").unwrap_or("");
    pdf::render(
        &rows(s, totals, currency),
        &Meta {
            title: format!("Quote {number}"),
            keywords: vec![s.fingerprint()],
            footer: number.to_string(),
            logo: s.company.logo.clone(),
        },
    )
}

/// The same document as HTML, with the fingerprint in a `<meta name="keywords">`.
pub fn html(s: &Snapshot, totals: &Totals, currency: Currency) -> String {
    let rows = rows(s, totals, currency);
    let title = format!("Quote {}", s.quote.str("number").unwrap_or(""));
    maud::html! {
        (maud::DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                meta name="keywords" content=(s.fingerprint());
                title { (title) }
            }
            body {
                @if let Some(src) = logo_uri(s) {
                    img src=(src) alt="logo";
                }
                table {
                    @for r in &rows {
                        tr {
                            @for (_, text) in &r.cells { td { (text) } }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The logo as a `data:` URI, so the HTML file stands alone.
fn logo_uri(s: &Snapshot) -> Option<String> {
    use base64::Engine;
    let logo = s.company.logo.as_deref()?;
    let format = crm_shared::schema::LogoFormat::sniff(logo)?;
    Some(format!(
        "data:{};base64,{}",
        format.mime(),
        base64::engine::general_purpose::STANDARD.encode(logo)
    ))
}
