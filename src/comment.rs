//! The pull-request comment (`infracheck comment`): the markdown summary of a run posted as one
//! comment on the pull request that triggered the workflow, found again on later runs by a
//! hidden marker (`<!-- infracheck:ENV -->`) and updated in place, never posted twice.
//!
//! GitHub's REST API (docs.github.com, "REST API endpoints for issue comments"):
//! `GET /repos/{owner}/{repo}/issues/{n}/comments` (paginated: `per_page=100`, the `Link`
//! header's `rel="next"`), `POST` to the same path, `PATCH
//! /repos/{owner}/{repo}/issues/comments/{id}`. A pull request is an issue for comments.
//!
//! The pure parts (the marker, the body and its cut, the event's pull-request number, the
//! `Link` header, finding the comment) are separate from [`post`], which speaks HTTP.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// GitHub refuses a comment body longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// At most this many pages of 100 comments are read while looking for the marker.
pub const MAX_PAGES: usize = 100;
/// The default `GITHUB_API_URL`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The default `GITHUB_SERVER_URL`.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";
/// One request may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// GitHub's error messages are quoted up to this many characters.
const MESSAGE_MAX: usize = 200;

/// Why a comment could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    /// The token may not comment (403): a pull request from a fork, or a token without
    /// `pull-requests: write`. Reported as a warning, not a failure.
    #[error(
        "GitHub refused the comment ({what}: 403 {message}); a pull request from a fork gets a read-only token, otherwise give the job `permissions: pull-requests: write`"
    )]
    Forbidden {
        /// The request that was refused.
        what: &'static str,
        /// GitHub's message.
        message: String,
    },
    /// Any other HTTP status.
    #[error("{what}: GitHub answered {status} {message}")]
    Status {
        /// The request.
        what: &'static str,
        /// The HTTP status code.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// No answer (connection, timeout, unreadable body).
    #[error("{what}: {message}")]
    Transport {
        /// The request.
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A `Link` header pointing away from the API (the token is never sent elsewhere).
    #[error("the next page of comments is not on {api}: refused")]
    ForeignLink {
        /// The API base URL.
        api: String,
    },
    /// More than [`MAX_PAGES`] pages of comments.
    #[error(
        "the pull request has more than {max} comments: the marker was not looked for further",
        max = MAX_PAGES * 100
    )]
    TooManyComments,
}

/// The hidden marker of an environment's comment. Characters outside `[A-Za-z0-9._-]` become
/// `_`, so a name can never close the HTML comment.
pub fn marker(env: &str) -> String {
    let safe: String = env
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("<!-- infracheck:{safe} -->")
}

/// The comment body: the marker on the first line, then the markdown. A body over
/// [`MAX_BODY_CHARS`] is cut at a line break, the `<details>` blocks left open are closed, and a
/// line says where the full summary is (`run_url`: the workflow run's page).
pub fn body(env: &str, markdown: &str, run_url: Option<&str>) -> String {
    let head = format!("{}\n", marker(env));
    let full = format!("{head}{markdown}");
    if full.chars().count() <= MAX_BODY_CHARS {
        return full;
    }
    let note = match run_url {
        Some(url) => format!(
            "\n\n**Cut at GitHub's 65,536-character limit: the full summary is on [the workflow run]({url}).**\n"
        ),
        None => "\n\n**Cut at GitHub's 65,536-character limit: the full summary is in the job summary of this run.**\n".to_owned(),
    };
    // Room for the closing tags a cut may need (the report does not nest `<details>`).
    let close = "</details>\n";
    let budget = MAX_BODY_CHARS
        .saturating_sub(head.chars().count())
        .saturating_sub(note.chars().count())
        .saturating_sub(MAX_CLOSED * close.len() + 1);
    let kept = cut_at_line(markdown, budget);
    let mut out = String::with_capacity(head.len() + kept.len() + note.len() + 128);
    out.push_str(&head);
    out.push_str(kept);
    if !kept.is_empty() && !kept.ends_with('\n') {
        out.push('\n');
    }
    for _ in 0..open_details(kept).min(MAX_CLOSED) {
        out.push_str(close);
    }
    out.push_str(&note);
    out
}

/// At most this many `<details>` blocks left open by a cut are closed.
const MAX_CLOSED: usize = 8;

