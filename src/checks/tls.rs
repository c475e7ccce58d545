//! `tls_checks`: connect, handshake with SNI, verify the chain (system roots or `ca_file`) and
//! the name, then report the certificate facts — also when verification failed, so an expired
//! certificate's dates still reach the report.

mod reasons;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::cert::{CertFacts, cert_facts, rfc3339};
use super::common::net::{self, CONNECT_REASONS};
use super::common::{self, Problem, days_problem, latency_problem, millis, verdict};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason, Status};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::{Field, FieldType as T, field_table, opt, req};
use crate::reader::yaml::MapReader;

/// Default port.
pub const DEFAULT_PORT: u16 = 443;
/// Default WARN threshold in days left.
pub const DEFAULT_WARN_DAYS: i64 = 30;
/// Default FAIL threshold in days left.
pub const DEFAULT_FAIL_DAYS: i64 = 7;

/// A TLS protocol version, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (never negotiated: rustls speaks 1.2 and 1.3 only).
    V1_0,
    /// TLS 1.1 (never negotiated).
    V1_1,
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    fn parse(s: &str) -> Option<TlsVersion> {
        let s = s.trim().to_ascii_lowercase();
        let s = s
            .strip_prefix("tlsv")
            .or_else(|| s.strip_prefix("tls"))
            .unwrap_or(&s)
            .trim();
        match s {
            "1.0" | "1" => Some(TlsVersion::V1_0),
            "1.1" => Some(TlsVersion::V1_1),
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }

    fn from_rustls(v: rustls::ProtocolVersion) -> Option<TlsVersion> {
        match v {
            rustls::ProtocolVersion::TLSv1_0 => Some(TlsVersion::V1_0),
            rustls::ProtocolVersion::TLSv1_1 => Some(TlsVersion::V1_1),
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::V1_2),
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::V1_3),
            _ => None,
        }
    }

    /// `TLS 1.3`.
    pub fn label(self) -> &'static str {
        match self {
            TlsVersion::V1_0 => "TLS 1.0",
            TlsVersion::V1_1 => "TLS 1.1",
            TlsVersion::V1_2 => "TLS 1.2",
            TlsVersion::V1_3 => "TLS 1.3",
        }
    }
}

/// A validated TLS check.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    /// Host name or IP address to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// SNI and the name verified against the certificate.
    pub server_name: String,
    /// Fewer days left than this is WARN.
    pub warn_days: i64,
    /// Fewer days left than this is FAIL.
    pub fail_days: i64,
    /// A private CA trusted in addition to the system roots.
    pub ca_file: Option<String>,
    /// The client certificate presented when the server asks for one.
    pub client: Option<common::tls::ClientIdentity>,
    /// The lowest acceptable negotiated version.
    pub min_version: Option<TlsVersion>,
}

