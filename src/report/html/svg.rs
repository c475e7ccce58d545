//! The HTML report's pictures: the latency chart, the certificate timeline, the sparklines
//! and the pass-rate strip, as inline SVG.

use std::fmt::Write as _;

use super::*;
use crate::model::millis as ms;

/// Open an inline SVG picture with its accessible name.
pub(super) fn svg_open(s: &mut String, width: u64, height: u64, label: &str) {
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">",
        esc(label)
    );
}

/// Close a chart of one bar per check that drew the first `drawn` of `rows` checks, saying
/// how many it left out (the table has them all).
pub(super) fn close_bar_chart(s: &mut String, drawn: usize, rows: usize) {
    s.push_str("</svg>\n");
    if rows > drawn {
        let _ = writeln!(
            s,
            "<p class=\"note\">{} more checks are not drawn; the table has every check.</p>",
            rows - drawn
        );
    }
    s.push_str("</section>\n");
}

/// Each check's latency as a bar, with its warn and fail thresholds as ticks.
pub(super) fn latency_chart(s: &mut String, summary: &Summary) {
    let rows: Vec<&CheckResult> = ordered(summary)
        .into_iter()
        .filter(|r| r.attempts > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let shown = rows.get(..BARS_MAX.min(rows.len())).unwrap_or_default();
    let scale = shown
        .iter()
        .flat_map(|r| {
            [
                Some(ms(r.duration)),
                r.limits.warn_latency.map(ms),
                r.limits.fail_latency.map(ms),
            ]
        })
        .flatten()
        .max()
        .unwrap_or(1)
        .max(1);
    let (label_w, bar_w, row_h) = (230u64, 520u64, 22u64);
    let n = u64::try_from(shown.len()).unwrap_or(u64::MAX);
    s.push_str("<section aria-labelledby=\"h-latency\">\n<h2 id=\"h-latency\">Latency</h2>\n");
    s.push_str("<p class=\"note\">Each bar is a check's duration; the amber tick is its warn threshold, the red tick its fail threshold (where the kind has them).</p>\n");
    svg_open(
        s,
        label_w + bar_w + 90,
        n * row_h + 10,
        "Latency of each check against its warn and fail thresholds",
    );
    let x = |v: u64| label_w + v.saturating_mul(bar_w) / scale;
    for (i, r) in shown.iter().enumerate() {
        let y = u64::try_from(i).unwrap_or(0) * row_h + 5;
        let d = ms(r.duration);
        // `0.4 ms` under a millisecond, not `0 ms`.
        let shown_ms = crate::model::format_ms(r.duration);
        let _ = write!(
            s,
            "<g><title>{}: {}{}{}</title><text x=\"0\" y=\"{}\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            esc(&truncate_chars(&r.name, 200)),
            shown_ms,
            r.limits
                .warn_latency
                .map(|w| format!(", warn {} ms", ms(w)))
                .unwrap_or_default(),
            r.limits
                .fail_latency
                .map(|f| format!(", fail {} ms", ms(f)))
                .unwrap_or_default(),
            y + 12,
            esc(&truncate_chars(&r.name, LABEL_MAX)),
            y + 2,
            (x(d) - label_w).max(1),
            colour(r.status),
            x(d) + 4,
            y + 12,
            shown_ms
        );
        for (limit, c) in [
            (r.limits.warn_latency, "#8a5300"),
            (r.limits.fail_latency, "#b00020"),
        ] {
            if let Some(l) = limit {
                let _ = write!(
                    s,
                    "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{c}\" stroke-width=\"2\"/>",
                    x(ms(l)),
                    y,
                    y + 16
                );
            }
        }
        s.push_str("</g>");
    }
    close_bar_chart(s, shown.len(), rows.len());
}

/// Days left of a certificate the check saw (`days_left` of tls checks, `tls_days_left` of
/// https checks).
pub(super) fn days_left(r: &CheckResult) -> Option<i64> {
    ["days_left", "tls_days_left"]
        .iter()
        .find_map(|k| r.metadata.get(k)?.as_i64())
}

/// Every certificate's days left on one timeline, with the warn and fail lines.
pub(super) fn certificate_timeline(s: &mut String, summary: &Summary) {
    let mut certs: Vec<(&CheckResult, i64)> = summary
        .results
        .iter()
        .filter_map(|r| Some((r, days_left(r)?)))
        .collect();
    if certs.is_empty() {
        return;
    }
    certs.sort_by_key(|(_, d)| *d);
    let warn = certs.iter().filter_map(|(r, _)| r.limits.warn_days).max();
    let fail = certs.iter().filter_map(|(r, _)| r.limits.fail_days).max();
    let lo = certs.iter().map(|(_, d)| *d).min().unwrap_or(0).min(0);
    let hi = certs
        .iter()
        .map(|(_, d)| *d)
        .chain(warn)
        .max()
        .unwrap_or(1)
        .max(lo + 1);
    let (label_w, axis_w, row_h) = (230i64, 520i64, 20i64);
    let n = i64::try_from(certs.len().min(BARS_MAX)).unwrap_or(0);
    let height = n * row_h + 40;
    let x = |d: i64| label_w + (d - lo) * axis_w / (hi - lo);
    s.push_str("<section aria-labelledby=\"h-certs\">\n<h2 id=\"h-certs\">Certificates</h2>\n");
    s.push_str("<p class=\"note\">Days left of each certificate a check saw; the amber line is the warn threshold, the red line the fail threshold.</p>\n");
    svg_open(
        s,
        u64::try_from(label_w + axis_w + 80).unwrap_or(0),
        u64::try_from(height).unwrap_or(0),
        "Days left of each TLS certificate, with the warn and fail thresholds",
    );
    let axis_y = n * row_h + 10;
    let _ = write!(
        s,
        "<line x1=\"{label_w}\" x2=\"{}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#1a1a1a\"/><text x=\"{label_w}\" y=\"{}\">{lo} d</text><text x=\"{}\" y=\"{}\">{hi} d</text>",
        label_w + axis_w,
        axis_y + 16,
        label_w + axis_w - 30,
        axis_y + 16
    );
    for (limit, c, what) in [(warn, "#8a5300", "warn"), (fail, "#b00020", "fail")] {
        if let Some(l) = limit {
            let _ = write!(
                s,
                "<g><title>{what} at {l} days</title><line x1=\"{0}\" x2=\"{0}\" y1=\"0\" y2=\"{axis_y}\" stroke=\"{c}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/></g>",
                x(l)
            );
        }
    }
    for (i, (r, d)) in certs.iter().take(BARS_MAX).enumerate() {
        let y = i64::try_from(i).unwrap_or(0) * row_h + 14;
        let _ = write!(
            s,
            "<g><title>{}: {d} days left</title><text x=\"0\" y=\"{y}\">{}</text><circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\"/><text x=\"{}\" y=\"{y}\">{d}</text></g>",
            esc(&truncate_chars(&r.name, 200)),
            esc(&truncate_chars(&r.name, LABEL_MAX)),
            x(*d),
            y - 4,
            colour(r.status),
            x(*d) + 8
        );
    }
    s.push_str("</svg>\n</section>\n");
}

/// A check's latency over the history window, one dot per run coloured by its status.
pub(super) fn sparkline_svg(s: &mut String, h: &crate::model::CheckHistory) {
    let values = h
        .latencies_ms
        .get(h.latencies_ms.len().saturating_sub(crate::model::SPARK_MAX)..)
        .unwrap_or_default();
    let statuses = h
        .statuses
        .get(h.statuses.len().saturating_sub(crate::model::SPARK_MAX)..)
        .unwrap_or_default();
    let (w, ht) = (120u64, 24u64);
    let label = crate::model::trend_line(h);
    svg_open(s, w, ht, &format!("Latency trend: {label}"));
    let _ = write!(s, "<title>{}</title>", esc(&label));
    let max = values.iter().copied().max().unwrap_or(1).max(1);
    let n = u64::try_from(values.len()).unwrap_or(1);
    let step = if n > 1 { (w - 8) / (n - 1) } else { 0 };
    let point = |i: usize, v: u64| {
        let px = 4 + u64::try_from(i).unwrap_or(0) * step;
        let py = ht - 4 - v.saturating_mul(ht - 8) / max;
        (px, py)
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (px, py) = point(i, *v);
            format!("{px},{py}")
        })
        .collect();
    if points.len() > 1 {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#4a4a4a\" stroke-width=\"1.5\"/>",
            points.join(" ")
        );
    }
    for (i, (v, st)) in values.iter().zip(statuses).enumerate() {
        let (px, py) = point(i, *v);
        let _ = write!(
            s,
            "<circle cx=\"{px}\" cy=\"{py}\" r=\"2.5\" fill=\"{}\"/>",
            colour(*st)
        );
    }
    s.push_str("</svg>");
}

