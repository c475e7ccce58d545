//! Runs a plan: bounded concurrency (globally and per target host), a timeout around every
//! attempt, retries with exponential backoff, a global stop (deadline or signal) and panic
//! isolation. Results come back in config order, not yet redacted: the caller redacts the
//! finished results once, before any report (see [`crate::redact`]).
//!
//! Scheduling: one loop owns every slot. A check starts when a global slot is free *and*, when
//! a per-host limit is set (it is opt-in: none by default), its host (see
//! [`CheckDef::host_key`]) has a free slot; a check whose host is saturated waits in that
//! host's queue without holding a global slot, so checks of other hosts keep running. A
//! finished check hands its host slot to the next queued check of the same host, in config
//! order. No task ever waits for a slot while holding another, so nothing can deadlock. When a
//! check has to wait for its host while a global slot is free, the run reports it once
//! ([`HeldBack`]) so the caller can say that the per-host limit, not `concurrency`, set the pace.
//!
//! Dependencies (`depends_on`): a check waits, holding no slot, until every check it depends on
//! has finished. If one of them finished with PASS or WARN it counts as passed; anything else
//! (FAIL, or SKIP itself) means the dependent is never started and is reported as SKIP with
//! reason `blocked`, transitively. A dependency that is not among the checks of this run (under
//! `--shard`, a check of another shard) is ignored: the dependent runs as if it had none.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::checks::{self, CheckDef, Phase, RunContext};
use crate::model::Rule;
use crate::model::format_duration;
use crate::model::{CheckResult, FailedAttempt, Interruption, Outcome, Reason, Status};
use queue::Queue;

/// How many checks the engine starts before it lets the runtime poll what is under way.
/// Starting a check costs CPU on an I/O thread (building its request, its connect); starting
/// a thousand at once would make a check whose response is already in wait for all of them
/// before it is polled again, and that wait would land in its clock (BENCHMARKS.md, "True
/// numbers"). In batches, a response waits for at most one batch of starts.
const START_BATCH: usize = 32;

/// Longest wait between two attempts, whatever `retry_delay` and the backoff say.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// The first time a per-host limit held a check back while a global slot was free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    /// The host (`host:port`) whose limit was reached.
    pub host: String,
    /// The per-host limit in force.
    pub limit: usize,
}

/// What [`run`] produced.
#[derive(Debug)]
pub struct Finished {
    /// One result per check, in the order of the checks.
    pub results: Vec<CheckResult>,
    /// Set when the deadline or a signal ended the run.
    pub interrupted: Option<Interruption>,
    /// Set when the per-host limit, not the global one, kept a check waiting.
    pub held_back: Option<HeldBack>,
}