/// Run one attempt: connect at once, then wait for the TLS preparation (the trust store and
/// the random generator, [`RunContext::tls_ready`]) outside the check's clock, then handshake.
/// The check's latency is its lookup, connect and handshake.
pub async fn run(
    spec: &TlsSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
) -> Outcome {
    let start = Instant::now();
    let Ok(name) = ServerName::try_from(spec.server_name.clone()) else {
        return Outcome::fail(
            Reason::Internal,
            format!("invalid server name `{}`", spec.server_name),
        );
    };
    let (stream, addr) = match net::connect(&spec.host, spec.port, phase).await {
        Ok(s) => s,
        Err(o) => return o.with_meta("server_name", spec.server_name.clone()),
    };
    let shaking = ctx.tls_ready(phase).await;
    // The verifier keeps the presented chain and its verdict, so the facts of a rejected
    // certificate can still be reported.
    let verifier = match common::tls::RecordingVerifier::for_trust(spec.ca_file.as_deref(), false) {
        Ok(v) => Arc::new(v.keeping_chain()),
        Err(e) => return Outcome::fail(Reason::Internal, e),
    };
    let mut config = match common::tls::config_with_verifier(
        verifier.clone(),
        rustls::ALL_VERSIONS,
        spec.client.as_ref(),
    ) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(Reason::Internal, e),
    };
    let asked = Arc::new(AskedForCert {
        inner: Arc::clone(&config.client_auth_cert_resolver),
        asked: AtomicBool::new(false),
    });
    config.client_auth_cert_resolver = Arc::clone(&asked) as Arc<dyn ResolvesClientCert>;
    let mut meta = BTreeMap::new();
    meta.insert(
        "remote_addr".to_owned(),
        serde_json::json!(addr.to_string()),
    );
    meta.insert(
        "server_name".to_owned(),
        serde_json::json!(spec.server_name),
    );
    phase.set("TLS handshake");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut result = connector.connect(name, stream).await;
    // In TLS 1.3 the client's handshake ends before the server has judged its certificate: a
    // server that asked for one gives its verdict after (an alert, or nothing). The check
    // closes its side and reads that verdict as part of the handshake.
    let asked_for_cert = asked.asked.load(Ordering::Relaxed);
    if asked_for_cert && let Ok(tls) = &mut result {
        let tls13 = tls.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
        if tls13 && let Err(e) = server_verdict(tls).await {
            result = Err(e);
        }
    }
    phase.lap(PhaseName::Handshake, shaking);
    let elapsed = phase.clocked(start);
    let now = time::OffsetDateTime::now_utc();
    let chain: Vec<CertFacts> = verifier
        .chain()
        .iter()
        .filter_map(|d| cert_facts(d))
        .collect();
    cert_meta(&chain, now, &mut meta);
    let mut facts = crate::model::Facts::new();
    if let Some(leaf) = chain.first() {
        common::cert::cert_values(leaf, now, &mut facts);
        facts.duration("latency", elapsed);
    }

    let mut tls = match result {
        Ok(s) => s,
        Err(e) => {
            let err = verifier
                .error()
                .or_else(|| common::tls::rustls_error_of(&e).cloned());
            if asked_for_cert
                && let Some(rustls::Error::AlertReceived(alert)) = &err
                && is_client_cert_alert(*alert)
            {
                return client_cert_refused(spec, *alert)
                    .with_metadata(meta)
                    .with_facts(facts);
            }
            return handshake_failure(spec, err.as_ref(), &e, &chain, now)
                .with_metadata(meta)
                .with_facts(facts);
        }
    };
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().and_then(TlsVersion::from_rustls);
    if let Some(v) = version {
        meta.insert("protocol".to_owned(), serde_json::json!(v.label()));
    }
    if let Some(cs) = conn.negotiated_cipher_suite() {
        meta.insert(
            "cipher_suite".to_owned(),
            serde_json::json!(format!("{:?}", cs.suite())),
        );
    }
    meta.insert(
        "handshake_ms".to_owned(),
        serde_json::json!(millis(elapsed)),
    );
    let _ = tls.shutdown().await;

    judge(spec, version, &chain, elapsed, thresholds, now)
        .with_metadata(meta)
        .with_facts(facts)
}

/// Asks the wrapped resolver for the client certificate and keeps whether the server asked for
/// one (a TLS CertificateRequest).
#[derive(Debug)]
struct AskedForCert {
    inner: Arc<dyn ResolvesClientCert>,
    asked: AtomicBool,
}

impl ResolvesClientCert for AskedForCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        self.inner.resolve(root_hint_subjects, sigschemes)
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// After a TLS 1.3 handshake in which the server asked for a client certificate: close the
/// check's side (close_notify) and read until the server closes, sends data or refuses the
/// certificate with an alert (the error returned). Bounded: the first read that returns
/// anything ends it, and the check's timeout bounds the wait.
async fn server_verdict(
    tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> Result<(), std::io::Error> {
    // A server that already refused may have closed: the alert is still there to read.
    let _ = tls.shutdown().await;
    let mut buf = [0u8; 512];
    match tls.read(&mut buf).await {
        Err(e) if common::tls::rustls_error_of(&e).is_some() => Err(e),
        // Data, a close or a connection error without an alert: no refusal was heard.
        _ => Ok(()),
    }
}

/// Alerts a server sends about the client's certificate (RFC 8446 section 6.2).
fn is_client_cert_alert(alert: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        alert,
        A::CertificateRequired
            | A::HandshakeFailure
            | A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
    )
}

/// The outcome of a handshake the server ended with an alert after asking for a client
/// certificate: the certificate was missing or refused.
fn client_cert_refused(spec: &TlsSpec, alert: rustls::AlertDescription) -> Outcome {
    let message = match &spec.client {
        None => format!(
            "the server requires a client certificate and none is configured (`client_cert`, `client_key`): alert {alert:?}"
        ),
        Some(id) => format!(
            "the server refused the client certificate {}: alert {alert:?}",
            id.cert_file()
        ),
    };
    Outcome::fail(Reason::TlsHandshake, message)
}

