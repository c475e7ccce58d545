//! The edge of the program: turns CLI options into a run, writes the reports and decides the
//! exit code. Errors are printed here, once, as one line each.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::baseline::{self, Baseline};
use crate::checks::RunContext;
use crate::cli::{
    Cli, ColorChoice, Command, GlobalArgs, ListArgs, MergeArgs, OutputFormat, ReportArgs, RunArgs,
    ValidateArgs,
};
use crate::config::{self, ConfigError, Plan};
use crate::exit_code::ExitCode;
use crate::gate;
use crate::history::History;
use crate::model::{CheckResult, Interruption, Summary};
use crate::redact::Redactor;
use crate::report::{self, Output, RepoPaths, text};
use crate::{merge, shard};

/// Run the command line and return the exit code.
pub fn execute(cli: Cli) -> ExitCode {
    init_tracing(&cli.global);
    match cli.command {
        Some(Command::Validate(a)) => validate(&a),
        Some(Command::List(a)) => list(&a),
        Some(Command::Run(a)) => run(&a, &cli.global),
        Some(Command::Merge(a)) => merge(&a, &cli.global),
        Some(Command::Completions { shell }) => completions(shell),
        Some(Command::Man) => man_page(),
        Some(Command::Schema) => schema(),
        Some(Command::Init(a)) => init(&a),
        None => run(&cli.run, &cli.global),
    }
}

