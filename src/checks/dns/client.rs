//! The wire: one query built with hickory-proto and sent to one resolver. Plain DNS goes over
//! UDP with retransmits, then TCP when the answer is truncated; DNS over TLS (RFC 7858) and DNS
//! over HTTPS (RFC 8484) go through hickory-proto's transports, with the certificate verified by
//! the process's one rustls provider ([`recording_client_config`](crate::checks::common::tls::recording_client_config)). Nothing goes
//! through the system `dig`. The result is a fact for [`super::judge`].

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::facts::{Answer, QueryError};
use super::records::render;
use super::resolver::Resolver;
use super::spec::DnsSpec;
use crate::checks::common;
use crate::model::Reason;

/// Addresses of a DoH host tried in turn when connecting fails.
const MAX_DOH_ADDRESSES: usize = 4;
/// A UDP query is sent again after this much silence.
const RETRANSMIT: Duration = Duration::from_secs(1);
/// The largest DNS message over UDP or TCP.
const MAX_MESSAGE: usize = 65_535;

/// The one query of an attempt, sent to every resolver.
pub(super) struct BuiltQuery {
    /// The message id, matched against answers.
    id: u16,
    /// The encoded message, for UDP and TCP.
    bytes: Vec<u8>,
    /// The message, for the hickory transports.
    message: Message,
}

/// The query for `spec` with a random id.
pub(super) fn build_query(spec: &DnsSpec) -> Result<BuiltQuery, String> {
    use std::hash::BuildHasher;
    let id = u16::try_from(
        std::collections::hash_map::RandomState::new().hash_one(Instant::now()) & 0xffff,
    )
    .unwrap_or(0x4242);
    let mut msg = Message::new();
    msg.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(spec.recursion_desired)
        .add_query(Query::query(spec.query_name.clone(), spec.query_type));
    let bytes = msg
        .to_vec()
        .map_err(|e| format!("cannot encode the DNS query: {e}"))?;
    Ok(BuiltQuery {
        id,
        bytes,
        message: msg,
    })
}

/// How the encrypted resolvers' certificates are verified.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trust<'a> {
    /// Extra trusted CAs (PEM).
    pub ca_file: Option<&'a str>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// The client certificate presented when a resolver asks for one.
    pub client: Option<&'a common::tls::ClientIdentity>,
}

/// The wait for the TLS preparation, shared by the encrypted resolvers of one attempt: each
/// awaits it between its connect and its handshake, outside the check's clock
/// ([`RunContext::tls_ready`](crate::checks::RunContext::tls_ready)).
pub(super) type Ready<'a> = futures::future::Shared<futures::future::BoxFuture<'a, ()>>;

/// Ask one resolver within `budget`. Plain: UDP with retransmits, then TCP if the answer is
/// truncated. DoT and DoH: one connection, one query, through hickory-proto.
pub(super) async fn ask(
    resolver: &Resolver,
    query: &BuiltQuery,
    rtype: RecordType,
    (trust, ready): (Trust<'_>, &Ready<'_>),
    budget: Duration,
) -> Result<Answer, QueryError> {
    let start = Instant::now();
    let deadline = start + budget;
    let (msg, transport, waited) = match resolver {
        Resolver::Plain(server) => {
            let msg = udp_exchange(*server, query, deadline, budget).await?;
            if msg.truncated() {
                let msg = tcp_exchange(*server, query, deadline, budget).await?;
                (msg, "tcp", Duration::ZERO)
            } else {
                (msg, "udp", Duration::ZERO)
            }
        }
        encrypted => ask_encrypted(encrypted, query, (trust, ready), budget).await?,
    };
    // The wait for the preparation is not the resolver's time.
    Ok(answer_of(&msg, rtype, transport, start + waited))
}

/// The records of type `rtype` in `msg`, with the response code and the time since `start`.
fn answer_of(msg: &Message, rtype: RecordType, transport: &'static str, start: Instant) -> Answer {
    let mut values = BTreeSet::new();
    let mut ttls = Vec::new();
    for rec in msg.answers() {
        if rec.record_type() != rtype {
            continue;
        }
        if let Some(v) = render(rec.data()) {
            values.insert(v);
            ttls.push(rec.ttl());
        }
    }
    Answer {
        rcode: msg.response_code(),
        values,
        ttls,
        transport,
        latency: start.elapsed(),
    }
}

