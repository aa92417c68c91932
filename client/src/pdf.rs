//! Paged PDF documents of text rows, drawn with `krilla`: DejaVu Sans (Latin, Greek, Cyrillic)
//! and Droid Sans Fallback (CJK) embedded and subset, both shipped in `client/fonts/` with their
//! licences. Deterministic: no dates or random ids are written, so the same rows give the same
//! bytes. Used by the quote document and by reports sent as PDF. A logo (PNG or JPEG, decoded by
//! krilla's own image loader) may head the first page.

use anyhow::Result;
use krilla::geom::{Point, Size, Transform};
use krilla::image::Image;
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
    /// A PNG or JPEG drawn at the top left of the first page, the rows below it.
    pub logo: Option<Vec<u8>>,
}

/// The largest box a logo is drawn in (points), its proportions kept.
const LOGO_BOX: (f32, f32) = (160.0, 60.0);

/// The image in `bytes` (PNG or JPEG, told by its first bytes).
fn image(bytes: &[u8]) -> Result<Image> {
    use crm_shared::schema::LogoFormat;
    let data = bytes.to_vec().into();
    match LogoFormat::sniff(bytes) {
        Some(LogoFormat::Png) => Image::from_png(data, true),
        Some(LogoFormat::Jpeg) => Image::from_jpeg(data, true),
        None => Err("it is neither a PNG nor a JPEG image".to_string()),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Draws the logo at the top left of a page; returns the height it takes.
fn draw_logo(surface: &mut Surface, logo: Image) -> f32 {
    let (w, h) = logo.size();
    let scale = (LOGO_BOX.0 / w.max(1) as f32).min(LOGO_BOX.1 / h.max(1) as f32);
    let (w, h) = (w as f32 * scale, h as f32 * scale);
    let Some(size) = Size::from_wh(w, h) else {
        return 0.0;
    };
    surface.push_transform(&Transform::from_translate(40.0, 30.0));
    surface.draw_image(logo, size);
    surface.pop();
    h
}

/// Checks that `bytes` are an image a document can show, by decoding it fully into a page:
/// `Err` says why not in words.
pub fn check_image(bytes: &[u8]) -> Result<()> {
    let logo = image(bytes)?;
    let mut document = Document::new();
    let Some(settings) = PageSettings::from_wh(200.0, 100.0) else {
        anyhow::bail!("cannot make a page");
    };
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    draw_logo(&mut surface, logo);
    surface.finish();
    page.finish();
    document
        .finish()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("it cannot be decoded as an image ({e})"))
}

/// Whether a character is drawn with the CJK font.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x2FFFF)
}

/// The width of `text` drawn in font `size`, in points: each character's advance in the font
/// it is drawn with (a character neither font has counts as 0.6 em).
pub fn text_width(text: &str, size: f32) -> f32 {
    use skrifa::instance::{LocationRef, Size};
    use skrifa::{FontRef, MetadataProvider};
    let (Ok(latin), Ok(cjk)) = (FontRef::new(LATIN), FontRef::new(CJK)) else {
        return text.chars().count() as f32 * 0.6 * size;
    };
    let (latin_map, cjk_map) = (latin.charmap(), cjk.charmap());
    let latin_metrics = latin.glyph_metrics(Size::new(size), LocationRef::default());
    let cjk_metrics = cjk.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars()
        .map(|c| {
            let (map, metrics) = if is_cjk(c) {
                (&cjk_map, &cjk_metrics)
            } else {
                (&latin_map, &latin_metrics)
            };
            map.map(c)
                .and_then(|g| metrics.advance_width(g))
                .unwrap_or(0.6 * size)
        })
        .sum()
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
    let (width, height, top, bottom): (f32, f32, f32, f32) = (595.0, 842.0, 50.0, 800.0);
    let mut rest = rows;
    let mut number = 1;
    while !rest.is_empty() || number == 1 {
        let Some(page_settings) = PageSettings::from_wh(width, height) else {
            anyhow::bail!("cannot make an A4 page");
        };
        let mut page = document.start_page_with(page_settings);
        let mut surface = page.surface();
        let mut y = top;
        if number == 1 {
            if let Some(logo) = &meta.logo {
                y = y.max(30.0 + draw_logo(&mut surface, image(logo)?) - 5.0);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 x 2 red PNG image.
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x04\0\0\0\x02\x08\x02\0\0\0\xf0\xca\xea4\0\0\0\x10IDATx\xdac8!\xa7\x01G\x0c\xc8\x1c\0r\xca\x08q\xcc\xecp\xd7\0\0\0\0IEND\xaeB`\x82";

    #[test]
    fn a_logo_is_kept_only_when_it_decodes_in_full() {
        assert!(check_image(PNG).is_ok());
        // The PNG signature and header with the image data cut off, and text.
        assert!(check_image(&PNG[..40]).is_err());
        assert!(check_image(b"not an image").is_err());
    }

    #[test]
    fn a_document_with_a_logo_is_the_same_bytes_each_time() {
        let meta = || Meta {
            title: "t".into(),
            keywords: vec![],
            footer: "f".into(),
            logo: Some(PNG.to_vec()),
        };
        let rows = [row(10.0, vec![(40.0, "Acme".into())])];
        let a = render(&rows, &meta()).unwrap();
        assert_eq!(a, render(&rows, &meta()).unwrap());
        let without = render(
            &rows,
            &Meta {
                logo: None,
                ..meta()
            },
        )
        .unwrap();
        assert!(a.len() > without.len(), "the logo is in the file");
    }
}
