//! Runs a plan: bounded concurrency (globally and per target host), a timeout around every
//! attempt, retries with exponential backoff, a global stop (deadline or signal) and panic
//! isolation. Results come back in config order, not yet redacted: the caller redacts the
//! finished results once, before any report (see [`crate::redact`]).
//!
//! Scheduling: one loop owns every slot. It runs in a task of its own on the runtime (beside
//! the checks it starts, not on the thread that awaits [`run`]) and hands each result to the
//! caller as it is recorded; dropping [`run`]'s future aborts it and every check under way. A
//! check starts when a global slot is free *and*, when a per-host limit is set (it is opt-in:
//! none by default), its host (see [`CheckDef::host_key`]) has a free slot; a check whose host
//! is saturated waits in that host's queue without holding a global slot, so checks of other
//! hosts keep running. A finished check hands its host slot to the next queued check of the
//! same host, in config order. No task ever waits for a slot while holding another, so nothing
//! can deadlock. When a check has to wait for its host while a global slot is free, the run
//! reports it once ([`HeldBack`]) so the caller can say that the per-host limit, not
//! `concurrency`, set the pace.
//!
//! Dependencies (`depends_on`): a check waits, holding no slot, until every check it depends on
//! has finished. If one of them finished with PASS or WARN it counts as passed; anything else
//! (FAIL, or SKIP itself) means the dependent is never started and is reported as SKIP with
//! reason `blocked`, transitively. A dependency that is not among the checks of this run (under
//! `--shard`, a check of another shard) is ignored: the dependent runs as if it had none.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::{self, CheckDef, Phase, RunContext};
use crate::config::Dependencies;
use crate::model::format_duration;
use crate::model::{CheckResult, FailedAttempt, Interruption, Outcome, Reason, Status};
pub use running::blocked;
use running::{Done, Ended, Running};
use tokio::sync::{mpsc, oneshot};

/// How many checks the engine starts before it lets the runtime poll what is under way.
/// Starting a check costs CPU on an I/O thread (building its request, its connect); starting
/// a thousand at once would make a check whose response is already in wait for all of them
/// before it is polled again, and that wait would land in its clock (BENCHMARKS.md, "True
/// numbers"). In batches, each started only once the runtime has polled the one before
/// ([`pace`]) and the engine's thread has then run what was ready and looked for I/O (a
/// yield), a response waits for at most one batch of starts (BENCHMARKS.md, "True numbers
/// IV"). Two, not eight: with one thread (`--threads 1`) a victim among 1,000 checks read
/// 1.5 ms above its time alone with batches of 8 and 0.4–0.5 ms with batches of 2
/// (BENCHMARKS.md, "True numbers XIII").
const START_BATCH: usize = 2;

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
/// set, at most that many in flight against any one host; `dependencies` is the `depends_on`
/// graph of `checks`, by position in `checks` (the plan's, kept to these checks with
/// [`Dependencies::within`]). The engine lets go of each check's
/// definition once its result is in: a definition nobody else holds is freed then, so a long
/// run keeps only the results of the checks that finished (see BENCHMARKS.md). `stop`
/// resolves when the run must end early (deadline or signal); unfinished checks then FAIL with
/// `timeout.deadline` or `cancelled`. `deliver` sees each result as it completes, with the
/// check's index in `checks` (for progress display and the deploy gate's timing): at once, or,
/// when it allows it ([`Deliver::coalesce`]), a few at a time. The results come back one per
/// check, in the order of `checks`.
pub async fn run(
    checks: Vec<Arc<CheckDef>>,
    dependencies: &Dependencies,
    ctx: Arc<RunContext>,
    concurrency: usize,
    per_host: Option<usize>,
    stop: impl Future<Output = Interruption>,
    mut deliver: impl Deliver,
) -> Finished {
    let n = checks.len();
    let coalesce = deliver.coalesce();
    let running = Running::new(checks, dependencies, ctx, concurrency, per_host);
    // The scheduling runs in a task of its own, on the runtime's workers beside the checks it
    // starts: a finished check wakes it on the thread that ran the check, not the thread that
    // awaits this function (`block_on`'s). The results come here in batches.
    let (done, mut results_in) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let mut stop_tx = Some(stop_tx);
    tokio::pin!(stop);
    // A stop already due (a deadline passed, a signal before the run) reaches the engine
    // before its first batch is started, not after however many checks it finished first.
    if let Some(why) = futures::FutureExt::now_or_never(stop.as_mut())
        && let Some(tx) = stop_tx.take()
    {
        let _ = tx.send(why);
    }
    let engine = Engine(tokio::spawn(running.drive(done, stop_rx, coalesce)));
    let mut results: Vec<Option<CheckResult>> = std::iter::repeat_with(|| None).take(n).collect();
    let mut batch = Vec::with_capacity(RESULTS_AT_ONCE);
    // Ends when the engine's task has ended and every result it sent has been taken in: each
    // turn takes at least one result or passes the stop on (once).
    loop {
        tokio::select! {
            biased;
            why = &mut stop, if stop_tx.is_some() => {
                if let Some(tx) = stop_tx.take() {
                    let _ = tx.send(why);
                }
            }
            got = results_in.recv_many(&mut batch, RESULTS_AT_ONCE) => {
                if got == 0 {
                    break;
                }
                let mut built = Vec::with_capacity(batch.iter().map(Vec::len).sum());
                for Done { idx, check, result } in batch.drain(..).flatten() {
                    deliver.result(idx, &result);
                    // The definition is let go once its result is in.
                    drop(check);
                    if let Some(slot) = results.get_mut(idx) {
                        *slot = Some(result.kept());
                    }
                    built.push(result);
                }
                deliver.batch_end();
                // The results as the workers built them are freed on a worker, where their
                // memory serves the next checks (see `CheckResult::kept`).
                drop(tokio::spawn(async move { drop(built) }));
            }
        }
    }
    let ended = engine.ended().await;
    for (idx, result) in ended.rest {
        if let Some(slot @ None) = results.get_mut(idx) {
            *slot = Some(result);
        }
    }
    Finished {
        results: results
            .into_iter()
            .map(|r| r.unwrap_or_else(unreachable_result))
            .collect(),
        interrupted: ended.interrupted,
        held_back: ended.held_back,
    }
}

