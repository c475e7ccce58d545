//! The state of one engine run and its steps: start what may start, take in a finished task,
//! record a result (releasing or blocking its dependents), end early, hand back the results.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{Id, JoinError, JoinSet};

use super::queue::Queue;
use super::slots::{Blocked, HostSlots};
use super::{Finished, START_BATCH, finish, panic_text, run_with_retries, unreachable_result};
use crate::checks::{CheckDef, RunContext};
use crate::config::Dependencies;
use crate::model::{CheckResult, Interruption, Outcome, Reason, Status};

/// One run of the engine under way.
pub(super) struct Running {
    /// Each definition until its check has a result (then `None`: freed unless the caller
    /// keeps it for a later round).
    checks: Vec<Option<Arc<CheckDef>>>,
    ctx: Arc<RunContext>,
    /// Global limit of checks in flight (at least 1).
    concurrency: usize,
    in_flight: usize,
    hosts: HostSlots,
    queue: Queue,
    /// Paces the starts: a batch starts once every check started before has been polled.
    pub(super) pace: Arc<super::pace::Pace>,
    /// The tasks under way, each giving back its check's index and result.
    pub(super) set: JoinSet<(usize, CheckResult)>,
    /// The check of each task, to name a task that panicked.
    task_index: HashMap<Id, usize>,
    started: Vec<Option<Instant>>,
    results: Vec<Option<CheckResult>>,
}

/// What [`JoinSet::join_next_with_id`] gives back: a task's check and result, or why the task
/// ended without one; `None` when no task was left.
pub(super) type Joined = Option<Result<(Id, (usize, CheckResult)), JoinError>>;

impl Running {
    /// A run of `checks` (their graph: `dependencies`) with at most `concurrency` in flight, and
    /// at most `per_host` against one host when set.
    pub(super) fn new(
        checks: Vec<Arc<CheckDef>>,
        dependencies: &Dependencies,
        ctx: Arc<RunContext>,
        concurrency: usize,
        per_host: Option<usize>,
    ) -> Self {
        let n = checks.len();
        Running {
            hosts: HostSlots::new(&checks, dependencies, per_host),
            checks: checks.into_iter().map(Some).collect(),
            ctx,
            concurrency: concurrency.max(1),
            in_flight: 0,
            queue: Queue::new(n),
            pace: super::pace::Pace::new(),
            set: JoinSet::new(),
            task_index: HashMap::new(),
            started: vec![None; n],
            results: vec![None; n],
        }
    }

    /// Whether a global slot is free.
    pub(super) fn has_free_slot(&self) -> bool {
        self.in_flight < self.concurrency
    }

    /// Start what may start now, at most [`START_BATCH`] checks; returns how many started.
    pub(super) fn start_batch(&mut self, between_batches: bool) -> usize {
        // A batch started right after the last one (paced, not waiting for a slot) starts no
        // new round of `queued_ms`.
        if !between_batches {
            self.queue.next_round();
        }
        let mut batch = 0usize;
        while self.has_free_slot() && batch < START_BATCH {
            let Some(idx) = self.hosts.next_runnable() else {
                break;
            };
            batch += 1;
            self.start(idx);
        }
        batch
    }

    /// Start the check at `idx` in a task of its own.
    fn start(&mut self, idx: usize) {
        self.in_flight += 1;
        let now = Instant::now();
        if let Some(s) = self.started.get_mut(idx) {
            *s = Some(now);
        }
        let queued = self.queue.waited(idx, now);
        let check = self.checks.get(idx).cloned().flatten();
        let ctx = Arc::clone(&self.ctx);
        let polled = Arc::clone(&self.pace);
        self.pace.start();
        let handle = self.set.spawn(async move {
            polled.polled();
            let mut result = match check {
                Some(check) => run_with_retries(&check, &ctx).await,
                None => unreachable_result(),
            };
            result.queued = queued;
            (idx, result)
        });
        self.task_index.insert(handle.id(), idx);
    }

    /// The check and result of a task that ended: a task that panicked (or was cancelled) is
    /// its check's internal FAIL. `None` when there is nothing to record.
    pub(super) fn joined(&mut self, joined: Joined) -> Option<(usize, CheckResult)> {
        match joined? {
            Ok((id, (idx, result))) => {
                self.task_index.remove(&id);
                Some((idx, result))
            }
            Err(err) => {
                let idx = self.task_index.remove(&err.id())?;
                let Some(Some(check)) = self.checks.get(idx) else {
                    return None;
                };
                let why = if err.is_panic() {
                    panic_text(err.into_panic())
                } else {
                    "task was cancelled".to_owned()
                };
                let outcome = Outcome::fail(
                    Reason::Internal,
                    format!("internal error: check panicked: {why}"),
                );
                let elapsed = self
                    .started
                    .get(idx)
                    .copied()
                    .flatten()
                    .map(|s: Instant| s.elapsed())
                    .unwrap_or_default();
                Some((idx, finish(check, outcome, elapsed, 1, Vec::new())))
            }
        }
    }

