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
mod reasons;
mod records;
pub mod resolver;
mod run;
pub mod spec;

pub use resolver::{DEFAULT_PORT, DEFAULT_TLS_PORT, Resolver, SystemResolvers};
pub use run::run;
pub use spec::{DnsSpec, MatchMode, QUERY_TYPES, rcode_name};
