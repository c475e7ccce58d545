//! The HTML report (`--html PATH`): one self-contained HTML5 file (WHATWG HTML Living
//! Standard, <https://html.spec.whatwg.org/>) with its style and script inline and nothing
//! fetched: it opens from disk, from a CI artifact, and under a strict Content Security Policy
//! (CSP Level 3, <https://www.w3.org/TR/CSP3/>) whose `sha256-` hashes allow exactly the two
//! inline blocks.
//!
//! Every piece of untrusted text (names, targets, messages, bodies, metadata, the commit) is
//! escaped; no untrusted text ever reaches the script or the style. Pictures are inline SVG:
//! latency against thresholds, certificate days left, and with `--history` a sparkline per
//! check and a pass-rate strip.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::Digest as _;

use super::markdown::html as esc;
use super::{Context, RenderError, Reporter, body_excerpt, truncate_chars};
use crate::model::{CheckResult, Status, Summary};

/// Longest message or excerpt shown in a details row, in characters.
const DETAIL_MAX: usize = 8000;
/// Longest name shown as a label in a picture, in characters.
const LABEL_MAX: usize = 32;
/// Most rows in the latency picture (failures first, like the table).
const BARS_MAX: usize = 300;

/// The HTML reporter.
#[derive(Debug, Clone, Default)]
pub struct Html {
    /// The commit of the config, from the CI (`GITHUB_SHA`, `CI_COMMIT_SHA`), when known.
    pub commit: Option<String>,
}

impl Reporter for Html {
    fn describe(&self) -> &'static str {
        "HTML report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(render(cx.summary, self.commit.as_deref()).into_bytes())
    }
}