/// The longest prefix of `s` of at most `max` characters that ends at a line break (or the
/// prefix of `max` characters when the first line alone is longer).
fn cut_at_line(s: &str, max: usize) -> &str {
    let end = s.char_indices().nth(max).map_or(s.len(), |(i, _)| i);
    let prefix = s.get(..end).unwrap_or(s);
    match prefix.rfind('\n') {
        Some(i) if end < s.len() => prefix.get(..=i).unwrap_or(prefix),
        _ => prefix,
    }
}

/// How many `<details>` blocks are open at the end of `s`.
fn open_details(s: &str) -> usize {
    let opened = s.matches("<details").count();
    let closed = s.matches("</details>").count();
    opened.saturating_sub(closed)
}

/// The number of the pull request a workflow event is about: `pull_request.number`
/// (`pull_request`, `pull_request_target`, review events) or `issue.number` when the issue is
/// a pull request (`issue_comment`). `None` for any other event.
pub fn pull_request_number(event: &serde_json::Value) -> Option<u64> {
    if let Some(n) = event
        .get("pull_request")
        .and_then(|p| p.get("number"))
        .and_then(serde_json::Value::as_u64)
    {
        return Some(n);
    }
    let issue = event.get("issue")?;
    issue.get("pull_request")?;
    issue.get("number").and_then(serde_json::Value::as_u64)
}

/// The `rel="next"` URL of a `Link` header (RFC 8288), if any.
pub fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p.strip_prefix("rel=").is_some_and(|v| {
                    v.trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
            })
            .then_some(target)
    })
}

/// One comment as the list returns it (only what is needed).
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    /// The comment's id.
    pub id: u64,
    /// Its markdown (absent when empty).
    #[serde(default)]
    pub body: Option<String>,
}

/// The comment of this environment: the first whose body starts with its marker.
pub fn find<'a>(comments: &'a [Comment], marker: &str) -> Option<&'a Comment> {
    comments.iter().find(|c| {
        c.body
            .as_deref()
            .is_some_and(|b| b.trim_start().starts_with(marker))
    })
}

/// Where and as whom to comment.
#[derive(Clone)]
pub struct Target {
    /// The API base (`GITHUB_API_URL`).
    pub api: Url,
    /// `owner/repo` (`GITHUB_REPOSITORY`).
    pub owner: String,
    /// The repository's name.
    pub repo: String,
    /// The pull request's number.
    pub number: u64,
    /// The token; never printed.
    pub token: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("api", &self.api.as_str())
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("number", &self.number)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why the environment of the comment is unusable (a usage error).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// `GITHUB_API_URL` is no URL, or not https (http only on loopback).
    #[error("GITHUB_API_URL `{0}` must be an https URL (http only on loopback)")]
    ApiUrl(String),
    /// `GITHUB_REPOSITORY` is not `owner/repo`.
    #[error("GITHUB_REPOSITORY `{0}` is not `owner/repo`")]
    Repository(String),
}

/// The API base URL, checked: https, or http on a loopback host (tests). A trailing slash is
/// added so paths join below it.
pub fn api_url(raw: &str) -> Result<Url, SetupError> {
    let bad = || SetupError::ApiUrl(raw.to_owned());
    let mut url = Url::parse(raw).map_err(|_| bad())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let ok = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => loopback,
        _ => false,
    };
    if !ok || !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(bad());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `owner/repo`, checked.
pub fn repository(raw: &str) -> Result<(String, String), SetupError> {
    let bad = || SetupError::Repository(raw.to_owned());
    let (owner, repo) = raw.split_once('/').ok_or_else(bad)?;
    let part_ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !part_ok(owner) || !part_ok(repo) {
        return Err(bad());
    }
    Ok((owner.to_owned(), repo.to_owned()))
}

/// What [`post`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// A new comment with this id.
    Created(u64),
    /// The existing comment with this id was replaced.
    Updated(u64),
}