/// Run every check of `checks` with at most `concurrency` in flight, and, when `per_host` is
/// set, at most that many in flight against any one host. The engine lets go of each check's
/// definition once its result is in: a definition nobody else holds is freed then, so a long
/// run keeps only the results of the checks that finished (see BENCHMARKS.md). `stop`
/// resolves when the run must end early (deadline or signal); unfinished checks then FAIL with
/// `timeout.deadline` or `cancelled`. `on_result` sees each result as it completes, with the
/// check's index in `checks` (for progress display and the deploy gate's timing). The results
/// come back one per check, in the order of `checks`.
pub async fn run(
    checks: Vec<Arc<CheckDef>>,
    ctx: Arc<RunContext>,
    concurrency: usize,
    per_host: Option<usize>,
    stop: impl Future<Output = Interruption>,
    mut on_result: impl FnMut(usize, &CheckResult),
) -> Finished {
    let n = checks.len();
    let concurrency = concurrency.max(1);
    let mut hosts = HostSlots::new(&checks, per_host);
    // Each definition until its check has a result (then `None`: freed unless the caller
    // keeps it for a later round).
    let mut checks: Vec<Option<Arc<CheckDef>>> = checks.into_iter().map(Some).collect();
    let mut in_flight = 0usize;
    let mut set: JoinSet<(usize, CheckResult)> = JoinSet::new();
    let mut task_index = HashMap::new();
    let mut started: Vec<Option<Instant>> = vec![None; n];
    let mut results: Vec<Option<CheckResult>> = vec![None; n];
    let mut interrupted = None;
    let mut queue = Queue::new(n);
    tokio::pin!(stop);

    loop {
        queue.next_round();
        // Start what may start now, at most `START_BATCH` at a time (see its doc).
        let mut batch = 0usize;
        while in_flight < concurrency {
            if batch == START_BATCH {
                break;
            }
            let Some(idx) = hosts.next_runnable() else {
                break;
            };
            batch += 1;
            in_flight += 1;
            let now = Instant::now();
            if let Some(s) = started.get_mut(idx) {
                *s = Some(now);
            }
            let queued = queue.waited(idx, now);
            let check = checks.get(idx).cloned().flatten();
            let ctx = Arc::clone(&ctx);
            let handle = set.spawn(async move {
                let mut result = match check {
                    Some(check) => run_with_retries(&check, &ctx).await,
                    None => unreachable_result(),
                };
                result.queued = queued;
                (idx, result)
            });
            task_index.insert(handle.id(), idx);
        }
        if set.is_empty() {
            break;
        }
        if batch == START_BATCH && in_flight < concurrency {
            // More may start: let the checks just started, and the responses that came in
            // meanwhile, be polled first, then start the next batch.
            tokio::task::yield_now().await;
            if let Some(why) = futures::FutureExt::now_or_never(&mut stop) {
                interrupted = Some(why);
                break;
            }
            continue;
        }
        tokio::select! {
            biased;
            why = &mut stop => {
                interrupted = Some(why);
                break;
            }
            joined = set.join_next_with_id() => {
                let (idx, result) = match joined {
                    Some(Ok((id, (idx, result)))) => {
                        task_index.remove(&id);
                        (idx, result)
                    }
                    Some(Err(err)) => {
                        let Some(idx) = task_index.remove(&err.id()) else { continue };
                        let Some(Some(check)) = checks.get(idx) else { continue };
                        let why = if err.is_panic() {
                            panic_text(err.into_panic())
                        } else {
                            "task was cancelled".to_owned()
                        };
                        let outcome = Outcome::fail(Reason::Internal, format!("internal error: check panicked: {why}"));
                        let elapsed = started.get(idx).copied().flatten().map(|s: Instant| s.elapsed()).unwrap_or_default();
                        (idx, finish(check, outcome, elapsed, 1, Vec::new()))
                    }
                    None => continue,
                };
                in_flight = in_flight.saturating_sub(1);
                let passed = Rule::ran_well(result.status);
                let blocked = hosts.finished(idx, passed);
                for &d in hosts.dependents_of(idx) {
                    if hosts.waiting_on(d) == 0 {
                        queue.eligible(d);
                    }
                }
                on_result(idx, &result);
                if let Some(slot) = results.get_mut(idx) {
                    *slot = Some(result);
                }
                if let Some(def) = checks.get_mut(idx) {
                    *def = None;
                }
                for b in blocked {
                    let Some(Some(check)) = checks.get(b.check) else { continue };
                    let skipped = blocked_result(check, &results, &b);
                    on_result(b.check, &skipped);
                    if let Some(slot) = results.get_mut(b.check) {
                        *slot = Some(skipped);
                    }
                    if let Some(def) = checks.get_mut(b.check) {
                        *def = None;
                    }
                }
            }
        }
    }

    if let Some(why) = interrupted {
        set.abort_all();
        let (reason, text) = match why {
            Interruption::Deadline => (Reason::TimeoutDeadline, "the run's deadline passed"),
            Interruption::Sigint => (Reason::Cancelled, "the run was interrupted (SIGINT)"),
            Interruption::Sigterm => (Reason::Cancelled, "the run was terminated (SIGTERM)"),
        };
        for (idx, slot) in results.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let Some(Some(check)) = checks.get(idx) else {
                continue;
            };
            let start = started.get(idx).copied().flatten();
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
    // One result per check, by position: a slot left empty would be an engine bug, reported
    // as a FAIL rather than dropped (a missing result must never look like a green run). An
    // empty slot's definition is still held (it is let go only with a result).
    let results = results
        .into_iter()
        .zip(checks)
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
        held_back: hosts.held_back(),
    }
}

/// A check that will not run because a dependency did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Blocked {
    /// The check that is skipped.
    check: usize,
    /// Its dependency that did not pass.
    by: usize,
    /// The check that failed first along the chain (equal to `by` for a direct dependency).
    root: usize,
}

