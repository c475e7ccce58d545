//! The verdict of `http_checks`, kept pure: the [`Facts`] of one response and the spec in, the
//! outcome out — status, headers, JSON, body texts, latency and certificate dates, each
//! checked on its own, unit-tested without a server.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use super::spec::HttpSpec;
#[cfg(test)]
use super::status::StatusPattern;
use crate::checks::Thresholds;
use crate::checks::common::cert::{CertFacts, rfc3339};
use crate::checks::common::{Problem, days_problem, latency_problem, verdict};
use crate::model::{Outcome, Reason, Status};

/// What one response showed: everything the verdict needs, nothing of the wire.
#[derive(Debug)]
pub struct Facts<'a> {
    /// The final response's status.
    pub status: StatusCode,
    /// The values of the asserted `response_headers`, in the spec's order.
    pub headers: Vec<Option<HeaderValue>>,
    /// The body read (at most `max_body_bytes`).
    pub body: &'a [u8],
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
    /// The server's certificate, over https.
    pub cert: Option<CertFacts>,
    /// The time the certificate dates are judged at.
    pub now: time::OffsetDateTime,
}

/// The verdict on one response: PASS with `200 OK in 12 ms`, or the worst problems found.
pub fn judge(spec: &HttpSpec, thresholds: Thresholds, facts: &Facts<'_>) -> Outcome {
    let text = String::from_utf8_lossy(facts.body);
    let mut problems: Vec<Problem> = Vec::new();
    problems.extend(status_problem(spec, facts.status));
    header_problems(spec, &facts.headers, &mut problems);
    if !spec.json.is_empty() {
        json_problems(spec, facts.body, &mut problems);
    }
    body_problems(spec, &text, &mut problems);
    problems.extend(latency_problem(
        facts.elapsed,
        thresholds,
        Reason::HttpLatency,
    ));
    if let Some(c) = &facts.cert {
        problems.extend(cert_problems(spec, c, facts.now));
    }
    let reason = facts.status.canonical_reason().unwrap_or("");
    // Sized once (`format!` would grow it piece by piece).
    let mut ok = String::with_capacity(32 + reason.len());
    let _ = std::fmt::Write::write_fmt(
        &mut ok,
        format_args!(
            "{} {} in {} ms",
            facts.status.as_u16(),
            reason,
            facts.elapsed.as_millis()
        ),
    );
    verdict(problems, ok)
}

/// `expected status 200, got 503 Service Unavailable` when no pattern matches.
fn status_problem(spec: &HttpSpec, status: StatusCode) -> Option<Problem> {
    let code = status.as_u16();
    if spec.expected_status.iter().any(|p| p.matches(code)) {
        return None;
    }
    let want: Vec<String> = spec
        .expected_status
        .iter()
        .map(ToString::to_string)
        .collect();
    Some((
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
    ))
}

