//! What `--baseline`, the deploy gate and `--shard` attach to a run and its results, and the
//! texts every report shows for them. The judging lives in the run's policy and the modules
//! that compute these values; this is only their data.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Status;

/// Which failures fail the run (`--fail-on`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
        serialize_with = "super::opt_ms::serialize"
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
        serialize_with = "super::ms::serialize"
    )]
    pub latency_min_increase: Duration,
}

/// The gate's record of one check (JSON `results[].gate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckGate {
    /// Rounds in which the check ran (1: healthy on the first try).
    pub rounds: u32,
    /// The round whose result was healthy; `null`: never healthy before the deadline.
    pub healthy_round: Option<u32>,
    /// Time from the start of the run until the healthy result came in.
    #[serde(
        rename = "healthy_after_ms",
        with = "super::opt_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthy_after: Option<Duration>,
    /// When the healthy result came in (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_at: Option<String>,
    /// Not healthy, but the gate did not wait for it: a failure an active waiver accepts, or
    /// (under `--fail-on new`) one the baseline already had.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
}

/// The gate's run-level record (JSON `gate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSummary {
    /// `--interval`: the wait between the end of a round and the next.
    #[serde(rename = "interval_ms", with = "super::ms")]
    pub interval: Duration,
    /// `--deadline`.
    #[serde(rename = "deadline_ms", with = "super::ms")]
    pub deadline: Duration,
    /// Rounds run.
    pub rounds: u32,
    /// Every check was healthy before the deadline.
    pub healthy: bool,
    /// When the last check turned healthy, from the start of the run (only when `healthy`).
    #[serde(
        rename = "healthy_after_ms",
        with = "super::opt_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthy_after: Option<Duration>,
}

/// What a sharded run covered, recorded in the JSON document (`shard`) so `merge` can check
/// that the documents it combines fit together and put the results back in config order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRun {
    /// 1-based shard number.
    pub index: u32,
    /// How many shards the checks were split into.
    pub count: u32,
    /// Checks in the whole environment (every shard).
    pub total_checks: usize,
    /// The 0-based config-order position of each result of this shard, in result order.
    pub positions: Vec<usize>,
}

/// `healthy after 12.3s (round 4)` or `not healthy in 12 rounds`.
pub fn gate_note(g: &CheckGate) -> String {
    match (g.healthy_round, g.healthy_after) {
        (Some(round), Some(after)) => {
            format!("healthy after {:.1}s (round {round})", after.as_secs_f64())
        }
        (Some(round), None) => format!("healthy in round {round}"),
        (None, _) if g.accepted => "failure accepted, not waited for".to_owned(),
        // Whether the deadline or a signal ended the gate is the run's to say (`gate_line`).
        _ => format!(
            "not healthy in {} round{}",
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
    }
}

/// The run-level line: `deploy gate: healthy after 12.3s (4 rounds, every 5s)`. `interrupted`
/// is the run's: a gate a signal ended says so, not that its deadline passed.
pub fn gate_line(g: &GateSummary, interrupted: Option<super::Interruption>) -> String {
    let every = super::format_duration(g.interval);
    let signal = match interrupted {
        Some(super::Interruption::Sigint) => Some("SIGINT"),
        Some(super::Interruption::Sigterm) => Some("SIGTERM"),
        Some(super::Interruption::Deadline) | None => None,
    };
    match (g.healthy, g.healthy_after, signal) {
        (true, Some(after), _) => format!(
            "deploy gate: healthy after {:.1}s ({} round{}, every {every})",
            after.as_secs_f64(),
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
        (true, None, _) => format!("deploy gate: healthy ({} rounds)", g.rounds),
        (false, _, Some(signal)) => format!(
            "deploy gate: interrupted by {signal} before every check was healthy ({} round{}, every {every})",
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
        (false, _, None) => format!(
            "deploy gate: NOT healthy before the {} deadline ({} round{}, every {every})",
            super::format_duration(g.deadline),
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
    }
}

/// One line for a text or notice: `1 new failure, 2 still failing, 1 recovered, 3 unchanged,
/// 1 slower`.
pub fn baseline_line(b: &BaselineSummary) -> String {
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
pub fn change_note(c: &ResultChange, now: Duration) -> String {
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
        let mut s = format!(
            "slower: {} → {}",
            super::human_duration(before),
            super::human_duration(now)
        );
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
