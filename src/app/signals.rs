//! SIGINT and SIGTERM for the whole run, watched by one thread from start to exit, so a signal
//! is never lost between phases and never waits behind a blocked write:
//!
//! - the first signal stops the checks (the engine's stop future reads it through
//!   [`Signals::first`]) and the reports are still written, with everything that completed;
//! - once the reports are being written ([`Signals::reports_begin`]), a first signal gives them
//!   [`REPORT_GRACE`] to finish: a write blocked on a pipe nobody reads, or a FIFO nobody
//!   opens, is abandoned then, and the process exits 130 / 143 (when the writes finish in
//!   time, the run's end returns that code itself: [`Signals::received`]);
//! - a second signal exits at once, in every phase, with its own code.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::interruption_code;
use crate::event::{RunEvent, Sink};
use crate::model::Interruption;

/// How long the reports may still take after a signal (or after the reports begin, when the
/// signal came earlier) before the process exits without them.
pub const REPORT_GRACE: Duration = Duration::from_secs(5);

/// The run's view of the signal watcher.
#[derive(Clone)]
pub(super) struct Signals {
    first: watch::Receiver<Option<Interruption>>,
    reports: Arc<AtomicBool>,
    /// Tells the watcher that the reports began (it starts the grace clock when a signal came).
    begin: Option<Arc<watch::Sender<bool>>>,
}

impl Signals {
    /// Start watching (the handlers are installed when this returns). Without a runtime for
    /// the watcher, signals keep their default action.
    pub(super) fn start(sink: &Sink) -> Signals {
        let (first_tx, first) = watch::channel(None);
        let (begin_tx, begin_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("signals".to_owned())
            .spawn({
                let sink = sink.clone();
                move || watch_signals(first_tx, begin_rx, ready_tx, &sink)
            });
        let ready = spawned.is_ok() && ready_rx.recv().unwrap_or(false);
        if !ready {
            tracing::warn!("cannot watch SIGINT and SIGTERM: they keep their default action");
        }
        Signals {
            first,
            reports: Arc::new(AtomicBool::new(false)),
            begin: ready.then(|| Arc::new(begin_tx)),
        }
    }

    /// Resolves at the first signal (at once when one was already received).
    pub(super) async fn first(&self) -> Interruption {
        let mut rx = self.first.clone();
        // The guard is dropped before any further await (the future stays `Send`).
        let got = rx
            .wait_for(Option::is_some)
            .await
            .map(|v| v.unwrap_or(Interruption::Sigterm));
        match got {
            Ok(v) => v,
            Err(_) => std::future::pending().await,
        }
    }

    /// The first signal received so far, if any.
    pub(super) fn received(&self) -> Option<Interruption> {
        *self.first.borrow()
    }

    /// The reports are being written from now on: a signal bounds them by [`REPORT_GRACE`].
    pub(super) fn reports_begin(&self) {
        if !self.reports.swap(true, Ordering::SeqCst)
            && let Some(tx) = &self.begin
        {
            let _ = tx.send(true);
        }
    }
}

/// The watcher thread: its own small runtime, both handlers installed once (so no signal falls
/// between two listeners), then the first signal, the grace of the reports, the second signal.
fn watch_signals(
    first: watch::Sender<Option<Interruption>>,
    mut begin: watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<bool>,
    sink: &Sink,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        let _ = ready.send(false);
        return;
    };
    runtime.block_on(async move {
        let Some(mut listener) = Listener::install() else {
            let _ = ready.send(false);
            return;
        };
        let _ = ready.send(true);
        let why = listener.next().await;
        let _ = first.send(Some(why));
        let grace = async {
            // The reports began (before or after the signal): they get the grace, then the
            // process exits without them.
            let _ = begin.wait_for(|b| *b).await;
            if *begin.borrow() {
                say(
                    sink,
                    format!(
                        "signal received: writing the reports for at most {}s more",
                        REPORT_GRACE.as_secs()
                    ),
                    Duration::ZERO,
                );
                tokio::time::sleep(REPORT_GRACE).await;
                say(
                    sink,
                    "the reports did not finish in time, exiting".to_owned(),
                    SAY_WAIT,
                );
                exit_now(why);
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = grace => {}
            again = listener.next() => {
                say(
                    sink,
                    "second signal, exiting immediately".to_owned(),
                    SAY_WAIT,
                );
                exit_now(again);
            }
        }
    });
}

/// How long a line on stderr may delay an exit.
const SAY_WAIT: Duration = Duration::from_millis(100);

/// Print `line` (`infracheck: …`) on stderr from a thread of its own, waiting at most `wait` for it: the main
/// thread may hold stderr's lock while it writes a report there, or stderr may be a pipe
/// nobody reads, and the watcher must never block behind either.
fn say(sink: &Sink, line: String, wait: Duration) {
    let (done_tx, done) = std::sync::mpsc::channel();
    let sink = sink.clone();
    let spawned = std::thread::Builder::new()
        .name("signals-say".to_owned())
        .spawn(move || {
            sink.emit(RunEvent::Status(&line));
            let _ = done_tx.send(());
        });
    if spawned.is_ok() && !wait.is_zero() {
        let _ = done.recv_timeout(wait);
    }
}

/// Leave now with the code of `why`: the one exit outside `main`, for a run that must not
/// wait any longer (a second signal, or reports blocked past their grace).
fn exit_now(why: Interruption) -> ! {
    std::process::exit(i32::from(interruption_code(why) as u8))
}

/// SIGINT and SIGTERM, installed once.
struct Listener {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Listener {
    #[cfg(unix)]
    fn install() -> Option<Listener> {
        use tokio::signal::unix::{SignalKind, signal};
        Some(Listener {
            term: signal(SignalKind::terminate()).ok()?,
            int: signal(SignalKind::interrupt()).ok()?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Option<Listener> {
        Some(Listener {})
    }

    #[cfg(unix)]
    async fn next(&mut self) -> Interruption {
        // Biased: two signals already pending are taken in a fixed order.
        tokio::select! {
            biased;
            _ = self.term.recv() => Interruption::Sigterm,
            _ = self.int.recv() => Interruption::Sigint,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Interruption {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Interruption::Sigint,
            Err(_) => std::future::pending().await,
        }
    }
}
