//! One cycle of `serve`, as `run` does it (src/app/run.rs): the engine runs the checks due
//! ([`crate::engine::run`]: `max_workers`, per-host caps, timeouts, retries, `depends_on`),
//! waivers judge the results, the redactor masks them once, then they are recorded and the
//! alerts decided. A stop lets the checks in flight finish for up to `--shutdown-timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, Shared as SharedFuture};

use super::alerts::{self, Payload, Tracker};
use super::clock::{Clock, TokioClock};
use super::schedule::{Schedule, Slot};
use super::state::unix_now;
use super::{Options, Runner, Shared};
use crate::checks::{CheckDef, RunContext};
use crate::config::Plan;
use crate::model::{Interruption, Reason};
use crate::redact::Redactor;

type Stop = SharedFuture<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>;

/// The real runner: the running config and everything a cycle needs.
pub struct Live {
    plan: Plan,
    checks: Vec<Arc<CheckDef>>,
    ctx: Arc<RunContext>,
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
}

/// The scheduler's view of `checks`.
pub fn slots(checks: &[CheckDef]) -> Vec<Slot> {
    let index: std::collections::HashMap<&str, usize> = checks
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

impl Runner for Live {
    async fn run(&mut self, batch: &[usize]) {
        {
            let checks: Vec<Arc<CheckDef>> = batch
                .iter()
                .filter_map(|i| self.checks.get(*i).cloned())
                .collect();
            let names: Vec<String> = self.plan.checks.iter().map(|c| c.name.clone()).collect();
            let stop = self.stop.clone();
            let grace = self.grace;
            let engine_stop: BoxFuture<'static, Interruption> = Box::pin(async move {
                stop.await;
                tokio::time::sleep(grace).await;
                Interruption::Sigterm
            });
            let dependencies = self.plan.dependencies.within(batch);
            let finished = crate::engine::run(
                checks,
                &dependencies,
                Arc::clone(&self.ctx),
                self.plan.concurrency,
                self.plan.per_host_concurrency,
                engine_stop,
                |_, _| {},
            )
            .await;
            let mut results = finished.results;
            // Judged as `run` judges: waivers (stale ones are `run`'s to report).
            if let Ok(today) = crate::waiver::today(&|n| std::env::var(n).ok()) {
                let all: Vec<&str> = names.iter().map(String::as_str).collect();
                crate::waiver::apply(&mut results, &self.plan.waivers, today, &all, false);
            }
            // The one redaction, before anything is recorded or sent.
            for r in &mut results {
                self.redactor.redact(r);
            }
            let now = self.clock.now();
            let at = unix_now();
            let mut alerts = Vec::new();
            {
                let mut state = self.shared.state();
                for (&idx, r) in batch.iter().zip(results) {
                    // Checks cut off by the shutdown have no result to keep.
                    if finished.interrupted.is_some() && r.reason == Some(Reason::Cancelled) {
                        continue;
                    }
                    if let (Some(cfg), Some(t)) = (&self.plan.alerts, self.trackers.get_mut(idx)) {
                        if let Some(event) = t.observe(r.status, now, cfg) {
                            alerts.push(Payload::new(
                                event,
                                &self.redactor.text(&self.plan.environment),
                                &r,
                                t,
                                self.link.as_deref(),
                            ));
                        }
                        t.previous = Some(r.status);
                    }
                    state.record(idx, r, at);
                }
            }
            if let (Some(sender), Some(cfg)) = (&self.sender, &self.plan.alerts) {
                let hooks = Arc::new(cfg.webhooks.clone());
                for p in alerts {
                    sender.send(p, Arc::clone(&hooks), Arc::clone(&self.redactor));
                }
            }
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
        let trackers = kept
            .iter()
            .map(|k| {
                k.and_then(|i| self.trackers.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        let next = schedule.carry_over(slots(&plan.checks), &kept, now);
        let redactor = Redactor::new(&plan.secrets);
        self.shared.set_redactor(Redactor::new(&plan.secrets));
        self.redactor = Arc::new(redactor);
        self.trackers = trackers;
        self.checks = plan.checks.iter().cloned().map(Arc::new).collect();
        self.ctx = ctx;
        self.plan = plan;
        Some(next)
    }
}
