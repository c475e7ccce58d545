//! The resolvers of a DNS check: how one is written in `resolvers` (plain `IP[:port]`,
//! `tls://IP[:853][#server-name]`, `https://host[:port]/dns-query`), how it is shown, and the
//! system resolver's name servers used when a check lists none.

use std::net::{IpAddr, SocketAddr};

use crate::checks::{CheckDef, CheckSpec};

/// Default resolver port.
pub const DEFAULT_PORT: u16 = 53;
/// Default DNS-over-TLS port (RFC 7858).
pub const DEFAULT_TLS_PORT: u16 = 853;

/// One resolver of a DNS check, as written in `resolvers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// Plain DNS: UDP, then TCP when the answer is truncated.
    Plain(SocketAddr),
    /// DNS over TLS (RFC 7858): `tls://IP[:853][#server-name]`. Without a server name the
    /// certificate must be valid for the IP address.
    Tls {
        /// Where to connect.
        addr: SocketAddr,
        /// The name the certificate must be valid for (also sent as SNI).
        server_name: Option<String>,
    },
    /// DNS over HTTPS (RFC 8484): `https://host[:port]/path`, the query POSTed as
    /// `application/dns-message` over HTTP/2.
    Https(url::Url),
}

impl Resolver {
    /// Whether the resolver is reached over TLS (DoT or DoH).
    pub fn encrypted(&self) -> bool {
        !matches!(self, Resolver::Plain(_))
    }
}

impl std::fmt::Display for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolver::Plain(a) => write!(f, "{a}"),
            Resolver::Tls {
                addr,
                server_name: Some(n),
            } => write!(f, "tls://{addr}#{n}"),
            Resolver::Tls {
                addr,
                server_name: None,
            } => write!(f, "tls://{addr}"),
            Resolver::Https(url) => f.write_str(url.as_str()),
        }
    }
}

const PLAIN_HINT: &str = "an IP address with an optional port: `10.0.0.2`, `10.0.0.2:5353`, `[::1]:53`; `tls://IP[:853][#server-name]` for DNS over TLS; `https://host[:port]/dns-query` for DNS over HTTPS";

const TLS_HINT: &str = "`tls://` takes an IP address, an optional port (default 853) and an optional `#server-name` the certificate is valid for, e.g. `tls://9.9.9.9#dns.quad9.net`";

const HTTPS_HINT: &str = "`https://` takes a host, an optional port and the query path, e.g. `https://dns.example/dns-query`";

/// `ip` or `ip:port` (`[v6]:port` for IPv6 with a port), `tls://IP[:port][#server-name]` or
/// `https://host[:port]/path`; the error is the hint for the message.
pub(super) fn parse_resolver(s: &str) -> Result<Resolver, String> {
    let s = s.trim();
    if let Some(rest) = strip_scheme(s, "tls://") {
        return parse_tls(rest);
    }
    if strip_scheme(s, "https://").is_some() {
        return parse_https(s);
    }
    if let Some((scheme, _)) = s.split_once("://") {
        return Err(format!("unsupported scheme `{scheme}://`; {PLAIN_HINT}"));
    }
    socket_addr(s, DEFAULT_PORT)
        .map(Resolver::Plain)
        .ok_or_else(|| PLAIN_HINT.to_owned())
}

/// `IP[:port][#server-name]`, the part after `tls://`.
fn parse_tls(rest: &str) -> Result<Resolver, String> {
    let (addr, name) = match rest.split_once('#') {
        Some((a, n)) => (a, Some(n)),
        None => (rest, None),
    };
    let addr = socket_addr(addr, DEFAULT_TLS_PORT).ok_or(TLS_HINT)?;
    let server_name = match name {
        None => None,
        Some(n) => {
            let n = n.trim().trim_end_matches('.');
            let valid = !n.is_empty()
                && n.parse::<IpAddr>().is_err()
                && rustls::pki_types::ServerName::try_from(n).is_ok();
            if !valid {
                return Err(format!("`#{n}` is not a valid server name; {TLS_HINT}"));
            }
            Some(n.to_ascii_lowercase())
        }
    };
    Ok(Resolver::Tls { addr, server_name })
}