const STYLE: &str = r#"
:root{--fg:#1a1a1a;--muted:#4a4a4a;--bg:#fff;--line:#d0d0d0;--pass:#1b6e2a;--warn:#8a5300;--fail:#b00020;--skip:#5f6368;--waived:#1a5e8a}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.4rem;margin:0 0 .5rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.verdict{display:inline-block;padding:.15rem .6rem;border-radius:4px;color:#fff;font-weight:700}
.v-passed{background:var(--pass)}.v-warned{background:var(--warn)}.v-failed{background:var(--fail)}
.badge{display:inline-block;min-width:4.5em;text-align:center;padding:.1rem .4rem;border-radius:4px;color:#fff;font-weight:700;font-size:.85rem}
.b-pass{background:var(--pass)}.b-warn{background:var(--warn)}.b-fail{background:var(--fail)}.b-skip{background:var(--skip)}.b-waived{background:var(--waived)}
.controls{display:none;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
.js .controls{display:flex}
.controls button{font:inherit;padding:.3rem .7rem;border:1px solid var(--muted);border-radius:4px;background:#fff;color:var(--fg);cursor:pointer}
.controls button[aria-pressed=true]{background:var(--fg);color:#fff}
.controls input{font:inherit;padding:.3rem .5rem;border:1px solid var(--muted);border-radius:4px;min-width:12rem}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid var(--line)}
thead th{border-bottom:2px solid var(--fg)}
tbody.check>tr.row>th{font-weight:600;overflow-wrap:anywhere}
td.num{text-align:right;white-space:nowrap}
tr.more>td{border-bottom:1px solid var(--fg);padding-top:0}
details>summary{cursor:pointer;color:var(--muted)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5rem;margin:.3rem 0;max-height:24rem;overflow:auto}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.3rem 0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;overflow-wrap:anywhere}
svg{max-width:100%;height:auto;font:12px system-ui,sans-serif}
svg text{fill:#1a1a1a}
.note{color:var(--muted)}
@media (max-width:640px){body{padding:.5rem;font-size:14px}th.opt,td.opt{display:none}dl.facts{grid-template-columns:1fr}}
@media print{.controls,#shown{display:none!important}tbody.check{break-inside:avoid}tbody.check[hidden]{display:table-row-group!important}details{display:block}body{padding:0}a{color:inherit}}
"#;

const SCRIPT: &str = r#"
(function(){
"use strict";
document.documentElement.className+=" js";
var q=document.getElementById("q");
var shown=document.getElementById("shown");
var groups=document.querySelectorAll("tbody.check");
var buttons=document.querySelectorAll("button[data-filter]");
var state="all";
function apply(){
var term=q.value.toLowerCase();
var n=0;
for(var i=0;i<groups.length;i++){
var g=groups[i];
var ok=(state==="all"||g.getAttribute("data-status")===state)&&(term===""||g.textContent.toLowerCase().indexOf(term)!==-1);
g.hidden=!ok;
if(ok){n++;}
}
shown.textContent=n+" of "+groups.length+" checks shown";
}
for(var i=0;i<buttons.length;i++){
buttons[i].addEventListener("click",function(ev){
state=ev.currentTarget.getAttribute("data-filter");
for(var j=0;j<buttons.length;j++){buttons[j].setAttribute("aria-pressed",buttons[j]===ev.currentTarget?"true":"false");}
apply();
});
}
q.addEventListener("input",apply);
apply();
})();
"#;

/// `'sha256-…'` of an inline block, as CSP compares it (the exact text between the tags).
fn csp_hash(block: &str) -> String {
    let digest = sha2::Sha256::digest(block.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The policy the document carries.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

fn class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
        Status::Skip => "skip",
        Status::Waived => "waived",
    }
}

fn colour(status: Status) -> &'static str {
    match status {
        Status::Pass => "#1b6e2a",
        Status::Warn => "#8a5300",
        Status::Fail => "#b00020",
        Status::Skip => "#5f6368",
        Status::Waived => "#1a5e8a",
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Failures first (FAIL, SKIP, WARN, WAIVED, PASS), config order within each.
fn ordered(summary: &Summary) -> Vec<&CheckResult> {
    let mut rows: Vec<&CheckResult> = summary.results.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.status.severity()));
    rows
}

/// Render the document.
pub fn render(summary: &Summary, commit: Option<&str>) -> String {
    let c = summary.counts();
    let verdict = super::verdict(summary);
    let verdict_text = match verdict {
        "passed" => "PASSED",
        "warned" => "PASSED with warnings",
        _ => "FAILED",
    };
    let mut s = String::with_capacity(16 * 1024 + summary.results.len() * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        s,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        content_security_policy()
    );
    let _ = writeln!(
        s,
        "<title>infracheck · {} · {verdict_text}</title>",
        esc(&summary.environment)
    );
    let _ = writeln!(s, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        s,
        "<header>\n<h1>infracheck · {}</h1>",
        esc(&summary.environment)
    );
    s.push_str("<dl class=\"facts\">\n");
    let fact = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{v}</dd>");
    };
    fact(&mut s, "Environment", &esc(&summary.environment));
    fact(
        &mut s,
        "Verdict",
        &format!("<span class=\"verdict v-{verdict}\">{verdict_text}</span>"),
    );
    fact(
        &mut s,
        "Checks",
        &format!(
            "{} passed, {} warned, {} failed,{} {} total",
            c.pass,
            c.warn,
            c.fail,
            super::text::extra_counts(c),
            c.total
        ),
    );
    fact(
        &mut s,
        "Duration",
        &format!("{:.2}s", summary.duration.as_secs_f64()),
    );
    fact(
        &mut s,
        "Started",
        &esc(&summary
            .started_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()),
    );
    fact(&mut s, "Version", &esc(crate::cli::VERSION));
    fact(&mut s, "Config", &esc(&summary.config_path));
    if let Some(commit) = commit {
        fact(&mut s, "Commit", &esc(&truncate_chars(commit, 80)));
    }
    if let Some(i) = summary.interrupted {
        let why = match i {
            crate::model::Interruption::Deadline => "deadline reached",
            crate::model::Interruption::Sigint => "interrupted (SIGINT)",
            crate::model::Interruption::Sigterm => "terminated (SIGTERM)",
        };
        fact(&mut s, "Stopped", why);
    }
    if let Some(b) = &summary.baseline {
        fact(
            &mut s,
            "Since baseline",
            &esc(&crate::model::baseline_line(b)),
        );
    }
    if let Some(g) = &summary.gate {
        fact(&mut s, "Deploy gate", &esc(&crate::model::gate_line(g)));
    }
    s.push_str("</dl>\n");
    if let Some(h) = &summary.history {
        pass_rate_strip(&mut s, h);
    }
    s.push_str("</header>\n<main>\n");
    table(&mut s, summary);
    latency_chart(&mut s, summary);
    certificate_timeline(&mut s, summary);
    s.push_str("</main>\n");
    let _ = writeln!(s, "<script>{SCRIPT}</script>\n</body>\n</html>");
    s
}

fn table(s: &mut String, summary: &Summary) {
    let rows = ordered(summary);
    let trends = summary.history.is_some();
    s.push_str("<section aria-labelledby=\"h-checks\">\n<h2 id=\"h-checks\">Checks</h2>\n");
    s.push_str("<div class=\"controls\" role=\"group\" aria-label=\"Filter checks\">\n");
    let _ = writeln!(
        s,
        "<button type=\"button\" data-filter=\"all\" aria-pressed=\"true\">All ({})</button>",
        rows.len()
    );
    for st in [
        Status::Fail,
        Status::Skip,
        Status::Warn,
        Status::Waived,
        Status::Pass,
    ] {
        let n = rows.iter().filter(|r| r.status == st).count();
        let _ = writeln!(
            s,
            "<button type=\"button\" data-filter=\"{0}\" aria-pressed=\"false\">{0} ({n})</button>",
            st.as_str()
        );
    }
    s.push_str("<label for=\"q\">Search</label> <input id=\"q\" type=\"search\" autocomplete=\"off\">\n</div>\n");
    let _ = writeln!(
        s,
        "<p id=\"shown\" class=\"note\" aria-live=\"polite\">{0} of {0} checks shown</p>",
        rows.len()
    );
    s.push_str("<div class=\"table-wrap\">\n<table id=\"checks\">\n<caption class=\"note\">Every check, failures first; open a row's details for the excerpt, metadata and where it is defined.</caption>\n<thead>\n<tr><th scope=\"col\">Status</th><th scope=\"col\">Check</th><th scope=\"col\">Kind</th><th scope=\"col\" class=\"opt\">Target</th><th scope=\"col\">Duration</th>");
    if trends {
        s.push_str("<th scope=\"col\" class=\"opt\">Trend</th>");
    }
    s.push_str("<th scope=\"col\">Reason</th><th scope=\"col\">Message</th></tr>\n</thead>\n");
    let columns = if trends { 8 } else { 7 };
    for r in rows {
        let _ = writeln!(
            s,
            "<tbody class=\"check\" data-status=\"{}\">",
            r.status.as_str()
        );
        let _ = write!(
            s,
            "<tr class=\"row\"><td><span class=\"badge b-{}\">{}</span></td><th scope=\"row\">{}</th><td>{}</td><td class=\"opt\">{}</td><td class=\"num\">{} ms</td>",
            class(r.status),
            r.status.as_str(),
            esc(&r.name),
            esc(r.kind),
            esc(&truncate_chars(&r.target, 300)),
            ms(r.duration)
        );
        if trends {
            s.push_str("<td class=\"opt\">");
            if let Some(h) = &r.history {
                sparkline_svg(s, h);
            }
            s.push_str("</td>");
        }
        let _ = writeln!(
            s,
            "<td>{}</td><td>{}</td></tr>",
            r.reason.map(|x| x.code()).unwrap_or(""),
            esc(&truncate_chars(&r.message, 300))
        );
        let _ = writeln!(
            s,
            "<tr class=\"more\"><td colspan=\"{columns}\"><details><summary>Details of {}</summary>",
            esc(&truncate_chars(&r.name, 120))
        );
        details(s, r);
        s.push_str("</details></td></tr>\n</tbody>\n");
    }
    s.push_str("</table>\n</div>\n</section>\n");
}

fn details(s: &mut String, r: &CheckResult) {
    s.push_str("<dl class=\"meta\">\n");
    let item = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), v);
    };
    item(
        s,
        "defined at",
        &esc(&format!("{}:{}", r.location.file, r.location.line)),
    );
    item(s, "target", &esc(&r.target));
    if let Some(reason) = r.reason {
        item(
            s,
            "reason",
            &format!("{} — {}", reason.code(), esc(reason.short_description())),
        );
    }
    item(
        s,
        "attempts",
        &format!(
            "{}{}",
            r.attempts,
            if r.flaky {
                " (flaky: passed after a failed attempt)"
            } else {
                ""
            }
        ),
    );
    for a in &r.failed_attempts {
        item(
            s,
            "earlier attempt",
            &format!(
                "{} — {} ({} ms)",
                a.reason.code(),
                esc(&truncate_chars(&a.message, 300)),
                ms(a.duration)
            ),
        );
    }
    if let Some(c) = &r.baseline {
        let note = crate::model::change_note(c, r.duration);
        if !note.is_empty() {
            item(s, "since baseline", &esc(&note));
        }
    }
    if let Some(g) = &r.gate {
        item(s, "deploy gate", &esc(&crate::model::gate_note(g)));
    }
    if let Some(h) = &r.history {
        item(s, "history", &esc(&crate::model::trend_line(h)));
    }
    for (k, v) in &r.metadata {
        if k == "body_excerpt" {
            continue;
        }
        let text = match v {
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        item(s, k, &esc(&truncate_chars(&text, 500)));
    }
    s.push_str("</dl>\n");
    if !r.message.is_empty() {
        let _ = writeln!(
            s,
            "<pre>{}</pre>",
            esc(&truncate_chars(&r.message, DETAIL_MAX))
        );
    }
    if let Some(excerpt) = body_excerpt(r) {
        let _ = writeln!(
            s,
            "<p>Response body (excerpt):</p>\n<pre>{}</pre>",
            esc(&truncate_chars(excerpt, DETAIL_MAX))
        );
    }
}

/// Open an inline SVG picture with its accessible name.
fn svg_open(s: &mut String, width: u64, height: u64, label: &str) {
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">",
        esc(label)
    );
}

