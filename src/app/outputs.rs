//! Where the reports of a run go, read from the one table of formats
//! ([`crate::report::formats`]): the checks that no two reports share a file or a stream
//! (refused before anything runs) and the outputs of a finished run, written in order.

use std::path::{Path, PathBuf};

use super::{process_env, use_color};
use crate::cli::{GlobalArgs, ReportArgs};
use crate::event::Sink;
use crate::model::Summary;
use crate::report::formats::{Format, Settings};
use crate::report::{self, Output, RepoPaths};

/// A report the options ask for: `--output FORMAT` (stdout's report, `path` `None`) or a
/// `--<format> PATH` file.
struct Claim<'a> {
    format: Format,
    path: Option<&'a PathBuf>,
}

impl Claim<'_> {
    /// How messages name it: `--output json`, `--json`.
    fn label(&self) -> String {
        match self.path {
            None => format!("--output {}", self.format.name),
            Some(_) => self.format.flag(),
        }
    }

    /// The descriptor it writes to, when it writes to one of the process's streams.
    fn descriptor(&self) -> Option<u32> {
        match self.path {
            None => Some(1),
            Some(p) => report::stream::descriptor(p),
        }
    }

    /// Whether it is stdout's report: `--output FORMAT`, or a file flag given `-`.
    fn is_stdout_report(&self) -> bool {
        self.path.is_none_or(|p| p.as_os_str() == "-")
    }
}

/// Every report the options ask for: `--output FORMAT` when given on the command line, then
/// the report files in the order they are written.
fn claims(a: &ReportArgs) -> Vec<Claim<'_>> {
    let stdout = a.output.map(|format| Claim { format, path: None });
    let files = a.files.iter().map(|(format, path)| Claim {
        format,
        path: Some(path),
    });
    stdout.into_iter().chain(files).collect()
}

/// Refuse, before anything runs, a report that would land where something else writes or
/// reads (each message names both uses):
///
/// - two documents on one stream: a document on a descriptor (`--output FORMAT` on stdout,
///   a file flag given `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`…) is all that stream
///   holds; the text report is no document and shares stdout with one;
/// - two reports of one file, or a report over an input: the config, `--baseline` (unless
///   the format rolls the baseline forward, the JSON document), `--history`, GitHub's
///   `$GITHUB_OUTPUT` / `$GITHUB_STEP_SUMMARY`;
/// - two reports asking for stdout's report: `--output FORMAT` and a file flag given `-`.
pub(super) fn check_report_paths(
    a: &ReportArgs,
    config: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    let claims = claims(a);
    one_document_per_stream(&claims)?;
    distinct_files(&claims, &inputs(a, config, env))?;
    one_stdout_report(&claims)
}

/// The files a report must not replace, named as messages name them.
fn inputs(
    a: &ReportArgs,
    config: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<(&'static str, PathBuf)> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let github = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    [
        ("the config file", config.map(Path::to_path_buf)),
        ("--baseline", a.baseline.clone()),
        ("--history", a.history.clone()),
        ("$GITHUB_OUTPUT", github("GITHUB_OUTPUT")),
        ("$GITHUB_STEP_SUMMARY", github("GITHUB_STEP_SUMMARY")),
    ]
    .into_iter()
    .filter_map(|(what, path)| Some((what, report::resolve(&cwd, &path?))))
    .collect()
}

/// At most one document per descriptor: two documents on one stream are one unreadable
/// document.
fn one_document_per_stream(claims: &[Claim<'_>]) -> Result<(), String> {
    let mut seen: Vec<(String, u32)> = Vec::new();
    for claim in claims.iter().filter(|c| c.format.document) {
        let Some(fd) = claim.descriptor() else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, f)| *f == fd) {
            return Err(format!(
                "{other} and {} both write to {}: give each report its own file",
                claim.label(),
                report::stream::describe(fd)
            ));
        }
        seen.push((claim.label(), fd));
    }
    Ok(())
}

/// No two reports of one file, and no report over an input. Streams are compared by
/// descriptor ([`one_document_per_stream`]): stdout and stderr may lead to one terminal or
/// pipe, and each still carries one document; a stream leading to a file another report
/// replaces is refused here.
fn distinct_files(claims: &[Claim<'_>], inputs: &[(&str, PathBuf)]) -> Result<(), String> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut seen: Vec<(String, PathBuf, bool)> = Vec::new();
    for claim in claims {
        let Some(path) = claim.path.filter(|p| p.as_os_str() != "-") else {
            continue;
        };
        let is_stream = claim.descriptor().is_some();
        let key = report::resolve(&cwd, path);
        if let Some((other, ..)) = seen
            .iter()
            .find(|(_, k, s)| *k == key && !(is_stream && *s))
        {
            return Err(format!(
                "{other} and {} both write {}: give each report its own file",
                claim.label(),
                path.display()
            ));
        }
        let rolled = |what: &str| claim.format.rolls_baseline && what == "--baseline";
        if let Some((what, _)) = inputs.iter().find(|(w, k)| *k == key && !rolled(w)) {
            return Err(format!(
                "{} and {what} both name {}: the report would replace it; give the report its own file",
                claim.label(),
                path.display()
            ));
        }
        seen.push((claim.label(), key, is_stream));
    }
    Ok(())
}

/// At most one report asks for stdout's report (`--output FORMAT`, a file flag given `-`):
/// `--output text --tap -` asks for two.
fn one_stdout_report(claims: &[Claim<'_>]) -> Result<(), String> {
    let label = |c: &Claim<'_>| match c.path {
        None => c.label(),
        Some(_) => format!("{} -", c.label()),
    };
    let on_stdout: Vec<String> = claims
        .iter()
        .filter(|c| c.is_stdout_report())
        .map(label)
        .collect();
    match on_stdout.as_slice() {
        [first, second, ..] => Err(format!(
            "{first} and {second} both write to stdout: give one of them a file"
        )),
        _ => Ok(()),
    }
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

/// Write every report of a finished (judged, redacted) run; each failure is printed as one
/// line. Returns whether any report could not be written.
pub(super) fn render(summary: &Summary, a: &ReportArgs, g: &GlobalArgs, sink: &Sink) -> bool {
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
    !failures.is_empty()
}

/// Every output the options ask for, in the order they are written: the stdout report, the
/// report files, then (GitHub mode) the step summary, the annotations on stderr (so a JSON
/// document on stdout stays parseable) and `$GITHUB_OUTPUT`, which names the files written.
fn report_outputs(
    a: &ReportArgs,
    color: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Output> {
    use report::Destination;
    let settings = Settings {
        color,
        // The commit of the config, when the CI says which one it checked out.
        commit: ["GITHUB_SHA", "CI_COMMIT_SHA"]
            .iter()
            .find_map(|v| env(v).filter(|s| !s.trim().is_empty())),
    };
    let stdout = a.output.unwrap_or_else(Format::text);
    let mut outputs = vec![Output {
        reporter: (stdout.reporter)(&settings),
        destination: Destination::Stdout,
    }];
    for (format, path) in a.files.iter() {
        outputs.push(Output {
            reporter: (format.reporter)(&settings),
            destination: Destination::File {
                name: format.name,
                path: path.clone(),
            },
        });
    }
    if github_mode(a, env) {
        github_outputs(a, env, &mut outputs);
    }
    outputs
}

/// GitHub mode's outputs: the step summary, the annotations and `$GITHUB_OUTPUT`.
fn github_outputs(a: &ReportArgs, env: &dyn Fn(&str) -> Option<String>, outputs: &mut Vec<Output>) {
    use report::{Destination, github, markdown};
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

#[cfg(test)]
mod tests;
