//! JUnit XML (`--junit PATH`), built with quick-junit in the Ant/Surefire shape that GitLab,
//! Jenkins and GitHub test-report actions read (see `docs/ci-formats.md` §1 and
//! `junit-10-extended.xsd`).
//!
//! One `<testsuite>` per environment, one `<testcase>` per check (classname = kind). A FAIL is
//! `<failure>` or `<error>` by [`ReasonClass`], with the message both as attribute and as body
//! text (GitLab reads only the body) and the reason code as `type`. A WARN passes with the
//! warning in `system-out`, or is a `<failure>` under `--fail-on-warn`. Earlier failed attempts
//! become flaky runs (passed in the end) or reruns (failed in the end). A SKIP (not run, a
//! dependency did not pass) is `<skipped>`; a WAIVED failure passes with the failure and the
//! waiver in `system-out`.

use std::fmt::Write as _;

use quick_junit::{
    FlakyOrRerun, NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
    XmlString,
};

use super::{Context, RenderError, Reporter, body_excerpt};
use crate::model::{CheckResult, FailedAttempt, Reason, ReasonClass, Status, Summary};
use crate::text::escape_controls_then_commands;

/// The JUnit reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

impl Reporter for Junit {
    fn describe(&self) -> &'static str {
        "JUnit report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        render(cx.summary)
    }
}

/// Text safe for XML 1.0 and for a CI log that prints the file: control characters (but line
/// feeds and tabs) become visible escapes (`\u{1b}`) *before* workflow commands (`::` at a line
/// start, `##[`) are neutralised — quick-junit would strip an ANSI sequence or a NUL after the
/// neutralising and leave `::add-mask::` at a line start. The non-characters U+FFFE/U+FFFF,
/// which are not XML characters either, are dropped.
fn xml(s: &str) -> XmlString {
    let s = if s.contains(['\u{fffe}', '\u{ffff}']) {
        s.replace(['\u{fffe}', '\u{ffff}'], "")
    } else {
        s.to_owned()
    };
    XmlString::new(escape_controls_then_commands(&s, &['\n', '\t']))
}

fn timestamp(t: time::OffsetDateTime) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let secs = t.unix_timestamp();
    let nanos = t.nanosecond();
    chrono::DateTime::from_timestamp(secs, nanos).map(|d| d.fixed_offset())
}

fn kind_of(reason: Option<Reason>) -> NonSuccessKind {
    match reason.map(Reason::class) {
        Some(ReasonClass::Failure) => NonSuccessKind::Failure,
        // A FAIL without a reason is treated as "could not run": the safer reading.
        Some(ReasonClass::Error) | None => NonSuccessKind::Error,
    }
}

fn rerun(a: &FailedAttempt) -> TestRerun {
    let mut r = TestRerun::new(kind_of(Some(a.reason)));
    r.set_time(a.duration)
        .set_message(xml(&a.message))
        .set_type(a.reason.code())
        .set_description(xml(&a.message));
    r
}

/// The body text of a failure: everything a reader of GitLab's or Jenkins' test view needs.
fn description(r: &CheckResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.message.as_str());
    if let Some(reason) = r.reason {
        let _ = writeln!(
            s,
            "reason: {} ({})",
            reason.code(),
            reason.short_description()
        );
    }
    let _ = writeln!(s, "target: {}", r.target.as_str());
    let _ = writeln!(s, "defined at: {}:{}", r.location.file, r.location.line);
    if r.attempts > 1 {
        let _ = writeln!(s, "attempts: {}", r.attempts);
    }
    s.push_str(&extra_notes(r));
    if let Some(excerpt) = body_excerpt(r) {
        let _ = writeln!(s, "response body (excerpt):\n{excerpt}");
    }
    s
}

/// `since baseline: …` and `deploy gate: …` lines, when those are on.
fn extra_notes(r: &CheckResult) -> String {
    let mut s = String::new();
    if let Some(c) = &r.baseline {
        let note = crate::model::change_note(c, r.duration);
        if !note.is_empty() {
            let _ = writeln!(s, "since baseline: {note}");
        }
    }
    if let Some(g) = &r.gate {
        let _ = writeln!(s, "deploy gate: {}", crate::model::gate_note(g));
    }
    s
}

fn status(r: &CheckResult, fail_on_warn: bool) -> TestCaseStatus {
    if r.status == Status::Skip {
        // `<skipped message="blocked by …">` with the explanation in the body (GitLab).
        let mut st = TestCaseStatus::skipped();
        st.set_message(xml(&r.message))
            .set_type(r.reason.map_or("unknown", Reason::code))
            .set_description(xml(&description(r)));
        return st;
    }
    let failed = match r.status {
        Status::Pass | Status::Waived | Status::Skip => false,
        Status::Warn => fail_on_warn,
        Status::Fail => true,
    };
    let mut st = if failed {
        let kind = match r.status {
            Status::Warn => NonSuccessKind::Failure,
            _ => kind_of(r.reason),
        };
        let mut st = TestCaseStatus::non_success(kind);
        st.set_message(xml(&r.message))
            .set_type(r.reason.map_or("unknown", Reason::code))
            .set_description(xml(&description(r)))
            .set_rerun_kind(FlakyOrRerun::Rerun);
        st
    } else {
        TestCaseStatus::success()
    };
    st.add_reruns(r.failed_attempts.iter().map(rerun));
    st
}

