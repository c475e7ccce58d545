//! The commands that do not run checks: `validate`, `list`, `init`, `schema`, `completions`
//! and `man`.

use std::io::Write;
use std::sync::Arc;

use super::config_error;
use crate::cli::{Cli, ListArgs, ValidateArgs};
use crate::config;
use crate::event::{Level, RunEvent, Sink};
use crate::exit_code::ExitCode;
use crate::redact::Redactor;
use crate::report;
use crate::shard;

pub(super) fn completions(shell: clap_complete::Shell, sink: &Sink) -> ExitCode {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Render into memory: clap_complete panics on a failed write (e.g. a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "infracheck", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            sink.error(&format!("cannot write the completion script: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

pub(super) fn man_page(sink: &Sink) -> ExitCode {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    let written = clap_mangen::Man::new(cmd).render(&mut page).and_then(|()| {
        let mut out = std::io::stdout().lock();
        out.write_all(&page).and_then(|()| out.flush())
    });
    match written {
        Ok(()) => ExitCode::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Ok,
        Err(e) => {
            sink.error(&format!("cannot write the man page: {e}"));
            ExitCode::Internal
        }
    }
}

/// `infracheck init`: the starter config and schema, then the CI snippet on stdout.
pub(super) fn init(a: &crate::cli::InitArgs, sink: &Sink) -> ExitCode {
    let schema = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t + "\n",
        Err(e) => {
            sink.error(&format!("cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    let written = match crate::init::write_starter(&a.config, &schema) {
        Ok(w) => w,
        // With `--ci` the snippet is what was asked for: an existing config (an earlier
        // `init`) is kept, nothing is written, and the snippet is still printed.
        Err(crate::init::InitError::Exists(path)) if a.ci.is_some() => {
            sink.emit(RunEvent::Line(&format!(
                "{path} already exists: left unchanged, nothing written"
            )));
            Vec::new()
        }
        Err(e @ crate::init::InitError::Exists(_)) => {
            sink.error(&e.to_string());
            return ExitCode::Usage;
        }
        Err(e) => {
            sink.error(&e.to_string());
            return ExitCode::ReportWrite;
        }
    };
    for p in &written {
        sink.emit(RunEvent::Line(&format!("wrote {}", p.display())));
    }
    let config = report::one_line(&a.config.display().to_string());
    let text = match a.ci {
        Some(ci) => format!(
            "# Save as {} (replace OWNER with the account that hosts infracheck):\n{}",
            ci.file(),
            ci.snippet()
        ),
        None => format!(
            "next: edit {config}, then `infracheck validate --config {config}` and `infracheck --env prod --config {config}`;\n\
             `infracheck init --ci github|gitlab|jenkins` prints a pipeline snippet\n"
        ),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            sink.error(&format!("cannot write to stdout: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

/// `infracheck schema`: the config's JSON Schema on stdout.
pub(super) fn schema(sink: &Sink) -> ExitCode {
    let mut text = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t,
        Err(e) => {
            sink.error(&format!("cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    text.push('\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            sink.error(&format!("cannot write the schema: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

pub(super) fn validate(a: &ValidateArgs, sink: &Sink) -> ExitCode {
    let path = a.config.display().to_string();
    let loaded = if a.require_env {
        config::load(&path, a.env.as_deref(), &config::ProcessEnvironment).map(|plans| {
            config::Linted {
                plans,
                notes: Vec::new(),
            }
        })
    } else {
        config::lint(&path, a.env.as_deref(), &config::ProcessEnvironment)
    };
    match loaded {
        Ok(config::Linted { plans, notes }) => {
            for n in &notes {
                sink.emit(RunEvent::Said(
                    Level::Note,
                    &format!("{}:{n}", n.file.name()),
                ));
            }
            let checks: usize = plans.iter().map(|p| p.checks.len()).sum();
            let unknown = match notes.len() {
                0 => String::new(),
                1 => ", 1 value left unknown".to_owned(),
                n => format!(", {n} values left unknown"),
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{path}: OK ({} environment{}, {checks} checks{unknown})",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" }
            );
            // The command ends here: the operating system takes the plans back at exit,
            // without freeing every check one by one first.
            std::mem::forget(plans);
            ExitCode::Ok
        }
        Err(e) => config_error(&e, sink),
    }
}

/// `list`: one line per check a run with the same options would run: name, kind, target and
/// tags (comma-separated, `-` for none), tab-separated; a check only a selected one's
/// `depends_on` brings in has a fifth column, `pulled in by NAME[, NAME…]`.
pub(super) fn list(a: &ListArgs, sink: &Sink) -> ExitCode {
    let selection = match a.select.selection() {
        Ok(s) => s,
        Err(e) => {
            sink.error(&e.to_string());
            return ExitCode::Usage;
        }
    };
    let path = a.config.display().to_string();
    let plans = match config::load(&path, Some(&a.env), &config::ProcessEnvironment) {
        Ok(p) => p,
        Err(e) => return config_error(&e, sink),
    };
    let mut text = String::new();
    for mut plan in plans {
        let redactor = Arc::new(Redactor::new(&plan.secrets));
        sink.set_redactor(Arc::clone(&redactor));
        let selected = match super::run::select(&mut plan, selection.as_ref(), sink) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let (checks, _) = shard::select(plan.checks, |c| c.name.as_str(), a.shard);
        let shown = |s: &str| redactor.line(s);
        for c in &checks {
            let tags = if c.tags.is_empty() {
                "-".to_owned()
            } else {
                shown(&c.tags.join(","))
            };
            text.push_str(&format!(
                "{}\t{}\t{}\t{tags}",
                shown(&c.name),
                c.kind(),
                redactor.line_of(&c.target)
            ));
            let by = selected
                .as_ref()
                .map_or(&[][..], |s| s.pulled_in_by(&c.name));
            if !by.is_empty() {
                text.push_str(&format!("\tpulled in by {}", shown(&by.join(", "))));
            }
            text.push('\n');
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    ExitCode::Ok
}
