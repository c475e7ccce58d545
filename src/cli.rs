//! Command-line interface (clap types only; no I/O).

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::model::FailOn;
use crate::report::formats::{FORMATS, Format, file_formats};
use crate::shard::Shard;

/// `0.1.0 (commit abc123def456)`: the version with the commit it was built from.
pub use crate::model::VERSION;

/// Audit the health of an environment from one YAML file.
#[derive(Debug, Parser)]
#[command(name = "infracheck", version = VERSION, about)]
pub struct Cli {
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `infracheck --env prod` is `infracheck run --env prod`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Logging and colour.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Ids of [`GlobalArgs`]: accepted before or after any subcommand.
const GLOBAL_IDS: [&str; 4] = ["verbose", "quiet", "color", "threads"];

impl Cli {
    /// Parse a command line. Global options (`-v`, `-q`, `--color`, `--threads`) may stand before or after
    /// the subcommand, and so may `--config` for the subcommands that read a config; any other
    /// `run` option before a subcommand is a usage error naming it.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut cmd = Cli::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let Some(sub) = &mut cli.command else {
            return Ok(cli);
        };
        let sub_name = matches.subcommand_name().unwrap_or("run").to_owned();
        let sub_matches = matches.subcommand().map(|(_, m)| m);
        let given = |m: &ArgMatches, id: &str| {
            m.try_contains_id(id).unwrap_or(false)
                && m.value_source(id) == Some(ValueSource::CommandLine)
        };
        let mut misplaced = Vec::new();
        let ids: Vec<String> = cmd
            .get_arguments()
            .map(|a| a.get_id().as_str().to_owned())
            .collect();
        for id in ids {
            if GLOBAL_IDS.contains(&id.as_str()) || !given(&matches, &id) {
                continue;
            }
            let own = sub_matches.is_some_and(|m| given(m, &id));
            match (id.as_str(), &mut *sub) {
                ("config", Command::Validate(a)) if !own => a.config.clone_from(&cli.run.config),
                ("config", Command::List(a)) if !own => a.config.clone_from(&cli.run.config),
                ("config", Command::Run(a)) if !own => a.config.clone_from(&cli.run.config),
                ("config", Command::Init(a)) if !own => a.config.clone_from(&cli.run.config),
                ("config", Command::Serve(a)) if !own => a.config.clone_from(&cli.run.config),
                ("config", Command::Merge(a)) if !own => a.config = Some(cli.run.config.clone()),
                _ => misplaced.push(format!("--{}", id.replace('_', "-"))),
            }
        }
        if !misplaced.is_empty() {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{} must come after `{sub_name}` (only -v, -q, --color, --threads and --config may stand before a subcommand)",
                    misplaced.join(", ")
                ),
            ));
        }
        Ok(cli)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks of one environment (the default).
    Run(RunArgs),
    /// Validate the config without touching the network (exit 0 or 2).
    Validate(ValidateArgs),
    /// Print the checks that would run, one per line: name, kind, target.
    List(ListArgs),
    /// Combine the JSON documents of sharded runs into the reports one run would write.
    Merge(MergeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `infracheck man > infracheck.1`.
    Man,
    /// Write a starter config (and its JSON Schema) and print the pipeline snippet for a CI.
    Init(InitArgs),
    /// Run the checks of one environment on their `interval`, serving /metrics, the results
    /// and a live status page (see docs/serve.md).
    Serve(ServeArgs),
    /// Print the JSON Schema of the config file to stdout (for editors):
    /// `infracheck schema > infracheck.schema.json`.
    Schema,
    /// Post the markdown report of a run on the pull request of a GitHub Actions job, as one
    /// comment updated on later runs (token: `GITHUB_TOKEN`).
    Comment(CommentArgs),
}

