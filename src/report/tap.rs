//! TAP (`--tap PATH`): the Test Anything Protocol, version 14
//! (<https://testanything.org/tap-version-14-specification.html>), for `prove`, tap.py and the
//! many CI plugins that read it.
//!
//! `TAP version 14`, the plan `1..N`, then one test point per check in config order:
//!
//! - PASS is `ok`; WARN is `ok` with a YAML diagnostics block (`not ok` under `--fail-on-warn`,
//!   as in JUnit);
//! - FAIL is `not ok` with a YAML diagnostics block;
//! - SKIP (a dependency did not pass) is `ok … # SKIP <why>`;
//! - WAIVED (a failure accepted by a waiver) is `not ok … # TODO <why>`.
//!
//! The diagnostics block (`  ---` … `  ...`) carries `status`, `reason`, `message`, `target`,
//! `file` and `line`. Safety: descriptions and directive text are one line with `\` and `#`
//! escaped as the specification says (`\\`, `\#`); every YAML value is a double-quoted string
//! in JSON syntax (or a number) with anything YAML would not read as a plain printable character
//! escaped, so hostile text can neither end the block nor add lines. No line can start with a
//! GitHub workflow command (`::`) and `##[` is broken up everywhere.

use std::fmt::Write as _;

use super::{Context, RenderError, Reporter, neutralise_commands, one_line};
use crate::model::{CheckResult, Reason, Status, Summary};

/// The TAP reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tap;

impl Reporter for Tap {
    fn describe(&self) -> &'static str {
        "TAP report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(render(cx.summary).into_bytes())
    }
}

/// A test point description or directive text: one line, `\` and `#` escaped (TAP 14,
/// "Escaping"), the legacy `##[` workflow command broken up.
fn description(s: &str) -> String {
    let line = one_line(s);
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '#' => out.push_str("\\#"),
            c => out.push(c),
        }
    }
    // `#` is escaped above, so `##[` cannot survive; kept for the invariant's sake.
    neutralise_commands(out)
}

/// A YAML double-quoted scalar in JSON syntax that YAML readers (and JSON readers) parse back
/// to the text: quotes, backslashes, C0/C1 controls, DEL, Unicode line separators and the
/// non-characters YAML refuses are escaped, so the value stays on its line; the legacy `##[`
/// workflow command is broken up first, as in every other report.
fn quoted(s: &str) -> String {
    let s = neutralise_commands(s.to_owned());
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether the check is a TAP failure (`not ok`).
fn not_ok(r: &CheckResult, fail_on_warn: bool) -> bool {
    match r.status {
        Status::Pass | Status::Skip => false,
        Status::Warn => fail_on_warn,
        Status::Fail | Status::Waived => true,
    }
}

fn diagnostics(out: &mut String, r: &CheckResult) {
    let reason = r.reason.map_or("unknown", Reason::code);
    out.push_str("  ---\n");
    let _ = writeln!(out, "  status: {}", quoted(r.status.as_str()));
    let _ = writeln!(out, "  reason: {}", quoted(reason));
    let _ = writeln!(out, "  message: {}", quoted(&r.message));
    let _ = writeln!(out, "  target: {}", quoted(&r.target));
    let _ = writeln!(out, "  file: {}", quoted(&r.location.file));
    let _ = writeln!(out, "  line: {}", r.location.line.max(1));
    if r.attempts > 1 {
        let _ = writeln!(out, "  attempts: {}", r.attempts);
    }
    if let Some(c) = &r.baseline {
        let note = crate::model::change_note(c, r.duration);
        if !note.is_empty() {
            let _ = writeln!(out, "  since_baseline: {}", quoted(&note));
        }
    }
    if let Some(excerpt) = super::body_excerpt(r) {
        let _ = writeln!(out, "  body_excerpt: {}", quoted(excerpt));
    }
    out.push_str("  ...\n");
}

/// Render the TAP document.
pub fn render(summary: &Summary) -> String {
    let mut out = String::from("TAP version 14\n");
    let _ = writeln!(out, "1..{}", summary.results.len());
    for (i, r) in summary.results.iter().enumerate() {
        let n = i + 1;
        let ok = if not_ok(r, summary.fail_on_warn) {
            "not ok"
        } else {
            "ok"
        };
        let _ = write!(out, "{ok} {n} - {}", description(&r.name));
        match r.status {
            Status::Skip => {
                let _ = write!(out, " # SKIP {}", description(&r.message));
            }
            Status::Waived => {
                let _ = write!(out, " # TODO {}", description(&r.message));
            }
            Status::Pass | Status::Warn | Status::Fail => {}
        }
        out.push('\n');
        if matches!(r.status, Status::Fail | Status::Warn) {
            diagnostics(&mut out, r);
        }
    }
    let c = summary.counts();
    let _ = writeln!(
        out,
        "# infracheck {}: {} passed, {} warned, {} failed,{} {} total: {}",
        description(&summary.environment),
        c.pass,
        c.warn,
        c.fail,
        super::text::extra_counts(c),
        c.total,
        super::verdict(summary)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&fixture::summary()));
    }

    #[test]
    fn escaping() {
        assert_eq!(description("a#b\\c\nd"), "a\\#b\\\\c\\\\nd");
        assert_eq!(
            quoted("say \"hi\"\n\u{85}\u{2028}\u{7f}\u{1b}"),
            "\"say \\\"hi\\\"\\n\\u0085\\u2028\\u007f\\u001b\""
        );
        assert!(!quoted("x##[error]y").contains("##["));
        // JSON readers parse the quoted form back to the original text.
        for s in [
            "##[warning] ::error:: \u{2029} \"q\" \\",
            "plain",
            "#\u{85}#",
        ] {
            let back: String = serde_json::from_str(&quoted(s)).unwrap();
            assert_eq!(back, neutralise_commands(s.to_owned()));
        }
    }

    #[test]
    fn hostile_names_stay_on_their_line() {
        let mut s = fixture::summary();
        if let Some(r) = s.results.get_mut(1) {
            r.name = "evil\n::error::x\r\nnot ok 99 - forged # SKIP".to_owned();
            r.message = "  ...\n::warning::y\n##[error]z".into();
        }
        let tap = render(&s);
        for line in tap.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line}");
            assert!(!line.contains("##["), "{line}");
            assert!(!line.starts_with("not ok 99"), "{line}");
        }
        assert_eq!(tap.lines().filter(|l| l.trim() == "...").count(), 4);
        assert!(
            tap.contains("not ok 2 - evil\\\\n::error::x\\\\r\\\\nnot ok 99 - forged \\# SKIP\n")
        );
    }

    #[test]
    fn warn_is_not_ok_under_fail_on_warn() {
        let mut s = fixture::summary();
        s.fail_on_warn = true;
        let tap = render(&s);
        assert!(tap.contains("\nnot ok 4 - login\n"), "{tap}");
    }
}
