use super::*;
use crate::model::{Interruption, ResultChange, Rule};
use Status::*;

const ALL: [Status; 5] = [Pass, Warn, Fail, Skip, Waived];

fn result(name: &str, status: Status) -> CheckResult {
    let mut r = crate::report::fixture::summary().results[0].clone();
    r.name = name.to_owned();
    r.status = status;
    r
}

fn changed(mut r: CheckResult, change: Change) -> CheckResult {
    r.baseline = Some(Box::new(ResultChange {
        change,
        previous_status: None,
        previous_duration: None,
        latency_ratio: None,
        latency_regression: false,
        certificate: None,
    }));
    r
}

#[test]
fn truth_table_of_breaks_healthy_and_ran_well() {
    // (status, breaks, breaks under --fail-on-warn, healthy, healthy under --fail-on-warn)
    let table = [
        (Pass, false, false, true, true),
        (Warn, false, true, true, false),
        (Fail, true, true, false, false),
        (Skip, true, true, false, false),
        (Waived, false, false, false, false),
    ];
    let (lax, strict) = (
        Policy::new(false, FailOn::Any, false),
        Policy::new(true, FailOn::Any, false),
    );
    for (s, breaks, breaks_strict, healthy, healthy_strict) in table {
        assert_eq!(lax.breaks(s), breaks, "{s:?}");
        assert_eq!(strict.breaks(s), breaks_strict, "{s:?}");
        assert_eq!(lax.healthy(s), healthy, "{s:?}");
        assert_eq!(strict.healthy(s), healthy_strict, "{s:?}");
        assert_eq!(Rule::ran_well(s), matches!(s, Pass | Warn), "{s:?}");
    }
}

#[test]
fn classification_table() {
    let p = Policy::new(false, FailOn::Any, true);
    let strict = Policy::new(true, FailOn::Any, true);
    // (now, before, change)
    let table = [
        (Fail, Some(Pass), Change::New),
        (Fail, None, Change::New),
        (Fail, Some(Fail), Change::Still),
        // An expired waiver: WAIVED before, FAIL now is a NEW failure.
        (Fail, Some(Waived), Change::New),
        // A SKIP proved nothing: failing now is NEW, still blocked is STILL.
        (Fail, Some(Skip), Change::New),
        (Skip, Some(Skip), Change::Still),
        (Skip, Some(Fail), Change::Still),
        (Waived, Some(Fail), Change::Still),
        (Waived, Some(Pass), Change::New),
        (Pass, Some(Waived), Change::Recovered),
        (Pass, Some(Skip), Change::Recovered),
        (Pass, Some(Fail), Change::Recovered),
        (Pass, Some(Pass), Change::Unchanged),
        (Warn, Some(Pass), Change::Unchanged),
        (Pass, None, Change::Unchanged),
    ];
    for (now, before, change) in table {
        assert_eq!(p.classify(now, before), change, "{now:?} after {before:?}");
    }
    assert_eq!(strict.classify(Warn, Some(Pass)), Change::New);
    assert_eq!(strict.classify(Pass, Some(Warn)), Change::Recovered);
}

#[test]
fn fails_run_and_verdict() {
    let mut s = crate::report::fixture::summary();
    for status in ALL {
        s.results = vec![result("a", status)];
        let p = Policy::of(&s);
        assert_eq!(p.fails_run(&s.results[0]), matches!(status, Fail | Skip));
        let want = match status {
            Pass => Verdict::Passed,
            Warn | Waived => Verdict::Warned,
            Fail | Skip => Verdict::Failed,
        };
        assert_eq!(p.verdict(&s), want, "{status:?}");
        s.fail_on_warn = true;
        assert_eq!(Policy::of(&s).passed(&s), matches!(status, Pass | Waived));
        s.fail_on_warn = false;
    }
    s.results = vec![result("a", Pass)];
    s.interrupted = Some(Interruption::Deadline);
    assert_eq!(Policy::of(&s).verdict(&s), Verdict::Failed);
}

