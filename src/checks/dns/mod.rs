//! `dns_checks`: one query sent to every listed resolver, each answer judged against
//! `expected`, `expect_rcode` and the TTL bounds, and the answers compared across resolvers
//! (propagation, with a `min_agree` quorum). A resolver is plain DNS (UDP, falling back to TCP
//! when the answer is truncated), DNS over TLS (`tls://IP[:853][#server-name]`, RFC 7858) or DNS
//! over HTTPS (`https://host[:port]/dns-query`, RFC 8484), freely mixed in one check; the
//! encrypted transports verify the resolver's certificate (`ca_file`, `insecure`) with the
//! process's one rustls provider. Queries are built and parsed with hickory-proto, which also
//! speaks DoT and DoH; nothing goes through the system `dig`.
//!
//! By job: [`spec`] (the keys and their parser), [`resolver`] (how a resolver is written, the
//! system's resolvers), `records` (the canonical text of record values), `client` (the wire),
//! `judge` (facts in, verdict out, no I/O), `metadata` (the result's JSON details) and `run`
//! (gathers the facts and calls the judge).

mod client;
mod facts;
mod judge;
mod metadata;
mod records;
pub mod resolver;
mod run;
pub mod spec;

pub use resolver::{DEFAULT_PORT, DEFAULT_TLS_PORT, Resolver, SystemResolvers};
pub use run::run;
pub use spec::{DnsSpec, FIELDS, MatchMode, QUERY_TYPES, parse, rcode_name};

/// The phases the kind times: the queries (the slowest resolver's).
pub const PHASES: &[crate::model::PhaseName] = &[crate::model::PhaseName::Query];

/// The reason of a slow check or phase.
pub const LATENCY_REASON: crate::model::Reason = crate::model::Reason::DnsLatency;

/// The values its checks observe for `expect:` conditions, besides `latency` and
/// `latency.<phase>` (see `checks/common/expect`).
pub const VALUES: &[&str] = &["dns.answers", "dns.ttl"];

/// The reason of a failed `expect:` condition.
pub const EXPECT_REASON: crate::model::Reason = crate::model::Reason::DnsExpect;

/// This kind's answers to the registry's questions (`src/checks/registry.rs`).
impl crate::checks::Kind for DnsSpec {
    /// Limited on its one resolver; several (or the system's) resolvers get one small query
    /// each and are not host-limited.
    fn host_key(&self) -> Option<String> {
        match self.resolvers.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }
    fn thresholds(&self) -> Option<&crate::checks::Thresholds> {
        Some(&self.thresholds)
    }
    fn tls_trust(&self) -> Option<crate::checks::common::tls::TlsTrust<'_>> {
        let trust = crate::checks::common::tls::TlsTrust {
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
    fn run<'a>(
        &'a self,
        check: &'a crate::checks::CheckDef,
        ctx: &'a crate::checks::RunContext,
        phase: &'a crate::checks::Phase,
    ) -> impl std::future::Future<Output = crate::model::Outcome> + Send + 'a {
        self::run(self, ctx, check.timeout, phase)
    }
}
