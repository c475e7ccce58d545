//! What the kinds that open their own TCP connection share (`tcp`, `tls`, `grpc`, `postgres`,
//! `icmp` for the keys): the `host` and `port` keys, `host:port` for targets and per-host
//! limits, and the connect helper whose failures keep the same codes for every kind
//! (`dns.resolve`, `tcp.refused`, `connect.error`).

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;

use super::short_message;
use crate::checks::Phase;
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;

/// The reasons a failed [`connect`] ends with.
pub const CONNECT_REASONS: &[Reason] =
    &[Reason::DnsResolve, Reason::TcpRefused, Reason::ConnectError];

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

/// `host:port` with the host lower-cased and without a trailing dot, so `API.example.com.` and
/// `api.example.com` share one per-host limit ([`Kind::host_key`](crate::checks::Kind::host_key)).
pub fn host_key(host: &str, port: u16) -> String {
    let host = host.trim_end_matches('.');
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Lower-cased in place: the brackets and the port have no case.
    let mut key = host_port(host, port);
    key.make_ascii_lowercase();
    key
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
    fn host_key_folds_case_dots_and_brackets() {
        assert_eq!(host_key("API.example.com.", 443), "api.example.com:443");
        assert_eq!(host_key("[::1]", 22), "[::1]:22");
    }
}
