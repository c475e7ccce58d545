//! `infracheck comment`: post the markdown report of a run on the pull request (see
//! [`crate::comment`]). A 403 (a fork's read-only token, a job without `pull-requests: write`)
//! and an event that is no pull request are notes, exit 0; bad input exits 2, any other API
//! failure 3. The token comes from `GITHUB_TOKEN` and is never printed.

use super::process_env;
use crate::cli::CommentArgs;
use crate::comment::{self, CommentError, Posted, Target};
use crate::event::{Level, RunEvent, Sink};
use crate::exit_code::ExitCode;

/// GitHub limits a markdown file read for the comment to far less than this.
const MARKDOWN_MAX_BYTES: u64 = 16 * 1024 * 1024;

pub(super) fn comment(a: &CommentArgs, sink: &Sink) -> ExitCode {
    match prepare(a, &process_env) {
        Ok(Some((target, body))) => post(&target, &comment::marker(&a.env), &body, sink),
        Ok(None) => {
            workflow_command(
                sink,
                Level::Notice,
                "this workflow event is not about a pull request: no comment posted",
            );
            ExitCode::Ok
        }
        Err(e) => {
            sink.error(&e);
            ExitCode::Usage
        }
    }
}

fn workflow_command(sink: &Sink, level: Level, message: &str) {
    sink.emit(RunEvent::Annotation {
        level,
        title: "infracheck comment",
        message,
    });
}

/// The target and body, `None` when the event is no pull request, or a usage error.
fn prepare(
    a: &CommentArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Target, String)>, String> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    let token = var("GITHUB_TOKEN")
        .ok_or("GITHUB_TOKEN is not set: the comment needs a token that may write pull requests")?;
    let event_path = var("GITHUB_EVENT_PATH")
        .ok_or("GITHUB_EVENT_PATH is not set: run `comment` in a GitHub Actions job")?;
    let event: serde_json::Value = std::fs::read(&event_path)
        .map_err(|e| format!("cannot read GITHUB_EVENT_PATH {event_path}: {e}"))
        .and_then(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| format!("GITHUB_EVENT_PATH {event_path} is not JSON: {e}"))
        })?;
    let Some(number) = comment::pull_request_number(&event) else {
        return Ok(None);
    };
    let (owner, repo) = comment::repository(
        &var("GITHUB_REPOSITORY").ok_or("GITHUB_REPOSITORY is not set (`owner/repo`)")?,
    )
    .map_err(|e| e.to_string())?;
    let api = comment::api_url(
        &var("GITHUB_API_URL").unwrap_or_else(|| comment::DEFAULT_API_URL.to_owned()),
    )
    .map_err(|e| e.to_string())?;
    let path = &a.markdown;
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read --markdown {}: {e}", path.display()))?
        .len();
    if len > MARKDOWN_MAX_BYTES {
        return Err(format!(
            "--markdown {} is larger than 16 MiB: not a summary of infracheck's",
            path.display()
        ));
    }
    let markdown = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --markdown {}: {e}", path.display()))?;
    let run_url = run_url(&var);
    let body = comment::body(&a.env, &markdown, run_url.as_deref());
    Ok(Some((
        Target {
            api,
            owner,
            repo,
            number,
            token,
        },
        body,
    )))
}

/// The workflow run's page, where the full summary is: `GITHUB_SERVER_URL` (default
/// github.com) / `GITHUB_REPOSITORY` / `actions/runs/GITHUB_RUN_ID`.
fn run_url(var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| comment::DEFAULT_SERVER_URL.to_owned());
    let repo = var("GITHUB_REPOSITORY")?;
    let id = var("GITHUB_RUN_ID")?;
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut url = url::Url::parse(&server).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(repo.split('/'))
        .extend(["actions", "runs", id.as_str()]);
    Some(url.to_string())
}

fn post(target: &Target, marker: &str, body: &str, sink: &Sink) -> ExitCode {
    sink.set_redactor(std::sync::Arc::new(crate::redact::Redactor::new(
        std::slice::from_ref(&target.token),
    )));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            sink.error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::Internal;
        }
    };
    match rt.block_on(comment::post(target, marker, body)) {
        Ok(Posted::Created(id)) => {
            sink.emit(RunEvent::Status(&format!(
                "created comment {id} on pull request #{}",
                target.number
            )));
            ExitCode::Ok
        }
        Ok(Posted::Updated(id)) => {
            sink.emit(RunEvent::Status(&format!(
                "updated comment {id} on pull request #{}",
                target.number
            )));
            ExitCode::Ok
        }
        Err(e @ CommentError::Forbidden { .. }) => {
            workflow_command(sink, Level::Warning, &redacted(&e, &target.token));
            ExitCode::Ok
        }
        Err(e) => {
            workflow_command(sink, Level::Error, &redacted(&e, &target.token));
            ExitCode::ReportWrite
        }
    }
}

/// The error's text without the token (it never holds it; this makes sure).
fn redacted(e: &CommentError, token: &str) -> String {
    let text = crate::report::one_line(&e.to_string());
    if token.is_empty() {
        text
    } else {
        text.replace(token, "***")
    }
}
