//! The end of a run (shared by `run` and `merge`): redact the results once, compare them with
//! the baseline, record the history, write every report and decide the exit code.

use std::path::PathBuf;

use super::signals::Signals;
use super::{exit_code_for, interruption_code, process_env, use_color};
use crate::baseline::{self, Baseline};
use crate::cli::{GlobalArgs, OutputFormat, ReportArgs};
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::history::{History, HistoryLock};
use crate::model::Summary;
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::report::{self, Output, RepoPaths, text};

/// What a finished run is judged and written with, besides its summary.
pub(super) struct Inputs<'a> {
    /// The `--baseline` document.
    pub(super) baseline: Option<&'a Baseline>,
    /// The `--history` file, read before the run.
    pub(super) history: Option<History>,
    /// The run's secrets.
    pub(super) redactor: &'a Redactor,
    /// The run's policy.
    pub(super) policy: &'a Policy,
    /// The run's signal watcher: a signal while the reports are written bounds them in time
    /// and sets the exit code.
    pub(super) signals: &'a Signals,
    /// Where the errors go.
    pub(super) sink: &'a Sink,
}

/// A report file must not land on a file something else owns: two report options naming one
/// file would overwrite each other, and a report over the config, the `--baseline` or GitHub's
/// `$GITHUB_OUTPUT` / `$GITHUB_STEP_SUMMARY` would destroy an input. Refused before anything
/// runs, naming both uses. (`--baseline` may name the `--json` file: it is read before the run
/// and the new document replaces it afterwards, which rolls the baseline forward.)
pub(super) fn distinct_report_paths(
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
    one_report_per_stream(a)?;
    let mut seen: Vec<(&str, PathBuf, bool)> = Vec::new();
    for (flag, path) in report_flags(a) {
        // Two streams are compared by descriptor (`one_report_per_stream`): stdout and stderr
        // may lead to one terminal or pipe, and each still carries one document. A stream
        // leading to a file another report replaces is refused below.
        let is_stream = report::stream::descriptor(path).is_some();
        if is_stream && path.as_os_str() == "-" {
            continue;
        }
        let key = report::resolve(&cwd, path);
        if let Some((other, ..)) = seen
            .iter()
            .find(|(_, k, s)| *k == key && !(is_stream && *s))
        {
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
        seen.push((flag, key, is_stream));
    }
    Ok(())
}

/// The report file options that are set, with their flags, in the order they are written.
fn report_flags(a: &ReportArgs) -> impl Iterator<Item = (&'static str, &PathBuf)> {
    [
        ("--json", &a.json),
        ("--junit", &a.junit),
        ("--sarif", &a.sarif),
        ("--markdown", &a.markdown),
        ("--codequality", &a.codequality),
        ("--prometheus", &a.prometheus),
        ("--html", &a.html),
        ("--tap", &a.tap),
    ]
    .into_iter()
    .filter_map(|(flag, path)| Some((flag, path.as_ref()?)))
}

/// Two documents on one stream are one unreadable document: at most one report per
/// descriptor (`-` and `/dev/stdout` are stdout, where `--output json` writes too; the text
/// report is not a document and shares stdout with one). Refused before anything runs.
fn one_report_per_stream(a: &ReportArgs) -> Result<(), String> {
    // A document on stdout (`--output FORMAT` other than text) is all stdout holds; the text
    // report may share it with a document appended after it (`--json /dev/stdout >> log`).
    let mut seen: Vec<(String, u32)> = Vec::new();
    if let Some(f) = a.output.filter(|f| *f != OutputFormat::Text) {
        seen.push((format!("--output {}", format_name(f)), 1));
    }
    for (flag, path) in report_flags(a) {
        let Some(fd) = report::stream::descriptor(path) else {
            continue;
        };
        // `-` beside `--output FORMAT` (but json, refused here): refused by
        // `one_report_on_stdout`, in its words.
        if a.output.is_some_and(|f| f != OutputFormat::Json) && path.as_os_str() == "-" {
            continue;
        }
        if let Some((other, _)) = seen.iter().find(|(_, f)| *f == fd) {
            return Err(format!(
                "{other} and {flag} both write to {}: give each report its own file",
                report::stream::describe(fd)
            ));
        }
        seen.push((flag.to_owned(), fd));
    }
    Ok(())
}

/// Compare with the baseline, write the reports and decide the exit code (shared by `run` and
/// `merge`).
pub(super) fn finish(
    mut summary: Summary,
    a: &ReportArgs,
    g: &GlobalArgs,
    inputs: Inputs<'_>,
) -> ExitCode {
    let Inputs {
        baseline,
        history,
        redactor,
        policy,
        signals,
        sink,
    } = inputs;
    signals.reports_begin();
    summary.fail_on = a.fail_on.into();
    // The one redaction of the results (deferred cuts carried out after it), before they are
    // compared, recorded or reported: the baseline and history files hold names as reported.
    for r in &mut summary.results {
        redactor.redact(r);
    }
    if let Some(b) = baseline {
        let defaults = baseline::Options::default();
        let options = baseline::Options {
            latency_factor: a.latency_factor.unwrap_or(defaults.latency_factor),
            latency_min_increase: a
                .latency_min_increase
                .unwrap_or(defaults.latency_min_increase),
        };
        baseline::apply(&mut summary, b, options, policy);
        // Text from the baseline document is redacted with this run's secrets too: a value
        // may have become secret since that run.
        if let Some(totals) = &mut summary.baseline {
            for name in &mut totals.removed {
                *name = redactor.text(name);
            }
            totals.path = redactor.text(&totals.path);
        }
    }
    // The history is recorded and written first, under its lock, and released before any
    // report is written (a report may block on a pipe; the next run must not wait for it).
    let mut history_failed = false;
    if let (Some(path), Some(before)) = (a.history.as_ref(), history) {
        let keep = a
            .history_keep
            .and_then(|k| usize::try_from(k).ok())
            .unwrap_or(crate::history::DEFAULT_KEEP);
        let shown = redactor.text(&path.display().to_string());
        if let Err(msg) = record_history(path, before, &mut summary, keep, &shown) {
            sink.error(&msg);
            history_failed = true;
        }
    }
    let summary = &summary;
    let outputs = report_outputs(a, use_color(g.color), &process_env);
    let paths = RepoPaths::from_process(process_env("GITHUB_WORKSPACE").map(PathBuf::from));
    let failures = {
        let mut out = std::io::stdout().lock();
        // Not locked for the whole emit: the signal watcher may have to say something while
        // a report write blocks.
        let mut err = std::io::stderr();
        report::emit(summary, &paths, &outputs, &mut out, &mut err)
    };
    for f in &failures {
        sink.error(&f.to_string());
    }
    let code = exit_code_for(summary, policy, !failures.is_empty() || history_failed);
    // A signal, also one while the reports were written (they finished within their grace),
    // exits 130 / 143.
    signals.received().map_or(code, interruption_code)
}

/// Record this run in the `--history` file and write it, under the file's lock: the file is
/// read again there, so a run that recorded itself since this one read it keeps its record.
/// When the lock cannot be had, the reports still get this run's trends (from the file as
/// read before the run) and the file is left as it is.
fn record_history(
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

/// Whether GitHub Actions mode is on: `--github`/`--no-github`, else `GITHUB_ACTIONS=true`.
pub(super) fn github_mode(a: &ReportArgs, env: &dyn Fn(&str) -> Option<String>) -> bool {
    if a.github {
        true
    } else if a.no_github {
        false
    } else {
        env("GITHUB_ACTIONS").as_deref() == Some("true")
    }
}

/// The report files the options ask for, in the order they are written: `--json`, `--junit`,
/// `--sarif`, `--markdown`, `--codequality`, `--prometheus`, `--html`, `--tap`.
fn report_files(a: &ReportArgs) -> impl Iterator<Item = (OutputFormat, &PathBuf)> {
    [
        (OutputFormat::Json, &a.json),
        (OutputFormat::Junit, &a.junit),
        (OutputFormat::Sarif, &a.sarif),
        (OutputFormat::Markdown, &a.markdown),
        (OutputFormat::Codequality, &a.codequality),
        (OutputFormat::Prometheus, &a.prometheus),
        (OutputFormat::Html, &a.html),
        (OutputFormat::Tap, &a.tap),
    ]
    .into_iter()
    .filter_map(|(format, path)| Some((format, path.as_ref()?)))
}

/// The format's output name: its `--output` value, its `--<format> PATH` flag and its
/// `report_<name>` GitHub output.
fn format_name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Text => "text",
        OutputFormat::Json => "json",
        OutputFormat::Junit => "junit",
        OutputFormat::Sarif => "sarif",
        OutputFormat::Markdown => "markdown",
        OutputFormat::Html => "html",
        OutputFormat::Tap => "tap",
        OutputFormat::Prometheus => "prometheus",
        OutputFormat::Codequality => "codequality",
    }
}