    /// `idx` finished with `result`: its slot is free, its dependents are released (it
    /// passed) or blocked, each transitively blocked check gets its SKIP, and every result is
    /// shown to `on_result`.
    pub(super) fn record(
        &mut self,
        idx: usize,
        result: CheckResult,
        on_result: &mut impl FnMut(usize, &CheckResult),
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let passed = result.status.ran_well();
        let blocked = self.hosts.finished(idx, passed);
        for &d in self.hosts.dependents_of(idx) {
            if self.hosts.waiting_on(d) == 0 {
                self.queue.eligible(d);
            }
        }
        on_result(idx, &result);
        self.keep(idx, result);
        for b in blocked {
            let Some(Some(check)) = self.checks.get(b.check) else {
                continue;
            };
            let skipped = blocked_result(check, &self.results, &b);
            on_result(b.check, &skipped);
            self.keep(b.check, skipped);
        }
    }

    /// Store the result of `idx` and let go of its definition.
    fn keep(&mut self, idx: usize, result: CheckResult) {
        if let Some(slot) = self.results.get_mut(idx) {
            *slot = Some(result);
        }
        if let Some(def) = self.checks.get_mut(idx) {
            *def = None;
        }
    }

    /// The run ends early (`why`): the tasks under way are aborted and every check without a
    /// result FAILs with `timeout.deadline` or `cancelled`, saying whether it had started.
    pub(super) fn interrupt(&mut self, why: Interruption) {
        self.set.abort_all();
        let (reason, text) = match why {
            Interruption::Deadline => (Reason::TimeoutDeadline, "the run's deadline passed"),
            Interruption::Sigint => (Reason::Cancelled, "the run was interrupted (SIGINT)"),
            Interruption::Sigterm => (Reason::Cancelled, "the run was terminated (SIGTERM)"),
        };
        for (idx, slot) in self.results.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let Some(Some(check)) = self.checks.get(idx) else {
                continue;
            };
            let start = self.started.get(idx).copied().flatten();
            let message = if start.is_some() {
                format!("{text} before the check finished")
            } else {
                format!("{text} before the check started")
            };
            let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
            let attempts = u32::from(start.is_some());
            *slot = Some(finish(
                check,
                Outcome::fail(reason, message),
                elapsed,
                attempts,
                Vec::new(),
            ));
        }
    }

    /// The results, one per check, by position: a slot left empty would be an engine bug,
    /// reported as a FAIL rather than dropped (a missing result must never look like a green
    /// run). An empty slot's definition is still held (it is let go only with a result).
    pub(super) fn finished(self, interrupted: Option<Interruption>) -> Finished {
        let results = self
            .results
            .into_iter()
            .zip(self.checks)
            .map(|(slot, check)| {
                slot.unwrap_or_else(|| {
                    let Some(check) = check else {
                        return unreachable_result();
                    };
                    finish(
                        &check,
                        Outcome::fail(
                            Reason::Internal,
                            "internal error: the check produced no result",
                        ),
                        Duration::ZERO,
                        0,
                        Vec::new(),
                    )
                })
            })
            .collect();
        Finished {
            results,
            interrupted,
            held_back: self.hosts.held_back(),
        }
    }
}

/// The SKIP result of `check`, blocked as `b` says; the names of the checks that did not pass
/// come from their results (their definitions may be gone).
pub(super) fn blocked_result(
    check: &CheckDef,
    results: &[Option<CheckResult>],
    b: &Blocked,
) -> CheckResult {
    let name = |i: usize| {
        results
            .get(i)
            .and_then(Option::as_ref)
            .map_or("?", |r| r.name.as_str())
    };
    blocked(check, name(b.by), name(b.root))
}

/// The result of `check` when `by`, a check it depends on, did not pass (see
/// [`crate::model::Status::ran_well`]): SKIP with reason `blocked`. `root` is the check that
/// failed first along the chain (`by` itself for a direct failure). `serve` judges a dependent
/// on its dependencies' latest results with it (src/serve/live.rs).
pub fn blocked(check: &CheckDef, by: &str, root: &str) -> CheckResult {
    let message = if by == root {
        format!("blocked by {by}")
    } else {
        format!("blocked by {by} (root cause: {root})")
    };
    let outcome = Outcome {
        status: Status::Skip,
        reason: Some(Reason::Blocked),
        message: message.into(),
        detail: None,
        metadata: Default::default(),
        texts: Default::default(),
        phases: Default::default(),
        observed: None,
    }
    .with_meta("blocked_by", by)
    .with_meta("root_cause", root);
    finish(check, outcome, Duration::ZERO, 0, Vec::new())
}
