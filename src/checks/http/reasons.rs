//! The reason codes only `http` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `http` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    HttpStatus = 10 => "http.status", Failure, "HTTP endpoint returned an unexpected status",
        "The HTTP response status was not one of the statuses the check expects (`expected_status`).";
    HttpBody = 20 => "http.body", Failure, "HTTP response body did not match",
        "The response body did not contain the expected text, contained forbidden text, or did not match `body_regex`.";
    HttpJson = 30 => "http.json", Failure, "JSON assertion on the HTTP response failed",
        "A `json` assertion did not hold: the path is missing, the body is not JSON, or the value differs.";
    HttpHeader = 40 => "http.header", Failure, "HTTP response header assertion failed",
        "A `response_headers` assertion did not hold: the header is missing or its value differs.";
    HttpLatency = 50 => "http.latency", Failure, "HTTP endpoint answered slowly",
        "The response took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    HttpExpect = 60 => "http.expect", Failure, "A condition on the HTTP response did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    HttpRedirect = 70 => "http.redirect", Failure, "HTTP redirects exceeded the limit",
        "The endpoint redirected more often than `max_redirects` allows, or in a loop.";
    HttpProxy = 80 => "http.proxy", Error, "The HTTP proxy refused or failed",
        "The proxy the check goes through (`proxy:` or the proxy environment variables) refused the connection, asked for credentials (407), refused the CONNECT tunnel or failed its SOCKS handshake.";
    HttpProtocol = 90 => "http.protocol", Error, "The peer did not speak valid HTTP",
        "The connection was made but the peer's answer was not a valid HTTP response.";
    HttpBodyRead = 100 => "http.body_read", Error, "Reading the HTTP response body failed",
        "The connection broke while the response body was being read.";
}
