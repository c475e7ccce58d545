//! `infracheck run`: load the plan, refuse bad inputs before any check runs, run the checks
//! (in rounds under the deploy gate) with live progress, then hand the finished run to
//! [`super::stages::finish`]. Each step is a named function; a step that stops the run
//! returns its exit code as the error, and [`run`] returns the one code of the run.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::live::{HEARTBEAT_EVERY, Live, Shown, progress_bar};
use super::outputs::{check_report_paths, github_mode};
use super::signals::Signals;
use super::stages::{Inputs, Results, Services, finish};
use super::{DocumentNames, config_error, process_env};
use crate::baseline::Baseline;
use crate::checks::{CheckDef, RunContext};
use crate::cli::{GlobalArgs, ReportArgs, RunArgs};
use crate::config::{self, Plan};
use crate::driver;
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::gate;
use crate::history::History;
use crate::model::{Interruption, ShardRun, Summary};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::select::{Selected, Selection};
use crate::shard;

/// `run`: the exit code of one run of an environment (or of the usage error that stopped it).
pub(super) fn run(a: &RunArgs, g: &GlobalArgs, sink: &Sink) -> ExitCode {
    run_steps(a, g, sink).unwrap_or_else(|code| code)
}

/// The steps of a run, in order; the first that fails stops it with its exit code.
fn run_steps(a: &RunArgs, g: &GlobalArgs, sink: &Sink) -> Result<ExitCode, ExitCode> {
    let env = required_env(a, sink)?;
    refuse_report_clashes(&a.report, Some(a.config.as_path()), sink)?;
    let selection = a
        .select
        .selection()
        .map_err(|e| usage(&e.to_string(), sink))?;
    let plan = load_plan(a, env, worker_threads(g.threads) > 1, sink)?;
    // The run's one redactor: the live lines, the gate's lines, the baseline lookup and the
    // results all mask with it; the sink masks every stderr line with it from now on.
    let redactor = Arc::new(Redactor::new(&plan.secrets));
    sink.set_redactor(Arc::clone(&redactor));
    warn_short_secrets(&plan, g.quiet, sink);
    refuse_history_with_shard(a, sink)?;
    // A bad baseline or history file is refused before any check runs.
    let baseline = load_baseline(&a.report, &plan.environment, g.quiet, sink)?;
    let history = load_history(&a.report, g.quiet, sink)?;
    let runtime = runtime(g.threads).map_err(|e| {
        sink.error(&format!("cannot start the async runtime: {e}"));
        ExitCode::Internal
    })?;
    let signals = Signals::start(sink);
    let services = Services {
        redactor: &redactor,
        signals: &signals,
        sink,
    };
    let steps = RunInputs {
        selection: selection.as_ref(),
        quiet: g.quiet,
        baseline: baseline.as_ref(),
        services,
    };
    let finished = runtime.block_on(run_plan(plan, a, steps));
    let (results, policy, clients) = match finished {
        Ok(finished) => finished,
        Err(code) => {
            runtime.shutdown_background();
            return Err(code);
        }
    };
    // Checks abandoned at the deadline or on a signal are dropped now, not waited for.
    // After a run that ended by itself only idle connections are left in the runtime: they
    // stay open while the report is written (closing 1,000 pooled connections on the workers
    // took the cores from the report, BENCHMARKS.md "True numbers XX") and are closed by the
    // operating system at exit.
    let abandoned = results.0.interrupted.is_some();
    let runtime = if abandoned {
        runtime.shutdown_background();
        None
    } else {
        Some(runtime)
    };
    let inputs = Inputs {
        baseline: baseline.as_ref(),
        history,
        policy: &policy,
        services,
    };
    let code = finish(results, &a.report, g, inputs);
    // The command ends here: the clients, their pooled connections and the runtime's idle
    // workers are left to the process's exit.
    std::mem::forget(clients);
    std::mem::forget(runtime);
    Ok(code)
}

/// A usage error: one line on stderr, exit 2.
fn usage(msg: &str, sink: &Sink) -> ExitCode {
    sink.error(msg);
    ExitCode::Usage
}

/// `--env`, which `run` requires.
fn required_env<'a>(a: &'a RunArgs, sink: &Sink) -> Result<&'a str, ExitCode> {
    a.env
        .as_deref()
        .ok_or_else(|| usage("--env is required (the environment to check)", sink))
}

/// Refuse reports that would share a file or a stream, or replace an input (exit 2).
pub(super) fn refuse_report_clashes(
    a: &ReportArgs,
    config: Option<&std::path::Path>,
    sink: &Sink,
) -> Result<(), ExitCode> {
    check_report_paths(a, config, &process_env).map_err(|msg| usage(&msg, sink))
}

