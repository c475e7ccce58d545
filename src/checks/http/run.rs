//! One attempt of an `http_checks` entry: send, gather the [`Facts`] of the response, then let
//! [`judge`] decide.

use std::collections::BTreeMap;
use std::time::Instant;

use reqwest::header::HeaderValue;

use super::client::{Response, send};
use super::judge::{Facts, judge};
use super::spec::{HttpSpec, redacted_url};
use crate::checks::common::cert::{self, CertFacts};
use crate::checks::common::{millis, short_message};
use crate::checks::{Phase, RunContext, Thresholds};
use crate::model::{Facts as Observed, Outcome, PhaseName, Reason, Status};

/// Characters of the body shown in the metadata of a WARN or FAIL.
const EXCERPT_CHARS: usize = 300;

/// A body at least this large is judged on a blocking thread (see [`judged`]).
const OFF_THREAD_BODY: usize = 64 * 1024;

type Meta = BTreeMap<String, serde_json::Value>;

/// Run one attempt. `conditions`: the check has `expect:` conditions, so the response's
/// headers and body are kept as its facts.
pub async fn run(
    spec: &HttpSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
    conditions: bool,
) -> Outcome {
    let Some(via) = ctx.http.get(&spec.client) else {
        return Outcome::fail(
            Reason::Internal,
            "no HTTP client was prepared for this check",
        );
    };
    let start = Instant::now();
    phase.set("waiting for the response headers");
    let route = via.route;
    let resp = match send(via, spec, phase).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let status = resp.status();
    let first_byte = resp.first_byte();
    let now = time::OffsetDateTime::now_utc();
    let mut meta = response_meta(spec, &resp);
    if let Some(proxy) = route.proxy_for(resp.url()) {
        meta.insert("proxy".to_owned(), serde_json::json!(proxy.name()));
    }
    let cert = resp
        .peer_certificate()
        .or_else(|| route.peer_cert(resp.url()))
        .and_then(|der| cert::cert_facts(&der));
    if let Some(c) = &cert {
        cert_meta(c, now, &mut meta);
    }
    let mut facts = Observed::new();
    if conditions {
        facts.value("status", status.as_u16());
        header_facts(resp.headers(), &mut facts);
        if let Some(c) = &cert {
            cert::cert_values(c, now, &mut facts);
        }
    }
    // Only the asserted headers are looked at after the body is read: no copy of the whole
    // header map for a check that asserts none.
    let headers: Vec<Option<HeaderValue>> = spec
        .response_headers
        .iter()
        .map(|(name, _)| resp.headers().get(name).cloned())
        .collect();

    phase.set("reading the response body");
    let reading = Instant::now();
    let (body, last_byte) = match resp.body(spec.max_body).await {
        Ok(b) => b,
        Err(e) => return body_error(e).with_metadata(meta),
    };
    // Where the path knows when the response's bytes reached the socket (the own path's
    // kernel stamps), `transfer` and the check's clock end at the last byte it needed, not
    // when this task was woken to read it; `ttfb` ended at the first byte.
    let elapsed = match (first_byte, last_byte) {
        (Some(first), Some(last)) => {
            phase.record(PhaseName::Transfer, last.saturating_duration_since(first));
            phase.end_clock(last);
            last.saturating_duration_since(start)
        }
        _ => {
            phase.lap(PhaseName::Transfer, reading);
            start.elapsed()
        }
    };
    let truncated = body.truncated();
    meta.insert("body_bytes".to_owned(), serde_json::json!(body.kept.len()));
    if truncated {
        meta.insert("body_truncated".to_owned(), serde_json::json!(true));
    }
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    let gathered = Gathered {
        status,
        headers,
        body: body.kept,
        elapsed,
        cert,
        now,
    };
    let (outcome, kept) = judged(spec, thresholds, gathered).await;
    if conditions {
        facts.duration("latency", elapsed);
        facts.value("body", String::from_utf8_lossy(&kept).into_owned());
    }
    let mut meta = crate::model::Meta::from(meta);
    if outcome.status != Status::Pass {
        // Cut by the redactor, after the secrets in the whole body are masked.
        let text = String::from_utf8_lossy(&kept);
        let excerpt = crate::model::Text::cut(text, EXCERPT_CHARS, truncated);
        meta.insert_text("body_excerpt".to_owned(), excerpt);
    }
    outcome.with_metadata(meta).with_facts(facts)
}

