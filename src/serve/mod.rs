//! `infracheck serve`: runs every check of one environment on its `interval` through the
//! same engine as `run` ([`crate::engine`]), keeps the latest results in memory and serves
//! them: `/metrics`, `/api/v1/results`, `/readyz`, `/healthz` and a live status page (see
//! docs/serve.md).
//!
//! By job: [`clock`] (the scheduler's time, injectable), [`schedule`] (when each check runs),
//! [`state`] (what is remembered, bounded), [`metrics`] (the exposition), [`http`] (the
//! endpoints), [`alerts`] (webhooks on change) and [`cycle`] (one cycle: run, judge, redact,
//! record, alert).

pub mod alerts;
pub mod clock;
mod cycle;
pub mod http;
pub mod metrics;
pub mod schedule;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;

use self::clock::Clock;
use self::schedule::Schedule;
use self::state::State;
use crate::config::Plan;
use crate::event::Sink;
use crate::redact::Redactor;

pub use cycle::Live;

/// Reads the config again (for a reload): the plan, or the error as one line.
pub type Loader = Box<dyn Fn() -> Result<Plan, String> + Send + Sync>;

/// What the endpoints and the scheduler share.
pub struct Shared {
    state: Mutex<State>,
    redactor: Mutex<Arc<Redactor>>,
    /// `--auth-token-env`'s value.
    pub auth_token: Option<String>,
    loader: Loader,
    pending: Mutex<Option<Plan>>,
    wake: tokio::sync::Notify,
    /// The stderr sink whose redactor follows the running config's (the logs of a reload).
    log: Option<Sink>,
}

impl Shared {
    /// Shared state for a config just loaded.
    pub fn new(
        state: State,
        redactor: Redactor,
        auth_token: Option<String>,
        loader: Loader,
    ) -> Self {
        Shared {
            state: Mutex::new(state),
            redactor: Mutex::new(Arc::new(redactor)),
            auth_token,
            loader,
            pending: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            log: None,
        }
    }

    /// Keep `sink`'s redactor the running config's: a reload's new secrets are masked in the
    /// logs too.
    #[must_use]
    pub fn logging_to(mut self, sink: Sink) -> Self {
        self.log = Some(sink);
        self
    }

    /// The state, locked (briefly: nothing awaits while holding it).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The redactor of the running config.
    pub fn redactor(&self) -> Arc<Redactor> {
        Arc::clone(&self.redactor.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn set_redactor(&self, r: Redactor) {
        let r = Arc::new(r);
        if let Some(sink) = &self.log {
            sink.set_redactor(Arc::clone(&r));
        }
        *self.redactor.lock().unwrap_or_else(PoisonError::into_inner) = r;
    }

    /// Read the config again (SIGHUP, `POST /-/reload`). A valid one is handed to the
    /// scheduler, which switches to it between two cycles; an invalid one is refused, logged,
    /// and `infracheck_config_last_reload_successful` turns 0 while the old config keeps running.
    pub fn reload(&self) -> Result<(), String> {
        match (self.loader)() {
            Ok(plan) => {
                self.state().reload_ok = true;
                *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(plan);
                self.wake.notify_one();
                tracing::info!("config reloaded");
                Ok(())
            }
            Err(e) => {
                self.state().reload_ok = false;
                // Config errors never quote secret values (see crate::config::secrets).
                tracing::error!("reload refused, the running config is kept: {e}");
                Err(e)
            }
        }
    }

    fn take_pending(&self) -> Option<Plan> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What runs one cycle's checks; the real one is [`Live`], a test's is instant.
pub trait Runner {
    /// Run the checks at `batch` (indices in the running config), record their results.
    fn run(&mut self, batch: &[usize]) -> impl Future<Output = ()>;
    /// Resolves when something between cycles wants the scheduler (a reload).
    fn wake(&self) -> impl Future<Output = ()>;
    /// Between cycles: the schedule of a reloaded config, if one is waiting.
    fn reload(&mut self, schedule: &Schedule, now: Duration) -> Option<Schedule>;
}

/// The scheduler: cycle after cycle until `stop` resolves (or, for a test, until the clock
/// passes `until`). A cycle started before `stop` finishes (the runner bounds it).
pub async fn drive<C: Clock, R: Runner, S>(
    clock: &C,
    runner: &mut R,
    mut schedule: Schedule,
    stop: S,
    until: Option<Duration>,
) -> u64
where
    S: Future<Output = ()> + Clone + Unpin,
{
    let mut cycles = 0u64;
    loop {
        if stop.clone().now_or_never().is_some() {
            return cycles;
        }
        if let Some(s) = runner.reload(&schedule, clock.now()) {
            schedule = s;
        }
        let next = schedule.next_due();
        if let (Some(u), Some(n)) = (until, next)
            && n > u
        {
            return cycles;
        }
        let mut stopping = stop.clone();
        match next {
            Some(next) => {
                tokio::select! {
                    biased;
                    () = &mut stopping => return cycles,
                    () = runner.wake() => continue,
                    () = clock.sleep_until(next) => {}
                }
            }
            None => {
                if until.is_some() {
                    return cycles;
                }
                tokio::select! {
                    biased;
                    () = &mut stopping => return cycles,
                    () = runner.wake() => continue,
                }
            }
        }
        let batch = schedule.due(clock.now());
        runner.run(&batch).await;
        let end = clock.now();
        for i in batch {
            schedule.ran(i, end);
        }
        cycles += 1;
    }
}

/// How `serve` listens and stops.
pub struct Options {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--tls-cert` / `--tls-key`.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// `--history-keep`.
    pub keep: usize,
    /// `--shutdown-timeout`.
    pub shutdown_timeout: Duration,
    /// `--external-url`.
    pub external_url: Option<String>,
}

/// Run `serve` until `stop` resolves: bind, call `listening` with the bound address, then
/// schedule and serve. Returns an error (one line) when it cannot start.
pub async fn serve(
    plan: Plan,
    shared: Arc<Shared>,
    opts: Options,
    stop: impl Future<Output = ()> + Send + 'static,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
    let stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(stop);
    let stop = stop.shared();
    watch_hangup(Arc::clone(&shared), stop.clone());
    let server = tokio::spawn(http::listen(
        listener,
        opts.tls.clone(),
        Arc::clone(&shared),
        stop.clone(),
    ));
    listening(addr);
    let clock = clock::TokioClock::start();
    let mut live = Live::new(plan, Arc::clone(&shared), &opts, stop.clone(), clock)?;
    let schedule = live.schedule(clock.now());
    drive(&clock, &mut live, schedule, stop, None).await;
    // The endpoints stop with the same signal; a connection still open is dropped.
    server.abort();
    Ok(())
}

/// SIGHUP reloads the config (Unix).
#[cfg(unix)]
fn watch_hangup(shared: Arc<Shared>, stop: impl Future<Output = ()> + Send + Unpin + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP: reload with POST /-/reload");
        return;
    };
    tokio::spawn(async move {
        let mut stop = stop;
        loop {
            tokio::select! {
                () = &mut stop => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    let _ = shared.reload();
                }
            }
        }
    });
}

#[cfg(not(unix))]
fn watch_hangup(_: Arc<Shared>, _: impl Future<Output = ()> + Send + Unpin + 'static) {}

#[cfg(test)]
mod tests;
