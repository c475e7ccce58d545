//! The HTML report's phase chart: one stacked bar per check that timed phases (`dns`,
//! `connect`, `tls`, `ttfb`…), each phase a colour of the legend above the bars, the rest of
//! the check's time (what no phase covers) in grey.

use std::fmt::Write as _;

use super::*;
use crate::model::{PhaseName, format_ms};

/// The colour of each phase (the legend's order is [`PhaseName::ALL`]).
fn phase_colour(p: PhaseName) -> &'static str {
    match p {
        PhaseName::Dns => "#6a3d9a",
        PhaseName::Connect => "#1f78b4",
        PhaseName::Tls | PhaseName::Handshake => "#33a02c",
        PhaseName::Banner | PhaseName::Auth => "#b15928",
        PhaseName::Ttfb | PhaseName::Rpc | PhaseName::Request => "#e31a1c",
        PhaseName::Transfer | PhaseName::Query | PhaseName::Run => "#ff7f00",
    }
}

/// Grey: the part of a check's time outside its phases.
const REST: &str = "#bbbbbb";

/// Each check's phases as one stacked bar, on one scale, with a legend.
pub(super) fn phase_chart(s: &mut String, summary: &Summary) {
    let rows: Vec<&CheckResult> = ordered(summary)
        .into_iter()
        .filter(|r| !r.phases.is_empty())
        .collect();
    if rows.is_empty() {
        return;
    }
    let shown = rows.get(..BARS_MAX.min(rows.len())).unwrap_or_default();
    let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let scale = shown
        .iter()
        .map(|r| us(r.duration).max(us(r.phases.sum())))
        .max()
        .unwrap_or(1)
        .max(1);
    let present: Vec<PhaseName> = PhaseName::ALL
        .iter()
        .copied()
        .filter(|p| shown.iter().any(|r| r.phases.get(*p).is_some()))
        .collect();
    let (label_w, bar_w, row_h, legend_h) = (230u64, 520u64, 22u64, 24u64);
    let n = u64::try_from(shown.len()).unwrap_or(u64::MAX);
    s.push_str("<section aria-labelledby=\"h-phases\">\n<h2 id=\"h-phases\">Phases</h2>\n");
    s.push_str("<p class=\"note\">Where each check's time went: one segment per timed phase, in the order they happened; grey is the rest of the check's time.</p>\n");
    super::svg::svg_open(
        s,
        label_w + bar_w + 90,
        n * row_h + legend_h + 10,
        "Phases of each check",
    );
    // The legend: one swatch per phase drawn below, then the rest.
    let mut x = 0u64;
    let legend = present
        .iter()
        .map(|p| (p.as_str(), phase_colour(*p)))
        .chain([("other", REST)]);
    for (name, colour) in legend {
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"15\">{name}</text>",
            x + 16
        );
        x += 24 + 8 * u64::try_from(name.len()).unwrap_or(8);
    }
    let width = |d: u64| d.saturating_mul(bar_w) / scale;
    for (i, r) in shown.iter().enumerate() {
        let y = u64::try_from(i).unwrap_or(0) * row_h + legend_h + 5;
        let title: Vec<String> = r
            .phases
            .iter()
            .map(|(p, d)| format!("{} {}", p.as_str(), format_ms(d)))
            .collect();
        let _ = write!(
            s,
            "<g><title>{}: {} ({})</title><text x=\"0\" y=\"{}\">{}</text>",
            esc(&truncate_chars(&r.name, 200)),
            title.join(", "),
            format_ms(r.duration),
            y + 12,
            esc(&truncate_chars(&r.name, LABEL_MAX)),
        );
        let mut at = label_w;
        for (p, d) in r.phases.iter() {
            let w = width(us(d));
            let _ = write!(
                s,
                "<rect x=\"{at}\" y=\"{}\" width=\"{w}\" height=\"12\" fill=\"{}\"/>",
                y + 2,
                phase_colour(p)
            );
            at += w;
        }
        let rest = width(us(r.duration.saturating_sub(r.phases.sum())));
        let _ = write!(
            s,
            "<rect x=\"{at}\" y=\"{}\" width=\"{rest}\" height=\"12\" fill=\"{REST}\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            y + 2,
            at + rest + 4,
            y + 12,
            format_ms(r.duration)
        );
    }
    super::svg::close_bar_chart(s, shown.len(), rows.len());
}
