//! What a check produced: [`Status`], stable [`Reason`] codes, [`CheckResult`] and the run
//! [`Summary`]. Every reporter reads these types and nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Everything the check asserts held.
    Pass,
    /// The check ran and something is worth a look (slow, certificate expiring, body text missing).
    Warn,
    /// The check failed, or could not run at all.
    Fail,
    /// The check was not run because a check it depends on (`depends_on`) did not pass.
    /// Never counts as passed.
    Skip,
    /// The check failed, but an unexpired waiver (`waivers:`) accepts the failure for now.
    Waived,
}

impl Status {
    /// The upper-case label used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Waived => "WAIVED",
        }
    }

    /// Whether the status fails the run under the default policy: FAIL, SKIP, or WARN with
    /// `--fail-on-warn` (WAIVED never does).
    pub fn breaks_run(self, fail_on_warn: bool) -> bool {
        match self {
            Status::Fail | Status::Skip => true,
            Status::Warn => fail_on_warn,
            Status::Pass | Status::Waived => false,
        }
    }

    /// How much a status needs attention, for "worst first" orderings: FAIL, SKIP, WARN,
    /// WAIVED, PASS.
    pub fn severity(self) -> u8 {
        match self {
            Status::Fail => 4,
            Status::Skip => 3,
            Status::Warn => 2,
            Status::Waived => 1,
            Status::Pass => 0,
        }
    }
}

/// The `kind` of the synthetic result that reports a stale waiver (`waiver:<pattern>`).
pub const WAIVER_KIND: &str = "waiver";

/// Where a check is defined in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Location {
    /// The config file path as given on the command line.
    pub file: String,
    /// 1-based line of the check's first key.
    pub line: usize,
    /// 1-based column of the check's first key.
    pub column: usize,
}

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

            /// One line describing the problem, for SARIF rules and the README.
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
    HttpRedirect => "http.redirect", Failure, "HTTP redirects exceeded the limit",
        "The endpoint redirected more often than `max_redirects` allows, or in a loop.";
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
        "The bytes read from the connection did not contain `expect`.";
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
    DnsLatency => "dns.latency", Failure, "DNS resolver answered slowly",
        "The slowest resolver took longer than `warn_latency` (WARN) or `fail_latency` (FAIL) to answer.";
    CommandSpawn => "command.spawn", Error, "The command could not be started",
        "The program was not found, is not executable, or `cwd` does not exist.";
    CommandExit => "command.exit", Failure, "The command exited with an unexpected code",
        "The exit code was not one of `expect_exit` (default 0), or the command was killed by a signal.";
    CommandOutput => "command.output", Failure, "The command's output did not match",
        "stdout or stderr did not contain `stdout_contains`/`stderr_contains`, contained `stdout_not_contains`, or did not match `stdout_regex`/`stderr_regex`.";
    CommandLatency => "command.latency", Failure, "The command ran slowly",
        "The command took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    DbConnect => "db.connect", Error, "The database server could not be reached",
        "The TCP connection or the TLS negotiation with the database server failed (refused, unreachable, TLS required or refused).";
    DbAuth => "db.auth", Failure, "The database rejected the credentials",
        "Authentication failed: wrong user or password, or the user may not connect to this database from this host.";
    DbQuery => "db.query", Failure, "The database query failed",
        "The server returned an error for `query` (syntax, missing table, permission).";
    DbExpect => "db.expect", Failure, "The query result did not meet the expectation",
        "The number of rows differs from `expect_rows`, or the first column of the first row differs from `expect_value`.";
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
    AwsCredentials => "aws.credentials", Error, "No usable AWS credentials",
        "The credential chain (environment, profile, SSO, web identity, container, IMDS) found no credentials, or AWS rejected them as invalid or expired; also used when no region is set. The message says what to set.";
    AwsAccessDenied => "aws.access_denied", Failure, "AWS denied the request",
        "The credentials are valid but may not perform the call (AccessDenied, UnauthorizedOperation, HTTP 403).";
    AwsNotFound => "aws.not_found", Failure, "The AWS resource does not exist",
        "The S3 bucket or an EC2 instance id was not found (NoSuchBucket, HTTP 404, InvalidInstanceID.NotFound).";
    AwsExpect => "aws.expect", Failure, "The AWS resource did not meet the expectation",
        "The caller account differs from `account`, the ARN lacks `arn_contains`, or fewer EC2 instances run than `min_running`.";
    AwsApi => "aws.api", Error, "The AWS API returned an unexpected error",
        "An error other than credentials, access or not-found (throttling, a bucket in another region, an unreadable answer).";
    AwsUnreachable => "aws.unreachable", Error, "The AWS endpoint could not be reached",
        "Connecting to the AWS (or `endpoint_url`) endpoint failed or timed out inside the SDK.";
    AwsLatency => "aws.latency", Failure, "The AWS API answered slowly",
        "The API call(s) of the check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
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

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What one attempt of a check found, before the engine adds timing and identity.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub status: Status,
    /// Why, when not PASS.
    pub reason: Option<Reason>,
    /// One human line.
    pub message: String,
    /// The full error chain behind a short `message`, for `-v` logs and the JSON `detail`.
    pub detail: Option<String>,
    /// Facts the check observed (status code, address, certificate expiry…).
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Outcome {
    /// A passing outcome.
    pub fn pass(message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Pass,
            reason: None,
            message: message.into(),
            detail: None,
            metadata: BTreeMap::new(),
        }
    }

    /// A warning with its reason.
    pub fn warn(reason: Reason, message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Warn,
            reason: Some(reason),
            message: message.into(),
            detail: None,
            metadata: BTreeMap::new(),
        }
    }

    /// A failure with its reason.
    pub fn fail(reason: Reason, message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Fail,
            reason: Some(reason),
            message: message.into(),
            detail: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Keep the full error chain behind the short message (JSON `detail`, `-v` logs).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        if detail != self.message {
            self.detail = Some(detail);
        }
        self
    }

    /// Add one metadata entry.
    pub fn with_meta(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Merge metadata gathered before the verdict was known.
    pub fn with_metadata(mut self, metadata: BTreeMap<String, serde_json::Value>) -> Self {
        for (k, v) in metadata {
            self.metadata.entry(k).or_insert(v);
        }
        self
    }
}

