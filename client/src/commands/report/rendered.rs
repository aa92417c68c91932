//! A report rendered for e-mail (`crm schedule`): its CSV exactly as `crm report ... --csv`
//! prints it, a plain-text table and an HTML table, from the same rows, and a PDF of them
//! when asked (`printed.rs`).

use super::printed::{self, Heading};
use super::{csv_field, Batch, Cell, Report};
use crate::cli::ReportArgs;
use crate::commands::Ctx;
use crate::output;
use crate::store::Store;
use anyhow::Result;

/// One report in the forms an e-mail carries.
pub struct Rendered {
    pub title: String,
    /// What `crm report ... --csv` prints, byte for byte.
    pub csv: String,
    pub text: String,
    pub html: String,
    report: Report,
}

impl Rendered {
    /// The same rows as a PDF, headed by `heading`.
    pub fn pdf(&self, heading: &Heading) -> Result<Vec<u8>> {
        printed::pdf(&self.report, heading)
    }

    /// The moment the figures describe: the report's `--as-of`, or now.
    pub fn as_of(&self, ctx: &Ctx) -> String {
        self.report.as_of.clone().unwrap_or_else(|| {
            format!(
                "{} {}",
                ctx.now_local.format("%Y-%m-%d %H:%M"),
                crate::commands::schedule::due::local_zone()
            )
        })
    }
}

/// Renders the report `a` asks for from `store`, now (or as of its `--as-of`).
pub fn render(ctx: &Ctx, store: &Store, a: &ReportArgs) -> Result<Rendered> {
    let (report, _) = Batch::new(store).build(ctx, a)?;
    Ok(Rendered {
        title: report.title.clone(),
        csv: csv_text(&report),
        text: text(&report),
        html: html(&report),
        report,
    })
}

/// The report as comma-separated values: a header line, then one line per row.
pub(super) fn csv_text(r: &Report) -> String {
    let mut out = String::new();
    let header: Vec<&str> = r.columns.iter().map(|(k, _)| *k).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &r.rows {
        let cells: Vec<String> = row.iter().map(|c| csv_field(&c.text())).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn text(r: &Report) -> String {
    let header: Vec<&str> = r.columns.iter().map(|(_, h)| *h).collect();
    let mut t = output::table(&header);
    for row in &r.rows {
        t.add_row(row.iter().map(Cell::text).collect::<Vec<_>>());
    }
    let mut out = format!("{}\n\n", r.title);
    if r.rows.is_empty() {
        out.push_str("Nothing to report.\n");
    } else {
        out.push_str(&format!("{t}\n"));
    }
    for line in r.notes.iter().chain(&r.warnings) {
        out.push_str(&format!("{line}\n"));
    }
    out
}

fn html(r: &Report) -> String {
    let numeric = |c: &Cell| !matches!(c, Cell::Text(_));
    maud::html! {
        html {
            body style="font-family: sans-serif" {
                h2 { (r.title) }
                @if r.rows.is_empty() {
                    p { "Nothing to report." }
                } @else {
                    table style="border-collapse: collapse" {
                        tr {
                            @for (_, h) in &r.columns {
                                th style="text-align: left; padding: 2px 8px; border-bottom: 1px solid #999" { (h) }
                            }
                        }
                        @for row in &r.rows {
                            tr {
                                @for c in row {
                                    td style=(if numeric(c) { "text-align: right; padding: 2px 8px" } else { "padding: 2px 8px" }) { (c.text()) }
                                }
                            }
                        }
                    }
                }
                @for line in r.notes.iter().chain(&r.warnings) {
                    p { (line) }
                }
            }
        }
    }
    .into_string()
}
