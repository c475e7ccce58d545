//! The step-summary report (`--markdown PATH`, and `$GITHUB_STEP_SUMMARY` in GitHub mode):
//! GitHub-flavoured markdown with a heading, a one-line verdict, a table with failures first and
//! the details of every FAIL and WARN folded in `<details>` (`docs/ci-formats.md` §2).
//!
//! Untrusted text (names, messages, targets, response bodies) is escaped for markdown *and*
//! HTML, so it can neither break the table nor inject raw HTML. The document always stays under
//! [`LIMIT`] bytes (GitHub drops a step summary over 1 MiB): rows and details that do not fit
//! are left out with a visible note.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Context, RenderError, Reporter, body_excerpt, truncate_chars};
use crate::model::{CheckResult, Reason, Status, Summary};

/// The largest document rendered, with room to spare under GitHub's 1 MiB.
pub const LIMIT: usize = 1_000_000;
/// Room kept for the closing lines and the truncation note.
const RESERVE: usize = 4096;
/// Longest message shown in a table cell, in characters.
const CELL_MAX: usize = 300;
/// Longest message shown in the details, in characters.
const DETAIL_MAX: usize = 4000;

/// The markdown reporter (`--markdown PATH`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Reporter for Markdown {
    fn describe(&self) -> &'static str {
        "markdown report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(render(cx.summary, LIMIT).into_bytes())
    }
}

/// The smallest budget, even when an earlier command of the step filled its summary.
const MIN_LIMIT: usize = 16 * 1024;

/// The same markdown for `$GITHUB_STEP_SUMMARY`, whose 1 MiB limit is per step: content that
/// earlier commands of the step appended counts against it.
#[derive(Debug, Clone, Copy)]
pub struct StepSummary {
    limit: usize,
}

impl StepSummary {
    /// For a step summary that already holds `existing` bytes.
    pub fn after(existing: u64) -> Self {
        let existing = usize::try_from(existing).unwrap_or(usize::MAX);
        StepSummary {
            limit: LIMIT.saturating_sub(existing).max(MIN_LIMIT),
        }
    }
}

impl Reporter for StepSummary {
    fn describe(&self) -> &'static str {
        "step summary"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(render(cx.summary, self.limit).into_bytes())
    }
}

/// The entity for a character that HTML reads as markup (`&`, `<`, `>`, `"`): escaped the same
/// in HTML and in markdown, where raw HTML is allowed.
fn markup_entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    }
}

/// Escape text for HTML (element content and quoted attributes).
pub(crate) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(entity) = markup_entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            '\'' => out.push_str("&#39;"),
            // Keeps the legacy `##[` workflow command out of the file.
            '#' => out.push_str("&#35;"),
            // A `|` line inside `<pre>` is no table row, but no reader should have to know.
            '|' => out.push_str("&#124;"),
            // No line of the file starts with a workflow command, even if a CI log prints it.
            ':' => out.push_str("&#58;"),
            '\r' => {}
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Escape text for one line of markdown (a table cell or list item): HTML-escaped, markdown
/// punctuation backslash-escaped, `|` escaped for tables, line breaks shown as `<br>`.
pub(crate) fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if let Some(entity) = markup_entity(c) {
            out.push_str(entity);
            continue;
        }
        match c {
            '`' => out.push_str("&#96;"),
            '@' => out.push_str("&#64;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\t' => out.push(' '),
            '\\' | '|' | '*' | '_' | '[' | ']' | '~' | '#' | '!' | '$' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn icon(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Fail => "❌",
        Status::Skip => "⏭️",
        Status::Waived => "🛡️",
    }
}

/// `406 ms`, `2.41 s`, or `0.4 ms` under a millisecond.
fn seconds(d: std::time::Duration) -> String {
    crate::model::human_duration(d)
}

/// Failures first, then skipped, warnings, waived and passes; config order within each.
fn ordered(summary: &Summary) -> Vec<&CheckResult> {
    let mut rows: Vec<&CheckResult> = summary.results.iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.status.severity()));
    rows
}

