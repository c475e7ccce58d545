//! `http_checks`: one request, then assertions on status, headers, body, JSON and latency.
//! One shared client (and connection pool) per distinct TLS/redirect setting.

use crate::spec::field::{Field, FieldType as T, opt, req};
use std::collections::HashMap;
use std::error::Error as _;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, redirect};

use super::tls_util;
use super::util::short_message;
use super::{CheckDef, CheckSpec, Phase, RunContext, Thresholds};
use crate::config::DEFAULT_WARN_LATENCY;
use crate::model::{Outcome, Reason, Status};
use crate::spec::fields::{Ctx, format_duration};
use crate::spec::yaml::{MapReader, Node, Value};

/// Every key the kind accepts besides the common ones: its type and description (the
/// validator's key list and the config schema are both read from it).
pub const FIELDS: &[Field] = &[
    req("url", T::String, "The URL to request (http or https)."),
    opt(
        "method",
        T::Choice(&["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        "HTTP method (default GET).",
    ),
    opt("headers", T::StringMap, "Request headers."),
    opt("body", T::String, "Request body."),
    opt(
        "expected_status",
        T::ScalarList,
        "Accepted status codes or classes like `2xx` (default 200).",
    ),
    opt(
        "body_contains",
        T::StringList,
        "Text(s) the response body must contain.",
    ),
    opt(
        "body_not_contains",
        T::StringList,
        "Text(s) the response body must not contain.",
    ),
    opt(
        "body_regex",
        T::String,
        "A regex the response body must match.",
    ),
    opt(
        "on_body_mismatch",
        T::Choice(&["warn", "fail"]),
        "Status of a body text mismatch (default warn).",
    ),
    opt(
        "json",
        T::ObjectList(&[
            req(
                "path",
                T::String,
                "JSON path (`a.b[0].c`) into the response body.",
            ),
            opt(
                "equals",
                T::Any,
                "The value expected at the path (omit: the path must exist).",
            ),
        ]),
        "Assertions on the JSON response body.",
    ),
    opt(
        "response_headers",
        T::StringMap,
        "Response headers and the values they must have.",
    ),
    opt(
        "follow_redirects",
        T::Bool,
        "Follow redirects (default true).",
    ),
    opt("max_redirects", T::Integer, "Maximum redirects followed."),
    opt(
        "forward_headers_on_redirect",
        T::Bool,
        "Keep the configured headers on a redirect to another origin (default false: they are dropped).",
    ),
    opt("insecure", T::Bool, "Skip TLS certificate verification."),
    opt(
        "ca_file",
        T::String,
        "PEM file of a private CA trusted in addition to the system roots.",
    ),
    opt(
        "max_body_bytes",
        T::Integer,
        "Cap on the response body read.",
    ),
    opt(
        "warn_days",
        T::Integer,
        "WARN when the certificate expires within this many days.",
    ),
    opt(
        "fail_days",
        T::Integer,
        "FAIL when the certificate expires within this many days.",
    ),
];

/// Default cap on the response body read.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
const DEFAULT_MAX_REDIRECTS: usize = 10;
const EXCERPT_CHARS: usize = 300;

/// Header names whose values are always treated as secrets.
const SENSITIVE_HEADER_HINTS: &[&str] = &[
    "authorization",
    "cookie",
    "token",
    "secret",
    "key",
    "auth",
    "password",
    "session",
    "signature",
];

/// Read a check's `headers` map (HTTP request headers, gRPC metadata). The value of every
/// header whose name looks like a credential (`authorization`, `x-api-key`, `cookie`…) becomes
/// a secret, and so does its part after the first space (the token of `Bearer <token>`); every
/// value is marked sensitive. Invalid names and values are problems at the map.
pub(crate) fn read_headers(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some((n, p)) = r.take("headers")
        && let Some(map) = ctx.string_map(n, &p)
    {
        for (name, value, _) in map {
            let lower = name.to_ascii_lowercase();
            if SENSITIVE_HEADER_HINTS.iter().any(|h| lower.contains(h)) {
                ctx.secrets.push(value.clone());
                if let Some((_, token)) = value.split_once(' ') {
                    ctx.secrets.push(token.to_owned());
                }
            }
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(hn), Ok(mut hv)) => {
                    hv.set_sensitive(true);
                    headers.append(hn, hv);
                }
                (Err(_), _) => ctx.problem(n, &p, format!("invalid header name `{name}`")),
                (_, Err(_)) => ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid value for header `{name}` (control characters are not allowed)"
                    ),
                ),
            }
        }
    }
    headers
}

