//! Stable reason codes: one row of the [`reasons!`] table drives the code, its class and its
//! texts.

macro_rules! reasons {
    ($( $variant:ident => $code:literal, $class:ident, $short:literal, $full:literal ; )*) => {
        /// A stable, documented code for why a check did not pass.
        ///
        /// Codes are part of the public contract (JSON `reason`, JUnit `type`, SARIF rule ids):
        /// never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Reason { $( #[doc = $short] $variant, )* }

        impl Reason {
            /// Every reason, in documentation order.
            pub const ALL: &'static [Reason] = &[ $( Reason::$variant, )* ];

            /// The stable dotted code, e.g. `http.status`.
            pub fn code(self) -> &'static str {
                match self { $( Reason::$variant => $code, )* }
            }

            /// Whether the check could not run (JUnit `<error>`) rather than ran and found a
            /// problem (JUnit `<failure>`).
            pub fn class(self) -> ReasonClass {
                match self { $( Reason::$variant => ReasonClass::$class, )* }
            }

            /// One line describing the problem, for SARIF rules and `docs/results.md`.
            pub fn short_description(self) -> &'static str {
                match self { $( Reason::$variant => $short, )* }
            }

            /// A longer explanation with what to look at.
            pub fn full_description(self) -> &'static str {
                match self { $( Reason::$variant => $full, )* }
            }
        }
    };
}

/// Whether a reason means "the check ran and its expectation failed" or "the check could not run".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// The check ran and an expectation did not hold.
    Failure,
    /// The check could not run (network, timeout, internal error…).
    Error,
}

