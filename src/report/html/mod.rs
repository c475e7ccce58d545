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

mod svg;

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

/// The live status page of `infracheck serve`: the report, plus a script that fetches
/// `api/v1/results` every few seconds and updates each row in place (status, duration,
/// reason, message); a check it has no row for reloads the page. The policy allows that one
/// more inline script and requests to the page's own origin, nothing else.
pub fn live_page(summary: &Summary) -> String {
    render_with(summary, None, true)
}

/// The policy of [`live_page`].
pub fn live_content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {} {}; img-src data:; connect-src 'self'",
        csp_hash(STYLE),
        csp_hash(SCRIPT),
        csp_hash(LIVE_SCRIPT)
    )
}

const LIVE_SCRIPT: &str = r#"
(function(){
"use strict";
function rows(){
var m={};var gs=document.querySelectorAll("tbody.check");
for(var i=0;i<gs.length;i++){var th=gs[i].querySelector("tr.row>th");if(th){m[th.textContent]=gs[i];}}
return m;
}
function ms(v){return v<1000?v+" ms":(v/1000).toFixed(2)+" s";}
function update(doc){
var m=rows();var rs=doc.results||[];
for(var i=0;i<rs.length;i++){
var r=rs[i];var g=m[r.name];
if(!g){location.reload();return;}
var st=String(r.status);
g.setAttribute("data-status",st);
var b=g.querySelector(".badge");
if(b){b.className="badge b-"+st.toLowerCase();b.textContent=st;}
var tds=g.querySelectorAll("tr.row>td");
var n=g.querySelector("tr.row>td.num");
if(n){n.textContent=ms(r.duration_ms);}
if(tds.length>=2){tds[tds.length-2].textContent=r.reason||"";tds[tds.length-1].textContent=r.message||"";}
}
var u=document.getElementById("updated");
if(u){u.textContent=new Date().toISOString();}
}
function tick(){
fetch("api/v1/results",{credentials:"same-origin",cache:"no-store"}).then(function(x){return x.ok?x.json():null;}).then(function(d){if(d){update(d);}}).catch(function(){});
}
setInterval(tick,5000);
tick();
})();
"#;

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

/// Failures first (FAIL, SKIP, WARN, WAIVED, PASS), config order within each.
fn ordered(summary: &Summary) -> Vec<&CheckResult> {
    let mut rows: Vec<&CheckResult> = summary.results.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.status.severity()));
    rows
}

/// Render the document.
pub fn render(summary: &Summary, commit: Option<&str>) -> String {
    render_with(summary, commit, false)
}

fn render_with(summary: &Summary, commit: Option<&str>, live: bool) -> String {
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
        if live {
            live_content_security_policy()
        } else {
            content_security_policy()
        }
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
    fact(&mut s, "Version", &esc(crate::model::VERSION));
    if live {
        fact(
            &mut s,
            "Updated",
            "<span id=\"updated\" aria-live=\"polite\">when the page loaded</span>",
        );
    }
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
        fact(
            &mut s,
            "Deploy gate",
            &esc(&crate::model::gate_line(g, summary.interrupted)),
        );
    }
    s.push_str("</dl>\n");
    if let Some(h) = &summary.history {
        svg::pass_rate_strip(&mut s, h);
    }
    s.push_str("</header>\n<main>\n");
    table(&mut s, summary);
    svg::latency_chart(&mut s, summary);
    phases::phase_chart(&mut s, summary);
    svg::certificate_timeline(&mut s, summary);
    s.push_str("</main>\n");
    let _ = writeln!(s, "<script>{SCRIPT}</script>");
    if live {
        let _ = writeln!(s, "<script>{LIVE_SCRIPT}</script>");
    }
    s.push_str("</body>\n</html>\n");
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
            "<tr class=\"row\"><td><span class=\"badge b-{}\">{}</span></td><th scope=\"row\">{}</th><td>{}</td><td class=\"opt\">{}</td><td class=\"num\">{}</td>",
            class(r.status),
            r.status.as_str(),
            esc(&r.name),
            esc(r.kind),
            esc(&truncate_chars(&r.target, 300)),
            crate::model::format_ms(r.duration)
        );
        if trends {
            s.push_str("<td class=\"opt\">");
            if let Some(h) = &r.history {
                svg::sparkline_svg(s, h);
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
                crate::model::millis(a.duration)
            ),
        );
    }
    if !r.phases.is_empty() {
        item(s, "phases", &esc(&r.phases.line()));
    }
    if let Some(q) = r.queued {
        item(s, "queued", &esc(&crate::model::format_ms(q)));
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

mod phases;
#[cfg(test)]
mod tests;
