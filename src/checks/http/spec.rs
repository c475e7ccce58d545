//! The `http_checks` kind: its [`Kind`] implementation (the keys, their parse into an
//! [`HttpSpec`], the phases, values and reasons) and the spec.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::status::StatusPattern;
use crate::checks::{CheckDef, Kind, Phase, RunContext, common};
use crate::model::{Outcome, PhaseName, Reason, Status};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::{Field, FieldType as T, field_table, opt, req};
use crate::reader::yaml::{MapReader, Node, Value};

/// Default cap on the response body read.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
const DEFAULT_MAX_REDIRECTS: usize = 10;

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

/// Which client (pool) a check uses. Redirects are followed by [`super::run`] itself, hop by hop, so
/// the configured headers can be dropped when a redirect leaves the origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub(super) insecure: bool,
    pub(super) ca_file: Option<String>,
    /// The client certificate presented when a server asks for one (boxed: most checks have
    /// none, and every check of a plan holds this key).
    pub(super) client: Option<Box<common::tls::ClientIdentity>>,
    pub(super) proxy: super::proxy::ProxyChoice,
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

/// The http kind (see `src/checks/registry.rs`).
impl Kind for HttpSpec {
    const NAME: &'static str = "http";

    const FIELDS: &'static [Field] = field_table![
        &[
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
        ],
        common::trust::TLS_FIELDS,
        &[
            opt(
                "proxy",
                T::String,
                "Proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`; credentials as `user:password@` are secrets), or `none` to connect directly. Without it: the proxy environment variables, as curl reads them.",
            ),
            opt(
                "max_body_bytes",
                T::Integer,
                "Cap on the response body read.",
            ),
        ],
        common::trust::DAYS_FIELDS,
    ];

    /// The lookup, connection and TLS handshake of a new connection (absent on a pooled one),
    /// the wait for the response head and the body.
    const PHASES: &'static [PhaseName] = &[
        PhaseName::Dns,
        PhaseName::Connect,
        PhaseName::Tls,
        PhaseName::Ttfb,
        PhaseName::Transfer,
    ];
    const VALUES: &'static [&'static str] = &[
        "status",
        "header.<name>",
        "body",
        "body.<JSONPath>",
        "cert.days_left",
        "cert.issuer",
        "cert.subject",
        "cert.sans",
    ];
    const LATENCY_REASON: Reason = Reason::HttpLatency;
    const EXPECT_REASON: Reason = Reason::HttpExpect;
    const REASONS: &'static [&'static [Reason]] = &[
        common::tls::HANDSHAKE_REASONS,
        &[
            Reason::DnsResolve,
            Reason::ConnectRefused,
            Reason::ConnectReset,
            Reason::ConnectError,
            Reason::TlsExpiring,
        ],
        super::reasons::ROWS,
    ];
    /// The first config format's default.
    const DEFAULT_WARN_LATENCY: Option<Duration> = Some(Duration::from_millis(2000));

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
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
        let body_regex = common::trust::regex(r, ctx, "body_regex")?;
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
        let insecure = common::trust::insecure(r, ctx);
        let ca_file = common::trust::ca_file(r, ctx)?;
        let client_identity = common::trust::client_identity(r, ctx);
        let proxy = super::proxy::read(r, ctx);
        let max_body = match r.take("max_body_bytes") {
            Some((n, p)) => ctx
                .uint(n, &p, 1 << 30)
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(DEFAULT_MAX_BODY),
            None => DEFAULT_MAX_BODY,
        };
        let warn_days = common::trust::days(r, ctx, "warn_days");
        let fail_days = common::trust::days(r, ctx, "fail_days");
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
                client: ClientKey {
                    insecure,
                    ca_file,
                    client: client_identity.map(Box::new),
                    proxy,
                },
                max_redirects: follow.then_some(max_redirects),
                forward_headers_on_redirect,
                max_body,
                warn_days,
                fail_days,
            },
            target,
        ))
    }

    fn host_key(&self) -> Option<String> {
        let host = self.url.host_str()?;
        Some(common::net::host_key(
            host,
            self.url.port_or_known_default()?,
        ))
    }

    fn days(&self) -> (Option<i64>, Option<i64>) {
        (self.warn_days, self.fail_days)
    }

    /// Over https, or through a proxy (which may speak TLS): the check's HTTP client is built
    /// before the run, its verifier looked up at the first handshake, which the check's wait
    /// for the preparation (before its clock) precedes.
    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        let may_tls =
            self.url.scheme() == "https" || self.client.proxy != super::proxy::ProxyChoice::Direct;
        may_tls.then_some(common::tls::TlsTrust {
            ca_file: self.client.ca_file.as_deref(),
            insecure: self.client.insecure,
        })
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        super::run(self, check.thresholds, ctx, phase, !check.expect.is_empty()).await
    }
}