/// The one reporter of each format, wherever it is written (`--output FORMAT` or a file).
fn reporter(
    format: OutputFormat,
    color: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Box<dyn report::Reporter> {
    use report::{codequality, html, json, junit, markdown, prometheus, sarif, tap};
    match format {
        OutputFormat::Text => Box::new(text::Text {
            style: text::Style { color },
        }),
        OutputFormat::Json => Box::new(json::Json),
        OutputFormat::Junit => Box::new(junit::Junit),
        OutputFormat::Sarif => Box::new(sarif::Sarif),
        OutputFormat::Markdown => Box::new(markdown::Markdown),
        OutputFormat::Html => {
            // The commit of the config, when the CI says which one it checked out.
            let commit = ["GITHUB_SHA", "CI_COMMIT_SHA"]
                .iter()
                .find_map(|v| env(v).filter(|s| !s.trim().is_empty()));
            Box::new(html::Html { commit })
        }
        OutputFormat::Tap => Box::new(tap::Tap),
        OutputFormat::Prometheus => Box::new(prometheus::Prometheus),
        OutputFormat::Codequality => Box::new(codequality::CodeQuality),
    }
}

/// Two reports aimed at stdout would be one unreadable stream: `--output FORMAT` (given on the
/// command line) and a `--<format> -`, or two `--<format> -`. Refused before anything runs.
pub(super) fn one_report_on_stdout(a: &ReportArgs) -> Result<(), String> {
    let mut on_stdout: Vec<String> = a
        .output
        .map(|f| format!("--output {}", format_name(f)))
        .into_iter()
        .collect();
    on_stdout.extend(
        report_files(a)
            .filter(|(_, p)| p.as_os_str() == "-")
            .map(|(f, _)| format!("--{} -", format_name(f))),
    );
    match on_stdout.as_slice() {
        [first, second, ..] => Err(format!(
            "{first} and {second} both write to stdout: give one of them a file"
        )),
        _ => Ok(()),
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
    use report::{Destination, github, markdown};
    let stdout = a.output.unwrap_or(OutputFormat::Text);
    let mut outputs = vec![Output {
        reporter: reporter(stdout, color, env),
        destination: Destination::Stdout,
    }];
    for (format, path) in report_files(a) {
        outputs.push(Output {
            reporter: reporter(format, color, env),
            destination: Destination::File {
                name: format_name(format),
                path: path.clone(),
            },
        });
    }
    if github_mode(a, env) {
        let path_var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        match path_var("GITHUB_STEP_SUMMARY") {
            _ if a.no_step_summary => {}
            Some(p) => {
                let existing = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                outputs.push(Output::new(
                    markdown::StepSummary::after(existing),
                    Destination::Append(p),
                ));
            }
            None => tracing::info!("GITHUB_STEP_SUMMARY is not set: no step summary"),
        }
        if !a.no_annotations {
            outputs.push(Output::new(github::Annotations, Destination::Stderr));
        }
        match path_var("GITHUB_OUTPUT") {
            Some(p) => outputs.push(Output::new(github::Outputs, Destination::Append(p))),
            None => tracing::info!("GITHUB_OUTPUT is not set: no step outputs"),
        }
    }
    outputs
}