/// One accepted status: an exact code or a class (`2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// Exactly this code.
    Exact(u16),
    /// Any code of this hundred (2 for `2xx`).
    Class(u16),
}

impl StatusPattern {
    fn matches(self, code: u16) -> bool {
        match self {
            StatusPattern::Exact(c) => c == code,
            StatusPattern::Class(c) => code / 100 == c,
        }
    }

    fn parse(s: &str) -> Option<StatusPattern> {
        let s = s.trim();
        if let Some(prefix) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
            let c: u16 = prefix.parse().ok()?;
            return (1..=5).contains(&c).then_some(StatusPattern::Class(c));
        }
        let c: u16 = s.parse().ok()?;
        (100..=599).contains(&c).then_some(StatusPattern::Exact(c))
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Exact(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// A JSON assertion: the value at `path` exists, and equals `equals` when given.
#[derive(Debug, Clone)]
pub struct JsonAssert {
    /// As written by the user.
    pub path: String,
    /// As a JSON pointer.
    pub pointer: String,
    /// Expected value, if any.
    pub equals: Option<serde_json::Value>,
}

/// Which client (pool) a check uses. Redirects are followed by [`run`] itself, hop by hop, so
/// the configured headers can be dropped when a redirect leaves the origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    insecure: bool,
    ca_file: Option<String>,
}

/// A validated HTTP check.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// The URL requested.
    pub url: url::Url,
    /// The method.
    pub method: Method,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Option<String>,
    /// Accepted statuses.
    pub expected_status: Vec<StatusPattern>,
    /// Texts the body must contain.
    pub body_contains: Vec<String>,
    /// Texts the body must not contain.
    pub body_not_contains: Vec<String>,
    /// A regex the body must match.
    pub body_regex: Option<regex::Regex>,
    /// Status for a body text mismatch (WARN by default, as in the first config format).
    pub on_body_mismatch: Status,
    /// JSON assertions.
    pub json: Vec<JsonAssert>,
    /// Response headers that must be present and contain the given text.
    pub response_headers: Vec<(HeaderName, String)>,
    /// Latency thresholds.
    pub thresholds: Thresholds,
    /// The client to use.
    pub client: ClientKey,
    /// Redirects followed at most (`None`: redirects are not followed).
    pub max_redirects: Option<usize>,
    /// Keep the configured headers when a redirect leaves the origin (scheme, host, port).
    pub forward_headers_on_redirect: bool,
    /// Body read cap.
    pub max_body: usize,
    /// Certificate days-left thresholds (https only, when set).
    pub warn_days: Option<i64>,
    /// Certificate days-left failure threshold.
    pub fail_days: Option<i64>,
}