/// One bar per run of the window: its share of passing checks.
pub(super) fn pass_rate_strip(s: &mut String, h: &crate::model::HistorySummary) {
    if h.runs.is_empty() {
        return;
    }
    let (bar, gap, ht) = (14u64, 3u64, 40u64);
    let n = u64::try_from(h.runs.len()).unwrap_or(0);
    s.push_str("<section aria-labelledby=\"h-passrate\">\n<h2 id=\"h-passrate\">Pass rate</h2>\n");
    let _ = writeln!(
        s,
        "<p class=\"note\">The last {} runs of this environment (of at most {}), oldest first: the share of checks that passed.</p>",
        h.runs.len(),
        h.keep
    );
    svg_open(
        s,
        n * (bar + gap) + gap,
        ht,
        "Share of passing checks per run, oldest first",
    );
    for (i, run) in h.runs.iter().enumerate() {
        let total = u64::try_from(run.total).unwrap_or(0);
        let passed = u64::try_from(run.passed).unwrap_or(0);
        let filled = (passed * ht).checked_div(total).unwrap_or(0);
        let c = if total > 0 && passed == total {
            "#1b6e2a"
        } else if total > 0 && passed * 5 >= total * 4 {
            "#8a5300"
        } else {
            "#b00020"
        };
        let xpos = gap + u64::try_from(i).unwrap_or(0) * (bar + gap);
        let _ = write!(
            s,
            "<g><title>{}: {passed} of {total} passed</title><rect x=\"{xpos}\" y=\"0\" width=\"{bar}\" height=\"{ht}\" fill=\"#e6e6e6\"/><rect x=\"{xpos}\" y=\"{}\" width=\"{bar}\" height=\"{filled}\" fill=\"{c}\"/></g>",
            esc(&run.started_at),
            ht - filled
        );
    }
    s.push_str("</svg>\n</section>\n");
}
