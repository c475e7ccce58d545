//! What a DNS check gathers from each resolver: its answer (rcode, records, TTLs, latency) or
//! why there was none, and the per-resolver verdict type. [`super::run`] produces them,
//! [`super::judge`] and [`super::metadata`] read them.

use std::collections::BTreeSet;
use std::time::Duration;

use hickory_resolver::proto::op::ResponseCode;

use crate::model::Reason;

/// What one resolver returned.
#[derive(Debug)]
pub(super) struct Answer {
    /// The response code.
    pub rcode: ResponseCode,
    /// The answer records of the queried type, in their canonical text.
    pub values: BTreeSet<String>,
    /// The TTL of each of those records.
    pub ttls: Vec<u32>,
    /// `udp`, `tcp`, `tls` or `https`.
    pub transport: &'static str,
    /// From the first packet sent to the answer.
    pub latency: Duration,
}

/// Why a resolver gave no answer.
#[derive(Debug)]
pub(super) enum QueryError {
    /// No answer within the budget.
    Timeout(Duration),
    /// The socket failed (refused, unreachable…).
    Io(std::io::Error),
    /// The answer was not a DNS message.
    Malformed(String),
    /// The TLS handshake with an encrypted resolver failed (certificate or protocol).
    Tls(Reason, String),
    /// The host of a DoH resolver could not be resolved.
    Resolve(String),
    /// Any other failure of an encrypted transport.
    Transport(String),
}

/// What one resolver did: its answer or why there was none.
pub(super) type Fact = Result<Answer, QueryError>;

/// A resolver's verdict: `Ok` when its answer satisfies the check.
pub(super) type Verdict = Result<(), (Reason, String)>;
