//! `infracheck run`: load the plan, refuse bad inputs before any check runs, run the checks
//! (in rounds under the deploy gate) with live progress, then hand the finished run to
//! [`super::outputs::finish`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::live::{HEARTBEAT_EVERY, Live, Shown, progress_bar};
use super::outputs::{Inputs, distinct_report_paths, finish, github_mode, one_report_on_stdout};
use super::signals::Signals;
use super::{config_error, document_kinds, process_env};
use crate::baseline::Baseline;
use crate::checks::RunContext;
use crate::cli::{GlobalArgs, ReportArgs, RunArgs};
use crate::config::{self, Plan};
use crate::driver;
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::gate;
use crate::history::History;
use crate::model::{FailOn, Interruption, Summary};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::select::{Selected, Selection};
use crate::shard;

pub(super) fn run(a: &RunArgs, g: &GlobalArgs, sink: &Sink) -> ExitCode {
    let Some(env) = a.env.as_deref() else {
        sink.error("--env is required (the environment to check)");
        return ExitCode::Usage;
    };
    if let Err(msg) = distinct_report_paths(&a.report, Some(a.config.as_path()), &process_env)
        .and_then(|()| one_report_on_stdout(&a.report))
    {
        sink.error(&msg);
        return ExitCode::Usage;
    }
    let selection = match a.select.selection() {
        Ok(s) => s,
        Err(e) => {
            sink.error(&e.to_string());
            return ExitCode::Usage;
        }
    };
    let path = a.config.display().to_string();
    let plan = match config::load(&path, Some(env), &config::ProcessEnvironment) {
        Ok(mut plans) => match plans.pop() {
            Some(p) => p,
            None => {
                sink.error(&format!("{path}: {}", config::no_checks(env)));
                return ExitCode::Usage;
            }
        },
        Err(e) => return config_error(&e, sink),
    };
    let redactor = Arc::new(Redactor::new(&plan.secrets));
    sink.set_redactor(Arc::clone(&redactor));
    if !g.quiet {
        for name in &plan.short_secrets {
            sink.warning(&format!(
                "the secret in `{name}` is shorter than {} characters: it is not masked in the output",
                crate::redact::MIN_SECRET_CHARS
            ));
        }
    }
    if a.shard.is_some() && a.report.history.is_some() {
        sink.error(
            "--history cannot be used with --shard (each shard sees only part of the checks): give it to `infracheck merge --history PATH`, which records the whole run once",
        );
        return ExitCode::Usage;
    }
    // A bad baseline or history file is refused before any check runs.
    let baseline = match load_baseline(&a.report, &plan.environment, g.quiet, sink) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let history = match load_history(&a.report, g.quiet, sink) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let runtime = match runtime(g.threads) {
        Ok(rt) => rt,
        Err(e) => {
            sink.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::Internal;
        }
    };
    let signals = Signals::start(sink);
    let (summary, policy) = match runtime.block_on(run_plan(
        plan,
        a,
        (selection.as_ref(), g.quiet),
        baseline.as_ref(),
        (&signals, sink),
    )) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Do not wait for checks that were abandoned at the deadline or on a signal.
    runtime.shutdown_background();
    let inputs = Inputs {
        baseline: baseline.as_ref(),
        history,
        redactor: &redactor,
        policy: &policy,
        signals: &signals,
        sink,
    };
    finish(summary, &a.report, g, inputs)
}

/// The runtime that drives the checks: `threads` worker threads (default: one per core), so
/// that one check's CPU work (a handshake, a large body to judge) never holds up reading
/// another check's measured response while a core is free. One thread is the current-thread
/// runtime: everything on the thread that calls `block_on`.
pub(super) fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("infracheck-worker")
            .enable_all()
            .build()
    }
}

