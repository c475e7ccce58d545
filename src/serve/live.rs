//! One run of one check in `serve`, as `run` does it (src/app/run.rs), started by the
//! scheduler when the check is due, while other checks are in flight:
//!
//! - its dependencies are judged on their latest results, as the engine judges them within a
//!   run ([`crate::model::Status::ran_well`]): one that did not pass makes the check SKIP
//!   `blocked` without running ([`crate::engine::blocked`]);
//! - it waits for a slot of `max_workers` (shared by every run in flight) and, when
//!   `per_host_concurrency` is set, first for one of its host's, holding no global slot
//!   meanwhile (as in [`crate::engine`]); the time waited is its `queued_ms`;
//! - the engine runs it ([`crate::engine::run`]: timeout, retries, backoff, panic isolation);
//! - waivers judge the result, the redactor masks it once, then it is recorded and the alerts
//!   decided.
//!
//! A stop starts nothing more; the runs in flight may finish for up to `--shutdown-timeout`,
//! and a run cut off then has no result to keep.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, Shared as SharedFuture};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::alerts::{self, Payload, Tracker};
use super::clock::{Clock, TokioClock};
use super::schedule::{Schedule, Slot};
use super::state::unix_now;
use super::{Options, Runner, Shared};
use crate::checks::{CheckDef, RunContext};
use crate::config::Plan;
use crate::model::{CheckResult, Interruption, Reason, Status};
use crate::redact::Redactor;

type Stop = SharedFuture<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

/// A check's latest status as its dependents see it: before waivers (as `run` judges
/// dependencies), and the check that failed first along its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: Status,
    root: String,
}

impl Verdict {
    /// The verdict of the raw result `r`.
    fn of(r: &CheckResult) -> Self {
        let root = match r.reason {
            Some(Reason::Blocked) => r.metadata.get("root_cause").and_then(|v| v.as_str()),
            _ => None,
        };
        Verdict {
            status: r.status,
            root: root.unwrap_or(&r.name).to_owned(),
        }
    }
}

/// The slots every run in flight shares: `max_workers` and, when set, per host.
struct Limits {
    concurrency: usize,
    per_host: Option<usize>,
    global: Arc<Semaphore>,
    hosts: HashMap<String, Arc<Semaphore>>,
}

impl Limits {
    /// The slots of `plan`; those of `old` whose limit did not change are kept, so the runs
    /// still in flight across a reload count against them.
    fn new(plan: &Plan, old: Option<&Limits>) -> Self {
        let concurrency = plan.concurrency.max(1);
        let global = match old {
            Some(o) if o.concurrency == concurrency => Arc::clone(&o.global),
            _ => Arc::new(Semaphore::new(concurrency)),
        };
        let mut hosts = HashMap::new();
        if let Some(limit) = plan.per_host_concurrency {
            let limit = limit.max(1);
            for key in plan.checks.iter().filter_map(CheckDef::host_key) {
                let kept = old
                    .filter(|o| o.per_host == Some(limit))
                    .and_then(|o| o.hosts.get(&key));
                let slot = kept.map_or_else(|| Arc::new(Semaphore::new(limit)), Arc::clone);
                hosts.entry(key).or_insert(slot);
            }
        }
        Limits {
            concurrency,
            per_host: plan.per_host_concurrency.map(|l| l.max(1)),
            global,
            hosts,
        }
    }

    /// The slots `check` takes: its host's (if limited), then a global one.
    fn of(&self, check: &CheckDef) -> (Option<Arc<Semaphore>>, Arc<Semaphore>) {
        let host = check.host_key().and_then(|k| self.hosts.get(&k)).cloned();
        (host, Arc::clone(&self.global))
    }
}

/// The real runner: the running config and everything a run needs.
pub struct Live {
    plan: Plan,
    checks: Vec<Arc<CheckDef>>,
    /// Per check: the checks it depends on (indices).
    deps: Vec<Vec<usize>>,
    /// Per check: its latest verdict, for its dependents.
    verdicts: Vec<Option<Verdict>>,
    ctx: Arc<RunContext>,
    limits: Limits,
    shared: Arc<Shared>,
    redactor: Arc<Redactor>,
    trackers: Vec<Tracker>,
    sender: Option<alerts::Sender>,
    stop: Stop,
    grace: Duration,
    link: Option<String>,
    clock: TokioClock,
}

