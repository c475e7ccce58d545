//! The reason codes only `tls` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `tls` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    TlsSelfSigned = 220 => "tls.self_signed", Failure, "The TLS certificate is self-signed",
        "The server presented a self-signed certificate that is not a trusted root.";
    TlsVersion = 250 => "tls.version", Failure, "The negotiated TLS version is too old",
        "The server negotiated a protocol version below `min_version`.";
    TlsLatency = 360 => "tls.latency", Failure, "TLS connection and handshake were slow",
        "Connecting and the TLS handshake took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    TlsExpect = 370 => "tls.expect", Failure, "A condition on the TLS certificate did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