fn row(r: &CheckResult) -> String {
    let mut message = md(&truncate_chars(&r.message, CELL_MAX));
    if let Some(reason) = r.reason {
        let _ = write!(message, " (`{}`)", reason.code());
    }
    if r.flaky {
        let _ = write!(message, " — flaky: passed on attempt {}", r.attempts);
    } else if r.attempts > 1 {
        let _ = write!(message, " — {} attempts", r.attempts);
    }
    if let Some(g) = r.gate.as_ref().filter(|g| g.healthy_round != Some(1)) {
        let _ = write!(message, " — {}", md(&crate::model::gate_note(g)));
    }
    format!(
        "| {} {} | {} | {} | {} | {} |\n",
        icon(r.status),
        r.status.as_str(),
        md(&r.name),
        md(r.kind),
        seconds(r.duration),
        message
    )
}

fn details(r: &CheckResult) -> String {
    let mut s = String::new();
    let reason = r.reason.unwrap_or(Reason::Internal);
    let _ = writeln!(
        s,
        "<details><summary>{} {} <b>{}</b> — {}</summary>\n",
        icon(r.status),
        r.status.as_str(),
        html(&super::one_line(&r.name)),
        html(reason.code())
    );
    let _ = writeln!(s, "- **kind:** {}", md(r.kind));
    let _ = writeln!(s, "- **target:** {}", md(&r.target));
    let _ = writeln!(
        s,
        "- **defined at:** {}:{}",
        md(&r.location.file),
        r.location.line
    );
    let _ = writeln!(
        s,
        "- **reason:** `{}` — {}",
        reason.code(),
        md(reason.short_description())
    );
    let _ = writeln!(
        s,
        "- **duration:** {} ({} attempt{})",
        seconds(r.duration),
        r.attempts,
        if r.attempts == 1 { "" } else { "s" }
    );
    if !r.phases.is_empty() {
        let _ = writeln!(s, "- **phases:** {}", md(&r.phases.line()));
    }
    if let Some(q) = r.queued {
        let _ = writeln!(s, "- **queued:** {}", crate::model::format_ms(q));
    }
    if let Some(c) = &r.baseline {
        let note = crate::model::change_note(c, r.duration);
        if !note.is_empty() {
            let _ = writeln!(s, "- **since baseline:** {}", md(&note));
        }
    }
    if let Some(g) = &r.gate {
        let _ = writeln!(s, "- **deploy gate:** {}", md(&crate::model::gate_note(g)));
    }
    for a in &r.failed_attempts {
        let _ = writeln!(
            s,
            "- **earlier attempt:** `{}` — {} ({})",
            a.reason.code(),
            md(&truncate_chars(&a.message, CELL_MAX)),
            seconds(a.duration)
        );
    }
    let _ = writeln!(
        s,
        "\n<pre>{}</pre>",
        html(&truncate_chars(&r.message, DETAIL_MAX))
    );
    if let Some(excerpt) = body_excerpt(r) {
        let _ = writeln!(
            s,
            "\nResponse body (excerpt):\n\n<pre>{}</pre>",
            html(&truncate_chars(excerpt, DETAIL_MAX))
        );
    }
    s.push_str("\n</details>\n\n");
    s
}

/// Most rows in the "changes since baseline" and certificate tables.
const CHANGE_ROWS_MAX: usize = 100;
/// Longest check name (or baseline path) shown in the changes section, in characters.
const NAME_MAX: usize = 200;

/// `301 ms` or `12.34 s`: the one duration format of every text output.
fn short(d: std::time::Duration) -> String {
    crate::model::human_duration(d)
}

fn status_cell(status: Option<Status>) -> String {
    match status {
        Some(st) => format!("{} {}", icon(st), st.as_str()),
        None => "— (not in baseline)".to_owned(),
    }
}

