//! `tcp_checks`: resolve, connect, optionally `send` bytes and wait for an `expect`ed banner.
//! Also the connect helper the TLS check shares (resolution and refusal map to the same codes).

use crate::reader::key_table::{Field, FieldType as T, opt, req};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::common::{latency_verdict, millis, short_message, soft_deadline};
use super::{Phase, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::{Ctx, format_duration};
use crate::reader::yaml::MapReader;

/// The phases a tcp check times: the lookup (not for an IP literal), the connection, and
/// the `send`/`expect` exchange when there is one.
pub const PHASES: &[PhaseName] = &[PhaseName::Dns, PhaseName::Connect, PhaseName::Banner];

/// The reason of a slow check or phase.
pub const LATENCY_REASON: Reason = Reason::TcpLatency;

/// The values its checks observe for `expect:` conditions, besides `latency` and
/// `latency.<phase>` (see `checks/common/expect`).
pub const VALUES: &[&str] = &["banner"];

/// The reason of a failed `expect:` condition.
pub const EXPECT_REASON: crate::model::Reason = crate::model::Reason::TcpExpect;

/// Every key the kind accepts besides the common ones: its type and description (the
/// validator's key list and the config schema are both read from it).
pub const FIELDS: &[Field] = &[
    req("host", T::String, "Host name or IP address."),
    req("port", T::Integer, "TCP port (1-65535)."),
    opt("send", T::String, "Text sent after connecting."),
    opt("expect", T::String, "Text the peer's answer must contain."),
    opt(
        "max_bytes",
        T::Integer,
        "Cap on the bytes read while waiting for `expect`.",
    ),
];

/// Default cap on the bytes read while waiting for `expect`.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024;
/// Once the peer has sent something, this much silence ends the banner read.
pub const BANNER_IDLE: Duration = Duration::from_secs(1);
const EXCERPT_CHARS: usize = 300;

/// A validated TCP check.
#[derive(Debug, Clone)]
pub struct TcpSpec {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Bytes written after connecting.
    pub send: Option<String>,
    /// Text the bytes read must contain.
    pub expect: Option<String>,
    /// Cap on the bytes read while waiting for `expect`.
    pub max_bytes: usize,
    /// Latency thresholds (connect plus banner exchange).
    pub thresholds: Thresholds,
}

/// Parse the TCP keys of a check; returns the spec and its `host:port` target.
pub fn parse(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    thresholds: Thresholds,
) -> Option<(TcpSpec, String)> {
    let host = host(r, ctx);
    let port = port(r, ctx, None);
    let send = r.take("send").and_then(|(n, p)| ctx.string(n, &p));
    let expect = match r.take("expect") {
        // A list is the check's `expect:` conditions, read with the common keys.
        Some((n, _)) if matches!(n.value, crate::reader::yaml::Value::Seq(_)) => None,
        Some((n, p)) => Some(ctx.non_empty(n, &p)?),
        None => None,
    };
    let max_bytes = match r.take("max_bytes") {
        Some((n, p)) => ctx
            .uint(n, &p, 16 * 1024 * 1024)
            .and_then(|v| usize::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(DEFAULT_MAX_BYTES),
        None => DEFAULT_MAX_BYTES,
    };
    let (host, port) = (host?, port?);
    let target = host_port(&host, port);
    Some((
        TcpSpec {
            host,
            port,
            send,
            expect,
            max_bytes,
            thresholds,
        },
        target,
    ))
}

/// Read the required `host` key (an IPv6 literal may be written with or without brackets).
pub fn host(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<String> {
    match r.take("host") {
        Some((n, p)) => {
            let h = ctx.non_empty(n, &p)?;
            let h = h.trim();
            let h = h
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(h);
            if h.contains(|c: char| c.is_whitespace() || c == '/')
                || (h.contains(':') && h.parse::<std::net::Ipv6Addr>().is_err())
            {
                ctx.problem(
                    n,
                    &p,
                    format!("invalid host `{h}` (a host name or an IP address, without a port)"),
                );
                return None;
            }
            Some(h.to_owned())
        }
        None => {
            ctx.problem(r.node, &r.path, "missing required key `host`");
            None
        }
    }
}

/// Read `port` (1-65535); required when `default` is `None`.
pub fn port(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, default: Option<u16>) -> Option<u16> {
    match r.take("port") {
        Some((n, p)) => {
            let v = ctx.uint(n, &p, 65_535)?;
            match u16::try_from(v) {
                Ok(port) if port > 0 => Some(port),
                _ => {
                    ctx.problem(n, &p, "port must be between 1 and 65535");
                    None
                }
            }
        }
        None => {
            if default.is_none() {
                ctx.problem(r.node, &r.path, "missing required key `port`");
            }
            default
        }
    }
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolve `host` and connect to the first address that accepts. A failure is the finished
/// outcome (`dns.resolve`, `tcp.refused`, `connect.error`).
pub async fn connect(
    host: &str,
    port: u16,
    phase: &Phase,
) -> Result<(TcpStream, SocketAddr), Outcome> {
    phase.set("resolving the host");
    let t0 = Instant::now();
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(Outcome::fail(
                Reason::DnsResolve,
                format!("cannot resolve `{host}`: {e}"),
            ));
        }
    };
    if addrs.is_empty() {
        return Err(Outcome::fail(
            Reason::DnsResolve,
            format!("`{host}` resolved to no address"),
        ));
    }
    // An IP literal is parsed, not looked up: no `dns` phase.
    let t1 = if host.parse::<std::net::IpAddr>().is_ok() {
        t0
    } else {
        phase.lap(PhaseName::Dns, t0)
    };
    phase.set("connecting");
    let mut last: Option<(SocketAddr, std::io::Error)> = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                phase.lap(PhaseName::Connect, t1);
                let _ = s.set_nodelay(true);
                return Ok((s, *addr));
            }
            Err(e) => last = Some((*addr, e)),
        }
    }
    let Some((addr, e)) = last else {
        return Err(Outcome::fail(Reason::Internal, "no address was tried"));
    };
    let reason = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Reason::TcpRefused,
        _ => Reason::ConnectError,
    };
    Err(Outcome::fail(reason, short_message(reason, &e.to_string()))
        .with_detail(format!("connect to {addr} failed: {e}"))
        .with_meta("remote_addr", addr.to_string()))
}