/// One query to a DoT or DoH resolver within `budget` of its own time: connect (the lookup of
/// a DoH host included), wait for the TLS preparation (outside the budget), then a TLS config
/// of its own whose verifier names the certificate problem, the handshake and the query.
/// Returns the answer, the transport's name and how long it waited for the preparation.
async fn ask_encrypted(
    resolver: &Resolver,
    query: &BuiltQuery,
    (trust, ready): (Trust<'_>, &Ready<'_>),
    budget: Duration,
) -> Result<(Message, &'static str, Duration), QueryError> {
    let start = Instant::now();
    let stream = match tokio::time::timeout(budget, connect_encrypted(resolver)).await {
        Ok(s) => s?,
        Err(_) => return Err(QueryError::Timeout(budget)),
    };
    let waiting = Instant::now();
    ready.clone().await;
    let waited = waiting.elapsed();
    let (config, verifier) =
        common::tls::recording_client_config(trust.ca_file, trust.insecure, trust.client)
            .map_err(|e| QueryError::Tls(Reason::TlsInvalid, e))?;
    let rest = budget.saturating_sub(start.elapsed().saturating_sub(waited));
    let work = encrypted_exchange(resolver, query, stream, Arc::new(config), rest);
    match tokio::time::timeout(rest, work).await {
        Ok(Err(QueryError::Timeout(_))) | Err(_) => Err(QueryError::Timeout(budget)),
        // The verifier knows the certificate problem the transport reports as text.
        Ok(Err(e)) => Err(verifier.error().map_or(e, |t| tls_failure(&t))),
        Ok(Ok((m, transport))) => Ok((m, transport, waited)),
    }
}

/// The TCP connection to a DoT or DoH resolver, and the address it reached. A DoH host with
/// several addresses (`localhost`: ::1 and 127.0.0.1) is tried address by address while
/// connecting fails.
async fn connect_encrypted(
    resolver: &Resolver,
) -> Result<(tokio::net::TcpStream, SocketAddr), QueryError> {
    let addrs: Vec<SocketAddr> = match resolver {
        Resolver::Tls { addr, .. } => vec![*addr],
        Resolver::Https(url) => {
            let bare = doh_host(url);
            let port = url.port_or_known_default().unwrap_or(443);
            match bare.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|e| QueryError::Resolve(format!("host {bare} did not resolve ({e})")))?
                    .take(MAX_DOH_ADDRESSES)
                    .collect(),
            }
        }
        Resolver::Plain(_) => {
            return Err(QueryError::Transport(
                "a plain resolver has no encrypted transport".to_owned(),
            ));
        }
    };
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, addr));
            }
            Err(e) => last = Some(QueryError::Io(e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        let host = match resolver {
            Resolver::Https(url) => doh_host(url).to_owned(),
            other => other.to_string(),
        };
        QueryError::Resolve(format!("host {host} has no address"))
    }))
}

/// A DoH URL's host, an IPv6 literal without its brackets.
fn doh_host(url: &url::Url) -> &str {
    let host = url.host_str().unwrap_or_default();
    host.trim_start_matches('[').trim_end_matches(']')
}

/// One query to a DoT or DoH resolver over the connected `stream`; returns the answer and the
/// transport's name.
async fn encrypted_exchange(
    resolver: &Resolver,
    query: &BuiltQuery,
    (stream, addr): (tokio::net::TcpStream, SocketAddr),
    tls: Arc<rustls::ClientConfig>,
    budget: Duration,
) -> Result<(Message, &'static str), QueryError> {
    use hickory_resolver::proto::runtime::iocompat::AsyncIoTokioAsStd;
    let connected = futures::future::ready(Ok(AsyncIoTokioAsStd(stream)));
    match resolver {
        Resolver::Tls { server_name, .. } => {
            // Without a name the certificate must be valid for the IP address.
            let name = server_name.clone().unwrap_or_else(|| addr.ip().to_string());
            let (connect, handle) =
                hickory_resolver::proto::rustls::tls_client_stream::tls_client_connect_with_future(
                    connected, addr, name, tls,
                );
            let mux = hickory_resolver::proto::xfer::DnsMultiplexer::with_timeout(
                connect, handle, budget, None,
            );
            Ok((exchange(mux, &query.message).await?, "tls"))
        }
        Resolver::Https(url) => {
            let connect = hickory_resolver::proto::h2::HttpsClientConnect::new(
                connected,
                tls,
                addr,
                doh_host(url).to_owned(),
                url.path().to_owned(),
            );
            Ok((exchange(connect, &query.message).await?, "https"))
        }
        Resolver::Plain(_) => Err(QueryError::Transport(
            "a plain resolver has no encrypted transport".to_owned(),
        )),
    }
}

