//! `infracheck serve`: runs every check of one environment on its `interval` through the
//! same engine as `run` ([`crate::engine`]), keeps the latest results in memory and serves
//! them: `/metrics`, `/api/v1/results`, `/readyz`, `/healthz` and a live status page (see
//! docs/serve.md). Each check runs on its own schedule, whatever the others are doing.
//!
//! By job: [`clock`] (the scheduler's time, injectable), [`schedule`] (when each check runs),
//! [`state`] (what is remembered, bounded), [`metrics`] (the exposition), [`http`] (the
//! endpoints), [`alerts`] (webhooks on change) and [`live`] (one check's run: its
//! dependencies, the engine, judge, redact, record, alert).

pub mod alerts;
pub mod clock;
pub mod http;
mod live;
pub mod metrics;
pub mod schedule;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::stream::{FuturesUnordered, StreamExt as _};

use self::clock::Clock;
use self::schedule::Schedule;
use self::state::State;
use crate::config::Plan;
use crate::event::Sink;
use crate::redact::Redactor;

pub use live::Live;

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
    /// scheduler, which switches to it at once (a run in flight ends as it started; its result
    /// is kept only if its check is unchanged); an invalid one is refused, logged, and
    /// `infracheck_config_last_reload_successful` turns 0 while the old config keeps running.
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

/// What runs the checks; the real one is [`Live`], a test's follows a simulated clock.
pub trait Runner {
    /// What one run of a check produces, for [`Runner::record`].
    type Done: 'static;
    /// Run check `idx` of the running config, due now (the checks it depends on have
    /// results). The run owns what it needs: other runs start while it is in flight, and a
    /// reload may come before it ends.
    fn start(&mut self, idx: usize) -> impl Future<Output = Self::Done> + 'static;
    /// A run of check `idx` (an index in the running config) ended: record what it produced.
    fn record(&mut self, idx: usize, done: Self::Done);
    /// Resolves when something wants the scheduler (a reload).
    fn wake(&self) -> impl Future<Output = ()>;
    /// The schedule of a reloaded config, if one is waiting.
    fn reload(&mut self, schedule: &Schedule, now: Duration) -> Option<Schedule>;
}

/// What the scheduler waits for.
enum Event<D> {
    Stop,
    Ended(u64, D),
    Woken,
}

/// The scheduler: starts each check when it is due, while others are in flight, until `stop`
/// resolves (or, for a test, until the clock reaches `until`: the runs in flight then are
/// dropped). After `stop` it starts nothing more and waits for the runs in flight (the runner
/// bounds them) and records them. Returns how many runs it started.
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
    let mut flight = FuturesUnordered::new();
    let mut started = 0u64;
    loop {
        if stop.clone().now_or_never().is_some() {
            break;
        }
        if let Some(s) = runner.reload(&schedule, clock.now()) {
            schedule = s;
        }
        let now = clock.now();
        if until.is_some_and(|u| now >= u) {
            return started;
        }
        for idx in schedule.due(now) {
            let token = schedule.start(idx, now);
            let run = runner.start(idx);
            flight.push(async move { (token, run.await) }.boxed_local());
            started += 1;
        }
        let wake_at = match (schedule.next_due(), until) {
            (Some(n), Some(u)) => Some(n.min(u)),
            (n, u) => n.or(u),
        };
        let event = tokio::select! {
            biased;
            () = stop.clone() => Event::Stop,
            Some((token, done)) = flight.next(), if !flight.is_empty() => Event::Ended(token, done),
            () = runner.wake() => Event::Woken,
            () = sleep(clock, wake_at) => Event::Woken,
        };
        match event {
            Event::Stop => break,
            Event::Ended(token, done) => ended(runner, &mut schedule, token, done, clock.now()),
            Event::Woken => {}
        }
    }
    while let Some((token, done)) = flight.next().await {
        ended(runner, &mut schedule, token, done, clock.now());
    }
    started
}

/// Run `token` ended at `now`: recorded unless a reload removed or changed its check.
fn ended<R: Runner>(
    runner: &mut R,
    schedule: &mut Schedule,
    token: u64,
    done: R::Done,
    now: Duration,
) {
    if let Some(idx) = schedule.ended(token, now) {
        runner.record(idx, done);
    }
}

/// Resolves at `at` on `clock`; never without a time.
async fn sleep<C: Clock>(clock: &C, at: Option<Duration>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
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
