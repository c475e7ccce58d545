//! A tiny in-process stand-in for GitHub's REST API, the part `infracheck comment` uses: the
//! comments of one pull request (`GET`/`POST /repos/{owner}/{repo}/issues/{n}/comments`,
//! paginated with `per_page`/`page` and a `Link` header) and `PATCH
//! /repos/{owner}/{repo}/issues/comments/{id}`. It checks the token and records every request.
//! Plain HTTP/1.1 on a loopback port, one connection at a time, `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The repository and pull request the fake serves.
pub const OWNER: &str = "acme";
pub const REPO: &str = "shop";
pub const PR: u64 = 7;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// What the fake holds and how it answers.
#[derive(Debug, Default)]
pub struct State {
    /// The pull request's comments: (id, body), oldest first.
    pub comments: Vec<(u64, String)>,
    /// At most this many comments per page, whatever `per_page` asks (GitHub: 100).
    pub page_size: usize,
    /// Writes (POST, PATCH) answer 403, as for a fork's read-only token.
    pub forbid_writes: bool,
    /// Every request answers this status (an outage).
    pub fail_with: Option<u16>,
    /// The `Link` header points at another host (where the token must not go).
    pub foreign_links: bool,
    pub requests: Vec<Request>,
    next_id: u64,
}

/// The running fake; stops when dropped.
pub struct GithubApi {
    pub port: u16,
    pub token: String,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GithubApi {
    pub fn start(token: &str) -> GithubApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State {
            page_size: 100,
            next_id: 1000,
            ..State::default()
        }));
        let (stop2, state2, token2) = (stop.clone(), state.clone(), token.to_owned());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    serve(s, port, &token2, &state2);
                }
            }
        });
        GithubApi {
            port,
            token: token.to_owned(),
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Add a comment (someone else's, or an earlier run's).
    pub fn add(&self, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.push((id, body.to_owned()));
        id
    }

    pub fn comments(&self) -> Vec<(u64, String)> {
        self.state.lock().unwrap().comments.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for GithubApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, port: u16, token: &str, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut content_length = 0usize;
    let mut authorization = None;
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 24)];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut s = state.lock().unwrap();
    s.requests.push(Request {
        method: method.clone(),
        target: target.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    let (code, link, json) = answer(&mut s, port, token, &method, &target, &authorization, &body);
    drop(s);
    let text = json.to_string();
    let reason = match code {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

fn message(m: &str) -> serde_json::Value {
    serde_json::json!({"message": m, "documentation_url": "https://docs.github.com/rest"})
}

#[allow(clippy::too_many_arguments)]
fn answer(
    s: &mut State,
    port: u16,
    token: &str,
    method: &str,
    target: &str,
    authorization: &Option<String>,
    body: &str,
) -> (u16, Option<String>, serde_json::Value) {
    if authorization.as_deref() != Some(&format!("Bearer {token}")) {
        return (401, None, message("Bad credentials"));
    }
    if let Some(code) = s.fail_with {
        return (code, None, message("Server Error"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let list = format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments");
    let new_body = || {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("body").and_then(|b| b.as_str()).map(str::to_owned))
    };
    let comment = |id: u64, body: &str| serde_json::json!({"id": id, "body": body, "user": {"login": "github-actions[bot]"}});
    match method {
        "GET" if path == list => {
            let per_page = param("per_page")
                .unwrap_or(30)
                .clamp(1, 100)
                .min(s.page_size);
            let page = param("page").unwrap_or(1).max(1);
            let pages = s.comments.len().div_ceil(per_page).max(1);
            let items: Vec<serde_json::Value> = s
                .comments
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|(id, b)| comment(*id, b))
                .collect();
            let host = if s.foreign_links {
                "127.0.0.2".to_owned()
            } else {
                format!("127.0.0.1:{port}")
            };
            let url = |p: usize| {
                format!(
                    "<http://{host}{list}?per_page={}&page={p}>",
                    param("per_page").unwrap_or(30)
                )
            };
            let link = (page < pages).then(|| {
                format!(
                    "{}; rel=\"next\", {}; rel=\"last\"",
                    url(page + 1),
                    url(pages)
                )
            });
            (200, link, serde_json::Value::Array(items))
        }
        "POST" if path == list => {
            if s.forbid_writes {
                return (403, None, message("Resource not accessible by integration"));
            }
            let Some(b) = new_body() else {
                return (422, None, message("Invalid request: body"));
            };
            if b.chars().count() > 65_536 {
                return (
                    422,
                    None,
                    message("Body is too long (maximum is 65536 characters)"),
                );
            }
            s.next_id += 1;
            let id = s.next_id;
            s.comments.push((id, b.clone()));
            (201, None, comment(id, &b))
        }
        "PATCH" => {
            let prefix = format!("/repos/{OWNER}/{REPO}/issues/comments/");
            let Some(id) = path
                .strip_prefix(&prefix)
                .and_then(|i| i.parse::<u64>().ok())
            else {
                return (404, None, message("Not Found"));
            };
            if s.forbid_writes {
                return (403, None, message("Resource not accessible by integration"));
            }
            let Some(b) = new_body() else {
                return (422, None, message("Invalid request: body"));
            };
            if b.chars().count() > 65_536 {
                return (
                    422,
                    None,
                    message("Body is too long (maximum is 65536 characters)"),
                );
            }
            match s.comments.iter_mut().find(|(i, _)| *i == id) {
                Some(c) => {
                    c.1 = b.clone();
                    (200, None, comment(id, &b))
                }
                None => (404, None, message("Not Found")),
            }
        }
        _ => (404, None, message("Not Found")),
    }
}
