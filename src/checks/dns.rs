//! `dns_checks`: one query sent to every listed resolver, each answer judged against
//! `expected`, `expect_rcode` and the TTL bounds, and the answers compared across resolvers
//! (propagation, with a `min_agree` quorum). A resolver is plain DNS (UDP, falling back to TCP
//! when the answer is truncated), DNS over TLS (`tls://IP[:853][#server-name]`, RFC 7858) or DNS
//! over HTTPS (`https://host[:port]/dns-query`, RFC 8484), freely mixed in one check; the
//! encrypted transports verify the resolver's certificate (`ca_file`, `insecure`) with the
//! process's one rustls provider. Queries are built and parsed with hickory-proto, which also
//! speaks DoT and DoH; nothing goes through the system `dig`.

use crate::spec::field::{Field, FieldType as T, opt, req};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CheckDef, CheckSpec, Phase, RunContext, Thresholds, tcp, tls_util};
use crate::model::{Outcome, Reason};
use crate::spec::fields::{Ctx, format_duration};
use crate::spec::yaml::{MapReader, Node};

/// Keys a DNS check accepts besides the common ones.
pub const KEYS: &[&str] = &[
    "query_name",
    "query_type",
    "expected",
    "match",
    "resolvers",
    "expect_rcode",
    "min_ttl",
    "max_ttl",
    "min_agree",
    "recursion_desired",
    "ca_file",
    "insecure",
];

/// Type and description of every key in [`KEYS`] (the config schema; tested to match).
pub const FIELDS: &[Field] = &[
    req("query_name", T::String, "The name to resolve."),
    opt(
        "query_type",
        T::Choice(QUERY_TYPES),
        "Record type (default A).",
    ),
    opt("expected", T::StringList, "Expected record value(s)."),
    opt(
        "match",
        T::Choice(&["exact", "contains"]),
        "Whether the answer must equal `expected` or contain it.",
    ),
    opt(
        "resolvers",
        T::StringList,
        "Name servers to ask (default: the system's): `IP[:port]` (plain DNS), `tls://IP[:853][#server-name]` (DNS over TLS) or `https://host[:port]/dns-query` (DNS over HTTPS).",
    ),
    opt(
        "expect_rcode",
        T::Choice(&[
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
            "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
        ]),
        "Expected response code (default NOERROR).",
    ),
    opt(
        "min_ttl",
        T::Integer,
        "Minimum TTL of the answer, in seconds.",
    ),
    opt(
        "max_ttl",
        T::Integer,
        "Maximum TTL of the answer, in seconds.",
    ),
    opt(
        "min_agree",
        T::Integer,
        "How many resolvers must give a passing answer.",
    ),
    opt(
        "recursion_desired",
        T::Bool,
        "Set the RD flag (default true).",
    ),
    opt(
        "ca_file",
        T::String,
        "PEM file of extra CA certificates trusted for `tls://` and `https://` resolvers.",
    ),
    opt(
        "insecure",
        T::Bool,
        "Skip certificate verification of `tls://` and `https://` resolvers.",
    ),
];

/// The record types a check may query.
pub const QUERY_TYPES: &[&str] = &["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "CAA", "SRV"];

/// Response codes `expect_rcode` accepts.
const RCODES: &[(&str, ResponseCode)] = &[
    ("NOERROR", ResponseCode::NoError),
    ("FORMERR", ResponseCode::FormErr),
    ("SERVFAIL", ResponseCode::ServFail),
    ("NXDOMAIN", ResponseCode::NXDomain),
    ("NOTIMP", ResponseCode::NotImp),
    ("REFUSED", ResponseCode::Refused),
    ("YXDOMAIN", ResponseCode::YXDomain),
    ("YXRRSET", ResponseCode::YXRRSet),
    ("NXRRSET", ResponseCode::NXRRSet),
    ("NOTAUTH", ResponseCode::NotAuth),
    ("NOTZONE", ResponseCode::NotZone),
];

/// Default resolver port.
pub const DEFAULT_PORT: u16 = 53;
/// Default DNS-over-TLS port (RFC 7858).
pub const DEFAULT_TLS_PORT: u16 = 853;
/// Addresses of a DoH host tried in turn when connecting fails.
const MAX_DOH_ADDRESSES: usize = 4;
/// A UDP query is sent again after this much silence.
const RETRANSMIT: Duration = Duration::from_secs(1);
const MAX_MESSAGE: usize = 65_535;

/// How `expected` is compared with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// The answer is exactly the expected set.
    Exact,
    /// The answer contains every expected value (and maybe more).
    Contains,
}