fn urlencoding_decode(s: &str) -> Result<String, ()> {
    let decoded: String = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or(())?;
    Ok(decoded)
}

fn opt_list(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Vec<String> {
    match r.take(key) {
        Some((n, p)) => ctx.string_list(n, &p).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn parse_url(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<url::Url> {
    let s = ctx.non_empty(n, p)?;
    match parse_url_text(s.trim(), ctx) {
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

/// The URL `s`, exactly as `url::Url::parse` reads it. The host is most of that work (its
/// IDNA processing and serialisation, an IP literal included), and a fleet's checks name the
/// same few hosts again and again: a plain `http(s)://host[:port]/path` whose
/// `scheme://host:port` was read before is read as a path against that earlier URL
/// (`Url::join`, which copies the scheme, host and port and reads only the path, query and
/// fragment). A URL with anything else before its path (credentials, percent-encoding,
/// characters outside a host name or IP literal) or a path that could read differently on its
/// own (a second slash at its start, a backslash, a control character, a space) is read in
/// full. The earlier URLs are kept for [`URL_HOSTS`] different hosts at most, for one
/// environment's checks.
fn parse_url_text(s: &str, ctx: &Ctx<'_>) -> Result<url::Url, url::ParseError> {
    ctx.shared.with(|seen: &mut SeenHosts| seen.parse(s))
}

/// How many different `scheme://host:port` [`parse_url_text`] keeps a URL of.
const URL_HOSTS: usize = 1024;

/// A URL read by [`parse_url_text`], by its `scheme://host:port` as written.
/// When as many hosts are kept and fewer URLs than that were read against them (a config
/// whose checks name a host each), the rest are read in full without looking.
#[derive(Default)]
struct SeenHosts {
    urls: std::collections::HashMap<String, url::Url>,
    /// URLs read against an earlier one.
    hits: usize,
    /// Given up (see above).
    off: bool,
    /// The path read against an earlier URL, after as many spaces as its origin has bytes
    /// (see [`SeenHosts::parse`]).
    padded: String,
}

impl SeenHosts {
    /// [`parse_url_text`] with these earlier URLs.
    fn parse(&mut self, s: &str) -> Result<url::Url, url::ParseError> {
        if self.off {
            return url::Url::parse(s);
        }
        let Some((origin, path)) = plain_origin(s) else {
            return url::Url::parse(s);
        };
        if let Some(earlier) = self.urls.get(origin) {
            self.hits += 1;
            // The parser drops leading spaces, and sizes the URL's text by what it is given:
            // padded to the whole URL's length, the text is made in one allocation of that
            // length, as `Url::parse(s)` makes it (the path alone would be grown twice).
            self.padded.clear();
            self.padded.extend(std::iter::repeat_n(' ', origin.len()));
            self.padded.push_str(path);
            return earlier.join(&self.padded);
        }
        let url = url::Url::parse(s)?;
        if self.urls.len() < URL_HOSTS {
            self.urls.insert(origin.to_owned(), url.clone());
        } else if self.hits < URL_HOSTS {
            self.off = true;
            self.urls = std::collections::HashMap::new();
        }
        Ok(url)
    }
}

/// `s` split into its `http(s)://host[:port]` and its path (with any query and fragment),
/// when both are plain enough to read the path against an earlier URL of that origin (see
/// [`parse_url_text`]).
fn plain_origin(s: &str) -> Option<(&str, &str)> {
    let scheme = if s.starts_with("http://") {
        "http://".len()
    } else if s.starts_with("https://") {
        "https://".len()
    } else {
        return None;
    };
    let bytes = s.as_bytes();
    let mut end = scheme;
    while let Some(&b) = bytes.get(end) {
        if b == b'/' {
            break;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')) {
            return None;
        }
        end += 1;
    }
    let (origin, path) = s.split_at_checked(end)?;
    let plain_path = path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    (end > scheme && plain_path).then_some((origin, path))
}

/// A URL with its password replaced by `***`.
pub fn redacted_url(url: &url::Url) -> String {
    if url.password().is_none() {
        return url.as_str().to_owned();
    }
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
pub(super) fn to_pointer(path: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns() {
        assert_eq!(StatusPattern::parse("2xx"), Some(StatusPattern::Class(2)));
        assert_eq!(StatusPattern::parse("404"), Some(StatusPattern::Exact(404)));
        assert_eq!(StatusPattern::parse("99"), None);
        assert_eq!(StatusPattern::parse("6xx"), None);
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
    fn password_is_masked_in_target() {
        let u = url::Url::parse("https://user:hunter2@example.com/x").unwrap();
        assert_eq!(redacted_url(&u), "https://user:***@example.com/x");
    }

    #[test]
    fn a_url_read_against_an_earlier_one_of_its_host_is_the_url_read_in_full() {
        let first = [
            "http://127.0.0.1:18081/fast",
            "https://Example.COM/a",
            "http://example.com:80/x",
            "https://[::1]:8443/",
            "http://10.0.0.1/",
            "http://xn--nxasmq6b.example/",
            "http://a..b/",
            "http://0x7f.1/",
            "https://h/?q",
            "http://h:bad/x",
        ];
        let second = [
            "/slow",
            "/",
            "/a/b/../c/./d",
            "/%7Euser/%zz?x=%41&y#frag",
            "/?",
            "/#",
            "/a?b?c#d#e",
            "/p;q=1/~x!$&'()*+,=@:",
            "/ä",
            "/a b",
            "//evil/x",
            "/a\\b",
            "/a\tb",
        ];
        let mut seen = SeenHosts::default();
        for origin in first {
            let origin = origin.get(..origin.rfind('/').unwrap()).unwrap();
            for path in second {
                let s = format!("{origin}{path}");
                let direct = url::Url::parse(&s);
                let read = seen.parse(&s);
                assert_eq!(format!("{read:?}"), format!("{direct:?}"), "{s}");
                if let (Ok(a), Ok(b)) = (&read, &direct) {
                    assert_eq!(
                        (
                            a.as_str(),
                            a.host(),
                            a.port(),
                            a.path(),
                            a.query(),
                            a.fragment()
                        ),
                        (
                            b.as_str(),
                            b.host(),
                            b.port(),
                            b.path(),
                            b.query(),
                            b.fragment()
                        ),
                    );
                }
                if let (Ok(a), Ok(b)) = (read, direct) {
                    // The same text, in a block of the same size.
                    let (a, b) = (String::from(a), String::from(b));
                    assert_eq!(a.capacity(), b.capacity(), "{s}");
                }
            }
        }
        // Every origin that parsed was kept; the rest were read in full each time.
        assert_eq!(seen.urls.len(), first.len() - 1);
    }

    #[test]
    fn a_host_a_url_gives_up_keeping_them() {
        let mut seen = SeenHosts::default();
        for i in 0..=URL_HOSTS {
            let s = format!("http://host-{i}.example/x");
            assert_eq!(seen.parse(&s), url::Url::parse(&s));
        }
        assert!(seen.off && seen.urls.is_empty());
        let s = "http://host-1.example/y";
        assert_eq!(seen.parse(s), url::Url::parse(s));
        // Hosts named again and again keep them.
        let mut seen = SeenHosts::default();
        for i in 0..=URL_HOSTS * 2 {
            let s = format!("http://host-{}.example/{i}", i % 2);
            assert_eq!(seen.parse(&s), url::Url::parse(&s));
        }
        assert!(!seen.off && seen.urls.len() == 2);
    }

    #[test]
    fn only_plain_origins_and_paths_are_read_against_an_earlier_url() {
        assert_eq!(
            plain_origin("http://127.0.0.1:18081/fast?x#y"),
            Some(("http://127.0.0.1:18081", "/fast?x#y"))
        );
        for s in [
            "http://user:pw@h/x",
            "http://h%41/x",
            "http://h",
            "http:///x",
            "ftp://h/x",
            "HTTP://h/x",
            "http://h//x",
            "http://h/a b",
            "http://h/a\\b",
            "http://hé/x",
        ] {
            assert_eq!(plain_origin(s), None, "{s}");
        }
    }
}
