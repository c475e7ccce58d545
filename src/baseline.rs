//! Baseline comparison (`--baseline previous.json`): what changed since an earlier run of the
//! same environment.
//!
//! Each result is classified by whether it is *failing* now and was failing in the baseline:
//! NEW (failing now, not before — also a failing check the baseline does not have), STILL
//! (failing in both), RECOVERED (failing before, not now) or unchanged. Failing means the run
//! does not count the result as passed: FAIL, SKIP and WARN under `--fail-on-warn`; a WAIVED
//! result is a failure too, but one that does not fail the run (the run's policy classifies:
//! `crate::policy::Policy::classify`). A baseline
//! result cut short by that run's deadline or a signal counts as absent.
//!
//! On top of that, a check that passed in both runs and became slower than `factor` times its
//! baseline duration (and by at least `min_increase`, so a 1 ms → 3 ms blip is no regression)
//! is a latency regression, and every certificate a check saw gets a countdown: the days left
//! now and in the baseline, and whether it was renewed in between.
//!
//! `--fail-on new` makes only NEW failures fail the run (see `crate::policy`); the default stays
//! "any FAIL".
//!
//! The comparison runs on the results before they are redacted: a baseline document holds the
//! names as that run reported them, so each check is looked up by its name as reported
//! (`shown`, [`Baseline::matches`]), and the results are redacted afterwards.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::model::{
    BaselineSummary, CertCountdown, Change, FailOn, ResultChange, cert_note, change_note,
};
use crate::model::{CheckResult, Document, DocumentSeed, Status, Summary};

/// How latency regressions are judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Slower than this many times the baseline duration (> 1).
    pub latency_factor: f64,
    /// …and slower by at least this much.
    pub latency_min_increase: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency_factor: DEFAULT_LATENCY_FACTOR,
            latency_min_increase: DEFAULT_LATENCY_MIN_INCREASE,
        }
    }
}

/// `--latency-factor` default.
pub const DEFAULT_LATENCY_FACTOR: f64 = 2.0;
/// `--latency-min-increase` default.
pub const DEFAULT_LATENCY_MIN_INCREASE: Duration = Duration::from_millis(100);

/// A loaded baseline document.
#[derive(Debug, Clone)]
pub struct Baseline {
    path: String,
    environment: String,
    started_at: OffsetDateTime,
    results: Vec<CheckResult>,
}

/// Why a baseline cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Unreadable, not an infracheck JSON document, or from a newer version.
    #[error("baseline {path}: {message}")]
    Document {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A document of another environment.
    #[error(
        "baseline {path}: environment `{found}` differs from this run's `{expected}` (a baseline must come from an earlier run of the same environment)"
    )]
    Environment {
        /// The path as given.
        path: String,
        /// The document's environment.
        found: String,
        /// This run's.
        expected: String,
    },
}

impl Baseline {
    /// Read a JSON document written by `run --json` (or `--output json`). The document is
    /// untrusted input: every problem is an error naming the file.
    /// `seed`: the check kinds and the reasons its results may name.
    pub fn load(path: &Path, seed: DocumentSeed<'_>) -> Result<Self, BaselineError> {
        let shown = path.display().to_string();
        let error = |message: String| BaselineError::Document {
            path: shown.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?;
        let doc = Document::from_json(&bytes, seed).map_err(error)?;
        let started_at = doc.started_at().map_err(error)?;
        Ok(Baseline {
            path: shown.clone(),
            environment: doc.environment.into_owned(),
            started_at,
            results: doc.results.into_owned(),
        })
    }

    /// The baseline results a current result can be compared with, by name: not those cut
    /// short by the baseline run's deadline or a signal, and not a name that the baseline or
    /// `current` (this run's names, as reported) holds more than once — an ambiguous match
    /// (two checks whose names redact alike, a hostile document) counts as absent, so a
    /// failure of such a check is NEW, never silently STILL.
    pub fn lookup<'c>(&self, current: impl IntoIterator<Item = &'c str>) -> Lookup<'_> {
        let mut now: HashMap<&str, usize> = HashMap::new();
        for n in current {
            *now.entry(n).or_default() += 1;
        }
        let mut before: HashMap<&str, usize> = HashMap::new();
        for r in &self.results {
            *before.entry(r.name.as_str()).or_default() += 1;
        }
        let previous = self
            .results
            .iter()
            .filter(|r| {
                !r.cut_short()
                    && before.get(r.name.as_str()) == Some(&1)
                    && now.get(r.name.as_str()).is_none_or(|n| *n == 1)
            })
            .map(|r| (r.name.as_str(), r))
            .collect();
        Lookup { previous }
    }

    /// The baseline result each of this run's checks `names` is compared with (in the order
    /// of `names`), looked up by the name as reported, `shown(name)` (see [`Baseline::lookup`]):
    /// the one keying of the comparison and of the deploy gate's known failures, before the
    /// results are redacted.
    pub fn matches(
        &self,
        names: &[&str],
        shown: &dyn Fn(&str) -> String,
    ) -> Vec<Option<&CheckResult>> {
        let shown: Vec<String> = names.iter().map(|n| shown(n)).collect();
        let lookup = self.lookup(shown.iter().map(String::as_str));
        shown
            .iter()
            .map(|n| lookup.previous.get(n.as_str()).copied())
            .collect()
    }

    /// The baseline of a first run: `path` does not exist yet, so nothing is known and every
    /// failure is NEW.
    pub fn first_run(path: &Path, environment: &str) -> Self {
        Baseline {
            path: path.display().to_string(),
            environment: environment.to_owned(),
            started_at: OffsetDateTime::now_utc(),
            results: Vec::new(),
        }
    }

    /// A baseline built in memory (unit tests of the reporters).
    #[cfg(test)]
    pub(crate) fn for_tests(environment: &str, results: Vec<CheckResult>) -> Self {
        Baseline {
            path: "prev.json".to_owned(),
            environment: environment.to_owned(),
            started_at: OffsetDateTime::UNIX_EPOCH,
            results,
        }
    }

    /// Refuse a baseline of another environment.
    pub fn check_environment(&self, environment: &str) -> Result<(), BaselineError> {
        if self.environment == environment {
            Ok(())
        } else {
            Err(BaselineError::Environment {
                path: self.path.clone(),
                found: self.environment.clone(),
                expected: environment.to_owned(),
            })
        }
    }
}