/// Each asserted response header must be present and contain its text.
fn header_problems(spec: &HttpSpec, got: &[Option<HeaderValue>], problems: &mut Vec<Problem>) {
    for ((name, want), got) in spec.response_headers.iter().zip(got) {
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
}

/// The body must be JSON with every asserted path (and value).
fn json_problems(spec: &HttpSpec, body: &[u8], problems: &mut Vec<Problem>) {
    let doc = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(doc) => doc,
        Err(e) => {
            problems.push((
                Status::Fail,
                Reason::HttpJson,
                format!("body is not valid JSON ({e})"),
            ));
            return;
        }
    };
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

/// `body_contains`, `body_not_contains` and `body_regex`, at the `on_body_mismatch` status.
fn body_problems(spec: &HttpSpec, text: &str, problems: &mut Vec<Problem>) {
    let status = spec.on_body_mismatch;
    for want in &spec.body_contains {
        if !text.contains(want.as_str()) {
            problems.push((
                status,
                Reason::HttpBody,
                format!("body does not contain `{want}`"),
            ));
        }
    }
    for bad in &spec.body_not_contains {
        if text.contains(bad.as_str()) {
            problems.push((
                status,
                Reason::HttpBody,
                format!("body contains forbidden `{bad}`"),
            ));
        }
    }
    if let Some(re) = &spec.body_regex
        && !re.is_match(text)
    {
        problems.push((
            status,
            Reason::HttpBody,
            format!("body does not match regex `{}`", re.as_str()),
        ));
    }
}

/// A certificate not yet valid (reached only under `insecure: true`: verification refuses
/// one), then the days left against `warn_days` / `fail_days`.
fn cert_problems(spec: &HttpSpec, c: &CertFacts, now: time::OffsetDateTime) -> Vec<Problem> {
    let mut problems = Vec::new();
    if c.not_before > now {
        problems.push((
            Status::Fail,
            Reason::TlsNotYetValid,
            format!(
                "certificate `{}` is not valid before {}",
                c.subject,
                rfc3339(c.not_before)
            ),
        ));
    }
    problems.extend(days_problem(
        c.days_left(now),
        spec.warn_days,
        spec.fail_days,
        "certificate",
        "",
    ));
    problems
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::http::spec::{ClientKey, JsonAssert};
    use reqwest::Method;
    use reqwest::header::{HeaderMap, HeaderName};

    fn spec() -> HttpSpec {
        HttpSpec {
            url: url::Url::parse("https://example.test/health").unwrap(),
            method: Method::GET,
            headers: HeaderMap::new(),
            body: None,
            expected_status: vec![StatusPattern::Exact(200)],
            body_contains: Vec::new(),
            body_not_contains: Vec::new(),
            body_regex: None,
            on_body_mismatch: Status::Warn,
            json: Vec::new(),
            response_headers: Vec::new(),
            client: ClientKey {
                insecure: false,
                ca_file: None,
                client: None,
                proxy: crate::checks::http::proxy::ProxyChoice::Direct,
            },
            max_redirects: Some(10),
            forward_headers_on_redirect: false,
            max_body: 1024,
            warn_days: None,
            fail_days: None,
        }
    }

    /// The verdict with a `warn_latency` of 500ms and a `fail_latency` of 2s.
    fn judge(spec: &HttpSpec, facts: &Facts<'_>) -> Outcome {
        let thresholds = Thresholds {
            warn_latency: Some(Duration::from_millis(500)),
            fail_latency: Some(Duration::from_secs(2)),
        };
        super::judge(spec, thresholds, facts)
    }

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn facts(status: u16, body: &[u8], ms: u64) -> Facts<'_> {
        Facts {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Vec::new(),
            body,
            elapsed: Duration::from_millis(ms),
            cert: None,
            now: now(),
        }
    }

    fn code(o: &Outcome) -> Option<&'static str> {
        o.reason.map(Reason::code)
    }

    #[test]
    fn status_classes_and_codes() {
        assert!(StatusPattern::Class(2).matches(204));
        assert!(!StatusPattern::Class(2).matches(301));
        let s = spec();
        let o = judge(&s, &facts(200, b"", 12));
        assert_eq!(
            (o.status, o.message.as_str()),
            (Status::Pass, "200 OK in 12 ms")
        );
        let o = judge(&s, &facts(503, b"", 12));
        assert_eq!(code(&o), Some("http.status"));
        assert_eq!(
            o.message,
            "expected status 200, got 503 Service Unavailable"
        );
        let mut s = spec();
        s.expected_status = vec![StatusPattern::Class(2), StatusPattern::Exact(301)];
        let o = judge(&s, &facts(404, b"", 1));
        assert_eq!(o.message, "expected status 2xx or 301, got 404 Not Found");
    }

    #[test]
    fn body_texts_use_on_body_mismatch() {
        let mut s = spec();
        s.body_contains = vec!["ok".into()];
        s.body_not_contains = vec!["error".into()];
        s.body_regex = Some(regex::Regex::new("^v[0-9]").unwrap());
        let o = judge(&s, &facts(200, b"v1 ok", 1));
        assert_eq!(o.status, Status::Pass);
        let o = judge(&s, &facts(200, b"error", 1));
        assert_eq!(o.status, Status::Warn);
        assert_eq!(code(&o), Some("http.body"));
        assert_eq!(
            o.message,
            "body does not contain `ok`; body contains forbidden `error`; body does not match regex `^v[0-9]`"
        );
        s.on_body_mismatch = Status::Fail;
        assert_eq!(judge(&s, &facts(200, b"error", 1)).status, Status::Fail);
    }

    #[test]
    fn json_and_headers() {
        let mut s = spec();
        s.json = vec![
            JsonAssert {
                path: "status".into(),
                pointer: "/status".into(),
                equals: Some(serde_json::json!("up")),
            },
            JsonAssert {
                path: "n".into(),
                pointer: "/n".into(),
                equals: Some(serde_json::json!(1)),
            },
        ];
        assert_eq!(
            judge(&s, &facts(200, br#"{"status":"up","n":1.0}"#, 1)).status,
            Status::Pass
        );
        let o = judge(&s, &facts(200, br#"{"status":"down"}"#, 1));
        assert_eq!(code(&o), Some("http.json"));
        assert_eq!(
            o.message,
            "JSON `status` is \"down\", expected \"up\"; JSON path `n` not found"
        );
        let o = judge(&s, &facts(200, b"<html>", 1));
        assert!(
            o.message.starts_with("body is not valid JSON"),
            "{}",
            o.message
        );

        let mut s = spec();
        s.response_headers = vec![
            (HeaderName::from_static("content-type"), "json".into()),
            (HeaderName::from_static("x-id"), "1".into()),
        ];
        let mut f = facts(200, b"", 1);
        f.headers = vec![Some(HeaderValue::from_static("text/html")), None];
        let o = judge(&s, &f);
        assert_eq!(code(&o), Some("http.header"));
        assert_eq!(
            o.message,
            "response header `content-type` is `text/html`, expected it to contain `json`; response header `x-id` is missing"
        );
    }

    #[test]
    fn latency_and_certificate_days() {
        let s = spec();
        let o = judge(&s, &facts(200, b"", 900));
        assert_eq!((o.status, code(&o)), (Status::Warn, Some("http.latency")));
        let o = judge(&s, &facts(200, b"", 2_500));
        assert_eq!(o.status, Status::Fail);

        let mut s = spec();
        s.warn_days = Some(30);
        s.fail_days = Some(7);
        let cert = |days: i64| CertFacts {
            subject: "CN=example.test".into(),
            issuer: "CN=ca".into(),
            not_before: now() - time::Duration::days(1),
            not_after: now() + time::Duration::days(days) + time::Duration::hours(1),
            sans: vec!["example.test".into()],
            self_issued: false,
        };
        let mut f = facts(200, b"", 1);
        f.cert = Some(cert(60));
        assert_eq!(judge(&s, &f).status, Status::Pass);
        f.cert = Some(cert(20));
        let o = judge(&s, &f);
        assert_eq!((o.status, code(&o)), (Status::Warn, Some("tls.expiring")));
        assert_eq!(o.message, "certificate expires in 20 days (warn_days 30)");
        f.cert = Some(cert(3));
        assert_eq!(judge(&s, &f).status, Status::Fail);
        let mut early = cert(60);
        early.not_before = now() + time::Duration::days(2);
        f.cert = Some(early);
        let o = judge(&s, &f);
        assert_eq!(code(&o), Some("tls.not_yet_valid"));
    }
}
