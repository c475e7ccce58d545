//! The rule that judges a run: which statuses fail it, which failures are known under
//! `--fail-on new`, and the run-level verdict every report shows. It reads only the model, so
//! the reporters take the verdict from here; `crate::policy::Policy` holds one `Rule` with
//! the waivers and the baseline the deploy gate needs, and answers with it.
//!
//! The rule: FAIL and SKIP fail the run (a check that did not run proved nothing), WARN does
//! under `--fail-on-warn`, WAIVED and PASS never do. Under `--fail-on new` with a baseline,
//! only the failures the baseline comparison marked NEW fail the run; the others are known
//! failures, reported but accepted. An interrupted run and an unhealthy deploy gate never pass.

use super::{Change, CheckResult, FailOn, Status, Summary};

/// How a run is judged (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rule {
    /// WARN fails the run (`--fail-on-warn`).
    fail_on_warn: bool,
    /// Only NEW failures fail the run (`--fail-on new` with a baseline).
    fail_on_new: bool,
}

/// The run-level verdict the reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed the run, and nothing needs a look.
    Passed,
    /// The run passed, but something warned, was waived, or failed without failing the run.
    Warned,
    /// The run failed.
    Failed,
}

impl Verdict {
    /// `passed`, `warned` or `failed`: the word of the JSON `status` and GitHub outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Warned => "warned",
            Verdict::Failed => "failed",
        }
    }
}

impl Rule {
    /// The policy of `--fail-on-warn` and `--fail-on`; `baseline_given`: whether a baseline
    /// was compared (`--fail-on new` means nothing without one).
    pub fn new(fail_on_warn: bool, fail_on: FailOn, baseline_given: bool) -> Self {
        Rule {
            fail_on_warn,
            fail_on_new: fail_on == FailOn::New && baseline_given,
        }
    }

    /// The policy a finished summary records (its `fail_on_warn`, `fail_on` and baseline).
    pub fn of(summary: &Summary) -> Self {
        Rule::new(
            summary.fail_on_warn,
            summary.fail_on,
            summary.baseline.is_some(),
        )
    }

    /// Whether WARN fails the run.
    pub fn fail_on_warn(&self) -> bool {
        self.fail_on_warn
    }

    /// Whether only NEW failures fail the run (`--fail-on new` with a baseline).
    pub fn fail_on_new(&self) -> bool {
        self.fail_on_new
    }

    /// Whether a result with this status fails the run unless accepted: FAIL, SKIP, or WARN
    /// under `--fail-on-warn`.
    pub fn breaks(&self, status: Status) -> bool {
        match status {
            Status::Fail | Status::Skip => true,
            Status::Warn => self.fail_on_warn,
            Status::Pass | Status::Waived => false,
        }
    }

    /// Whether the check ran and held (PASS or WARN, whatever `--fail-on-warn` says): it
    /// satisfies a dependency, and its latency can be compared.
    pub fn ran_well(status: Status) -> bool {
        matches!(status, Status::Pass | Status::Warn)
    }

    /// Healthy for the deploy gate: PASS, or WARN without `--fail-on-warn`.
    pub fn healthy(&self, status: Status) -> bool {
        Rule::ran_well(status) && !self.breaks(status)
    }

    /// Whether `r` fails the run: it breaks it and is not a known failure under
    /// `--fail-on new` (one the baseline comparison did not mark NEW).
    pub fn fails_run(&self, r: &CheckResult) -> bool {
        self.breaks(r.status) && !self.known_failure(r)
    }

    fn known_failure(&self, r: &CheckResult) -> bool {
        self.fail_on_new && r.baseline.as_ref().is_some_and(|b| b.change != Change::New)
    }

    /// How a result changed since the baseline. A result that fails the run is NEW unless it
    /// failed the baseline run too (a WAIVED baseline result did not: when the waiver expires
    /// the failure is NEW; a SKIP did only for a check that is still SKIP, since a SKIP proved
    /// nothing). A WAIVED result is STILL after a failure (waived or not) and NEW after a pass.
    /// A result that does not fail the run RECOVERED from anything but a pass.
    pub fn classify(&self, now: Status, before: Option<Status>) -> Change {
        let before_breaks = match before {
            Some(Status::Skip) => now == Status::Skip,
            Some(b) => self.breaks(b),
            None => false,
        };
        let before_bad =
            before.is_some_and(|b| self.breaks(b) || matches!(b, Status::Skip | Status::Waived));
        match (self.breaks(now), now == Status::Waived) {
            (true, _) if before_breaks => Change::Still,
            (true, _) => Change::New,
            (false, true) if before_bad => Change::Still,
            (false, true) => Change::New,
            (false, false) if before_bad => Change::Recovered,
            (false, false) => Change::Unchanged,
        }
    }

    /// Whether the run passed (exit code 0): not interrupted, the deploy gate (if any)
    /// healthy, and no result failing the run.
    pub fn passed(&self, s: &Summary) -> bool {
        s.interrupted.is_none()
            && s.gate.as_ref().is_none_or(|g| g.healthy)
            && !s.results.iter().any(|r| self.fails_run(r))
    }

    /// Under `--fail-on new`, how many results break the run's default rule but do not fail
    /// it because the baseline had them already (`None` when there are none).
    pub fn known_failures(&self, s: &Summary) -> Option<usize> {
        let n = s
            .results
            .iter()
            .filter(|r| self.breaks(r.status) && self.known_failure(r))
            .count();
        (n > 0).then_some(n)
    }

    /// The run-level verdict.
    pub fn verdict(&self, s: &Summary) -> Verdict {
        if !self.passed(s) {
            Verdict::Failed
        } else if s.results.iter().any(|r| r.status != Status::Pass) {
            // Known failures under `--fail-on new` pass the run, but not silently.
            Verdict::Warned
        } else {
            Verdict::Passed
        }
    }
}