/// Parse the HTTP keys of a check; returns the spec and its printable target.
pub fn parse(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    thresholds: Thresholds,
) -> Option<(HttpSpec, String)> {
    let url = match r.take("url") {
        Some((n, p)) => parse_url(n, &p, ctx),
        None => {
            ctx.problem(r.node, &r.path, "missing required key `url`");
            None
        }
    };
    let method = match r.take("method") {
        Some((n, p)) => {
            let m = ctx.string(n, &p)?.to_ascii_uppercase();
            match m.as_str() {
                "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" => {
                    Method::from_bytes(m.as_bytes()).ok()
                }
                _ => {
                    ctx.problem(
                        n,
                        &p,
                        format!("unsupported method `{m}` (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)"),
                    );
                    None
                }
            }
        }
        None => Some(Method::GET),
    };
    let headers = read_headers(r, ctx);
    let body = match r.take("body") {
        Some((n, p)) => ctx.string(n, &p),
        None => None,
    };
    let expected_status = match r.take("expected_status") {
        Some((n, p)) => parse_statuses(n, &p, ctx),
        None => Some(vec![StatusPattern::Exact(200)]),
    };
    let body_contains = opt_list(r, ctx, "body_contains");
    let body_not_contains = opt_list(r, ctx, "body_not_contains");
    let body_regex = match r.take("body_regex") {
        Some((n, p)) => {
            let s = ctx.string(n, &p)?;
            match regex::Regex::new(&s) {
                Ok(re) => Some(re),
                Err(e) => {
                    let text = e.to_string();
                    let first = text
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_owned();
                    ctx.problem(n, &p, format!("invalid regex: {first}"));
                    None
                }
            }
        }
        None => None,
    };
    let on_body_mismatch = match r.take("on_body_mismatch") {
        Some((n, p)) => match ctx.string(n, &p)?.to_ascii_lowercase().as_str() {
            "warn" => Status::Warn,
            "fail" => Status::Fail,
            other => {
                ctx.problem(n, &p, format!("expected `warn` or `fail`, found `{other}`"));
                Status::Warn
            }
        },
        None => Status::Warn,
    };
    let json = match r.take("json") {
        Some((n, p)) => parse_json_asserts(n, &p, ctx),
        None => Vec::new(),
    };
    let mut response_headers = Vec::new();
    if let Some((n, p)) = r.take("response_headers")
        && let Some(map) = ctx.string_map(n, &p)
    {
        for (name, value, _) in map {
            match HeaderName::from_bytes(name.as_bytes()) {
                Ok(hn) => response_headers.push((hn, value)),
                Err(_) => ctx.problem(n, &p, format!("invalid header name `{name}`")),
            }
        }
    }
    let follow = match r.take("follow_redirects") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(true),
        None => true,
    };
    let max_redirects = match r.take("max_redirects") {
        Some((n, p)) => ctx
            .uint(n, &p, 100)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(DEFAULT_MAX_REDIRECTS),
        None => DEFAULT_MAX_REDIRECTS,
    };
    let forward_headers_on_redirect = match r.take("forward_headers_on_redirect") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
        None => false,
    };
    let insecure = match r.take("insecure") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
        None => false,
    };
    let ca_file = match r.take("ca_file") {
        Some((n, p)) => {
            let path = ctx.non_empty(n, &p)?;
            if let Err(e) = tls_util::read_pem_certs(&path) {
                ctx.problem(n, &p, e);
            }
            Some(path)
        }
        None => None,
    };
    let max_body = match r.take("max_body_bytes") {
        Some((n, p)) => ctx
            .uint(n, &p, 1 << 30)
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(DEFAULT_MAX_BODY),
        None => DEFAULT_MAX_BODY,
    };
    let warn_days = days(r, ctx, "warn_days");
    let fail_days = days(r, ctx, "fail_days");
    if let (Some(w), Some(f)) = (warn_days, fail_days)
        && f > w
    {
        ctx.problem(
            r.node,
            &r.path,
            "`fail_days` must not be greater than `warn_days`",
        );
    }

    let url = url?;
    let target = redacted_url(&url);
    if let Some(pw) = url.password() {
        ctx.secrets.push(pw.to_owned());
        let decoded = urlencoding_decode(pw).unwrap_or_else(|()| pw.to_owned());
        // The credentials travel as `Authorization: Basic base64(user:password)`; a server
        // that echoes its request headers must not reveal them in that form either.
        let user = urlencoding_decode(url.username()).unwrap_or_default();
        ctx.secrets.push(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:{decoded}"),
        ));
        ctx.secrets.push(decoded);
    }
    let thresholds = Thresholds {
        warn_latency: thresholds.warn_latency.or(Some(DEFAULT_WARN_LATENCY)),
        fail_latency: thresholds.fail_latency,
    };
    Some((
        HttpSpec {
            url,
            method: method?,
            headers,
            body,
            expected_status: expected_status?,
            body_contains,
            body_not_contains,
            body_regex,
            on_body_mismatch,
            json,
            response_headers,
            thresholds,
            client: ClientKey { insecure, ca_file },
            max_redirects: follow.then_some(max_redirects),
            forward_headers_on_redirect,
            max_body,
            warn_days,
            fail_days,
        },
        target,
    ))
}

