//! Reporters: the text report on stdout and the file formats. Every reporter reads a
//! [`Summary`](crate::model::Summary) (through a [`Context`]) and nothing else; the exit code
//! never depends on which formats were chosen.
//!
//! The interface is one method, [`Reporter::render`], turning the run into bytes
//! ([`Reporter::render_to`] writes them as they are rendered: the JSON document of a large run
//! is never held in memory whole). Where the bytes go is a [`Destination`] chosen by the
//! caller, and [`emit`] writes every requested output the same way (`write.rs`): one failed
//! write never stops the others, and each failure names its destination.

pub mod codequality;
pub mod formats;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod prometheus;
pub mod sarif;
pub mod stream;
pub mod tap;
pub mod text;
mod write;

use std::fmt;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::model::{CheckResult, Summary};
pub(crate) use crate::text::neutralise_commands;
pub use crate::text::one_line;
pub(crate) use crate::text::{pretty_json, truncate_chars};
use write::{Body, write_report_with, write_stream_with};
pub use write::{append, write_report};

/// `passed`, `warned` or `failed`: the run's stored verdict (reports judge nothing
/// themselves: the run's policy decided it once, see [`Summary::judgement`]).
pub(crate) fn verdict(s: &Summary) -> &'static str {
    s.judgement.verdict.as_str()
}

/// Whether the run passed, as its stored verdict says.
pub(crate) fn passed(s: &Summary) -> bool {
    s.judgement.passed()
}

/// Under `--fail-on new`, the failures that did not fail the run, as the stored verdict says.
pub(crate) fn known_failures(s: &Summary) -> Option<usize> {
    s.judgement.known_failures
}

