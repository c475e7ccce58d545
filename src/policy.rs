//! The run's policy: one value, built once per run, that answers "does this fail the run",
//! "is this healthy" and "is this failure accepted" for every caller — the exit code, the
//! reports' verdict, the deploy gate, the baseline classification and `merge`.
//!
//! The rule: FAIL and SKIP fail the run (a check that did not run proved nothing), WARN does
//! under `--fail-on-warn`, WAIVED and PASS never do. Under `--fail-on new` with a baseline,
//! only the failures the baseline comparison marked NEW fail the run; the others are known
//! failures, reported but accepted. An interrupted run and an unhealthy deploy gate never pass.

use std::collections::HashMap;

use crate::baseline::Baseline;
use crate::model::{Change, CheckResult, FailOn, Status, Summary};
use crate::waiver::Waiver;

/// How a run is judged (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// WARN fails the run (`--fail-on-warn`).
    fail_on_warn: bool,
    /// Only NEW failures fail the run (`--fail-on new` with a baseline).
    fail_on_new: bool,
    /// The waivers of the config and the day they are judged on (the gate's "accepted").
    waivers: Vec<Waiver>,
    today: Option<time::Date>,
    /// Under `--fail-on new`: the baseline's status of each check, by reported name (the
    /// gate's "accepted" before the comparison has run).
    known: HashMap<String, Status>,
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

impl Policy {
    /// The policy of `--fail-on-warn` and `--fail-on`; `baseline_given`: whether a baseline
    /// was compared (`--fail-on new` means nothing without one).
    pub fn new(fail_on_warn: bool, fail_on: FailOn, baseline_given: bool) -> Self {
        Policy {
            fail_on_warn,
            fail_on_new: fail_on == FailOn::New && baseline_given,
            ..Policy::default()
        }
    }

    /// The policy a finished summary records (its `fail_on_warn`, `fail_on` and baseline).
    pub fn of(summary: &Summary) -> Self {
        Policy::new(
            summary.fail_on_warn,
            summary.fail_on,
            summary.baseline.is_some(),
        )
    }

    /// Accept, for the deploy gate, the failures that `waivers` will waive on `today`.
    pub fn with_waivers(mut self, waivers: &[Waiver], today: time::Date) -> Self {
        self.waivers = waivers.to_vec();
        self.today = Some(today);
        self
    }

    /// Under `--fail-on new`, accept for the deploy gate the failures `baseline` already had.
    /// `names`: this run's check names, each with the name as reported (redacted), which is
    /// what the baseline document holds.
    pub fn with_baseline(mut self, baseline: &Baseline, names: &[(String, String)]) -> Self {
        if self.fail_on_new {
            let lookup = baseline.lookup(names.iter().map(|(_, shown)| shown.as_str()));
            self.known = names
                .iter()
                .filter_map(|(name, shown)| lookup.get(shown).map(|b| (name.clone(), b.status)))
                .collect();
        }
        self
    }

    /// Whether WARN fails the run.
    pub fn fail_on_warn(&self) -> bool {
        self.fail_on_warn
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
        Policy::ran_well(status) && !self.breaks(status)
    }

    /// Whether `r` fails the run: it breaks it and is not a known failure under
    /// `--fail-on new` (one the baseline comparison did not mark NEW).
    pub fn fails_run(&self, r: &CheckResult) -> bool {
        self.breaks(r.status) && !self.known_failure(r)
    }

    fn known_failure(&self, r: &CheckResult) -> bool {
        self.fail_on_new && r.baseline.as_ref().is_some_and(|b| b.change != Change::New)
    }

    /// For the deploy gate: an unhealthy `r` it does not wait for, since it will not fail the
    /// run — already WAIVED, a FAIL or SKIP an active waiver will waive, or under
    /// `--fail-on new` a failure the baseline already had (it will be STILL).
    pub fn accepted(&self, r: &CheckResult) -> bool {
        let waived = r.status == Status::Waived
            || (crate::waiver::waivable(r.status)
                && self.today.is_some_and(|today| {
                    self.waivers
                        .iter()
                        .any(|w| w.active(today) && w.matches(&r.name))
                }));
        waived
            || (self.fail_on_new
                && self.breaks(r.status)
                && self.classify(r.status, self.known.get(&r.name).copied()) == Change::Still)
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

#[cfg(test)]
mod tests;