fn init_tracing(g: &GlobalArgs) {
    let level = if g.quiet {
        "error"
    } else {
        match g.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("infracheck={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Render into memory: clap_complete panics on a failed write (e.g. a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "infracheck", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprint_line(&format!("error: cannot write the completion script: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

fn man_page() -> ExitCode {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    let written = clap_mangen::Man::new(cmd).render(&mut page).and_then(|()| {
        let mut out = std::io::stdout().lock();
        out.write_all(&page).and_then(|()| out.flush())
    });
    match written {
        Ok(()) => ExitCode::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Ok,
        Err(e) => {
            eprint_line(&format!("error: cannot write the man page: {e}"));
            ExitCode::Internal
        }
    }
}

/// `infracheck init`: the starter config and schema, then the CI snippet on stdout.
fn init(a: &crate::cli::InitArgs) -> ExitCode {
    let schema = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t + "\n",
        Err(e) => {
            eprint_line(&format!("error: cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    let written = match crate::init::write_starter(&a.config, &schema) {
        Ok(w) => w,
        Err(e @ crate::init::InitError::Exists(_)) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            return ExitCode::Usage;
        }
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            return ExitCode::ReportWrite;
        }
    };
    for p in &written {
        eprint_line(&format!(
            "wrote {}",
            report::one_line(&p.display().to_string())
        ));
    }
    let config = report::one_line(&a.config.display().to_string());
    let text = match a.ci {
        Some(ci) => format!(
            "# Save as {} (edit `env`, `config` and OWNER):\n{}",
            ci.file(),
            ci.snippet()
        ),
        None => format!(
            "next: edit {config}, then `infracheck validate --config {config}` and `infracheck --env prod --config {config}`;\n\
             `infracheck init --ci github|gitlab|jenkins` prints a pipeline snippet\n"
        ),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprint_line(&format!("error: cannot write to stdout: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

/// `infracheck schema`: the config's JSON Schema on stdout.
fn schema() -> ExitCode {
    let mut text = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t,
        Err(e) => {
            eprint_line(&format!("error: cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    text.push('\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprint_line(&format!("error: cannot write the schema: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

fn eprint_line(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn config_error(e: &ConfigError) -> ExitCode {
    for line in e.to_string().lines() {
        eprint_line(&format!("error: {}", report::one_line(line)));
    }
    ExitCode::Usage
}

fn validate(a: &ValidateArgs) -> ExitCode {
    let path = a.config.display().to_string();
    match config::load(&path, a.env.as_deref(), &process_env) {
        Ok(plans) => {
            let checks: usize = plans.iter().map(|p| p.checks.len()).sum();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{path}: OK ({} environment{}, {checks} checks)",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" }
            );
            ExitCode::Ok
        }
        Err(e) => config_error(&e),
    }
}

fn list(a: &ListArgs) -> ExitCode {
    let path = a.config.display().to_string();
    let plans = match config::load(&path, Some(&a.env), &process_env) {
        Ok(p) => p,
        Err(e) => return config_error(&e),
    };
    let mut out = std::io::stdout().lock();
    for plan in plans {
        let redactor = Redactor::new(&plan.secrets);
        let (checks, _) = shard::select(plan.checks, |c| c.name.as_str(), a.shard);
        for c in &checks {
            let _ = writeln!(
                out,
                "{}\t{}\t{}",
                report::one_line(&redactor.text(&c.name)),
                c.kind(),
                report::one_line(&redactor.text(&c.target))
            );
        }
    }
    ExitCode::Ok
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

fn run(a: &RunArgs, g: &GlobalArgs) -> ExitCode {
    let Some(env) = a.env.as_deref() else {
        eprint_line("error: --env is required (the environment to check)");
        return ExitCode::Usage;
    };
    if let Err(msg) = distinct_report_paths(&a.report, Some(a.config.as_path()), &process_env) {
        eprint_line(&format!("error: {}", report::one_line(&msg)));
        return ExitCode::Usage;
    }
    let path = a.config.display().to_string();
    let plan = match config::load(&path, Some(env), &process_env) {
        Ok(mut plans) => match plans.pop() {
            Some(p) => p,
            None => {
                eprint_line(&format!(
                    "error: {path}: {}",
                    report::one_line(&config::no_checks(env))
                ));
                return ExitCode::Usage;
            }
        },
        Err(e) => return config_error(&e),
    };
    if !g.quiet {
        for name in &plan.short_secrets {
            eprint_line(&format!(
                "warning: the secret in `{}` is shorter than {} characters: it is not masked in the output",
                report::one_line(name),
                crate::redact::MIN_SECRET_CHARS
            ));
        }
    }
    if a.shard.is_some() && a.report.history.is_some() {
        eprint_line(
            "error: --history cannot be used with --shard (each shard sees only part of the checks): give it to `infracheck merge --history PATH`, which records the whole run once",
        );
        return ExitCode::Usage;
    }
    // A bad baseline or history file is refused before any check runs.
    let baseline = match load_baseline(&a.report, &plan.environment, g.quiet) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let history = match load_history(&a.report, g.quiet) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprint_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::Internal;
        }
    };
    // Text that comes from the baseline document (names of removed checks) is redacted with
    // this run's secrets too: a value may have become secret since that run.
    let redactor = Redactor::new(&plan.secrets);
    let summary = match runtime.block_on(run_plan(plan, a, g.quiet, baseline.as_ref())) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Do not wait for checks that were abandoned at the deadline or on a signal.
    runtime.shutdown_background();
    finish(summary, &a.report, g, baseline.as_ref(), history, &redactor)
}

/// `merge --config`: the waivers of the config that match no check of the merged environment,
/// as the WARN results a whole run would have reported (each shard alone cannot tell).
fn stale_waivers(a: &MergeArgs, summary: &mut Summary) -> Result<(), ExitCode> {
    let Some(config) = &a.config else {
        return Ok(());
    };
    let path = config.display().to_string();
    let plan = match config::load(&path, Some(&summary.environment), &process_env) {
        Ok(mut plans) => plans.pop(),
        Err(e) => return Err(config_error(&e)),
    };
    let Some(plan) = plan else {
        eprint_line(&format!(
            "error: {path}: {}",
            report::one_line(&config::no_checks(&summary.environment))
        ));
        return Err(ExitCode::Usage);
    };
    let names: Vec<&str> = plan.checks.iter().map(|c| c.name.as_str()).collect();
    let redactor = Redactor::new(&plan.secrets);
    for mut r in crate::waiver::stale(&plan.waivers, &names) {
        redactor.redact(&mut r);
        // A whole-run document already reports its stale waivers.
        if !summary.results.iter().any(|x| x.name == r.name) {
            summary.results.push(r);
        }
    }
    Ok(())
}

/// A report file must not land on a file something else owns: two report options naming one
/// file would overwrite each other, and a report over the config, the `--baseline` or GitHub's
/// `$GITHUB_OUTPUT` / `$GITHUB_STEP_SUMMARY` would destroy an input. Refused before anything
/// runs, naming both uses. (`--baseline` may name the `--json` file: it is read before the run
/// and the new document replaces it afterwards, which rolls the baseline forward.)
fn distinct_report_paths(
    a: &ReportArgs,
    config: Option<&std::path::Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let github = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let (github_output, step_summary) = (github("GITHUB_OUTPUT"), github("GITHUB_STEP_SUMMARY"));
    let mut inputs: Vec<(&str, PathBuf)> = Vec::new();
    for (what, path) in [
        ("the config file", config),
        ("--baseline", a.baseline.as_deref()),
        ("--history", a.history.as_deref()),
        ("$GITHUB_OUTPUT", github_output.as_deref()),
        ("$GITHUB_STEP_SUMMARY", step_summary.as_deref()),
    ] {
        if let Some(path) = path {
            inputs.push((what, report::resolve(&cwd, path)));
        }
    }
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, path) in [
        ("--json", &a.json),
        ("--junit", &a.junit),
        ("--sarif", &a.sarif),
        ("--markdown", &a.markdown),
        ("--codequality", &a.codequality),
        ("--prometheus", &a.prometheus),
        ("--html", &a.html),
        ("--tap", &a.tap),
    ] {
        // `-` is stdout, which several reports may share.
        let Some(path) = path.as_ref().filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        let key = report::resolve(&cwd, path);
        if let Some((other, _)) = seen.iter().find(|(_, k)| *k == key) {
            return Err(format!(
                "{other} and {flag} both write {}: give each report its own file",
                path.display()
            ));
        }
        if let Some((what, _)) = inputs
            .iter()
            .filter(|(what, _)| !(flag == "--json" && *what == "--baseline"))
            .find(|(_, k)| *k == key)
        {
            return Err(format!(
                "{flag} and {what} both name {}: the report would replace it; give the report its own file",
                path.display()
            ));
        }
        seen.push((flag, key));
    }
    Ok(())
}

/// The `--baseline` document, checked against the run's environment (exit 2 when unusable).
/// A path where nothing exists yet is a first run (the first job of a cache-restore pattern):
/// an empty baseline, so every failure counts as NEW, and a notice saying so.
fn load_baseline(
    a: &ReportArgs,
    environment: &str,
    quiet: bool,
) -> Result<Option<Baseline>, ExitCode> {
    let Some(path) = &a.baseline else {
        return Ok(None);
    };
    if let Err(e) = std::fs::symlink_metadata(path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        if !quiet {
            eprint_line(&format!(
                "notice: baseline {} does not exist yet: a first run, every failure counts as new",
                report::one_line(&path.display().to_string())
            ));
        }
        return Ok(Some(Baseline::first_run(path, environment)));
    }
    match Baseline::load(path).and_then(|b| b.check_environment(environment).map(|()| b)) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            Err(ExitCode::Usage)
        }
    }
}

/// The `--history` file (exit 2 when unusable). A path where nothing exists yet is a first
/// run: an empty history, created after the run.
fn load_history(a: &ReportArgs, quiet: bool) -> Result<Option<History>, ExitCode> {
    let Some(path) = &a.history else {
        return Ok(None);
    };
    match History::load(path) {
        Ok(Some(h)) => Ok(Some(h)),
        Ok(None) => {
            if !quiet {
                eprint_line(&format!(
                    "notice: history {} does not exist yet: a first run, it is created after the run",
                    report::one_line(&path.display().to_string())
                ));
            }
            Ok(Some(History::empty()))
        }
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            Err(ExitCode::Usage)
        }
    }
}

/// `merge`: the reports and exit code of one run, from the JSON documents of its shards.
fn merge(a: &MergeArgs, g: &GlobalArgs) -> ExitCode {
    if let Err(msg) = distinct_report_paths(&a.report, a.config.as_deref(), &process_env) {
        eprint_line(&format!("error: {}", report::one_line(&msg)));
        return ExitCode::Usage;
    }
    match merge::load(&a.documents, a.report.fail_on_warn) {
        Ok(mut summary) => match stale_waivers(a, &mut summary)
            .and_then(|()| load_baseline(&a.report, &summary.environment, g.quiet))
            .and_then(|b| load_history(&a.report, g.quiet).map(|h| (b, h)))
        {
            Ok((baseline, history)) => finish(
                summary,
                &a.report,
                g,
                baseline.as_ref(),
                history,
                &Redactor::default(),
            ),
            Err(code) => code,
        },
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&format!("{e:#}"))));
            ExitCode::Usage
        }
    }
}

async fn run_plan(
    plan: Plan,
    a: &RunArgs,
    quiet: bool,
    baseline: Option<&Baseline>,
) -> Result<Summary, ExitCode> {
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
            eprint_line(&format!("error: {e}"));
            return Err(ExitCode::Usage);
        }
    };
    let all_names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    let (checks, shard) = shard::select(plan.checks, |c| c.name.as_str(), a.shard);
    if let Some(s) = &shard
        && checks.is_empty()
        && !quiet
    {
        // Fine for one shard (the others hold the checks); `merge` refuses a run of nothing.
        eprint_line(&format!(
            "notice: shard {}/{} of environment {} has no checks (the other shards hold all {}); writing its document",
            s.index,
            s.count,
            report::one_line(&plan.environment),
            s.total_checks
        ));
    }
    let ctx = match RunContext::new(&checks) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprint_line(&format!("error: {e}"));
            return Err(ExitCode::Internal);
        }
    };
    let redactor = Redactor::new(&plan.secrets);
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
    let stop = async move {
        let deadline_fut = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = deadline_fut => Interruption::Deadline,
            why = wait_for_signal() => {
                // A second signal exits at once (CI's "cancel" escalation).
                tokio::spawn(async move {
                    let again = wait_for_signal().await;
                    eprint_line("infracheck: second signal, exiting immediately");
                    std::process::exit(i32::from(interruption_code(again) as u8));
                });
                why
            }
        }
    };
    // One stop for the whole run, however many rounds the deploy gate runs.
    let stop = futures::FutureExt::shared(Box::pin(stop));
    // Under `--fail-on new`, a failure the baseline already had (it will be STILL) does not
    // hold the gate up: it does not fail the run either. Names as the results report them.
    let reported_names: Vec<String> = match (a.report.fail_on, baseline) {
        (crate::baseline::FailOn::New, Some(_)) => {
            checks.iter().map(|c| redactor.text(&c.name)).collect()
        }
        _ => Vec::new(),
    };
    let known = match (a.report.fail_on, baseline) {
        (crate::baseline::FailOn::New, Some(b)) => {
            Some(b.lookup(reported_names.iter().map(String::as_str)))
        }
        _ => None,
    };
    let healthy = |r: &CheckResult| gate::healthy(r, a.report.fail_on_warn);
    let accepted = |r: &CheckResult| {
        gate::waived(r, &plan.waivers, today)
            || known
                .as_ref()
                .is_some_and(|k| k.known_failure(r, a.report.fail_on_warn))
    };
    // Where there is no terminal (CI logs), a line per finished check and a heartbeat, so a
    // long run is never silent; in GitHub mode inside a collapsed group.
    let live = (progress.is_none() && !quiet && !std::io::stderr().is_terminal()).then(|| {
        // `INFRACHECK_HEARTBEAT_MS` shortens the heartbeat for tests (as INFRACHECK_TODAY
        // fixes the date).
        let every = process_env("INFRACHECK_HEARTBEAT_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(HEARTBEAT_EVERY, std::time::Duration::from_millis);
        Live::start(total, github_mode(&a.report, &process_env), every)
    });
    let mut shown = Shown {
        bar: progress.as_ref(),
        live: live.as_ref(),
        quiet,
    };
    let outcome = gate::run_rounds(
        gate::Rounds {
            checks: Arc::new(checks),
            ctx,
            concurrency,
            per_host,
            redactor: &redactor,
            interval: a
                .until_healthy
                .then(|| a.interval.unwrap_or(gate::DEFAULT_INTERVAL)),
            deadline: a.deadline.unwrap_or_default(),
            start,
        },
        gate::Policy {
            healthy: &healthy,
            accepted: &accepted,
        },
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
        eprint_line(&format!(
            "notice: per_host_concurrency {} held back checks to {} (set per_host_concurrency to raise it)",
            held.limit,
            report::one_line(&redactor.text(&held.host)),
        ));
    }
    let (mut results, interrupted, gate) = (outcome.results, outcome.interrupted, outcome.gate);
    let names: Vec<&str> = all_names.iter().map(String::as_str).collect();
    // A shard sees only part of the checks: stale waivers are reported by unsharded runs only.
    crate::waiver::apply(&mut results, &plan.waivers, today, &names, shard.is_none());
    for r in &mut results {
        // Waiver text comes from the config: redact it like everything else.
        redactor.redact(r);
    }
    Ok(Summary {
        environment: plan.environment,
        config_path: a.config.display().to_string(),
        started_at,
        duration: start.elapsed(),
        results,
        fail_on_warn: a.report.fail_on_warn,
        interrupted,
        shard,
        fail_on: a.report.fail_on,
        baseline: None,
        gate,
        history: None,
    })
}

