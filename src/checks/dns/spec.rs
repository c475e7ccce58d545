//! The dns kind: its [`Kind`] implementation (its keys, `FIELDS`, the one declaration the key
//! list, the JSON Schema and the docs are read from, and the parser that builds a validated
//! [`DnsSpec`], reporting every problem with its position; its phases, values and reasons).

use std::collections::BTreeSet;

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};

use super::records::{display_name, normalize_expected};
use super::resolver::{Resolver, parse_resolver};
use crate::checks::{CheckDef, Kind, Phase, RunContext, common};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::{Field, FieldType as T, field_table, opt, req};
use crate::reader::yaml::{MapReader, Node};

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
    /// Extra trusted CAs for the encrypted resolvers.
    pub ca_file: Option<String>,
    /// Skip certificate verification of the encrypted resolvers.
    pub insecure: bool,
    /// The client certificate presented to encrypted resolvers that ask for one.
    pub client: Option<common::tls::ClientIdentity>,
}

/// The upper-case mnemonic of a response code.
pub fn rcode_name(rc: ResponseCode) -> String {
    RCODES.iter().find(|(_, c)| *c == rc).map_or_else(
        || format!("RCODE{}", u16::from(rc)),
        |(n, _)| (*n).to_owned(),
    )
}

/// The dns kind (see `src/checks/registry.rs`).
impl Kind for DnsSpec {
    const NAME: &'static str = "dns";

    const FIELDS: &'static [Field] = field_table![
        &[
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
        ],
        common::trust::CLIENT_FIELDS,
    ];

    /// The queries (the slowest resolver's).
    const PHASES: &'static [PhaseName] = &[PhaseName::Query];
    const VALUES: &'static [&'static str] = &["dns.answers", "dns.ttl"];
    const LATENCY_REASON: Reason = Reason::DnsLatency;
    const EXPECT_REASON: Reason = Reason::DnsExpect;
    const REASONS: &'static [&'static [Reason]] = &[
        common::tls::HANDSHAKE_REASONS,
        &[
            Reason::DnsResolve,
            Reason::ConnectRefused,
            Reason::ConnectError,
        ],
        super::reasons::ROWS,
    ];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let query_name = read_query_name(r, ctx)?;
        let query_type = read_query_type(r, ctx)?;
        let expected_raw = r.take("expected");
        let match_mode = read_match_mode(r, ctx)?;
        let resolvers = read_resolvers(r, ctx);
        let expect_rcode = read_expect_rcode(r, ctx)?;
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
        let min_agree = read_min_agree(r, ctx, resolvers.len())?;
        let recursion_desired = match r.take("recursion_desired") {
            Some((n, p)) => ctx.boolean(n, &p).unwrap_or(true),
            None => true,
        };
        let encrypted = resolvers.iter().any(Resolver::encrypted);
        let (ca_file, insecure) = read_trust(r, ctx, encrypted)?;
        let client = common::trust::client_identity(r, ctx);
        if client.is_some() && !encrypted {
            ctx.problem(
                r.node,
                &r.path,
                "`client_cert` and `client_key` apply to `tls://` and `https://` resolvers only, and none is listed",
            );
        }

        let query_type = query_type?;
        let expected = match expected_raw {
            Some((n, p)) => Some(parse_expected(n, &p, ctx, query_type)?),
            None => None,
        };
        check_expected(r, ctx, match_mode, expect_rcode, expected.as_ref());
        let query_name = query_name?;
        let target = target(&query_name, query_type, &resolvers);
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
                ca_file,
                insecure,
                client,
            },
            target,
        ))
    }

    /// Limited on its one resolver; several (or the system's) resolvers get one small query
    /// each and are not host-limited.
    fn host_key(&self) -> Option<String> {
        match self.resolvers.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }

    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        let trust = common::tls::TlsTrust {
            ca_file: self.ca_file.as_deref(),
            insecure: self.insecure,
        };
        self.resolvers
            .iter()
            .any(Resolver::encrypted)
            .then_some(trust)
    }

    /// An encrypted resolver connects first and waits for the TLS preparation between its
    /// connect and its handshake (see `client::ask`).
    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        super::run(self, check.timeout, check.thresholds, ctx, phase).await
    }
}

