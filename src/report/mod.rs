//! Reporters: the text report on stdout and the file formats. Every reporter reads a
//! [`Summary`](crate::result::Summary) (through a [`Context`]) and nothing else; the exit code
//! never depends on which formats were chosen.
//!
//! The interface is one method, [`Reporter::render`], turning the run into bytes. Where the
//! bytes go is a [`Destination`] chosen by the caller, and [`emit`] writes every requested
//! output the same way: one failed write never stops the others, and each failure names its
//! destination.

pub mod codequality;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod prometheus;
pub mod sarif;
pub mod text;

use std::fmt;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::result::{CheckResult, Summary};

/// Escape untrusted text for a one-line human report: control characters become visible
/// escapes (so a body cannot add lines or move the cursor) and the legacy `##[` workflow
/// command form is broken up.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() || is_line_break(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    neutralise_commands(out)
}

/// Unicode line and paragraph separators: some log viewers break lines on them.
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Neutralise GitHub workflow commands in untrusted text, for every format a CI log may print:
/// `::` that starts a line (after optional whitespace, as the runner trims it) and the legacy
/// `##[command]` form, which the runner honours anywhere in a line, each get an invisible word
/// joiner between their first two characters. The text reads the same; no runner acts on it.
pub(crate) fn neutralise_commands(s: String) -> String {
    const JOINER: char = '\u{2060}';
    if !s.contains("::") && !s.contains("##[") {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut line_start = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\n' | '\r' => line_start = true,
            ':' if line_start && chars.peek() == Some(&':') => {
                out.push(JOINER);
                line_start = false;
            }
            c if c.is_whitespace() => {}
            _ => line_start = false,
        }
    }
    if out.contains("##[") {
        out = out.replace("##[", "#\u{2060}#[");
    }
    out
}

/// `##[` can only occur inside JSON strings (every key is infracheck's own): writing it as
/// `#\u0023[` parses to the same text but cannot be read as a legacy GitHub workflow command if
/// the document is printed in a CI log.
pub(crate) fn json_without_legacy_commands(out: Vec<u8>) -> Vec<u8> {
    if !out.windows(3).any(|w| w == b"##[") {
        return out;
    }
    let mut fixed = Vec::with_capacity(out.len() + 16);
    let mut rest = out.as_slice();
    while let Some(i) = rest.windows(3).position(|w| w == b"##[") {
        let (head, tail) = rest.split_at(i);
        fixed.extend_from_slice(head);
        fixed.extend_from_slice(b"#\\u0023");
        rest = tail.get(2..).unwrap_or_default();
    }
    fixed.extend_from_slice(rest);
    fixed
}

/// Cut `s` to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The HTTP response excerpt a check attached to a failure, if any.
pub(crate) fn body_excerpt(r: &CheckResult) -> Option<&str> {
    r.metadata
        .get("body_excerpt")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Write `bytes` to `path` atomically: a temp file in the same directory, then a rename, so a
/// reader never sees half a report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Append `bytes` to `path` in one write (GitHub's step summary and output files belong to the
/// whole step: earlier content must survive).
pub fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.flush()
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

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the {what} to {destination}: {source}")]
pub struct ReportFailure {
    /// The report's description.
    pub what: &'static str,
    /// Where it should have gone.
    pub destination: String,
    /// Why.
    #[source]
    pub source: RenderError,
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
        let result = output.reporter.render(&cx).and_then(|bytes| {
            let io = match &output.destination {
                Destination::Stdout => match stdout.write_all(&bytes).and_then(|()| stdout.flush())
                {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    other => other,
                },
                Destination::Stderr => stderr.write_all(&bytes).and_then(|()| stderr.flush()),
                Destination::File { path, .. } => write_atomic(path, &bytes),
                Destination::Append(path) => append(path, &bytes),
            };
            io.map_err(RenderError::from)
        });
        match result {
            Ok(()) => {
                if let Destination::File { name, path } = &output.destination {
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
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_neutralised_at_every_line_start() {
        let s = neutralise_commands(
            "::error::a\n  ::warning::b\r\t::x\nok ::mid\nx ##[error]y\n#:::\n".to_owned(),
        );
        for line in s.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
        }
        assert!(s.contains("ok ::mid"), "mid-line `::` is kept: {s}");
        assert_eq!(
            s.replace('\u{2060}', ""),
            "::error::a\n  ::warning::b\r\t::x\nok ::mid\nx ##[error]y\n#:::\n"
        );
    }

    #[test]
    fn one_line_neutralises_lines_and_commands() {
        let s = one_line("a\n::error::x\r##[warning]y\u{1b}[31m\u{2028}z");
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'));
        assert!(!one_line(" ::error::x").trim_start().starts_with("::"));
        assert!(!s.contains("##[") && !s.contains('\u{2028}'));
    }

    #[test]
    fn repo_relative_paths() {
        let p = RepoPaths::new(PathBuf::from("/repo/sub"), PathBuf::from("/repo"));
        assert_eq!(p.relative("infracheck.yaml"), "sub/infracheck.yaml");
        assert_eq!(p.relative("./a/../b.yaml"), "sub/b.yaml");
        assert_eq!(p.relative("../top.yaml"), "top.yaml");
        assert_eq!(p.relative("/repo/x/y.yaml"), "x/y.yaml");
        assert_eq!(p.relative("/elsewhere/c.yaml"), "/elsewhere/c.yaml");
        assert_eq!(p.relative(""), "infracheck.yaml");
    }

    struct Fixed(&'static str);
    impl Reporter for Fixed {
        fn describe(&self) -> &'static str {
            "fixed report"
        }
        fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
            let names: Vec<&str> = cx.written.iter().map(|w| w.name).collect();
            Ok(format!("{} after {names:?}\n", self.0).into_bytes())
        }
    }

    #[test]
    fn one_failed_output_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.txt");
        let bad = dir.path().join("missing-dir/bad.txt");
        let s = fixture::summary();
        let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
        let outputs = vec![
            Output::new(
                Fixed("a"),
                Destination::File {
                    name: "bad",
                    path: bad.clone(),
                },
            ),
            Output::new(
                Fixed("b"),
                Destination::File {
                    name: "ok",
                    path: ok.clone(),
                },
            ),
            Output::new(Fixed("c"), Destination::Stdout),
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let failures = emit(&s, &paths, &outputs, &mut out, &mut err);
        assert_eq!(failures.len(), 1);
        let msg = failures[0].to_string();
        assert!(
            msg.contains("fixed report") && msg.contains("bad.txt"),
            "{msg}"
        );
        assert_eq!(std::fs::read_to_string(&ok).unwrap(), "b after []\n");
        // Only reports that were really written are passed on.
        assert_eq!(String::from_utf8(out).unwrap(), "c after [\"ok\"]\n");
        assert!(!bad.exists());
    }
}
