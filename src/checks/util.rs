//! Small helpers shared by the platform kinds (command, databases, Redis, Kubernetes, AWS):
//! untrusted-text excerpts, latency verdicts and URL password handling.

use std::time::Duration;

use super::Thresholds;
use crate::model::{Outcome, Reason, Status};
use crate::spec::fields::{Ctx, format_duration};

/// Text from a server or a child process, made safe for one report line: decoded lossily,
/// control characters escaped (`\n`, `\u{1b}`), cut to `max_chars` with `…` when longer. The
/// cut is carried out by the redactor, after it has masked the secrets
/// ([`crate::redact::cut_later`]).
pub fn excerpt(bytes: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    escape(&text, max_chars)
}

/// [`excerpt`] for text already decoded.
pub fn escape(text: &str, max_chars: usize) -> String {
    crate::redact::cut_later(&escape_controls(text), max_chars, false)
}

/// Control characters as visible escapes (`\n`, `\u{1b}`), nothing cut.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The latency verdict: FAIL over `fail_latency`, WARN over `warn_latency`, else `None`.
pub fn latency_problem(
    elapsed: Duration,
    thresholds: Thresholds,
    reason: Reason,
) -> Option<(Status, Reason, String)> {
    if let Some(f) = thresholds.fail_latency
        && elapsed > f
    {
        return Some((
            Status::Fail,
            reason,
            format!(
                "slow: {} ms > fail_latency {}",
                elapsed.as_millis(),
                format_duration(f)
            ),
        ));
    }
    if let Some(w) = thresholds.warn_latency
        && elapsed > w
    {
        return Some((
            Status::Warn,
            reason,
            format!(
                "slow: {} ms > warn_latency {}",
                elapsed.as_millis(),
                format_duration(w)
            ),
        ));
    }
    None
}

/// The short one-line message of a transport failure, for every report: `connection refused`,
/// `TLS handshake failed: certificate expired`. The whole error chain (`chain`, its parts
/// joined with `: `) goes to the JSON `detail` and the `-v` logs instead
/// ([`Outcome::with_detail`](crate::model::Outcome::with_detail)).
pub fn short_message(reason: Reason, chain: &str) -> String {
    // The innermost cause is the last part of the chain, without an OS error number.
    let inner = chain.rsplit(": ").next().unwrap_or(chain).trim();
    let inner = match inner.find(" (os error") {
        Some(i) => inner.get(..i).unwrap_or(inner),
        None => inner,
    };
    let inner = inner.to_lowercase();
    match reason {
        Reason::ConnectRefused | Reason::TcpRefused => "connection refused".to_owned(),
        Reason::ConnectReset => format!("connection reset: {inner}"),
        Reason::DnsResolve => format!("cannot resolve the host name: {inner}"),
        Reason::Timeout => "timed out".to_owned(),
        Reason::TlsExpired => "TLS handshake failed: certificate expired".to_owned(),
        Reason::TlsNotYetValid => "TLS handshake failed: certificate not yet valid".to_owned(),
        Reason::TlsNameMismatch => {
            "TLS handshake failed: certificate does not match the host name".to_owned()
        }
        Reason::TlsSelfSigned => "TLS handshake failed: self-signed certificate".to_owned(),
        Reason::TlsUntrusted => "TLS handshake failed: certificate not trusted".to_owned(),
        Reason::TlsInvalid => format!("TLS handshake failed: invalid certificate: {inner}"),
        Reason::TlsHandshake => format!("TLS handshake failed: {inner}"),
        Reason::HttpProtocol => format!("not a valid HTTP response: {inner}"),
        Reason::HttpBodyRead => format!("reading the body failed: {inner}"),
        _ => inner,
    }
}

/// Milliseconds as a JSON-friendly integer.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Fold collected problems into one outcome: the worst status wins, its messages are joined
/// and its first reason is reported. No problems is PASS with `ok_message`.
pub fn verdict(problems: Vec<(Status, Reason, String)>, ok_message: String) -> Outcome {
    let Some(worst) = problems
        .iter()
        .map(|(s, _, _)| *s)
        .max_by_key(|s| s.severity())
    else {
        return Outcome::pass(ok_message);
    };
    let mut first = None;
    let mut msgs = Vec::new();
    for (s, r, m) in problems {
        if s == worst {
            first.get_or_insert(r);
            msgs.push(m);
        }
    }
    let reason = first.unwrap_or(Reason::Internal);
    match worst {
        // Checks produce PASS, WARN and FAIL only; SKIP and WAIVED are decided by the run.
        Status::Fail | Status::Skip | Status::Waived => Outcome::fail(reason, msgs.join("; ")),
        Status::Warn => Outcome::warn(reason, msgs.join("; ")),
        Status::Pass => Outcome::pass(ok_message),
    }
}