/// Each check's latency as a bar, with its warn and fail thresholds as ticks.
fn latency_chart(s: &mut String, summary: &Summary) {
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
        let _ = write!(
            s,
            "<g><title>{}: {} ms{}{}</title><text x=\"0\" y=\"{}\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{} ms</text>",
            esc(&truncate_chars(&r.name, 200)),
            d,
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
            d
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
    s.push_str("</svg>\n");
    if rows.len() > shown.len() {
        let _ = writeln!(
            s,
            "<p class=\"note\">{} more checks are not drawn; the table has every check.</p>",
            rows.len() - shown.len()
        );
    }
    s.push_str("</section>\n");
}

/// Days left of a certificate the check saw (`days_left` of tls checks, `tls_days_left` of
/// https checks).
fn days_left(r: &CheckResult) -> Option<i64> {
    ["days_left", "tls_days_left"]
        .iter()
        .find_map(|k| r.metadata.get(*k)?.as_i64())
}

/// Every certificate's days left on one timeline, with the warn and fail lines.
fn certificate_timeline(s: &mut String, summary: &Summary) {
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
fn sparkline_svg(s: &mut String, h: &crate::model::CheckHistory) {
    let values = h
        .latencies_ms
        .get(
            h.latencies_ms
                .len()
                .saturating_sub(crate::model::SPARK_MAX)..,
        )
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
fn pass_rate_strip(s: &mut String, h: &crate::model::HistorySummary) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn snapshot() {
        let mut s = fixture::summary();
        s.results[0].limits.warn_latency = Some(std::time::Duration::from_millis(1000));
        s.results[0].limits.fail_latency = Some(std::time::Duration::from_millis(3000));
        let doc = render(&s, Some("0123456789abcdef"));
        insta::assert_snapshot!(doc.replace(&esc(crate::cli::VERSION), "[version]"));
    }

    #[test]
    fn snapshot_with_history() {
        let doc = render(&fixture::summary_with_history(), None);
        assert!(doc.contains("<h2 id=\"h-passrate\">Pass rate</h2>"));
        assert_eq!(doc.matches("aria-label=\"Latency trend&#58;").count(), 8);
        insta::assert_snapshot!(doc.replace(&esc(crate::cli::VERSION), "[version]"));
    }

    #[test]
    fn csp_hashes_match_the_inline_blocks_and_nothing_else_is_inline() {
        let doc = render(&fixture::summary(), None);
        assert!(doc.contains(&csp_hash(STYLE)) && doc.contains(&csp_hash(SCRIPT)));
        assert_eq!(doc.matches("<script>").count(), 1);
        assert_eq!(doc.matches("<style>").count(), 1);
        assert!(
            !doc.contains(" style=\""),
            "inline style attributes break the CSP"
        );
        assert!(
            !doc.contains(" src=") && !doc.contains(" href="),
            "nothing fetched"
        );
    }

    #[test]
    fn hostile_text_is_escaped() {
        let mut s = fixture::summary();
        s.results[0].name = "<img src=x onerror=alert(1)>\"'&".to_owned();
        s.results[0].message = "</pre></details><script>alert(1)</script>".to_owned();
        s.results[0]
            .metadata
            .insert("header".to_owned(), "<b>x</b>".into());
        let doc = render(&s, Some("<i>sha</i>"));
        assert!(!doc.contains("<img") && !doc.contains("<b>x") && !doc.contains("<i>sha"));
        assert_eq!(doc.matches("<script>").count(), 1);
        assert!(doc.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
    }
}
