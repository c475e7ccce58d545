//! Configuration errors: every problem found, each with file, line, column and key path.

use std::fmt;

use super::source::Source;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in (an included file, or the main config).
    pub file: Source,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted key path, e.g. `environments.prod.http_checks[0].expected_status`.
    pub path: String,
    /// Lower-case message fragment.
    pub message: String,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        /// The path as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// One or more validation problems; all are listed.
    #[error("{}", render_problems(problems))]
    Invalid {
        /// The main config's path as given (each problem names its own file).
        file: String,
        /// Every problem, in file order.
        problems: Vec<Problem>,
    },
    /// The requested environment does not exist.
    #[error("{file}: unknown environment `{name}` (known: {})", known.join(", "))]
    UnknownEnvironment {
        /// The path as given.
        file: String,
        /// What was asked for.
        name: String,
        /// The environments the file defines.
        known: Vec<String>,
    },
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}:{p}", crate::text::one_line(p.file.name())));
    }
    out
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys and values come from the file: one problem is always one line.
        let message = crate::text::one_line(&self.message);
        if self.path.is_empty() {
            write!(f, "{}:{}: {}", self.line, self.column, message)
        } else {
            let path = crate::text::one_line(&self.path);
            write!(f, "{}:{}: {}: {}", self.line, self.column, path, message)
        }
    }
}
