//! The reason codes only `dns` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `dns` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    DnsMismatch = 290 => "dns.mismatch", Failure, "DNS answer differs from the expected records",
        "The resolver's answer does not match `expected` (exact set, or `match: contains`).";
    DnsRcode = 300 => "dns.rcode", Failure, "DNS response code differs from the expected one",
        "The resolver answered with a response code (NXDOMAIN, SERVFAIL, REFUSED…) other than `expect_rcode`.";
    DnsNxdomain = 310 => "dns.nxdomain", Failure, "The DNS name does not exist",
        "The resolver answered NXDOMAIN for a name the check expects to exist.";
    DnsTtl = 320 => "dns.ttl", Failure, "DNS TTL outside the configured bounds",
        "The answer's TTL is below `min_ttl` or above `max_ttl`.";
    DnsPropagation = 330 => "dns.propagation", Failure, "Resolvers disagree about the DNS answer",
        "Not every resolver returns the expected answer: the change has not propagated (below `min_agree` is FAIL).";
    DnsTimeout = 340 => "dns.timeout", Error, "The DNS resolver did not answer",
        "The resolver did not answer within the check's timeout.";
    DnsLatency = 380 => "dns.latency", Failure, "DNS resolver answered slowly",
        "The slowest resolver took longer than `warn_latency` (WARN) or `fail_latency` (FAIL) to answer.";
    DnsExpect = 390 => "dns.expect", Failure, "A condition on the DNS answer did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
