//! The reason codes of families several kinds share (connect, name resolution, the TLS
//! handshake and certificate, databases): rows of the reason table (see `src/model/reason.rs`).
//! Each kind that may end with one names it in its `REASONS`, directly or through a group
//! (`net::CONNECT_REASONS`, `tls::HANDSHAKE_REASONS`, `db::REASONS`).

crate::model::reasons! {
    /// Every shared row, for the test that each is some kind's.
    #[cfg(test)]
    pub(crate) const ROWS;
    ConnectRefused = 140 => "connect.refused", Error, "Connection refused",
        "Nothing listens on the target port, or a firewall rejected the connection.";
    ConnectReset = 150 => "connect.reset", Error, "Connection reset by the peer",
        "The peer closed or reset the connection before answering.";
    ConnectError = 160 => "connect.error", Error, "The connection could not be established",
        "A network error other than refused/reset prevented the connection.";
    DnsResolve = 170 => "dns.resolve", Error, "The target host name could not be resolved",
        "Name resolution of the check's host failed.";
    TcpRefused = 270 => "tcp.refused", Error, "TCP connection refused",
        "Nothing listens on the target port, or a firewall rejected the connection.";
    TlsHandshake = 180 => "tls.handshake", Error, "The TLS handshake failed",
        "The TLS handshake failed for a reason other than certificate validation.";
    TlsExpired = 190 => "tls.expired", Failure, "The TLS certificate has expired",
        "A certificate in the served chain is past its notAfter date.";
    TlsNotYetValid = 200 => "tls.not_yet_valid", Failure, "The TLS certificate is not yet valid",
        "A certificate in the served chain has a notBefore date in the future.";
    TlsNameMismatch = 210 => "tls.name_mismatch", Failure, "The TLS certificate does not match the host name",
        "The leaf certificate's SANs do not cover the name the check verifies (`server_name` or host).";
    TlsUntrusted = 230 => "tls.untrusted", Failure, "The TLS certificate chain is not trusted",
        "The chain does not lead to a trusted root (system roots or `ca_file`).";
    TlsInvalid = 260 => "tls.invalid", Failure, "The TLS certificate is invalid",
        "The certificate was rejected for a reason other than expiry, name or trust (bad encoding, usage, revocation…).";
    TlsExpiring = 240 => "tls.expiring", Failure, "The TLS certificate expires soon",
        "The certificate expires within `warn_days` (WARN) or `fail_days` (FAIL).";
    DbConnect = 450 => "db.connect", Error, "The database server could not be reached",
        "The TCP connection or the TLS negotiation with the database server failed (refused, unreachable, TLS required or refused).";
    DbAuth = 460 => "db.auth", Failure, "The database rejected the credentials",
        "Authentication failed: wrong user or password, or the user may not connect to this database from this host.";
    DbQuery = 470 => "db.query", Failure, "The database query failed",
        "The server returned an error for `query` (syntax, missing table, permission).";
    DbExpect = 480 => "db.expect", Failure, "The query result did not meet the expectation",
        "The number of rows differs from `expect_rows`, the first column of the first row differs from `expect_value`, or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    DbLatency = 490 => "db.latency", Failure, "The database answered slowly",
        "Connecting and running the query took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
}