/// The plan of environment `env`; a config without checks for it is a usage error.
/// `apart`: read on a thread of its own ([`read_apart`]), for a runtime with workers of their
/// own. A current-thread runtime allocates on this thread, which reuses the read's free memory
/// anyway; read apart, the emptied arena would go to the next thread started, the TLS
/// preparation at idle priority, and the run would take that thread's arena lock whenever it
/// let go of what the read left (a victim check beside one tls check read 1.5 ms slower at
/// p50 with `--threads 1`, BENCHMARKS.md "True numbers XVIII").
fn load_plan(a: &RunArgs, env: &str, apart: bool, sink: &Sink) -> Result<Plan, ExitCode> {
    let path = a.config.display().to_string();
    let read = || config::load(&path, Some(env), &config::ProcessEnvironment);
    let read = if apart { read_apart(read) } else { read() };
    let mut plans = read.map_err(|e| config_error(&e, sink))?;
    let plan = if apart {
        // The run keeps a copy made here; the plan as read is let go where it was read.
        let plan = plans.pop().map(packed);
        drop_apart(plans);
        plan
    } else {
        plans.pop()
    };
    plan.ok_or_else(|| usage(&format!("{path}: {}", config::no_checks(env)), sink))
}

/// `read` on a thread of its own, which ends before this returns (on this thread when no
/// thread can be started); a panic of `read` is this thread's panic.
///
/// Why: reading a config of 10,000 checks holds the tree and the plan side by side (15–16 MB
/// of heap for a plan of 7 MB). The allocator gives each thread an arena of its own and
/// returns to the system only the free memory at the top of an arena: read on the thread that
/// keeps the plan, the tree's memory stayed resident for the whole run, in holes between the
/// plan's blocks that the runtime's workers, each with an arena of its own, cannot use. Read
/// on a thread of its own and let go on one ([`packed`]), the reader's arena is emptied and
/// given back, the copy the run keeps is packed in this thread's arena, and the emptied arena
/// is the one the first runtime worker started afterwards takes (BENCHMARKS.md, "True numbers
/// XV").
fn read_apart<T: Send>(read: impl Fn() -> T + Sync) -> T {
    let apart = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(CONFIG_THREAD.to_owned())
            .spawn_scoped(s, &read)
            .map(std::thread::ScopedJoinHandle::join)
    });
    match apart {
        Ok(Ok(out)) => out,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => read(),
    }
}

/// `plan` copied into this thread's memory, every list and text at its length, while a thread
/// of its own lets the plan as read go (see [`read_apart`]); on this thread when no thread can
/// be started. The checks are copied in place, a batch at a time, each batch of originals
/// handed to that thread as soon as it is copied: no second array of 10,000 definitions
/// (2.8 MB) beside the first.
fn packed(mut plan: Plan) -> Plan {
    let mut checks = std::mem::take(&mut plan.checks);
    let mut copy = plan.clone();
    let (originals, to_drop) = std::sync::mpsc::channel::<Vec<CheckDef>>();
    std::thread::scope(|s| {
        let dropping = std::thread::Builder::new()
            .name(CONFIG_THREAD.to_owned())
            .spawn_scoped(s, move || {
                to_drop.into_iter().for_each(drop);
                drop(plan);
            });
        for batch in checks.chunks_mut(COPY_BATCH) {
            let batch: Vec<CheckDef> = batch
                .iter_mut()
                .map(|c| std::mem::replace(c, c.clone()))
                .collect();
            // No thread to take them (none could be started): they go here.
            if let Err(unsent) = originals.send(batch) {
                drop(unsent.0);
            }
        }
        drop(originals);
        if let Ok(thread) = dropping
            && let Err(panic) = thread.join()
        {
            std::panic::resume_unwind(panic);
        }
    });
    copy.checks = checks;
    copy
}

/// How many definitions [`packed`] copies before it hands their originals over.
const COPY_BATCH: usize = 256;

/// Let `value` go on a thread of its own (the arena [`read_apart`]'s thread left is the one it
/// takes), which ends before this returns; on this thread when no thread can be started.
fn drop_apart<T: Send + 'static>(value: T) {
    let dropping = std::thread::Builder::new()
        .name(CONFIG_THREAD.to_owned())
        .spawn(move || drop(value));
    if let Ok(thread) = dropping
        && let Err(panic) = thread.join()
    {
        std::panic::resume_unwind(panic);
    }
}

/// The name of the threads that read the config and let it go.
const CONFIG_THREAD: &str = "infracheck-config";

/// A secret too short to mask is said once, on stderr (unless `--quiet`).
fn warn_short_secrets(plan: &Plan, quiet: bool, sink: &Sink) {
    if quiet {
        return;
    }
    for name in &plan.short_secrets {
        sink.warning(&format!(
            "the secret in `{name}` is shorter than {} characters: it is not masked in the output",
            crate::redact::MIN_SECRET_CHARS
        ));
    }
}

