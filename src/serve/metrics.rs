//! `/metrics`: the families of `--prometheus` ([`crate::report::prometheus`]) for the latest
//! result of every check, then `serve`'s own: per check the time of its last run, its runs and
//! its failures (counters since the check was defined), and per process whether the last
//! config reload succeeded and the build. Text exposition format 0.0.4.

use std::fmt::Write as _;

use super::state::State;
use crate::report::prometheus::{escape_label, render};

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition for `state`; `redact` masks the names of checks that have no result yet.
pub fn exposition(state: &State, redact: &dyn Fn(&str) -> String) -> String {
    let summary = state.summary();
    let mut out = render(&summary);
    let env = escape_label(&state.environment);
    let labels = |name: &str| {
        format!(
            "environment=\"{env}\",check=\"{}\"",
            escape_label(&redact(name))
        )
    };
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "infracheck_check_last_run_timestamp_seconds",
        "gauge",
        "When the check's latest result was recorded (Unix time).",
    );
    for t in &state.checks {
        if let Some(at) = t.last_run {
            let _ = writeln!(
                out,
                "infracheck_check_last_run_timestamp_seconds{{{}}} {at:.3}",
                labels(&t.name)
            );
        }
    }
    family(
        &mut out,
        "infracheck_check_runs_total",
        "counter",
        "Results recorded for the check since it was defined.",
    );
    for t in &state.checks {
        let _ = writeln!(
            out,
            "infracheck_check_runs_total{{{}}} {}",
            labels(&t.name),
            t.runs
        );
    }
    family(
        &mut out,
        "infracheck_check_failures_total",
        "counter",
        "Results that ended FAIL since the check was defined.",
    );
    for t in &state.checks {
        let _ = writeln!(
            out,
            "infracheck_check_failures_total{{{}}} {}",
            labels(&t.name),
            t.failures
        );
    }
    family(
        &mut out,
        "infracheck_config_last_reload_successful",
        "gauge",
        "1 when the last config reload succeeded (or none was asked for), 0 when it was refused.",
    );
    let _ = writeln!(
        out,
        "infracheck_config_last_reload_successful{{environment=\"{env}\"}} {}",
        u8::from(state.reload_ok)
    );
    family(
        &mut out,
        "infracheck_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the running config was loaded (Unix time).",
    );
    let _ = writeln!(
        out,
        "infracheck_config_last_reload_success_timestamp_seconds{{environment=\"{env}\"}} {:.3}",
        state.loaded_at
    );
    family(
        &mut out,
        "infracheck_build_info",
        "gauge",
        "Always 1; the version of the running build.",
    );
    let _ = writeln!(
        out,
        "infracheck_build_info{{version=\"{}\"}} 1",
        escape_label(env!("CARGO_PKG_VERSION"))
    );
    out
}