/// A validated DNS check.
#[derive(Debug, Clone)]
pub struct DnsSpec {
    /// The name queried (absolute).
    pub query_name: Name,
    /// The record type queried.
    pub query_type: RecordType,
    /// Expected values, normalised; `None` means "any non-empty answer".
    pub expected: Option<BTreeSet<String>>,
    /// Exact set or subset.
    pub match_mode: MatchMode,
    /// Resolvers to ask; empty means the system resolver's name servers.
    pub resolvers: Vec<Resolver>,
    /// The response code every resolver must return (NOERROR when unset).
    pub expect_rcode: Option<ResponseCode>,
    /// Every answer record's TTL must be at least this.
    pub min_ttl: Option<u32>,
    /// Every answer record's TTL must be at most this.
    pub max_ttl: Option<u32>,
    /// Resolvers that must agree for WARN instead of FAIL; all of them when unset.
    pub min_agree: Option<usize>,
    /// Set the RD bit (ask the resolver to recurse).
    pub recursion_desired: bool,
    /// Latency thresholds (on the slowest resolver).
    pub thresholds: Thresholds,
    /// Extra trusted CAs for the encrypted resolvers.
    pub ca_file: Option<String>,
    /// Skip certificate verification of the encrypted resolvers.
    pub insecure: bool,
}

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

/// Parse the DNS keys of a check; returns the spec and its target.
pub fn parse(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    thresholds: Thresholds,
) -> Option<(DnsSpec, String)> {
    let query_name = match r.take("query_name") {
        Some((n, p)) => {
            let s = ctx.non_empty(n, &p)?;
            match Name::from_ascii(s.trim()) {
                Ok(mut name) => {
                    name.set_fqdn(true);
                    Some(name)
                }
                Err(e) => {
                    ctx.problem(n, &p, format!("invalid DNS name `{s}`: {e}"));
                    None
                }
            }
        }
        None => {
            ctx.problem(r.node, &r.path, "missing required key `query_name`");
            None
        }
    };
    let query_type = match r.take("query_type") {
        Some((n, p)) => {
            let s = ctx.string(n, &p)?.trim().to_ascii_uppercase();
            if QUERY_TYPES.contains(&s.as_str()) {
                s.parse::<RecordType>().ok()
            } else {
                ctx.problem(
                    n,
                    &p,
                    format!("unsupported query_type `{s}` ({})", QUERY_TYPES.join(", ")),
                );
                None
            }
        }
        None => Some(RecordType::A),
    };
    let expected_raw = r.take("expected");
    let match_mode = match r.take("match") {
        Some((n, p)) => match ctx.string(n, &p)?.trim().to_ascii_lowercase().as_str() {
            "exact" => MatchMode::Exact,
            "contains" => MatchMode::Contains,
            other => {
                ctx.problem(
                    n,
                    &p,
                    format!("expected `exact` or `contains`, found `{other}`"),
                );
                MatchMode::Exact
            }
        },
        None => MatchMode::Exact,
    };
    let mut resolvers = Vec::new();
    if let Some((n, p)) = r.take("resolvers")
        && let Some(list) = ctx.string_list(n, &p)
    {
        let given = list.len();
        for s in list {
            match parse_resolver(&s) {
                Ok(a) => {
                    if !resolvers.contains(&a) {
                        resolvers.push(a);
                    }
                }
                Err(hint) => ctx.problem(n, &p, format!("invalid resolver `{s}` ({hint})")),
            }
        }
        if given == 0 {
            ctx.problem(
                n,
                &p,
                "must list at least one resolver (omit it for the system resolver)",
            );
        }
    }
    let expect_rcode = match r.take("expect_rcode") {
        Some((n, p)) => {
            let s = ctx.string(n, &p)?.trim().to_ascii_uppercase();
            match RCODES.iter().find(|(name, _)| *name == s) {
                Some((_, rc)) => Some(*rc),
                None => {
                    let names: Vec<&str> = RCODES.iter().map(|(n, _)| *n).collect();
                    ctx.problem(
                        n,
                        &p,
                        format!("unknown expect_rcode `{s}` ({})", names.join(", ")),
                    );
                    None
                }
            }
        }
        None => None,
    };
    let min_ttl = ttl(r, ctx, "min_ttl");
    let max_ttl = ttl(r, ctx, "max_ttl");
    if let (Some(lo), Some(hi)) = (min_ttl, max_ttl)
        && lo > hi
    {
        ctx.problem(
            r.node,
            &r.path,
            "`min_ttl` must not be greater than `max_ttl`",
        );
    }
    let min_agree = match r.take("min_agree") {
        Some((n, p)) => {
            let v = ctx
                .uint(n, &p, 1000)
                .and_then(|v| usize::try_from(v).ok())?;
            if v == 0 {
                ctx.problem(n, &p, "min_agree must be at least 1");
            } else if !resolvers.is_empty() && v > resolvers.len() {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "min_agree {v} is more than the {} resolvers listed",
                        resolvers.len()
                    ),
                );
            }
            Some(v)
        }
        None => None,
    };
    let recursion_desired = match r.take("recursion_desired") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(true),
        None => true,
    };
    let encrypted = resolvers.iter().any(Resolver::encrypted);
    let ca_file = match r.take("ca_file") {
        Some((n, p)) => {
            let path = ctx.non_empty(n, &p)?;
            if !encrypted {
                ctx.problem(
                    n,
                    &p,
                    "`ca_file` applies to `tls://` and `https://` resolvers only, and none is listed",
                );
            } else if let Err(e) = tls_util::read_pem_certs(&path) {
                ctx.problem(n, &p, e);
            }
            Some(path)
        }
        None => None,
    };
    let insecure = match r.take("insecure") {
        Some((n, p)) => {
            let v = ctx.boolean(n, &p).unwrap_or(false);
            if v && !encrypted {
                ctx.problem(
                    n,
                    &p,
                    "`insecure` applies to `tls://` and `https://` resolvers only, and none is listed",
                );
            }
            v
        }
        None => false,
    };

    let query_type = query_type?;
    let expected = match expected_raw {
        Some((n, p)) => Some(parse_expected(n, &p, ctx, query_type)?),
        None => None,
    };
    if match_mode == MatchMode::Contains && expected.is_none() {
        ctx.problem(r.node, &r.path, "`match: contains` needs `expected`");
    }
    if let Some(rc) = expect_rcode
        && rc != ResponseCode::NoError
        && expected.as_ref().is_some_and(|e| !e.is_empty())
    {
        ctx.problem(
            r.node,
            &r.path,
            "`expected` values need `expect_rcode: NOERROR` (a name with another rcode has no records)",
        );
    }
    let query_name = query_name?;
    let via = if resolvers.is_empty() {
        "the system resolver".to_owned()
    } else {
        resolvers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = format!("{} {query_type} via {via}", display_name(&query_name));
    Some((
        DnsSpec {
            query_name,
            query_type,
            expected,
            match_mode,
            resolvers,
            expect_rcode,
            min_ttl,
            max_ttl,
            min_agree,
            recursion_desired,
            thresholds,
            ca_file,
            insecure,
        },
        target,
    ))
}