fn test_case(r: &CheckResult, fail_on_warn: bool) -> TestCase {
    let mut tc = TestCase::new(xml(&r.name), status(r, fail_on_warn));
    tc.set_classname(r.kind).set_time(r.duration);
    let mut out = String::new();
    if r.status == Status::Warn && !fail_on_warn {
        let code = r.reason.map_or("unknown", Reason::code);
        let _ = writeln!(out, "WARN [{code}]: {}", r.message.as_str());
        if let Some(excerpt) = body_excerpt(r) {
            let _ = writeln!(out, "response body (excerpt):\n{excerpt}");
        }
    }
    if r.status == Status::Waived {
        // A waived failure passes, with the failure and the waiver in `system-out`.
        let code = r.reason.map_or("unknown", Reason::code);
        let _ = writeln!(out, "WAIVED [{code}]: {}", r.message.as_str());
    }
    // The schema allows no properties on a test case: the baseline and gate notes go to
    // `system-out` (and into the failure text, see `description`).
    out.push_str(&extra_notes(r));
    if !out.is_empty() {
        tc.set_system_out(xml(&out));
    }
    tc.extra
        .insert(XmlString::new("file"), xml(&r.location.file));
    tc.extra.insert(
        XmlString::new("line"),
        XmlString::new(r.location.line.max(1).to_string()),
    );
    tc
}

/// Render the JUnit document.
pub fn render(summary: &Summary) -> Result<Vec<u8>, RenderError> {
    let mut suite = TestSuite::new(xml(&summary.environment));
    if let Some(ts) = timestamp(summary.started_at) {
        suite.set_timestamp(ts);
    }
    suite.set_time(summary.duration);
    suite.add_property(Property::new("environment", xml(&summary.environment)));
    suite.add_property(Property::new("config", xml(&summary.config_path)));
    suite.add_property(Property::new("status", super::verdict(summary)));
    suite.add_property(Property::new("fail_on", summary.fail_on.as_str()));
    if let Some(b) = &summary.baseline {
        suite.add_property(Property::new("baseline", xml(&b.path)));
        suite.add_property(Property::new("baseline.started_at", xml(&b.started_at)));
        for (name, n) in [
            ("baseline.new", b.new),
            ("baseline.still", b.still),
            ("baseline.recovered", b.recovered),
            ("baseline.unchanged", b.unchanged),
            ("baseline.latency_regressions", b.latency_regressions),
            ("baseline.removed", b.removed.len()),
        ] {
            suite.add_property(Property::new(name, n.to_string()));
        }
    }
    if let Some(g) = &summary.gate {
        suite.add_property(Property::new("gate.healthy", g.healthy.to_string()));
        suite.add_property(Property::new("gate.rounds", g.rounds.to_string()));
        if let Some(after) = g.healthy_after {
            suite.add_property(Property::new(
                "gate.healthy_after_ms",
                after.as_millis().to_string(),
            ));
        }
    }
    suite.add_test_cases(
        summary
            .results
            .iter()
            .map(|r| test_case(r, summary.fail_on_warn)),
    );
    let mut report = Report::new("infracheck");
    if let Some(ts) = timestamp(summary.started_at) {
        report.set_timestamp(ts);
    }
    report.set_time(summary.duration);
    report.add_test_suite(suite);
    let mut out = Vec::new();
    report.serialize(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn snapshot() {
        let xml = String::from_utf8(render(&fixture::summary()).unwrap()).unwrap();
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn classes_warn_and_retries() {
        let xml = String::from_utf8(render(&fixture::summary()).unwrap()).unwrap();
        assert!(
            xml.contains(r#"<failure message="expected status 200, got 503" type="http.status">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<error message="connection refused" type="connect.refused">"#),
            "{xml}"
        );
        assert!(xml.contains("<flakyError"), "{xml}");
        assert!(xml.contains("<rerunFailure"), "{xml}");
        assert!(xml.contains(r#"file="infracheck.yaml" line="12""#), "{xml}");
        assert!(xml.contains("<system-out>WARN [http.body]"), "{xml}");
        assert!(!xml.contains("<script>"), "{xml}");

        let mut s = fixture::summary();
        s.fail_on_warn = true;
        let xml = String::from_utf8(render(&s).unwrap()).unwrap();
        assert!(
            xml.contains(
                r#"<failure message="body does not contain &quot;Sign in&quot;" type="http.body">"#
            ),
            "{xml}"
        );
    }

    #[test]
    fn invalid_xml_characters_are_removed() {
        let mut s = fixture::summary();
        if let Some(r) = s.results.first_mut() {
            r.name = "bad\u{0}\u{1b}[31m\u{fffe}name".to_owned();
        }
        let xml = String::from_utf8(render(&s).unwrap()).unwrap();
        assert!(xml.contains(r#"name="bad\u{0}\u{1b}[31mname""#), "{xml}");
    }

    #[test]
    fn a_control_character_cannot_unmask_a_workflow_command() {
        for prefix in [
            "\u{1b}[1G",
            "\u{0}",
            "\u{8}",
            "\u{7}",
            "\u{1b}]0;x\u{7}",
            "\u{1b}[2K\r",
        ] {
            let mut s = fixture::summary();
            if let Some(r) = s.results.first_mut() {
                r.message = format!("{prefix}::add-mask::forged\n{prefix}::error::x").into();
                r.name = format!("{prefix}::error::n");
            }
            let xml = String::from_utf8(render(&s).unwrap()).unwrap();
            for line in xml.lines() {
                assert!(!line.trim_start().starts_with("::"), "{prefix:?}: {line:?}");
            }
            assert!(
                xml.contains("\\u{1b}")
                    || xml.contains("\\u{0}")
                    || xml.contains("\\u{8}")
                    || xml.contains("\\u{7}"),
                "{xml}"
            );
        }
    }
}