/// Connect with `connect`, send `query` once and return the first response.
async fn exchange<F, S>(connect: F, query: &Message) -> Result<Message, QueryError>
where
    F: std::future::Future<Output = Result<S, hickory_resolver::proto::ProtoError>>
        + Send
        + Unpin
        + 'static,
    S: hickory_resolver::proto::xfer::DnsRequestSender + Send + Unpin + 'static,
{
    use futures::StreamExt;
    use hickory_resolver::proto::DnsHandle;
    use hickory_resolver::proto::runtime::TokioTime;
    use hickory_resolver::proto::xfer::{DnsExchange, DnsRequest, DnsRequestOptions};

    let (client, background) = DnsExchange::connect::<F, S, TokioTime>(connect)
        .await
        .map_err(|e| proto_error(&e))?;
    let background = tokio::spawn(background);
    let mut options = DnsRequestOptions::default();
    options.use_edns = false;
    let mut responses = client.send(DnsRequest::new(query.clone(), options));
    let first = responses.next().await;
    background.abort();
    match first {
        Some(Ok(response)) => Ok(response.into_message()),
        Some(Err(e)) => Err(proto_error(&e)),
        None => Err(QueryError::Transport(
            "the connection closed without an answer".to_owned(),
        )),
    }
}

/// Classify a hickory error of an encrypted transport: a TLS failure (with the certificate
/// problem spelt out), a refused or failed connection, a timeout, or anything else.
fn proto_error(e: &hickory_resolver::proto::ProtoError) -> QueryError {
    use hickory_resolver::proto::ProtoErrorKind;
    match e.kind() {
        ProtoErrorKind::Io(io) => {
            let mut inner = io.get_ref();
            for _ in 0..4 {
                let Some(err) = inner else { break };
                if let Some(t) = err.downcast_ref::<rustls::Error>() {
                    return tls_failure(t);
                }
                inner = err
                    .downcast_ref::<std::io::Error>()
                    .and_then(|i| i.get_ref());
            }
            QueryError::Io(std::io::Error::new(io.kind(), io.to_string()))
        }
        ProtoErrorKind::Timeout => QueryError::Timeout(Duration::ZERO),
        _ => QueryError::Transport(e.to_string()),
    }
}

/// `TLS handshake failed: certificate name mismatch` and the matching `tls.*` reason.
fn tls_failure(err: &rustls::Error) -> QueryError {
    let reason = common::tls::reason_for(err);
    let what = match reason {
        Reason::TlsNameMismatch => "certificate name mismatch".to_owned(),
        Reason::TlsUntrusted => {
            "certificate not trusted (unknown issuer; set `ca_file` for a private CA)".to_owned()
        }
        Reason::TlsExpired => "certificate expired".to_owned(),
        Reason::TlsNotYetValid => "certificate not yet valid".to_owned(),
        _ => err.to_string(),
    };
    QueryError::Tls(reason, format!("TLS handshake failed: {what}"))
}

fn accept(buf: &[u8], id: u16) -> Result<Option<Message>, QueryError> {
    match Message::from_vec(buf) {
        Ok(m) if m.id() == id && m.message_type() == MessageType::Response => Ok(Some(m)),
        Ok(_) => Ok(None),
        Err(e) => Err(QueryError::Malformed(e.to_string())),
    }
}

async fn udp_exchange(
    server: SocketAddr,
    query: &BuiltQuery,
    deadline: Instant,
    budget: Duration,
) -> Result<Message, QueryError> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(local)
        .await
        .map_err(QueryError::Io)?;
    sock.connect(server).await.map_err(QueryError::Io)?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(QueryError::Timeout(budget));
        }
        sock.send(&query.bytes).await.map_err(QueryError::Io)?;
        let wait_until = (now + RETRANSMIT).min(deadline);
        loop {
            let left = wait_until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(QueryError::Io(e)),
                Ok(Ok(n)) => {
                    if let Some(m) = accept(buf.get(..n).unwrap_or(&[]), query.id)? {
                        return Ok(m);
                    }
                }
            }
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    query: &BuiltQuery,
    deadline: Instant,
    budget: Duration,
) -> Result<Message, QueryError> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .map_err(QueryError::Io)?;
        let len = u16::try_from(query.bytes.len())
            .map_err(|_| QueryError::Malformed("query too long".to_owned()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&query.bytes);
        s.write_all(&framed).await.map_err(QueryError::Io)?;
        loop {
            let len = s.read_u16().await.map_err(QueryError::Io)?;
            let mut buf = vec![0u8; usize::from(len)];
            s.read_exact(&mut buf).await.map_err(QueryError::Io)?;
            if let Some(m) = accept(&buf, query.id)? {
                return Ok(m);
            }
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, work).await {
        Ok(r) => r,
        Err(_) => Err(QueryError::Timeout(budget)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_problems_get_their_reason() {
        let QueryError::Tls(reason, msg) = tls_failure(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName,
        )) else {
            panic!("not a TLS failure");
        };
        assert_eq!(reason, Reason::TlsNameMismatch);
        assert_eq!(msg, "TLS handshake failed: certificate name mismatch");
        let QueryError::Tls(reason, msg) = tls_failure(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )) else {
            panic!("not a TLS failure");
        };
        assert_eq!(reason, Reason::TlsUntrusted);
        assert_eq!(
            msg,
            "TLS handshake failed: certificate not trusted (unknown issuer; set `ca_file` for a private CA)"
        );
    }
}
