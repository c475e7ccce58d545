//! The edge of the program: turns CLI options into a run, writes the reports and decides the
//! exit code. Errors are printed here, once, as one line each.
//!
//! By job: [`commands`] (validate, list, init, schema, completions, man page), [`run`] (one
//! run of an environment), [`merge`] (the merge command), [`live`] (progress on stderr),
//! [`stages`] (a finished run judged, redacted, recorded and written, in typed stages) and
//! [`outputs`] (where the reports go, from the table of formats).

mod commands;
mod comment;
mod live;
mod merge;
mod outputs;
mod run;
mod serve;
mod signals;
mod stages;

use std::io::IsTerminal;

use crate::cli::{Cli, ColorChoice, Command, GlobalArgs};
use crate::config::ConfigError;
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::model::{Interruption, Summary, WAIVER_KIND};

/// Run the command line and return the exit code.
pub fn execute(cli: Cli) -> ExitCode {
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Everything said on stderr, the log included, goes through this one sink.
    let sink = Sink::stderr(ansi);
    init_tracing(&cli.global, &sink, ansi);
    let sink = &sink;
    match cli.command {
        Some(Command::Validate(a)) => commands::validate(&a, sink),
        Some(Command::List(a)) => commands::list(&a, sink),
        Some(Command::Run(a)) => run::run(&a, &cli.global, sink),
        Some(Command::Merge(a)) => merge::merge(&a, &cli.global, sink),
        Some(Command::Completions { shell }) => commands::completions(shell, sink),
        Some(Command::Man) => commands::man_page(sink),
        Some(Command::Schema) => commands::schema(sink),
        Some(Command::Init(a)) => commands::init(&a, sink),
        Some(Command::Comment(a)) => comment::comment(&a, sink),
        Some(Command::Serve(a)) => serve::serve(&a, &cli.global, sink),
        None => run::run(&cli.run, &cli.global, sink),
    }
}

/// The `-v` log, written through `sink` (redacted and escaped like every other line).
fn init_tracing(g: &GlobalArgs, sink: &Sink, ansi: bool) {
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
        .with_writer(sink.clone())
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn config_error(e: &ConfigError, sink: &Sink) -> ExitCode {
    for line in e.to_string().lines() {
        sink.error(line);
    }
    ExitCode::Usage
}

/// What a JSON document (`merge`, `--baseline`) may name: every kind and the stale-waiver
/// results, and every reason of the registry. Read through [`DocumentNames::seed`].
struct DocumentNames {
    kinds: Vec<&'static str>,
    reasons: Vec<crate::model::Reason>,
}

impl DocumentNames {
    fn new() -> Self {
        DocumentNames {
            kinds: crate::checks::KINDS
                .iter()
                .map(|(_, kind)| *kind)
                .chain([WAIVER_KIND])
                .collect(),
            reasons: crate::checks::reasons(),
        }
    }

    /// The context a document is read in.
    fn seed(&self) -> crate::model::DocumentSeed<'_> {
        crate::model::DocumentSeed {
            kinds: &self.kinds,
            reasons: &self.reasons,
        }
    }
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

pub(super) fn interruption_code(i: Interruption) -> ExitCode {
    match i {
        Interruption::Sigint => ExitCode::Interrupted,
        Interruption::Sigterm => ExitCode::Terminated,
        Interruption::Deadline => ExitCode::ChecksFailed,
    }
}

/// The run's exit code, decided in this one place from the stored verdict of its judged
/// summary: a signal (also one received while the reports were written, which finished within
/// their grace) exits 130 / 143; a run that did not pass exits 1; a report or history file
/// that could not be written exits 3.
pub fn exit_code(summary: &Summary, signal: Option<Interruption>, report_failed: bool) -> ExitCode {
    let interrupted = signal.or(summary.interrupted);
    if let Some(i) = interrupted
        && i != Interruption::Deadline
    {
        return interruption_code(i);
    }
    if !summary.judgement.passed() {
        return ExitCode::ChecksFailed;
    }
    if report_failed {
        return ExitCode::ReportWrite;
    }
    ExitCode::Ok
}

#[cfg(test)]
mod tests;