/// Options shared by every subcommand.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Threads that drive the checks (default: one per core; 1: a single thread).
    #[arg(long, value_name = "N", global = true, value_parser = parse_threads_arg)]
    pub threads: Option<usize>,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--output FORMAT`: every report format of the table ([`FORMATS`]). Any other than `text`
/// makes stdout hold that one document and nothing else (live lines and notices stay on
/// stderr).
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &FORMATS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name).help(self.about))
    }
}

/// The report files asked for (`--json PATH`, `--junit PATH`…), in the order they are
/// written: one flag per file format of the table ([`FORMATS`]).
#[derive(Debug, Clone, Default)]
pub struct ReportFiles(Vec<(Format, PathBuf)>);

impl ReportFiles {
    /// The files asked for, each with its format, in the order they are written.
    pub fn iter(&self) -> impl Iterator<Item = (Format, &PathBuf)> {
        self.0.iter().map(|(f, p)| (*f, p))
    }

    /// The file asked for in `format`, if any.
    pub fn get(&self, format: Format) -> Option<&PathBuf> {
        self.0.iter().find(|(f, _)| *f == format).map(|(_, p)| p)
    }

    /// Ask for `format` in `path` (replacing an earlier path of that format).
    pub fn set(&mut self, format: Format, path: PathBuf) {
        self.0.retain(|(f, _)| *f != format);
        self.0.push((format, path));
        let order = |f: &Format| file_formats().position(|x| x == *f);
        self.0.sort_by_key(|(f, _)| order(f));
    }
}

impl FromArgMatches for ReportFiles {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut files = ReportFiles::default();
        files.update_from_arg_matches(m)?;
        Ok(files)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for format in file_formats() {
            if let Some(path) = m.get_one::<PathBuf>(format.name) {
                self.set(format, path.clone());
            }
        }
        Ok(())
    }
}

impl Args for ReportFiles {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        file_formats().fold(cmd, |cmd, format| {
            cmd.arg(
                clap::Arg::new(format.name)
                    .long(format.name)
                    .value_name("PATH")
                    .value_parser(clap::value_parser!(PathBuf))
                    .action(clap::ArgAction::Set)
                    .help(format.file_help),
            )
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        ReportFiles::augment_args(cmd)
    }
}

/// `run` options.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Environment to check.
    #[arg(short, long)]
    pub env: Option<String>,
    /// Config file.
    #[arg(short, long, default_value = "infracheck.yaml")]
    pub config: PathBuf,
    /// Maximum checks in flight (overrides `max_workers`/`concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: Option<u32>,
    /// Maximum checks in flight against one host (overrides `per_host_concurrency`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub per_host_concurrency: Option<u32>,
    /// Stop the whole run after this long (e.g. `90s`, `5m`); unfinished checks FAIL with
    /// `timeout.deadline`.
    #[arg(long, value_parser = parse_duration_arg)]
    pub deadline: Option<std::time::Duration>,
    /// Deploy gate: rerun the checks that are not healthy every `--interval` until all pass
    /// or `--deadline` (required) passes; exit 0 only if everything was healthy in time.
    #[arg(long, requires = "deadline")]
    pub until_healthy: bool,
    /// With `--until-healthy`: the wait between the end of one round and the next (default 5s).
    #[arg(long, requires = "until_healthy", value_parser = parse_interval_arg)]
    pub interval: Option<std::time::Duration>,
    /// Run only shard K of N (e.g. `2/4`): a stable subset chosen by a hash of the check name.
    #[arg(long, value_name = "K/N", value_parser = parse_shard_arg)]
    pub shard: Option<Shard>,
    /// Which checks to run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Reports and exit-code options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Which checks of the environment to run (`run`, `list`); checks a selected one depends on
/// (`depends_on`) run too. Applied before `--shard`.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Only the checks with any of these tags (comma-separated; repeatable).
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Leave out the checks with any of these tags (comma-separated; repeatable).
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub exclude_tags: Vec<String>,
    /// Only the checks whose name matches this glob (`api-*`; repeatable: any of them).
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// Leave out the checks whose name matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub skip: Vec<String>,
}