reasons! {
    HttpStatus => "http.status", Failure, "HTTP endpoint returned an unexpected status",
        "The HTTP response status was not one of the statuses the check expects (`expected_status`).";
    HttpBody => "http.body", Failure, "HTTP response body did not match",
        "The response body did not contain the expected text, contained forbidden text, or did not match `body_regex`.";
    HttpJson => "http.json", Failure, "JSON assertion on the HTTP response failed",
        "A `json` assertion did not hold: the path is missing, the body is not JSON, or the value differs.";
    HttpHeader => "http.header", Failure, "HTTP response header assertion failed",
        "A `response_headers` assertion did not hold: the header is missing or its value differs.";
    HttpLatency => "http.latency", Failure, "HTTP endpoint answered slowly",
        "The response took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    HttpExpect => "http.expect", Failure, "A condition on the HTTP response did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    HttpRedirect => "http.redirect", Failure, "HTTP redirects exceeded the limit",
        "The endpoint redirected more often than `max_redirects` allows, or in a loop.";
    HttpProxy => "http.proxy", Error, "The HTTP proxy refused or failed",
        "The proxy the check goes through (`proxy:` or the proxy environment variables) refused the connection, asked for credentials (407), refused the CONNECT tunnel or failed its SOCKS handshake.";
    HttpProtocol => "http.protocol", Error, "The peer did not speak valid HTTP",
        "The connection was made but the peer's answer was not a valid HTTP response.";
    HttpBodyRead => "http.body_read", Error, "Reading the HTTP response body failed",
        "The connection broke while the response body was being read.";
    Timeout => "timeout", Error, "The check did not finish within its timeout",
        "The check's `timeout` covers the whole check (connect, TLS, request, body); it expired.";
    TimeoutDeadline => "timeout.deadline", Error, "The run's global deadline passed before the check finished",
        "`--deadline` expired while this check was queued or running.";
    Cancelled => "cancelled", Error, "The run was interrupted before the check finished",
        "infracheck received SIGINT or SIGTERM while this check was queued or running.";
    ConnectRefused => "connect.refused", Error, "Connection refused",
        "Nothing listens on the target port, or a firewall rejected the connection.";
    ConnectReset => "connect.reset", Error, "Connection reset by the peer",
        "The peer closed or reset the connection before answering.";
    ConnectError => "connect.error", Error, "The connection could not be established",
        "A network error other than refused/reset prevented the connection.";
    DnsResolve => "dns.resolve", Error, "The target host name could not be resolved",
        "Name resolution of the check's host failed.";
    TlsHandshake => "tls.handshake", Error, "The TLS handshake failed",
        "The TLS handshake failed for a reason other than certificate validation.";
    TlsExpired => "tls.expired", Failure, "The TLS certificate has expired",
        "A certificate in the served chain is past its notAfter date.";
    TlsNotYetValid => "tls.not_yet_valid", Failure, "The TLS certificate is not yet valid",
        "A certificate in the served chain has a notBefore date in the future.";
    TlsNameMismatch => "tls.name_mismatch", Failure, "The TLS certificate does not match the host name",
        "The leaf certificate's SANs do not cover the name the check verifies (`server_name` or host).";
    TlsSelfSigned => "tls.self_signed", Failure, "The TLS certificate is self-signed",
        "The server presented a self-signed certificate that is not a trusted root.";
    TlsUntrusted => "tls.untrusted", Failure, "The TLS certificate chain is not trusted",
        "The chain does not lead to a trusted root (system roots or `ca_file`).";
    TlsExpiring => "tls.expiring", Failure, "The TLS certificate expires soon",
        "The certificate expires within `warn_days` (WARN) or `fail_days` (FAIL).";
    TlsVersion => "tls.version", Failure, "The negotiated TLS version is too old",
        "The server negotiated a protocol version below `min_version`.";
    TlsInvalid => "tls.invalid", Failure, "The TLS certificate is invalid",
        "The certificate was rejected for a reason other than expiry, name or trust (bad encoding, usage, revocation…).";
    TcpRefused => "tcp.refused", Error, "TCP connection refused",
        "Nothing listens on the target port, or a firewall rejected the connection.";
    TcpExpect => "tcp.expect", Failure, "The TCP banner did not match",
        "The bytes read from the connection did not contain `expect`, or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    DnsMismatch => "dns.mismatch", Failure, "DNS answer differs from the expected records",
        "The resolver's answer does not match `expected` (exact set, or `match: contains`).";
    DnsRcode => "dns.rcode", Failure, "DNS response code differs from the expected one",
        "The resolver answered with a response code (NXDOMAIN, SERVFAIL, REFUSED…) other than `expect_rcode`.";
    DnsNxdomain => "dns.nxdomain", Failure, "The DNS name does not exist",
        "The resolver answered NXDOMAIN for a name the check expects to exist.";
    DnsTtl => "dns.ttl", Failure, "DNS TTL outside the configured bounds",
        "The answer's TTL is below `min_ttl` or above `max_ttl`.";
    DnsPropagation => "dns.propagation", Failure, "Resolvers disagree about the DNS answer",
        "Not every resolver returns the expected answer: the change has not propagated (below `min_agree` is FAIL).";
    DnsTimeout => "dns.timeout", Error, "The DNS resolver did not answer",
        "The resolver did not answer within the check's timeout.";
    TcpLatency => "tcp.latency", Failure, "TCP connection or banner exchange was slow",
        "Connecting (plus `send`/`expect`) took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    TlsLatency => "tls.latency", Failure, "TLS connection and handshake were slow",
        "Connecting and the TLS handshake took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    TlsExpect => "tls.expect", Failure, "A condition on the TLS certificate did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    DnsLatency => "dns.latency", Failure, "DNS resolver answered slowly",
        "The slowest resolver took longer than `warn_latency` (WARN) or `fail_latency` (FAIL) to answer.";
    DnsExpect => "dns.expect", Failure, "A condition on the DNS answer did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    CommandSpawn => "command.spawn", Error, "The command could not be started",
        "The program was not found, is not executable, or `cwd` does not exist.";
    CommandExit => "command.exit", Failure, "The command exited with an unexpected code",
        "The exit code was not one of `expect_exit` (default 0), or the command was killed by a signal.";
    CommandOutput => "command.output", Failure, "The command's output did not match",
        "stdout or stderr did not contain `stdout_contains`/`stderr_contains`, contained `stdout_not_contains`, or did not match `stdout_regex`/`stderr_regex`.";
    CommandLatency => "command.latency", Failure, "The command ran slowly",
        "The command took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    CommandExpect => "command.expect", Failure, "A condition on the command's output did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    DbConnect => "db.connect", Error, "The database server could not be reached",
        "The TCP connection or the TLS negotiation with the database server failed (refused, unreachable, TLS required or refused).";
    DbAuth => "db.auth", Failure, "The database rejected the credentials",
        "Authentication failed: wrong user or password, or the user may not connect to this database from this host.";
    DbQuery => "db.query", Failure, "The database query failed",
        "The server returned an error for `query` (syntax, missing table, permission).";
    DbExpect => "db.expect", Failure, "The query result did not meet the expectation",
        "The number of rows differs from `expect_rows`, the first column of the first row differs from `expect_value`, or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    DbLatency => "db.latency", Failure, "The database answered slowly",
        "Connecting and running the query took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    RedisConnect => "redis.connect", Error, "The Redis server could not be reached",
        "The TCP connection or TLS handshake with Redis failed, or the server closed the connection.";
    RedisAuth => "redis.auth", Failure, "Redis rejected the credentials",
        "AUTH failed (wrong password or user), or the server requires a password that the URL does not give.";
    RedisError => "redis.error", Failure, "Redis answered a command with an error",
        "PING, ROLE or EXISTS returned an error reply (for example LOADING or MASTERDOWN).";
    RedisRole => "redis.role", Failure, "The Redis server has an unexpected replication role",
        "The server's ROLE is not the configured `role` (master or replica).";
    RedisKey => "redis.key", Failure, "An expected Redis key does not exist",
        "A key listed in `keys_exist` is missing from the selected database.";
    RedisLatency => "redis.latency", Failure, "Redis answered slowly",
        "The check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    RedisExpect => "redis.expect", Failure, "A condition on the Redis server did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    GrpcNotServing => "grpc.not_serving", Failure, "The gRPC service is not serving",
        "`grpc.health.v1.Health/Check` answered NOT_SERVING for the checked `service` (the whole server when `service` is empty).";
    GrpcUnknownService => "grpc.unknown_service", Failure, "The gRPC server does not know the service",
        "The health service answered SERVICE_UNKNOWN, or the gRPC status NOT_FOUND that servers return for a `service` they have no status for.";
    GrpcUnknown => "grpc.unknown", Failure, "The gRPC service's health is UNKNOWN",
        "The health service answered UNKNOWN (or a status value this version does not know): the server has not decided whether the service is healthy.";
    GrpcStatus => "grpc.status", Failure, "The gRPC serving status is not the expected one",
        "The health service answered SERVING where `expected` names another status (a negative check).";
    GrpcUnimplemented => "grpc.unimplemented", Failure, "The gRPC server has no health service",
        "The call answered the gRPC status UNIMPLEMENTED: the server does not register `grpc.health.v1.Health`.";
    GrpcError => "grpc.error", Failure, "The gRPC health call failed with an error status",
        "`Health/Check` answered a gRPC status other than OK, NOT_FOUND and UNIMPLEMENTED (UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE…); the message names it.";
    GrpcLatency => "grpc.latency", Failure, "The gRPC health check answered slowly",
        "Connecting and the health call took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    GrpcExpect => "grpc.expect", Failure, "A condition on the gRPC health answer did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    K8sUnreachable => "k8s.unreachable", Error, "The Kubernetes API server could not be reached",
        "The API server did not answer (connection refused, DNS, TLS), or no kubeconfig / in-cluster configuration was found.";
    K8sForbidden => "k8s.forbidden", Failure, "The Kubernetes API denied the request",
        "The API answered 401 or 403: the credentials of the kubeconfig context may not read this resource.";
    K8sNotFound => "k8s.not_found", Failure, "The Kubernetes object does not exist",
        "The API answered 404 for the deployment, statefulset, daemonset or namespace.";
    K8sApi => "k8s.api", Error, "The Kubernetes API returned an unexpected error",
        "The API answered with an error status other than 401/403/404, or a body infracheck could not read.";
    K8sNotReady => "k8s.not_ready", Failure, "Kubernetes workload or nodes are not ready",
        "Fewer replicas/pods/nodes are ready or available than required (`min_ready`, or all desired).";
    K8sRestarts => "k8s.restarts", Failure, "Pods restarted more often than allowed",
        "A selected pod's container restart count is over `max_restarts` (WARN).";
    K8sLatency => "k8s.latency", Failure, "The Kubernetes API answered slowly",
        "The API call(s) of the check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    K8sExpect => "k8s.expect", Failure, "A condition on the Kubernetes objects did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    AwsCredentials => "aws.credentials", Error, "No usable AWS credentials",
        "The credential chain (environment, profile, SSO, web identity, container, IMDS) found no credentials, or AWS rejected them as invalid or expired; also used when no region is set. The message says what to set.";
    AwsAccessDenied => "aws.access_denied", Failure, "AWS denied the request",
        "The credentials are valid but may not perform the call (AccessDenied, UnauthorizedOperation, HTTP 403).";
    AwsNotFound => "aws.not_found", Failure, "The AWS resource does not exist",
        "The S3 bucket or an EC2 instance id was not found (NoSuchBucket, HTTP 404, InvalidInstanceID.NotFound).";
    AwsExpect => "aws.expect", Failure, "The AWS resource did not meet the expectation",
        "The caller account differs from `account`, the ARN lacks `arn_contains`, or fewer EC2 instances run than `min_running`; or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    AwsApi => "aws.api", Error, "The AWS API returned an unexpected error",
        "An error other than credentials, access or not-found (throttling, a bucket in another region, an unreadable answer).";
    AwsUnreachable => "aws.unreachable", Error, "The AWS endpoint could not be reached",
        "Connecting to the AWS (or `endpoint_url`) endpoint failed or timed out inside the SDK.";
    AwsLatency => "aws.latency", Failure, "The AWS API answered slowly",
        "The API call(s) of the check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    IcmpLoss => "icmp.loss", Failure, "ICMP echo requests went unanswered",
        "More echo requests than `max_loss` percent (default 0) got no reply before the check's `timeout`.";
    IcmpLatency => "icmp.latency", Failure, "ICMP echo round trips were slow",
        "The average round trip of the echo replies was over `warn_latency` (WARN) or `fail_latency` (FAIL).";
    IcmpExpect => "icmp.expect", Failure, "A condition on the echo replies did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
    IcmpUnreachable => "icmp.unreachable", Error, "The host cannot be reached over ICMP",
        "No echo reply came and the network said why: no route (sending failed) or an ICMP destination-unreachable error.";
    IcmpPermission => "icmp.permission", Error, "This process may not open an ICMP socket",
        "Neither an unprivileged ICMP socket (`net.ipv4.ping_group_range` must include the process's group) nor a raw socket (root or CAP_NET_RAW) was allowed, or the platform is not supported.";
    Blocked => "blocked", Error, "The check was not run because a check it depends on did not pass",
        "A check named in `depends_on` (directly or through another dependency) failed or was itself blocked, so this check was skipped (SKIP). Fix the blocking check named in the message.";
    WaiverStale => "waiver.stale", Failure, "A waiver matches no check",
        "An entry of `waivers:` matches no check of the environment (WARN): the exception is stale and can be removed, or its `check` pattern has a typo.";
    Internal => "internal", Error, "infracheck hit an internal error running the check",
        "The check panicked or failed unexpectedly inside infracheck; please report it.";
}

impl Reason {
    /// The SARIF rule id: the code with `/` after the family, e.g. `http/status`.
    pub fn rule_id(self) -> String {
        self.code().replacen('.', "/", 1)
    }

    /// Look a reason up by its code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.code() == code)
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <String as serde::Deserialize>::deserialize(d)?;
        Reason::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown reason `{code}`")))
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_and_rule_ids_are_unique() {
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len());
        let mut ids: Vec<_> = Reason::ALL.iter().map(|r| r.rule_id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(before, ids.len());
    }

    #[test]
    fn rule_id_replaces_first_dot_only() {
        assert_eq!(Reason::HttpStatus.rule_id(), "http/status");
        assert_eq!(Reason::TimeoutDeadline.rule_id(), "timeout/deadline");
        assert_eq!(Reason::Timeout.rule_id(), "timeout");
        assert_eq!(Reason::from_code("tls.expired"), Some(Reason::TlsExpired));
    }
}
