//! Every exit code infracheck uses, in one place (documented in the README's usage section).

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every check passed (WARN counts as passing without `--fail-on-warn`).
    Ok = 0,
    /// At least one check failed (or warned, with `--fail-on-warn`).
    ChecksFailed = 1,
    /// Bad usage, unreadable or invalid config, unknown environment.
    Usage = 2,
    /// A requested report could not be written (the other reports still were).
    ReportWrite = 3,
    /// infracheck itself failed (could not start its runtime or HTTP client).
    Internal = 4,
    /// Interrupted by SIGINT (128 + 2).
    Interrupted = 130,
    /// Terminated by SIGTERM (128 + 15).
    Terminated = 143,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c as u8)
    }
}
