//! Bar charts as inline SVG, drawn on the server: no chart script, nothing fetched.

use maud::{html, Markup, PreEscaped};

/// One bar: its label, its value (drawn to scale) and the text shown beside it; `part` of the
/// value (e.g. the cases lost at a stage) is drawn in a second colour at the bar's end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
    pub part: f64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64, text: impl Into<String>) -> Bar {
        Bar {
            label: label.into(),
            value,
            text: text.into(),
            part: 0.0,
        }
    }
}

const WIDTH: f64 = 640.0;
const LABEL: f64 = 130.0;
const ROW: f64 = 26.0;

/// A horizontal bar chart titled `title` (also its accessible name).
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    chart(title, bars, None)
}

/// A bar chart with a vertical line at `threshold` (e.g. a minimum each bar should reach),
/// named by `label`; bars short of it are drawn as `short`.
pub fn bars_against(title: &str, bars: &[Bar], threshold: f64, label: &str) -> Markup {
    chart(title, bars, Some((threshold, label)))
}

fn chart(title: &str, bars: &[Bar], threshold: Option<(f64, &str)>) -> Markup {
    let max = bars
        .iter()
        .map(|b| b.value)
        .chain(threshold.map(|t| t.0))
        .fold(0.0_f64, f64::max);
    let room = WIDTH - LABEL - 150.0;
    let scale = |v: f64| {
        if max > 0.0 {
            v.max(0.0) / max * room
        } else {
            0.0
        }
    };
    let top = if threshold.is_some() { 16.0 } else { 0.0 };
    let height = top + ROW * bars.len().max(1) as f64 + 10.0;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(title)
            viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height) {
            title { (title) }
            line.axis x1=(LABEL) y1=(top) x2=(LABEL) y2=(height) {}
            @for (i, b) in bars.iter().enumerate() {
                @let y = top + 5.0 + i as f64 * ROW;
                @let w = scale(b.value).max(1.0);
                @let part = scale(b.part.min(b.value));
                @let short = threshold.is_some_and(|t| b.value < t.0);
                text x=(LABEL - 6.0) y=(y + 15.0) text-anchor="end" { (b.label) }
                rect class=(format!("bar {}{}", b.label, if short { " short" } else { "" })) x=(LABEL) y=(y + 2.0) width=(format!("{w:.1}")) height=(ROW - 8.0) {}
                @if part > 0.0 {
                    rect.part x=(format!("{:.1}", LABEL + w - part)) y=(y + 2.0) width=(format!("{part:.1}")) height=(ROW - 8.0) {}
                }
                text x=(format!("{:.1}", LABEL + w + 6.0)) y=(y + 15.0) { (b.text) }
            }
            @if let Some((t, label)) = threshold {
                @let x = LABEL + scale(t);
                line.threshold x1=(format!("{x:.1}")) y1=(top - 2.0) x2=(format!("{x:.1}")) y2=(height) {}
                text.threshold x=(format!("{x:.1}")) y="11" text-anchor="middle" { (label) }
            }
            @if bars.is_empty() {
                text x=(LABEL + 6.0) y=(top + 20.0) { (PreEscaped("Nothing to show")) }
            }
        }
    }
}
