//! `command_checks`: run a program (no shell unless `shell: true`), then assert on its exit
//! code and output. The check finishes when the program does: output still in the pipes is read
//! for a short grace period ([`EXIT_GRACE`]), so a background child that keeps them open cannot
//! hold the verdict back. Whatever the program started ends with the check, however the check
//! ends (verdict, timeout, deadline, signal): on Unix the program runs in its own process group,
//! which is killed; on Windows it is assigned to a Job Object that kills its whole tree when
//! closed. Captured output is capped and escaped.

mod reasons;

use crate::reader::key_table::{Field, FieldType as T, opt, req};
use std::time::{Duration, Instant};

use super::common::capped::{self, Capped};
use super::common::{
    TextProblem, escape, escape_controls, latency_problem, millis, text_problem, verdict,
};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason, Status, Text};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{MapReader, Node, Value};
use crate::text;

/// Default cap on each captured stream.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;
/// Characters of each stream shown in metadata.
const EXCERPT_CHARS: usize = 500;
/// How long output is still read once the program has exited. What it wrote is already in the
/// pipes and takes microseconds to read; a background child that inherited them may hold them
/// open for ever, so the check stops reading after this and ends with the program.
const EXIT_GRACE: Duration = Duration::from_millis(250);

/// Environment variable names whose values are treated as secrets.
const SENSITIVE_ENV_HINTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
];

/// A validated command check.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Program and arguments (`["sh", "-c", text]` with `shell: true`).
    pub argv: Vec<String>,
    /// Accepted exit codes.
    pub expect_exit: Vec<i32>,
    /// Texts stdout must contain.
    pub stdout_contains: Vec<String>,
    /// Texts stdout must not contain.
    pub stdout_not_contains: Vec<String>,
    /// A regex stdout must match.
    pub stdout_regex: Option<regex::Regex>,
    /// Texts stderr must contain.
    pub stderr_contains: Vec<String>,
    /// A regex stderr must match.
    pub stderr_regex: Option<regex::Regex>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Cap on each captured stream.
    pub max_output: usize,
}

/// The command kind (see `src/checks/registry.rs`).
impl Kind for CommandSpec {
    const NAME: &'static str = "command";

    const FIELDS: &'static [Field] = &[
        req(
            "command",
            T::StringList,
            "Program and arguments (a list), or one string split like a shell would; with `shell: true` one string run by `sh -c`.",
        ),
        opt("shell", T::Bool, "Run `command` with `sh -c`."),
        opt(
            "expect_exit",
            T::ScalarList,
            "Accepted exit code(s) (default 0).",
        ),
        opt(
            "stdout_contains",
            T::StringList,
            "Text(s) stdout must contain.",
        ),
        opt(
            "stdout_not_contains",
            T::StringList,
            "Text(s) stdout must not contain.",
        ),
        opt("stdout_regex", T::String, "A regex stdout must match."),
        opt(
            "stderr_contains",
            T::StringList,
            "Text(s) stderr must contain.",
        ),
        opt("stderr_regex", T::String, "A regex stderr must match."),
        opt(
            "env",
            T::StringMap,
            "Environment variables for the program.",
        ),
        opt(
            "cwd",
            T::String,
            "Working directory, relative to the config file's directory (default: infracheck's own).",
        ),
        opt("max_output_bytes", T::Integer, "Cap on the output read."),
    ];

    /// The program's run, from spawn to exit.
    const PHASES: &'static [PhaseName] = &[PhaseName::Run];
    const VALUES: &'static [&'static str] = &["stdout", "stdout.<JSONPath>", "stderr", "exit_code"];
    const LATENCY_REASON: Reason = Reason::CommandLatency;
    const EXPECT_REASON: Reason = Reason::CommandExpect;
    const REASONS: &'static [&'static [Reason]] = &[reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let shell = match r.take("shell") {
            Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
            None => false,
        };
        let argv = match r.take("command") {
            Some((n, p)) => parse_command(n, &p, ctx, shell),
            None => {
                ctx.problem(r.node, &r.path, "missing required key `command`");
                None
            }
        };
        let expect_exit = match r.take("expect_exit") {
            Some((n, p)) => parse_exit_codes(n, &p, ctx),
            None => Some(vec![0]),
        };
        let stdout_contains = opt_list(r, ctx, "stdout_contains");
        let stdout_not_contains = opt_list(r, ctx, "stdout_not_contains");
        let stdout_regex = crate::checks::common::trust::regex(r, ctx, "stdout_regex").flatten();
        let stderr_contains = opt_list(r, ctx, "stderr_contains");
        let stderr_regex = crate::checks::common::trust::regex(r, ctx, "stderr_regex").flatten();
        let mut env = Vec::new();
        if let Some((n, p)) = r.take("env")
            && let Some(map) = ctx.string_map(n, &p)
        {
            for (name, value, _) in map {
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    ctx.problem(n, &p, format!("invalid environment variable name `{name}`"));
                    continue;
                }
                let lower = name.to_ascii_lowercase();
                if SENSITIVE_ENV_HINTS.iter().any(|h| lower.contains(h)) {
                    ctx.secrets.push(value.clone());
                }
                env.push((name, value));
            }
        }
        let cwd = match r.take("cwd") {
            Some((n, p)) => ctx.config_path(n, &p),
            None => None,
        };
        let max_output = match r.take("max_output_bytes") {
            Some((n, p)) => ctx
                .uint(n, &p, 64 * 1024 * 1024)
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(DEFAULT_MAX_OUTPUT),
            None => DEFAULT_MAX_OUTPUT,
        };
        let argv = argv?;
        let target = if shell {
            argv.last().cloned().unwrap_or_default()
        } else {
            argv.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Some((
            CommandSpec {
                argv,
                expect_exit: expect_exit?,
                stdout_contains,
                stdout_not_contains,
                stdout_regex,
                stderr_contains,
                stderr_regex,
                env,
                cwd,
                max_output,
            },
            escape_controls(&target),
        ))
    }

    fn target(&self, printable: String) -> Text {
        Text::cut(printable, 300, false)
    }

    /// Runs locally: not host-limited.
    fn host_key(&self) -> Option<String> {
        None
    }

    async fn run(&self, check: &CheckDef, _: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, phase, !check.expect.is_empty()).await
    }
}