/// `--history` records a whole run: a shard sees only part of it (exit 2).
fn refuse_history_with_shard(a: &RunArgs, sink: &Sink) -> Result<(), ExitCode> {
    if a.shard.is_some() && a.report.history.is_some() {
        sink.error(
            "--history cannot be used with --shard (each shard sees only part of the checks): give it to `infracheck merge --history PATH`, which records the whole run once",
        );
        return Err(ExitCode::Usage);
    }
    Ok(())
}

/// The runtime that drives the checks: `threads` worker threads (default: one per core), so
/// that one check's CPU work (a handshake, a large body to judge) never holds up reading
/// another check's measured response while a core is free. One thread is the current-thread
/// runtime: everything on the thread that calls `block_on`.
pub(super) fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = worker_threads(threads);
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

/// The runtime's worker threads for `--threads` (`None`: one per core).
fn worker_threads(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    })
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
    match Baseline::load(path, DocumentNames::new().seed())
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

/// What [`run_plan`] needs besides the plan and the options.
struct RunInputs<'a> {
    selection: Option<&'a Selection>,
    quiet: bool,
    baseline: Option<&'a Baseline>,
    services: Services<'a>,
}

/// Run the plan's checks (in rounds under the deploy gate) into the finished results of the
/// run, with the run's policy.
async fn run_plan(
    mut plan: Plan,
    a: &RunArgs,
    cx: RunInputs<'_>,
) -> Result<(Results, Policy, Arc<RunContext>), ExitCode> {
    let today =
        crate::waiver::today(&process_env).map_err(|e| usage(&e.to_string(), cx.services.sink))?;
    // Every check's name, for the waivers' stale-pattern notes only: without waivers, no copy
    // of 10,000 names held through the run.
    let all_names: Vec<String> = if plan.waivers.is_empty() {
        Vec::new()
    } else {
        plan.checks.iter().map(|c| c.name.clone()).collect()
    };
    // Select first, then shard: `--shard` splits the selected checks.
    let selected = select(&mut plan, cx.selection, cx.services.sink)?;
    let (checks, shard) = shard_checks(&mut plan, a, cx.quiet, cx.services.sink);
    let policy = policy(a, &plan, today, cx.baseline, &checks, cx.services.redactor);
    let started_at = time::OffsetDateTime::now_utc();
    let start = Instant::now();
    let (outcome, clients) = run_checks(&plan, checks, a, &cx, &policy, start).await?;
    let mut results = outcome.results;
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
        fail_on_warn: policy.fail_on_warn(),
        interrupted: outcome.interrupted,
        shard,
        selection: selected.map(|s| s.run),
        fail_on: policy.fail_on(),
        baseline: None,
        gate: outcome.gate,
        history: None,
        judgement: crate::model::Judgement::UNJUDGED,
    };
    Ok((Results(summary), policy, clients))
}

/// The checks as the engine holds them, in an array of their own: collected in place, the
/// array of pointers would keep the plan's array of whole definitions (10,000 × 280 bytes)
/// allocated, and resident, for the whole run.
fn shared_checks(checks: Vec<CheckDef>) -> Vec<Arc<CheckDef>> {
    let mut shared = Vec::with_capacity(checks.len());
    shared.extend(checks.into_iter().map(Arc::new));
    shared
}

/// This run's shard of the plan's checks (`--shard K/N`), or all of them.
/// The plan's dependency graph is narrowed to the shard's checks.
fn shard_checks(
    plan: &mut Plan,
    a: &RunArgs,
    quiet: bool,
    sink: &Sink,
) -> (Vec<CheckDef>, Option<ShardRun>) {
    let (checks, shard) = shard::select(
        std::mem::take(&mut plan.checks),
        |c| c.name.as_str(),
        a.shard,
    );
    if let Some(s) = &shard {
        plan.dependencies = plan.dependencies.within(&s.positions);
    }
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
    (checks, shard)
}

/// The run's one policy: the gate does not wait for a failure a waiver accepts or (under
/// `--fail-on new`) one the baseline already had; the same policy judges the finished run.
fn policy(
    a: &RunArgs,
    plan: &Plan,
    today: time::Date,
    baseline: Option<&Baseline>,
    checks: &[CheckDef],
    redactor: &Redactor,
) -> Policy {
    let policy = Policy::new(
        a.report.fail_on_warn,
        a.report.fail_on.into(),
        baseline.is_some(),
    )
    .with_waivers(&plan.waivers, today);
    match baseline {
        Some(b) => {
            let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
            policy.with_baseline(b, &names, &|n| redactor.text(n))
        }
        None => policy,
    }
}

