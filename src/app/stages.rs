//! The end of a run, shared by `run` and `merge`, as typed stages:
//!
//! 1. [`Results`]: the finished results (waivers, selection and deploy-gate annotations
//!    applied), neither judged nor redacted;
//! 2. [`Judged`]: compared with the baseline and judged once by the run's policy — the
//!    verdict is stored in the summary ([`crate::model::Summary::judgement`]);
//! 3. [`Redacted`]: every text masked once, with the run's one redactor;
//! 4. rendered: recorded in the history, written by every reporter, which read the stored
//!    verdict; the exit code ([`super::exit_code`]) reads the same one.
//!
//! Judging comes before redaction: a baseline document holds names as reported (redacted),
//! so the comparison looks each check up by its name as reported (`crate::baseline::apply`),
//! and redaction changes no status.

use super::exit_code;
use super::outputs::render;
use super::signals::Signals;
use crate::baseline::{self, Baseline};
use crate::cli::{GlobalArgs, ReportArgs};
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::history::{History, HistoryLock};
use crate::model::Summary;
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::report;

/// Stage 1: a finished run, neither judged nor redacted.
pub(super) struct Results(pub(super) Summary);

/// Stage 2: compared with the baseline, its verdict stored.
pub(super) struct Judged(Summary);

/// Stage 3: judged and redacted: what the history and the reporters receive.
pub(super) struct Redacted(Summary);

/// What a run uses from its start to its exit code, in `run` and in `merge` alike.
#[derive(Clone, Copy)]
pub(super) struct Services<'a> {
    /// The run's one redactor (its secrets).
    pub(super) redactor: &'a Redactor,
    /// The run's signal watcher: a signal while the reports are written bounds them in time
    /// and sets the exit code.
    pub(super) signals: &'a Signals,
    /// Where the errors go.
    pub(super) sink: &'a Sink,
}

/// What a finished run is judged and written with, besides its results.
pub(super) struct Inputs<'a> {
    /// The `--baseline` document.
    pub(super) baseline: Option<&'a Baseline>,
    /// The `--history` file, read before the run.
    pub(super) history: Option<History>,
    /// The run's one policy.
    pub(super) policy: &'a Policy,
    /// The redactor, the signal watcher and the error sink.
    pub(super) services: Services<'a>,
}

/// Judge, redact, record and write a finished run, and decide its exit code.
pub(super) fn finish(
    results: Results,
    a: &ReportArgs,
    g: &GlobalArgs,
    inputs: Inputs<'_>,
) -> ExitCode {
    let Services {
        redactor,
        signals,
        sink,
    } = inputs.services;
    signals.reports_begin();
    let compare = inputs.baseline.map(|b| (b, compare_options(a)));
    let judged = judge(results, inputs.policy, compare, redactor);
    let mut redacted = redact(judged, redactor);
    // The history is recorded and written first, under its lock, and released before any
    // report is written (a report may block on a pipe; the next run must not wait for it).
    let history_failed = record_history(&mut redacted, a, inputs.history, redactor, sink);
    let report_failed = render(&redacted.0, a, g, sink);
    let code = exit_code(
        &redacted.0,
        signals.received(),
        report_failed || history_failed,
    );
    // The command ends once its reports are written: the results are left to the operating
    // system, which takes the whole heap back at exit anyway (freeing 10,000 results one by
    // one took 10-30 ms; BENCHMARKS.md, "True numbers VII").
    std::mem::forget(redacted);
    code
}

/// `--latency-factor` and `--latency-min-increase`, or their defaults.
fn compare_options(a: &ReportArgs) -> baseline::Options {
    let defaults = baseline::Options::default();
    baseline::Options {
        latency_factor: a.latency_factor.unwrap_or(defaults.latency_factor),
        latency_min_increase: a
            .latency_min_increase
            .unwrap_or(defaults.latency_min_increase),
    }
}

/// Stage 2: compare with the baseline (each check looked up by its name as reported), then
/// decide the verdict once and store it.
fn judge(
    Results(mut summary): Results,
    policy: &Policy,
    compare: Option<(&Baseline, baseline::Options)>,
    redactor: &Redactor,
) -> Judged {
    if let Some((b, options)) = compare {
        let classify = |now, before| policy.classify(now, before);
        baseline::apply(&mut summary, b, options, &classify, &|name| {
            redactor.text(name)
        });
    }
    summary.judgement = policy.judge(&summary);
    Judged(summary)
}

/// Stage 3: the one redaction of the results (deferred cuts carried out after it), and of
/// the text copied from the baseline document: a value may have become secret since that
/// run. Redaction changes no status: the stored verdict stands.
fn redact(Judged(mut summary): Judged, redactor: &Redactor) -> Redacted {
    for r in &mut summary.results {
        redactor.redact(r);
    }
    if let Some(totals) = &mut summary.baseline {
        for name in &mut totals.removed {
            *name = redactor.text(name);
        }
        totals.path = redactor.text(&totals.path);
    }
    Redacted(summary)
}

/// Record the run in the `--history` file (when given); the reports get its trends. Returns
/// whether the file could not be recorded (the error is printed).
fn record_history(
    Redacted(summary): &mut Redacted,
    a: &ReportArgs,
    before: Option<History>,
    redactor: &Redactor,
    sink: &Sink,
) -> bool {
    let (Some(path), Some(before)) = (a.history.as_ref(), before) else {
        return false;
    };
    let keep = a
        .history_keep
        .and_then(|k| usize::try_from(k).ok())
        .unwrap_or(crate::history::DEFAULT_KEEP);
    let shown = redactor.text(&path.display().to_string());
    match write_history(path, before, summary, keep, &shown) {
        Ok(()) => false,
        Err(msg) => {
            sink.error(&msg);
            true
        }
    }
}

/// Record this run in the `--history` file and write it, under the file's lock: the file is
/// read again there, so a run that recorded itself since this one read it keeps its record.
/// When the lock cannot be had, the reports still get this run's trends (from the file as
/// read before the run) and the file is left as it is.
fn write_history(
    path: &std::path::Path,
    before: History,
    summary: &mut Summary,
    keep: usize,
    shown: &str,
) -> Result<(), String> {
    let lock = HistoryLock::acquire(path);
    let current = match &lock {
        Ok(_) => History::load(path).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (mut history, failed) = match current {
        Ok(Some(h)) => (h, None),
        Ok(None) => (before, None),
        Err(msg) => (before, Some(msg)),
    };
    history.record(summary, shown, keep);
    if let Some(msg) = failed {
        return Err(msg);
    }
    let bytes = history
        .render()
        .map_err(|e| format!("cannot serialise the history: {e}"))?;
    report::write_report(path, &bytes).map_err(|e| format!("history file: {e}"))?;
    drop(lock);
    Ok(())
}
