//! `grpc_checks`: the standard gRPC health check, `grpc.health.v1.Health/Check`
//! (<https://github.com/grpc/grpc/blob/master/doc/health-checking.md>), through tonic's
//! generated client. The TCP connection and the TLS handshake (rustls with the one aws-lc-rs
//! provider, ALPN `h2`) are made here, so refused, unresolvable and certificate failures keep
//! the reason codes every other kind uses; the ready stream is then handed to tonic's channel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper_util::rt::TokioIo;
use reqwest::header::HeaderMap;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

mod judge;
mod reasons;
use judge::{Observed, judge};

use super::common::net;
use super::common::{self, escape};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::{Field, FieldType as T, field_table, opt, req};
use crate::reader::yaml::MapReader;

/// The serving statuses `expected` accepts.
const STATUS_NAMES: &[&str] = &["SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN"];

/// The TLS side of a gRPC check.
#[derive(Debug, Clone)]
pub struct GrpcTls {
    /// SNI and the name verified against the certificate.
    pub server_name: String,
    /// A private CA trusted in addition to the system roots.
    pub ca_file: Option<String>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// The client certificate presented when the server asks for one.
    pub client: Option<common::tls::ClientIdentity>,
}

/// A validated gRPC check.
#[derive(Debug, Clone)]
pub struct GrpcSpec {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The service asked about; empty is the whole server.
    pub service: String,
    /// TLS settings, when `tls: true`.
    pub tls: Option<GrpcTls>,
    /// Metadata sent with the call (values marked sensitive).
    pub headers: HeaderMap,
    /// The serving status that passes.
    pub expected: ServingStatus,
}

/// The grpc kind (see `src/checks/registry.rs`).
impl Kind for GrpcSpec {
    const NAME: &'static str = "grpc";

    const FIELDS: &'static [Field] = field_table![
        &[
            req(
                "target",
                T::String,
                "`host:port` of the gRPC server (`[::1]:50051` for IPv6).",
            ),
            opt(
                "service",
                T::String,
                "Service name asked about (default empty: the whole server's health).",
            ),
            opt("tls", T::Bool, "Connect with TLS (default false)."),
            opt(
                "server_name",
                T::String,
                "With `tls`: SNI and the name verified against the certificate (default: the host).",
            ),
            opt(
                "ca_file",
                T::String,
                "With `tls`: PEM file of a private CA trusted in addition to the system roots.",
            ),
        ],
        common::trust::CLIENT_FIELDS,
        &[
            opt(
                "insecure",
                T::Bool,
                "With `tls`: skip certificate verification.",
            ),
            opt(
                "headers",
                T::StringMap,
                "gRPC metadata sent with the call; values of auth-like names are secrets.",
            ),
            opt(
                "expected",
                T::Choice(STATUS_NAMES),
                "Serving status that passes (default SERVING).",
            ),
        ],
    ];

    /// The connection (lookup, TCP and TLS) and the health call over HTTP/2.
    const PHASES: &'static [PhaseName] = &[PhaseName::Connect, PhaseName::Rpc];
    const VALUES: &'static [&'static str] = &["grpc.status"];
    const LATENCY_REASON: Reason = Reason::GrpcLatency;
    const EXPECT_REASON: Reason = Reason::GrpcExpect;
    const REASONS: &'static [&'static [Reason]] = &[
        common::tls::HANDSHAKE_REASONS,
        &[
            Reason::DnsResolve,
            Reason::ConnectError,
            Reason::ConnectRefused,
            Reason::ConnectReset,
        ],
        reasons::ROWS,
    ];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let target = match r.take("target") {
            Some((n, p)) => {
                let s = ctx.non_empty(n, &p)?;
                match parse_target(&s) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        ctx.problem(n, &p, e);
                        None
                    }
                }
            }
            None => {
                ctx.problem(r.node, &r.path, "missing required key `target`");
                None
            }
        };
        let service = match r.take("service") {
            Some((n, p)) => ctx.string(n, &p).unwrap_or_default(),
            None => String::new(),
        };
        let tls = match r.take("tls") {
            Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
            None => false,
        };
        let server_name = common::trust::server_name(r, ctx)?;
        let ca_file = common::trust::ca_file(r, ctx)?;
        let insecure = common::trust::insecure(r, ctx);
        let client = common::trust::client_identity(r, ctx);
        let headers = super::http::read_headers(r, ctx);
        for name in headers.keys() {
            if name.as_str().starts_with("grpc-") || matches!(name.as_str(), "content-type" | "te")
            {
                ctx.problem(
                    r.node,
                    &r.path,
                    format!("`headers`: `{name}` is reserved by the gRPC protocol"),
                );
            }
        }
        let expected = match r.take("expected") {
            Some((n, p)) => {
                let s = ctx.string(n, &p)?;
                match ServingStatus::from_str_name(&s.trim().to_ascii_uppercase()) {
                    Some(st) => st,
                    None => {
                        ctx.problem(
                            n,
                            &p,
                            format!(
                                "unknown serving status `{s}` (expected {})",
                                STATUS_NAMES.join(", ")
                            ),
                        );
                        ServingStatus::Serving
                    }
                }
            }
            None => ServingStatus::Serving,
        };
        if !tls && (server_name.is_some() || ca_file.is_some() || insecure) {
            ctx.problem(
                r.node,
                &r.path,
                "`server_name`, `ca_file` and `insecure` apply only with `tls: true`",
            );
        }
        if !tls && client.is_some() {
            ctx.problem(
                r.node,
                &r.path,
                "`client_cert` and `client_key` apply only with `tls: true`",
            );
        }
        let (host, port) = target?;
        let tls = if tls {
            let server_name = common::trust::server_name_or_host(r, ctx, server_name, &host)?;
            Some(GrpcTls {
                server_name,
                ca_file,
                insecure,
                client,
            })
        } else {
            None
        };
        let printable = net::host_port(&host, port);
        Some((
            GrpcSpec {
                host,
                port,
                service,
                tls,
                headers,
                expected,
            },
            printable,
        ))
    }

    fn target(&self, printable: String) -> crate::model::Text {
        if self.service.is_empty() {
            printable.into()
        } else {
            crate::text!(printable, " (service ", escape(&self.service, 100), ")")
        }
    }

    fn host_key(&self) -> Option<String> {
        Some(net::host_key(&self.host, self.port))
    }

    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        self.tls.as_ref().map(|t| common::tls::TlsTrust {
            ca_file: t.ca_file.as_deref(),
            insecure: t.insecure,
        })
    }

    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, ctx, phase).await
    }
}