/// At most this many batches of results (one result each unless the caller lets them wait,
/// [`Deliver::coalesce`]) are taken in per turn of [`run`]'s loop.
const RESULTS_AT_ONCE: usize = 256;

/// Where [`run`] hands each result as it comes in. A closure `FnMut(usize, &CheckResult)` is
/// one that takes every result at once.
pub trait Deliver {
    /// The result of the check at `idx` (its position in the run's checks).
    fn result(&mut self, idx: usize, r: &CheckResult);

    /// The results handed over together have all been given to [`Deliver::result`].
    fn batch_end(&mut self) {}

    /// How long a result may wait to be handed over with the next ones; `None`: each at once.
    /// Waiting, the engine wakes the thread awaiting [`run`] once per batch instead of once
    /// per result (BENCHMARKS.md, "True numbers VI"); a check's clock and the order of its
    /// dependents are not affected, only when its result is shown.
    fn coalesce(&self) -> Option<Duration> {
        None
    }
}

impl<F: FnMut(usize, &CheckResult)> Deliver for F {
    fn result(&mut self, idx: usize, r: &CheckResult) {
        self(idx, r);
    }
}

/// The engine's task: aborted when [`run`] is dropped before it ends (its checks' tasks go
/// with it), so a caller that gives up on a run leaves nothing running.
struct Engine(tokio::task::JoinHandle<Ended>);

impl Engine {
    /// What the task handed back; a panic of the engine itself is the caller's panic, as if
    /// the loop ran in the caller.
    async fn ended(mut self) -> Ended {
        match (&mut self.0).await {
            Ok(ended) => ended,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime that shuts down cancels the task: no check has a result then.
            Err(_) => Ended {
                rest: Vec::new(),
                interrupted: None,
                held_back: None,
            },
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn unreachable_result() -> CheckResult {
    CheckResult::new(
        String::new(),
        "internal",
        String::new(),
        Default::default(),
        Status::Fail,
        Some(Reason::Internal),
        "internal error: check index out of range".to_owned(),
    )
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
        // Where the attempt's own clock ended: the last byte it needed, where its kind knows
        // it ([`Phase::end_clock`]); a timed-out attempt's runs to the timeout.
        let (outcome, ended) =
            match within(check.timeout, &phase, checks::run(check, ctx, &phase)).await {
                Some(o) => (o, phase.clock_end()),
                None => {
                    let during = phase.get();
                    let mut message = format!("timed out after {}", format_duration(check.timeout));
                    if !during.is_empty() {
                        message.push_str(&format!(" {during}"));
                    }
                    // The phases it finished are still reported.
                    let outcome =
                        checks::with_phases(check, Outcome::fail(Reason::Timeout, message), &phase);
                    (
                        checks::with_conditions(check, outcome, None),
                        Instant::now(),
                    )
                }
            };
        let waited = phase.outside();
        outside = outside.saturating_add(waited);
        if outcome.status != Status::Fail || attempt >= total {
            let duration = ended
                .saturating_duration_since(start)
                .saturating_sub(outside);
            return finish(check, outcome, duration, attempt, failed);
        }
        failed.push(FailedAttempt {
            reason: outcome.reason.unwrap_or(Reason::Internal),
            message: outcome.message,
            duration: ended.saturating_duration_since(t0).saturating_sub(waited),
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
        failed_attempts: failed_attempts.into_boxed_slice(),
        metadata: crate::model::Metadata::from(outcome.metadata).with_texts(outcome.texts),
        location: check.location.clone(),
        tags: check.tags.as_slice().into(),
        pulled_in_by: Box::default(),
        conditions: outcome
            .observed
            .map(|o| o.conditions.into_boxed_slice())
            .unwrap_or_default(),
        baseline: None,
        gate: None,
        history: None,
        limits: check.limits(),
    }
}

mod pace;
mod queue;
mod running;
mod slots;
#[cfg(test)]
mod tests;
