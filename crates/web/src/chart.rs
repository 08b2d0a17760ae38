//! Bar charts as inline SVG: shapes by attribute only (no `style`, no script), so they work
//! under the pages' Content-Security-Policy and print as they show.

use std::fmt::Write;

use crate::html::escape;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 160;
/// Room under the bars for the labels.
const LABEL_ROOM: u32 = 18;

/// One bar: its label under it (shown every `label_every` bars) and its value.
pub(crate) struct Bar {
    pub(crate) label: String,
    /// The full description in the bar's tooltip, e.g. "2026-12-07 05:00 UTC".
    pub(crate) title: String,
    pub(crate) value: i64,
}

/// An SVG bar chart of `bars`, scaled to the largest value; `id` names it for the page.
pub(crate) fn bars(id: &str, caption: &str, bars: &[Bar], label_every: usize) -> String {
    let highest = bars.iter().map(|b| b.value).max().unwrap_or(0);
    // The scale's top: 1 when every bar is 0, so nothing divides by zero.
    let max = highest.max(1);
    let count = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
    let slot = WIDTH / count;
    let bar_width = slot.saturating_sub(2).max(1);
    let plot = HEIGHT - LABEL_ROOM;
    let mut out = format!(
        "<figure><svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape(caption)
    );
    for (i, bar) in bars.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let scaled = u64::try_from(bar.value.max(0)).unwrap_or(0) * u64::from(plot) / max as u64;
        let height = u32::try_from(scaled).unwrap_or(plot);
        let x = i * slot;
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{bar_width}\" height=\"{height}\" data-value=\"{}\"><title>{}: {}</title></rect>",
            plot - height,
            bar.value,
            escape(&bar.title),
            bar.value
        );
        if label_every > 0 && (i as usize).is_multiple_of(label_every) {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{}\" class=\"label\">{}</text>",
                HEIGHT - 4,
                escape(&bar.label)
            );
        }
    }
    let _ = write!(
        out,
        "</svg><figcaption>{} (highest: {highest})</figcaption></figure>",
        escape(caption)
    );
    out
}