/// The progress bar and the gate's lines on stderr.
struct Shown<'a> {
    bar: Option<&'a indicatif::ProgressBar>,
    live: Option<&'a Live>,
    quiet: bool,
}

/// How often the live progress prints a heartbeat while checks are in flight.
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Live progress lines on stderr for logs (no terminal): one line per finished check as it
/// finishes and a heartbeat (`1,240/5,000 done, 3 failed, 12 s`) every [`HEARTBEAT_EVERY`].
/// Results arrive redacted from the engine; every line is one escaped line that never starts
/// with a workflow command.
struct Live {
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
    fn start(total: usize, github: bool, every: std::time::Duration) -> Live {
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

    fn result(&self, r: &CheckResult) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.done.fetch_add(1, Relaxed);
        if r.status.breaks_run(false) {
            self.counts.failed.fetch_add(1, Relaxed);
        }
        eprint_line(&check_line(r));
    }

    fn finish(self) {
        self.heartbeat.abort();
        if self.github {
            eprint_line("::endgroup::");
        }
    }
}

/// `FAIL api-health 2,003 ms connect.refused: connection refused`: one finished check.
fn check_line(r: &CheckResult) -> String {
    let mut line = format!(
        "{} {} {} ms",
        r.status.as_str(),
        report::one_line(&r.name),
        thousands(usize::try_from(r.duration.as_millis()).unwrap_or(usize::MAX))
    );
    if let Some(reason) = r.reason
        && r.status != crate::model::Status::Pass
    {
        let _ = write!(line, " {}", reason.code());
        let message = report::one_line(&r.message);
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

impl gate::Progress for Shown<'_> {
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
            p.set_message(report::one_line(&r.name));
        }
        if let Some(l) = self.live {
            l.result(r);
        }
        tracing::debug!(check = %report::one_line(&r.name), status = r.status.as_str(), round, "check finished");
        if let Some(detail) = &r.detail {
            // The full error chain behind the short message (`-v`); redacted by the engine.
            tracing::info!(check = %report::one_line(&r.name), detail = %report::one_line(detail), "error chain");
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

fn progress_bar(total: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
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

#[cfg(unix)]
async fn wait_for_signal() -> Interruption {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => Interruption::Sigterm,
            _ = int.recv() => Interruption::Sigint,
        },
        _ => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Interruption {
    match tokio::signal::ctrl_c().await {
        Ok(()) => Interruption::Sigint,
        Err(_) => std::future::pending().await,
    }
}

fn interruption_code(i: Interruption) -> ExitCode {
    match i {
        Interruption::Sigint => ExitCode::Interrupted,
        Interruption::Sigterm => ExitCode::Terminated,
        Interruption::Deadline => ExitCode::ChecksFailed,
    }
}

/// Compare with the baseline, write the reports and decide the exit code (shared by `run` and
/// `merge`).
fn finish(
    mut summary: Summary,
    a: &ReportArgs,
    g: &GlobalArgs,
    baseline: Option<&Baseline>,
    history: Option<History>,
    redactor: &Redactor,
) -> ExitCode {
    summary.fail_on = a.fail_on;
    if let Some(b) = baseline {
        let defaults = baseline::Options::default();
        let options = baseline::Options {
            latency_factor: a.latency_factor.unwrap_or(defaults.latency_factor),
            latency_min_increase: a
                .latency_min_increase
                .unwrap_or(defaults.latency_min_increase),
        };
        baseline::apply(&mut summary, b, options);
        if let Some(totals) = &mut summary.baseline {
            for name in &mut totals.removed {
                *name = redactor.text(name);
            }
            totals.path = redactor.text(&totals.path);
        }
    }
    let history = history.and_then(|mut h| {
        let path = a.history.as_ref()?;
        let keep = a
            .history_keep
            .and_then(|k| usize::try_from(k).ok())
            .unwrap_or(crate::history::DEFAULT_KEEP);
        h.record(
            &mut summary,
            &redactor.text(&path.display().to_string()),
            keep,
        );
        Some((path, h))
    });
    let summary = &summary;
    let outputs = report_outputs(a, use_color(g.color), &process_env);
    let paths = RepoPaths::from_process(process_env("GITHUB_WORKSPACE").map(PathBuf::from));
    let failures = {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        report::emit(summary, &paths, &outputs, &mut out, &mut err)
    };
    for f in &failures {
        eprint_line(&format!("error: {}", report::one_line(&f.to_string())));
    }
    // The history is written after the reports, through the same atomic writer.
    let mut history_failed = false;
    if let Some((path, h)) = history {
        let written = h
            .render()
            .map_err(|e| format!("cannot serialise the history: {e}"))
            .and_then(|bytes| {
                report::write_report(path, &bytes).map_err(|e| format!("history file: {e}"))
            });
        if let Err(msg) = written {
            eprint_line(&format!("error: {}", report::one_line(&msg)));
            history_failed = true;
        }
    }
    exit_code_for(summary, !failures.is_empty() || history_failed)
}

/// Whether GitHub Actions mode is on: `--github`/`--no-github`, else `GITHUB_ACTIONS=true`.
fn github_mode(a: &ReportArgs, env: &dyn Fn(&str) -> Option<String>) -> bool {
    if a.github {
        true
    } else if a.no_github {
        false
    } else {
        env("GITHUB_ACTIONS").as_deref() == Some("true")
    }
}

/// Every output the options ask for, in the order they are written: the stdout report, the
/// report files, then (GitHub mode) the step summary, the annotations on stderr (so a JSON
/// document on stdout stays parseable) and `$GITHUB_OUTPUT`, which names the files written.
fn report_outputs(
    a: &ReportArgs,
    color: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Output> {
    use report::{
        Destination, codequality, github, html, json, junit, markdown, prometheus, sarif, tap,
    };
    let mut outputs = vec![match a.output.unwrap_or(OutputFormat::Text) {
        OutputFormat::Text => Output::new(
            text::Text {
                style: text::Style { color },
            },
            Destination::Stdout,
        ),
        OutputFormat::Json => Output::new(json::Json, Destination::Stdout),
    }];
    let file = |name: &'static str, path: &PathBuf| Destination::File {
        name,
        path: path.clone(),
    };
    if let Some(p) = &a.json {
        outputs.push(Output::new(json::Json, file("json", p)));
    }
    if let Some(p) = &a.junit {
        outputs.push(Output::new(junit::Junit, file("junit", p)));
    }
    if let Some(p) = &a.sarif {
        outputs.push(Output::new(sarif::Sarif, file("sarif", p)));
    }
    if let Some(p) = &a.markdown {
        outputs.push(Output::new(markdown::Markdown, file("markdown", p)));
    }
    if let Some(p) = &a.codequality {
        outputs.push(Output::new(
            codequality::CodeQuality,
            file("codequality", p),
        ));
    }
    if let Some(p) = &a.prometheus {
        outputs.push(Output::new(prometheus::Prometheus, file("prometheus", p)));
    }
    if let Some(p) = &a.html {
        // The commit of the config, when the CI says which one it checked out.
        let commit = ["GITHUB_SHA", "CI_COMMIT_SHA"]
            .iter()
            .find_map(|v| env(v).filter(|s| !s.trim().is_empty()));
        outputs.push(Output::new(html::Html { commit }, file("html", p)));
    }
    if let Some(p) = &a.tap {
        outputs.push(Output::new(tap::Tap, file("tap", p)));
    }
    if github_mode(a, env) {
        let path_var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        match path_var("GITHUB_STEP_SUMMARY") {
            Some(p) => {
                let existing = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                outputs.push(Output::new(
                    markdown::StepSummary::after(existing),
                    Destination::Append(p),
                ));
            }
            None => tracing::info!("GITHUB_STEP_SUMMARY is not set: no step summary"),
        }
        outputs.push(Output::new(github::Annotations, Destination::Stderr));
        match path_var("GITHUB_OUTPUT") {
            Some(p) => outputs.push(Output::new(github::Outputs, Destination::Append(p))),
            None => tracing::info!("GITHUB_OUTPUT is not set: no step outputs"),
        }
    }
    outputs
}

/// The exit code from the results alone, plus whether a report could not be written.
pub fn exit_code_for(summary: &Summary, report_failed: bool) -> ExitCode {
    if let Some(i) = summary.interrupted
        && i != Interruption::Deadline
    {
        return interruption_code(i);
    }
    if !summary.passed() {
        return ExitCode::ChecksFailed;
    }
    if report_failed {
        return ExitCode::ReportWrite;
    }
    ExitCode::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

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
