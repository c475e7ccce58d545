//! `tcp_checks`: resolve, connect, optionally `send` bytes and wait for an `expect`ed banner.

mod reasons;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::common::net::{self, CONNECT_REASONS};
use super::common::{latency_verdict, millis, soft_deadline};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::{Ctx, format_duration};
use crate::reader::key_table::{Field, FieldType as T, opt, req};
use crate::reader::yaml::MapReader;

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
}

/// Run one attempt. `read_banner`: a condition names the `banner`, so what the peer sends is
/// read (until it closes, goes silent or the cap) even without `expect`.
pub async fn run(
    spec: &TcpSpec,
    timeout: Duration,
    thresholds: Thresholds,
    phase: &Phase,
    read_banner: bool,
) -> Outcome {
    let start = Instant::now();
    let (mut stream, addr) = match net::connect(&spec.host, spec.port, phase).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let connected = Instant::now();
    let connect_ms = millis(connected.saturating_duration_since(start));
    let mut meta = crate::model::Meta::new();
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
        let excerpt = crate::model::Text::cut(text.as_ref(), EXCERPT_CHARS, read_cap);
        meta.insert("bytes_read".to_owned(), serde_json::json!(read.bytes.len()));
        meta.insert_text("banner".to_owned(), excerpt);
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
                "nothing".into()
            } else {
                let shown = text.escape_debug().to_string();
                crate::text!(
                    "`",
                    crate::model::Text::cut(shown, EXCERPT_CHARS, read_cap),
                    "`"
                )
            };
            return Outcome::fail(
                Reason::TcpExpect,
                crate::text!("expected `{expect}`, got ", got, " ({how})"),
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
    latency_verdict(thresholds, elapsed, Reason::TcpLatency, what)
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

/// The tcp kind (see `src/checks/registry.rs`).
impl Kind for TcpSpec {
    const NAME: &'static str = "tcp";

    const FIELDS: &'static [Field] = &[
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

    /// The lookup (not for an IP literal), the connection, and the `send`/`expect` exchange
    /// when there is one.
    const PHASES: &'static [PhaseName] = &[PhaseName::Dns, PhaseName::Connect, PhaseName::Banner];
    const VALUES: &'static [&'static str] = &["banner"];
    const LATENCY_REASON: Reason = Reason::TcpLatency;
    const EXPECT_REASON: Reason = Reason::TcpExpect;
    const REASONS: &'static [&'static [Reason]] =
        &[CONNECT_REASONS, &[Reason::ConnectReset], reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let host = net::host(r, ctx);
        let port = net::port(r, ctx, None);
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
        let target = net::host_port(&host, port);
        let spec = TcpSpec {
            host,
            port,
            send,
            expect,
            max_bytes,
        };
        Some((spec, target))
    }

    fn host_key(&self) -> Option<String> {
        Some(net::host_key(&self.host, self.port))
    }

    async fn run(&self, check: &CheckDef, _: &RunContext, phase: &Phase) -> Outcome {
        let banner = check.expect.iter().any(|c| c.value.fact == "banner");
        run(self, check.timeout, check.thresholds, phase, banner).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_finds_subslices() {
        assert!(contains(b"SSH-2.0-OpenSSH", b"SSH-2.0"));
        assert!(!contains(b"220 smtp", b"SSH"));
        assert!(contains(b"", b""));
    }
}