fn parse_command(node: &Node, path: &str, ctx: &mut Ctx<'_>, shell: bool) -> Option<Vec<String>> {
    if shell {
        let text = match &node.value {
            Value::Seq(_) => {
                ctx.problem(
                    node,
                    path,
                    "with `shell: true`, `command` is one string run by `sh -c`",
                );
                return None;
            }
            _ => ctx.non_empty(node, path)?,
        };
        return Some(vec!["sh".to_owned(), "-c".to_owned(), text]);
    }
    match &node.value {
        Value::Seq(_) => {
            let list = ctx.string_list(node, path)?;
            match list.first() {
                None => {
                    ctx.problem(node, path, "must name a program");
                    None
                }
                Some(p) if p.is_empty() => {
                    ctx.problem(node, path, "the program name must not be empty");
                    None
                }
                Some(_) => Some(list),
            }
        }
        _ => {
            let text = ctx.non_empty(node, path)?;
            if text.chars().any(char::is_whitespace) {
                ctx.problem(
                    node,
                    path,
                    "a command with arguments is a list ([program, arg, …]); to run it through a shell set `shell: true`",
                );
                return None;
            }
            Some(vec![text])
        }
    }
}

fn parse_exit_codes(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Vec<i32>> {
    let items: Vec<(&Node, String)> = match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| (n, format!("{path}[{i}]")))
            .collect(),
        _ => vec![(node, path.to_owned())],
    };
    if items.is_empty() {
        ctx.problem(node, path, "must list at least one exit code");
        return None;
    }
    let mut out = Vec::new();
    for (n, p) in items {
        let v = ctx.uint(n, &p, 255)?;
        out.push(i32::try_from(v).ok()?);
    }
    Some(out)
}