/// Every response header as a fact `header.<name>` (lower case); the values of a repeated
/// header joined with `, ` (RFC 9110, section 5.3).
fn header_facts(headers: &reqwest::header::HeaderMap, facts: &mut Observed) {
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        facts.value(format!("header.{}", name.as_str()), values.join(", "));
    }
}

/// The [`Facts`] of a response, owned, so the verdict can be reached on another thread.
struct Gathered {
    status: reqwest::StatusCode,
    headers: Vec<Option<HeaderValue>>,
    body: Vec<u8>,
    elapsed: std::time::Duration,
    cert: Option<CertFacts>,
    now: time::OffsetDateTime,
}

impl Gathered {
    fn facts(&self) -> Facts<'_> {
        Facts {
            status: self.status,
            headers: self.headers.clone(),
            body: &self.body,
            elapsed: self.elapsed,
            cert: self.cert.clone(),
            now: self.now,
        }
    }
}

/// The verdict on a response, and its body back. The clock stopped at the last byte; judging
/// a large body (UTF-8 decoding, JSON parsing, regexes) is CPU work that would otherwise hold
/// the runtime thread while other checks' responses wait on it (with `--threads 1`, the only
/// one), so from [`OFF_THREAD_BODY`] on it runs on a blocking thread.
async fn judged(spec: &HttpSpec, thresholds: Thresholds, g: Gathered) -> (Outcome, Vec<u8>) {
    if g.body.len() < OFF_THREAD_BODY {
        let outcome = judge(spec, thresholds, &g.facts());
        return (outcome, g.body);
    }
    let spec = spec.clone();
    let work = tokio::task::spawn_blocking(move || (judge(&spec, thresholds, &g.facts()), g.body));
    work.await.unwrap_or_else(|e| {
        let why = format!("internal error: judging the response failed: {e}");
        (Outcome::fail(Reason::Internal, why), Vec::new())
    })
}

/// The metadata every response gives: status code, peer address, final URL, `Location`.
fn response_meta(spec: &HttpSpec, resp: &Response) -> Meta {
    let mut meta = Meta::new();
    meta.insert(
        "status_code".to_owned(),
        serde_json::json!(resp.status().as_u16()),
    );
    if let Some(addr) = resp.remote_addr() {
        // Sized once: `to_string` grows its buffer piece by piece.
        let mut text = String::with_capacity(48);
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{addr}"));
        meta.insert("remote_addr".to_owned(), serde_json::Value::String(text));
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
    meta
}

/// The server certificate's dates.
fn cert_meta(c: &CertFacts, now: time::OffsetDateTime, meta: &mut Meta) {
    meta.insert(
        "tls_days_left".to_owned(),
        serde_json::json!(c.days_left(now)),
    );
    meta.insert(
        "tls_not_before".to_owned(),
        serde_json::json!(cert::rfc3339(c.not_before)),
    );
    meta.insert(
        "tls_not_after".to_owned(),
        serde_json::json!(cert::rfc3339(c.not_after)),
    );
}

/// The outcome of a body that could not be read to its end (or its cap), from its reason and
/// message (`classify`).
fn body_error((reason, msg): (Reason, String)) -> Outcome {
    let reason = if reason == Reason::ConnectError {
        Reason::HttpBodyRead
    } else {
        reason
    };
    Outcome::fail(reason, short_message(reason, &msg))
        .with_detail(format!("reading body failed: {msg}"))
}
