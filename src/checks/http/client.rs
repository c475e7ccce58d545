//! The wire side of `http_checks`: one reqwest client per trust setting, the request with its
//! redirects followed hop by hop, and transport errors mapped to reason codes.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, redirect};

use super::direct::{self, Direct};
use super::phases::{ConnectTiming, TimedResolver, TlsStartMark, timed, timed_send};
use super::proxy::Route;
use super::spec::{ClientKey, HttpSpec};
use crate::checks::common::{self, short_message};
use crate::checks::{CheckDef, CheckSpec, Phase};
use crate::model::{Outcome, Reason};

/// One reqwest client per distinct TLS/proxy setting, built once per run, with the route
/// (proxy choice) it follows.
/// Plain `http://` requests on a direct route share one pool of the own HTTP/1.1 path
/// (`direct.rs`).
pub struct Clients {
    by_key: HashMap<ClientKey, (reqwest::Client, Arc<Route>)>,
    direct: Direct,
}

/// What a check sends through: its reqwest client, its route, the own HTTP/1.1 path.
#[derive(Clone, Copy)]
pub(super) struct Via<'a> {
    pub(super) client: &'a reqwest::Client,
    pub(super) route: &'a Route,
    direct: &'a Direct,
}

impl Clients {
    /// The client prepared for `key`, its route, and the own HTTP/1.1 path.
    pub(super) fn get(&self, key: &ClientKey) -> Option<Via<'_>> {
        self.by_key.get(key).map(|(c, r)| Via {
            client: c,
            route: r.as_ref(),
            direct: &self.direct,
        })
    }

    /// Close the own path's idle keep-alive connections ([`Direct::close_idle`]). The reqwest
    /// clients' pools (`https://`, proxies) close theirs when the clients go.
    pub fn close_idle(&self) {
        self.direct.close_idle();
    }

    /// No request will be sent any more: the own path's idle connections are closed, and each
    /// one given back from now on ([`Direct::close_for_good`]).
    pub fn close_for_good(&self) {
        self.direct.close_for_good();
    }

    /// How many idle keep-alive connections the own path holds.
    #[cfg(test)]
    pub(crate) fn idle_connections(&self) -> usize {
        self.direct.idle_connections()
    }

    /// Build the clients the checks need.
    pub fn build(checks: &[CheckDef]) -> Result<Self, String> {
        let mut by_key = HashMap::new();
        let mut plain = false;
        for c in checks {
            let CheckSpec::Http(spec) = &c.spec else {
                continue;
            };
            plain |= spec.url.scheme() == "http";
            if by_key.contains_key(&spec.client) {
                continue;
            }
            by_key.insert(spec.client.clone(), build_client(&spec.client)?);
        }
        Ok(Clients {
            by_key,
            direct: Direct::new(plain),
        })
    }
}

