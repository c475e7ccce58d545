//! `http_checks`: one request, then assertions on status, headers, body, JSON and latency.
//! One shared client (and connection pool) per distinct TLS setting. By job: [`spec`] reads
//! the keys, [`client`] speaks the wire (clients, redirects, transport errors), [`judge`]
//! decides from the facts of a response, [`run`] gathers those facts.

pub mod client;
pub mod judge;
mod phases;
pub mod proxy;
pub mod run;
pub mod spec;
pub mod status;

pub use client::{Clients, classify};
pub use judge::{Facts, judge};
pub use run::run;
#[cfg(feature = "grpc")]
pub(crate) use spec::read_headers;
pub use spec::{ClientKey, DEFAULT_MAX_BODY, FIELDS, HttpSpec, JsonAssert, parse, redacted_url};

/// The phases the kind times: the lookup, connection and TLS handshake of a new connection (absent on a pooled one), the wait for the response head and the body.
pub const PHASES: &[crate::model::PhaseName] = &[
    crate::model::PhaseName::Dns,
    crate::model::PhaseName::Connect,
    crate::model::PhaseName::Tls,
    crate::model::PhaseName::Ttfb,
    crate::model::PhaseName::Transfer,
];

/// The reason of a slow check or phase.
pub const LATENCY_REASON: crate::model::Reason = crate::model::Reason::HttpLatency;

/// The values its checks observe for `expect:` conditions, besides `latency` and
/// `latency.<phase>` (see `checks/common/expect`).
pub const VALUES: &[&str] = &[
    "status",
    "header.<name>",
    "body",
    "body.<JSONPath>",
    "cert.days_left",
    "cert.issuer",
    "cert.subject",
    "cert.sans",
];

/// The reason of a failed `expect:` condition.
pub const EXPECT_REASON: crate::model::Reason = crate::model::Reason::HttpExpect;
pub use status::StatusPattern;

/// This kind's answers to the registry's questions (`src/checks/registry.rs`).
impl crate::checks::Kind for HttpSpec {
    fn host_key(&self) -> Option<String> {
        Some(crate::checks::host_key(
            self.url.host_str()?,
            self.url.port_or_known_default()?,
        ))
    }
    fn thresholds(&self) -> Option<&crate::checks::Thresholds> {
        Some(&self.thresholds)
    }
    fn days(&self) -> (Option<i64>, Option<i64>) {
        (self.warn_days, self.fail_days)
    }
    /// Over https, or through a proxy (which may speak TLS): the check's HTTP client is built
    /// before the run, its verifier looked up at the first handshake, which the check's wait
    /// for the preparation (before its clock) precedes.
    fn tls_trust(&self) -> Option<crate::checks::common::tls::TlsTrust<'_>> {
        let may_tls =
            self.url.scheme() == "https" || self.client.proxy != proxy::ProxyChoice::Direct;
        may_tls.then_some(crate::checks::common::tls::TlsTrust {
            ca_file: self.client.ca_file.as_deref(),
            insecure: self.client.insecure,
        })
    }
    fn run<'a>(
        &'a self,
        check: &'a crate::checks::CheckDef,
        ctx: &'a crate::checks::RunContext,
        phase: &'a crate::checks::Phase,
    ) -> impl std::future::Future<Output = crate::model::Outcome> + Send + 'a {
        self::run(self, ctx, phase, !check.expect.is_empty())
    }
}
