//! Live progress on stderr: the progress bar on a terminal, and for logs a line per finished
//! check with a heartbeat. Every line is a [`RunEvent`] for the run's [`Sink`], which redacts
//! it (results are not redacted until the run is over) and escapes it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use crate::driver;
use crate::event::{RunEvent, Sink};
use crate::model::CheckResult;
use crate::policy::Policy;

/// The progress bar and the gate's lines on stderr.
pub(super) struct Shown<'a> {
    pub(super) bar: Option<&'a indicatif::ProgressBar>,
    pub(super) live: Option<&'a Live>,
    pub(super) quiet: bool,
    /// Where every line goes, redacted.
    pub(super) sink: &'a Sink,
    /// The run's policy: a live line shows the status the report will show (WAIVED, not the
    /// SKIP or FAIL a waiver accepts).
    pub(super) policy: &'a Policy,
    /// stderr is a terminal.
    pub(super) terminal: bool,
}

/// How long, at most, a finished check's line waits to be written with the next ones when
/// stderr is not a terminal (see [`driver::Progress::coalesce`]).
pub(super) const COALESCE: std::time::Duration = std::time::Duration::from_millis(100);

/// How often the live progress prints a heartbeat while checks are in flight.
pub(super) const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Live progress lines on stderr for logs (no terminal): one line per finished check as it
/// finishes and a heartbeat (`1,240/5,000 done, 3 failed, 12 s`) every [`HEARTBEAT_EVERY`],
/// as events of the run's sink.
pub(super) struct Live {
    counts: Arc<LiveCounts>,
    heartbeat: tokio::task::JoinHandle<()>,
    github: bool,
    sink: Sink,
}

#[derive(Default)]
struct LiveCounts {
    done: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
}

impl Live {
    pub(super) fn start(
        total: usize,
        github: bool,
        every: std::time::Duration,
        sink: &Sink,
    ) -> Live {
        use std::sync::atomic::Ordering::Relaxed;
        let counts = Arc::new(LiveCounts::default());
        counts.total.store(total, Relaxed);
        if github {
            sink.emit(RunEvent::GroupStart("infracheck: checks as they finish"));
        }
        let c = Arc::clone(&counts);
        let start = Instant::now();
        let beat = sink.clone();
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                beat.emit(RunEvent::Heartbeat {
                    done: c.done.load(Relaxed),
                    total: c.total.load(Relaxed),
                    failed: c.failed.load(Relaxed),
                    elapsed: start.elapsed(),
                });
            }
        });
        Live {
            counts,
            heartbeat,
            github,
            sink: sink.clone(),
        }
    }

    fn round(&self, checks: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.total.store(checks, Relaxed);
        self.counts.done.store(0, Relaxed);
        self.counts.failed.store(0, Relaxed);
    }

    fn result(&self, r: &CheckResult, status: crate::model::Status) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.done.fetch_add(1, Relaxed);
        // "failed" counts what fails a run by default (FAIL, SKIP), whatever the flags.
        if Policy::default().breaks(status) {
            self.counts.failed.fetch_add(1, Relaxed);
        }
        self.sink.emit(RunEvent::Finished { result: r, status });
    }

    pub(super) fn finish(self) {
        self.heartbeat.abort();
        // Nothing is held past the run (the engine ends each batch with a release).
        self.sink.release();
        if self.github {
            self.sink.emit(RunEvent::GroupEnd);
        }
    }
}

impl driver::Progress for Shown<'_> {
    fn round(&mut self, checks: usize) {
        if let Some(p) = self.bar {
            p.set_length(u64::try_from(checks).unwrap_or(u64::MAX));
            p.set_position(0);
        }
        if let Some(l) = self.live {
            l.round(checks);
        }
    }

    fn result(&mut self, round: u32, r: &CheckResult) {
        if self.coalesce().is_some() {
            // Written together at the end of the batch, in order (see `batch_end`).
            self.sink.hold();
        }
        if let Some(p) = self.bar {
            p.inc(1);
            p.set_message(self.sink.shown(&r.name));
        }
        if let Some(l) = self.live {
            l.result(r, self.policy.status_after_waivers(r));
        }
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let name = self.sink.shown(&r.name);
        tracing::debug!(check = %name, status = r.status.as_str(), round, "check finished");
        if let Some(detail) = &r.detail {
            // The full error chain behind the short message (`-v`).
            let detail = self.sink.shown_text(detail);
            tracing::info!(check = %name, detail = %detail, "error chain");
        }
        if !r.phases.is_empty() || r.queued.is_some() {
            // Where the time went (`-v`): `dns 0.1 ms · connect 0.2 ms · ttfb 3 ms`.
            let mut line = r.phases.line();
            if let Some(q) = r.queued {
                let sep = if line.is_empty() { "" } else { " · " };
                line.push_str(&format!("{sep}queued {}", crate::model::format_ms(q)));
            }
            let total = crate::model::format_ms(r.duration);
            tracing::info!(check = %name, total = %total, phases = %line, "timings");
        }
    }

    fn batch_end(&mut self) {
        self.sink.release();
    }

    /// Without a terminal (a log, a pipe), the lines of the results that came in within
    /// [`COALESCE`] are written together: one write, and one wake-up of this thread, per
    /// batch rather than per check. On a terminal each is shown at once.
    fn coalesce(&self) -> Option<std::time::Duration> {
        (self.bar.is_none() && !self.terminal).then_some(COALESCE)
    }

    fn waiting(&mut self, event: RunEvent<'_>) {
        if self.quiet {
            return;
        }
        match self.bar {
            // A line printed under a live progress bar would garble it.
            Some(p) => p.suspend(|| self.sink.emit(event)),
            None => self.sink.emit(event),
        }
    }
}

pub(super) fn progress_bar(total: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    let interactive = std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var_os("GITHUB_ACTIONS").is_none();
    if quiet || !interactive || total < 2 {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed}] {bar:30} {pos}/{len} {wide_msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}
