//! The whole run: [`Summary`], its [`Counts`] and why it stopped early.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    BaselineSummary, CheckResult, FailOn, GateSummary, HistorySummary, Judgement, SelectionRun,
    ShardRun, Status,
};

/// Counts of a run, by status.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Checks that passed.
    pub pass: usize,
    /// Checks that warned.
    pub warn: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks not run because a dependency did not pass.
    pub skip: usize,
    /// Failures accepted by an unexpired waiver.
    pub waived: usize,
    /// All checks.
    pub total: usize,
}

/// Why the run stopped early, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interruption {
    /// `--deadline` passed.
    Deadline,
    /// SIGINT.
    Sigint,
    /// SIGTERM.
    Sigterm,
}

/// The whole run: what every file reporter receives.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The environment that ran.
    pub environment: String,
    /// The config file path as given.
    pub config_path: String,
    /// When the run started.
    pub started_at: time::OffsetDateTime,
    /// Wall time of the run.
    pub duration: Duration,
    /// Results in config order.
    pub results: Vec<CheckResult>,
    /// Whether WARN fails the run.
    pub fail_on_warn: bool,
    /// Set when the run was cut short.
    pub interrupted: Option<Interruption>,
    /// Set when the run covered one shard of the checks (`--shard K/N`).
    pub shard: Option<ShardRun>,
    /// Set when the run covered only the checks a selection picked (`--tags`, `--only`…).
    pub selection: Option<SelectionRun>,
    /// Which failures fail the run (`--fail-on`).
    pub fail_on: FailOn,
    /// The comparison with `--baseline`, when given.
    pub baseline: Option<BaselineSummary>,
    /// The deploy gate (`--until-healthy`), when on.
    pub gate: Option<GateSummary>,
    /// The `--history` window, when given.
    pub history: Option<HistorySummary>,
    /// The run's verdict, decided once by the run's policy; [`Judgement::UNJUDGED`] (failed)
    /// until then. Every report and the exit code read it.
    pub judgement: Judgement,
}

impl Summary {
    /// Counts by status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.results.len(),
            ..Counts::default()
        };
        for r in &self.results {
            match r.status {
                Status::Pass => c.pass += 1,
                Status::Warn => c.warn += 1,
                Status::Fail => c.fail += 1,
                Status::Skip => c.skip += 1,
                Status::Waived => c.waived += 1,
            }
        }
        c
    }
}