/// Post `body` on the pull request of `target`, or replace the comment that starts with
/// `marker`.
pub async fn post(target: &Target, marker: &str, body: &str) -> Result<Posted, CommentError> {
    let client = client().map_err(|message| CommentError::Transport {
        what: "building the HTTP client",
        message,
    })?;
    let api = |segments: &[&str]| {
        let mut url = target.api.clone();
        if let Ok(mut s) = url.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        url
    };
    let number = target.number.to_string();
    let comments_url = api(&[
        "repos",
        &target.owner,
        &target.repo,
        "issues",
        &number,
        "comments",
    ]);
    let mut page = comments_url.clone();
    page.query_pairs_mut().append_pair("per_page", "100");
    let mut found = None;
    let mut pages = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(CommentError::TooManyComments);
        }
        let what = "listing the comments";
        let resp = send(client.get(page.clone()), target, what).await?;
        let next = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| next_link(v).map(str::to_owned));
        let comments: Vec<Comment> = json(resp, what).await?;
        if let Some(c) = find(&comments, marker) {
            found = Some(c.id);
            break;
        }
        let Some(next) = next else { break };
        // Absolute as GitHub sends it; a relative reference is resolved against the page.
        page = match page.join(&next) {
            Ok(u) if same_origin(&u, &target.api) => u,
            _ => {
                return Err(CommentError::ForeignLink {
                    api: target.api.to_string(),
                });
            }
        };
    }
    let payload = serde_json::json!({ "body": body }).to_string();
    let with_body = |req: reqwest::RequestBuilder| {
        req.header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.clone())
    };
    match found {
        Some(id) => {
            let url = api(&[
                "repos",
                &target.owner,
                &target.repo,
                "issues",
                "comments",
                &id.to_string(),
            ]);
            let what = "updating the comment";
            let resp = send(with_body(client.patch(url)), target, what).await?;
            let c: Comment = json(resp, what).await?;
            Ok(Posted::Updated(c.id))
        }
        None => {
            let what = "creating the comment";
            let resp = send(with_body(client.post(comments_url)), target, what).await?;
            let c: Comment = json(resp, what).await?;
            Ok(Posted::Created(c.id))
        }
    }
}

/// Same scheme, host and port, under the API's path.
fn same_origin(u: &Url, api: &Url) -> bool {
    u.scheme() == api.scheme()
        && u.host() == api.host()
        && u.port_or_known_default() == api.port_or_known_default()
        && u.path().starts_with(api.path())
}

fn client() -> Result<reqwest::Client, String> {
    crate::checks::common::tls::own_http_client(REQUEST_TIMEOUT, "HTTP client")
}

/// Send one request with the API's headers and the token; a status other than 2xx is an error
/// quoting GitHub's `message`.
async fn send(
    req: reqwest::RequestBuilder,
    target: &Target,
    what: &'static str,
) -> Result<reqwest::Response, CommentError> {
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", target.token))
        .map_err(|_| CommentError::Transport {
            what,
            message: "the token holds characters an HTTP header cannot carry".to_owned(),
        })?;
    auth.set_sensitive(true);
    let resp = req
        .header(reqwest::header::AUTHORIZATION, auth)
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|e| CommentError::Transport {
            what,
            message: transport_message(&e),
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    let message = github_message(&text, &target.token);
    if status == reqwest::StatusCode::FORBIDDEN {
        return Err(CommentError::Forbidden { what, message });
    }
    Err(CommentError::Status {
        what,
        status: status.as_u16(),
        message,
    })
}

/// A transport error as one line, without the URL's query.
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut chain = String::new();
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        if depth == 4 {
            break;
        }
        chain = s.to_string();
        source = s.source();
        depth += 1;
    }
    if chain.is_empty() {
        kind.to_owned()
    } else {
        crate::text::one_line(&format!("{kind}: {chain}"))
    }
}

/// GitHub's `message` from an error body (or the body's start), on one line, without the
/// token, at most [`MESSAGE_MAX`] characters.
fn github_message(body: &str, token: &str) -> String {
    let raw = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let mut one = crate::text::one_line(&raw);
    if !token.is_empty() {
        one = one.replace(token, "***");
    }
    let mut cut: String = one.chars().take(MESSAGE_MAX).collect();
    if cut.len() < one.len() {
        cut.push('…');
    }
    if cut.is_empty() {
        "(no message)".to_owned()
    } else {
        format!("({cut})")
    }
}

async fn json<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    what: &'static str,
) -> Result<T, CommentError> {
    let bytes = resp.bytes().await.map_err(|e| CommentError::Transport {
        what,
        message: transport_message(&e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| CommentError::Transport {
        what,
        message: format!("GitHub's answer is not the expected JSON: {e}"),
    })
}

#[cfg(test)]
mod tests;