impl Live {
    /// The runner of `plan`.
    pub(super) fn new(
        plan: Plan,
        shared: Arc<Shared>,
        opts: &Options,
        stop: Stop,
        clock: TokioClock,
    ) -> Result<Live, String> {
        let checks: Vec<Arc<CheckDef>> = plan.checks.iter().cloned().map(Arc::new).collect();
        let ctx = Arc::new(RunContext::new(&plan.checks)?);
        let sender = match &plan.alerts {
            Some(_) => Some(alerts::Sender::start()?),
            None => None,
        };
        let redactor = Arc::new(Redactor::new(&plan.secrets));
        Ok(Live {
            trackers: vec![Tracker::default(); checks.len()],
            verdicts: vec![None; checks.len()],
            deps: slots(&plan.checks)
                .into_iter()
                .map(|s| s.depends_on)
                .collect(),
            limits: Limits::new(&plan, None),
            checks,
            ctx,
            shared,
            redactor,
            sender,
            stop,
            grace: opts.shutdown_timeout,
            link: opts.external_url.clone(),
            clock,
            plan,
        })
    }

    /// Every check due now.
    pub(super) fn schedule(&self, now: Duration) -> Schedule {
        Schedule::new(slots(&self.plan.checks), now)
    }

    /// `check` (at `idx`) judged on its dependencies' latest results: its SKIP `blocked`
    /// result when one of them did not pass, `None` when it may run. A dependency without a
    /// result yet does not block it (the scheduler waits for one before it starts `idx`).
    fn blocked(&self, idx: usize, check: &CheckDef) -> Option<CheckResult> {
        self.deps.get(idx)?.iter().find_map(|&d| {
            let v = self.verdicts.get(d)?.as_ref()?;
            let by = self.checks.get(d)?;
            (d != idx && !v.status.ran_well())
                .then(|| crate::engine::blocked(check, &by.name, &v.root))
        })
    }

    /// Judge (waivers) and redact `results` in place, as `run` does.
    fn judge(&self, results: &mut Vec<CheckResult>) {
        if let Ok(today) = crate::waiver::today(&|n| std::env::var(n).ok()) {
            // Stale waivers are `run`'s to report: no names needed.
            crate::waiver::apply(results, &self.plan.waivers, today, &[], false);
        }
        // The one redaction, before anything is recorded or sent.
        for r in results.iter_mut() {
            self.redactor.redact(r);
        }
    }
}

/// The scheduler's view of `checks`.
pub fn slots(checks: &[CheckDef]) -> Vec<Slot> {
    let index: HashMap<&str, usize> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    checks
        .iter()
        .map(|c| Slot {
            name: c.name.clone(),
            interval: c.interval,
            depends_on: c
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.name.as_str()).copied())
                .collect(),
        })
        .collect()
}

/// Take a slot of `slots`, noting in `queued` whether it had to wait for it; `None` if the
/// slots are closed (they never are).
async fn acquire(slots: Arc<Semaphore>, queued: &mut bool) -> Option<OwnedSemaphorePermit> {
    match Arc::clone(&slots).try_acquire_owned() {
        Ok(p) => Some(p),
        Err(_) => {
            *queued = true;
            slots.acquire_owned().await.ok()
        }
    }
}

/// Run `check` once its slots are free, by the engine; `None` when the stop came first, or
/// cut it off after the grace.
async fn run_one(
    check: Arc<CheckDef>,
    ctx: Arc<RunContext>,
    (host, global): (Option<Arc<Semaphore>>, Arc<Semaphore>),
    stop: Stop,
    grace: Duration,
) -> Option<CheckResult> {
    let since = Instant::now();
    let mut queued = false;
    let slots = async {
        let h = match host {
            Some(h) => Some(acquire(h, &mut queued).await?),
            None => None,
        };
        Some((h, acquire(global, &mut queued).await?))
    };
    let held = tokio::select! {
        biased;
        () = stop.clone() => return None,
        held = slots => held?,
    };
    let waited = queued.then(|| since.elapsed());
    let engine_stop: BoxFuture<'static, Interruption> = Box::pin(async move {
        stop.await;
        tokio::time::sleep(grace).await;
        Interruption::Sigterm
    });
    let finished = crate::engine::run(
        vec![check],
        &crate::config::Dependencies::default(),
        ctx,
        1,
        None,
        engine_stop,
        |_: usize, _: &crate::model::CheckResult| {},
    )
    .await;
    drop(held);
    let mut r = finished.results.into_iter().next()?;
    // A check cut off by the shutdown has no result to keep.
    if finished.interrupted.is_some() && r.reason == Some(Reason::Cancelled) {
        return None;
    }
    r.queued = waited;
    Some(r)
}