/// Baseline results by name, for comparison (see [`Baseline::lookup`]).
#[derive(Debug)]
pub struct Lookup<'a> {
    previous: HashMap<&'a str, &'a CheckResult>,
}

impl Lookup<'_> {
    /// The baseline result for the check called `name`, when there is exactly one usable.
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.previous.get(name).copied()
    }
}

fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (to - from).whole_days()
}

fn countdown(
    now: &CheckResult,
    now_start: OffsetDateTime,
    before: Option<&CheckResult>,
    before_start: OffsetDateTime,
) -> Option<CertCountdown> {
    let current = now.certificate_not_after()?;
    let previous = before.and_then(CheckResult::certificate_not_after);
    Some(CertCountdown {
        days_left: days_between(now_start, current),
        not_after: current.format(&Rfc3339).unwrap_or_default(),
        previous_days_left: previous.map(|p| days_between(before_start, p)),
        previous_not_after: previous.and_then(|p| p.format(&Rfc3339).ok()),
        renewed: previous.is_some_and(|p| current > p),
    })
}

fn ratio(now: Duration, before: Duration) -> Option<f64> {
    let before = before.as_secs_f64();
    if before <= 0.0 {
        return None;
    }
    Some((now.as_secs_f64() / before * 100.0).round() / 100.0)
}