/// Parse a connection URL with one of `schemes`, push its password (raw and percent-decoded)
/// to the secrets and return it with its printable, password-free form.
pub fn secret_url(
    ctx: &mut Ctx<'_>,
    node: &crate::spec::yaml::Node,
    path: &str,
    schemes: &[&str],
) -> Option<(url::Url, String)> {
    let raw = ctx.non_empty(node, path)?;
    let parsed = url::Url::parse(&raw);
    // Whatever happens next, the password part must never be printed: push it before any
    // problem message can echo the URL.
    if let Some(pw) = raw
        .split_once("://")
        .and_then(|(_, rest)| rest.split('@').next().filter(|_| rest.contains('@')))
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, pw)| pw)
        .filter(|pw| !pw.is_empty())
    {
        ctx.secrets.push(pw.to_owned());
        ctx.secrets.push(percent_decode(pw));
    }
    let url = match parsed {
        Ok(u) => u,
        Err(e) => {
            ctx.problem(node, path, format!("invalid URL: {e}"));
            return None;
        }
    };
    if !schemes.contains(&url.scheme()) {
        ctx.problem(
            node,
            path,
            format!(
                "unsupported URL scheme `{}` (expected {})",
                url.scheme(),
                schemes
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
        return None;
    }
    if let Some(pw) = url.password() {
        ctx.secrets.push(pw.to_owned());
        ctx.secrets.push(percent_decode(pw));
    }
    let target = printable_url(&url);
    Some((url, target))
}

/// The URL with its password replaced by `***` and its query removed (options such as
/// `password=` can hide in a query).
pub fn printable_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.set_query(None);
    u.set_fragment(None);
    u.to_string().replace("%2A%2A%2A", "***")
}

/// Percent-decode a URL component (invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = ((*h as char).to_digit(16), (*l as char).to_digit(16))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_and_caps() {
        let done = |s: String| crate::redact::Redactor::default().text(&s);
        assert_eq!(done(escape("a\nb\u{1b}[31m", 100)), "a\\nb\\u{1b}[31m");
        assert_eq!(done(escape("a\nb", 2)), "a\\…");
        assert_eq!(done(escape("abcdef", 3)), "abc…");
    }

    #[test]
    fn printable_url_hides_password_and_query() {
        let u = url::Url::parse("postgres://app:s3cr%40t@db:5432/app?password=x").unwrap();
        assert_eq!(printable_url(&u), "postgres://app:***@db:5432/app");
        assert_eq!(percent_decode("s3cr%40t"), "s3cr@t");
    }
}

/// How a database check uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, else plain (PostgreSQL only).
    Prefer,
    /// TLS or fail; the certificate is verified unless `insecure: true`.
    Require,
}

/// The keys every database kind shares.
pub const DB_KEYS: &[&str] = &[
    "url",
    "query",
    "expect_rows",
    "expect_value",
    "tls",
    "insecure",
    "ca_file",
];

/// The schema fields of [`DB_KEYS`], with the kind's `tls` modes and URL description.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! db_fields {
    ($tls:expr, $url:expr) => {
        &[
            $crate::spec::field::req("url", $crate::spec::field::FieldType::String, $url),
            $crate::spec::field::opt(
                "query",
                $crate::spec::field::FieldType::String,
                "A query to run (default: none, connect only).",
            ),
            $crate::spec::field::opt(
                "expect_rows",
                $crate::spec::field::FieldType::Integer,
                "Number of rows the query must return.",
            ),
            $crate::spec::field::opt(
                "expect_value",
                $crate::spec::field::FieldType::String,
                "Value the first column of the first row must have.",
            ),
            $crate::spec::field::opt(
                "tls",
                $crate::spec::field::FieldType::Choice($tls),
                "TLS mode.",
            ),
            $crate::spec::field::opt(
                "insecure",
                $crate::spec::field::FieldType::Bool,
                "Skip TLS certificate verification.",
            ),
            $crate::spec::field::opt(
                "ca_file",
                $crate::spec::field::FieldType::String,
                "PEM file of a private CA trusted in addition to the system roots.",
            ),
        ]
    };
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use db_fields;

/// The parsed shared part of a database check.
#[derive(Debug, Clone)]
pub struct DbCommon {
    /// The connection URL (with its password: never print it, use the target).
    pub url: url::Url,
    /// The query to run, if any.
    pub query: Option<String>,
    /// Exact number of rows the query must return.
    pub expect_rows: Option<u64>,
    /// The text the first column of the first row must equal.
    pub expect_value: Option<String>,
    /// TLS use.
    pub tls: TlsMode,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra CA file.
    pub ca_file: Option<String>,
    /// Latency thresholds (connect + query).
    pub thresholds: Thresholds,
}

