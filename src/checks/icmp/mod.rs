//! `icmp_checks`: send `count` ICMP echo requests to a host `interval` apart and judge the
//! replies (loss, average round trip). The spec and its keys live here, the socket work in
//! [`probe`] and the verdict in [`judge`].

pub mod judge;
pub mod packet;
pub mod probe;
mod reasons;

use std::net::IpAddr;
use std::time::Duration;

use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::{Field, FieldType as T, opt, req};
use crate::reader::yaml::MapReader;

/// Default number of echo requests.
pub const DEFAULT_COUNT: u16 = 3;
/// Default time between two echo requests.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
/// The shortest `interval` accepted: no flood pings from a health check.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
const MAX_COUNT: u64 = 100;

/// Which address family the host is pinged over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    /// The first address the host resolves to.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl IpFamily {
    /// Whether `addr` is of this family.
    pub fn admits(self, addr: &IpAddr) -> bool {
        match self {
            IpFamily::Any => true,
            IpFamily::V4 => addr.is_ipv4(),
            IpFamily::V6 => addr.is_ipv6(),
        }
    }
}

/// A validated ICMP check.
#[derive(Debug, Clone)]
pub struct IcmpSpec {
    /// Host name or IP address.
    pub host: String,
    /// Echo requests sent.
    pub count: u16,
    /// Time between two requests.
    pub interval: Duration,
    /// Loss tolerated, in percent (0-100).
    pub max_loss: u8,
    /// Address family.
    pub ip: IpFamily,
}

/// The icmp kind (see `src/checks/registry.rs`).
impl Kind for IcmpSpec {
    const NAME: &'static str = "icmp";

    const FIELDS: &'static [Field] = &[
        req("host", T::String, "Host name or IP address to ping."),
        opt(
            "count",
            T::Integer,
            "Echo requests sent (1-100, default 3).",
        ),
        opt(
            "interval",
            T::Duration,
            "Time between two echo requests (at least 10ms, default 200ms).",
        ),
        opt(
            "max_loss",
            T::Integer,
            "Percentage of requests that may go unanswered (0-100, default 0: any loss fails).",
        ),
        opt(
            "ip",
            T::Choice(&["any", "v4", "v6"]),
            "Address family used for the host (default any: the first address).",
        ),
    ];

    /// The lookup (not for an IP literal). The round trips are the check's own measurement, in
    /// its metadata.
    const PHASES: &'static [PhaseName] = &[PhaseName::Dns];
    const VALUES: &'static [&'static str] = &[];
    const LATENCY_REASON: Reason = Reason::IcmpLatency;
    const EXPECT_REASON: Reason = Reason::IcmpExpect;
    const REASONS: &'static [&'static [Reason]] = &[&[Reason::DnsResolve], reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let host = super::common::net::host(r, ctx);
        let count = match r.take("count") {
            Some((n, p)) => match ctx.uint(n, &p, MAX_COUNT)? {
                0 => {
                    ctx.problem(n, &p, "count must be at least 1");
                    None
                }
                c => u16::try_from(c).ok(),
            },
            None => Some(DEFAULT_COUNT),
        };
        let interval = match r.take("interval") {
            Some((n, p)) => match ctx.duration(n, &p)? {
                d if d < MIN_INTERVAL => {
                    ctx.problem(n, &p, "interval must be at least 10ms");
                    None
                }
                d => Some(d),
            },
            None => Some(DEFAULT_INTERVAL),
        };
        let max_loss = match r.take("max_loss") {
            Some((n, p)) => ctx.uint(n, &p, 100).and_then(|v| u8::try_from(v).ok()),
            None => Some(0),
        };
        let ip = match r.take("ip") {
            Some((n, p)) => match ctx.string(n, &p)?.trim().to_ascii_lowercase().as_str() {
                "any" => Some(IpFamily::Any),
                "v4" => Some(IpFamily::V4),
                "v6" => Some(IpFamily::V6),
                other => {
                    ctx.problem(
                        n,
                        &p,
                        format!("expected `v4`, `v6` or `any`, found `{other}`"),
                    );
                    None
                }
            },
            None => Some(IpFamily::Any),
        };
        let (host, count, interval, max_loss, ip) = (host?, count?, interval?, max_loss?, ip?);
        let target = host.clone();
        Some((
            IcmpSpec {
                host,
                count,
                interval,
                max_loss,
                ip,
            },
            target,
        ))
    }

    /// Checks of one host share its limit (no port: ICMP has none).
    fn host_key(&self) -> Option<String> {
        Some(self.host.trim_end_matches('.').to_ascii_lowercase())
    }

    async fn run(&self, check: &CheckDef, _: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.timeout, check.thresholds, phase).await
    }
}

/// Run one attempt: resolve, probe, judge.
pub async fn run(
    spec: &IcmpSpec,
    timeout: Duration,
    thresholds: Thresholds,
    phase: &super::Phase,
) -> Outcome {
    phase.set("resolving the host");
    let addr = match resolve(&spec.host, spec.ip, phase).await {
        Ok(a) => a,
        Err(o) => return o,
    };
    phase.set("waiting for echo replies");
    let budget = super::common::soft_deadline(timeout);
    match probe::ping(addr, spec.count, spec.interval, budget).await {
        Ok(facts) => judge::judge(spec, thresholds, &facts),
        Err(e) => {
            let reason = match e {
                probe::ProbeError::Setup(_) => Reason::Internal,
                probe::ProbeError::Permission { .. } | probe::ProbeError::Unsupported => {
                    Reason::IcmpPermission
                }
            };
            Outcome::fail(reason, e.to_string()).with_meta("remote_addr", addr.to_string())
        }
    }
}

/// The first address of `host` in the wanted family.
async fn resolve(host: &str, family: IpFamily, phase: &super::Phase) -> Result<IpAddr, Outcome> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if family.admits(&ip) {
            Ok(ip)
        } else {
            Err(Outcome::fail(
                Reason::DnsResolve,
                format!("`{host}` is not an address of the family `ip` asks for"),
            ))
        };
    }
    let t0 = std::time::Instant::now();
    let addrs = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| Outcome::fail(Reason::DnsResolve, format!("cannot resolve `{host}`: {e}")))?;
    phase.lap(crate::model::PhaseName::Dns, t0);
    addrs
        .map(|a| a.ip())
        .find(|ip| family.admits(ip))
        .ok_or_else(|| {
            Outcome::fail(
                Reason::DnsResolve,
                format!("`{host}` resolved to no address of the wanted family"),
            )
        })
}
