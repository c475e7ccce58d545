//! Prometheus text exposition format (`--prometheus PATH`) for node exporter's textfile
//! collector: point `--collector.textfile.directory` at the file's directory and the run's
//! numbers appear on the next scrape. Format reference:
//! <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>.
//!
//! Every metric is a gauge (the file describes one run, not a counter that grows). Per check,
//! labelled `environment`, `check` and `kind`:
//! - `infracheck_check_status{status="pass|warn|fail|skip|waived"}`: 1 for the status the
//!   check ended with, 0 for the others (one-hot, so `== 1` selects a status and
//!   `sum by (status)` counts);
//! - `infracheck_check_duration_seconds`, `infracheck_check_attempts`;
//! - `infracheck_check_phase_seconds{phase="dns|connect|tls|ttfb|…"}`: each phase the check
//!   timed (blackbox_exporter's `probe_http_duration_seconds{phase=…}`), absent phases have
//!   no sample;
//! - `infracheck_check_certificate_expiry_timestamp_seconds`: the leaf certificate's notAfter
//!   as a Unix time, for `tls` checks and `https` checks that reached a certificate;
//! - `infracheck_certificate_not_before_timestamp_seconds`: its notBefore, for the same checks
//!   (and for an https check whose certificate was refused as not yet valid).
//!
//! Per run, labelled `environment`: `infracheck_run_timestamp_seconds` (start),
//! `infracheck_run_duration_seconds`, `infracheck_run_success` (1 when the exit code is 0 as
//! far as the results go) and `infracheck_checks{status=…}` (counts).
//!
//! Families and samples come in a fixed order (families as listed, checks in config order), so
//! two runs with the same results produce the same file apart from the numbers.

use std::fmt::Write as _;

use super::{Context, RenderError, Reporter};
use crate::model::{CheckResult, Status, Summary};

/// The Prometheus reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prometheus;

impl Reporter for Prometheus {
    fn describe(&self) -> &'static str {
        "Prometheus metrics"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(render(cx.summary).into_bytes())
    }
}

/// Every status, in the order the `status` label values are written.
const STATUSES: &[Status] = &[
    Status::Pass,
    Status::Warn,
    Status::Fail,
    Status::Skip,
    Status::Waived,
];

/// Position of a status in [`STATUSES`]; exhaustive, so a new status does not compile until it
/// is listed (and the unit test below checks the two agree).
#[cfg_attr(not(test), allow(dead_code))]
const fn status_index(s: Status) -> usize {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Skip => 3,
        Status::Waived => 4,
    }
}

/// A label value escaped as the exposition format requires: backslash, double quote and line
/// feed become `\\`, `\"` and `\n`; other control characters are shown as visible escapes
/// first (`\u{1b}`, read back as that text), so none reaches a CI log that prints the file.
pub(crate) fn escape_label(s: &str) -> String {
    let s = crate::text::visible_controls(s, &['\n']);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    // A CI log may print the file: no label carries a workflow command.
    super::neutralise_commands(out)
}

fn status_label(s: Status) -> String {
    s.as_str().to_ascii_lowercase()
}