#[test]
fn fail_on_new_accepts_known_failures_only_with_a_baseline() {
    let mut s = crate::report::fixture::summary();
    s.results = vec![changed(result("a", Fail), Change::Still), result("b", Pass)];
    s.fail_on = FailOn::New;
    // No baseline compared: `--fail-on new` changes nothing.
    assert!(!Policy::of(&s).passed(&s));
    s.baseline = Some(crate::model::BaselineSummary {
        path: "prev.json".to_owned(),
        started_at: String::new(),
        new: 0,
        still: 1,
        recovered: 0,
        unchanged: 1,
        not_in_baseline: 0,
        removed: Vec::new(),
        latency_regressions: 0,
        latency_factor: 2.0,
        latency_min_increase: std::time::Duration::ZERO,
    });
    let p = Policy::of(&s);
    assert!(p.passed(&s), "a STILL failure does not fail --fail-on new");
    assert_eq!(p.verdict(&s), Verdict::Warned);
    assert_eq!(p.known_failures(&s), Some(1));
    s.results[1] = changed(result("b", Fail), Change::New);
    assert!(!Policy::of(&s).passed(&s), "a NEW failure does");
    s.fail_on = FailOn::Any;
    s.results.truncate(1);
    assert!(!Policy::of(&s).passed(&s), "the default fails on any FAIL");
    assert_eq!(Policy::of(&s).known_failures(&s), None);
}

/// The waivers of a config that waives `pay-*` (its check `pay-api`) until 2026-12-31.
fn pay_waivers() -> Vec<crate::waiver::Waiver> {
    crate::testing::plan(
        "waivers:\n  - {check: \"pay-*\", reason: outage, expires: 2026-12-31}\nenvironments:\n  t:\n    http_checks:\n      - {name: pay-api, url: \"http://127.0.0.1:1/\"}\n",
    )
    .waivers
}

/// The default policy (any FAIL fails the run) with `waivers`, judged on `day`.
fn waiving(waivers: &[crate::waiver::Waiver], day: &str) -> Policy {
    Policy::new(false, FailOn::Any, false)
        .with_waivers(waivers, crate::waiver::parse_date(day).unwrap())
}

#[test]
fn status_after_waivers_is_what_the_report_will_say() {
    let waivers = pay_waivers();
    let p = waiving(&waivers, "2026-12-31");
    assert_eq!(p.status_after_waivers(&result("pay-api", Skip)), Waived);
    assert_eq!(p.status_after_waivers(&result("pay-api", Fail)), Waived);
    assert_eq!(p.status_after_waivers(&result("pay-api", Warn)), Warn);
    assert_eq!(p.status_after_waivers(&result("other", Fail)), Fail);
    let mut results = vec![result("pay-api", Skip)];
    let today = crate::waiver::parse_date("2026-12-31").unwrap();
    crate::waiver::apply(&mut results, &waivers, today, &["pay-api"], false);
    assert_eq!(results[0].status, Waived, "the report agrees");
}

#[test]
fn accepted_by_waivers_and_by_the_baseline() {
    let waivers = pay_waivers();
    let p = waiving(&waivers, "2026-12-31");
    assert!(p.accepted(&result("pay-api", Fail)));
    assert!(p.accepted(&result("pay-api", Skip)));
    assert!(
        !p.accepted(&result("pay-api", Warn)),
        "a WARN is never waived"
    );
    assert!(!p.accepted(&result("other", Fail)));
    assert!(p.accepted(&result("other", Waived)));
    let expired = waiving(&waivers, "2027-01-01");
    assert!(!expired.accepted(&result("pay-api", Fail)));

    let b = Baseline::for_tests("t", vec![result("a", Fail), result("w", Warn)]);
    let names = |ns: &[&str]| -> Vec<(String, String)> {
        ns.iter()
            .map(|n| ((*n).to_owned(), (*n).to_owned()))
            .collect()
    };
    let known = Policy::new(false, FailOn::New, true).with_baseline(&b, &names(&["a", "w", "n"]));
    assert!(known.accepted(&result("a", Fail)), "STILL failing");
    assert!(!known.accepted(&result("n", Fail)), "NEW");
    assert!(!known.accepted(&result("w", Warn)), "a WARN is no failure");
    let strict = Policy::new(true, FailOn::New, true).with_baseline(&b, &names(&["a", "w"]));
    assert!(strict.accepted(&result("w", Warn)));
    let any = Policy::new(false, FailOn::Any, true).with_baseline(&b, &names(&["a"]));
    assert!(
        !any.accepted(&result("a", Fail)),
        "only under --fail-on new"
    );
}
