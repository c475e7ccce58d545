//! Baseline comparison (`--baseline previous.json`): what changed since an earlier run of the
//! same environment.
//!
//! Each result is classified by whether it is *failing* now and was failing in the baseline:
//! NEW (failing now, not before — also a failing check the baseline does not have), STILL
//! (failing in both), RECOVERED (failing before, not now) or unchanged. Failing means the run
//! does not count the result as passed: FAIL, SKIP and WARN under `--fail-on-warn`; a WAIVED
//! result is a failure too, but one that does not fail the run (see [`classify`]). A baseline
//! result cut short by that run's deadline or a signal counts as absent.
//!
//! On top of that, a check that passed in both runs and became slower than `factor` times its
//! baseline duration (and by at least `min_increase`, so a 1 ms → 3 ms blip is no regression)
//! is a latency regression, and every certificate a check saw gets a countdown: the days left
//! now and in the baseline, and whether it was renewed in between.
//!
//! `--fail-on new` makes only NEW failures fail the run (see
//! [`Summary::passed`](crate::model::Summary::passed)); the default stays "any FAIL".

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::merge::{self, MergeError};
use crate::model::{CheckResult, Status, Summary};

/// Which failures fail the run (`--fail-on`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any FAIL or SKIP (and WARN under `--fail-on-warn`): the default.
    #[default]
    Any,
    /// Only NEW failures: those that passed in the `--baseline` run (or are not in it).
    New,
}

impl FailOn {
    /// The flag value, `any` or `new`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Any => "any",
            FailOn::New => "new",
        }
    }
}

/// How a result changed since the baseline. Serialised as its report label (`NEW`, `STILL`,
/// `RECOVERED`, `unchanged`), the same word every report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Change {
    /// Failing now; passing in the baseline, or not in it.
    #[serde(rename = "NEW")]
    New,
    /// Failing now and in the baseline.
    #[serde(rename = "STILL")]
    Still,
    /// Passing now, failing in the baseline.
    #[serde(rename = "RECOVERED")]
    Recovered,
    /// Passing now and in the baseline (or not in it).
    #[serde(rename = "unchanged")]
    Unchanged,
}

impl Change {
    /// The label used in the reports: `NEW`, `STILL`, `RECOVERED`, `unchanged`.
    pub fn label(self) -> &'static str {
        match self {
            Change::New => "NEW",
            Change::Still => "STILL",
            Change::Recovered => "RECOVERED",
            Change::Unchanged => "unchanged",
        }
    }
}

/// A certificate's countdown: days left now and in the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertCountdown {
    /// Whole days from this run's start to the certificate's notAfter (negative: expired).
    pub days_left: i64,
    /// The certificate's notAfter (RFC 3339).
    pub not_after: String,
    /// Days left at the baseline run's start, when the baseline saw a certificate.
    pub previous_days_left: Option<i64>,
    /// The baseline's notAfter.
    pub previous_not_after: Option<String>,
    /// A later notAfter than in the baseline: the certificate was renewed.
    pub renewed: bool,
}

/// The comparison of one result with the baseline (JSON `results[].baseline`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultChange {
    /// NEW, STILL, RECOVERED or unchanged.
    pub change: Change,
    /// The status in the baseline; `null` when the baseline does not have the check.
    pub previous_status: Option<Status>,
    /// The duration in the baseline.
    #[serde(
        rename = "previous_duration_ms",
        serialize_with = "crate::model::opt_ms::serialize"
    )]
    pub previous_duration: Option<Duration>,
    /// Now / before, when both ran (rounded to two decimals).
    pub latency_ratio: Option<f64>,
    /// Slower than `factor` × the baseline and by at least the minimum increase.
    pub latency_regression: bool,
    /// The certificate countdown, when the check saw a certificate.
    pub certificate: Option<CertCountdown>,
}