fn ttl(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Option<u32> {
    let (n, p) = r.take(key)?;
    ctx.uint(n, &p, u64::from(u32::MAX))
        .and_then(|v| u32::try_from(v).ok())
}

const PLAIN_HINT: &str = "an IP address with an optional port: `10.0.0.2`, `10.0.0.2:5353`, `[::1]:53`; `tls://IP[:853][#server-name]` for DNS over TLS; `https://host[:port]/dns-query` for DNS over HTTPS";

/// `ip` or `ip:port` (`[v6]:port` for IPv6 with a port), `tls://IP[:port][#server-name]` or
/// `https://host[:port]/path`; the error is the hint for the message.
fn parse_resolver(s: &str) -> Result<Resolver, String> {
    let s = s.trim();
    if let Some(rest) = strip_scheme(s, "tls://") {
        let (addr, name) = match rest.split_once('#') {
            Some((a, n)) => (a, Some(n)),
            None => (rest, None),
        };
        let tls_hint = "`tls://` takes an IP address, an optional port (default 853) and an optional `#server-name` the certificate is valid for, e.g. `tls://9.9.9.9#dns.quad9.net`";
        let addr = socket_addr(addr, DEFAULT_TLS_PORT).ok_or(tls_hint)?;
        let server_name = match name {
            None => None,
            Some(n) => {
                let n = n.trim().trim_end_matches('.');
                let valid = !n.is_empty()
                    && n.parse::<IpAddr>().is_err()
                    && rustls::pki_types::ServerName::try_from(n).is_ok();
                if !valid {
                    return Err(format!("`#{n}` is not a valid server name; {tls_hint}"));
                }
                Some(n.to_ascii_lowercase())
            }
        };
        return Ok(Resolver::Tls { addr, server_name });
    }
    if strip_scheme(s, "https://").is_some() {
        let https_hint = "`https://` takes a host, an optional port and the query path, e.g. `https://dns.example/dns-query`";
        let url = url::Url::parse(s).map_err(|e| format!("{e}; {https_hint}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("no host; {https_hint}"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("credentials are not supported; {https_hint}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "a query or fragment is not supported; {https_hint}"
            ));
        }
        return Ok(Resolver::Https(url));
    }
    if let Some((scheme, _)) = s.split_once("://") {
        return Err(format!("unsupported scheme `{scheme}://`; {PLAIN_HINT}"));
    }
    socket_addr(s, DEFAULT_PORT)
        .map(Resolver::Plain)
        .ok_or_else(|| PLAIN_HINT.to_owned())
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

fn parse_expected(
    n: &Node,
    p: &str,
    ctx: &mut Ctx<'_>,
    rtype: RecordType,
) -> Option<BTreeSet<String>> {
    let list = ctx.string_list(n, p)?;
    let mut out = BTreeSet::new();
    let mut ok = true;
    for v in list {
        match normalize_expected(rtype, &v) {
            Ok(norm) => {
                out.insert(norm);
            }
            Err(hint) => {
                ctx.problem(n, p, format!("invalid {rtype} value `{v}`: {hint}"));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// Normalise a lower-case name: no trailing dot (the root stays `.`).
fn norm_name(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    if s == "." {
        return s;
    }
    if let Some(x) = s.strip_suffix('.') {
        return x.to_owned();
    }
    s
}

fn display_name(n: &Name) -> String {
    norm_name(&n.to_ascii())
}

fn num<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, String> {
    s.and_then(|x| x.parse::<T>().ok())
        .ok_or_else(|| format!("expected a number for {what}"))
}

/// The canonical text of an expected value, the same form [`render`] gives an answer record.
fn normalize_expected(rtype: RecordType, v: &str) -> Result<String, String> {
    let mut parts = v.split_whitespace();
    let out = match rtype {
        RecordType::A => v
            .trim()
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "expected an IPv4 address".to_owned())?,
        RecordType::AAAA => v
            .trim()
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "expected an IPv6 address".to_owned())?,
        RecordType::CNAME | RecordType::NS => {
            let name = parts.next().ok_or("expected a host name")?;
            if parts.next().is_some() {
                return Err("expected one host name".to_owned());
            }
            norm_name(name)
        }
        RecordType::MX => {
            let pref: u16 = num(parts.next(), "the preference")
                .map_err(|_| "expected `<preference> <host>`, e.g. `10 mail.example.com`")?;
            let host = parts
                .next()
                .ok_or("expected `<preference> <host>`, e.g. `10 mail.example.com`")?;
            format!("{pref} {}", norm_name(host))
        }
        RecordType::SRV => {
            let prio: u16 = num(parts.next(), "the priority")?;
            let weight: u16 = num(parts.next(), "the weight")?;
            let port: u16 = num(parts.next(), "the port")?;
            let host = parts
                .next()
                .ok_or("expected `<priority> <weight> <port> <target>`")?;
            format!("{prio} {weight} {port} {}", norm_name(host))
        }
        RecordType::SOA => {
            let mname = parts.next().ok_or(SOA_HINT)?;
            let rname = parts.next().ok_or(SOA_HINT)?;
            let mut nums = Vec::new();
            for what in ["serial", "refresh", "retry", "expire", "minimum"] {
                nums.push(num::<u32>(parts.next(), what)?.to_string());
            }
            format!(
                "{} {} {}",
                norm_name(mname),
                norm_name(rname),
                nums.join(" ")
            )
        }
        RecordType::CAA => {
            let flags: u8 = num(parts.next(), "the flags")?;
            let tag = parts.next().ok_or("expected `<flags> <tag> <value>`")?;
            let value: Vec<&str> = parts.collect();
            caa_text(flags, tag, &value.join(" "))
        }
        _ => v.to_owned(),
    };
    if matches!(rtype, RecordType::MX | RecordType::SRV | RecordType::SOA) && parts_left(v, rtype) {
        return Err("too many fields".to_owned());
    }
    Ok(out)
}

const SOA_HINT: &str = "expected `<mname> <rname> <serial> <refresh> <retry> <expire> <minimum>`";

fn parts_left(v: &str, rtype: RecordType) -> bool {
    let want = match rtype {
        RecordType::MX => 2,
        RecordType::SRV => 4,
        RecordType::SOA => 7,
        _ => return false,
    };
    v.split_whitespace().count() > want
}

fn caa_text(flags: u8, tag: &str, value: &str) -> String {
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(value);
    format!("{flags} {} {value}", tag.to_ascii_lowercase())
}

/// The canonical text of one answer record.
fn render(data: &RData) -> Option<String> {
    Some(match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => display_name(&c.0),
        RData::NS(n) => display_name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference(), display_name(mx.exchange())),
        RData::TXT(t) => t
            .txt_data()
            .iter()
            .map(|b| String::from_utf8_lossy(b))
            .collect(),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            display_name(s.mname()),
            display_name(s.rname()),
            s.serial(),
            s.refresh(),
            s.retry(),
            s.expire(),
            s.minimum()
        ),
        RData::SRV(s) => format!(
            "{} {} {} {}",
            s.priority(),
            s.weight(),
            s.port(),
            display_name(s.target())
        ),
        RData::CAA(c) => {
            // Display is `flags tag "value"`; take the tag and value back apart.
            let text = c.to_string();
            let mut it = text.splitn(3, ' ');
            let _flags = it.next();
            let tag = it.next().unwrap_or_default();
            caa_text(c.flags(), tag, it.next().unwrap_or_default())
        }
        _ => return None,
    })
}