/// Split `host:port` (`[v6]:port` for an IPv6 literal).
fn parse_target(s: &str) -> Result<(String, u16), String> {
    let s = s.trim();
    if s.contains("://") {
        return Err(format!(
            "expected `host:port`, found the URL `{s}` (write it without the scheme)"
        ));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, port) = rest
            .split_once("]:")
            .ok_or_else(|| format!("expected `[address]:port`, found `{s}`"))?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("invalid IPv6 address `{h}` in `{s}`"));
        }
        (h, port)
    } else {
        let (h, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("expected `host:port`, found `{s}` (the port is required)"))?;
        if h.contains(':') {
            return Err(format!(
                "expected `host:port`, found `{s}` (write an IPv6 address in brackets: `[::1]:50051`)"
            ));
        }
        (h, port)
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!("invalid host `{host}` in `{s}`"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host.to_owned(), p)),
        _ => Err(format!(
            "invalid port `{port}` in `{s}` (must be between 1 and 65535)"
        )),
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// Run one attempt.
pub async fn run(
    spec: &GrpcSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
) -> Outcome {
    let start = Instant::now();
    let mut meta = BTreeMap::new();
    let (tcp_stream, addr) = match net::connect(&spec.host, spec.port, phase).await {
        Ok(s) => s,
        Err(mut o) => {
            if o.reason == Some(Reason::TcpRefused) {
                o.reason = Some(Reason::ConnectRefused);
            }
            return o;
        }
    };
    meta.insert(
        "remote_addr".to_owned(),
        serde_json::json!(addr.to_string()),
    );
    let stream: Box<dyn Stream> = match &spec.tls {
        Some(tls) => match handshake(tls, tcp_stream, ctx, phase).await {
            Ok(s) => s,
            Err(o) => return o.with_metadata(meta),
        },
        None => Box::new(tcp_stream),
    };
    // gRPC's `connect` is the lookup, the TCP connection and TLS as one span: the spans the
    // shared connect helper recorded give way to it.
    // The wait for the TLS preparation is outside the check's clock and so outside `connect`.
    let _ = phase.take_times();
    phase.record(PhaseName::Connect, phase.clocked(start));
    let connected = Instant::now();
    let observed = match call(spec, stream, phase).await {
        Ok(o) => o,
        Err(o) => return o.with_metadata(meta),
    };
    phase.lap(PhaseName::Rpc, connected);
    let elapsed = phase.clocked(start);
    judge(spec, &observed, elapsed, thresholds).with_metadata(meta)
}