/// Run one attempt. `read_banner`: a condition names the `banner`, so what the peer sends is
/// read (until it closes, goes silent or the cap) even without `expect`.
pub async fn run(spec: &TcpSpec, timeout: Duration, phase: &Phase, read_banner: bool) -> Outcome {
    let start = Instant::now();
    let (mut stream, addr) = match connect(&spec.host, spec.port, phase).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let connected = Instant::now();
    let connect_ms = millis(connected.saturating_duration_since(start));
    let mut meta = std::collections::BTreeMap::new();
    meta.insert(
        "remote_addr".to_owned(),
        serde_json::json!(addr.to_string()),
    );
    meta.insert("connect_ms".to_owned(), serde_json::json!(connect_ms));

    if let Some(send) = &spec.send {
        phase.set("sending `send`");
        if let Err(e) = stream.write_all(send.as_bytes()).await {
            return Outcome::fail(Reason::ConnectReset, format!("sending failed: {e}"))
                .with_metadata(meta);
        }
    }
    let mut facts = crate::model::Facts::new();
    if spec.expect.is_some() || read_banner {
        phase.set("waiting for the expected banner");
        // Stop reading a little before the engine's timeout so a partial, wrong banner is
        // reported as `tcp.expect` with what arrived rather than as a bare timeout.
        let budget = soft_deadline(timeout);
        let read = read_until(
            &mut stream,
            spec.expect.as_deref().map(str::as_bytes),
            spec.max_bytes,
            start + budget,
        )
        .await;
        phase.lap(PhaseName::Banner, connected);
        let text = String::from_utf8_lossy(&read.bytes);
        let read_cap = matches!(read.end, ReadEnd::Cap);
        // Cut by the redactor, after the secrets in the whole text read are masked.
        let excerpt = crate::redact::cut_later(&text, EXCERPT_CHARS, read_cap);
        meta.insert("bytes_read".to_owned(), serde_json::json!(read.bytes.len()));
        meta.insert("banner".to_owned(), serde_json::json!(excerpt));
        facts.value("banner", text.clone().into_owned());
        if let Some(expect) = &spec.expect
            && !read.found
        {
            let how = match read.end {
                ReadEnd::Eof => "the peer closed the connection".to_owned(),
                ReadEnd::Cap => format!("read the {}-byte limit", spec.max_bytes),
                ReadEnd::Idle => {
                    format!("the peer went silent for {}", format_duration(BANNER_IDLE))
                }
                ReadEnd::Deadline if read.bytes.is_empty() => {
                    return Outcome::fail(
                        Reason::Timeout,
                        format!(
                            "no bytes received within {} while waiting for `{expect}`",
                            format_duration(budget)
                        ),
                    )
                    .with_metadata(meta)
                    .with_facts(facts);
                }
                ReadEnd::Deadline => "the timeout neared".to_owned(),
                ReadEnd::Error(e) => format!("reading failed ({e})"),
                ReadEnd::Found => String::new(),
            };
            let got = if text.is_empty() {
                "nothing".to_owned()
            } else {
                let shown = text.escape_debug().to_string();
                format!(
                    "`{}`",
                    crate::redact::cut_later(&shown, EXCERPT_CHARS, read_cap)
                )
            };
            return Outcome::fail(
                Reason::TcpExpect,
                format!("expected `{expect}`, got {got} ({how})"),
            )
            .with_metadata(meta)
            .with_facts(facts);
        }
    }
    if spec.send.is_some() && spec.expect.is_none() && !read_banner {
        // A `send` without `expect` is the whole exchange.
        phase.lap(PhaseName::Banner, connected);
    }
    let elapsed = start.elapsed();
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    let _ = stream.shutdown().await;
    let what = if spec.expect.is_some() {
        format!("connected to {addr}, banner matched")
    } else {
        format!("connected to {addr}")
    };
    facts.duration("latency", elapsed);
    latency_verdict(spec.thresholds, elapsed, Reason::TcpLatency, what)
        .with_metadata(meta)
        .with_facts(facts)
}

