//! Paged PDF documents of text rows, drawn with `krilla`: DejaVu Sans (Latin, Greek, Cyrillic)
//! and Droid Sans Fallback (CJK) embedded and subset, both shipped in `client/fonts/` with their
//! licences. Deterministic: no dates or random ids are written, so the same rows give the same
//! bytes. Used by the quote document and by reports sent as PDF.

use anyhow::Result;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;

static LATIN: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static CJK: &[u8] = include_bytes!("../fonts/DroidSansFallback.ttf");

/// One row of a document's text: a font size and cells at x positions (points from the left).
pub struct Row {
    pub size: f32,
    pub cells: Vec<(f32, String)>,
}

/// A row of `cells` in font `size`.
pub fn row(size: f32, cells: Vec<(f32, String)>) -> Row {
    Row { size, cells }
}

/// What a document says about itself beside its rows.
pub struct Meta {
    /// The document's title (PDF metadata).
    pub title: String,
    /// Keywords written in plain text into the metadata (a quote's fingerprint).
    pub keywords: Vec<String>,
    /// The footer of every page, before " - page N".
    pub footer: String,
}

/// Whether a character is drawn with the CJK font.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x2FFFF)
}

/// The width of `text` drawn in font `size`, in points: DejaVu Sans's advances for digits and
/// the marks around them (so right-aligned amounts line up), square CJK glyphs, and an
/// estimate for other letters.
pub fn text_width(text: &str, size: f32) -> f32 {
    let em: f32 = text
        .chars()
        .map(|c| match c {
            '0'..='9' => 0.6362,
            ' ' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'i' | 'l' | 'j' => 0.3179,
            '-' => 0.361,
            '%' => 0.95,
            'A'..='Z' => 0.7,
            c if is_cjk(c) => 1.0,
            _ => 0.6,
        })
        .sum();
    em * size
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
        *x += text_width(run, size);
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

/// The PDF bytes of `rows` on A4 pages, top to bottom, a new page when one is full.
pub fn render(rows: &[Row], meta: &Meta) -> Result<Vec<u8>> {
    render_with_header(rows, &[], meta)
}

/// As [`render`], with `header` (a table's header) drawn again at the top of every page after
/// the first.
pub fn render_with_header(rows: &[Row], header: &[Row], meta: &Meta) -> Result<Vec<u8>> {
    let fonts = (
        Font::new(LATIN.into(), 0)
            .ok_or_else(|| anyhow::anyhow!("the Latin font is unreadable"))?,
        Font::new(CJK.into(), 0).ok_or_else(|| anyhow::anyhow!("the CJK font is unreadable"))?,
    );
    let mut document = Document::new();
    let (width, height, top, bottom) = (595.0, 842.0, 50.0, 800.0);
    let mut rest = rows;
    let mut number = 1;
    while !rest.is_empty() || number == 1 {
        let Some(page_settings) = PageSettings::from_wh(width, height) else {
            anyhow::bail!("cannot make an A4 page");
        };
        let mut page = document.start_page_with(page_settings);
        let mut surface = page.surface();
        let mut y = top;
        if number > 1 && !rest.is_empty() {
            for r in header {
                y += r.size * 1.5;
                for (x, text) in &r.cells {
                    draw(&mut surface, &fonts, *x, y, r.size, text);
                }
            }
        }
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
            &format!("{} - page {number}", meta.footer),
        );
        surface.finish();
        page.finish();
        number += 1;
    }
    document.set_metadata(
        Metadata::new()
            .title(meta.title.clone())
            .creator("crm".to_string())
            .keywords(meta.keywords.clone()),
    );
    document
        .finish()
        .map_err(|e| anyhow::anyhow!("cannot write the PDF: {e:?}"))
}