/// Parse the shared database keys; `tls_modes` lists the accepted `tls` values, the first is
/// the default.
pub fn parse_db(
    r: &mut crate::spec::yaml::MapReader<'_>,
    ctx: &mut Ctx<'_>,
    thresholds: Thresholds,
    schemes: &[&str],
    tls_modes: &[(&str, TlsMode)],
) -> Option<(DbCommon, String)> {
    let url = match r.take("url") {
        Some((n, p)) => secret_url(ctx, n, &p, schemes).and_then(|(u, t)| {
            if u.host_str().is_none_or(str::is_empty) {
                ctx.problem(n, &p, "the URL has no host");
                return None;
            }
            Some((u, t))
        }),
        None => {
            ctx.problem(r.node, &r.path, "missing required key `url`");
            None
        }
    };
    let query = match r.take("query") {
        Some((n, p)) => ctx.non_empty(n, &p),
        None => None,
    };
    let expect_rows = match r.take("expect_rows") {
        Some((n, p)) => ctx.uint(n, &p, u64::from(u32::MAX)),
        None => None,
    };
    let expect_value = match r.take("expect_value") {
        Some((n, p)) => ctx.string(n, &p),
        None => None,
    };
    if query.is_none() && (expect_rows.is_some() || expect_value.is_some()) {
        ctx.problem(
            r.node,
            &r.path,
            "`expect_rows` and `expect_value` need a `query`",
        );
    }
    let default_tls = tls_modes.first().map_or(TlsMode::Disable, |(_, m)| *m);
    let tls = match r.take("tls") {
        Some((n, p)) => {
            let v = ctx.string(n, &p)?.to_ascii_lowercase();
            match tls_modes.iter().find(|(name, _)| *name == v) {
                Some((_, m)) => *m,
                None => {
                    let names: Vec<String> =
                        tls_modes.iter().map(|(n, _)| format!("`{n}`")).collect();
                    ctx.problem(n, &p, format!("expected {}, found `{v}`", names.join(", ")));
                    default_tls
                }
            }
        }
        None => default_tls,
    };
    let insecure = match r.take("insecure") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
        None => false,
    };
    let ca_file = match r.take("ca_file") {
        Some((n, p)) => {
            let path = ctx.non_empty(n, &p)?;
            if let Err(e) = super::tls_util::read_pem_certs(&path) {
                ctx.problem(n, &p, e);
            }
            Some(path)
        }
        None => None,
    };
    let (url, target) = url?;
    Some((
        DbCommon {
            url,
            query,
            expect_rows,
            expect_value,
            tls,
            insecure,
            ca_file,
            thresholds,
        },
        target,
    ))
}

/// Check a query result (rows of text cells) against `expect_rows` / `expect_value`.
pub fn db_expectations(
    common: &DbCommon,
    rows: &[Vec<Option<String>>],
    problems: &mut Vec<(Status, Reason, String)>,
) {
    if let Some(want) = common.expect_rows
        && u64::try_from(rows.len()).unwrap_or(u64::MAX) != want
    {
        problems.push((
            Status::Fail,
            Reason::DbExpect,
            format!("query returned {} rows, expected {want}", rows.len()),
        ));
    }
    if let Some(want) = &common.expect_value {
        match rows.first().and_then(|r| r.first()) {
            None => problems.push((
                Status::Fail,
                Reason::DbExpect,
                format!("query returned no value, expected `{}`", escape(want, 100)),
            )),
            Some(got) => {
                let got = got.as_deref().unwrap_or("NULL");
                if got != want {
                    problems.push((
                        Status::Fail,
                        Reason::DbExpect,
                        format!(
                            "query returned `{}`, expected `{}`",
                            escape(got, 100),
                            escape(want, 100)
                        ),
                    ));
                }
            }
        }
    }
}

/// Metadata about a query result: the row count and the first value (escaped, short).
pub fn db_result_meta(
    rows: &[Vec<Option<String>>],
    meta: &mut std::collections::BTreeMap<String, serde_json::Value>,
) {
    meta.insert("rows".to_owned(), serde_json::json!(rows.len()));
    if let Some(v) = rows.first().and_then(|r| r.first()) {
        meta.insert(
            "first_value".to_owned(),
            match v {
                Some(s) => serde_json::json!(escape(s, 200)),
                None => serde_json::Value::Null,
            },
        );
    }
}