/// Compare the results of `summary` with `baseline`: sets every result's `baseline` and the
/// summary's. `classify`: the run policy's classification of a status after the baseline's;
/// `shown`: a name as reported (redacted), as the baseline document holds names. What this
/// copies from the document (`path`, `removed`) is redacted with the results afterwards.
pub fn apply(
    summary: &mut Summary,
    baseline: &Baseline,
    options: Options,
    classify: &dyn Fn(Status, Option<Status>) -> Change,
    shown: &dyn Fn(&str) -> String,
) {
    let names: Vec<&str> = summary.results.iter().map(|r| r.name.as_str()).collect();
    let previous = baseline.matches(&names, shown);
    let mut totals = BaselineSummary {
        path: baseline.path.clone(),
        started_at: baseline.started_at.format(&Rfc3339).unwrap_or_default(),
        new: 0,
        still: 0,
        recovered: 0,
        unchanged: 0,
        not_in_baseline: 0,
        removed: Vec::new(),
        latency_regressions: 0,
        latency_factor: options.latency_factor,
        latency_min_increase: options.latency_min_increase,
    };
    let started_at = summary.started_at;
    for (r, before) in summary.results.iter_mut().zip(previous) {
        let change = classify(r.status, before.map(|b| b.status));
        let comparable = before.filter(|b| {
            r.status.ran_well() && b.status.ran_well() && r.attempts > 0 && b.attempts > 0
        });
        let latency_ratio = comparable.and_then(|b| ratio(r.duration, b.duration));
        let latency_regression = comparable.is_some_and(|b| {
            r.duration.as_secs_f64() > b.duration.as_secs_f64() * options.latency_factor
                && r.duration.saturating_sub(b.duration) >= options.latency_min_increase
        });
        match change {
            Change::New => totals.new += 1,
            Change::Still => totals.still += 1,
            Change::Recovered => totals.recovered += 1,
            Change::Unchanged => totals.unchanged += 1,
        }
        if before.is_none() {
            totals.not_in_baseline += 1;
        }
        if latency_regression {
            totals.latency_regressions += 1;
        }
        r.baseline = Some(Box::new(ResultChange {
            change,
            previous_status: before.map(|b| b.status),
            previous_duration: before.map(|b| b.duration),
            latency_ratio,
            latency_regression,
            certificate: countdown(r, started_at, before, baseline.started_at),
        }));
    }
    // A shard or a selection covers part of the environment: a check it did not run may
    // still be in the config, so only a whole run says what was removed.
    if summary.shard.is_none() && summary.selection.is_none() {
        let current: HashSet<String> = summary.results.iter().map(|r| shown(&r.name)).collect();
        let mut listed: HashSet<&str> = HashSet::new();
        totals.removed = baseline
            .results
            .iter()
            .filter(|b| !current.contains(&b.name) && listed.insert(b.name.as_str()))
            .map(|b| b.name.clone())
            .collect();
    }
    summary.baseline = Some(totals);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn policy(s: &Summary) -> crate::policy::Policy {
        crate::policy::Policy::new(s.fail_on_warn, s.fail_on, true)
    }

    fn compare(s: &mut Summary, b: &Baseline) {
        let policy = policy(s);
        apply(
            s,
            b,
            Options::default(),
            &|now, before| policy.classify(now, before),
            &str::to_owned,
        );
    }

    fn baseline_of(results: Vec<CheckResult>) -> Baseline {
        Baseline::for_tests("prod", results)
    }

    /// The fixture run with the results `now`, compared with a baseline of `before`.
    fn compared(now: Vec<CheckResult>, before: Vec<CheckResult>) -> Summary {
        let mut s = fixture::summary();
        s.results = now;
        compare(&mut s, &baseline_of(before));
        s
    }

    /// `field` of each result's comparison with the baseline, in result order.
    fn each<T>(s: &Summary, field: impl Fn(&ResultChange) -> T) -> Vec<T> {
        s.results
            .iter()
            .map(|r| field(r.baseline.as_ref().unwrap()))
            .collect()
    }

    fn with(name: &str, status: Status, ms: u64) -> CheckResult {
        let mut r = fixture::summary().results[0].clone();
        r.name = name.to_owned();
        r.status = status;
        r.reason = (status != Status::Pass).then_some(crate::model::Reason::HttpStatus);
        r.duration = Duration::from_millis(ms);
        r.attempts = 1;
        r.metadata.clear();
        r
    }

    #[test]
    fn classifies_new_still_recovered_unchanged() {
        let s = compared(
            vec![
                with("a", Status::Fail, 10),
                with("b", Status::Fail, 10),
                with("c", Status::Pass, 10),
                with("d", Status::Pass, 10),
                with("e", Status::Fail, 10),
                with("f", Status::Waived, 10),
            ],
            vec![
                with("a", Status::Pass, 10),
                with("b", Status::Fail, 10),
                with("c", Status::Skip, 10),
                with("d", Status::Pass, 10),
                with("f", Status::Fail, 10),
                with("gone", Status::Pass, 10),
            ],
        );
        use Change::*;
        assert_eq!(
            each(&s, |c| c.change),
            [New, Still, Recovered, Unchanged, New, Still]
        );
        let t = s.baseline.as_ref().unwrap();
        assert_eq!((t.new, t.still, t.recovered, t.unchanged), (2, 2, 1, 1));
        assert_eq!(t.not_in_baseline, 1);
        assert_eq!(t.removed, ["gone"]);
        assert_eq!(
            s.results[4].baseline.as_ref().unwrap().previous_status,
            None
        );
    }

    #[test]
    fn a_selected_run_lists_no_removed_checks() {
        let mut s = fixture::summary();
        s.results = vec![with("a", Status::Pass, 10)];
        s.selection = Some(crate::model::SelectionRun {
            only: vec!["a".to_owned()],
            total_checks: 2,
            selected: 1,
            ..Default::default()
        });
        // `b` was not selected, not removed from the config.
        let b = baseline_of(vec![
            with("a", Status::Pass, 10),
            with("b", Status::Pass, 10),
        ]);
        compare(&mut s, &b);
        assert!(s.baseline.as_ref().unwrap().removed.is_empty());
    }

    #[test]
    fn cut_short_baselines_count_as_absent() {
        use Status::*;
        // A baseline result cut short by its deadline tells nothing: the failure now is NEW.
        let mut s = fixture::summary();
        s.results = vec![with("a", Fail, 10)];
        let mut cut = with("a", Fail, 10);
        cut.reason = Some(crate::model::Reason::TimeoutDeadline);
        let b = baseline_of(vec![cut]);
        assert!(b.lookup(["a"]).get("a").is_none());
        compare(&mut s, &b);
        let c = s.results[0].baseline.as_ref().unwrap();
        assert_eq!((c.change, c.previous_status), (Change::New, None));
    }

    #[test]
    fn ambiguous_names_count_as_absent() {
        use Status::*;
        // The baseline holds `x` twice (hostile, or two names that redact alike).
        let b = baseline_of(vec![
            with("x", Fail, 10),
            with("x", Pass, 10),
            with("y", Fail, 10),
            with("gone", Pass, 10),
            with("gone", Pass, 10),
        ]);
        let mut s = fixture::summary();
        s.results = vec![
            with("x", Fail, 10),
            with("y", Fail, 10),
            with("y", Fail, 10),
        ];
        s.fail_on = FailOn::New;
        compare(&mut s, &b);
        assert_eq!(
            each(&s, |c| c.change),
            [Change::New, Change::New, Change::New]
        );
        assert!(
            !policy(&s).judge(&s).passed(),
            "an ambiguous match never hides a failure"
        );
        assert_eq!(
            s.baseline.as_ref().unwrap().removed,
            ["gone"],
            "listed once"
        );
    }

    #[test]
    fn fail_on_new_fails_only_for_new_failures() {
        let mut s = fixture::summary();
        s.results = vec![with("a", Status::Fail, 10), with("b", Status::Pass, 10)];
        s.fail_on = FailOn::New;
        let b = baseline_of(vec![
            with("a", Status::Fail, 10),
            with("b", Status::Pass, 10),
        ]);
        compare(&mut s, &b);
        assert!(
            policy(&s).judge(&s).passed(),
            "a STILL failure does not fail --fail-on new"
        );
        s.results[1] = with("b", Status::Fail, 10);
        compare(&mut s, &b);
        assert!(!policy(&s).judge(&s).passed(), "a NEW failure does");
        s.fail_on = FailOn::Any;
        s.results[1] = with("b", Status::Pass, 10);
        compare(&mut s, &b);
        assert!(
            !policy(&s).judge(&s).passed(),
            "the default fails on any FAIL"
        );
    }

    #[test]
    fn latency_regression_needs_factor_and_minimum_increase() {
        let s = compared(
            vec![
                with("slow", Status::Pass, 900),
                with("blip", Status::Pass, 3),
                with("same", Status::Pass, 150),
                with("failing", Status::Fail, 5000),
            ],
            vec![
                with("slow", Status::Pass, 100),
                with("blip", Status::Pass, 1),
                with("same", Status::Pass, 100),
                with("failing", Status::Pass, 10),
            ],
        );
        assert_eq!(
            each(&s, |c| c.latency_regression),
            [true, false, false, false]
        );
        let slow = s.results[0].baseline.as_ref().unwrap();
        assert_eq!(slow.latency_ratio, Some(9.0));
        assert_eq!(
            change_note(slow, s.results[0].duration),
            "slower: 100 ms → 900 ms (×9)"
        );
        assert_eq!(s.baseline.as_ref().unwrap().latency_regressions, 1);
    }

    #[test]
    fn certificate_countdown_and_renewal() {
        let mut s = fixture::summary();
        s.started_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(100);
        let mut now = with("tls", Status::Pass, 10);
        now.metadata.insert(
            "not_after".to_owned(),
            serde_json::json!("1970-07-20T00:00:00Z"),
        );
        s.results = vec![now];
        let mut before = with("tls", Status::Pass, 10);
        before.metadata.insert(
            "not_after".to_owned(),
            serde_json::json!("1970-01-11T00:00:00Z"),
        );
        compare(&mut s, &baseline_of(vec![before]));
        let cert = s.results[0]
            .baseline
            .as_ref()
            .unwrap()
            .certificate
            .clone()
            .unwrap();
        assert_eq!(cert.days_left, 100);
        assert_eq!(cert.previous_days_left, Some(10));
        assert!(cert.renewed);
        assert_eq!(
            cert_note(&cert),
            "certificate renewed: 100 days left (was 10)"
        );
    }

    #[test]
    fn another_environment_is_refused() {
        let b = baseline_of(Vec::new());
        let err = b.check_environment("stage").unwrap_err().to_string();
        assert!(
            err.contains("prev.json") && err.contains("`prod`") && err.contains("`stage`"),
            "{err}"
        );
    }
}