/// `query_name`, made absolute; the outer `None` ends the parse.
fn read_query_name(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<Name>> {
    let Some((n, p)) = r.take("query_name") else {
        ctx.problem(r.node, &r.path, "missing required key `query_name`");
        return Some(None);
    };
    let s = ctx.non_empty(n, &p)?;
    Some(match Name::from_ascii(s.trim()) {
        Ok(mut name) => {
            name.set_fqdn(true);
            Some(name)
        }
        Err(e) => {
            ctx.problem(n, &p, format!("invalid DNS name `{s}`: {e}"));
            None
        }
    })
}

/// `query_type`, A when unset; the outer `None` ends the parse.
fn read_query_type(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<RecordType>> {
    let Some((n, p)) = r.take("query_type") else {
        return Some(Some(RecordType::A));
    };
    let s = ctx.string(n, &p)?.trim().to_ascii_uppercase();
    if QUERY_TYPES.contains(&s.as_str()) {
        Some(s.parse::<RecordType>().ok())
    } else {
        ctx.problem(
            n,
            &p,
            format!("unsupported query_type `{s}` ({})", QUERY_TYPES.join(", ")),
        );
        Some(None)
    }
}

/// `match`, exact when unset; `None` ends the parse.
fn read_match_mode(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<MatchMode> {
    let Some((n, p)) = r.take("match") else {
        return Some(MatchMode::Exact);
    };
    Some(
        match ctx.string(n, &p)?.trim().to_ascii_lowercase().as_str() {
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
    )
}

/// `resolvers`, without duplicates; empty when unset (the system resolver).
fn read_resolvers(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Vec<Resolver> {
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
    resolvers
}

/// `expect_rcode`; the outer `None` ends the parse.
fn read_expect_rcode(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<ResponseCode>> {
    let Some((n, p)) = r.take("expect_rcode") else {
        return Some(None);
    };
    let s = ctx.string(n, &p)?.trim().to_ascii_uppercase();
    Some(match RCODES.iter().find(|(name, _)| *name == s) {
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
    })
}

/// `min_ttl` or `max_ttl`, in seconds.
fn ttl(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Option<u32> {
    let (n, p) = r.take(key)?;
    ctx.uint(n, &p, u64::from(u32::MAX))
        .and_then(|v| u32::try_from(v).ok())
}

/// `min_agree`, at least 1 and at most the number of listed resolvers; the outer `None` ends
/// the parse.
fn read_min_agree(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    listed: usize,
) -> Option<Option<usize>> {
    let Some((n, p)) = r.take("min_agree") else {
        return Some(None);
    };
    let v = ctx
        .uint(n, &p, 1000)
        .and_then(|v| usize::try_from(v).ok())?;
    if v == 0 {
        ctx.problem(n, &p, "min_agree must be at least 1");
    } else if listed > 0 && v > listed {
        ctx.problem(
            n,
            &p,
            format!("min_agree {v} is more than the {listed} resolvers listed"),
        );
    }
    Some(Some(v))
}

/// `ca_file` and `insecure`, which only encrypted resolvers use; `None` ends the parse.
fn read_trust(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    encrypted: bool,
) -> Option<(Option<String>, bool)> {
    let ca_file = match r.take("ca_file") {
        Some((n, p)) => {
            let path = ctx.config_path(n, &p)?;
            if !encrypted {
                ctx.problem(
                    n,
                    &p,
                    "`ca_file` applies to `tls://` and `https://` resolvers only, and none is listed",
                );
            } else if let Err(e) = common::tls::read_pem_certs(&path) {
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
    Some((ca_file, insecure))
}

/// The rules that tie `expected` to `match` and `expect_rcode`.
fn check_expected(
    r: &MapReader<'_>,
    ctx: &mut Ctx<'_>,
    match_mode: MatchMode,
    expect_rcode: Option<ResponseCode>,
    expected: Option<&BTreeSet<String>>,
) {
    if match_mode == MatchMode::Contains && expected.is_none() {
        ctx.problem(r.node, &r.path, "`match: contains` needs `expected`");
    }
    if let Some(rc) = expect_rcode
        && rc != ResponseCode::NoError
        && expected.is_some_and(|e| !e.is_empty())
    {
        ctx.problem(
            r.node,
            &r.path,
            "`expected` values need `expect_rcode: NOERROR` (a name with another rcode has no records)",
        );
    }
}

/// `example.com A via 10.0.0.2:53, tls://9.9.9.9:853`: the check's target.
fn target(query_name: &Name, query_type: RecordType, resolvers: &[Resolver]) -> String {
    let via = if resolvers.is_empty() {
        "the system resolver".to_owned()
    } else {
        resolvers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{} {query_type} via {via}", display_name(query_name))
}

/// `expected`, each value in its canonical text; `None` when one is invalid.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcode_names() {
        assert_eq!(rcode_name(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_name(ResponseCode::Refused), "REFUSED");
        assert_eq!(rcode_name(ResponseCode::Unknown(3000)), "RCODE3000");
    }
}
