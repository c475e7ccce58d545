//! The commands that do not run checks: `validate`, `list`, `init`, `schema`, `completions`
//! and `man`.

use std::io::Write;

use super::{config_error, eprint_line};
use crate::cli::{Cli, ListArgs, ValidateArgs};
use crate::config;
use crate::exit_code::ExitCode;
use crate::redact::Redactor;
use crate::report;
use crate::shard;

pub(super) fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Render into memory: clap_complete panics on a failed write (e.g. a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "infracheck", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprint_line(&format!("error: cannot write the completion script: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

pub(super) fn man_page() -> ExitCode {
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
            eprint_line(&format!("error: cannot write the man page: {e}"));
            ExitCode::Internal
        }
    }
}

/// `infracheck init`: the starter config and schema, then the CI snippet on stdout.
pub(super) fn init(a: &crate::cli::InitArgs) -> ExitCode {
    let schema = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t + "\n",
        Err(e) => {
            eprint_line(&format!("error: cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    let written = match crate::init::write_starter(&a.config, &schema) {
        Ok(w) => w,
        // With `--ci` the snippet is what was asked for: an existing config (an earlier
        // `init`) is kept, nothing is written, and the snippet is still printed.
        Err(crate::init::InitError::Exists(path)) if a.ci.is_some() => {
            eprint_line(&format!(
                "{} already exists: left unchanged, nothing written",
                report::one_line(&path)
            ));
            Vec::new()
        }
        Err(e @ crate::init::InitError::Exists(_)) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            return ExitCode::Usage;
        }
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            return ExitCode::ReportWrite;
        }
    };
    for p in &written {
        eprint_line(&format!(
            "wrote {}",
            report::one_line(&p.display().to_string())
        ));
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
            eprint_line(&format!("error: cannot write to stdout: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

/// `infracheck schema`: the config's JSON Schema on stdout.
pub(super) fn schema() -> ExitCode {
    let mut text = match serde_json::to_string_pretty(&config::schema::json_schema()) {
        Ok(t) => t,
        Err(e) => {
            eprint_line(&format!("error: cannot serialise the schema: {e}"));
            return ExitCode::Internal;
        }
    };
    text.push('\n');
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprint_line(&format!("error: cannot write the schema: {e}"));
            ExitCode::Internal
        }
        _ => ExitCode::Ok,
    }
}

pub(super) fn validate(a: &ValidateArgs) -> ExitCode {
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
                eprint_line(&format!(
                    "note: {}:{}",
                    report::one_line(n.file.name()),
                    report::one_line(&n.to_string())
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
            ExitCode::Ok
        }
        Err(e) => config_error(&e),
    }
}

/// `list`: one line per check a run with the same options would run: name, kind, target and
/// tags (comma-separated, `-` for none), tab-separated; a check only a selected one's
/// `depends_on` brings in has a fifth column, `pulled in by NAME[, NAME…]`.
pub(super) fn list(a: &ListArgs) -> ExitCode {
    let selection = match a.select.selection() {
        Ok(s) => s,
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&e.to_string())));
            return ExitCode::Usage;
        }
    };
    let path = a.config.display().to_string();
    let plans = match config::load(&path, Some(&a.env), &config::ProcessEnvironment) {
        Ok(p) => p,
        Err(e) => return config_error(&e),
    };
    let mut text = String::new();
    for mut plan in plans {
        let redactor = Redactor::new(&plan.secrets);
        let selected = match super::run::select(&mut plan, selection.as_ref(), &redactor) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let (checks, _) = shard::select(plan.checks, |c| c.name.as_str(), a.shard);
        let shown = |s: &str| report::one_line(&redactor.text(s));
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
                shown(&c.target)
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