/// One failed attempt that was retried (JUnit flaky runs / reruns).
#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    /// Why the attempt failed.
    pub reason: Reason,
    /// Its message.
    pub message: String,
    /// How long it took.
    #[serde(rename = "duration_ms", with = "ms")]
    pub duration: Duration,
}

/// The result of one check, as every reporter sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The check's unique name within its environment.
    pub name: String,
    /// The check kind (`http`, `tcp`, …).
    pub kind: &'static str,
    /// What the check targets (URL with password removed, `host:port`, …).
    pub target: String,
    /// The verdict.
    pub status: Status,
    /// Why, when not PASS.
    pub reason: Option<Reason>,
    /// One line for a human.
    pub message: String,
    /// The full error chain behind a short `message` (JSON `detail`; absent when the message
    /// says it all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Wall time of all attempts, including retry delays.
    #[serde(rename = "duration_ms", with = "ms")]
    pub duration: Duration,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// Passed only after a failed attempt.
    pub flaky: bool,
    /// Earlier attempts that failed before the final one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<FailedAttempt>,
    /// Facts the check observed.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Where the check is defined.
    pub location: Location,
    /// What changed since the `--baseline` run, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<crate::baseline::ResultChange>,
    /// The deploy gate's record of the check (`--until-healthy`), when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::CheckGate>,
    /// The check's record over the `--history` window, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<CheckHistory>,
    /// The thresholds the check judged against (for the HTML report's pictures; not in the
    /// JSON document, so a merged run has none).
    #[serde(skip)]
    pub limits: Limits,
}

/// The latency and certificate thresholds of a check, where its kind has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Slower than this is WARN.
    pub warn_latency: Option<Duration>,
    /// Slower than this is FAIL.
    pub fail_latency: Option<Duration>,
    /// A certificate with fewer days left is WARN.
    pub warn_days: Option<i64>,
    /// A certificate with fewer days left is FAIL.
    pub fail_days: Option<i64>,
}

/// One check over the `--history` window (JSON `results[].history`): the runs of the same
/// environment that had the check, this run included, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckHistory {
    /// Runs in the window that had the check (1: a new check, no history yet).
    pub runs: usize,
    /// How many of them ended FAIL.
    pub failures: usize,
    /// Median latency over those runs (nearest rank), ms.
    pub p50_ms: u64,
    /// 95th percentile latency (nearest rank), ms.
    pub p95_ms: u64,
    /// Latency per run, oldest first (this run last).
    #[serde(skip)]
    pub latencies_ms: Vec<u64>,
    /// Status per run, oldest first (this run last).
    #[serde(skip)]
    pub statuses: Vec<Status>,
}

/// The `--history` window of the whole run: read by the HTML pass-rate strip and the
/// markdown "Trends" section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistorySummary {
    /// The history file's path as given.
    pub path: String,
    /// The most runs kept per environment (`--history-keep`).
    pub keep: usize,
    /// Per run of this environment in the window, oldest first (this run last): when it
    /// started (RFC 3339), its checks and how many of them passed.
    pub runs: Vec<RunPoint>,
}

/// One run of the history window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunPoint {
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Checks in the run.
    pub total: usize,
    /// Checks that ended PASS.
    pub passed: usize,
}

impl CheckResult {
    /// The result of a check that the run's deadline or a signal cut short: it says nothing
    /// about the check's health.
    pub fn cut_short(&self) -> bool {
        matches!(
            self.reason,
            Some(Reason::TimeoutDeadline | Reason::Cancelled)
        )
    }

    /// The leaf certificate's notAfter, when the check saw a certificate (`not_after` of tls
    /// checks, `tls_not_after` of https checks).
    pub fn certificate_not_after(&self) -> Option<time::OffsetDateTime> {
        self.timestamp_meta(&["not_after", "tls_not_after"])
    }