/// The SKIP result of `check`, blocked as `b` says; the names of the checks that did not pass
/// come from their results (their definitions may be gone).
fn blocked_result(check: &CheckDef, results: &[Option<CheckResult>], b: &Blocked) -> CheckResult {
    let name = |i: usize| {
        results
            .get(i)
            .and_then(Option::as_ref)
            .map_or("?", |r| r.name.as_str())
    };
    blocked(check, name(b.by), name(b.root))
}

/// The result of `check` when `by`, a check it depends on, did not pass (see
/// [`Rule::ran_well`]): SKIP with reason `blocked`. `root` is the check that failed first
/// along the chain (`by` itself for a direct failure). `serve` judges a dependent on its
/// dependencies' latest results with it (src/serve/live.rs).
pub fn blocked(check: &CheckDef, by: &str, root: &str) -> CheckResult {
    let message = if by == root {
        format!("blocked by {by}")
    } else {
        format!("blocked by {by} (root cause: {root})")
    };
    let outcome = Outcome {
        status: Status::Skip,
        reason: Some(Reason::Blocked),
        message,
        detail: None,
        metadata: Default::default(),
        phases: Default::default(),
        observed: None,
    }
    .with_meta("blocked_by", by)
    .with_meta("root_cause", root);
    finish(check, outcome, Duration::ZERO, 0, Vec::new())
}

/// Which checks may start, honouring dependencies and the per-host limit. Checks come out in
/// config order, except that a check whose host is saturated is passed over (and queued for its
/// host) so that the checks behind it still start, and a check waiting for its dependencies is
/// passed over until the last of them finishes.
struct HostSlots {
    /// Each check's host, as an index into `in_flight`/`queued`; `None` = not host-limited
    /// (every check when no per-host limit is set).
    host_of: Vec<Option<usize>>,
    /// The host keys, by index.
    host_names: Vec<String>,
    /// The first host that held a check back (see [`HeldBack`]).
    first_held: Option<usize>,
    /// Checks in flight per host.
    in_flight: Vec<usize>,
    /// Checks passed over because their host was saturated, per host, in config order.
    queued: Vec<VecDeque<usize>>,
    /// Checks whose host slot is already taken, ready for a global slot (config order).
    ready: VecDeque<usize>,
    /// The next check not yet looked at.
    next: usize,
    per_host: usize,
    /// Per check: how many of its dependencies have not finished yet.
    waiting_on: Vec<usize>,
    /// Per check: the checks that depend on it.
    dependents: Vec<Vec<usize>>,
    /// Checks whose dependencies all passed after they were passed over, in release order.
    released: VecDeque<usize>,
    /// Checks that will not run (a dependency did not pass).
    skipped: Vec<bool>,
}