fn urlencoding_decode(s: &str) -> Result<String, ()> {
    let decoded: String = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(())?;
    Ok(decoded)
}

fn days(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Option<i64> {
    let (n, p) = r.take(key)?;
    ctx.uint(n, &p, 100_000).and_then(|v| i64::try_from(v).ok())
}

fn opt_list(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Vec<String> {
    match r.take(key) {
        Some((n, p)) => ctx.string_list(n, &p).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn parse_url(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<url::Url> {
    let s = ctx.non_empty(n, p)?;
    match url::Url::parse(s.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            ctx.problem(
                n,
                p,
                format!(
                    "unsupported URL scheme `{}` (use http or https)",
                    u.scheme()
                ),
            );
            None
        }
        Ok(_) => {
            ctx.problem(n, p, "URL has no host");
            None
        }
        Err(e) => {
            ctx.problem(n, p, format!("invalid URL: {e}"));
            None
        }
    }
}

/// A URL with its password replaced by `***`.
pub fn redacted_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

fn parse_statuses(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<Vec<StatusPattern>> {
    let items: Vec<&Node> = match &n.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![n],
    };
    if items.is_empty() {
        ctx.problem(n, p, "must list at least one status");
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        let s = ctx.string(item, p)?;
        match StatusPattern::parse(&s) {
            Some(sp) => out.push(sp),
            None => {
                ctx.problem(
                    item,
                    p,
                    format!("invalid status `{s}` (a code 100-599 or a class like `2xx`)"),
                );
                return None;
            }
        }
    }
    Some(out)
}

fn parse_json_asserts(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Vec<JsonAssert> {
    let Value::Seq(items) = &n.value else {
        ctx.problem(n, p, "expected a list of `{path, equals}` assertions");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let Some(mut r) = MapReader::new(item, &ip, ctx.problems) else {
            continue;
        };
        let path = match r.take("path") {
            Some((pn, pp)) => ctx.non_empty(pn, &pp),
            None => {
                ctx.problem(item, &ip, "missing required key `path`");
                None
            }
        };
        let equals = r
            .take("equals")
            .and_then(|(en, ep)| yaml_to_json(en, &ep, ctx));
        r.finish(&["path", "equals"], ctx.problems);
        if let Some(path) = path {
            match to_pointer(&path) {
                Some(pointer) => out.push(JsonAssert {
                    path,
                    pointer,
                    equals,
                }),
                None => ctx.problem(item, &ip, format!("invalid JSON path `{path}`")),
            }
        }
    }
    out
}

fn yaml_to_json(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<serde_json::Value> {
    Some(match &n.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Value::from(*f),
        Value::Str(_) => serde_json::Value::String(ctx.string(n, p)?),
        Value::Seq(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| yaml_to_json(i, p, ctx))
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                m.insert(k.name.clone(), yaml_to_json(v, p, ctx)?);
            }
            serde_json::Value::Object(m)
        }
    })
}

/// `/a/0` stays a pointer; `a.b[0].c` or `$.a.b` becomes `/a/b/0/c`.
fn to_pointer(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return Some(path.to_owned());
    }
    let path = path
        .strip_prefix("$.")
        .or_else(|| path.strip_prefix('$'))
        .unwrap_or(path);
    let mut out = String::new();
    for seg in path.split('.') {
        if seg.is_empty() {
            return None;
        }
        let (name, mut rest) = match seg.find('[') {
            Some(i) => seg.split_at(i),
            None => (seg, ""),
        };
        if !name.is_empty() {
            out.push('/');
            out.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let (idx, tail) = r.split_at(end);
            idx.parse::<usize>().ok()?;
            out.push('/');
            out.push_str(idx);
            rest = tail.get(1..).unwrap_or("");
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// One reqwest client per distinct TLS/redirect setting, built once per run.
pub struct Clients {
    by_key: HashMap<ClientKey, reqwest::Client>,
}

impl Clients {
    /// Build the clients the checks need.
    pub fn build(checks: &[CheckDef]) -> Result<Self, String> {
        let mut by_key = HashMap::new();
        for c in checks {
            let CheckSpec::Http(spec) = &c.spec else {
                continue;
            };
            if by_key.contains_key(&spec.client) {
                continue;
            }
            by_key.insert(spec.client.clone(), build_client(&spec.client)?);
        }
        Ok(Clients { by_key })
    }
}

fn build_client(key: &ClientKey) -> Result<reqwest::Client, String> {
    let mut tls = tls_util::client_config(
        key.ca_file.as_deref(),
        key.insecure,
        rustls::DEFAULT_VERSIONS,
    )?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .tls_info(true)
        // `send` follows redirects itself; no `Referer` ever tells the next server where the
        // check came from.
        .redirect(redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("infracheck/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

/// Run one attempt.
pub async fn run(spec: &HttpSpec, ctx: &RunContext, phase: &Phase) -> Outcome {
    let Some(client) = ctx.http.by_key.get(&spec.client) else {
        return Outcome::fail(
            Reason::Internal,
            "no HTTP client was prepared for this check",
        );
    };
    let start = Instant::now();
    phase.set("waiting for the response headers");
    let resp = match send(client, spec).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let status = resp.status();
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("status_code".to_owned(), serde_json::json!(status.as_u16()));
    if let Some(addr) = resp.remote_addr() {
        meta.insert(
            "remote_addr".to_owned(),
            serde_json::json!(addr.to_string()),
        );
    }
    if resp.url() != &spec.url {
        meta.insert(
            "final_url".to_owned(),
            serde_json::json!(redacted_url(resp.url())),
        );
    }
    if let Some(location) = resp.headers().get(reqwest::header::LOCATION) {
        meta.insert(
            "location".to_owned(),
            serde_json::json!(String::from_utf8_lossy(location.as_bytes())),
        );
    }
    let cert = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .and_then(tls_util::cert_facts);
    let now = time::OffsetDateTime::now_utc();
    if let Some(c) = &cert {
        meta.insert(
            "tls_days_left".to_owned(),
            serde_json::json!(c.days_left(now)),
        );
        meta.insert(
            "tls_not_before".to_owned(),
            serde_json::json!(tls_util::rfc3339(c.not_before)),
        );
        meta.insert(
            "tls_not_after".to_owned(),
            serde_json::json!(tls_util::rfc3339(c.not_after)),
        );
    }
    // Only the asserted headers are looked at after the body is read: no copy of the whole
    // header map for a check that asserts none.
    let asserted_headers: Vec<Option<HeaderValue>> = spec
        .response_headers
        .iter()
        .map(|(name, _)| resp.headers().get(name).cloned())
        .collect();

    phase.set("reading the response body");
    let (body, truncated) = match read_capped(resp, spec.max_body).await {
        Ok(b) => b,
        Err(e) => {
            let (reason, msg) = classify(&e);
            let reason = if reason == Reason::ConnectError {
                Reason::HttpBodyRead
            } else {
                reason
            };
            return Outcome::fail(reason, short_message(reason, &msg))
                .with_detail(format!("reading body failed: {msg}"))
                .with_metadata(meta);
        }
    };
    let elapsed = start.elapsed();
    meta.insert("body_bytes".to_owned(), serde_json::json!(body.len()));
    if truncated {
        meta.insert("body_truncated".to_owned(), serde_json::json!(true));
    }
    meta.insert(
        "latency_ms".to_owned(),
        serde_json::json!(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
    );

    let text = String::from_utf8_lossy(&body);
    let mut problems: Vec<(Status, Reason, String)> = Vec::new();
    let code = status.as_u16();
    if !spec.expected_status.iter().any(|p| p.matches(code)) {
        let want: Vec<String> = spec
            .expected_status
            .iter()
            .map(ToString::to_string)
            .collect();
        problems.push((
            Status::Fail,
            Reason::HttpStatus,
            format!(
                "expected status {}, got {} {}",
                want.join(" or "),
                code,
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        ));
    }
    for ((name, want), got) in spec.response_headers.iter().zip(&asserted_headers) {
        match got {
            None => problems.push((
                Status::Fail,
                Reason::HttpHeader,
                format!("response header `{name}` is missing"),
            )),
            Some(v) => {
                let got = String::from_utf8_lossy(v.as_bytes());
                if !got.contains(want.as_str()) {
                    problems.push((
                        Status::Fail,
                        Reason::HttpHeader,
                        format!(
                            "response header `{name}` is `{got}`, expected it to contain `{want}`"
                        ),
                    ));
                }
            }
        }
    }
    if !spec.json.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Err(e) => problems.push((
                Status::Fail,
                Reason::HttpJson,
                format!("body is not valid JSON ({e})"),
            )),
            Ok(doc) => {
                for a in &spec.json {
                    match (doc.pointer(&a.pointer), &a.equals) {
                        (None, _) => problems.push((
                            Status::Fail,
                            Reason::HttpJson,
                            format!("JSON path `{}` not found", a.path),
                        )),
                        (Some(got), Some(want)) if !json_equal(got, want) => problems.push((
                            Status::Fail,
                            Reason::HttpJson,
                            format!("JSON `{}` is {got}, expected {want}", a.path),
                        )),
                        _ => {}
                    }
                }
            }
        }
    }
    for want in &spec.body_contains {
        if !text.contains(want.as_str()) {
            problems.push((
                spec.on_body_mismatch,
                Reason::HttpBody,
                format!("body does not contain `{want}`"),
            ));
        }
    }
    for bad in &spec.body_not_contains {
        if text.contains(bad.as_str()) {
            problems.push((
                spec.on_body_mismatch,
                Reason::HttpBody,
                format!("body contains forbidden `{bad}`"),
            ));
        }
    }
    if let Some(re) = &spec.body_regex
        && !re.is_match(&text)
    {
        problems.push((
            spec.on_body_mismatch,
            Reason::HttpBody,
            format!("body does not match regex `{}`", re.as_str()),
        ));
    }
    if let Some(f) = spec.thresholds.fail_latency
        && elapsed > f
    {
        problems.push((
            Status::Fail,
            Reason::HttpLatency,
            format!(
                "slow: {} ms > fail_latency {}",
                elapsed.as_millis(),
                format_duration(f)
            ),
        ));
    } else if let Some(w) = spec.thresholds.warn_latency
        && elapsed > w
    {
        problems.push((
            Status::Warn,
            Reason::HttpLatency,
            format!(
                "slow: {} ms > warn_latency {}",
                elapsed.as_millis(),
                format_duration(w)
            ),
        ));
    }
    if let Some(c) = &cert
        && c.not_before > now
    {
        // Reached only under `insecure: true`: verification refuses such a certificate.
        problems.push((
            Status::Fail,
            Reason::TlsNotYetValid,
            format!(
                "certificate `{}` is not valid before {}",
                c.subject,
                tls_util::rfc3339(c.not_before)
            ),
        ));
    }
    if let Some(c) = &cert {
        let left = c.days_left(now);
        if let Some(f) = spec.fail_days
            && left < f
        {
            problems.push((
                Status::Fail,
                Reason::TlsExpiring,
                format!("certificate expires in {left} days (fail_days {f})"),
            ));
        } else if let Some(w) = spec.warn_days
            && left < w
        {
            problems.push((
                Status::Warn,
                Reason::TlsExpiring,
                format!("certificate expires in {left} days (warn_days {w})"),
            ));
        }
    }

    let worst = problems.iter().map(|(s, _, _)| *s).max();
    let outcome = match worst {
        None => Outcome::pass(format!(
            "{} {} in {} ms",
            code,
            status.canonical_reason().unwrap_or(""),
            elapsed.as_millis()
        )),
        Some(worst) => {
            let mut first = None;
            let mut msgs = Vec::new();
            for (s, r, m) in &problems {
                if *s == worst {
                    first.get_or_insert(*r);
                    msgs.push(m.clone());
                }
            }
            let reason = first.unwrap_or(Reason::Internal);
            let message = msgs.join("; ");
            // Cut by the redactor, after the secrets in the whole body are masked.
            let excerpt = crate::redact::cut_later(&text, EXCERPT_CHARS, truncated);
            meta.insert("body_excerpt".to_owned(), serde_json::json!(excerpt));
            if worst == Status::Fail {
                Outcome::fail(reason, message)
            } else {
                Outcome::warn(reason, message)
            }
        }
    };
    outcome.with_metadata(meta)
}

/// Compare JSON values, treating integers and floats of equal value as equal.
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            x == y || x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y)
        }
        _ => a == b,
    }
}

async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or(&[]));
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Whether two URLs share an origin (scheme, host and port).
fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Send the request and follow redirects (301, 302, 303, 307, 308) up to `max_redirects`.
/// A hop to another origin drops every configured header (they hold API keys and tokens meant
/// for the configured server), unless `forward_headers_on_redirect` is set; once dropped they
/// are not sent again, even if a later hop comes back. 303, and 301/302 after a POST, continue
/// as a GET without a body, as browsers do.
async fn send(client: &reqwest::Client, spec: &HttpSpec) -> Result<reqwest::Response, Outcome> {
    use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
    // The first request is built straight from the spec; the copies a redirect changes are
    // made only when one is followed.
    let mut url = std::borrow::Cow::Borrowed(&spec.url);
    let mut method = spec.method.clone();
    let mut body = spec.body.as_deref();
    let mut headers = std::borrow::Cow::Borrowed(&spec.headers);
    let mut hops = 0usize;
    loop {
        let mut req = client.request(method.clone(), url.as_ref().clone());
        if !headers.is_empty() {
            req = req.headers(headers.as_ref().clone());
        }
        if let Some(b) = body {
            req = req.body(b.to_owned());
        }
        let resp = req.send().await.map_err(|e| request_error(&e))?;
        let Some(max) = spec.max_redirects else {
            return Ok(resp);
        };
        let status = resp.status().as_u16();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return Ok(resp);
        }
        // No usable `Location`: the redirect itself is the answer the assertions judge.
        let Some(next) = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
        else {
            return Ok(resp);
        };
        if hops >= max {
            return Err(Outcome::fail(
                Reason::HttpRedirect,
                format!("error following redirect: too many redirects (max_redirects {max})"),
            ));
        }
        hops += 1;
        let to_get = match status {
            303 => method != Method::HEAD,
            301 | 302 => method == Method::POST,
            _ => false,
        };
        if to_get {
            method = Method::GET;
            body = None;
            for h in [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING] {
                headers.to_mut().remove(h);
            }
        }
        if !spec.forward_headers_on_redirect && !same_origin(&url, &next) {
            headers = std::borrow::Cow::Owned(HeaderMap::new());
        }
        url = std::borrow::Cow::Owned(next);
    }
}

fn request_error(e: &reqwest::Error) -> Outcome {
    let (reason, msg) = classify(e);
    // A certificate refused as not yet valid: its notBefore comes with the rustls error.
    if let Some(not_before) = rustls_error(e).and_then(tls_util::not_before_of) {
        let date = tls_util::rfc3339(not_before);
        return Outcome::fail(
            Reason::TlsNotYetValid,
            format!("certificate is not valid before {date}"),
        )
        .with_detail(msg)
        .with_meta("tls_not_before", date);
    }
    Outcome::fail(reason, short_message(reason, &msg)).with_detail(msg)
}

/// The rustls error somewhere in a reqwest error's chain (also inside wrapped I/O errors).
fn rustls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    for _ in 0..16 {
        let s = source?;
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let mut inner = io.get_ref();
            for _ in 0..4 {
                let Some(e) = inner else { break };
                if let Some(t) = e.downcast_ref::<rustls::Error>() {
                    return Some(t);
                }
                inner = e.downcast_ref::<std::io::Error>().and_then(|i| i.get_ref());
            }
        }
        source = s.source();
    }
    None
}