fn build_client(key: &ClientKey) -> Result<(reqwest::Client, Arc<Route>), String> {
    let route = Arc::new(Route::new(&key.proxy));
    // Built before the run: the verifier is looked up at the first handshake (by then the
    // check has waited for the TLS preparation, outside its clock), so building a client
    // reads no trust store, and a client for plain `http` never does.
    let mut tls = common::tls::deferred_client_config(
        key.ca_file.as_deref(),
        key.insecure,
        key.client.as_deref(),
        |v| {
            if route.is_direct() {
                v
            } else {
                // Through a tunnel, the server's certificate is kept by the verifier.
                route.recording(v)
            }
        },
    )?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The three hooks that time a new connection's phases (see `phases.rs`).
    tls.resumption = rustls::client::Resumption::store(Arc::new(TlsStartMark::new()));
    // Never reqwest's own reading of the environment: the route decides (see `proxy.rs`).
    let builder = match route.reqwest_proxy() {
        Some(p) => reqwest::Client::builder().no_proxy().proxy(p),
        None => reqwest::Client::builder().no_proxy(),
    };
    let client = builder
        .dns_resolver(Arc::new(TimedResolver))
        .connector_layer(ConnectTiming)
        .use_preconfigured_tls(tls)
        .tls_info(true)
        // `send` follows redirects itself; no `Referer` ever tells the next server where the
        // check came from.
        .redirect(redirect::Policy::none())
        .referer(false)
        .user_agent(direct::AGENT)
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        // No TCP keep-alive probes: a check's request is bounded by its timeout and an idle
        // pooled connection by the idle timeout above, so probes after 15 s idle never help;
        // setting them costs four `setsockopt` calls on every new connection.
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None)
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))?;
    Ok((client, route))
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
/// as a GET without a body, as browsers do. Each hop's phases add up in `phase`. A hop to a
/// plain `http://` URL that no proxy applies to goes through the own HTTP/1.1 path
/// ([`direct`]), any other through reqwest; a redirect may cross from one to the other.
pub(super) async fn send(
    via: Via<'_>,
    spec: &HttpSpec,
    phase: &Phase,
) -> Result<Response, Outcome> {
    let Via {
        client,
        route,
        direct,
    } = via;
    use reqwest::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
    // The first request is built straight from the spec; the copies a redirect changes are
    // made only when one is followed.
    let mut url = std::borrow::Cow::Borrowed(&spec.url);
    let mut method = spec.method.clone();
    let mut body = spec.body.as_deref();
    let mut headers = std::borrow::Cow::Borrowed(&spec.headers);
    let mut hops = 0usize;
    loop {
        let resp = if Direct::takes(&method, &url) && route.proxy_for(&url).is_none() {
            tracing::debug!(url = %super::redacted_url(&url), "http: own HTTP/1.1 path");
            let sending = direct.send(&method, &url, &headers, body);
            let resp = timed(sending, phase, |r| r.first_byte)
                .await
                .map_err(|e| direct_error(&e))?;
            Response::Own(Box::new(resp))
        } else {
            tracing::debug!(url = %super::redacted_url(&url), "http: reqwest");
            let mut req = client.request(method.clone(), url.as_ref().clone());
            if !headers.is_empty() {
                req = req.headers(headers.as_ref().clone());
            }
            if let Some(b) = body {
                req = req.body(b.to_owned());
            }
            let resp = timed_send(req, phase)
                .await
                .map_err(|e| request_error(&e, route, &url))?;
            Response::Reqwest(resp)
        };
        let status = resp.status().as_u16();
        if let Some(refused) = route.refused_response(&url, status) {
            return Err(refused);
        }
        let Some(max) = spec.max_redirects else {
            return Ok(resp);
        };
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
        // The redirect's own small body is read, so that its connection can serve the next
        // hop (hyper drains it the same way behind the reqwest path); a larger one is left
        // and its connection closed.
        if let Response::Own(r) = resp {
            let _ = r.body(REDIRECT_BODY_DRAINED).await;
        }
    }
}

/// The most of a redirect's body read so that its connection is reused for the next hop.
const REDIRECT_BODY_DRAINED: usize = 64 * 1024;

/// A response of either path, its body not yet read.
#[derive(Debug)]
pub(super) enum Response {
    Reqwest(reqwest::Response),
    Own(Box<direct::Response>),
}

impl Response {
    pub(super) fn status(&self) -> reqwest::StatusCode {
        match self {
            Response::Reqwest(r) => r.status(),
            Response::Own(r) => r.status,
        }
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        match self {
            Response::Reqwest(r) => r.headers(),
            Response::Own(r) => &r.headers,
        }
    }

    /// The URL of the request this response answers (the last hop's).
    pub(super) fn url(&self) -> &url::Url {
        match self {
            Response::Reqwest(r) => r.url(),
            Response::Own(r) => &r.url,
        }
    }

