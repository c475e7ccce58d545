//! The state of one engine run and its steps: start what may start, take in a finished task,
//! record a result (releasing or blocking its dependents) and hand it to the caller, end early,
//! hand back what is left.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};

use super::queue::Queue;
use super::slots::{Blocked, HostSlots};
use super::{START_BATCH, finish, panic_text, run_with_retries, unreachable_result};
use crate::checks::{CheckDef, RunContext};
use crate::config::Dependencies;
use crate::model::{CheckResult, Interruption, Outcome, Reason, Status};

/// A result the engine recorded, on its way to the caller with its check's definition (let go
/// by the caller once the result is shown: a definition lives until its result is in).
pub(super) struct Done {
    pub(super) idx: usize,
    pub(super) check: Option<Arc<CheckDef>>,
    pub(super) result: CheckResult,
}

/// What the engine's task hands back when it ends: the results it did not send (the checks a
/// stop cut off, or, after an engine bug, the checks left without one), why it stopped early,
/// and whether a per-host limit held a check back.
pub(super) struct Ended {
    pub(super) rest: Vec<(usize, CheckResult)>,
    pub(super) interrupted: Option<Interruption>,
    pub(super) held_back: Option<super::HeldBack>,
}

/// What a check's task gives back: its index and its result, or the panic that ended it.
type TaskOutput = (usize, std::thread::Result<CheckResult>);

