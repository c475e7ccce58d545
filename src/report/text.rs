//! The human report on stdout: one line per check, FAIL and WARN standing out, then a recap of
//! the failures and warnings (as `cargo test` ends with its failures, so the last lines of a
//! CI log say what broke) and the summary line.

use std::io::{self, Write};

use super::one_line;
use crate::model::{CheckResult, Status, Summary};

/// Whether to use ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Colour on.
    pub color: bool,
}

fn paint(style: Style, status: Status, text: &str) -> String {
    if !style.color {
        return text.to_owned();
    }
    let code = match status {
        Status::Pass => "32",
        Status::Warn => "33;1",
        Status::Fail | Status::Skip => "31;1",
        Status::Waived => "36",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// Write the text report.
pub fn write(summary: &Summary, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let counts = summary.counts();
    let name_width = summary
        .results
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    writeln!(
        out,
        "infracheck {} · environment {} · {}",
        env!("CARGO_PKG_VERSION"),
        one_line(&summary.environment),
        plural(counts.total, "check", "checks")
    )?;
    if let Some(s) = &summary.selection {
        writeln!(out, "{}", one_line(&crate::model::selection_line(s)))?;
    }
    if let Some(b) = &summary.baseline {
        writeln!(
            out,
            "changes since baseline ({}, run of {}): {}",
            one_line(&b.path),
            one_line(&b.started_at),
            crate::model::baseline_line(b)
        )?;
        if !b.removed.is_empty() {
            let shown: Vec<String> = b.removed.iter().take(10).map(|n| one_line(n)).collect();
            let more = b.removed.len().saturating_sub(shown.len());
            writeln!(
                out,
                "removed since baseline: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
    }
    // WAIVED is wider than the other labels: the column fits the widest one present.
    let label_width = summary
        .results
        .iter()
        .map(|r| r.status.as_str().len())
        .max()
        .unwrap_or(4);
    // Every column fits its widest value (`command`, `kubernetes`, a 12-second duration).
    let kind_width = summary
        .results
        .iter()
        .map(|r| r.kind.len())
        .max()
        .unwrap_or(4);
    let millis: Vec<String> = summary
        .results
        .iter()
        .map(|r| crate::model::human_duration(r.duration))
        .collect();
    let ms_width = millis.iter().map(String::len).max().unwrap_or(0);
    // With `--history`, the trend is a column of the check's own line.
    let trends: Vec<String> = summary
        .results
        .iter()
        .map(|r| {
            r.history
                .as_deref()
                .map(crate::model::trend_line)
                .unwrap_or_default()
        })
        .collect();
    let trend_width = trends.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    for ((r, ms), trend) in summary.results.iter().zip(&millis).zip(&trends) {
        let label = paint(
            style,
            r.status,
            &format!("{:<label_width$}", r.status.as_str()),
        );
        let mut message = one_line(&r.message);
        if let Some(reason) = r.reason {
            message.push_str(&format!(" [{reason}]"));
        }
        if r.attempts > 1 {
            if r.flaky {
                message.push_str(&format!(" (flaky: passed on attempt {})", r.attempts));
            } else {
                message.push_str(&format!(" ({} attempts)", r.attempts));
            }
        }
        if let Some(c) = &r.baseline {
            let note = crate::model::change_note(c, r.duration);
            if !note.is_empty() {
                message.push_str(&format!(" — {}", one_line(&note)));
            }
        }
        if let Some(g) = r.gate.as_ref().filter(|g| g.healthy_round != Some(1)) {
            message.push_str(&format!(" — {}", crate::model::gate_note(g)));
        }
        if !r.pulled_in_by.is_empty() {
            message.push_str(&format!(
                " — pulled in by {} (depends_on)",
                one_line(&r.pulled_in_by.join(", "))
            ));
        }
        // `▁▂▇ · p50 120 ms · p95 900 ms · 2 of last 30 failed`, between duration and message.
        let trend = if trend_width > 0 {
            format!("{trend:<trend_width$}  ")
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {label}  {:<name_width$}  {:<kind_width$}  {:>ms_width$}  {trend}{}",
            one_line(&r.name),
            r.kind,
            ms,
            message,
        )?;
    }
    if let Some(g) = &summary.gate {
        writeln!(out, "{}", crate::model::gate_line(g, summary.interrupted))?;
    }
    recap(summary, style, out)?;
    let verdict = match super::verdict(summary) {
        "passed" => paint(style, Status::Pass, "PASSED"),
        "warned" => paint(style, Status::Warn, "PASSED with warnings"),
        _ => paint(style, Status::Fail, "FAILED"),
    };
    let mut line = format!(
        "{} passed, {} warned, {} failed,{} {} total in {}: {}",
        counts.pass,
        counts.warn,
        counts.fail,
        extra_counts(counts),
        counts.total,
        crate::model::human_duration(summary.duration),
        verdict
    );
    if summary.fail_on_warn && counts.warn > 0 {
        line.push_str(" (--fail-on-warn)");
    }
    if let Some(known) = super::known_failures(summary) {
        line.push_str(&format!(
            " (--fail-on new: {known} known failure{} since the baseline)",
            if known == 1 { "" } else { "s" }
        ));
    }
    if let Some(i) = summary.interrupted {
        line.push_str(match i {
            crate::model::Interruption::Deadline => " (deadline reached)",
            crate::model::Interruption::Sigint => " (interrupted)",
            crate::model::Interruption::Sigterm => " (terminated)",
        });
    }
    writeln!(out, "{line}")
}

/// After the table, the checks that need attention again, worst first: `failures (N):` (FAIL
/// and SKIP, which fail a run) then `warnings (N):`, one line each with the reason, where the
/// check is defined and its message. Nothing when every check passed (or was waived).
fn recap(summary: &Summary, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let failures: Vec<&CheckResult> = summary
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Skip))
        .collect();
    let warnings: Vec<&CheckResult> = summary
        .results
        .iter()
        .filter(|r| r.status == Status::Warn)
        .collect();
    let any = !failures.is_empty() || !warnings.is_empty();
    for (title, rows) in [("failures", failures), ("warnings", warnings)] {
        if rows.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({}):", rows.len())?;
        let names: Vec<String> = rows.iter().map(|r| one_line(&r.name)).collect();
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        for (r, name) in rows.iter().zip(&names) {
            let reason = r.reason.map(|c| format!(" [{c}]")).unwrap_or_default();
            writeln!(
                out,
                "  {}  {name:<width$}  {}:{}{reason}  {}",
                paint(style, r.status, r.status.as_str()),
                one_line(&r.location.file),
                r.location.line,
                one_line(&r.message),
            )?;
        }
    }
    if any {
        writeln!(out)?;
    }
    Ok(())
}

/// `1 check`, `2 checks`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// ` N skipped, N waived,` when there are any (the line stays as before otherwise).
pub(crate) fn extra_counts(c: crate::model::Counts) -> String {
    let mut s = String::new();
    if c.skip > 0 {
        s.push_str(&format!(" {} skipped,", c.skip));
    }
    if c.waived > 0 {
        s.push_str(&format!(" {} waived,", c.waived));
    }
    s
}

/// The text report as a [`Reporter`](super::Reporter).
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// Colour or not.
    pub style: Style,
}

impl super::Reporter for Text {
    fn describe(&self) -> &'static str {
        "text report"
    }

    fn render(&self, cx: &super::Context<'_>) -> Result<Vec<u8>, super::RenderError> {
        let mut out = Vec::new();
        write(cx.summary, self.style, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let mut out = Vec::new();
        write(
            &crate::report::fixture::summary(),
            Style { color: false },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        // No line can be read as a workflow command.
        assert!(text.lines().all(|l| !l.trim_start().starts_with("::")));
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }

    #[test]
    fn snapshot_with_history() {
        let mut out = Vec::new();
        write(
            &crate::report::fixture::summary_with_history(),
            Style { color: false },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        // The trend is a column of the check's own line, between duration and message.
        let homepage = text.lines().find(|l| l.contains("homepage")).unwrap();
        assert!(
            homepage.contains(
                "1.30 s  ▁▁▁▂▂▂▂▂▂▇ · p50 300 ms · p95 1.30 s · 2 of last 10 failed  200 OK"
            ),
            "{text}"
        );
        let db = text.lines().find(|l| l.contains("db-port")).unwrap();
        assert!(db.contains("new: no history yet"), "{text}");
        assert!(!text.contains("trend"), "no second `trend` line: {text}");
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }
}
