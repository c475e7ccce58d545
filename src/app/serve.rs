//! `infracheck serve`: the edge of [`crate::serve`]. Loads the config (refused as `run`
//! refuses it: exit 2), reads the token and the TLS files, prints the bound address on stderr
//! (`infracheck: listening on http://ADDR`, one line a script can read), and runs until
//! SIGTERM or SIGINT (the watcher of [`super::signals`]; a second signal exits at once). A
//! stop lets the checks in flight finish for up to `--shutdown-timeout`, then exits 0.

use std::sync::Arc;

use super::config_error;
use super::signals::Signals;
use crate::cli::{GlobalArgs, ServeArgs};
use crate::config::{self, Plan};
use crate::event::{RunEvent, Sink};
use crate::exit_code::ExitCode;
use crate::redact::Redactor;
use crate::report;
use crate::serve::{self, Options, Shared, state::State};
use crate::shard;

pub(super) fn serve(a: &ServeArgs, g: &GlobalArgs, sink: &Sink) -> ExitCode {
    match serve_steps(a, g, sink) {
        Ok(()) => ExitCode::Ok,
        Err(code) => code,
    }
}

/// Load, read the token and TLS files, then serve until stopped; every refusal is one line on
/// stderr and its exit code.
fn serve_steps(a: &ServeArgs, g: &GlobalArgs, sink: &Sink) -> Result<(), ExitCode> {
    let path = a.config.display().to_string();
    let mut plan = match load(&path, &a.env, a.shard) {
        Ok(p) => p,
        Err(Loaded::Config(e)) => return Err(config_error(&e, sink)),
        Err(Loaded::Other(msg)) => return Err(usage(sink, &format!("{path}: {msg}"))),
    };
    let token = auth_token(a, sink)?;
    let mut secrets = plan.secrets.clone();
    secrets.extend(token.clone());
    sink.set_redactor(Arc::new(Redactor::new(&secrets)));
    let tls = tls_files(a, sink)?;
    if !g.quiet {
        for name in &plan.short_secrets {
            sink.warning(&format!(
                "the secret in `{name}` is shorter than {} characters: it is not masked in the output",
                crate::redact::MIN_SECRET_CHARS
            ));
        }
    }
    let runtime = super::run::runtime(g.threads).map_err(|e| {
        sink.error(&format!("cannot start the async runtime: {e}"));
        ExitCode::Internal
    })?;
    let keep = a
        .history_keep
        .map_or(serve::state::DEFAULT_KEEP, |k| k as usize);
    let state = State::new(&plan.environment, &path, &plan.checks, keep);
    let loader = reloader(path, a, token.clone());
    let shared = Arc::new(
        Shared::new(state, Redactor::new(&secrets), token, loader).logging_to(sink.clone()),
    );
    plan.secrets = secrets;
    let opts = Options {
        listen: a.listen,
        tls: tls.clone(),
        keep,
        shutdown_timeout: a.shutdown_timeout,
        external_url: a.external_url.clone(),
    };
    let signals = Signals::start(sink);
    let stop = async move {
        let why = signals.first().await;
        tracing::info!(?why, "stopping: the checks in flight may finish");
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let (environment, total) = (plan.environment.clone(), plan.checks.len());
    let said = sink.clone();
    let outcome = runtime.block_on(serve::serve(plan, shared, opts, stop, move |addr| {
        // Printed even under --quiet: a script reads the bound port from it.
        said.emit(RunEvent::Status(&format!(
            "listening on {scheme}://{addr} (environment {environment}, {total} checks)"
        )));
    }));
    runtime.shutdown_background();
    outcome.map_err(|e| usage(sink, &e))
}

/// One error line; exit 2.
fn usage(sink: &Sink, line: &str) -> ExitCode {
    sink.error(line);
    ExitCode::Usage
}

/// The bearer token of `--auth-token-env VAR`: set and not blank, or exit 2.
fn auth_token(a: &ServeArgs, sink: &Sink) -> Result<Option<String>, ExitCode> {
    let Some(var) = &a.auth_token_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v)),
        _ => Err(usage(
            sink,
            &format!("--auth-token-env {var}: the variable is not set or empty"),
        )),
    }
}

/// The TLS acceptor of `--tls-cert`/`--tls-key`, when both are given; an unusable pair exits 2.
fn tls_files(a: &ServeArgs, sink: &Sink) -> Result<Option<tokio_rustls::TlsAcceptor>, ExitCode> {
    let (Some(c), Some(k)) = (&a.tls_cert, &a.tls_key) else {
        return Ok(None);
    };
    serve::http::tls_acceptor(&c.display().to_string(), &k.display().to_string())
        .map(Some)
        .map_err(|e| usage(sink, &e))
}

/// What SIGHUP and `POST /-/reload` call: the config read again (the token stays a secret); a
/// refused config is one line per problem, joined.
fn reloader(path: String, a: &ServeArgs, token: Option<String>) -> serve::Loader {
    let (env, shard_arg) = (a.env.clone(), a.shard);
    Box::new(move || {
        load(&path, &env, shard_arg)
            .map(|mut p| {
                p.secrets.extend(token.clone());
                p
            })
            .map_err(|e| match e {
                Loaded::Config(e) => e
                    .to_string()
                    .lines()
                    .map(report::one_line)
                    .collect::<Vec<_>>()
                    .join("; "),
                Loaded::Other(m) => m,
            })
    })
}

enum Loaded {
    Config(config::ConfigError),
    Other(String),
}

/// The environment's plan (its shard under `--shard`).
fn load(path: &str, env: &str, shard_arg: Option<shard::Shard>) -> Result<Plan, Loaded> {
    let mut plans =
        config::load(path, Some(env), &config::ProcessEnvironment).map_err(Loaded::Config)?;
    let mut plan = plans
        .pop()
        .ok_or_else(|| Loaded::Other(config::no_checks(env)))?;
    let (checks, shard) = shard::select(
        std::mem::take(&mut plan.checks),
        |c| c.name.as_str(),
        shard_arg,
    );
    if let Some(s) = &shard {
        plan.dependencies = plan.dependencies.within(&s.positions);
    }
    plan.checks = checks;
    Ok(plan)
}