/// The `--baseline` document, checked against the run's environment (exit 2 when unusable).
/// A path where nothing exists yet is a first run (the first job of a cache-restore pattern):
/// an empty baseline, so every failure counts as NEW, and a notice saying so.
pub(super) fn load_baseline(
    a: &ReportArgs,
    environment: &str,
    quiet: bool,
    sink: &Sink,
) -> Result<Option<Baseline>, ExitCode> {
    let Some(path) = &a.baseline else {
        return Ok(None);
    };
    if let Err(e) = std::fs::symlink_metadata(path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        if !quiet {
            sink.notice(&format!(
                "baseline {} does not exist yet: a first run, every failure counts as new",
                path.display()
            ));
        }
        return Ok(Some(Baseline::first_run(path, environment)));
    }
    match Baseline::load(path, &document_kinds())
        .and_then(|b| b.check_environment(environment).map(|()| b))
    {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            sink.error(&e.to_string());
            Err(ExitCode::Usage)
        }
    }
}

/// The `--history` file (exit 2 when unusable). A path where nothing exists yet is a first
/// run: an empty history, created after the run.
pub(super) fn load_history(
    a: &ReportArgs,
    quiet: bool,
    sink: &Sink,
) -> Result<Option<History>, ExitCode> {
    let Some(path) = &a.history else {
        return Ok(None);
    };
    match History::load(path) {
        Ok(Some(h)) => {
            if h.ignored > 0 && !quiet {
                sink.warning(&format!(
                    "history {}: ignored {} check record{} with a latency above {} ms (not written by infracheck); it is written back without them",
                    path.display(),
                    h.ignored,
                    if h.ignored == 1 { "" } else { "s" },
                    crate::history::MAX_LATENCY_MS
                ));
            }
            Ok(Some(h))
        }
        Ok(None) => {
            if !quiet {
                sink.notice(&format!(
                    "history {} does not exist yet: a first run, it is created after the run",
                    path.display()
                ));
            }
            Ok(Some(History::empty()))
        }
        Err(e) => {
            sink.error(&e.to_string());
            Err(ExitCode::Usage)
        }
    }
}