/// The verdict on a completed handshake: the negotiated `version` against `min_version`, the
/// chain certificate expiring first against the days thresholds, and the latency.
fn judge(
    spec: &TlsSpec,
    version: Option<TlsVersion>,
    chain: &[CertFacts],
    elapsed: Duration,
    thresholds: Thresholds,
    now: time::OffsetDateTime,
) -> Outcome {
    let mut problems: Vec<Problem> = Vec::new();
    if let (Some(min), Some(got)) = (spec.min_version, version)
        && got < min
    {
        problems.push((
            Status::Fail,
            Reason::TlsVersion,
            format!(
                "negotiated {}, below min_version {}",
                got.label(),
                min.label()
            ),
        ));
    }
    if let Some((idx, c)) = earliest(chain) {
        let which = if idx == 0 {
            "certificate".to_owned()
        } else {
            format!("chain certificate `{}`", c.subject)
        };
        let date = format!(" on {}", rfc3339(c.not_after));
        problems.extend(days_problem(
            c.days_left(now),
            Some(spec.warn_days),
            Some(spec.fail_days),
            &which,
            &date,
        ));
    } else {
        problems.push((
            Status::Fail,
            Reason::TlsInvalid,
            "the server's certificate could not be parsed".to_owned(),
        ));
    }
    problems.extend(latency_problem(elapsed, thresholds, Reason::TlsLatency));
    let days = chain
        .first()
        .map(|c| format!(", {} days left", c.days_left(now)))
        .unwrap_or_default();
    let proto = version
        .map(|v| format!(" over {}", v.label()))
        .unwrap_or_default();
    let ok = format!("certificate valid for {}{days}{proto}", spec.server_name);
    verdict(problems, ok)
}

/// `certificate `CN=…` is not valid before …`: the message of `tls.not_yet_valid`.
fn not_yet_valid_message(idx: usize, c: &CertFacts) -> String {
    let which = if idx == 0 {
        "certificate"
    } else {
        "chain certificate"
    };
    format!(
        "{which} `{}` is not valid before {}",
        c.subject,
        rfc3339(c.not_before)
    )
}

/// The chain certificate expiring first, with its position (0 = leaf).
fn earliest(chain: &[CertFacts]) -> Option<(usize, &CertFacts)> {
    chain.iter().enumerate().min_by_key(|(_, c)| c.not_after)
}

fn cert_meta(
    chain: &[CertFacts],
    now: time::OffsetDateTime,
    meta: &mut BTreeMap<String, serde_json::Value>,
) {
    let Some(leaf) = chain.first() else {
        return;
    };
    meta.insert(
        "days_left".to_owned(),
        serde_json::json!(leaf.days_left(now)),
    );
    meta.insert(
        "not_before".to_owned(),
        serde_json::json!(rfc3339(leaf.not_before)),
    );
    meta.insert(
        "not_after".to_owned(),
        serde_json::json!(rfc3339(leaf.not_after)),
    );
    meta.insert("subject".to_owned(), serde_json::json!(leaf.subject));
    meta.insert("issuer".to_owned(), serde_json::json!(leaf.issuer));
    meta.insert("sans".to_owned(), serde_json::json!(leaf.sans));
    meta.insert("chain_length".to_owned(), serde_json::json!(chain.len()));
    if let Some((_, c)) = earliest(chain) {
        meta.insert(
            "chain_earliest_not_after".to_owned(),
            serde_json::json!(rfc3339(c.not_after)),
        );
        meta.insert(
            "chain_min_days_left".to_owned(),
            serde_json::json!(c.days_left(now)),
        );
        meta.insert(
            "chain_earliest_subject".to_owned(),
            serde_json::json!(c.subject),
        );
    }
}

/// The outcome of a failed handshake: certificate problems get their own reason.
fn handshake_failure(
    spec: &TlsSpec,
    err: Option<&rustls::Error>,
    io: &std::io::Error,
    chain: &[CertFacts],
    now: time::OffsetDateTime,
) -> Outcome {
    let Some(err) = err else {
        let msg = match io.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "the peer closed the connection during the TLS handshake".to_owned()
            }
            _ => format!("TLS handshake failed: {io}"),
        };
        return Outcome::fail(Reason::TlsHandshake, msg);
    };
    let leaf = chain.first();
    let mut reason = common::tls::reason_for(err);
    if matches!(
        err,
        rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
                | rustls::PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
        ) | rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
    ) {
        reason = Reason::TlsVersion;
    }
    if matches!(reason, Reason::TlsUntrusted | Reason::TlsInvalid)
        && leaf.is_some_and(|l| l.self_issued)
    {
        reason = Reason::TlsSelfSigned;
    }
    let message = match (reason, leaf) {
        (Reason::TlsExpired, _) => match chain
            .iter()
            .filter(|c| c.not_after < now)
            .min_by_key(|c| c.not_after)
        {
            Some(c) => format!(
                "certificate `{}` expired on {} ({} days ago)",
                c.subject,
                rfc3339(c.not_after),
                -c.days_left(now)
            ),
            None => format!("certificate expired: {err}"),
        },
        (Reason::TlsNotYetValid, _) => {
            match chain.iter().enumerate().find(|(_, c)| c.not_before > now) {
                Some((idx, c)) => not_yet_valid_message(idx, c),
                None => format!("certificate not yet valid: {err}"),
            }
        }
        (Reason::TlsNameMismatch, Some(l)) => format!(
            "certificate is valid for [{}], not for `{}`",
            l.sans.join(", "),
            spec.server_name
        ),
        (Reason::TlsSelfSigned, Some(l)) => {
            format!("self-signed certificate `{}` is not trusted", l.subject)
        }
        (Reason::TlsUntrusted, Some(l)) => {
            let trust = if spec.ca_file.is_some() {
                "the system roots or ca_file"
            } else {
                "the system roots (set `ca_file` for a private CA)"
            };
            format!(
                "certificate issuer `{}` is not trusted by {trust}",
                l.issuer
            )
        }
        (Reason::TlsVersion, _) => format!("the server does not offer TLS 1.2 or 1.3 ({err})"),
        _ => format!("TLS handshake failed: {err}"),
    };
    Outcome::fail(reason, message)
}