/// A whole `https://host[:port]/path` URL.
fn parse_https(s: &str) -> Result<Resolver, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{e}; {HTTPS_HINT}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host; {HTTPS_HINT}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("credentials are not supported; {HTTPS_HINT}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "a query or fragment is not supported; {HTTPS_HINT}"
        ));
    }
    Ok(Resolver::Https(url))
}

/// `s` without `scheme` (compared case-insensitively).
fn strip_scheme<'a>(s: &'a str, scheme: &str) -> Option<&'a str> {
    let head = s.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| s.get(scheme.len()..))
        .flatten()
}

/// `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn socket_addr(s: &str, default_port: u16) -> Option<SocketAddr> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, default_port))
}

/// The system resolver's name servers, read once per run when some DNS check needs them.
#[derive(Debug, Clone, Default)]
pub struct SystemResolvers(Option<Result<Vec<SocketAddr>, String>>);

impl SystemResolvers {
    /// Read the system configuration if any check in `checks` has no `resolvers`.
    pub fn load(checks: &[CheckDef]) -> Self {
        let needed = checks
            .iter()
            .any(|c| matches!(&c.spec, CheckSpec::Dns(d) if d.resolvers.is_empty()));
        if !needed {
            return SystemResolvers(None);
        }
        let read = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))
            .map(|(config, _)| {
                let mut out: Vec<SocketAddr> = Vec::new();
                for ns in config.name_servers() {
                    if !out.contains(&ns.socket_addr) {
                        out.push(ns.socket_addr);
                    }
                }
                out
            });
        SystemResolvers(Some(read))
    }

    /// The name servers, or why there are none.
    pub(super) fn get(&self) -> Result<Vec<SocketAddr>, String> {
        match &self.0 {
            Some(Ok(v)) if !v.is_empty() => Ok(v.clone()),
            Some(Ok(_)) => Err("the system resolver configuration lists no name server".to_owned()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the system resolver was not loaded".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_parse_with_and_without_port() {
        let plain = |s: &str| parse_resolver(s).ok().map(|r| r.to_string());
        assert_eq!(plain("10.0.0.2").as_deref(), Some("10.0.0.2:53"));
        assert_eq!(plain("10.0.0.2:5353").as_deref(), Some("10.0.0.2:5353"));
        assert_eq!(plain("[::1]:5353").as_deref(), Some("[::1]:5353"));
        assert_eq!(plain("::1").as_deref(), Some("[::1]:53"));
        assert!(parse_resolver("dns.google").is_err());
    }

    #[test]
    fn encrypted_resolvers_parse() {
        let shown = |s: &str| parse_resolver(s).map(|r| r.to_string());
        assert_eq!(
            shown("tls://127.0.0.1:8853#Dns.Test.").as_deref(),
            Ok("tls://127.0.0.1:8853#dns.test")
        );
        assert_eq!(shown("TLS://9.9.9.9").as_deref(), Ok("tls://9.9.9.9:853"));
        assert_eq!(
            shown("tls://[2620:fe::fe]#dns.quad9.net").as_deref(),
            Ok("tls://[2620:fe::fe]:853#dns.quad9.net")
        );
        assert_eq!(
            shown("https://dns.example:8443/dns-query").as_deref(),
            Ok("https://dns.example:8443/dns-query")
        );
        assert_eq!(
            parse_resolver("https://127.0.0.1/dns-query").map(|r| r.encrypted()),
            Ok(true)
        );
        for bad in [
            "tls://dns.google",
            "tls://127.0.0.1#",
            "tls://127.0.0.1#bad name",
            "tls://127.0.0.1:99999",
            "https://",
            "https://user:pw@dns.example/dns-query",
            "https://dns.example/dns-query?dns=x",
            "udp://127.0.0.1",
            "quic://127.0.0.1",
        ] {
            assert!(parse_resolver(bad).is_err(), "{bad}");
        }
        assert!(
            parse_resolver("udp://1.1.1.1")
                .unwrap_err()
                .starts_with("unsupported scheme `udp://`")
        );
    }
}