/// One run of the engine under way.
pub(super) struct Running {
    /// Each definition until its check has a result (then `None`: handed to the caller with
    /// the result, and freed there unless the caller keeps it for a later round).
    checks: Vec<Option<Arc<CheckDef>>>,
    ctx: Arc<RunContext>,
    /// Global limit of checks in flight (at least 1).
    concurrency: usize,
    in_flight: usize,
    hosts: HostSlots,
    queue: Queue,
    /// Paces the starts: a batch starts once every check started before has been polled.
    pace: Arc<super::pace::Pace>,
    /// The tasks under way, each giving back its check's index and result. A task never
    /// panics (its check's panic is caught inside it), so it needs no table from task to check.
    set: JoinSet<TaskOutput>,
    started: Vec<Option<Instant>>,
    /// The name of each check that has dependents, once it has a result: a blocked dependent's
    /// message names it (its definition and result are with the caller by then).
    names: Vec<Option<String>>,
    /// Checks neither started nor given a result (blocked): at 0, every check has started.
    unstarted: usize,
    /// Every check has started and the first poll of each returned: from then on, the context
    /// closes its idle connections after each result ([`RunContext::close_idle`]).
    all_started: bool,
}

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
            started: vec![None; n],
            names: vec![None; n],
            unstarted: n,
            all_started: false,
        }
    }

    /// The scheduling loop, in a task of its own (see [`super::run`]): starts checks in paced
    /// batches as slots free up, sends each result to `done` as it is recorded, and ends when
    /// every check has a result or `stop` says why the run ends early.
    pub(super) async fn drive(
        mut self,
        done: mpsc::UnboundedSender<Vec<Done>>,
        stop: oneshot::Receiver<Interruption>,
        coalesce: Option<Duration>,
    ) -> Ended {
        let mut outbox = Outbox::new(done, coalesce);
        // A caller that is gone never sends a stop: it aborts this task instead.
        let stop = async move {
            match stop.await {
                Ok(why) => why,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::pin!(stop);
        // Whether the last turn ended between two batches: the checks of the next batch did
        // not wait for a slot (no `queued_ms`), only for the pacing of the starts.
        let mut between_batches = false;
        let interrupted = loop {
            let started = self.start_batch(std::mem::take(&mut between_batches));
            if self.set.is_empty() {
                break None;
            }
            if started == START_BATCH && self.has_free_slot() {
                // More may start: let the checks just started, and the responses that came in
                // meanwhile, be polled first, then start the next batch (see `pace`).
                tokio::select! {
                    biased;
                    why = &mut stop => break Some(why),
                    () = self.pace.caught_up() => {}
                }
                // Then yield: the runtime wakes a yielded task once this thread has run every
                // task that was ready and polled the I/O driver, so the steps of the checks
                // under way (a response in, a request to write) come before the next starts.
                tokio::select! {
                    biased;
                    why = &mut stop => break Some(why),
                    () = tokio::task::yield_now() => {
                        between_batches = true;
                        continue;
                    }
                }
            }
            let holding = outbox.holding();
            // Every check has started: once the first poll of each returned (where it took its
            // pooled connection), the context may close its idle connections
            // ([`RunContext::close_idle`]).
            let closing = self.unstarted == 0 && !self.all_started;
            tokio::select! {
                biased;
                why = &mut stop => break Some(why),
                () = self.pace.settled(), if closing => {
                    self.all_started = true;
                    self.ctx.close_idle();
                }
                () = outbox.due(), if holding => outbox.flush(),
                joined = self.set.join_next() => {
                    if let Some((idx, result)) = self.joined(joined) {
                        self.record(idx, result, &mut outbox);
                        if self.all_started {
                            // Its connection, given back, serves no check left to start.
                            self.ctx.close_idle();
                        }
                    }
                }
            }
        };
        outbox.flush();
        if interrupted.is_some() {
            self.set.abort_all();
        }
        self.ctx.run_ended();
        self.ended(interrupted)
    }

    /// Whether a global slot is free.
    fn has_free_slot(&self) -> bool {
        self.in_flight < self.concurrency
    }

    /// Start what may start now, at most [`START_BATCH`] checks; returns how many started.
    fn start_batch(&mut self, between_batches: bool) -> usize {
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
        self.unstarted = self.unstarted.saturating_sub(1);
        let now = Instant::now();
        if let Some(s) = self.started.get_mut(idx) {
            *s = Some(now);
        }
        let queued = self.queue.waited(idx, now);
        let check = self.checks.get(idx).cloned().flatten();
        let ctx = Arc::clone(&self.ctx);
        let polled = Arc::clone(&self.pace);
        self.pace.start();
        self.set.spawn(async move {
            polled.polled();
            let run = async move {
                let mut result = match check {
                    Some(check) => run_with_retries(&check, &ctx).await,
                    None => unreachable_result(),
                };
                result.queued = queued;
                result
            };
            let mut run = std::pin::pin!(AssertUnwindSafe(run).catch_unwind());
            // Told once the first poll returned: the check took its pooled connection, if it
            // did without awaiting anything first (see `RunContext::close_idle`).
            let mut first = Some(polled);
            let out = std::future::poll_fn(|cx| {
                let out = run.as_mut().poll(cx);
                if let Some(p) = first.take() {
                    p.returned();
                }
                out
            })
            .await;
            (idx, out)
        });
    }

    /// The check and result of a task that ended: a check that panicked is its internal FAIL.
    /// `None` when there is nothing to record: no task left, or a task the runtime cancelled
    /// (only a runtime shutting down does): its slot is free and its check has no result,
    /// which [`Running::ended`] reports.
    fn joined(
        &mut self,
        joined: Option<Result<TaskOutput, JoinError>>,
    ) -> Option<(usize, CheckResult)> {
        let Ok((idx, result)) = joined? else {
            self.in_flight = self.in_flight.saturating_sub(1);
            return None;
        };
        match result {
            Ok(result) => Some((idx, result)),
            Err(payload) => {
                let Some(Some(check)) = self.checks.get(idx) else {
                    return None;
                };
                let why = panic_text(payload);
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
    /// sent to the caller.
    fn record(&mut self, idx: usize, result: CheckResult, done: &mut Outbox) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let passed = result.status.ran_well();
        let blocked = self.hosts.finished(idx, passed);
        for &d in self.hosts.dependents_of(idx) {
            if self.hosts.waiting_on(d) == 0 {
                self.queue.eligible(d);
            }
        }
        self.send(idx, result, done);
        for b in blocked {
            let Some(Some(check)) = self.checks.get(b.check) else {
                continue;
            };
            let skipped = blocked_result(check, &self.names, &b);
            self.send(b.check, skipped, done);
        }
    }

    /// Hand the result of `idx` to the caller, with its definition. A caller that is gone has
    /// aborted this task: a failed send changes nothing.
    fn send(&mut self, idx: usize, result: CheckResult, done: &mut Outbox) {
        if self.started.get(idx).is_some_and(Option::is_none) {
            // A check given its result without starting (blocked).
            self.unstarted = self.unstarted.saturating_sub(1);
        }
        if !self.hosts.dependents_of(idx).is_empty()
            && let Some(name) = self.names.get_mut(idx)
        {
            *name = Some(result.name.clone());
        }
        let check = self.checks.get_mut(idx).and_then(Option::take);
        done.push(Done { idx, check, result });
    }

    /// The results not sent: after a stop (`interrupted`), every check without a result FAILs
    /// with `timeout.deadline` or `cancelled`, saying whether it had started; without one, a
    /// check left without a result would be an engine bug, reported as a FAIL rather than
    /// dropped (a missing result must never look like a green run).
    fn ended(self, interrupted: Option<Interruption>) -> Ended {
        let cut = interrupted.map(|why| match why {
            Interruption::Deadline => (Reason::TimeoutDeadline, "the run's deadline passed"),
            Interruption::Sigint => (Reason::Cancelled, "the run was interrupted (SIGINT)"),
            Interruption::Sigterm => (Reason::Cancelled, "the run was terminated (SIGTERM)"),
        });
        let rest = self
            .checks
            .iter()
            .zip(&self.started)
            .enumerate()
            .filter_map(|(idx, (check, start))| {
                let check = check.as_ref()?;
                let result = match cut {
                    Some((reason, text)) => {
                        let message = if start.is_some() {
                            format!("{text} before the check finished")
                        } else {
                            format!("{text} before the check started")
                        };
                        let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
                        let attempts = u32::from(start.is_some());
                        finish(
                            check,
                            Outcome::fail(reason, message),
                            elapsed,
                            attempts,
                            Vec::new(),
                        )
                    }
                    None => finish(
                        check,
                        Outcome::fail(
                            Reason::Internal,
                            "internal error: the check produced no result",
                        ),
                        Duration::ZERO,
                        0,
                        Vec::new(),
                    ),
                };
                Some((idx, result))
            })
            .collect();
        Ended {
            rest,
            interrupted,
            held_back: self.hosts.held_back(),
        }
    }
}

/// A batch is sent once it holds this many results, whatever the time.
const OUTBOX_AT_MOST: usize = 64;

/// The results on their way to the caller. Without coalescing each is sent as it is recorded;
/// with it, they are held and sent together once [`OUTBOX_AT_MOST`] are held or the first of
/// them has waited the coalescing time, and when the engine ends. A batch is one message, so
/// it wakes the caller's thread once: sent result by result, a caller on another thread woke
/// at the first, took the few sent so far and slept again, about nine times per batch of 64
/// (BENCHMARKS.md, "True numbers XXIV").
pub(super) struct Outbox {
    done: mpsc::UnboundedSender<Vec<Done>>,
    coalesce: Option<Duration>,
    held: Vec<Done>,
    /// When the held batch is due; reset when a batch starts.
    due: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Outbox {
    fn new(done: mpsc::UnboundedSender<Vec<Done>>, coalesce: Option<Duration>) -> Self {
        Outbox {
            done,
            coalesce,
            held: Vec::new(),
            due: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// A recorded result. A caller that is gone has aborted the engine's task: a failed send
    /// changes nothing.
    fn push(&mut self, d: Done) {
        let Some(every) = self.coalesce else {
            let _ = self.done.send(vec![d]);
            return;
        };
        if self.held.is_empty() {
            self.held.reserve(OUTBOX_AT_MOST);
            self.due.as_mut().reset(tokio::time::Instant::now() + every);
        }
        self.held.push(d);
        if self.held.len() >= OUTBOX_AT_MOST {
            self.flush();
        }
    }

    /// Whether results are held (then [`Outbox::due`] says when they must go).
    fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Resolves when the held batch is due.
    async fn due(&mut self) {
        self.due.as_mut().await;
    }

    /// Send every held result, in the order recorded, as one message.
    fn flush(&mut self) {
        if !self.held.is_empty() {
            let _ = self.done.send(std::mem::take(&mut self.held));
        }
    }
}

/// The SKIP result of `check`, blocked as `b` says; the names of the checks that did not pass
/// come from their results (`names`, by position: their definitions may be gone).
pub(super) fn blocked_result(
    check: &CheckDef,
    names: &[Option<String>],
    b: &Blocked,
) -> CheckResult {
    let name = |i: usize| names.get(i).and_then(Option::as_deref).unwrap_or("?");
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