/// The run's settings for the engine: `--concurrency` and `--per-host-concurrency`, else the
/// config's.
fn limits(a: &RunArgs, plan: &Plan) -> (usize, Option<usize>) {
    let concurrency = a
        .concurrency
        .and_then(|c| usize::try_from(c).ok())
        .unwrap_or(plan.concurrency);
    let per_host = a
        .per_host_concurrency
        .and_then(|c| usize::try_from(c).ok())
        .or(plan.per_host_concurrency);
    (concurrency, per_host)
}

/// Run `checks` in rounds (one without the deploy gate) with live progress, until done, the
/// deadline or a signal.
async fn run_checks(
    plan: &Plan,
    checks: Vec<CheckDef>,
    a: &RunArgs,
    cx: &RunInputs<'_>,
    policy: &Policy,
    start: Instant,
) -> Result<(driver::Outcome, Arc<RunContext>), ExitCode> {
    let ctx = RunContext::new(&checks).map(Arc::new).map_err(|e| {
        cx.services.sink.error(&e.to_string());
        ExitCode::Internal
    })?;
    let (concurrency, per_host) = limits(a, plan);
    let total = checks.len();
    tracing::info!(
        environment = %plan.environment,
        checks = total,
        concurrency,
        per_host,
        shard = a.shard.map(|s| s.to_string()),
        "starting run"
    );
    let progress = progress_bar(total, cx.quiet);
    let live = live_lines(
        total,
        progress.is_none(),
        cx.quiet,
        &a.report,
        cx.services.sink,
    );
    let mut shown = Shown {
        bar: progress.as_ref(),
        live: live.as_ref(),
        quiet: cx.quiet,
        sink: cx.services.sink,
        policy,
        terminal: std::io::stderr().is_terminal(),
    };
    let rounds = driver::Rounds {
        checks: shared_checks(checks),
        dependencies: plan.dependencies.clone(),
        ctx: Arc::clone(&ctx),
        concurrency,
        per_host,
        interval: a
            .until_healthy
            .then(|| a.interval.unwrap_or(gate::DEFAULT_INTERVAL)),
        deadline: a.deadline.unwrap_or_default(),
        start,
    };
    let stop = stop(a.deadline, cx.services.signals.clone());
    let outcome = driver::run_rounds(rounds, policy, stop, &mut shown).await;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(l) = live {
        l.finish();
    }
    held_back_notice(&outcome, cx.quiet, cx.services.sink);
    // The clients (and the pool of idle connections) outlive the run: see `run_steps`.
    Ok((outcome, ctx))
}

/// Where there is no terminal (CI logs), a line per finished check and a heartbeat, so a
/// long run is never silent; in GitHub mode inside a collapsed group.
fn live_lines(
    total: usize,
    no_bar: bool,
    quiet: bool,
    a: &ReportArgs,
    sink: &Sink,
) -> Option<Live> {
    (no_bar && !quiet && !std::io::stderr().is_terminal()).then(|| {
        // `INFRACHECK_HEARTBEAT_MS` shortens the heartbeat for tests (as INFRACHECK_TODAY
        // fixes the date).
        let every = process_env("INFRACHECK_HEARTBEAT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(HEARTBEAT_EVERY, std::time::Duration::from_millis);
        Live::start(total, github_mode(a, &process_env), every, sink)
    })
}

/// What ends the run early: `--deadline` or the first signal. One stop for the whole run,
/// however many rounds the deploy gate runs (a second signal exits at once: the watcher does
/// it).
fn stop(
    deadline: Option<std::time::Duration>,
    signals: Signals,
) -> futures::future::Shared<std::pin::Pin<Box<dyn Future<Output = Interruption> + Send>>> {
    let stop = async move {
        let deadline_fut = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = deadline_fut => Interruption::Deadline,
            why = signals.first() => why,
        }
    };
    futures::FutureExt::shared(Box::pin(stop))
}

/// Once per run, on stderr (never in a report): the per-host limit, not `concurrency`, set the
/// pace, and the user chose that limit.
fn held_back_notice(outcome: &driver::Outcome, quiet: bool, sink: &Sink) {
    if let Some(held) = &outcome.held_back
        && !quiet
    {
        sink.notice(&format!(
            "per_host_concurrency {} held back checks to {} (set per_host_concurrency to raise it)",
            held.limit, held.host,
        ));
    }
}

/// Keep the plan's checks the selection picks (and their dependencies); a selection that
/// picks none is a usage error (exit 2), never an empty green run. Tags are config text:
/// the error is masked like every other output.
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
        // Tags are config text: the sink masks them with the plan's secrets.
        Err(e) => Err(usage(&e.to_string(), sink)),
    }
}
