//! The run driver: every `run` goes through [`run_rounds`], which hands the checks to the
//! engine once, or, under the deploy gate (`--until-healthy`, see [`crate::gate`]), round after
//! round until every check is healthy or the run is stopped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::checks::{CheckDef, RunContext};
use crate::config::Dependencies;
use crate::engine;
use crate::event::RunEvent;
use crate::gate;
use crate::model::{CheckGate, CheckResult, GateSummary, Interruption};
use crate::policy::Policy;

/// What one run of [`run_rounds`] needs: the checks and the engine's settings.
pub struct Rounds {
    /// Every check of the run, in config order. Under a single round they are handed to the
    /// engine, which frees each as it finishes; under the gate they are kept for the reruns.
    pub checks: Vec<Arc<CheckDef>>,
    /// The `depends_on` graph of `checks`, by position in `checks`.
    pub dependencies: Dependencies,
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
    /// The results that came in together have all been shown ([`engine::Deliver::batch_end`]).
    fn batch_end(&mut self) {}
    /// How long a result may wait to be shown with the next ones ([`engine::Deliver::coalesce`]);
    /// `None`: each at once. The gate never lets them wait (it notes when each arrived).
    fn coalesce(&self) -> Option<Duration> {
        None
    }
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

/// When each result of a round came in, by position among the run's checks: for "healthy
/// after" (time since the run started, and the moment).
type Arrivals = HashMap<usize, (Duration, OffsetDateTime)>;

/// Run every check once; under `--until-healthy` (`interval` set), rerun the checks that are
/// neither healthy nor accepted (with any dependency of theirs that did not pass) every
/// `interval`, until none is left or `stop` (deadline, signal) resolves.
pub async fn run_rounds<S>(
    mut rounds: Rounds,
    policy: &Policy,
    stop: S,
    progress: &mut dyn Progress,
) -> Outcome
where
    S: Future<Output = Interruption> + Clone,
{
    let mut run = RunState::new(
        std::mem::take(&mut rounds.checks),
        std::mem::take(&mut rounds.dependencies),
    );
    // One round (no gate): nothing is sent through the context after it, so its idle
    // keep-alive connections are closed during its last round, not at the process's exit.
    if rounds.interval.is_none() {
        rounds.ctx.last_run();
    }
    loop {
        run.round = run.round.saturating_add(1);
        let (members, subset) = run.members(rounds.interval.is_some());
        progress.round(subset.len());
        let graph = run.graph_of(&members);
        let (finished, arrivals) = run_round(
            &rounds,
            run.round,
            (subset, &graph),
            &members,
            stop.clone(),
            progress,
        )
        .await;
        drop(graph);
        run.held_back = run.held_back.or(finished.held_back);
        let stopped = finished.interrupted.is_some();
        run.take_results(finished.results, &members, &arrivals, stopped, policy);
        if let Some(why) = finished.interrupted {
            run.interrupted = Some(why);
            break;
        }
        let Some(interval) = rounds.interval else {
            break;
        };
        gate::keep_waiting(&mut run.pending, &run.finals, policy);
        if run.pending.is_empty() {
            break;
        }
        let names = gate::first_names(&run.pending, &run.all);
        progress.waiting(RunEvent::Waiting {
            round: run.round,
            names: &names,
            pending: run.pending.len(),
            checks: run.all.len(),
            interval,
        });
        if let Some(why) = pause(interval, stop.clone()).await {
            run.interrupted = Some(why);
            break;
        }
    }
    run.outcome(rounds.interval.map(|i| (i, rounds.deadline)))
}

/// One round: `subset` (the checks at `members` among the run's, with their graph) through the
/// engine, each result shown to `progress` and, under the gate, its arrival noted.
async fn run_round(
    rounds: &Rounds,
    round: u32,
    (subset, graph): (Vec<Arc<CheckDef>>, &Dependencies),
    members: &[usize],
    stop: impl Future<Output = Interruption>,
    progress: &mut dyn Progress,
) -> (engine::Finished, Arrivals) {
    let mut shown = Shown {
        rounds,
        round,
        members,
        progress,
        arrivals: Arrivals::new(),
    };
    let finished = engine::run(
        subset,
        graph,
        Arc::clone(&rounds.ctx),
        rounds.concurrency,
        rounds.per_host,
        stop,
        &mut shown,
    )
    .await;
    (finished, shown.arrivals)
}

/// The results of one round on their way to the progress display and, under the gate, their
/// arrival noted.
struct Shown<'a, 'p> {
    rounds: &'a Rounds,
    round: u32,
    members: &'a [usize],
    progress: &'p mut dyn Progress,
    arrivals: Arrivals,
}

impl engine::Deliver for &mut Shown<'_, '_> {
    fn result(&mut self, k: usize, r: &CheckResult) {
        self.progress.result(self.round, r);
        if self.rounds.interval.is_some()
            && let Some(&i) = self.members.get(k)
        {
            self.arrivals
                .insert(i, (self.rounds.start.elapsed(), OffsetDateTime::now_utc()));
        }
    }