/// The upper-case mnemonic of a response code.
pub fn rcode_name(rc: ResponseCode) -> String {
    RCODES.iter().find(|(_, c)| *c == rc).map_or_else(
        || format!("RCODE{}", u16::from(rc)),
        |(n, _)| (*n).to_owned(),
    )
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

    fn get(&self) -> Result<Vec<SocketAddr>, String> {
        match &self.0 {
            Some(Ok(v)) if !v.is_empty() => Ok(v.clone()),
            Some(Ok(_)) => Err("the system resolver configuration lists no name server".to_owned()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the system resolver was not loaded".to_owned()),
        }
    }
}

/// What one resolver returned.
#[derive(Debug)]
struct Answer {
    rcode: ResponseCode,
    values: BTreeSet<String>,
    ttls: Vec<u32>,
    /// `udp`, `tcp`, `tls` or `https`.
    transport: &'static str,
    latency: Duration,
}

#[derive(Debug)]
enum QueryError {
    Timeout(Duration),
    Io(std::io::Error),
    Malformed(String),
    /// The TLS handshake with an encrypted resolver failed (certificate or protocol).
    Tls(Reason, String),
    /// The host of a DoH resolver could not be resolved.
    Resolve(String),
    /// Any other failure of an encrypted transport.
    Transport(String),
}

/// A resolver's verdict: `Ok` when its answer satisfies the check.
type Verdict = Result<(), (Reason, String)>;

/// Run one attempt.
pub async fn run(spec: &DnsSpec, ctx: &RunContext, timeout: Duration, phase: &Phase) -> Outcome {
    let resolvers: Vec<Resolver> = if spec.resolvers.is_empty() {
        match ctx.dns_system.get() {
            Ok(r) => r.into_iter().map(Resolver::Plain).collect(),
            Err(e) => return Outcome::fail(Reason::DnsResolve, e),
        }
    } else {
        spec.resolvers.clone()
    };
    // The trust settings are checked once, before any query (each encrypted resolver then
    // gets its own config, whose verifier reports that connection's certificate problem).
    if resolvers.iter().any(Resolver::encrypted)
        && let Err(e) = tls_util::recording_client_config(spec.ca_file.as_deref(), spec.insecure)
    {
        return Outcome::fail(Reason::TlsInvalid, e);
    }
    let trust = Trust {
        ca_file: spec.ca_file.as_deref(),
        insecure: spec.insecure,
    };
    // Give up on silent resolvers a little before the engine's timeout, so the answers of the
    // others are still compared and the silent ones are named.
    let budget = timeout.saturating_sub((timeout / 10).min(Duration::from_millis(500)));
    let query = match build_query(spec) {
        Ok(q) => q,
        Err(e) => return Outcome::fail(Reason::Internal, e),
    };
    phase.set("waiting for the DNS resolvers");
    let results = futures::future::join_all(
        resolvers
            .iter()
            .map(|r| ask(r, &query, spec.query_type, trust, budget)),
    )
    .await;

    let mut verdicts: Vec<Verdict> = results.iter().map(|r| judge(spec, r)).collect();
    // Without `expected`, resolvers with a good answer must still agree with each other: the
    // largest group of equal answers (the first resolver's on a tie) is the reference.
    if spec.expected.is_none() {
        let mut groups: Vec<(&BTreeSet<String>, usize)> = Vec::new();
        for (res, v) in results.iter().zip(&verdicts) {
            if let (Ok(a), Ok(())) = (res, v) {
                match groups.iter_mut().find(|(vals, _)| *vals == &a.values) {
                    Some(g) => g.1 += 1,
                    None => groups.push((&a.values, 1)),
                }
            }
        }
        let mut best: Option<(&BTreeSet<String>, usize)> = None;
        for g in &groups {
            if best.is_none_or(|b| g.1 > b.1) {
                best = Some(*g);
            }
        }
        if let Some((reference, _)) = best {
            let reference = reference.clone();
            for (res, v) in results.iter().zip(verdicts.iter_mut()) {
                if let (Ok(a), Ok(())) = (res, &v)
                    && a.values != reference
                {
                    *v = Err((
                        Reason::DnsPropagation,
                        format!(
                            "answered {} (others answered {})",
                            list(&a.values),
                            list(&reference)
                        ),
                    ));
                }
            }
        }
    }

    let meta = metadata(spec, &resolvers, &results, &verdicts);
    let total = resolvers.len();
    let agree = verdicts.iter().filter(|v| v.is_ok()).count();
    let needed = spec.min_agree.unwrap_or(total).clamp(1, total.max(1));
    let slowest = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|a| a.latency))
        .max()
        .unwrap_or_default();

    let disagreeing: Vec<String> = resolvers
        .iter()
        .zip(&verdicts)
        .filter_map(|(r, v)| v.as_ref().err().map(|(_, m)| named(r, m)))
        .collect();
    let expected_note = match &spec.expected {
        Some(e) if !disagreeing.is_empty() => {
            let how = match spec.match_mode {
                MatchMode::Exact => "expected",
                MatchMode::Contains => "expected to contain",
            };
            format!("; {how} {}", list(e))
        }
        _ => String::new(),
    };

    let outcome = if agree == total {
        let what = match results.first() {
            Some(Ok(a)) if a.rcode != ResponseCode::NoError => rcode_name(a.rcode),
            Some(Ok(a)) => list(&a.values),
            _ => String::new(),
        };
        let from = if total == 1 {
            resolvers
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        } else {
            format!("all {total} resolvers")
        };
        tcp::latency_verdict(
            spec.thresholds,
            slowest,
            Reason::DnsLatency,
            format!(
                "{} {} = {what} from {from}",
                display_name(&spec.query_name),
                spec.query_type
            ),
        )
    } else if total == 1 {
        match verdicts.into_iter().next() {
            Some(Err((reason, msg))) => {
                let r = resolvers
                    .first()
                    .map(|r| named(r, &msg))
                    .unwrap_or_default();
                Outcome::fail(reason, format!("{r}{expected_note}"))
            }
            _ => Outcome::fail(Reason::Internal, "no resolver verdict"),
        }
    } else if agree >= needed {
        Outcome::warn(
            Reason::DnsPropagation,
            format!(
                "{agree}/{total} resolvers agree (min_agree {needed}): {}{expected_note}",
                disagreeing.join("; ")
            ),
        )
    } else {
        let reasons: BTreeSet<Reason> = verdicts
            .iter()
            .filter_map(|v| v.as_ref().err().map(|(r, _)| *r))
            .collect();
        let reason = match (agree, reasons.iter().next()) {
            (0, Some(r)) if reasons.len() == 1 => *r,
            _ => Reason::DnsPropagation,
        };
        let quorum = if spec.min_agree.is_some() {
            format!(" (min_agree {needed})")
        } else {
            String::new()
        };
        Outcome::fail(
            reason,
            format!(
                "{agree}/{total} resolvers agree{quorum}: {}{expected_note}",
                disagreeing.join("; ")
            ),
        )
    };
    outcome.with_metadata(meta)
}