/// Run the plan's checks (in rounds under the deploy gate) into the summary of the run, with
/// the run's policy.
async fn run_plan(
    mut plan: Plan,
    a: &RunArgs,
    (selection, quiet): (Option<&Selection>, bool),
    baseline: Option<&Baseline>,
    (signals, sink): (&Signals, &Sink),
) -> Result<(Summary, Policy), ExitCode> {
    let concurrency = a
        .concurrency
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(plan.concurrency);
    let per_host = a
        .per_host_concurrency
        .and_then(|c| usize::try_from(c).ok())
        .or(plan.per_host_concurrency);
    let today = match crate::waiver::today(&process_env) {
        Ok(d) => d,
        Err(e) => {
            sink.error(&e.to_string());
            return Err(ExitCode::Usage);
        }
    };
    let all_names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    // Select first, then shard: `--shard` splits the selected checks.
    let selected = select(&mut plan, selection, sink)?;
    let (checks, shard) = shard::select(plan.checks, |c| c.name.as_str(), a.shard);
    let dependencies = match &shard {
        Some(s) => plan.dependencies.within(&s.positions),
        None => plan.dependencies,
    };
    if let Some(s) = &shard
        && checks.is_empty()
        && !quiet
    {
        // Fine for one shard (the others hold the checks); `merge` refuses a run of nothing.
        sink.notice(&format!(
            "shard {}/{} of environment {} has no checks (the other shards hold all {}); writing its document",
            s.index, s.count, plan.environment, s.total_checks
        ));
    }
    let ctx = match RunContext::new(&checks) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            sink.error(&e.to_string());
            return Err(ExitCode::Internal);
        }
    };
    let redactor = sink.redactor();
    let total = checks.len();
    tracing::info!(
        environment = %plan.environment,
        checks = total,
        concurrency,
        per_host,
        shard = a.shard.map(|s| s.to_string()),
        "starting run"
    );
    let progress = progress_bar(total, quiet);
    let started_at = time::OffsetDateTime::now_utc();
    let start = Instant::now();
    let deadline = a.deadline;
    let signals = signals.clone();
    let stop = async move {
        let deadline_fut = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = deadline_fut => Interruption::Deadline,
            // A second signal exits at once (CI's "cancel" escalation): the watcher does it.
            why = signals.first() => why,
        }
    };
    // One stop for the whole run, however many rounds the deploy gate runs.
    let stop = futures::FutureExt::shared(Box::pin(stop));
    // The run's one policy: the gate does not wait for a failure a waiver accepts or (under
    // `--fail-on new`) one the baseline already had; the exit code and reports judge by it.
    let fail_on = FailOn::from(a.report.fail_on);
    let mut policy = Policy::new(a.report.fail_on_warn, fail_on, baseline.is_some())
        .with_waivers(&plan.waivers, today);
    if let Some(b) = baseline {
        let names: Vec<(String, String)> = checks
            .iter()
            .map(|c| (c.name.clone(), redactor.text(&c.name)))
            .collect();
        policy = policy.with_baseline(b, &names);
    }
    // Where there is no terminal (CI logs), a line per finished check and a heartbeat, so a
    // long run is never silent; in GitHub mode inside a collapsed group.
    let live = (progress.is_none() && !quiet && !std::io::stderr().is_terminal()).then(|| {
        // `INFRACHECK_HEARTBEAT_MS` shortens the heartbeat for tests (as INFRACHECK_TODAY
        // fixes the date).
        let every = process_env("INFRACHECK_HEARTBEAT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(HEARTBEAT_EVERY, std::time::Duration::from_millis);
        Live::start(total, github_mode(&a.report, &process_env), every, sink)
    });
    let mut shown = Shown {
        bar: progress.as_ref(),
        live: live.as_ref(),
        quiet,
        sink,
        policy: &policy,
    };
    let outcome = driver::run_rounds(
        driver::Rounds {
            checks: checks.into_iter().map(Arc::new).collect(),
            dependencies,
            ctx,
            concurrency,
            per_host,
            interval: a
                .until_healthy
                .then(|| a.interval.unwrap_or(gate::DEFAULT_INTERVAL)),
            deadline: a.deadline.unwrap_or_default(),
            start,
        },
        &policy,
        stop,
        &mut shown,
    )
    .await;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(l) = live {
        l.finish();
    }
    if let Some(held) = &outcome.held_back
        && !quiet
    {
        // Once per run, on stderr (never in a report): the per-host limit, not `concurrency`,
        // set the pace, and the user chose that limit.
        sink.notice(&format!(
            "per_host_concurrency {} held back checks to {} (set per_host_concurrency to raise it)",
            held.limit, held.host,
        ));
    }
    let (mut results, interrupted, gate) = (outcome.results, outcome.interrupted, outcome.gate);
    let names: Vec<&str> = all_names.iter().map(String::as_str).collect();
    // A shard sees only part of the checks: stale waivers are reported by unsharded runs only.
    crate::waiver::apply(&mut results, &plan.waivers, today, &names, shard.is_none());
    if let Some(s) = &selected {
        s.annotate(&mut results);
    }
    let summary = Summary {
        environment: plan.environment,
        config_path: a.config.display().to_string(),
        started_at,
        duration: start.elapsed(),
        results,
        fail_on_warn: a.report.fail_on_warn,
        interrupted,
        shard,
        selection: selected.map(|s| s.run),
        fail_on,
        baseline: None,
        gate,
        history: None,
    };
    Ok((summary, policy))
}

/// Keep the plan's checks the selection picks (and their dependencies); a selection that
/// picks none is a usage error (exit 2), never an empty green run.
pub(super) fn select(
    plan: &mut Plan,
    selection: Option<&Selection>,
    sink: &Sink,
) -> Result<Option<Selected>, ExitCode> {
    let Some(selection) = selection else {
        return Ok(None);
    };
    let checks = std::mem::take(&mut plan.checks);
    match selection.apply(checks, &plan.environment) {
        Ok(mut s) => {
            plan.checks = std::mem::take(&mut s.checks);
            plan.dependencies = plan.dependencies.within(&s.positions);
            Ok(Some(s))
        }
        Err(e) => {
            // Tags are config text: the sink masks them with the plan's secrets.
            sink.error(&e.to_string());
            Err(ExitCode::Usage)
        }
    }
}