impl Runner for Live {
    /// The raw result (not yet judged nor redacted); `None`: nothing to record.
    type Done = Option<CheckResult>;

    fn start(&mut self, idx: usize) -> impl Future<Output = Self::Done> + 'static {
        let check = self.checks.get(idx).cloned();
        let ready = check.as_ref().and_then(|c| self.blocked(idx, c));
        let task = match (check, &ready) {
            (Some(check), None) => Some(tokio::spawn(run_one(
                Arc::clone(&check),
                Arc::clone(&self.ctx),
                self.limits.of(&check),
                self.stop.clone(),
                self.grace,
            ))),
            _ => None,
        };
        async move {
            match task {
                Some(task) => task.await.unwrap_or_else(|e| {
                    tracing::error!("a check's task ended without a result: {e}");
                    None
                }),
                None => ready,
            }
        }
    }

    fn record(&mut self, idx: usize, done: Self::Done) {
        let Some(raw) = done else { return };
        if let Some(v) = self.verdicts.get_mut(idx) {
            *v = Some(Verdict::of(&raw));
        }
        let mut judged = vec![raw];
        self.judge(&mut judged);
        let Some(r) = judged.pop() else { return };
        let now = self.clock.now();
        let mut alert = None;
        if let (Some(cfg), Some(t)) = (&self.plan.alerts, self.trackers.get_mut(idx)) {
            if let Some(event) = t.observe(r.status, now, cfg) {
                alert = Some(Payload::new(
                    event,
                    &self.redactor.text(&self.plan.environment),
                    &r,
                    t,
                    self.link.as_deref(),
                ));
            }
            t.previous = Some(r.status);
        }
        self.shared.state().record(idx, r, unix_now());
        if let (Some(sender), Some(cfg), Some(p)) = (&self.sender, &self.plan.alerts, alert) {
            let hooks = Arc::new(cfg.webhooks.clone());
            sender.send(p, hooks, Arc::clone(&self.redactor));
        }
    }

    fn wake(&self) -> impl Future<Output = ()> {
        self.shared.wake.notified()
    }

    fn reload(&mut self, schedule: &Schedule, now: Duration) -> Option<Schedule> {
        let plan = self.shared.take_pending()?;
        let ctx = match RunContext::new(&plan.checks) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!("reload refused, the running config is kept: {e}");
                self.shared.state().reload_ok = false;
                return None;
            }
        };
        if plan.alerts.is_some() && self.sender.is_none() {
            match alerts::Sender::start() {
                Ok(s) => self.sender = Some(s),
                Err(e) => tracing::error!("alerts are off: {e}"),
            }
        }
        let kept = self.shared.state().reload(&plan.checks);
        self.trackers = kept
            .iter()
            .map(|k| {
                k.and_then(|i| self.trackers.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        self.verdicts = kept
            .iter()
            .map(|k| k.and_then(|i| self.verdicts.get(i).cloned().flatten()))
            .collect();
        let slots = slots(&plan.checks);
        self.deps = slots.iter().map(|s| s.depends_on.clone()).collect();
        let next = schedule.carry_over(slots, &kept, now);
        let redactor = Redactor::new(&plan.secrets);
        self.shared.set_redactor(Redactor::new(&plan.secrets));
        self.redactor = Arc::new(redactor);
        self.limits = Limits::new(&plan, Some(&self.limits));
        self.checks = plan.checks.iter().cloned().map(Arc::new).collect();
        self.ctx = ctx;
        self.plan = plan;
        Some(next)
    }
}