/// The tls kind (see `src/checks/registry.rs`).
impl Kind for TlsSpec {
    const NAME: &'static str = "tls";

    const FIELDS: &'static [Field] = field_table![
        &[
            req("host", T::String, "Host name or IP address."),
            opt("port", T::Integer, "TCP port (default 443)."),
            opt(
                "server_name",
                T::String,
                "SNI and the name verified against the certificate (default: host).",
            ),
        ],
        common::trust::DAYS_FIELDS,
        &[common::trust::CA_FILE_FIELD],
        common::trust::CLIENT_FIELDS,
        &[opt(
            "min_version",
            T::Choice(&["1.0", "1.1", "1.2", "1.3"]),
            "Lowest acceptable negotiated TLS version.",
        ),],
    ];

    /// The lookup (not for an IP literal), the TCP connection and the TLS handshake.
    const PHASES: &'static [PhaseName] =
        &[PhaseName::Dns, PhaseName::Connect, PhaseName::Handshake];
    const VALUES: &'static [&'static str] =
        &["cert.days_left", "cert.issuer", "cert.subject", "cert.sans"];
    const LATENCY_REASON: Reason = Reason::TlsLatency;
    const EXPECT_REASON: Reason = Reason::TlsExpect;
    const REASONS: &'static [&'static [Reason]] = &[
        CONNECT_REASONS,
        common::tls::HANDSHAKE_REASONS,
        &[Reason::TlsExpiring],
        reasons::ROWS,
    ];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let host = net::host(r, ctx);
        let port = net::port(r, ctx, Some(DEFAULT_PORT));
        let server_name = common::trust::server_name(r, ctx)?;
        let warn_days = common::trust::days(r, ctx, "warn_days").unwrap_or(DEFAULT_WARN_DAYS);
        let fail_days = common::trust::days(r, ctx, "fail_days").unwrap_or(DEFAULT_FAIL_DAYS);
        if fail_days > warn_days {
            ctx.problem(
                r.node,
                &r.path,
                format!(
                    "`fail_days` ({fail_days}) must not be greater than `warn_days` ({warn_days})"
                ),
            );
        }
        let ca_file = common::trust::ca_file(r, ctx)?;
        let client = common::trust::client_identity(r, ctx);
        let min_version = match r.take("min_version") {
            Some((n, p)) => {
                let s = ctx.string(n, &p)?;
                match TlsVersion::parse(&s) {
                    Some(v) => Some(v),
                    None => {
                        ctx.problem(
                            n,
                            &p,
                            format!("unsupported min_version `{s}` (use \"1.0\", \"1.1\", \"1.2\" or \"1.3\")"),
                        );
                        None
                    }
                }
            }
            None => None,
        };
        let (host, port) = (host?, port?);
        let server_name = common::trust::server_name_or_host(r, ctx, server_name, &host)?;
        let mut target = net::host_port(&host, port);
        if server_name != host {
            target.push_str(&format!(" (server_name {server_name})"));
        }
        Some((
            TlsSpec {
                host,
                port,
                server_name,
                warn_days,
                fail_days,
                ca_file,
                client,
                min_version,
            },
            target,
        ))
    }

    fn host_key(&self) -> Option<String> {
        Some(net::host_key(&self.host, self.port))
    }

    fn days(&self) -> (Option<i64>, Option<i64>) {
        (Some(self.warn_days), Some(self.fail_days))
    }

    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        Some(common::tls::TlsTrust {
            ca_file: self.ca_file.as_deref(),
            insecure: false,
        })
    }

    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, ctx, phase).await
    }
}