/// `10.0.0.2:53 answered NXDOMAIN`, or for a failure that is a sentence of its own
/// `tls://127.0.0.1:853#dns.test: TLS handshake failed: certificate name mismatch`: the resolver
/// (and so its transport) always comes first.
fn named(resolver: &Resolver, message: &str) -> String {
    if message.starts_with(|c: char| c.is_ascii_uppercase()) {
        format!("{resolver}: {message}")
    } else {
        format!("{resolver} {message}")
    }
}

fn list(values: &BTreeSet<String>) -> String {
    if values.is_empty() {
        return "no records".to_owned();
    }
    let v: Vec<&str> = values.iter().map(String::as_str).collect();
    format!("[{}]", v.join(", "))
}

fn judge(spec: &DnsSpec, result: &Result<Answer, QueryError>) -> Verdict {
    let a = match result {
        Ok(a) => a,
        Err(QueryError::Timeout(d)) => {
            return Err((
                Reason::DnsTimeout,
                format!("did not answer within {}", format_duration(*d)),
            ));
        }
        Err(QueryError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err((Reason::ConnectRefused, format!("refused the query ({e})")));
        }
        Err(QueryError::Io(e)) => {
            return Err((Reason::ConnectError, format!("could not be queried ({e})")));
        }
        Err(QueryError::Malformed(m)) => {
            return Err((
                Reason::ConnectError,
                format!("sent an invalid DNS message ({m})"),
            ));
        }
        Err(QueryError::Tls(reason, m)) => return Err((*reason, m.clone())),
        Err(QueryError::Resolve(m)) => return Err((Reason::DnsResolve, m.clone())),
        Err(QueryError::Transport(m)) => {
            return Err((Reason::ConnectError, format!("could not be queried ({m})")));
        }
    };
    let want = spec.expect_rcode.unwrap_or(ResponseCode::NoError);
    if a.rcode != want {
        let got = rcode_name(a.rcode);
        return Err(
            if want == ResponseCode::NoError && a.rcode == ResponseCode::NXDomain {
                (Reason::DnsNxdomain, "answered NXDOMAIN".to_owned())
            } else {
                (
                    Reason::DnsRcode,
                    format!("answered {got} (expected {})", rcode_name(want)),
                )
            },
        );
    }
    if want != ResponseCode::NoError {
        return Ok(());
    }
    match &spec.expected {
        None if a.values.is_empty() => {
            return Err((
                Reason::DnsMismatch,
                format!("answered no {} records", spec.query_type),
            ));
        }
        None => {}
        Some(e) => {
            let ok = match spec.match_mode {
                MatchMode::Exact => &a.values == e,
                MatchMode::Contains => e.is_subset(&a.values),
            };
            if !ok {
                return Err((Reason::DnsMismatch, format!("answered {}", list(&a.values))));
            }
        }
    }
    if let (Some(lo), Some(t)) = (spec.min_ttl, a.ttls.iter().min())
        && *t < lo
    {
        return Err((Reason::DnsTtl, format!("answered TTL {t} < min_ttl {lo}")));
    }
    if let (Some(hi), Some(t)) = (spec.max_ttl, a.ttls.iter().max())
        && *t > hi
    {
        return Err((Reason::DnsTtl, format!("answered TTL {t} > max_ttl {hi}")));
    }
    Ok(())
}

