//! The reason codes only `icmp` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `icmp` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    IcmpLoss = 800 => "icmp.loss", Failure, "ICMP echo requests went unanswered",
        "More echo requests than `max_loss` percent (default 0) got no reply before the check's `timeout`.";
    IcmpLatency = 810 => "icmp.latency", Failure, "ICMP echo round trips were slow",
        "The average round trip of the echo replies was over `warn_latency` (WARN) or `fail_latency` (FAIL).";
    IcmpExpect = 820 => "icmp.expect", Failure, "A condition on the echo replies did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    IcmpUnreachable = 830 => "icmp.unreachable", Error, "The host cannot be reached over ICMP",
        "No echo reply came and the network said why: no route (sending failed) or an ICMP destination-unreachable error.";
    IcmpPermission = 840 => "icmp.permission", Error, "This process may not open an ICMP socket",
        "Neither an unprivileged ICMP socket (`net.ipv4.ping_group_range` must include the process's group) nor a raw socket (root or CAP_NET_RAW) was allowed, or the platform is not supported.";
}