/// Map a reqwest error to a reason and a one-line message without the URL.
pub fn classify(e: &reqwest::Error) -> (Reason, String) {
    let mut parts: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut tls_reason = None;
    let mut hyper_parse = false;
    let mut hyper_incomplete = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    let top = e.to_string();
    let top = match e.url() {
        Some(u) => top
            .replace(&format!(" ({u})"), "")
            .replace(u.as_str(), "<url>"),
        None => top,
    };
    parts.push(top);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            // io::Error::source() skips the wrapped error itself: look inside (it may be
            // an io::Error wrapping an io::Error wrapping the rustls error).
            let mut inner = io.get_ref();
            for _ in 0..4 {
                let Some(e) = inner else { break };
                if let Some(t) = e.downcast_ref::<rustls::Error>() {
                    tls_reason.get_or_insert(tls_util::reason_for(t));
                    break;
                }
                inner = e.downcast_ref::<std::io::Error>().and_then(|i| i.get_ref());
            }
        }
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            tls_reason.get_or_insert(tls_util::reason_for(t));
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            hyper_parse |= h.is_parse() || h.is_parse_status();
            hyper_incomplete |= h.is_incomplete_message();
        }
        source = s.source();
    }
    let joined = parts.join(": ");
    let lower = joined.to_ascii_lowercase();
    let reason = if let Some(t) = tls_reason {
        t
    } else if e.is_timeout() {
        Reason::Timeout
    } else if e.is_redirect() {
        Reason::HttpRedirect
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Reason::DnsResolve
    } else if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        Reason::ConnectRefused
    } else if let Some(r) = tls_reason_from_text(&lower) {
        r
    } else if hyper_parse {
        Reason::HttpProtocol
    } else if matches!(
        io_kind,
        Some(
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    ) || hyper_incomplete
    {
        Reason::ConnectReset
    } else if lower.contains("tls") || lower.contains("certificate") || lower.contains("handshake")
    {
        Reason::TlsHandshake
    } else if e.is_body() || e.is_decode() {
        Reason::HttpBodyRead
    } else {
        Reason::ConnectError
    };
    (reason, joined)
}

