use super::*;
use crate::model::{Judgement, Status, Verdict};
use crate::report::formats::{FORMATS, Settings};
use crate::report::{Context, RepoPaths, fixture};

/// The fixture run with every result PASS, judged as a run stores it.
fn passing() -> Summary {
    let mut s = fixture::summary();
    for r in &mut s.results {
        r.status = Status::Pass;
        r.reason = None;
    }
    fixture::judged(s)
}

fn rendered(s: &Summary) -> Vec<(&'static str, Vec<u8>)> {
    let paths = RepoPaths::new("/repo".into(), "/repo".into());
    let cx = Context {
        summary: s,
        paths: &paths,
        written: &[],
    };
    FORMATS
        .iter()
        .map(|f| {
            (
                f.name,
                (f.reporter)(&Settings::default()).render(&cx).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_exit_code_and_the_reporters_read_the_one_stored_verdict() {
    let passed = passing();
    assert_eq!(passed.judgement.verdict, Verdict::Passed);
    assert_eq!(exit_code(&passed, None, false), ExitCode::Ok);
    // The same results under a stored verdict of FAILED: nothing judges them again, so the
    // exit code and every report that shows a verdict follow the stored one.
    let mut failed = passed.clone();
    failed.judgement = Judgement {
        verdict: Verdict::Failed,
        known_failures: None,
    };
    assert_eq!(exit_code(&failed, None, false), ExitCode::ChecksFailed);
    let (before, after) = (rendered(&passed), rendered(&failed));
    let follows: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, _), _)| *name)
        .collect();
    // SARIF and Code Quality list findings only: they show no run-level verdict.
    assert_eq!(
        follows,
        [
            "text",
            "json",
            "junit",
            "markdown",
            "prometheus",
            "html",
            "tap"
        ]
    );
    let json: serde_json::Value =
        serde_json::from_slice(&after.iter().find(|(n, _)| *n == "json").unwrap().1).unwrap();
    assert_eq!(json["status"], "failed");
    let text = String::from_utf8_lossy(&after[0].1).into_owned();
    assert!(text.contains(": FAILED"), "{text}");
}

#[test]
fn known_failures_are_read_from_the_stored_verdict() {
    let mut s = passing();
    s.judgement = Judgement {
        verdict: Verdict::Warned,
        known_failures: Some(2),
    };
    assert_eq!(exit_code(&s, None, false), ExitCode::Ok);
    let text = String::from_utf8_lossy(&rendered(&s)[0].1).into_owned();
    assert!(
        text.contains("(--fail-on new: 2 known failures since the baseline)"),
        "{text}"
    );
}

#[test]
fn one_exit_code_for_signals_deadlines_failures_and_report_errors() {
    let passed = passing();
    assert_eq!(exit_code(&passed, None, true), ExitCode::ReportWrite);
    // A signal received while the reports were written decides, whatever the verdict.
    assert_eq!(
        exit_code(&passed, Some(Interruption::Sigterm), false),
        ExitCode::Terminated
    );
    let mut cut = passed.clone();
    cut.interrupted = Some(Interruption::Sigint);
    assert_eq!(exit_code(&cut, None, true), ExitCode::Interrupted);
    // The deadline is a failed run, judged so: the stored verdict says it.
    let mut late = passed;
    late.interrupted = Some(Interruption::Deadline);
    let late = fixture::judged(late);
    assert_eq!(late.judgement.verdict, Verdict::Failed);
    assert_eq!(exit_code(&late, None, true), ExitCode::ChecksFailed);
}
