//! The deploy gate (`--until-healthy --deadline 5m --interval 5s`): run every check, then rerun
//! only the checks that are not healthy, every `interval`, until all are healthy or the
//! deadline passes. The report records, per check, the round and the moment it turned healthy;
//! the run passes only if everything was healthy before the deadline. The rounds themselves
//! are run by the run driver ([`crate::driver`]); this module holds what the gate decides
//! between them and what it records.
//!
//! Healthy means PASS, or WARN (not under `--fail-on-warn`). The gate also stops rerunning a
//! failure that is *accepted*: one an unexpired waiver covers (it will be reported WAIVED), or,
//! under `--fail-on new`, one the baseline already had (STILL): neither fails the run, so the
//! gate does not wait for them; their record says `accepted`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::checks::CheckDef;
use crate::config::Dependencies;
use crate::model::CheckResult;
use crate::model::Rule;
pub use crate::model::{CheckGate, GateSummary};
use crate::policy::Policy;

/// `--interval` default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The gate's record of each of `n` checks before the first round.
pub(crate) fn records(n: usize) -> Vec<CheckGate> {
    vec![
        CheckGate {
            rounds: 0,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: false,
        };
        n
    ]
}

/// Record `r`, the check's result in `round`, in its `record`. `cut_short`: the deadline or a
/// signal ended the check, so a healthy status proves nothing; `arrival`: when the result came
/// in (time since the run started, and the moment), for "healthy after".
pub(crate) fn record_round(
    record: &mut CheckGate,
    r: &CheckResult,
    round: u32,
    cut_short: bool,
    arrival: Option<&(Duration, OffsetDateTime)>,
    policy: &Policy,
) {
    let healthy = policy.healthy(r.status);
    record.rounds = record.rounds.saturating_add(1);
    record.accepted = !healthy && policy.accepted(r);
    if healthy && !cut_short {
        record.healthy_round = Some(round);
        if let Some((after, at)) = arrival {
            record.healthy_after = Some(*after);
            record.healthy_at = at
                .format(&time::format_description::well_known::Rfc3339)
                .ok();
        }
    }
}

/// Keep in `pending` the checks the gate still waits for: without a result, or neither healthy
/// nor accepted.
pub(crate) fn keep_waiting(
    pending: &mut Vec<usize>,
    finals: &[Option<CheckResult>],
    policy: &Policy,
) {
    pending.retain(|&i| {
        finals
            .get(i)
            .and_then(Option::as_ref)
            .is_none_or(|r| !policy.healthy(r.status) && !policy.accepted(r))
    });
}

/// The gate's summary of a run of `rounds` rounds: healthy when it was not interrupted and no
/// check is left waiting; healthy after the slowest check's time then.
pub(crate) fn summary(
    (interval, deadline): (Duration, Duration),
    rounds: u32,
    healthy: bool,
    records: &[CheckGate],
) -> GateSummary {
    GateSummary {
        interval,
        deadline,
        rounds,
        healthy,
        healthy_after: if healthy {
            records.iter().filter_map(|g| g.healthy_after).max()
        } else {
            None
        },
    }
}

/// The names of the first pending checks, for the waiting line
/// (`infracheck: round 3: 2 of 40 checks not healthy yet (api, worker); next round in 5s`).
pub(crate) fn first_names<'a>(pending: &[usize], all: &'a [Arc<CheckDef>]) -> Vec<&'a str> {
    pending
        .iter()
        .take(5)
        .filter_map(|&i| all.get(i))
        .map(|c| c.name.as_str())
        .collect()
}

/// The checks a later round runs: the pending ones plus, transitively, each dependency of
/// theirs whose last result did not pass (a waived or skipped dependency must still block its
/// dependents, as in a single run; a passed one is left out and counts as satisfied). Config
/// order.
pub(crate) fn with_unpassed_dependencies(
    pending: &[usize],
    dependencies: &Dependencies,
    finals: &[Option<CheckResult>],
) -> Vec<usize> {
    let passed = |j: usize| {
        finals
            .get(j)
            .and_then(Option::as_ref)
            .is_some_and(|r| Rule::ran_well(r.status))
    };
    let mut members: BTreeSet<usize> = pending.iter().copied().collect();
    let mut stack: Vec<usize> = pending.to_vec();
    while let Some(i) = stack.pop() {
        for &j in dependencies.of(i) {
            if !passed(j) && members.insert(j) {
                stack.push(j);
            }
        }
    }
    members.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Interruption, gate_line, gate_note};

    #[test]
    fn a_rerun_takes_along_every_dependency_that_did_not_pass() {
        let yaml = "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 1}\n      - {name: b, host: 127.0.0.1, port: 2, depends_on: a}\n      - {name: c, host: 127.0.0.1, port: 3, depends_on: b}\n      - {name: d, host: 127.0.0.1, port: 4, depends_on: a}\n";
        let plan = crate::config::load_str("t.yaml", yaml, None, &|_: &str| None::<String>)
            .unwrap()
            .remove(0);
        let result = |status| {
            let mut r = crate::report::fixture::summary().results[0].clone();
            r.status = status;
            Some(r)
        };
        use crate::model::Status::{Fail, Pass, Skip};
        // `c` is pending; `b` (skipped, blocked by `a`) and `a` (failed) come along.
        let finals = [result(Fail), result(Skip), result(Skip), result(Pass)];
        assert_eq!(
            with_unpassed_dependencies(&[2], &plan.dependencies, &finals),
            [0, 1, 2]
        );
        // A dependency that passed counts as satisfied and stays out.
        let finals = [result(Pass), result(Fail), result(Skip), result(Pass)];
        assert_eq!(
            with_unpassed_dependencies(&[2], &plan.dependencies, &finals),
            [1, 2]
        );
    }

    #[test]
    fn notes() {
        let g = CheckGate {
            rounds: 4,
            healthy_round: Some(4),
            healthy_after: Some(Duration::from_millis(12_340)),
            healthy_at: None,
            accepted: false,
        };
        assert_eq!(gate_note(&g), "healthy after 12.3s (round 4)");
        let never = CheckGate {
            rounds: 3,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: false,
        };
        assert_eq!(gate_note(&never), "not healthy in 3 rounds");
        let s = GateSummary {
            interval: Duration::from_secs(5),
            deadline: Duration::from_secs(300),
            rounds: 2,
            healthy: false,
            healthy_after: None,
        };
        for deadline in [None, Some(Interruption::Deadline)] {
            assert_eq!(
                gate_line(&s, deadline),
                "deploy gate: NOT healthy before the 5m deadline (2 rounds, every 5s)"
            );
        }
        assert_eq!(
            gate_line(&s, Some(Interruption::Sigterm)),
            "deploy gate: interrupted by SIGTERM before every check was healthy (2 rounds, every 5s)"
        );
        let accepted = CheckGate {
            rounds: 1,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: true,
        };
        assert_eq!(gate_note(&accepted), "failure accepted, not waited for");
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["healthy_after_ms"], 12_340);
        let back: CheckGate = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
    }
}
