//! A report as a PDF (`crm report ... --pdf`, schedules sent `--format pdf`): a title line (the
//! report, its moment, whose data it shows), the same table as `--csv` with its columns laid
//! out to fit an A4 page (amounts right-aligned, long tables on as many pages as they need, the
//! header on each),
//! its notes, and a footer. Drawn by `crate::pdf`: the same data at the same moment gives the
//! same bytes.

use super::{Cell, Report};
use crate::pdf::{self, row, text_width, Meta, Row};
use anyhow::Result;

/// The width the table may take, in points (A4 less the margins).
const WIDTH: f32 = 515.0;
const LEFT: f32 = 40.0;
/// Space between two columns.
const GAP: f32 = 12.0;
/// The table's font size, and the smallest it shrinks to so that wide tables fit.
const SIZE: f32 = 9.0;
const MIN_SIZE: f32 = 6.0;

/// Who and when a printed report is for.
pub struct Heading {
    /// The moment the figures describe, in words (e.g. `2026-12-07 08:00 UTC`).
    pub as_of: String,
    /// The user whose data the report shows.
    pub owner: String,
    /// What made it, for the footer (e.g. `crm report pipeline --by owner`).
    pub source: String,
}

/// `text` cut to fit `width` points at `size`, with an ellipsis when cut.
fn fit(text: &str, width: f32, size: f32) -> String {
    if text_width(text, size) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

/// The table's rows, its header first: column widths from the widest cell of each, scaled to
/// fit [`WIDTH`].
fn table(r: &Report) -> Vec<Row> {
    let header: Vec<String> = r.columns.iter().map(|(_, h)| h.to_string()).collect();
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| row.iter().map(Cell::text).collect())
        .collect();
    let numeric: Vec<bool> = (0..header.len())
        .map(|i| r.rows.iter().any(|row| !matches!(row[i], Cell::Text(_))))
        .collect();
    let natural: Vec<f32> = (0..header.len())
        .map(|i| {
            std::iter::once(&header[i])
                .chain(cells.iter().map(|row| &row[i]))
                .map(|t| text_width(t, SIZE))
                .fold(0.0, f32::max)
                + GAP
        })
        .collect();
    let total: f32 = natural.iter().sum();
    let scale = if total > WIDTH { WIDTH / total } else { 1.0 };
    let size = (SIZE * scale).max(MIN_SIZE);
    // Below the smallest size, each column gets its share of the page and long texts are cut.
    let share = if total * size / SIZE > WIDTH {
        WIDTH / (total * size / SIZE)
    } else {
        1.0
    };
    let widths: Vec<f32> = natural.iter().map(|w| w * size / SIZE * share).collect();
    let line = |texts: &[String]| {
        let mut x = LEFT;
        let mut out = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let room = widths[i] - GAP * size / SIZE;
            let text = fit(text, room.max(size), size);
            let at = if numeric[i] {
                x + room - text_width(&text, size)
            } else {
                x
            };
            out.push((at, text));
            x += widths[i];
        }
        row(size, out)
    };
    let mut rows = vec![line(&header)];
    rows.extend(cells.iter().map(|c| line(c)));
    rows
}

/// The PDF bytes of report `r`.
pub fn pdf(r: &Report, h: &Heading) -> Result<Vec<u8>> {
    let mut rows = vec![
        row(14.0, vec![(LEFT, r.title.clone())]),
        row(
            9.0,
            vec![(LEFT, format!("As of {}, as {} sees it", h.as_of, h.owner))],
        ),
        row(9.0, vec![]),
    ];
    let mut header = Vec::new();
    if r.rows.is_empty() {
        rows.push(row(SIZE, vec![(LEFT, "Nothing to report.".into())]));
    } else {
        let mut table = table(r).into_iter();
        // The header again at the top of each further page.
        if let Some(first) = table.next() {
            header.push(row(first.size, first.cells.clone()));
            rows.push(first);
        }
        rows.extend(table);
    }
    let notes: Vec<&String> = r.notes.iter().chain(&r.warnings).collect();
    if !notes.is_empty() {
        rows.push(row(SIZE, vec![]));
    }
    for n in notes {
        rows.push(row(8.0, vec![(LEFT, n.clone())]));
    }
    pdf::render_with_header(
        &rows,
        &header,
        &Meta {
            title: r.title.clone(),
            keywords: Vec::new(),
            footer: format!("{}, as of {} ({})", h.source, h.as_of, h.owner),
            logo: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdftotext(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.pdf");
        std::fs::write(&file, bytes).unwrap();
        let out = std::process::Command::new("pdftotext")
            .args(["-layout", file.to_str().unwrap(), "-"])
            .output()
            .expect("pdftotext (poppler-utils) is installed");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_long_table_goes_on_as_many_pages_as_it_needs_with_every_row_once() {
        let r = Report {
            title: "Pipeline by owner, now".into(),
            as_of: None,
            columns: vec![("owner", "OWNER"), ("cases", "OPEN CASES")],
            rows: (0..150)
                .map(|i| vec![Cell::Text(format!("rep{i:03}")), Cell::Int(i)])
                .collect(),
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let h = Heading {
            as_of: "2026-12-07 08:00 UTC".into(),
            owner: "mia".into(),
            source: "crm report pipeline".into(),
        };
        let bytes = pdf(&r, &h).unwrap();
        assert_eq!(bytes, pdf(&r, &h).unwrap(), "deterministic");
        let text = pdftotext(&bytes);
        assert!(
            text.contains("page 3") && !text.contains("page 4"),
            "{text}"
        );
        assert_eq!(
            text.matches("OPEN CASES").count(),
            3,
            "a header on each page"
        );
        for i in 0..150 {
            let line = format!("rep{i:03} {i}");
            let n = text
                .lines()
                .filter(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == line)
                .count();
            assert_eq!(n, 1, "{line}");
        }
    }

    #[test]
    fn a_long_text_is_cut_to_its_column_with_an_ellipsis_and_a_short_one_is_kept() {
        assert_eq!(fit("Acme", 100.0, 9.0), "Acme");
        let cut = fit("A very long organization name indeed", 60.0, 9.0);
        assert!(cut.ends_with('…') && text_width(&cut, 9.0) <= 60.0, "{cut}");
    }
}