fn opt_list(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Vec<String> {
    match r.take(key) {
        Some((n, p)) => ctx.string_list(n, &p).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

mod tree;

/// Run one attempt. `conditions`: the check has `expect:` conditions, so its output and exit
/// code are kept as its facts.
pub async fn run(
    spec: &CommandSpec,
    thresholds: Thresholds,
    phase: &Phase,
    conditions: bool,
) -> Outcome {
    let Some((program, args)) = spec.argv.split_first() else {
        return Outcome::fail(Reason::Internal, "empty command");
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    tree::prepare(&mut cmd);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    phase.set("starting the command");
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let what = match e.kind() {
                std::io::ErrorKind::NotFound => match &spec.cwd {
                    Some(dir) if !std::path::Path::new(dir).is_dir() => {
                        text!("working directory `", escape(dir, 200), "` does not exist")
                    }
                    _ => text!("program `", escape(program, 200), "` not found"),
                },
                std::io::ErrorKind::PermissionDenied => {
                    text!("permission denied running `", escape(program, 200), "`")
                }
                _ => text!("cannot start `", escape(program, 200), "`: {e}"),
            };
            return Outcome::fail(Reason::CommandSpawn, what);
        }
    };
    let killer = tree::TreeKiller::attach(&child);
    phase.set("waiting for the command to exit");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut out = Capped::new(spec.max_output);
    let mut err = Capped::new(spec.max_output);
    let mut held_open = false;
    let (status, elapsed) = {
        let reads = async {
            tokio::join!(
                capped::drain(stdout, &mut out),
                capped::drain(stderr, &mut err)
            )
        };
        tokio::pin!(reads);
        let wait = child.wait();
        tokio::pin!(wait);
        let mut read_all = false;
        let status = tokio::select! {
            s = &mut wait => s,
            _ = &mut reads => {
                read_all = true;
                wait.as_mut().await
            }
        };
        let elapsed = start.elapsed();
        phase.record(crate::model::PhaseName::Run, elapsed);
        if !read_all {
            // The program has exited but its pipes are still open: the rest of its output is
            // read now, unless something it left running holds them open.
            phase.set("reading the command's output after it exited");
            held_open = tokio::time::timeout(EXIT_GRACE, &mut reads).await.is_err();
        }
        (status, elapsed)
    };
    // The program has exited; anything it left running goes too.
    drop(killer);
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            return Outcome::fail(
                Reason::CommandSpawn,
                format!("waiting for the command failed: {e}"),
            );
        }
    };
    let (out, out_total) = (out.kept, out.total);
    let (err, err_total) = (err.kept, err.total);

    let mut meta = std::collections::BTreeMap::new();
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    meta.insert("stdout_bytes".to_owned(), serde_json::json!(out_total));
    meta.insert("stderr_bytes".to_owned(), serde_json::json!(err_total));
    if out_total > out.len() || err_total > err.len() {
        meta.insert("output_truncated".to_owned(), serde_json::json!(true));
    }
    if held_open {
        // A background child kept the pipes open: its later output was not read.
        meta.insert("output_held_open".to_owned(), serde_json::json!(true));
    }
    // Cut by the redactor, after the secrets in the whole captured output are masked.
    let mut excerpts = Vec::new();
    for (key, bytes, total) in [
        ("stdout_excerpt", &out, out_total),
        ("stderr_excerpt", &err, err_total),
    ] {
        let capped = total > bytes.len();
        let text = escape_controls(&String::from_utf8_lossy(if capped {
            whole_chars(bytes)
        } else {
            bytes
        }));
        excerpts.push((key, Text::cut(text, EXCERPT_CHARS, capped)));
    }
    let code = status.code();
    if let Some(c) = code {
        meta.insert("exit_code".to_owned(), serde_json::json!(c));
    }
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    if let Some(s) = signal {
        meta.insert("signal".to_owned(), serde_json::json!(s));
    }

    let mut facts = crate::model::Facts::new();
    if conditions {
        facts.value("stdout", String::from_utf8_lossy(&out).into_owned());
        facts.value("stderr", String::from_utf8_lossy(&err).into_owned());
        if let Some(c) = code {
            facts.value("exit_code", c);
        }
        facts.duration("latency", elapsed);
    }
    let ran = Ran {
        code,
        signal,
        stdout: &out,
        stderr: &err,
        stdout_capped: out_total > out.len(),
        stderr_capped: err_total > err.len(),
        elapsed,
    };
    excerpts
        .into_iter()
        .fold(judge(spec, thresholds, &ran), |o, (key, excerpt)| {
            o.with_meta_text(key, excerpt)
        })
        .with_metadata(meta)
        .with_facts(facts)
}