    fn batch_end(&mut self) {
        self.progress.batch_end();
    }

    fn coalesce(&self) -> Option<Duration> {
        if self.rounds.interval.is_some() {
            return None;
        }
        self.progress.coalesce()
    }
}

/// Wait `interval` before the next round; `Some` when `stop` resolves first.
async fn pause(
    interval: Duration,
    stop: impl Future<Output = Interruption>,
) -> Option<Interruption> {
    tokio::select! {
        biased;
        why = stop => Some(why),
        () = tokio::time::sleep(interval) => None,
    }
}

/// The run across its rounds.
struct RunState {
    /// Every check of the run, in config order (emptied under a single round: the engine
    /// holds them then).
    all: Vec<Arc<CheckDef>>,
    /// The graph of `all`.
    dependencies: Dependencies,
    /// The last result of each check, by position (filled by the first round).
    finals: Vec<Option<CheckResult>>,
    /// The gate's record of each check.
    records: Vec<CheckGate>,
    /// The checks the gate still waits for, in config order.
    pending: Vec<usize>,
    /// The round under way (1-based).
    round: u32,
    interrupted: Option<Interruption>,
    held_back: Option<engine::HeldBack>,
}

impl RunState {
    fn new(all: Vec<Arc<CheckDef>>, dependencies: Dependencies) -> Self {
        let n = all.len();
        RunState {
            all,
            dependencies,
            // Filled from the first round's results in place (no second full-length array).
            finals: Vec::new(),
            records: gate::records(n),
            pending: (0..n).collect(),
            round: 0,
            interrupted: None,
            held_back: None,
        }
    }

    /// The checks this round runs: their positions in `all`, in config order, and their
    /// definitions. The first round runs every check; a single round (not `gated`) hands the
    /// only copy to the engine, which frees each definition as its result comes in.
    fn members(&mut self, gated: bool) -> (Vec<usize>, Vec<Arc<CheckDef>>) {
        if self.round > 1 {
            let members =
                gate::with_unpassed_dependencies(&self.pending, &self.dependencies, &self.finals);
            let subset = members
                .iter()
                .filter_map(|&i| self.all.get(i).cloned())
                .collect();
            (members, subset)
        } else if gated {
            (self.pending.clone(), self.all.clone())
        } else {
            (self.pending.clone(), std::mem::take(&mut self.all))
        }
    }

    /// The graph of the checks at `members` (the whole graph in the first round).
    fn graph_of(&self, members: &[usize]) -> Cow<'_, Dependencies> {
        if self.round > 1 {
            Cow::Owned(self.dependencies.within(members))
        } else {
            Cow::Borrowed(&self.dependencies)
        }
    }

    /// Take in a round's `results` (one per member, by position) and record each in the
    /// gate's record. `stopped`: the deadline or a signal ended the round.
    fn take_results(
        &mut self,
        results: Vec<CheckResult>,
        members: &[usize],
        arrivals: &Arrivals,
        stopped: bool,
        policy: &Policy,
    ) {
        let round = self.round;
        let n = self.records.len();
        let cut_short = |r: &CheckResult| stopped && r.cut_short();
        if round == 1 && results.len() == n {
            // The first round runs every check in config order: its results become the
            // gate's array in place, so only one full-length array of results is ever alive.
            self.finals = results.into_iter().map(Some).collect();
            let finals = self.finals.iter().zip(self.records.iter_mut()).enumerate();
            for (i, (r, record)) in finals {
                if let Some(r) = r {
                    gate::record_round(record, r, round, cut_short(r), arrivals.get(&i), policy);
                }
            }
            return;
        }
        self.finals.resize_with(n, || None);
        for (&i, r) in members.iter().zip(results) {
            let (Some(slot), Some(record)) = (self.finals.get_mut(i), self.records.get_mut(i))
            else {
                continue;
            };
            if round > 1 && cut_short(&r) && slot.is_some() {
                // A rerun cut short by the deadline proves nothing new: keep the real
                // failure of the round before.
                continue;
            }
            gate::record_round(record, &r, round, cut_short(&r), arrivals.get(&i), policy);
            *slot = Some(r);
        }
    }

    /// The run's outcome; `gate`: (interval, deadline) under `--until-healthy`, whose summary
    /// and per-check records it then carries.
    fn outcome(self, gate: Option<(Duration, Duration)>) -> Outcome {
        let healthy = self.interrupted.is_none() && self.pending.is_empty();
        let gate = gate.map(|settings| gate::summary(settings, self.round, healthy, &self.records));
        let results = self
            .finals
            .into_iter()
            .zip(self.records)
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
            interrupted: self.interrupted,
            gate,
            held_back: self.held_back,
        }
    }
}