#[derive(Debug)]
enum ReadEnd {
    Found,
    Eof,
    Cap,
    Idle,
    Deadline,
    Error(std::io::Error),
}

struct Read {
    bytes: Vec<u8>,
    found: bool,
    end: ReadEnd,
}

/// Read until `want` arrives (never, when `None`: then until the peer closes, goes silent
/// after sending, the cap or the deadline).
async fn read_until(
    stream: &mut TcpStream,
    want: Option<&[u8]>,
    cap: usize,
    deadline: Instant,
) -> Read {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(want) = want
            && contains(&bytes, want)
        {
            return Read {
                bytes,
                found: true,
                end: ReadEnd::Found,
            };
        }
        if bytes.len() >= cap {
            bytes.truncate(cap);
            let found = want.is_some_and(|w| contains(&bytes, w));
            return Read {
                bytes,
                found,
                end: ReadEnd::Cap,
            };
        }
        let now = Instant::now();
        let remaining = deadline.saturating_duration_since(now);
        let (wait, on_expiry) = if bytes.is_empty() || remaining <= BANNER_IDLE {
            (remaining, ReadEnd::Deadline)
        } else {
            (BANNER_IDLE, ReadEnd::Idle)
        };
        let room = cap.saturating_sub(bytes.len()).min(buf.len());
        let Some(slot) = buf.get_mut(..room) else {
            return Read {
                bytes,
                found: false,
                end: ReadEnd::Cap,
            };
        };
        match tokio::time::timeout(wait, stream.read(slot)).await {
            Err(_) => {
                return Read {
                    bytes,
                    found: false,
                    end: on_expiry,
                };
            }
            Ok(Ok(0)) => {
                return Read {
                    bytes,
                    found: false,
                    end: ReadEnd::Eof,
                };
            }
            Ok(Ok(n)) => bytes.extend_from_slice(slot.get(..n).unwrap_or(&[])),
            Ok(Err(e)) => {
                return Read {
                    bytes,
                    found: false,
                    end: ReadEnd::Error(e),
                };
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// This kind's answers to the registry's questions (`src/checks/registry.rs`).
impl crate::checks::Kind for TcpSpec {
    fn host_key(&self) -> Option<String> {
        Some(crate::checks::host_key(&self.host, self.port))
    }
    fn thresholds(&self) -> Option<&crate::checks::Thresholds> {
        Some(&self.thresholds)
    }
    fn run<'a>(
        &'a self,
        check: &'a crate::checks::CheckDef,
        _: &'a crate::checks::RunContext,
        phase: &'a crate::checks::Phase,
    ) -> impl std::future::Future<Output = crate::model::Outcome> + Send + 'a {
        let banner = check.expect.iter().any(|c| c.value.fact == "banner");
        run(self, check.timeout, phase, banner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_brackets_ipv6() {
        assert_eq!(host_port("::1", 22), "[::1]:22");
        assert_eq!(host_port("db.internal", 5432), "db.internal:5432");
    }

    #[test]
    fn contains_finds_subslices() {
        assert!(contains(b"SSH-2.0-OpenSSH", b"SSH-2.0"));
        assert!(!contains(b"220 smtp", b"SSH"));
        assert!(contains(b"", b""));
    }
}