/// What one run of the program showed.
#[derive(Debug)]
struct Ran<'a> {
    /// The exit code, unless a signal ended the program.
    code: Option<i32>,
    /// The signal that ended the program (Unix).
    signal: Option<i32>,
    /// The captured stdout (at most the cap).
    stdout: &'a [u8],
    /// The captured stderr (at most the cap).
    stderr: &'a [u8],
    /// The capture cut stdout short: its end may be the beginning of a secret.
    stdout_capped: bool,
    /// The capture cut stderr short.
    stderr_capped: bool,
    /// From spawning to exit.
    elapsed: Duration,
}

/// The verdict: the exit code against `expect_exit`, the output assertions and the latency.
fn judge(spec: &CommandSpec, thresholds: Thresholds, ran: &Ran<'_>) -> Outcome {
    let (code, signal, out, err, elapsed) =
        (ran.code, ran.signal, ran.stdout, ran.stderr, ran.elapsed);
    let mut problems: Vec<TextProblem> = Vec::new();
    let want = spec
        .expect_exit
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    match code {
        Some(c) if spec.expect_exit.contains(&c) => {}
        Some(c) => {
            let mut m = Text::from(format!("exit code {c}, expected {want}"));
            let tail =
                last_line(err, ran.stderr_capped).or_else(|| last_line(out, ran.stdout_capped));
            if let Some(t) = tail {
                m.push(text!(" (last output: ", t, ")"));
            }
            problems.push((Status::Fail, Reason::CommandExit, m));
        }
        None => problems.push((
            Status::Fail,
            Reason::CommandExit,
            format!(
                "killed by signal {}, expected exit code {want}",
                signal.map_or_else(|| "?".to_owned(), |s| s.to_string())
            )
            .into(),
        )),
    }
    let out_text = String::from_utf8_lossy(out);
    let err_text = String::from_utf8_lossy(err);
    for want in &spec.stdout_contains {
        if !out_text.contains(want.as_str()) {
            problems.push((
                Status::Fail,
                Reason::CommandOutput,
                text!("stdout does not contain `", escape(want, 200), "`"),
            ));
        }
    }
    for bad in &spec.stdout_not_contains {
        if out_text.contains(bad.as_str()) {
            problems.push((
                Status::Fail,
                Reason::CommandOutput,
                text!("stdout contains forbidden `", escape(bad, 200), "`"),
            ));
        }
    }
    if let Some(re) = &spec.stdout_regex
        && !re.is_match(&out_text)
    {
        problems.push((
            Status::Fail,
            Reason::CommandOutput,
            text!(
                "stdout does not match regex `",
                escape(re.as_str(), 200),
                "`"
            ),
        ));
    }
    for want in &spec.stderr_contains {
        if !err_text.contains(want.as_str()) {
            problems.push((
                Status::Fail,
                Reason::CommandOutput,
                text!("stderr does not contain `", escape(want, 200), "`"),
            ));
        }
    }
    if let Some(re) = &spec.stderr_regex
        && !re.is_match(&err_text)
    {
        problems.push((
            Status::Fail,
            Reason::CommandOutput,
            text!(
                "stderr does not match regex `",
                escape(re.as_str(), 200),
                "`"
            ),
        ));
    }
    if let Some(p) = latency_problem(elapsed, thresholds, Reason::CommandLatency) {
        problems.push(text_problem(p));
    }
    let ok = format!(
        "exit code {} in {} ms",
        code.unwrap_or_default(),
        elapsed.as_millis()
    );
    verdict(problems, ok)
}

/// The last non-empty line of some output, escaped, to be cut short by the redactor after it
/// has masked the secrets. `capped`: the capture cut the output short, so the line may end
/// with the beginning of a secret, which is masked too (and a character the cap split in two
/// is dropped rather than shown as `\u{fffd}`, which would hide that beginning).
fn last_line(bytes: &[u8], capped: bool) -> Option<Text> {
    let bytes = if capped { whole_chars(bytes) } else { bytes };
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| Text::cut(escape_controls(l.trim()), 200, capped))
}

/// `bytes` without a UTF-8 sequence the end cuts in two.
fn whole_chars(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => bytes.get(..e.valid_up_to()).unwrap_or(bytes),
        _ => bytes,
    }
}

#[cfg(test)]
mod tests;
