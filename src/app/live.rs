//! Live progress on stderr: the progress bar on a terminal, and for logs a line per finished
//! check with a heartbeat. Every line is redacted here, from the display's own copy.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::eprint_line;
use crate::driver;
use crate::model::CheckResult;
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::report;

/// The progress bar and the gate's lines on stderr.
pub(super) struct Shown<'a> {
    pub(super) bar: Option<&'a indicatif::ProgressBar>,
    pub(super) live: Option<&'a Live>,
    pub(super) quiet: bool,
    /// The display's own redaction of each line: results reach the reports redacted only
    /// once the run is over.
    pub(super) redactor: &'a Redactor,
    /// The run's policy: a live line shows the status the report will show (WAIVED, not the
    /// SKIP or FAIL a waiver accepts).
    pub(super) policy: &'a Policy,
}

/// How often the live progress prints a heartbeat while checks are in flight.
pub(super) const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Live progress lines on stderr for logs (no terminal): one line per finished check as it
/// finishes and a heartbeat (`1,240/5,000 done, 3 failed, 12 s`) every [`HEARTBEAT_EVERY`].
/// Each line is redacted here (results are not redacted until the run is over) and is one
/// escaped line that never starts with a workflow command.
pub(super) struct Live {
    counts: Arc<LiveCounts>,
    heartbeat: tokio::task::JoinHandle<()>,
    github: bool,
}

#[derive(Default)]
struct LiveCounts {
    done: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
    total: std::sync::atomic::AtomicUsize,
}

impl Live {
    pub(super) fn start(total: usize, github: bool, every: std::time::Duration) -> Live {
        use std::sync::atomic::Ordering::Relaxed;
        let counts = Arc::new(LiveCounts::default());
        counts.total.store(total, Relaxed);
        if github {
            eprint_line("::group::infracheck: checks as they finish");
        }
        let c = Arc::clone(&counts);
        let start = Instant::now();
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                eprint_line(&heartbeat_line(
                    c.done.load(Relaxed),
                    c.total.load(Relaxed),
                    c.failed.load(Relaxed),
                    start.elapsed(),
                ));
            }
        });
        Live {
            counts,
            heartbeat,
            github,
        }
    }

    fn round(&self, checks: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.total.store(checks, Relaxed);
        self.counts.done.store(0, Relaxed);
        self.counts.failed.store(0, Relaxed);
    }

    fn result(&self, r: &CheckResult, status: crate::model::Status, redactor: &Redactor) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.done.fetch_add(1, Relaxed);
        // "failed" counts what fails a run by default (FAIL, SKIP), whatever the flags.
        if Policy::default().breaks(status) {
            self.counts.failed.fetch_add(1, Relaxed);
        }
        eprint_line(&check_line(r, status, redactor));
    }

    pub(super) fn finish(self) {
        self.heartbeat.abort();
        if self.github {
            eprint_line("::endgroup::");
        }
    }
}

/// `FAIL api-health 2.00 s connect.refused: connection refused`: one finished check, with the
/// `status` the report will give it and the report's duration format.
fn check_line(r: &CheckResult, status: crate::model::Status, redactor: &Redactor) -> String {
    let mut line = format!(
        "{} {} {}",
        status.as_str(),
        report::one_line(&redactor.text(&r.name)),
        crate::model::human_duration(r.duration)
    );
    if let Some(reason) = r.reason
        && r.status != crate::model::Status::Pass
    {
        let _ = write!(line, " {}", reason.code());
        let message = report::one_line(&redactor.text(&r.message));
        if !message.is_empty() {
            let short: String = message.chars().take(120).collect();
            let _ = write!(line, ": {short}");
        }
    }
    line
}

/// `1,240/5,000 done, 3 failed, 12 s`.
fn heartbeat_line(
    done: usize,
    total: usize,
    failed: usize,
    elapsed: std::time::Duration,
) -> String {
    format!(
        "{}/{} done, {} failed, {} s",
        thousands(done),
        thousands(total),
        thousands(failed),
        elapsed.as_secs()
    )
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
        if let Some(p) = self.bar {
            p.inc(1);
            p.set_message(report::one_line(&self.redactor.text(&r.name)));
        }
        if let Some(l) = self.live {
            l.result(r, self.policy.status_after_waivers(r), self.redactor);
        }
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let name = report::one_line(&self.redactor.text(&r.name));
        tracing::debug!(check = %name, status = r.status.as_str(), round, "check finished");
        if let Some(detail) = &r.detail {
            // The full error chain behind the short message (`-v`).
            let detail = report::one_line(&self.redactor.text(detail));
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

    fn waiting(&mut self, line: &str) {
        if self.quiet {
            return;
        }
        match self.bar {
            // A line printed under a live progress bar would garble it.
            Some(p) => p.suspend(|| eprint_line(line)),
            None => eprint_line(line),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The live line shows the status it is given (the report's, after waivers) and the
    /// report's duration format.
    #[test]
    fn check_line_shows_the_reported_status_and_duration() {
        let mut r = crate::report::fixture::summary().results[0].clone();
        r.name = "orders".to_owned();
        r.status = crate::model::Status::Skip;
        r.reason = Some(crate::model::Reason::Blocked);
        r.message = "blocked by db-port".to_owned();
        r.duration = std::time::Duration::from_millis(2406);
        let line = check_line(&r, crate::model::Status::Waived, &Redactor::default());
        assert_eq!(line, "WAIVED orders 2.41 s blocked: blocked by db-port");
    }

    #[test]
    fn thousands_and_heartbeat() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_240), "1,240");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            heartbeat_line(1_240, 5_000, 3, std::time::Duration::from_millis(12_400)),
            "1,240/5,000 done, 3 failed, 12 s"
        );
    }
}