/// The run-level comparison (JSON `baseline`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineSummary {
    /// The baseline document's path as given.
    pub path: String,
    /// When the baseline run started (RFC 3339).
    pub started_at: String,
    /// Failing now, not before.
    pub new: usize,
    /// Failing now and before.
    pub still: usize,
    /// Passing now, failing before.
    pub recovered: usize,
    /// Neither.
    pub unchanged: usize,
    /// Checks of this run that the baseline does not have.
    pub not_in_baseline: usize,
    /// Checks of the baseline that this run does not have (empty for a `--shard` run, which
    /// sees only part of the checks).
    pub removed: Vec<String>,
    /// Results flagged as latency regressions.
    pub latency_regressions: usize,
    /// The `--latency-factor`.
    pub latency_factor: f64,
    /// The `--latency-min-increase`.
    #[serde(
        rename = "latency_min_increase_ms",
        serialize_with = "crate::model::ms::serialize"
    )]
    pub latency_min_increase: Duration,
}

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
    #[error("baseline {0}")]
    Document(#[from] MergeError),
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
    pub fn load(path: &Path) -> Result<Self, BaselineError> {
        let doc = merge::read_document(path)?;
        Ok(Baseline {
            path: path.display().to_string(),
            environment: doc.environment,
            started_at: doc.started_at,
            results: doc.results,
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

    /// Whether `r` is a failure the baseline already had (STILL): under `--fail-on new` it does
    /// not fail the run, and the deploy gate does not wait for it.
    pub fn known_failure(&self, r: &CheckResult, fail_on_warn: bool) -> bool {
        r.status.breaks_run(fail_on_warn)
            && classify(r.status, self.get(&r.name).map(|b| b.status), fail_on_warn)
                == Change::Still
    }
}

/// How a result changed. A result that fails the run is NEW unless it failed the baseline run
/// too (a WAIVED baseline result did not: when the waiver expires the failure is NEW, and
/// `--fail-on new` fails on it; a SKIP did only for a check that is still SKIP). A WAIVED result is STILL after a failure (waived or not) and
/// NEW after a pass. A passing result RECOVERED from a failure or a waived failure.
fn classify(now: Status, before: Option<Status>, fail_on_warn: bool) -> Change {
    // A SKIP in the baseline proved nothing about the check: only a check still blocked now is
    // STILL; one that runs and fails now is NEW.
    let before_breaks = match before {
        Some(Status::Skip) => now == Status::Skip,
        Some(b) => b.breaks_run(fail_on_warn),
        None => false,
    };
    // For a result that does not fail the run now, anything but a pass before counts.
    let before_bad = before
        .is_some_and(|b| b.breaks_run(fail_on_warn) || matches!(b, Status::Skip | Status::Waived));
    if now.breaks_run(fail_on_warn) {
        if before_breaks {
            Change::Still
        } else {
            Change::New
        }
    } else if now == Status::Waived {
        if before_bad {
            Change::Still
        } else {
            Change::New
        }
    } else if before_bad {
        Change::Recovered
    } else {
        Change::Unchanged
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
/// summary's.
pub fn apply(summary: &mut Summary, baseline: &Baseline, options: Options) {
    let fail_on_warn = summary.fail_on_warn;
    let previous = baseline.lookup(summary.results.iter().map(|r| r.name.as_str()));
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
    for r in &mut summary.results {
        let before = previous.get(&r.name);
        let change = classify(r.status, before.map(|b| b.status), fail_on_warn);
        let ran_well = |s: Status| matches!(s, Status::Pass | Status::Warn);
        let comparable = before.filter(|b| {
            ran_well(r.status) && ran_well(b.status) && r.attempts > 0 && b.attempts > 0
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
        r.baseline = Some(ResultChange {
            change,
            previous_status: before.map(|b| b.status),
            previous_duration: before.map(|b| b.duration),
            latency_ratio,
            latency_regression,
            certificate: countdown(r, summary.started_at, before, baseline.started_at),
        });
    }
    if summary.shard.is_none() {
        let current: HashSet<&str> = summary.results.iter().map(|r| r.name.as_str()).collect();
        let mut listed: HashSet<&str> = HashSet::new();
        totals.removed = baseline
            .results
            .iter()
            .filter(|b| !current.contains(b.name.as_str()) && listed.insert(b.name.as_str()))
            .map(|b| b.name.clone())
            .collect();
    }
    summary.baseline = Some(totals);
}

/// One line for a text or notice: `1 new failure, 2 still failing, 1 recovered, 3 unchanged,
/// 1 slower`.
pub fn counts_line(b: &BaselineSummary) -> String {
    let mut s = format!(
        "{} new failure{}, {} still failing, {} recovered, {} unchanged",
        b.new,
        if b.new == 1 { "" } else { "s" },
        b.still,
        b.recovered,
        b.unchanged
    );
    if b.latency_regressions > 0 {
        s.push_str(&format!(", {} slower", b.latency_regressions));
    }
    if !b.removed.is_empty() {
        s.push_str(&format!(", {} removed", b.removed.len()));
    }
    s
}

/// What a report shows next to a result: `NEW (was PASS)`, `slower 100ms → 900ms (×9)`,
/// `certificate 12 days left (was 40)`. Empty when nothing is worth saying.
pub fn result_note(c: &ResultChange, now: Duration) -> String {
    let mut parts = Vec::new();
    match c.change {
        Change::New => parts.push(match c.previous_status {
            Some(s) => format!("NEW (was {})", s.as_str()),
            None => "NEW (not in baseline)".to_owned(),
        }),
        Change::Still => parts.push(match c.previous_status {
            Some(s) => format!("STILL failing (was {})", s.as_str()),
            None => "STILL failing".to_owned(),
        }),
        Change::Recovered => parts.push(match c.previous_status {
            Some(s) => format!("RECOVERED (was {})", s.as_str()),
            None => "RECOVERED".to_owned(),
        }),
        Change::Unchanged => {}
    }
    if c.latency_regression
        && let Some(before) = c.previous_duration
    {
        let mut s = format!("slower: {}ms → {}ms", before.as_millis(), now.as_millis());
        if let Some(r) = c.latency_ratio {
            s.push_str(&format!(" (×{r})"));
        }
        parts.push(s);
    }
    if let Some(cert) = &c.certificate {
        parts.push(cert_note(cert));
    }
    parts.join("; ")
}

/// `certificate: 12 days left (was 40)`, `certificate renewed: 89 days left (was 3)`.
pub fn cert_note(c: &CertCountdown) -> String {
    let head = if c.renewed {
        "certificate renewed"
    } else {
        "certificate"
    };
    let mut s = if c.days_left < 0 {
        format!("{head}: expired {} days ago", -c.days_left)
    } else {
        format!("{head}: {} days left", c.days_left)
    };
    if let Some(p) = c.previous_days_left {
        s.push_str(&format!(" (was {p})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn baseline_of(results: Vec<CheckResult>) -> Baseline {
        Baseline::for_tests("prod", results)
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
        let mut s = fixture::summary();
        s.results = vec![
            with("a", Status::Fail, 10),
            with("b", Status::Fail, 10),
            with("c", Status::Pass, 10),
            with("d", Status::Pass, 10),
            with("e", Status::Fail, 10),
            with("f", Status::Waived, 10),
        ];
        let b = baseline_of(vec![
            with("a", Status::Pass, 10),
            with("b", Status::Fail, 10),
            with("c", Status::Skip, 10),
            with("d", Status::Pass, 10),
            with("f", Status::Fail, 10),
            with("gone", Status::Pass, 10),
        ]);
        apply(&mut s, &b, Options::default());
        let changes: Vec<Change> = s
            .results
            .iter()
            .map(|r| r.baseline.as_ref().unwrap().change)
            .collect();
        use Change::*;
        assert_eq!(changes, [New, Still, Recovered, Unchanged, New, Still]);
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
    fn waivers_and_cut_short_baselines() {
        use Status::*;
        // An expired waiver: WAIVED before, FAIL now is a NEW failure.
        assert_eq!(classify(Fail, Some(Waived), false), Change::New);
        assert_eq!(classify(Waived, Some(Fail), false), Change::Still);
        assert_eq!(classify(Waived, Some(Pass), false), Change::New);
        assert_eq!(classify(Pass, Some(Waived), false), Change::Recovered);
        assert_eq!(classify(Warn, Some(Pass), true), Change::New);
        assert_eq!(classify(Warn, Some(Pass), false), Change::Unchanged);
        // A baseline result cut short by its deadline tells nothing: the failure now is NEW.
        let mut s = fixture::summary();
        s.results = vec![with("a", Fail, 10)];
        let mut cut = with("a", Fail, 10);
        cut.reason = Some(crate::model::Reason::TimeoutDeadline);
        let b = baseline_of(vec![cut]);
        assert!(!b.lookup(["a"]).known_failure(&with("a", Fail, 1), false));
        apply(&mut s, &b, Options::default());
        let c = s.results[0].baseline.as_ref().unwrap();
        assert_eq!((c.change, c.previous_status), (Change::New, None));
        let b = baseline_of(vec![with("a", Fail, 10), with("b", Warn, 10)]);
        let l = b.lookup(["a", "b"]);
        assert!(l.known_failure(&with("a", Fail, 1), false));
        assert!(
            !l.known_failure(&with("b", Warn, 1), false),
            "a WARN is no failure"
        );
        assert!(l.known_failure(&with("b", Warn, 1), true));
        // A SKIP proved nothing: failing now is NEW, still blocked is STILL.
        assert_eq!(classify(Fail, Some(Skip), false), Change::New);
        assert_eq!(classify(Skip, Some(Skip), false), Change::Still);
        assert_eq!(classify(Skip, Some(Fail), false), Change::Still);
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
        apply(&mut s, &b, Options::default());
        let changes: Vec<Change> = s
            .results
            .iter()
            .map(|r| r.baseline.as_ref().unwrap().change)
            .collect();
        assert_eq!(changes, [Change::New, Change::New, Change::New]);
        assert!(!s.passed(), "an ambiguous match never hides a failure");
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
        apply(&mut s, &b, Options::default());
        assert!(s.passed(), "a STILL failure does not fail --fail-on new");
        assert_eq!(s.verdict(), "warned");
        s.results[1] = with("b", Status::Fail, 10);
        apply(&mut s, &b, Options::default());
        assert!(!s.passed(), "a NEW failure does");
        s.fail_on = FailOn::Any;
        s.results[1] = with("b", Status::Pass, 10);
        apply(&mut s, &b, Options::default());
        assert!(!s.passed(), "the default fails on any FAIL");
    }

    #[test]
    fn latency_regression_needs_factor_and_minimum_increase() {
        let mut s = fixture::summary();
        s.results = vec![
            with("slow", Status::Pass, 900),
            with("blip", Status::Pass, 3),
            with("same", Status::Pass, 150),
            with("failing", Status::Fail, 5000),
        ];
        let b = baseline_of(vec![
            with("slow", Status::Pass, 100),
            with("blip", Status::Pass, 1),
            with("same", Status::Pass, 100),
            with("failing", Status::Pass, 10),
        ]);
        apply(&mut s, &b, Options::default());
        let flags: Vec<bool> = s
            .results
            .iter()
            .map(|r| r.baseline.as_ref().unwrap().latency_regression)
            .collect();
        assert_eq!(flags, [true, false, false, false]);
        let slow = s.results[0].baseline.as_ref().unwrap();
        assert_eq!(slow.latency_ratio, Some(9.0));
        assert_eq!(
            result_note(slow, s.results[0].duration),
            "slower: 100ms → 900ms (×9)"
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
        apply(&mut s, &baseline_of(vec![before]), Options::default());
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