    /// The leaf certificate's notBefore, when the check saw a certificate (`not_before` of tls
    /// checks, `tls_not_before` of https checks).
    pub fn certificate_not_before(&self) -> Option<time::OffsetDateTime> {
        self.timestamp_meta(&["not_before", "tls_not_before"])
    }

    /// The first of `keys` whose metadata value is an RFC 3339 timestamp.
    fn timestamp_meta(&self, keys: &[&str]) -> Option<time::OffsetDateTime> {
        keys.iter().find_map(|k| {
            let s = self.metadata.get(*k)?.as_str()?;
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    }
}

/// Durations as whole milliseconds in JSON (`#[serde(with = "crate::model::ms")]`).
pub(crate) mod ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}

/// Optional durations as whole milliseconds or `null`.
pub(crate) mod opt_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::ms::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(Duration::from_millis))
    }
}

/// Counts of a run, by status.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Checks that passed.
    pub pass: usize,
    /// Checks that warned.
    pub warn: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks not run because a dependency did not pass.
    pub skip: usize,
    /// Failures accepted by an unexpired waiver.
    pub waived: usize,
    /// All checks.
    pub total: usize,
}

/// Why the run stopped early, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interruption {
    /// `--deadline` passed.
    Deadline,
    /// SIGINT.
    Sigint,
    /// SIGTERM.
    Sigterm,
}

/// The whole run: what every file reporter receives.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The environment that ran.
    pub environment: String,
    /// The config file path as given.
    pub config_path: String,
    /// When the run started.
    pub started_at: time::OffsetDateTime,
    /// Wall time of the run.
    pub duration: Duration,
    /// Results in config order.
    pub results: Vec<CheckResult>,
    /// Whether WARN fails the run.
    pub fail_on_warn: bool,
    /// Set when the run was cut short.
    pub interrupted: Option<Interruption>,
    /// Set when the run covered one shard of the checks (`--shard K/N`).
    pub shard: Option<crate::shard::ShardRun>,
    /// Which failures fail the run (`--fail-on`).
    pub fail_on: crate::baseline::FailOn,
    /// The comparison with `--baseline`, when given.
    pub baseline: Option<crate::baseline::BaselineSummary>,
    /// The deploy gate (`--until-healthy`), when on.
    pub gate: Option<crate::gate::GateSummary>,
    /// The `--history` window, when given.
    pub history: Option<HistorySummary>,
}

impl Summary {
    /// Counts by status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.results.len(),
            ..Counts::default()
        };
        for r in &self.results {
            match r.status {
                Status::Pass => c.pass += 1,
                Status::Warn => c.warn += 1,
                Status::Fail => c.fail += 1,
                Status::Skip => c.skip += 1,
                Status::Waived => c.waived += 1,
            }
        }
        c
    }

    /// Whether the run as a whole passed (the basis of exit code 0).
    ///
    /// WAIVED does not fail the run; SKIP does, like the FAIL that caused it: a check that did
    /// not run proved nothing.
    ///
    /// Under `--fail-on new` only the failing results that the baseline comparison marked NEW
    /// count; an interrupted run (deadline, signal) and an unhealthy deploy gate never pass.
    pub fn passed(&self) -> bool {
        if self.interrupted.is_some() {
            return false;
        }
        // A deploy gate that was not healthy in time fails, whatever the last results say.
        if self.gate.as_ref().is_some_and(|g| !g.healthy) {
            return false;
        }
        !self
            .results
            .iter()
            .any(|r| self.breaks_run(r) && !self.known_failure(r))
    }

    /// Whether `r` fails the run under the default policy: FAIL, SKIP, or WARN with
    /// `--fail-on-warn`.
    pub fn breaks_run(&self, r: &CheckResult) -> bool {
        r.status.breaks_run(self.fail_on_warn)
    }

    /// Under `--fail-on new` with a baseline: a result the baseline comparison did not mark
    /// NEW, which therefore does not fail the run.
    fn known_failure(&self, r: &CheckResult) -> bool {
        self.fail_on == crate::baseline::FailOn::New
            && self.baseline.is_some()
            && r.baseline
                .as_ref()
                .is_some_and(|b| b.change != crate::baseline::Change::New)
    }

    /// Under `--fail-on new`, how many failing results do not fail the run because the
    /// baseline had them already (`None` when there are none, or no such policy).
    pub fn known_failures(&self) -> Option<usize> {
        let n = self
            .results
            .iter()
            .filter(|r| self.breaks_run(r) && self.known_failure(r))
            .count();
        (n > 0).then_some(n)
    }

    /// `passed`, `warned` or `failed`: the one-word verdict used by GitHub outputs.
    pub fn verdict(&self) -> &'static str {
        let c = self.counts();
        if !self.passed() {
            "failed"
        } else if c.warn > 0 || c.waived > 0 || c.fail > 0 || c.skip > 0 {
            // Known failures under `--fail-on new` pass the run, but not silently.
            "warned"
        } else {
            "passed"
        }
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