/// The HTTP response excerpt a check attached to a failure, if any.
pub(crate) fn body_excerpt(r: &CheckResult) -> Option<&str> {
    r.metadata
        .get("body_excerpt")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Why a report could not be written: each variant says which step failed on which path (the
/// path as the user gave it).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A missing parent directory could not be created.
    #[error("cannot create {}/: {source}", dir.display())]
    CreateDir {
        /// The directory that could not be created.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The report (or its temporary file) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The report's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("cannot write {}: it is a directory", path.display())]
    Directory {
        /// The report's path.
        path: PathBuf,
    },
    /// The finished temporary file could not be renamed over the report.
    #[error("cannot replace {}: {source}", path.display())]
    Replace {
        /// The report's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Maps the config path of a check to the repository-relative, forward-slash path that SARIF,
/// annotations and Code Quality need.
#[derive(Debug, Clone)]
pub struct RepoPaths {
    /// Where relative config paths start (the process's current directory).
    cwd: PathBuf,
    /// The repository root (`GITHUB_WORKSPACE`, or the current directory).
    root: PathBuf,
}

impl RepoPaths {
    /// Paths relative to `root`, for config paths given relative to `cwd`.
    pub fn new(cwd: PathBuf, root: PathBuf) -> Self {
        RepoPaths { cwd, root }
    }

    /// From the process: the current directory, and `workspace` (`GITHUB_WORKSPACE`) as the
    /// root when set.
    pub fn from_process(workspace: Option<PathBuf>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let root = workspace
            .filter(|w| !w.as_os_str().is_empty())
            .map(|w| if w.is_absolute() { w } else { cwd.join(w) })
            .unwrap_or_else(|| cwd.clone());
        RepoPaths { cwd, root }
    }

    /// `file` relative to the repository root with `/` separators. A file outside the root
    /// keeps its path as given (with `/` separators); an empty path becomes `infracheck.yaml`.
    pub fn relative(&self, file: &str) -> String {
        if file.is_empty() {
            return "infracheck.yaml".to_owned();
        }
        let given = Path::new(file);
        let absolute = normalize(&self.cwd.join(given));
        let root = normalize(&self.root);
        let rel = match absolute.strip_prefix(&root) {
            Ok(rel) => Some(rel.to_path_buf()),
            // Symlinked temp dirs (macOS /tmp, /var): compare the real paths.
            Err(_) => match (
                std::fs::canonicalize(&absolute),
                std::fs::canonicalize(&root),
            ) {
                (Ok(a), Ok(r)) => a.strip_prefix(&r).ok().map(Path::to_path_buf),
                _ => None,
            },
        };
        match rel {
            Some(rel) if !rel.as_os_str().is_empty() => slashes(&rel),
            _ => {
                let s = slashes(given);
                s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
            }
        }
    }
}

/// `path` (relative to `cwd`) with symlinks, `.` and `..` resolved, for telling whether two
/// paths name one file. The file (or its directories) may not exist yet: the longest existing
/// ancestor is resolved and the rest appended.
pub(crate) fn resolve(cwd: &Path, path: &Path) -> PathBuf {
    let absolute = cwd.join(path);
    for ancestor in absolute.ancestors() {
        if let Ok(real) = std::fs::canonicalize(ancestor) {
            let rest = absolute.strip_prefix(ancestor).unwrap_or(Path::new(""));
            return normalize(&real.join(rest));
        }
    }
    normalize(&absolute)
}

/// Remove `.` and resolve `..` lexically.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn slashes(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            Component::RootDir => Some(String::new()),
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir => None,
            Component::Prefix(p) => Some(p.as_os_str().to_string_lossy().into_owned()),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A report already written in this run: its output name (`junit`, `sarif`…) and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The format's output name.
    pub name: &'static str,
    /// Where it was written.
    pub path: PathBuf,
}

/// Everything a reporter may read.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The run.
    pub summary: &'a Summary,
    /// Repository-relative paths of config files.
    pub paths: &'a RepoPaths,
    /// Reports written earlier in this run (read by the GitHub outputs).
    pub written: &'a [Written],
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON serialisation failed.
    #[error("cannot serialise JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JUnit serialisation failed.
    #[error("cannot serialise JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// Writing to an in-memory buffer failed.
    #[error("cannot render: {0}")]
    Io(#[from] std::io::Error),
}

/// One output format.
pub trait Reporter {
    /// What it produces, for messages: `JUnit report`, `step summary`…
    fn describe(&self) -> &'static str;
    /// Render the run.
    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError>;
    /// Render the run to `w`. By default the bytes of [`Reporter::render`]; a reporter whose
    /// document grows with every check (JSON) writes as it renders, so the whole document
    /// is never held in memory.
    fn render_to(&self, cx: &Context<'_>, w: &mut dyn Write) -> Result<(), Streamed> {
        let bytes = self.render(cx).map_err(Streamed::Render)?;
        w.write_all(&bytes).map_err(Streamed::Write)
    }
}

/// Why rendering a report to a writer stopped: the report, or the writer.
#[derive(Debug)]
pub enum Streamed {
    /// The report could not be rendered.
    Render(RenderError),
    /// The writer failed.
    Write(std::io::Error),
}

/// Where a rendered report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The process's standard output (a closed pipe is not an error).
    Stdout,
    /// The process's standard error.
    Stderr,
    /// A file, replaced atomically; recorded under `name` in [`Context::written`].
    File {
        /// The output name (`junit`, `sarif`…).
        name: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// A file appended to (GitHub's step summary and outputs).
    Append(PathBuf),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Stdout => f.write_str("stdout"),
            Destination::Stderr => f.write_str("stderr"),
            Destination::File { path, .. } | Destination::Append(path) => {
                write!(f, "{}", path.display())
            }
        }
    }
}

/// A reporter and its destination.
pub struct Output {
    /// The format.
    pub reporter: Box<dyn Reporter>,
    /// Where it goes.
    pub destination: Destination,
}

impl Output {
    /// Pair a reporter with a destination.
    pub fn new(reporter: impl Reporter + 'static, destination: Destination) -> Self {
        Output {
            reporter: Box::new(reporter),
            destination,
        }
    }
}

/// Why one output failed: rendering it, or writing it.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The report could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The rendered report could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A report that could not be produced: `JUnit report: cannot create out/: …`, or
/// `cannot produce the JSON report for stdout: cannot serialise JSON: …`.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_failure(what, destination, source))]
pub struct ReportFailure {
    /// The report's description.
    pub what: &'static str,
    /// Where it should have gone.
    pub destination: String,
    /// Why.
    #[source]
    pub source: OutputError,
}

fn describe_failure(what: &str, destination: &str, source: &OutputError) -> String {
    match source {
        // A write error names its path itself.
        OutputError::Write(e) => format!("{what}: {e}"),
        OutputError::Render(e) => format!("cannot produce the {what} for {destination}: {e}"),
    }
}

/// Render and write every output in order. A failure never stops the outputs after it; every
/// failure is returned, naming its destination.
pub fn emit(
    summary: &Summary,
    paths: &RepoPaths,
    outputs: &[Output],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Vec<ReportFailure> {
    let mut written: Vec<Written> = Vec::new();
    let mut failures = Vec::new();
    for output in outputs {
        let cx = Context {
            summary,
            paths,
            written: &written,
        };
        let reporter = &*output.reporter;
        let mut body = |w: &mut dyn Write| reporter.render_to(&cx, w);
        let stream = |w: &mut dyn Write, name: &str, body: Body<'_>| {
            write_stream_with(w, body).map_err(|e| match e {
                Streamed::Render(e) => OutputError::Render(e),
                Streamed::Write(source) => OutputError::Write(WriteError::Write {
                    path: PathBuf::from(name),
                    source,
                }),
            })
        };
        let fd = match &output.destination {
            Destination::File { path, .. } => stream::descriptor(path),
            _ => None,
        };
        let result = match (&output.destination, fd) {
            (Destination::Stdout, _) | (Destination::File { .. }, Some(1)) => {
                stream(stdout, "stdout", &mut body)
            }
            (Destination::Stderr, _) | (Destination::File { .. }, Some(2)) => {
                stream(stderr, "stderr", &mut body)
            }
            (Destination::File { path, .. }, _) => write_report_with(path, &mut body),
            (Destination::Append(path), _) => reporter
                .render(&cx)
                .map_err(OutputError::from)
                .and_then(|bytes| append(path, &bytes).map_err(OutputError::from)),
        };
        match result {
            Ok(()) => {
                // A report on a stream is no file to name in the GitHub outputs.
                if let Destination::File { name, path } = &output.destination
                    && stream::descriptor(path).is_none()
                {
                    written.push(Written {
                        name,
                        path: path.clone(),
                    });
                }
            }
            Err(source) => failures.push(ReportFailure {
                what: output.reporter.describe(),
                destination: output.destination.to_string(),
                source,
            }),
        }
    }
    failures
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests;