/// rustls errors that reach us only as text (wrapped by the connector in a way that hides the
/// typed error) are still classified by their stable messages.
fn tls_reason_from_text(lower: &str) -> Option<Reason> {
    if lower.contains("invalid peer certificate") {
        Some(if lower.contains("expired") {
            Reason::TlsExpired
        } else if lower.contains("notvalidyet") || lower.contains("not valid yet") {
            Reason::TlsNotYetValid
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            Reason::TlsNameMismatch
        } else if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
            Reason::TlsUntrusted
        } else {
            Reason::TlsInvalid
        })
    } else if lower.contains("tls handshake")
        || lower.contains("received corrupt message")
        || lower.contains("received fatal alert")
        || lower.contains("peer is incompatible")
        || lower.contains("peer misbehaved")
    {
        Some(Reason::TlsHandshake)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns() {
        assert_eq!(StatusPattern::parse("2xx"), Some(StatusPattern::Class(2)));
        assert_eq!(StatusPattern::parse("404"), Some(StatusPattern::Exact(404)));
        assert_eq!(StatusPattern::parse("99"), None);
        assert_eq!(StatusPattern::parse("6xx"), None);
        assert!(StatusPattern::Class(2).matches(204));
        assert!(!StatusPattern::Class(2).matches(301));
    }

    #[test]
    fn json_paths() {
        assert_eq!(to_pointer("status").as_deref(), Some("/status"));
        assert_eq!(to_pointer("$.a.b[0].c").as_deref(), Some("/a/b/0/c"));
        assert_eq!(to_pointer("items[1][2]").as_deref(), Some("/items/1/2"));
        assert_eq!(to_pointer("/a/0").as_deref(), Some("/a/0"));
        assert_eq!(to_pointer("a..b"), None);
        assert_eq!(to_pointer("a[x]"), None);
    }

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(same_origin(
            &u("http://a.test/x"),
            &u("http://a.test:80/y?z")
        ));
        assert!(!same_origin(&u("http://a.test/"), &u("https://a.test/")));
        assert!(!same_origin(&u("http://a.test/"), &u("http://b.test/")));
        assert!(!same_origin(
            &u("http://a.test/"),
            &u("http://a.test:8080/")
        ));
    }

    #[test]
    fn password_is_masked_in_target() {
        let u = url::Url::parse("https://user:hunter2@example.com/x").unwrap();
        assert_eq!(redacted_url(&u), "https://user:***@example.com/x");
    }
}
