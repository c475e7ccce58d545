//! The rounds of a run ([`run_rounds`]: one, or under the deploy gate as many as it takes) and
//! the deploy gate (`--until-healthy --deadline 5m --interval 5s`): run every check, then rerun
//! only the checks that are not healthy, every `interval`, until all are healthy or the
//! deadline passes. The report records, per check, the round and the moment it turned healthy;
//! the run passes only if everything was healthy before the deadline.
//!
//! Healthy means PASS, or WARN (not under `--fail-on-warn`). The gate also stops rerunning a
//! failure that is *accepted*: one an unexpired waiver covers (it will be reported WAIVED), or,
//! under `--fail-on new`, one the baseline already had (STILL): neither fails the run, so the
//! gate does not wait for them; their record says `accepted`.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::{CheckDef, RunContext};
use crate::engine;
use crate::event::RunEvent;
use crate::model::Rule;
pub use crate::model::{CheckGate, GateSummary};
use crate::model::{CheckResult, Interruption};
use crate::policy::Policy;

/// `--interval` default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// What one run of [`run_rounds`] needs: the checks and the engine's settings.
pub struct Rounds {
    /// Every check of the run, in config order. Under a single round they are handed to the
    /// engine, which frees each as it finishes; under the gate they are kept for the reruns.
    pub checks: Vec<Arc<CheckDef>>,
    /// Shared clients.
    pub ctx: Arc<RunContext>,
    /// Global limit of checks in flight.
    pub concurrency: usize,
    /// Limit per target host; `None`: no per-host limit.
    pub per_host: Option<usize>,
    /// `--interval` under `--until-healthy`; `None`: a single round (no gate).
    pub interval: Option<Duration>,
    /// `--deadline`, recorded in the gate's summary.
    pub deadline: Duration,
    /// When the run started ("healthy after" counts from here).
    pub start: Instant,
}

