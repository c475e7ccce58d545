//! The run's policy: one value, built once per run, that judges it. It answers "does this
//! fail the run", "is this healthy" and "is this failure accepted" for every caller — the
//! deploy gate, the live lines, the baseline classification — and decides the run's
//! [`Judgement`] once ([`Policy::judge`]), which is stored in the summary: the reports and the
//! exit code read that stored verdict and never judge again.
//!
//! The rule: FAIL and SKIP fail the run (a check that did not run proved nothing), WARN does
//! under `--fail-on-warn`, WAIVED and PASS never do. Under `--fail-on new` with a baseline,
//! only the failures the baseline comparison marked NEW fail the run; the others are known
//! failures, reported but accepted. An interrupted run and an unhealthy deploy gate never pass.
//!
//! For the deploy gate, which judges results before they are final, the policy also knows the
//! waivers (and the day they are judged on) and, under `--fail-on new`, the baseline's status
//! of each check.

use std::collections::HashMap;

use crate::baseline::Baseline;
use crate::model::{Change, CheckResult, FailOn, Judgement, Status, Summary};
use crate::waiver::Waiver;

pub use crate::model::Verdict;

/// How a run is judged (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// WARN fails the run (`--fail-on-warn`).
    fail_on_warn: bool,
    /// `--fail-on` as given.
    fail_on: FailOn,
    /// Only NEW failures fail the run (`--fail-on new` with a baseline).
    fail_on_new: bool,
    /// The waivers of the config and the day they are judged on (the gate's "accepted").
    waivers: Vec<Waiver>,
    today: Option<time::Date>,
    /// Under `--fail-on new`: the baseline's status of each check, by the check's name (the
    /// gate's "accepted" before the comparison has run).
    known: HashMap<String, Status>,
}

impl Policy {
    /// The policy of `--fail-on-warn` and `--fail-on`; `baseline_given`: whether a baseline
    /// is compared (`--fail-on new` means nothing without one).
    pub fn new(fail_on_warn: bool, fail_on: FailOn, baseline_given: bool) -> Self {
        Policy {
            fail_on_warn,
            fail_on,
            fail_on_new: fail_on == FailOn::New && baseline_given,
            ..Policy::default()
        }
    }

    /// Whether WARN fails the run (`--fail-on-warn`), as the summary records it.
    pub fn fail_on_warn(&self) -> bool {
        self.fail_on_warn
    }

    /// `--fail-on` as given, as the summary records it.
    pub fn fail_on(&self) -> FailOn {
        self.fail_on
    }

    /// Accept, for the deploy gate, the failures that `waivers` will waive on `today`.
    pub fn with_waivers(mut self, waivers: &[Waiver], today: time::Date) -> Self {
        self.waivers = waivers.to_vec();
        self.today = Some(today);
        self
    }

    /// Under `--fail-on new`, accept for the deploy gate the failures `baseline` already had.
    /// `names`: this run's check names; `shown`: a name as reported (redacted), which is what
    /// the baseline document holds (see [`Baseline::matches`], which the comparison uses too).
    pub fn with_baseline(
        mut self,
        baseline: &Baseline,
        names: &[&str],
        shown: &dyn Fn(&str) -> String,
    ) -> Self {
        if self.fail_on_new {
            self.known = names
                .iter()
                .zip(baseline.matches(names, shown))
                .filter_map(|(name, b)| Some(((*name).to_owned(), b?.status)))
                .collect();
        }
        self
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

    /// Healthy for the deploy gate: PASS, or WARN without `--fail-on-warn`.
    pub fn healthy(&self, status: Status) -> bool {
        status.ran_well() && !self.breaks(status)
    }

    /// For the deploy gate: an unhealthy `r` it does not wait for, since it will not fail the
    /// run — already WAIVED, a FAIL or SKIP an active waiver will waive, or under
    /// `--fail-on new` a failure the baseline already had (it will be STILL).
    pub fn accepted(&self, r: &CheckResult) -> bool {
        self.status_after_waivers(r) == Status::Waived
            || (self.fail_on_new
                && self.breaks(r.status)
                && self.classify(r.status, self.known.get(&r.name).copied()) == Change::Still)
    }

    /// The status the reports will give `r`: WAIVED for a FAIL or SKIP an active waiver will
    /// waive, otherwise its own. The live line shows this, so it agrees with the report.
    pub fn status_after_waivers(&self, r: &CheckResult) -> Status {
        let waived = crate::waiver::waivable(r.status)
            && self.today.is_some_and(|today| {
                self.waivers
                    .iter()
                    .any(|w| w.active(today) && w.matches(&r.name))
            });
        if waived { Status::Waived } else { r.status }
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

    /// The run's judgement, decided once on the finished (compared) results and stored in the
    /// summary: it passed when it was not interrupted, the deploy gate (if any) was healthy and
    /// no result fails it; it warned when it passed with anything but PASS results (known
    /// failures under `--fail-on new` pass the run, but not silently).
    pub fn judge(&self, s: &Summary) -> Judgement {
        let passed = s.interrupted.is_none()
            && s.gate.as_ref().is_none_or(|g| g.healthy)
            && !s.results.iter().any(|r| self.fails_run(r));
        let verdict = if !passed {
            Verdict::Failed
        } else if s.results.iter().any(|r| r.status != Status::Pass) {
            Verdict::Warned
        } else {
            Verdict::Passed
        };
        let known = s
            .results
            .iter()
            .filter(|r| self.breaks(r.status) && self.known_failure(r))
            .count();
        Judgement {
            verdict,
            known_failures: (known > 0).then_some(known),
        }
    }

    /// Whether `r` fails the run: it breaks it and is not a known failure under
    /// `--fail-on new` (one the baseline comparison did not mark NEW).
    fn fails_run(&self, r: &CheckResult) -> bool {
        self.breaks(r.status) && !self.known_failure(r)
    }

    fn known_failure(&self, r: &CheckResult) -> bool {
        self.fail_on_new && r.baseline.as_ref().is_some_and(|b| b.change != Change::New)
    }
}

#[cfg(test)]
mod tests;
