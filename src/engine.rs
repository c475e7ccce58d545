//! Runs a plan: bounded concurrency, a timeout around every attempt, retries with exponential
//! backoff, a global stop (deadline or signal) and panic isolation. Results come back in config
//! order and already redacted.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::checks::{self, CheckDef, Phase, RunContext};
use crate::config::fields::format_duration;
use crate::redact::Redactor;
use crate::result::{CheckResult, FailedAttempt, Interruption, Outcome, Reason, Status};

/// Longest wait between two attempts, whatever `retry_delay` and the backoff say.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Run every check of `checks` with at most `concurrency` in flight. `stop` resolves when the
/// run must end early (deadline or signal); unfinished checks then FAIL with `timeout.deadline`
/// or `cancelled`. `on_result` sees each result as it completes (for progress display).
pub async fn run(
    checks: Arc<Vec<CheckDef>>,
    ctx: Arc<RunContext>,
    concurrency: usize,
    redactor: &Redactor,
    stop: impl Future<Output = Interruption>,
    mut on_result: impl FnMut(&CheckResult),
) -> (Vec<CheckResult>, Option<Interruption>) {
    let n = checks.len();
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set: JoinSet<(usize, CheckResult)> = JoinSet::new();
    let mut task_index = std::collections::HashMap::new();
    let mut started: Vec<Option<Instant>> = vec![None; n];
    let mut results: Vec<Option<CheckResult>> = vec![None; n];
    let mut next = 0usize;
    let mut interrupted = None;
    tokio::pin!(stop);

    loop {
        if next >= n && set.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            why = &mut stop => {
                interrupted = Some(why);
                break;
            }
            joined = set.join_next_with_id(), if !set.is_empty() => {
                let (idx, mut result) = match joined {
                    Some(Ok((_, (idx, result)))) => (idx, result),
                    Some(Err(err)) => {
                        let Some(idx) = task_index.get(&err.id()).copied() else { continue };
                        let Some(check) = checks.get(idx) else { continue };
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
                redactor.redact(&mut result);
                on_result(&result);
                if let Some(slot) = results.get_mut(idx) {
                    *slot = Some(result);
                }
            }
            permit = sem.clone().acquire_owned(), if next < n => {
                let Ok(permit) = permit else { break };
                let idx = next;
                next += 1;
                if let Some(s) = started.get_mut(idx) {
                    *s = Some(Instant::now());
                }
                let checks = Arc::clone(&checks);
                let ctx = Arc::clone(&ctx);
                let handle = set.spawn(async move {
                    let _permit = permit;
                    let result = match checks.get(idx) {
                        Some(check) => run_with_retries(check, &ctx).await,
                        None => unreachable_result(),
                    };
                    (idx, result)
                });
                task_index.insert(handle.id(), idx);
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
            let Some(check) = checks.get(idx) else {
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
            let mut result = finish(
                check,
                Outcome::fail(reason, message),
                elapsed,
                attempts,
                Vec::new(),
            );
            redactor.redact(&mut result);
            *slot = Some(result);
        }
    }
    (results.into_iter().flatten().collect(), interrupted)
}

fn unreachable_result() -> CheckResult {
    CheckResult {
        name: String::new(),
        kind: "internal",
        target: String::new(),
        status: Status::Fail,
        reason: Some(Reason::Internal),
        message: "internal error: check index out of range".to_owned(),
        duration: Duration::ZERO,
        attempts: 0,
        flaky: false,
        failed_attempts: Vec::new(),
        metadata: Default::default(),
        location: Default::default(),
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

/// Run a check with its timeout and retries.
pub async fn run_with_retries(check: &CheckDef, ctx: &RunContext) -> CheckResult {
    let start = Instant::now();
    let mut failed = Vec::new();
    let total = check.retries.saturating_add(1);
    let mut attempt = 1u32;
    loop {
        let phase = Phase::default();
        let t0 = Instant::now();
        let outcome =
            match tokio::time::timeout(check.timeout, checks::run(check, ctx, &phase)).await {
                Ok(o) => o,
                Err(_) => {
                    let during = phase.get();
                    let mut message = format!("timed out after {}", format_duration(check.timeout));
                    if !during.is_empty() {
                        message.push_str(&format!(" {during}"));
                    }
                    Outcome::fail(Reason::Timeout, message)
                }
            };
        if outcome.status != Status::Fail || attempt >= total {
            return finish(check, outcome, start.elapsed(), attempt, failed);
        }
        failed.push(FailedAttempt {
            reason: outcome.reason.unwrap_or(Reason::Internal),
            message: outcome.message,
            duration: t0.elapsed(),
        });
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        let delay = check
            .retry_delay
            .checked_mul(factor)
            .unwrap_or(MAX_RETRY_DELAY)
            .min(MAX_RETRY_DELAY);
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
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
        duration,
        attempts,
        flaky: outcome.status != Status::Fail && !failed_attempts.is_empty(),
        failed_attempts,
        metadata: outcome.metadata,
        location: check.location.clone(),
    }
}