fn metadata(
    spec: &DnsSpec,
    resolvers: &[Resolver],
    results: &[Result<Answer, QueryError>],
    verdicts: &[Verdict],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut per = serde_json::Map::new();
    let mut agreed: Option<&Answer> = None;
    for ((r, res), v) in resolvers.iter().zip(results).zip(verdicts) {
        let mut m = serde_json::Map::new();
        match res {
            Ok(a) => {
                m.insert("rcode".to_owned(), serde_json::json!(rcode_name(a.rcode)));
                m.insert(
                    "answer".to_owned(),
                    serde_json::json!(a.values.iter().collect::<Vec<_>>()),
                );
                if let Some(t) = a.ttls.iter().min() {
                    m.insert("ttl".to_owned(), serde_json::json!(t));
                }
                m.insert("transport".to_owned(), serde_json::json!(a.transport));
                m.insert(
                    "latency_ms".to_owned(),
                    serde_json::json!(tcp::millis(a.latency)),
                );
                if v.is_ok() && agreed.is_none() {
                    agreed = Some(a);
                }
            }
            Err(QueryError::Timeout(_)) => {
                m.insert("error".to_owned(), serde_json::json!("timeout"));
            }
            Err(QueryError::Io(e)) => {
                m.insert("error".to_owned(), serde_json::json!(e.to_string()));
            }
            Err(
                QueryError::Malformed(e)
                | QueryError::Tls(_, e)
                | QueryError::Resolve(e)
                | QueryError::Transport(e),
            ) => {
                m.insert("error".to_owned(), serde_json::json!(e));
            }
        }
        m.insert("agrees".to_owned(), serde_json::json!(v.is_ok()));
        per.insert(r.to_string(), serde_json::Value::Object(m));
    }
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("resolvers".to_owned(), serde_json::Value::Object(per));
    meta.insert(
        "query".to_owned(),
        serde_json::json!(format!(
            "{} {}",
            display_name(&spec.query_name),
            spec.query_type
        )),
    );
    let agree = verdicts.iter().filter(|v| v.is_ok()).count();
    meta.insert("agree".to_owned(), serde_json::json!(agree));
    meta.insert(
        "resolver_count".to_owned(),
        serde_json::json!(resolvers.len()),
    );
    if let Some(a) = agreed {
        meta.insert("rcode".to_owned(), serde_json::json!(rcode_name(a.rcode)));
        meta.insert(
            "answer".to_owned(),
            serde_json::json!(a.values.iter().collect::<Vec<_>>()),
        );
        if let Some(t) = a.ttls.iter().min() {
            meta.insert("ttl".to_owned(), serde_json::json!(t));
        }
    }
    meta
}

