//! The endpoints of `serve`, on hyper's HTTP/1 server, optionally behind TLS (rustls with
//! the one aws-lc-rs provider): `/healthz`, `/readyz`, `/metrics`, `/api/v1/results`, `/`
//! (the live status page) and `POST /-/reload`. With a token, every endpoint but `/healthz`
//! wants `Authorization: Bearer TOKEN` (or Basic auth with the token as the password, which a
//! browser asks for by itself).

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::Shared;

type Reply = Response<Full<Bytes>>;

/// Serve connections from `listener` until `stop` resolves.
pub async fn listen(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, &req)) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    // A failed handshake is the client's problem: the connection is dropped.
                    let Ok(Ok(stream)) = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    else {
                        return;
                    };
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                None => {
                    let _ = http
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body.into())
}

/// Whether `req` carries the token (always true without one). Compared in constant time.
fn authorised(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(token) = &shared.auth_token else {
        return true;
    };
    let Some(given) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let presented = if let Some(b) = given.strip_prefix("Bearer ") {
        b.trim().as_bytes().to_vec()
    } else if let Some(b) = given.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .unwrap_or_default();
        match decoded.iter().position(|c| *c == b':') {
            Some(at) => decoded.get(at + 1..).unwrap_or_default().to_vec(),
            None => return false,
        }
    } else {
        return false;
    };
    constant_time_eq(&presented, token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn handle(shared: &Shared, req: &Request<Incoming>) -> Reply {
    let path = req.uri().path();
    let method = req.method();
    if path == "/healthz" {
        return text(StatusCode::OK, "ok\n");
    }
    if !authorised(shared, req) {
        let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"infracheck\", charset=\"UTF-8\""),
        );
        return r;
    }
    match (method, path) {
        (&Method::GET | &Method::HEAD, "/readyz") => {
            let state = shared.state();
            if state.ready() {
                text(StatusCode::OK, "ready\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "not ready: {} of {} checks have run\n",
                        state.ran(),
                        state.checks.len()
                    ),
                )
            }
        }
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let redactor = shared.redactor();
            let body = super::metrics::exposition(&shared.state(), &|s| redactor.text(s));
            reply(StatusCode::OK, super::metrics::CONTENT_TYPE, body)
        }
        (&Method::GET | &Method::HEAD, "/api/v1/results") => {
            let summary = shared.state().summary();
            match crate::report::json::render(&summary) {
                Ok(body) => reply(StatusCode::OK, "application/json", body),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot render the results: {e}\n"),
                ),
            }
        }
        (&Method::GET | &Method::HEAD, "/") => {
            let summary = shared.state().summary();
            let mut r = reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                crate::report::html::live_page(&summary),
            );
            if let Ok(v) =
                HeaderValue::from_str(&crate::report::html::live_content_security_policy())
            {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
        (&Method::POST, "/-/reload") => match shared.reload() {
            Ok(()) => text(StatusCode::OK, "reloaded\n"),
            Err(e) => text(
                StatusCode::BAD_REQUEST,
                format!("reload refused: {}\n", crate::report::one_line(&e)),
            ),
        },
        (_, "/readyz" | "/metrics" | "/api/v1/results" | "/" | "/-/reload") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The TLS acceptor for `--tls-cert` / `--tls-key` (PEM files).
pub fn tls_acceptor(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, String> {
    let certs = crate::checks::common::tls::read_pem_certs(cert)
        .map_err(|e| format!("--tls-cert {cert}: {e}"))?;
    let key_pem = std::fs::read(key).map_err(|e| format!("--tls-key {key}: {e}"))?;
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("--tls-key {key}: not valid PEM: {e}"))?
        .ok_or_else(|| format!("--tls-key {key}: no private key in the file"))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(crate::checks::common::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key_der)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
