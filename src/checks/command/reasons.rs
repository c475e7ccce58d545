//! The reason codes only `command` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `command` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    CommandSpawn = 400 => "command.spawn", Error, "The command could not be started",
        "The program was not found, is not executable, or `cwd` does not exist.";
    CommandExit = 410 => "command.exit", Failure, "The command exited with an unexpected code",
        "The exit code was not one of `expect_exit` (default 0), or the command was killed by a signal.";
    CommandOutput = 420 => "command.output", Failure, "The command's output did not match",
        "stdout or stderr did not contain `stdout_contains`/`stderr_contains`, contained `stdout_not_contains`, or did not match `stdout_regex`/`stderr_regex`.";
    CommandLatency = 430 => "command.latency", Failure, "The command ran slowly",
        "The command took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    CommandExpect = 440 => "command.expect", Failure, "A condition on the command's output did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