impl HostSlots {
    /// Slots for `checks`; `per_host` `None` means no per-host limit.
    fn new(checks: &[Arc<CheckDef>], per_host: Option<usize>) -> Self {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut host_names = Vec::new();
        let host_of = checks
            .iter()
            .map(|c| {
                let key = per_host.and_then(|_| c.host_key())?;
                let next_id = ids.len();
                Some(*ids.entry(key).or_insert_with_key(|k| {
                    host_names.push(k.clone());
                    next_id
                }))
            })
            .collect();
        let index: HashMap<&str, usize> = checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut waiting_on = vec![0; checks.len()];
        let mut dependents = vec![Vec::new(); checks.len()];
        for (i, c) in checks.iter().enumerate() {
            let mut deps: Vec<usize> = c
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.name.as_str()).copied())
                .filter(|&j| j != i)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            if let Some(w) = waiting_on.get_mut(i) {
                *w = deps.len();
            }
            for j in deps {
                if let Some(d) = dependents.get_mut(j) {
                    d.push(i);
                }
            }
        }
        HostSlots {
            host_of,
            host_names,
            first_held: None,
            in_flight: vec![0; ids.len()],
            queued: vec![VecDeque::new(); ids.len()],
            ready: VecDeque::new(),
            next: 0,
            per_host: per_host.unwrap_or(usize::MAX).max(1),
            waiting_on,
            dependents,
            released: VecDeque::new(),
            skipped: vec![false; checks.len()],
        }
    }

    /// The next check that may start now (its host slot, if any, is taken for it). Only asked
    /// while a global slot is free: a check queued here is held back by its host's limit alone.
    fn next_runnable(&mut self) -> Option<usize> {
        if let Some(idx) = self.ready.pop_front() {
            return Some(idx);
        }
        loop {
            let idx = if let Some(idx) = self.released.pop_front() {
                idx
            } else if self.next < self.host_of.len() {
                let idx = self.next;
                self.next += 1;
                // Passed over for now: `finished` releases it when its dependencies are done.
                if self.waiting_on.get(idx).is_some_and(|w| *w > 0)
                    || self.skipped.get(idx).copied().unwrap_or(false)
                {
                    continue;
                }
                idx
            } else {
                return None;
            };
            let host = self.host_of.get(idx).copied()?;
            let Some(h) = host else { return Some(idx) };
            match (self.in_flight.get_mut(h), self.queued.get_mut(h)) {
                (Some(n), _) if *n < self.per_host => {
                    *n += 1;
                    return Some(idx);
                }
                (Some(_), Some(q)) => {
                    q.push_back(idx);
                    self.first_held.get_or_insert(h);
                }
                _ => return Some(idx),
            }
        }
    }

    /// The checks that depend on `idx`.
    fn dependents_of(&self, idx: usize) -> &[usize] {
        self.dependents.get(idx).map_or(&[], Vec::as_slice)
    }

    /// How many of `idx`'s dependencies have not finished yet.
    fn waiting_on(&self, idx: usize) -> usize {
        self.waiting_on.get(idx).copied().unwrap_or(0)
    }

    /// The first host whose limit held a check back while a global slot was free.
    fn held_back(&self) -> Option<HeldBack> {
        let h = self.first_held?;
        Some(HeldBack {
            host: self.host_names.get(h)?.clone(),
            limit: self.per_host,
        })
    }

    /// `idx` finished (`passed`: PASS or WARN): its host slot goes to the host's next queued
    /// check, if any, and its dependents are released (passed) or blocked (not passed). Returns
    /// every check that is now blocked, transitively, each exactly once.
    fn finished(&mut self, idx: usize, passed: bool) -> Vec<Blocked> {
        if let Some(Some(h)) = self.host_of.get(idx).copied() {
            if let Some(next) = self.queued.get_mut(h).and_then(VecDeque::pop_front) {
                // The slot passes straight on: the host's count does not change.
                self.ready.push_back(next);
            } else if let Some(n) = self.in_flight.get_mut(h) {
                *n = n.saturating_sub(1);
            }
        }
        let dependents = self.dependents.get(idx).cloned().unwrap_or_default();
        if passed {
            for d in dependents {
                let Some(w) = self.waiting_on.get_mut(d) else {
                    continue;
                };
                *w = w.saturating_sub(1);
                // Released only once it was passed over; before that, the scan finds it.
                if *w == 0 && d < self.next && !self.skipped.get(d).copied().unwrap_or(true) {
                    self.released.push_back(d);
                }
            }
            return Vec::new();
        }
        let mut blocked = Vec::new();
        let mut work: VecDeque<(usize, usize, usize)> =
            dependents.into_iter().map(|d| (d, idx, idx)).collect();
        while let Some((check, by, root)) = work.pop_front() {
            match self.skipped.get_mut(check) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            blocked.push(Blocked { check, by, root });
            if let Some(next) = self.dependents.get(check) {
                work.extend(next.iter().map(|&d| (d, check, root)));
            }
        }
        blocked
    }
}