/// TLS over the connected stream, offering ALPN `h2`, once the TLS preparation is done (a
/// wait outside the check's clock, [`RunContext::tls_ready`]); failures get the `tls.*`
/// reasons.
async fn handshake(
    tls: &GrpcTls,
    tcp_stream: tokio::net::TcpStream,
    ctx: &RunContext,
    phase: &Phase,
) -> Result<Box<dyn Stream>, Outcome> {
    ctx.tls_ready(phase).await;
    phase.set("TLS handshake");
    let mut config = common::tls::client_config(
        tls.ca_file.as_deref(),
        tls.insecure,
        rustls::DEFAULT_VERSIONS,
        tls.client.as_ref(),
    )
    .map_err(|e| Outcome::fail(Reason::Internal, e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = ServerName::try_from(tls.server_name.clone()).map_err(|e| {
        Outcome::fail(
            Reason::Internal,
            format!("invalid server name `{}`: {e}", tls.server_name),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match connector.connect(name, tcp_stream).await {
        Ok(s) => Ok(Box::new(s)),
        Err(e) => {
            let rustls_err = common::tls::rustls_error_of(&e);
            let reason = common::tls::handshake_reason(&e);
            let msg = match (reason, rustls_err) {
                (Reason::TlsNameMismatch, _) => format!(
                    "TLS handshake failed: the certificate is not valid for `{}` ({e})",
                    tls.server_name
                ),
                (_, None) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    "the peer closed the connection during the TLS handshake".to_owned()
                }
                _ => format!("TLS handshake failed: {e}"),
            };
            Err(Outcome::fail(reason, msg))
        }
    }
}

/// HTTP/2 over `stream`, then `Health/Check`. A transport failure is the finished outcome.
async fn call(
    spec: &GrpcSpec,
    stream: Box<dyn Stream>,
    phase: &Phase,
) -> Result<Observed, Outcome> {
    // `:authority` names the server as TLS does (`server_name`), like gRPC's own clients with
    // a name override; without TLS it is the target.
    let (scheme, authority) = match &spec.tls {
        Some(tls) => ("https", net::host_port(&tls.server_name, spec.port)),
        None => ("http", net::host_port(&spec.host, spec.port)),
    };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{authority}"))
        .and_then(|e| e.user_agent(concat!("infracheck/", env!("CARGO_PKG_VERSION"))))
        .map_err(|e| {
            Outcome::fail(
                Reason::Internal,
                format!("invalid gRPC endpoint `{authority}`: {e}"),
            )
        })?;
    // The channel asks its connector for a stream; it gets the one made above, once. A
    // reconnect (the server went away) finds the slot empty and fails the call.
    let slot = Arc::new(Mutex::new(Some(stream)));
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let io = slot.lock().ok().and_then(|mut s| s.take());
        std::future::ready(io.map(TokioIo::new).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the server closed the connection",
            )
        }))
    });
    phase.set("HTTP/2 handshake");
    let channel = endpoint
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            transport_failure(
                "HTTP/2 connection failed",
                e.to_string(),
                std::error::Error::source(&e),
            )
        })?;
    let mut client = HealthClient::new(channel);
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: spec.service.clone(),
    });
    *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(spec.headers.clone());
    phase.set("waiting for Health/Check");
    match client.check(request).await {
        Ok(resp) => Ok(Observed::Serving(resp.into_inner().status)),
        Err(status) => {
            // A status tonic made from a broken connection carries the transport error as its
            // source; a status the server sent has none.
            if std::error::Error::source(&status).is_some() {
                return Err(transport_failure(
                    "Health/Check failed",
                    status.message().to_owned(),
                    std::error::Error::source(&status),
                ));
            }
            Ok(Observed::Error(status.code(), status.message().to_owned()))
        }
    }
}

/// A failure below gRPC (HTTP/2 or the socket): `connect.reset` when the peer closed or reset
/// the connection, otherwise `connect.error`, with `head` and the error chain as the message.
fn transport_failure(
    during: &str,
    head: String,
    source: Option<&(dyn std::error::Error + 'static)>,
) -> Outcome {
    let mut parts: Vec<String> = vec![head];
    parts.retain(|p| !p.is_empty());
    let mut reset = false;
    let mut source = source;
    for _ in 0..8 {
        let Some(e) = source else { break };
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            reset |= matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            reset |= h.is_incomplete_message() || h.is_closed() || h.is_canceled();
        }
        source = e.source();
    }
    let reason = if reset {
        Reason::ConnectReset
    } else {
        Reason::ConnectError
    };
    Outcome::fail(
        reason,
        crate::text!("{during}: ", escape(&parts.join(": "), 500)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("127.0.0.1:50051"),
            Ok(("127.0.0.1".into(), 50051))
        );
        assert_eq!(parse_target("[::1]:443"), Ok(("::1".into(), 443)));
        assert_eq!(
            parse_target(" api.example.com:8443 "),
            Ok(("api.example.com".into(), 8443))
        );
        for bad in [
            "api.example.com",
            "::1:443",
            "http://a:1",
            "a:0",
            "a:99999",
            ":80",
            "[zz]:1",
            "a b:1",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