struct BuiltQuery {
    id: u16,
    bytes: Vec<u8>,
    message: Message,
}

fn build_query(spec: &DnsSpec) -> Result<BuiltQuery, String> {
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
struct Trust<'a> {
    ca_file: Option<&'a str>,
    insecure: bool,
}

/// Ask one resolver within `budget`. Plain: UDP with retransmits, then TCP if the answer is
/// truncated. DoT and DoH: one connection, one query, through hickory-proto.
async fn ask(
    resolver: &Resolver,
    query: &BuiltQuery,
    rtype: RecordType,
    trust: Trust<'_>,
    budget: Duration,
) -> Result<Answer, QueryError> {
    let start = Instant::now();
    let deadline = start + budget;
    let (msg, transport) = match resolver {
        Resolver::Plain(server) => {
            let msg = udp_exchange(*server, query, deadline, budget).await?;
            if msg.truncated() {
                (tcp_exchange(*server, query, deadline, budget).await?, "tcp")
            } else {
                (msg, "udp")
            }
        }
        encrypted => {
            let (config, verifier) =
                tls_util::recording_client_config(trust.ca_file, trust.insecure)
                    .map_err(QueryError::Transport)?;
            let work = encrypted_exchange(encrypted, query, std::sync::Arc::new(config), budget);
            match tokio::time::timeout(budget, work).await {
                Ok(Err(QueryError::Timeout(_))) | Err(_) => {
                    return Err(QueryError::Timeout(budget));
                }
                // The verifier knows the certificate problem the transport reports as text.
                Ok(Err(e)) => return Err(verifier.error().map_or(e, |t| tls_failure(&t))),
                Ok(Ok(r)) => r,
            }
        }
    };
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
    Ok(Answer {
        rcode: msg.response_code(),
        values,
        ttls,
        transport,
        latency: start.elapsed(),
    })
}

