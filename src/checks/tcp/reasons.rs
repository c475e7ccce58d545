//! The reason codes only `tcp` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `tcp` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    TcpExpect = 280 => "tcp.expect", Failure, "The TCP banner did not match",
        "The bytes read from the connection did not contain `expect`, or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    TcpLatency = 350 => "tcp.latency", Failure, "TCP connection or banner exchange was slow",
        "Connecting (plus `send`/`expect`) took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
}