/// The section the document starts with under `--baseline`: what changed since that run.
fn baseline_section(summary: &Summary, b: &crate::model::BaselineSummary, budget: usize) -> String {
    use crate::model::Change;
    // Names and text from the baseline document are untrusted: each is cut short, and each line
    // is added only while the section fits its budget, so the results table always follows.
    let name = |n: &str| md(&truncate_chars(n, NAME_MAX));
    let mut s = String::from("### Changes since baseline\n\n");
    let _ = writeln!(
        s,
        "Compared with the run of {} ({}): {}.\n",
        md(&truncate_chars(&b.started_at, NAME_MAX)),
        name(&b.path),
        md(&crate::model::baseline_line(b))
    );
    let changed = |want: Change| {
        summary
            .results
            .iter()
            .filter(move |r| r.baseline.as_ref().is_some_and(|c| c.change == want))
    };
    let slower = summary.results.iter().filter(|r| {
        r.baseline
            .as_ref()
            .is_some_and(|c| c.change == Change::Unchanged && c.latency_regression)
    });
    let rows: Vec<(&str, &CheckResult)> = changed(Change::New)
        .map(|r| ("🆕 NEW", r))
        .chain(changed(Change::Recovered).map(|r| ("💚 RECOVERED", r)))
        .chain(changed(Change::Still).map(|r| ("🔁 STILL", r)))
        .chain(slower.map(|r| ("🐢 slower", r)))
        .collect();
    let mut left_out = 0usize;
    if rows.is_empty() {
        s.push_str("Nothing changed: no new failures, no recoveries, no latency regressions.\n\n");
    } else {
        s.push_str("| Change | Check | Now | Before | Details |\n|---|---|---|---|---|\n");
        for (i, (label, r)) in rows.iter().enumerate() {
            let Some(c) = &r.baseline else { continue };
            let before = match c.previous_duration {
                Some(d) => format!("{} {}", status_cell(c.previous_status), short(d)),
                None => status_cell(c.previous_status),
            };
            let details = if c.change == Change::Unchanged {
                md(&crate::model::change_note(c, r.duration))
            } else {
                md(&truncate_chars(&r.message, CELL_MAX))
            };
            let line = format!(
                "| {label} | {} | {} {} | {before} | {details} |\n",
                name(&r.name),
                status_cell(Some(r.status)),
                short(r.duration),
            );
            if i >= CHANGE_ROWS_MAX || s.len() + line.len() > budget {
                left_out += 1;
            } else {
                s.push_str(&line);
            }
        }
        s.push('\n');
    }
    if !b.removed.is_empty() {
        let mut line = format!("Removed since baseline ({}): ", b.removed.len());
        let mut shown = 0usize;
        for n in &b.removed {
            let item = name(n);
            if shown >= CHANGE_ROWS_MAX || s.len() + line.len() + item.len() + 2 > budget {
                break;
            }
            if shown > 0 {
                line.push_str(", ");
            }
            line.push_str(&item);
            shown += 1;
        }
        if shown < b.removed.len() {
            let _ = write!(line, " and {} more", b.removed.len() - shown);
        }
        s.push_str(&line);
        s.push_str("\n\n");
    }
    let mut certs: Vec<(&CheckResult, &crate::model::CertCountdown)> = summary
        .results
        .iter()
        .filter_map(|r| Some((r, r.baseline.as_ref()?.certificate.as_ref()?)))
        .collect();
    if !certs.is_empty() {
        certs.sort_by_key(|(_, c)| c.days_left);
        s.push_str("**Certificate countdown**\n\n| Check | Days left | In the baseline | Expires |\n|---|---|---|---|\n");
        for (i, (r, c)) in certs.iter().enumerate() {
            let before = match c.previous_days_left {
                Some(p) if c.renewed => format!("{p} (renewed since)"),
                Some(p) => p.to_string(),
                None => "—".to_owned(),
            };
            let line = format!(
                "| {} | {} | {before} | {} |\n",
                name(&r.name),
                c.days_left,
                md(&truncate_chars(&c.not_after, NAME_MAX))
            );
            if i >= CHANGE_ROWS_MAX || s.len() + line.len() > budget {
                left_out += 1;
            } else {
                s.push_str(&line);
            }
        }
        s.push('\n');
    }
    if left_out > 0 {
        let _ = writeln!(
            s,
            "{left_out} more rows of changes and certificates are not listed here; the JSON report has every result.\n"
        );
    }
    s
}

/// Most rows of the "worst movers" table.
const MOVERS_MAX: usize = 5;