    pub(super) fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Response::Reqwest(r) => r.remote_addr(),
            Response::Own(r) => r.remote_addr,
        }
    }

    /// The certificate the server presented on a direct TLS connection (DER).
    pub(super) fn peer_certificate(&self) -> Option<Vec<u8>> {
        match self {
            Response::Reqwest(r) => r
                .extensions()
                .get::<reqwest::tls::TlsInfo>()
                .and_then(|i| i.peer_certificate().map(<[u8]>::to_vec)),
            Response::Own(_) => None,
        }
    }

    /// When the response's first byte reached the socket, where the path knows it (the own
    /// path's kernel stamps, `stamps.rs`).
    pub(super) fn first_byte(&self) -> Option<Instant> {
        match self {
            Response::Reqwest(_) => None,
            Response::Own(r) => r.first_byte,
        }
    }

    /// Read the body up to `cap`, with when its last byte reached the socket where the path
    /// knows it; a failure as its reason and message (chain).
    pub(super) async fn body(
        self,
        cap: usize,
    ) -> Result<(crate::checks::common::capped::Capped, Option<Instant>), (Reason, String)> {
        match self {
            Response::Reqwest(r) => crate::checks::common::capped::body(r, cap)
                .await
                .map(|b| (b, None))
                .map_err(|e| classify(&e)),
            Response::Own(r) => r.body(cap).await.map_err(|e| classify_direct(&e)),
        }
    }
}

/// The outcome of a request of the own path that failed (no proxy is involved there).
fn direct_error(e: &direct::Error) -> Outcome {
    let (reason, msg) = classify_direct(e);
    Outcome::fail(reason, short_message(reason, &msg)).with_detail(msg)
}

/// [`classify`] for an error of the own path.
fn classify_direct(e: &direct::Error) -> (Reason, String) {
    classify_chain(
        e.to_string(),
        e.source(),
        Flags {
            timeout: false,
            redirect: false,
            body: e.is_body(),
        },
    )
}

fn request_error(e: &reqwest::Error, route: &Route, url: &url::Url) -> Outcome {
    let (reason, msg) = classify(e);
    if let Some(proxy) = route.failed(url, e, reason, &msg) {
        return proxy;
    }
    // A certificate refused as not yet valid: its notBefore comes with the rustls error.
    if let Some(not_before) = rustls_error(e).and_then(common::tls::not_before_of) {
        let date = common::cert::rfc3339(not_before);
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
    let top = e.to_string();
    let top = match e.url() {
        Some(u) => top
            .replace(&format!(" ({u})"), "")
            .replace(u.as_str(), "<url>"),
        None => top,
    };
    let flags = Flags {
        timeout: e.is_timeout(),
        redirect: e.is_redirect(),
        body: e.is_body() || e.is_decode(),
    };
    classify_chain(top, e.source(), flags)
}

/// What the error of either path says of itself beyond its chain of causes.
struct Flags {
    /// reqwest's `is_timeout` (the own path has no timer of its own: a timed-out OS call
    /// shows in the chain).
    timeout: bool,
    redirect: bool,
    /// A failure while reading the body.
    body: bool,
}

/// The reason and message of an error: its text `top` (no URL) and its chain of causes.
fn classify_chain(
    top: String,
    mut source: Option<&(dyn std::error::Error + 'static)>,
    flags: Flags,
) -> (Reason, String) {
    let mut parts: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut tls_reason = None;
    let mut hyper_parse = false;
    let mut hyper_incomplete = false;
    let mut hyper_timeout = false;
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
                    tls_reason.get_or_insert(common::tls::reason_for(t));
                    break;
                }
                inner = e.downcast_ref::<std::io::Error>().and_then(|i| i.get_ref());
            }
        }
        if let Some(t) = s.downcast_ref::<rustls::Error>() {
            tls_reason.get_or_insert(common::tls::reason_for(t));
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            hyper_parse |= h.is_parse() || h.is_parse_status();
            hyper_incomplete |= h.is_incomplete_message();
            hyper_timeout |= h.is_timeout();
        }
        source = s.source();
    }
    let joined = parts.join(": ");
    let lower = joined.to_ascii_lowercase();
    let reason = if let Some(t) = tls_reason {
        t
    } else if flags.timeout || hyper_timeout || io_kind == Some(std::io::ErrorKind::TimedOut) {
        Reason::Timeout
    } else if flags.redirect {
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
    } else if flags.body {
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
}
