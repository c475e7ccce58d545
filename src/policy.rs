//! The run's policy: one value, built once per run, that answers "does this fail the run",
//! "is this healthy" and "is this failure accepted" for every caller — the exit code, the
//! reports' verdict, the deploy gate, the baseline classification and `merge`.
//!
//! The rule itself (which statuses fail the run, known failures, the verdict) is
//! [`crate::model::Rule`], which the reporters read too; a `Policy` is one `Rule` plus what the
//! deploy gate needs to know which failures will be accepted: the waivers and the baseline.

use std::collections::HashMap;
use std::ops::Deref;

use crate::baseline::Baseline;
use crate::model::{Change, CheckResult, FailOn, Rule, Status, Summary};
use crate::waiver::Waiver;

pub use crate::model::Verdict;

/// How a run is judged: its [`Rule`] (every question of "does this fail the run" goes to it,
/// through `Deref`) and what the deploy gate accepts (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--fail-on-warn` and `--fail-on new`.
    rule: Rule,
    /// The waivers of the config and the day they are judged on (the gate's "accepted").
    waivers: Vec<Waiver>,
    today: Option<time::Date>,
    /// Under `--fail-on new`: the baseline's status of each check, by reported name (the
    /// gate's "accepted" before the comparison has run).
    known: HashMap<String, Status>,
}

impl Deref for Policy {
    type Target = Rule;

    fn deref(&self) -> &Rule {
        &self.rule
    }
}

impl Policy {
    /// The policy of `--fail-on-warn` and `--fail-on`; `baseline_given`: whether a baseline
    /// was compared (`--fail-on new` means nothing without one).
    pub fn new(fail_on_warn: bool, fail_on: FailOn, baseline_given: bool) -> Self {
        Policy {
            rule: Rule::new(fail_on_warn, fail_on, baseline_given),
            ..Policy::default()
        }
    }

    /// The policy a finished summary records (its `fail_on_warn`, `fail_on` and baseline).
    pub fn of(summary: &Summary) -> Self {
        Policy {
            rule: Rule::of(summary),
            ..Policy::default()
        }
    }

    /// The rule alone, for whoever needs a copy.
    pub fn rule(&self) -> Rule {
        self.rule
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
        if self.rule.fail_on_new() {
            let lookup = baseline.lookup(names.iter().map(|(_, shown)| shown.as_str()));
            self.known = names
                .iter()
                .filter_map(|(name, shown)| lookup.get(shown).map(|b| (name.clone(), b.status)))
                .collect();
        }
        self
    }

    /// For the deploy gate: an unhealthy `r` it does not wait for, since it will not fail the
    /// run — already WAIVED, a FAIL or SKIP an active waiver will waive, or under
    /// `--fail-on new` a failure the baseline already had (it will be STILL).
    pub fn accepted(&self, r: &CheckResult) -> bool {
        self.status_after_waivers(r) == Status::Waived
            || (self.rule.fail_on_new()
                && self.rule.breaks(r.status)
                && self
                    .rule
                    .classify(r.status, self.known.get(&r.name).copied())
                    == Change::Still)
    }
}

impl Policy {
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
}

#[cfg(test)]
mod tests;