/// The "Trends" section under `--history`: the checks whose latency rose most above their
/// window's p50, and the newly flaky checks (failed at least twice in the window, passing now).
fn trends_section(summary: &Summary, h: &crate::model::HistorySummary, budget: usize) -> String {
    let name = |n: &str| md(&truncate_chars(n, NAME_MAX));
    let mut s = format!(
        "### Trends\n\nOver the last {} run{} of this environment (history {}, keeping {}).\n\n",
        h.runs.len(),
        if h.runs.len() == 1 { "" } else { "s" },
        name(&h.path),
        h.keep
    );
    let movers = crate::model::worst_movers(summary, MOVERS_MAX);
    if movers.is_empty() {
        s.push_str("**Worst movers:** none (no check is slower than its window's p50).\n\n");
    } else {
        s.push_str("**Worst movers** (latency now vs the p50 of its earlier runs):\n\n| Check | Now | p50 before | Increase |\n|---|---|---|---|\n");
        for m in movers {
            let line = format!(
                "| {} | {} | {} | +{} |\n",
                name(m.name),
                short(Duration::from_millis(m.now_ms)),
                short(Duration::from_millis(m.before_p50_ms)),
                short(Duration::from_millis(m.now_ms - m.before_p50_ms))
            );
            if s.len() + line.len() <= budget {
                s.push_str(&line);
            }
        }
        s.push('\n');
    }
    let flaky = crate::model::newly_flaky(summary);
    if flaky.is_empty() {
        s.push_str("**Newly flaky:** none.\n\n");
    } else {
        let mut line = format!(
            "**Newly flaky** (failed at least twice in the window, passing now, {}): ",
            flaky.len()
        );
        let mut shown = 0usize;
        for n in &flaky {
            let item = name(n);
            if s.len() + line.len() + item.len() + 2 > budget {
                break;
            }
            if shown > 0 {
                line.push_str(", ");
            }
            line.push_str(&item);
            shown += 1;
        }
        if shown < flaky.len() {
            let _ = write!(line, " and {} more", flaky.len() - shown);
        }
        s.push_str(&line);
        s.push_str("\n\n");
    }
    s
}

/// Render the document, never longer than `limit` bytes.
pub fn render(summary: &Summary, limit: usize) -> String {
    let c = summary.counts();
    let budget = limit.saturating_sub(RESERVE);
    let mut s = String::new();
    let verdict = match super::verdict(summary) {
        "passed" => "✅ **PASSED**",
        "warned" => "⚠️ **PASSED with warnings**",
        _ => "❌ **FAILED**",
    };
    let _ = writeln!(s, "## infracheck · {}\n", md(&summary.environment));
    if let Some(b) = &summary.baseline {
        // At most a quarter of the budget: the results table and details come after it.
        s.push_str(&baseline_section(summary, b, budget / 4));
    }
    let _ = write!(
        s,
        "{verdict}: {} passed, {} warned, {} failed,{} {} total in {} · config {}",
        c.pass,
        c.warn,
        c.fail,
        super::text::extra_counts(c),
        c.total,
        seconds(summary.duration),
        md(&summary.config_path)
    );
    if summary.fail_on_warn && c.warn > 0 {
        s.push_str(" (`--fail-on-warn`)");
    }
    if let Some(known) = super::known_failures(summary) {
        let _ = write!(
            s,
            " (`--fail-on new`: {known} known failure{} since the baseline)",
            if known == 1 { "" } else { "s" }
        );
    }
    if let Some(i) = summary.interrupted {
        s.push_str(match i {
            crate::model::Interruption::Deadline => " · deadline reached",
            crate::model::Interruption::Sigint => " · interrupted",
            crate::model::Interruption::Sigterm => " · terminated",
        });
    }
    s.push_str("\n\n");
    if let Some(h) = &summary.history {
        // At most an eighth of the budget: the results table and details come after it.
        s.push_str(&trends_section(summary, h, budget / 8));
    }
    if let Some(g) = &summary.gate {
        let icon = if g.healthy { "✅" } else { "❌" };
        let _ = writeln!(
            s,
            "{icon} {}\n",
            md(&crate::model::gate_line(g, summary.interrupted))
        );
    }
    let rows = ordered(summary);
    let mut omitted_rows = 0usize;
    if !rows.is_empty() {
        s.push_str("| Status | Check | Kind | Duration | Message |\n|---|---|---|---|---|\n");
        for r in &rows {
            let line = row(r);
            if s.len() + line.len() > budget {
                omitted_rows += 1;
            } else {
                s.push_str(&line);
            }
        }
        s.push('\n');
    }
    let mut omitted_details = 0usize;
    for r in rows.iter().filter(|r| r.status != Status::Pass) {
        let block = details(r);
        if omitted_rows > 0 || s.len() + block.len() > budget {
            omitted_details += 1;
        } else {
            s.push_str(&block);
        }
    }
    if omitted_rows + omitted_details > 0 {
        let _ = writeln!(
            s,
            "> [!WARNING]\n> Truncated to stay under GitHub's 1 MiB step-summary limit: {omitted_rows} table rows and {omitted_details} details are not shown. The JUnit, JSON and SARIF reports have every result.\n"
        );
    }
    s
}

#[cfg(test)]
mod tests;
