//! The deploy gate (`--until-healthy --deadline 5m --interval 5s`): run every check, then rerun
//! only the checks that are not healthy, every `interval`, until all are healthy or the
//! deadline passes. The report records, per check, the round and the moment it turned healthy;
//! the run passes only if everything was healthy before the deadline.
//!
//! Healthy means PASS, or WARN (not under `--fail-on-warn`). The gate also stops rerunning a
//! failure that is *accepted*: one an unexpired waiver covers (it will be reported WAIVED), or,
//! under `--fail-on new`, one the baseline already had (STILL): neither fails the run, so the
//! gate does not wait for them; their record says `accepted`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::result::{CheckResult, Status};
use crate::waiver::Waiver;

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
        with = "opt_ms",
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
    #[serde(rename = "interval_ms", with = "ms")]
    pub interval: Duration,
    /// `--deadline`.
    #[serde(rename = "deadline_ms", with = "ms")]
    pub deadline: Duration,
    /// Rounds run.
    pub rounds: u32,
    /// Every check was healthy before the deadline.
    pub healthy: bool,
    /// When the last check turned healthy, from the start of the run (only when `healthy`).
    #[serde(
        rename = "healthy_after_ms",
        with = "opt_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthy_after: Option<Duration>,
}

mod ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}

mod opt_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::ms::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(Duration::from_millis))
    }
}

/// `--interval` default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Whether `r` is healthy: it passed, or warned without `--fail-on-warn`.
pub fn healthy(r: &CheckResult, fail_on_warn: bool) -> bool {
    match r.status {
        Status::Pass => true,
        Status::Warn => !fail_on_warn,
        Status::Fail | Status::Skip | Status::Waived => false,
    }
}

/// Whether an unhealthy `r` is a failure the gate does not wait for: already waived, or one
/// that an active waiver will accept.
pub fn waived(r: &CheckResult, waivers: &[Waiver], today: time::Date) -> bool {
    match r.status {
        Status::Waived => true,
        // Waivers turn FAIL and SKIP into WAIVED, nothing else (a WARN stays a WARN).
        Status::Fail | Status::Skip => waivers
            .iter()
            .any(|w| w.active(today) && w.matches(&r.name)),
        Status::Pass | Status::Warn => false,
    }
}

/// `healthy after 12.3s (round 4)` or `not healthy before the deadline (12 rounds)`.
pub fn result_note(g: &CheckGate) -> String {
    match (g.healthy_round, g.healthy_after) {
        (Some(round), Some(after)) => {
            format!("healthy after {:.1}s (round {round})", after.as_secs_f64())
        }
        (Some(round), None) => format!("healthy in round {round}"),
        (None, _) if g.accepted => "failure accepted, not waited for".to_owned(),
        _ => format!(
            "not healthy before the deadline ({} round{})",
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
    }
}

/// The run-level line: `deploy gate: healthy after 12.3s (4 rounds, every 5s)`.
pub fn summary_line(g: &GateSummary) -> String {
    let every = crate::config::fields::format_duration(g.interval);
    match (g.healthy, g.healthy_after) {
        (true, Some(after)) => format!(
            "deploy gate: healthy after {:.1}s ({} round{}, every {every})",
            after.as_secs_f64(),
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
        (true, None) => format!("deploy gate: healthy ({} rounds)", g.rounds),
        (false, _) => format!(
            "deploy gate: NOT healthy before the {} deadline ({} round{}, every {every})",
            crate::config::fields::format_duration(g.deadline),
            g.rounds,
            if g.rounds == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes() {
        let g = CheckGate {
            rounds: 4,
            healthy_round: Some(4),
            healthy_after: Some(Duration::from_millis(12_340)),
            healthy_at: None,
            accepted: false,
        };
        assert_eq!(result_note(&g), "healthy after 12.3s (round 4)");
        let never = CheckGate {
            rounds: 3,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: false,
        };
        assert_eq!(
            result_note(&never),
            "not healthy before the deadline (3 rounds)"
        );
        let s = GateSummary {
            interval: Duration::from_secs(5),
            deadline: Duration::from_secs(300),
            rounds: 2,
            healthy: false,
            healthy_after: None,
        };
        assert_eq!(
            summary_line(&s),
            "deploy gate: NOT healthy before the 5m deadline (2 rounds, every 5s)"
        );
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["healthy_after_ms"], 12_340);
        let back: CheckGate = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn healthy_and_waived() {
        let mut r = crate::report::fixture::summary().results[0].clone();
        let today = time::macros::date!(2026 - 12 - 01);
        r.status = Status::Fail;
        assert!(!healthy(&r, false) && !waived(&r, &[], today));
        r.status = Status::Warn;
        assert!(healthy(&r, false));
        assert!(!healthy(&r, true));
        r.status = Status::Waived;
        assert!(!healthy(&r, false) && waived(&r, &[], today));
        let accepted = CheckGate {
            rounds: 1,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: true,
        };
        assert_eq!(result_note(&accepted), "failure accepted, not waited for");
    }
}
