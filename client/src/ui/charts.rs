//! Bar charts as inline SVG, drawn on the server: no chart script, nothing fetched.

use maud::{html, Markup, PreEscaped};

/// One bar: its label, its value (drawn to scale) and the text shown beside it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

const WIDTH: f64 = 640.0;
const LABEL: f64 = 130.0;
const ROW: f64 = 26.0;

/// A horizontal bar chart titled `title` (also its accessible name).
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let room = WIDTH - LABEL - 150.0;
    let height = ROW * bars.len().max(1) as f64 + 10.0;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
            viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height) {
            title { (title) }
            line.axis x1=(LABEL) y1="0" x2=(LABEL) y2=(height) {}
            @for (i, b) in bars.iter().enumerate() {
                @let y = 5.0 + i as f64 * ROW;
                @let w = if max > 0.0 { (b.value.max(0.0) / max * room).max(1.0) } else { 1.0 };
                text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" { (b.label) }
                rect class=(format!("bar {}", b.label)) x=(LABEL) y=(y + 2.0) width=(format!("{w:.1}")) height=(ROW - 8.0) {}
                text x=(format!("{:.1}", LABEL + w + 6.0)) y=(y + 15.0) { (b.text) }
            }
            @if bars.is_empty() {
                text x=(LABEL + 6.0) y="20" { (PreEscaped("Nothing to show")) }
            }
        }
    }
}