/// One query to a DoT or DoH resolver; returns the answer and the transport's name.
async fn encrypted_exchange(
    resolver: &Resolver,
    query: &BuiltQuery,
    tls: std::sync::Arc<rustls::ClientConfig>,
    budget: Duration,
) -> Result<(Message, &'static str), QueryError> {
    use hickory_resolver::proto::runtime::TokioRuntimeProvider;
    match resolver {
        Resolver::Tls { addr, server_name } => {
            // Without a name the certificate must be valid for the IP address.
            let name = server_name.clone().unwrap_or_else(|| addr.ip().to_string());
            let (connect, handle) = hickory_resolver::proto::rustls::tls_client_connect(
                *addr,
                name,
                tls,
                TokioRuntimeProvider::new(),
            );
            let mux = hickory_resolver::proto::xfer::DnsMultiplexer::with_timeout(
                connect, handle, budget, None,
            );
            Ok((exchange(mux, &query.message).await?, "tls"))
        }
        Resolver::Https(url) => {
            let host = url.host_str().unwrap_or_default();
            let port = url.port_or_known_default().unwrap_or(443);
            // An IPv6 literal comes bracketed from the URL.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::net::lookup_host((bare, port))
                    .await
                    .map_err(|e| QueryError::Resolve(format!("host {bare} did not resolve ({e})")))?
                    .take(MAX_DOH_ADDRESSES)
                    .collect(),
            };
            // A name with several addresses (`localhost`: ::1 and 127.0.0.1) is tried address
            // by address while connecting fails; any other error is the answer.
            let mut last = QueryError::Resolve(format!("host {bare} has no address"));
            for addr in addrs {
                let connect =
                    hickory_resolver::proto::h2::HttpsClientStreamBuilder::with_client_config(
                        std::sync::Arc::clone(&tls),
                        TokioRuntimeProvider::new(),
                    )
                    .build(addr, bare.to_owned(), url.path().to_owned());
                match exchange(connect, &query.message).await {
                    Ok(m) => return Ok((m, "https")),
                    Err(e @ QueryError::Io(_)) => last = e,
                    Err(e) => return Err(e),
                }
            }
            Err(last)
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
    let reason = tls_util::reason_for(err);
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

    #[test]
    fn expected_values_are_normalised() {
        assert_eq!(
            normalize_expected(RecordType::MX, "10 Mail.Example.com.").as_deref(),
            Ok("10 mail.example.com")
        );
        assert_eq!(
            normalize_expected(RecordType::AAAA, "2001:db8:0:0::1").as_deref(),
            Ok("2001:db8::1")
        );
        assert_eq!(
            normalize_expected(RecordType::CAA, "0 ISSUE \"letsencrypt.org\"").as_deref(),
            Ok("0 issue letsencrypt.org")
        );
        assert_eq!(
            normalize_expected(RecordType::SRV, "0 5 5060 sip.example.com").as_deref(),
            Ok("0 5 5060 sip.example.com")
        );
        assert!(normalize_expected(RecordType::A, "not-an-ip").is_err());
        assert!(normalize_expected(RecordType::MX, "mail.example.com").is_err());
        assert!(normalize_expected(RecordType::MX, "10 a b").is_err());
        assert_eq!(norm_name("."), ".");
    }

    #[test]
    fn failures_name_the_resolver_and_its_transport() {
        let dot = parse_resolver("tls://127.0.0.1:8853#dns.test").unwrap();
        let QueryError::Tls(reason, msg) = tls_failure(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName,
        )) else {
            panic!("not a TLS failure");
        };
        assert_eq!(reason, Reason::TlsNameMismatch);
        assert_eq!(
            named(&dot, &msg),
            "tls://127.0.0.1:8853#dns.test: TLS handshake failed: certificate name mismatch"
        );
        let plain = parse_resolver("10.0.0.2").unwrap();
        assert_eq!(
            named(&plain, "answered NXDOMAIN"),
            "10.0.0.2:53 answered NXDOMAIN"
        );
    }

    #[test]
    fn rcode_names() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::Unknown(3000)), "RCODE3000");
    }
}
