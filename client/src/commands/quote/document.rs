//! The quote document: a PDF drawn with `krilla`, with DejaVu Sans (Latin, Greek, Cyrillic) and
//! Droid Sans Fallback (CJK) embedded and subset, both shipped in `client/fonts/` with their
//! licences; or the same content as HTML. Deterministic: no dates or random ids are written,
//! so the same quote gives the same bytes. The fingerprint goes into the PDF's keywords (and
//! its XMP metadata) in plain text, where `crm quote verify` reads it back.

use super::snapshot::Snapshot;
use anyhow::Result;
use crm_shared::pricing::{format_discount, Totals, ROUNDING_RULE};
use crm_shared::values::{format_amount, Currency};
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

static LATIN: &[u8] = include_bytes!("../../../fonts/DejaVuSans.ttf");
static CJK: &[u8] = include_bytes!("../../../fonts/DroidSansFallback.ttf");

/// One row of the document's text: cells at x positions.
struct Row {
    size: f32,
    cells: Vec<(f32, String)>,
}

fn row(size: f32, cells: Vec<(f32, String)>) -> Row {
    Row { size, cells }
}

/// The document's rows, top to bottom: the same for the PDF and the HTML.
fn rows(s: &Snapshot, totals: &Totals, currency: Currency) -> Vec<Row> {
    let q = &s.quote;
    let money = |m: i64| format_amount(m, currency);
    let mut out = vec![
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
    ];
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
    out
}

/// Whether a character is drawn with the CJK font.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x2FFFF)
}

/// Draws `text` at `(x, y)`, each run in the font that has its characters.
fn draw(surface: &mut Surface, fonts: &(Font, Font), x: f32, y: f32, size: f32, text: &str) {
    let mut x = x;
    let mut run = String::new();
    let mut run_cjk = false;
    let flush = |surface: &mut Surface, run: &mut String, cjk: bool, x: &mut f32| {
        if run.is_empty() {
            return;
        }
        let font = if cjk { &fonts.1 } else { &fonts.0 };
        surface.draw_text(
            Point::from_xy(*x, y),
            font.clone(),
            size,
            run,
            false,
            TextDirection::Auto,
        );
        // Advance by an estimate: CJK glyphs are square, others about half as wide.
        *x += run.chars().count() as f32 * size * if cjk { 1.0 } else { 0.55 };
        run.clear();
    };
    for c in text.chars() {
        let cjk = is_cjk(c);
        if cjk != run_cjk {
            flush(surface, &mut run, run_cjk, &mut x);
            run_cjk = cjk;
        }
        run.push(c);
    }
    flush(surface, &mut run, run_cjk, &mut x);
}

/// The PDF bytes of the quote.
pub fn pdf(s: &Snapshot, totals: &Totals, currency: Currency) -> Result<Vec<u8>> {
    let fonts = (
        Font::new(LATIN.into(), 0)
            .ok_or_else(|| anyhow::anyhow!("the Latin font is unreadable"))?,
        Font::new(CJK.into(), 0).ok_or_else(|| anyhow::anyhow!("the CJK font is unreadable"))?,
    );
    let mut document = Document::new();
    let (width, height, top, bottom) = (595.0, 842.0, 50.0, 800.0);
    let settings = || PageSettings::from_wh(width, height);
    let all = rows(s, totals, currency);
    let mut rest = all.as_slice();
    let mut number = 1;
    while !rest.is_empty() || number == 1 {
        let Some(page_settings) = settings() else {
            anyhow::bail!("cannot make an A4 page");
        };
        let mut page = document.start_page_with(page_settings);
        let mut surface = page.surface();
        let mut y = top;
        while let Some((r, more)) = rest.split_first() {
            let step = r.size * 1.5;
            if y + step > bottom {
                break;
            }
            y += step;
            for (x, text) in &r.cells {
                draw(&mut surface, &fonts, *x, y, r.size, text);
            }
            rest = more;
        }
        draw(
            &mut surface,
            &fonts,
            40.0,
            825.0,
            7.0,
            &format!("{} - page {number}", s.quote.str("number").unwrap_or("")),
        );
        surface.finish();
        page.finish();
        number += 1;
    }
    document.set_metadata(
        Metadata::new()
            .title(format!("Quote {}", s.quote.str("number").unwrap_or("")))
            .creator("crm".to_string())
            .keywords(vec![s.fingerprint()]),
    );
    document
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot write the PDF: {e:?}"))
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