/// Seconds with microsecond precision, written the shortest way (`2.345`, not
/// `2.3449999999999998` as `as_secs_f64` would give).
fn seconds(d: std::time::Duration) -> f64 {
    // Exact for any run shorter than 285 years.
    d.as_micros() as f64 / 1_000_000.0
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn check_labels(env: &str, r: &CheckResult) -> String {
    format!(
        "environment=\"{}\",check=\"{}\",kind=\"{}\"",
        escape_label(env),
        escape_label(&r.name),
        escape_label(r.kind)
    )
}

/// The leaf certificate's notAfter as a Unix time, when the check saw a certificate.
fn cert_expiry(r: &CheckResult) -> Option<i64> {
    r.certificate_not_after()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// The leaf certificate's notBefore as a Unix time, when the check saw a certificate.
fn cert_not_before(r: &CheckResult) -> Option<i64> {
    r.certificate_not_before()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// Render the run as a textfile-collector file.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let env = escape_label(&s.environment);

    family(
        &mut out,
        "infracheck_check_status",
        "Check verdict: 1 for the status the check ended with, 0 for the others.",
    );
    for r in &s.results {
        let labels = check_labels(&s.environment, r);
        for st in STATUSES {
            let _ = writeln!(
                out,
                "infracheck_check_status{{{labels},status=\"{}\"}} {}",
                status_label(*st),
                u8::from(r.status == *st)
            );
        }
    }

    family(
        &mut out,
        "infracheck_check_duration_seconds",
        "Wall time of the check, all attempts and retry delays included.",
    );
    for r in &s.results {
        let _ = writeln!(
            out,
            "infracheck_check_duration_seconds{{{}}} {}",
            check_labels(&s.environment, r),
            seconds(r.duration)
        );
    }

    if s.results.iter().any(|r| !r.phases.is_empty()) {
        family(
            &mut out,
            "infracheck_check_phase_seconds",
            "Time of one phase of the check's final attempt (dns, connect, tls, ttfb…); a phase that did not happen has no sample.",
        );
        for r in &s.results {
            let labels = check_labels(&s.environment, r);
            for (p, d) in r.phases.iter() {
                let _ = writeln!(
                    out,
                    "infracheck_check_phase_seconds{{{labels},phase=\"{}\"}} {}",
                    p.as_str(),
                    seconds(d)
                );
            }
        }
    }

    family(
        &mut out,
        "infracheck_check_attempts",
        "Attempts the check made (1 without retries).",
    );
    for r in &s.results {
        let _ = writeln!(
            out,
            "infracheck_check_attempts{{{}}} {}",
            check_labels(&s.environment, r),
            r.attempts
        );
    }

    let expiries: Vec<(&CheckResult, i64)> = s
        .results
        .iter()
        .filter_map(|r| cert_expiry(r).map(|t| (r, t)))
        .collect();
    if !expiries.is_empty() {
        family(
            &mut out,
            "infracheck_check_certificate_expiry_timestamp_seconds",
            "The leaf TLS certificate's notAfter as a Unix time (tls and https checks).",
        );
        for (r, t) in expiries {
            let _ = writeln!(
                out,
                "infracheck_check_certificate_expiry_timestamp_seconds{{{}}} {t}",
                check_labels(&s.environment, r)
            );
        }
    }

    let starts: Vec<(&CheckResult, i64)> = s
        .results
        .iter()
        .filter_map(|r| cert_not_before(r).map(|t| (r, t)))
        .collect();
    if !starts.is_empty() {
        family(
            &mut out,
            "infracheck_certificate_not_before_timestamp_seconds",
            "The leaf TLS certificate's notBefore as a Unix time (tls and https checks).",
        );
        for (r, t) in starts {
            let _ = writeln!(
                out,
                "infracheck_certificate_not_before_timestamp_seconds{{{}}} {t}",
                check_labels(&s.environment, r)
            );
        }
    }

    family(
        &mut out,
        "infracheck_run_timestamp_seconds",
        "When the run started, as a Unix time.",
    );
    let _ = writeln!(
        out,
        "infracheck_run_timestamp_seconds{{environment=\"{env}\"}} {}",
        s.started_at.unix_timestamp()
    );

    family(
        &mut out,
        "infracheck_run_duration_seconds",
        "Wall time of the run.",
    );
    let _ = writeln!(
        out,
        "infracheck_run_duration_seconds{{environment=\"{env}\"}} {}",
        seconds(s.duration)
    );

    family(
        &mut out,
        "infracheck_run_success",
        "1 when the run passed (no FAIL, no WARN under --fail-on-warn, not interrupted).",
    );
    let _ = writeln!(
        out,
        "infracheck_run_success{{environment=\"{env}\"}} {}",
        u8::from(super::passed(s))
    );

    family(
        &mut out,
        "infracheck_checks",
        "Checks of the run by status.",
    );
    for st in STATUSES {
        let n = s.results.iter().filter(|r| r.status == *st).count();
        let _ = writeln!(
            out,
            "infracheck_checks{{environment=\"{env}\",status=\"{}\"}} {n}",
            status_label(*st)
        );
    }

    if s.baseline.is_some() {
        baseline_families(&mut out, s);
    }
    if let Some(g) = &s.gate {
        gate_families(&mut out, s, g);
    }
    out
}

/// The change labels, in the order they are written.
const CHANGES: &[crate::model::Change] = &[
    crate::model::Change::New,
    crate::model::Change::Still,
    crate::model::Change::Recovered,
    crate::model::Change::Unchanged,
];

fn change_label(c: crate::model::Change) -> String {
    c.label().to_ascii_lowercase()
}

/// `--baseline`: one-hot change per check, latency regressions, counts by change.
fn baseline_families(out: &mut String, s: &Summary) {
    let env = escape_label(&s.environment);
    family(
        out,
        "infracheck_check_baseline_change",
        "Change since the --baseline run: 1 for the check's change (new, still, recovered, unchanged), 0 for the others.",
    );
    for r in &s.results {
        let Some(c) = &r.baseline else { continue };
        let labels = check_labels(&s.environment, r);
        for ch in CHANGES {
            let _ = writeln!(
                out,
                "infracheck_check_baseline_change{{{labels},change=\"{}\"}} {}",
                change_label(*ch),
                u8::from(c.change == *ch)
            );
        }
    }
    family(
        out,
        "infracheck_check_latency_regression",
        "1 when the check became slower than the --latency-factor times its baseline duration.",
    );
    for r in &s.results {
        let Some(c) = &r.baseline else { continue };
        let _ = writeln!(
            out,
            "infracheck_check_latency_regression{{{}}} {}",
            check_labels(&s.environment, r),
            u8::from(c.latency_regression)
        );
    }
    family(
        out,
        "infracheck_baseline_changes",
        "Checks of the run by change since the --baseline run.",
    );
    for ch in CHANGES {
        let n = s
            .results
            .iter()
            .filter(|r| r.baseline.as_ref().is_some_and(|c| c.change == *ch))
            .count();
        let _ = writeln!(
            out,
            "infracheck_baseline_changes{{environment=\"{env}\",change=\"{}\"}} {n}",
            change_label(*ch)
        );
    }
}

/// `--until-healthy`: when each check turned healthy, rounds, and the gate's verdict.
fn gate_families(out: &mut String, s: &Summary, g: &crate::model::GateSummary) {
    let env = escape_label(&s.environment);
    let healthy: Vec<(&CheckResult, std::time::Duration)> = s
        .results
        .iter()
        .filter_map(|r| Some((r, r.gate.as_ref()?.healthy_after?)))
        .collect();
    if !healthy.is_empty() {
        family(
            out,
            "infracheck_check_healthy_after_seconds",
            "Deploy gate: time from the start of the run until the check turned healthy.",
        );
        for (r, after) in healthy {
            let _ = writeln!(
                out,
                "infracheck_check_healthy_after_seconds{{{}}} {}",
                check_labels(&s.environment, r),
                seconds(after)
            );
        }
    }
    family(
        out,
        "infracheck_gate_rounds",
        "Deploy gate: rounds run (--until-healthy).",
    );
    let _ = writeln!(
        out,
        "infracheck_gate_rounds{{environment=\"{env}\"}} {}",
        g.rounds
    );
    family(
        out,
        "infracheck_gate_healthy",
        "Deploy gate: 1 when every check was healthy before the deadline.",
    );
    let _ = writeln!(
        out,
        "infracheck_gate_healthy{{environment=\"{env}\"}} {}",
        u8::from(g.healthy)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn with_certificate() -> Summary {
        let mut s = fixture::summary();
        for r in &mut s.results {
            match r.name.as_str() {
                "homepage" => {
                    r.metadata.insert(
                        "tls_not_after".to_owned(),
                        serde_json::json!("2026-03-01T12:00:00Z"),
                    );
                    r.metadata.insert(
                        "tls_not_before".to_owned(),
                        serde_json::json!("2025-12-01T12:00:00Z"),
                    );
                }
                "cert" => {
                    r.metadata.insert(
                        "not_after".to_owned(),
                        serde_json::json!("2026-03-22T00:00:00Z"),
                    );
                    r.metadata.insert(
                        "not_before".to_owned(),
                        serde_json::json!("2025-12-22T00:00:00Z"),
                    );
                }
                _ => {}
            }
        }
        s
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&with_certificate()));
    }

    #[test]
    fn every_status_is_listed() {
        for (i, st) in STATUSES.iter().enumerate() {
            assert_eq!(status_index(*st), i);
        }
        assert_eq!(STATUSES.len(), 5);
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut s = fixture::summary();
        s.results.truncate(1);
        if let Some(r) = s.results.first_mut() {
            r.name = "x\"y\\z\nw".to_owned();
        }
        let text = render(&s);
        assert!(
            text.contains(r#"check="x\"y\\z\nw""#),
            "label not escaped: {text}"
        );
        // Every sample stays on one line: only comments and samples, no stray fragments.
        for line in text.lines() {
            assert!(
                line.starts_with("# ") || line.starts_with("infracheck_"),
                "{line}"
            );
        }
    }

    #[test]
    fn status_is_one_hot_and_counts_add_up() {
        let summary = fixture::summary();
        let text = render(&summary);
        let ones = text
            .lines()
            .filter(|l| l.starts_with("infracheck_check_status{") && l.ends_with(" 1"))
            .count();
        // Exactly one status sample is 1 per check, whatever its status (SKIP, WAIVED too).
        assert_eq!(ones, summary.results.len());
        assert!(text.contains(
            r#"infracheck_check_status{environment="prod",check="db-port",kind="tcp",status="fail"} 1"#
        ));
        assert!(text.contains(r#"infracheck_checks{environment="prod",status="warn"} 2"#));
        assert!(text.contains(r#"infracheck_run_success{environment="prod"} 0"#));
        // No certificate seen: no expiry family at all.
        assert!(!text.contains("certificate_expiry"), "{text}");
    }

    #[test]
    fn certificate_expiry_from_either_key() {
        let text = render(&with_certificate());
        assert!(text.contains(
            r#"infracheck_check_certificate_expiry_timestamp_seconds{environment="prod",check="homepage",kind="http"} 1772366400"#
        ), "{text}");
        assert!(text.contains(
            r#"infracheck_check_certificate_expiry_timestamp_seconds{environment="prod",check="cert",kind="tls"} 1774137600"#
        ), "{text}");
    }
}