fn unreachable_result() -> CheckResult {
    CheckResult {
        name: String::new(),
        kind: "internal",
        target: String::new(),
        status: Status::Fail,
        reason: Some(Reason::Internal),
        message: "internal error: check index out of range".to_owned(),
        detail: None,
        duration: Duration::ZERO,
        queued: None,
        phases: Default::default(),
        attempts: 0,
        flaky: false,
        failed_attempts: Vec::new(),
        metadata: Default::default(),
        location: Default::default(),
        tags: Vec::new(),
        pulled_in_by: Vec::new(),
        conditions: Vec::new(),
        baseline: None,
        gate: None,
        history: None,
        limits: Default::default(),
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Run a check with its timeout and retries. The time an attempt waits for what infracheck
/// prepares for it ([`Phase::outside_clock`]) is not the check's: it is taken off the
/// durations and added to the attempt's timeout.
pub async fn run_with_retries(check: &CheckDef, ctx: &RunContext) -> CheckResult {
    // What infracheck prepares for the check (its TLS trust) is ready before its clock starts,
    // unless the check waits for it itself between its connect and its handshake.
    ctx.ready_for(check).await;
    let start = Instant::now();
    let mut outside = Duration::ZERO;
    let mut failed = Vec::new();
    let total = check.retries.saturating_add(1);
    let mut attempt = 1u32;
    loop {
        let phase = Phase::default();
        let t0 = Instant::now();
        let outcome = match within(check.timeout, &phase, checks::run(check, ctx, &phase)).await {
            Some(o) => o,
            None => {
                let during = phase.get();
                let mut message = format!("timed out after {}", format_duration(check.timeout));
                if !during.is_empty() {
                    message.push_str(&format!(" {during}"));
                }
                // The phases it finished are still reported.
                let outcome =
                    checks::with_phases(check, Outcome::fail(Reason::Timeout, message), &phase);
                checks::with_conditions(check, outcome, None)
            }
        };
        let waited = phase.outside();
        outside = outside.saturating_add(waited);
        if outcome.status != Status::Fail || attempt >= total {
            let duration = start.elapsed().saturating_sub(outside);
            return finish(check, outcome, duration, attempt, failed);
        }
        failed.push(FailedAttempt {
            reason: outcome.reason.unwrap_or(Reason::Internal),
            message: outcome.message,
            duration: t0.elapsed().saturating_sub(waited),
        });
        tokio::time::sleep(retry_delay(check.retry_delay, attempt)).await;
        attempt += 1;
    }
}

/// The longest wait outside a check's clock that its timeout makes room for: the preparation
/// reads the trust store and seeds a random generator once, far quicker than this; a wait
/// longer than this counts against the check's timeout again.
const MAX_OUTSIDE_WAIT: Duration = Duration::from_secs(60);

/// Run `attempt` for at most `limit` of its own time: `None` when that ran out. The time it
/// waits outside its clock (see [`Phase::outside`], at most [`MAX_OUTSIDE_WAIT`]) extends the
/// limit.
async fn within<T>(limit: Duration, phase: &Phase, attempt: impl Future<Output = T>) -> Option<T> {
    let start = tokio::time::Instant::now();
    let sleep = tokio::time::sleep(limit);
    tokio::pin!(attempt, sleep);
    // Bounded: each turn either ends or moves the deadline by the time waited outside the
    // clock, which stops growing at `MAX_OUTSIDE_WAIT`; a re-armed timer is at least a
    // millisecond away.
    loop {
        tokio::select! {
            biased;
            out = &mut attempt => return Some(out),
            () = &mut sleep => {
                let extra = phase.outside().min(MAX_OUTSIDE_WAIT);
                let deadline = start + limit + extra;
                let now = tokio::time::Instant::now();
                if extra.is_zero() || now >= deadline {
                    return None;
                }
                sleep.as_mut().reset(deadline.max(now + Duration::from_millis(1)));
            }
        }
    }
}

/// The wait after failed attempt `attempt` (1-based): `retry_delay`, doubled after each further
/// failure, never more than [`MAX_RETRY_DELAY`].
fn retry_delay(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    base.checked_mul(factor)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

fn finish(
    check: &CheckDef,
    outcome: Outcome,
    duration: Duration,
    attempts: u32,
    failed_attempts: Vec<FailedAttempt>,
) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        kind: check.kind(),
        target: check.target.clone(),
        status: outcome.status,
        reason: outcome.reason,
        message: outcome.message,
        detail: outcome.detail,
        duration,
        queued: None,
        phases: outcome.phases,
        attempts,
        flaky: outcome.status != Status::Fail && !failed_attempts.is_empty(),
        failed_attempts,
        metadata: outcome.metadata.into(),
        location: check.location.clone(),
        tags: check.tags.clone(),
        pulled_in_by: Vec::new(),
        conditions: outcome.observed.map(|o| o.conditions).unwrap_or_default(),
        baseline: None,
        gate: None,
        history: None,
        limits: check.limits(),
    }
}

mod queue;
#[cfg(test)]
mod tests;