impl SelectArgs {
    /// The checked selection; `None` when no option is given.
    pub fn selection(
        &self,
    ) -> Result<Option<crate::select::Selection>, crate::select::SelectError> {
        crate::select::Selection::new(&self.tags, &self.exclude_tags, &self.only, &self.skip)
    }
}

/// The reports to write and how WARN counts, shared by `run` and `merge`.
#[derive(Debug, Args, Clone, Default)]
pub struct ReportArgs {
    /// Report format on stdout (default text). Any other format makes stdout that one
    /// document alone: `--output junit > junit.xml`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output: Option<Format>,
    /// Treat WARN as failure for the exit code.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Compare with the JSON document of an earlier run of the same environment: every report
    /// marks each result NEW, STILL failing, RECOVERED or unchanged, flags latency regressions
    /// and shows certificate countdowns.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Which failures fail the run: `any` (default) or `new` (only NEW failures since
    /// `--baseline`, which it requires).
    #[arg(long, value_enum, default_value_t = FailOnArg::Any, requires_if("new", "baseline"))]
    pub fail_on: FailOnArg,
    /// With `--baseline`: a check this many times slower than in the baseline is a latency
    /// regression (default 2).
    #[arg(long, value_name = "FACTOR", requires = "baseline", value_parser = parse_factor_arg)]
    pub latency_factor: Option<f64>,
    /// With `--baseline`: …and slower by at least this much (default 100ms).
    #[arg(long, value_name = "DURATION", requires = "baseline", value_parser = parse_any_duration_arg)]
    pub latency_min_increase: Option<std::time::Duration>,
    /// The report files (`--json PATH`…).
    #[command(flatten)]
    pub files: ReportFiles,
    /// Keep a rolling history of the last runs in this JSON file (read before the run, written
    /// after it; created when missing): trends in the text, markdown, HTML and JSON reports.
    #[arg(long, value_name = "PATH")]
    pub history: Option<PathBuf>,
    /// With `--history`: how many runs of the environment to keep (default 30).
    #[arg(long, value_name = "N", requires = "history", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub history_keep: Option<u32>,
    /// GitHub Actions mode (step summary, annotations, outputs); default: on when
    /// `GITHUB_ACTIONS=true`.
    #[arg(long, overrides_with = "no_github")]
    pub github: bool,
    /// Turn GitHub Actions mode off even when `GITHUB_ACTIONS=true`.
    #[arg(long, overrides_with = "github")]
    pub no_github: bool,
    /// GitHub Actions mode without the step summary: nothing is appended to
    /// `$GITHUB_STEP_SUMMARY`.
    #[arg(long)]
    pub no_step_summary: bool,
    /// GitHub Actions mode without annotations: no `::error`, `::warning` or `::notice` lines.
    #[arg(long)]
    pub no_annotations: bool,
}

/// `serve` options.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Environment to watch.
    #[arg(short, long)]
    pub env: String,
    /// Config file (re-read on SIGHUP and `POST /-/reload`).
    #[arg(short, long, default_value = "infracheck.yaml")]
    pub config: PathBuf,
    /// Address to serve on (port 0: any free port; the bound address is printed on stderr).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9469")]
    pub listen: std::net::SocketAddr,
    /// Results kept per check, in memory (default 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub history_keep: Option<u32>,
    /// On SIGTERM or SIGINT: how long the checks in flight may still take before exiting.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_any_duration_arg)]
    pub shutdown_timeout: std::time::Duration,
    /// Environment variable holding a token every endpoint but /healthz requires (`Authorization:
    /// Bearer TOKEN`, or Basic auth with the token as password).
    #[arg(long, value_name = "VAR")]
    pub auth_token_env: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The status page's public URL, linked from alerts.
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
    /// Watch only shard K of N (e.g. `2/4`), as `run --shard` splits the checks.
    #[arg(long, value_name = "K/N", value_parser = parse_shard_arg)]
    pub shard: Option<Shard>,
}