/// Progress callbacks of [`run_rounds`] (a progress bar, logs).
pub trait Progress {
    /// A round of `checks` checks starts.
    fn round(&mut self, checks: usize);
    /// A result came in.
    fn result(&mut self, round: u32, r: &CheckResult);
    /// The gate waits before the next round: a [`RunEvent::Waiting`] for stderr.
    fn waiting(&mut self, event: RunEvent<'_>);
}

/// What [`run_rounds`] produced.
pub struct Outcome {
    /// The last result of each check, in config order.
    pub results: Vec<CheckResult>,
    /// Set when the deadline or a signal ended the run.
    pub interrupted: Option<Interruption>,
    /// The gate's record, under `--until-healthy`.
    pub gate: Option<GateSummary>,
    /// The first time, in any round, that the per-host limit held a check back while a global
    /// slot was free.
    pub held_back: Option<engine::HeldBack>,
}

/// Run every check once; under `--until-healthy` (`interval` set), rerun the checks that are
/// neither healthy nor accepted (with any dependency of theirs that did not pass) every
/// `interval`, until none is left or `stop` (deadline, signal) resolves.
pub async fn run_rounds<S>(
    rounds: Rounds,
    policy: &Policy,
    stop: S,
    progress: &mut dyn Progress,
) -> Outcome
where
    S: Future<Output = Interruption> + Clone,
{
    let mut all = rounds.checks;
    let n = all.len();
    // Filled from the first round's results in place (no second full-length array).
    let mut finals: Vec<Option<CheckResult>> = Vec::new();
    let mut records: Vec<CheckGate> = vec![
        CheckGate {
            rounds: 0,
            healthy_round: None,
            healthy_after: None,
            healthy_at: None,
            accepted: false,
        };
        n
    ];
    let mut pending: Vec<usize> = (0..n).collect();
    let mut round = 0u32;
    let mut interrupted = None;
    let mut held_back = None;
    loop {
        round = round.saturating_add(1);
        // Positions in `all` of the checks this round runs, in config order.
        let (members, subset): (Vec<usize>, Vec<Arc<CheckDef>>) = if round > 1 {
            let members = with_unpassed_dependencies(&pending, &all, &finals);
            let subset = members
                .iter()
                .filter_map(|&i| all.get(i).cloned())
                .collect();
            (members, subset)
        } else if rounds.interval.is_some() {
            (pending.clone(), all.clone())
        } else {
            // A single round: the engine holds the only copy and frees each check's
            // definition as its result comes in.
            (pending.clone(), std::mem::take(&mut all))
        };
        progress.round(subset.len());
        // When each result came in (by position in `all`), for "healthy after".
        let mut arrivals: HashMap<usize, (Duration, time::OffsetDateTime)> = HashMap::new();
        let engine::Finished {
            results,
            interrupted: why,
            held_back: held,
        } = engine::run(
            subset,
            Arc::clone(&rounds.ctx),
            rounds.concurrency,
            rounds.per_host,
            stop.clone(),
            |k, r| {
                progress.result(round, r);
                if rounds.interval.is_some()
                    && let Some(&i) = members.get(k)
                {
                    let now = (rounds.start.elapsed(), time::OffsetDateTime::now_utc());
                    arrivals.insert(i, now);
                }
            },
        )
        .await;
        held_back = held_back.or(held);
        let record_round = |record: &mut CheckGate, r: &CheckResult, i: usize| {
            let cut_short = why.is_some() && r.cut_short();
            let healthy = policy.healthy(r.status);
            record.rounds = record.rounds.saturating_add(1);
            record.accepted = !healthy && policy.accepted(r);
            if healthy && !cut_short {
                record.healthy_round = Some(round);
                if let Some((after, at)) = arrivals.get(&i) {
                    record.healthy_after = Some(*after);
                    record.healthy_at = at
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok();
                }
            }
        };
        if round == 1 && results.len() == n {
            // The first round runs every check in config order: its results become the
            // gate's array in place, so only one full-length array of results is ever alive.
            finals = results.into_iter().map(Some).collect();
            for (i, (r, record)) in finals.iter().zip(records.iter_mut()).enumerate() {
                if let Some(r) = r {
                    record_round(record, r, i);
                }
            }
        } else {
            finals.resize_with(n, || None);
            // One result per member, by position.
            for (&i, r) in members.iter().zip(results) {
                let (Some(slot), Some(record)) = (finals.get_mut(i), records.get_mut(i)) else {
                    continue;
                };
                if round > 1 && why.is_some() && r.cut_short() && slot.is_some() {
                    // A rerun cut short by the deadline proves nothing new: keep the real
                    // failure of the round before.
                    continue;
                }
                record_round(record, &r, i);
                *slot = Some(r);
            }
        }
        if why.is_some() {
            interrupted = why;
            break;
        }
        let Some(interval) = rounds.interval else {
            break;
        };
        pending.retain(|&i| {
            finals
                .get(i)
                .and_then(Option::as_ref)
                .is_none_or(|r| !policy.healthy(r.status) && !policy.accepted(r))
        });
        if pending.is_empty() {
            break;
        }
        let names = first_names(&pending, &all);
        progress.waiting(RunEvent::Waiting {
            round,
            names: &names,
            pending: pending.len(),
            checks: all.len(),
            interval,
        });
        tokio::select! {
            biased;
            why = stop.clone() => {
                interrupted = Some(why);
                break;
            }
            () = tokio::time::sleep(interval) => {}
        }
    }
    let gate = rounds.interval.map(|interval| {
        let healthy = interrupted.is_none() && pending.is_empty();
        GateSummary {
            interval,
            deadline: rounds.deadline,
            rounds: round,
            healthy,
            healthy_after: if healthy {
                records.iter().filter_map(|g| g.healthy_after).max()
            } else {
                None
            },
        }
    });
    let results = finals
        .into_iter()
        .zip(records)
        .filter_map(|(r, g)| {
            let mut r = r?;
            if gate.is_some() {
                r.gate = Some(Box::new(g));
            }
            Some(r)
        })
        .collect();
    Outcome {
        results,
        interrupted,
        gate,
        held_back,
    }
}

/// The names of the first pending checks, for the waiting line
/// (`infracheck: round 3: 2 of 40 checks not healthy yet (api, worker); next round in 5s`).
fn first_names<'a>(pending: &[usize], all: &'a [Arc<CheckDef>]) -> Vec<&'a str> {
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
fn with_unpassed_dependencies(
    pending: &[usize],
    all: &[Arc<CheckDef>],
    finals: &[Option<CheckResult>],
) -> Vec<usize> {
    let index: HashMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let passed = |j: usize| {
        finals
            .get(j)
            .and_then(Option::as_ref)
            .is_some_and(|r| Rule::ran_well(r.status))
    };
    let mut members: BTreeSet<usize> = pending.iter().copied().collect();
    let mut stack: Vec<usize> = pending.to_vec();
    while let Some(i) = stack.pop() {
        let Some(check) = all.get(i) else { continue };
        for d in &check.depends_on {
            if let Some(&j) = index.get(d.name.as_str())
                && !passed(j)
                && members.insert(j)
            {
                stack.push(j);
            }
        }
    }
    members.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{gate_line, gate_note};

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