/// `validate` options.
#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    /// Config file.
    #[arg(short, long, default_value = "infracheck.yaml")]
    pub config: PathBuf,
    /// Validate only this environment.
    #[arg(short, long)]
    pub env: Option<String>,
    /// Refuse an unset `${VAR}` without a default, as a run does (default: a note on stderr,
    /// so a config can be validated without the secrets of the job that runs it).
    #[arg(long)]
    pub require_env: bool,
}

/// `list` options.
#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// Config file.
    #[arg(short, long, default_value = "infracheck.yaml")]
    pub config: PathBuf,
    /// Environment whose checks to list.
    #[arg(short, long)]
    pub env: String,
    /// List only the checks of shard K of N (e.g. `2/4`), as `run --shard` would run them.
    #[arg(long, value_name = "K/N", value_parser = parse_shard_arg)]
    pub shard: Option<Shard>,
    /// List only the checks a run with these options would run.
    #[command(flatten)]
    pub select: SelectArgs,
}

/// `init` options.
#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    /// Where to write the starter config; an existing file is never overwritten.
    #[arg(short, long, default_value = "infracheck.yaml")]
    pub config: PathBuf,
    /// Print the pipeline snippet for this CI.
    #[arg(long, value_enum)]
    pub ci: Option<crate::init::Ci>,
}

/// `comment` options. The pull request, repository and API come from the job's environment
/// (`GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`, `GITHUB_API_URL`), the token from `GITHUB_TOKEN`.
#[derive(Debug, Args, Clone)]
pub struct CommentArgs {
    /// Environment the report is of: its comment carries the hidden marker
    /// `<!-- infracheck:ENV -->` and is updated, never posted twice.
    #[arg(short, long)]
    pub env: String,
    /// The markdown report to post (written by `run --markdown PATH`).
    #[arg(long, value_name = "PATH")]
    pub markdown: PathBuf,
}

/// `merge` options.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// JSON documents written by `run --json` (one per shard, any order).
    #[arg(required = true, value_name = "JSON")]
    pub documents: Vec<PathBuf>,
    /// The config the shards ran: reports its waivers that match no check of the environment
    /// (a shard alone cannot tell).
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Reports and exit-code options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `--fail-on`, mapped onto the model's [`FailOn`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Any FAIL or SKIP (and WARN under `--fail-on-warn`): the default.
    #[default]
    Any,
    /// Only NEW failures: those that passed in the `--baseline` run (or are not in it).
    New,
}

impl From<FailOnArg> for FailOn {
    fn from(a: FailOnArg) -> Self {
        match a {
            FailOnArg::Any => FailOn::Any,
            FailOnArg::New => FailOn::New,
        }
    }
}

/// The most `--threads` accepted: far above any useful count, low enough to refuse a typo.
pub const MAX_THREADS: usize = 1024;

fn parse_threads_arg(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid thread count `{s}` (a whole number from 1 to {MAX_THREADS})"
        )),
    }
}

fn parse_shard_arg(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// The shortest `--interval`: a deploy gate must not spin against a fast-failing target.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

fn parse_interval_arg(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration_arg(s)?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "interval `{s}` is shorter than the minimum of 10ms"
        ));
    }
    Ok(d)
}

fn parse_factor_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f > 1.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "invalid factor `{s}` (a number above 1, e.g. `1.5` or `2`)"
        )),
    }
}

fn parse_any_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    crate::reader::ctx::parse_duration(s)
        .ok_or_else(|| format!("invalid duration `{s}` (use e.g. `100ms`, `1s`, or seconds)"))
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    match crate::reader::ctx::parse_duration(s) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(format!(
            "invalid duration `{s}` (use e.g. `90s`, `5m`, `1h`, or seconds)"
        )),
    }
}
