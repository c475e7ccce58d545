//! Check kinds. Each kind lives in one file with its spec (parsed from YAML), its `target`
//! description and its `run`; this module holds the [`CheckSpec`] enum and the one
//! exhaustive dispatch. Adding a kind = one file, one variant, one arm in each match.

#[cfg(feature = "aws")]
pub mod aws;
pub mod command;
pub mod dns;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod http;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redis;
pub mod tcp;
pub mod tls;
pub mod tls_util;
pub mod util;

use std::time::Duration;

use crate::model::{Location, Outcome};
use crate::spec::fields::Ctx;
use crate::spec::yaml::MapReader;

/// A check as the engine runs it: identity, shared options and the kind's spec.
#[derive(Debug, Clone)]
pub struct CheckDef {
    /// Unique within the environment.
    pub name: String,
    /// What the check targets, with secrets removed (for `list` and reports).
    pub target: String,
    /// Timeout of one attempt, covering the whole check.
    pub timeout: Duration,
    /// Extra attempts after a FAIL.
    pub retries: u32,
    /// Delay before the first retry; doubles on each further retry.
    pub retry_delay: Duration,
    /// Where the check is defined.
    pub location: Location,
    /// Checks that must finish with PASS or WARN before this one runs (`depends_on`).
    pub depends_on: Vec<Dependency>,
    /// The kind-specific part.
    pub spec: CheckSpec,
}

/// One entry of a check's `depends_on` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The name of the check depended on.
    pub name: String,
    /// Where the entry is written, for config errors.
    pub location: Location,
    /// The entry's key path, for config errors.
    pub path: String,
}

impl CheckDef {
    /// The kind name (`http`, `tcp`, …).
    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }

    /// The host the check connects to, for `per_host_concurrency`; see [`CheckSpec::host_key`].
    pub fn host_key(&self) -> Option<String> {
        self.spec.host_key()
    }

    /// The limits the check judges against, for the pictures of the HTML report.
    pub fn limits(&self) -> crate::model::Limits {
        let latency = |t: &Thresholds| (t.warn_latency, t.fail_latency);
        let (warn_latency, fail_latency) = match &self.spec {
            CheckSpec::Http(s) => latency(&s.thresholds),
            CheckSpec::Command(s) => latency(&s.thresholds),
            CheckSpec::Redis(s) => latency(&s.thresholds),
            #[cfg(feature = "postgres")]
            CheckSpec::Postgres(s) => latency(&s.db.thresholds),
            #[cfg(feature = "mysql")]
            CheckSpec::Mysql(s) => latency(&s.db.thresholds),
            #[cfg(feature = "kubernetes")]
            CheckSpec::Kubernetes(_) => (None, None),
            #[cfg(feature = "aws")]
            CheckSpec::Aws(s) => latency(&s.thresholds),
            CheckSpec::Tcp(s) => latency(&s.thresholds),
            CheckSpec::Tls(s) => latency(&s.thresholds),
            CheckSpec::Dns(s) => latency(&s.thresholds),
            #[cfg(feature = "grpc")]
            CheckSpec::Grpc(s) => latency(&s.thresholds),
        };
        let (warn_days, fail_days) = match &self.spec {
            CheckSpec::Http(s) => (s.warn_days, s.fail_days),
            CheckSpec::Tls(s) => (Some(s.warn_days), Some(s.fail_days)),
            _ => (None, None),
        };
        crate::model::Limits {
            warn_latency,
            fail_latency,
            warn_days,
            fail_days,
        }
    }
}

/// `host:port` with the host lower-cased and without a trailing dot, so `API.example.com.` and
/// `api.example.com` share one limit.
fn host_key(host: &str, port: u16) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tcp::host_port(host, port)
}

/// Options shared by every kind, after defaults are applied.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Slower than this is WARN.
    pub warn_latency: Option<Duration>,
    /// Slower than this is FAIL.
    pub fail_latency: Option<Duration>,
}

/// The kind-specific part of a check.
#[derive(Debug, Clone)]
pub enum CheckSpec {
    /// An HTTP(S) request.
    Http(Box<http::HttpSpec>),
    /// A program run with arguments.
    Command(Box<command::CommandSpec>),
    /// A Redis PING with role and key assertions.
    Redis(Box<redis::RedisSpec>),
    /// A PostgreSQL connection and query.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PostgresSpec>),
    /// A MySQL/MariaDB connection and query.
    #[cfg(feature = "mysql")]
    Mysql(Box<mysql::MysqlSpec>),
    /// Kubernetes workload, pod or node readiness.
    #[cfg(feature = "kubernetes")]
    Kubernetes(Box<kubernetes::KubernetesSpec>),
    /// An AWS API call: STS identity, S3 bucket, EC2 instances.
    #[cfg(feature = "aws")]
    Aws(Box<aws::AwsSpec>),
    /// A gRPC health check (`grpc.health.v1.Health/Check`).
    #[cfg(feature = "grpc")]
    Grpc(Box<grpc::GrpcSpec>),
    /// A TCP connection, optionally with a banner exchange.
    Tcp(Box<tcp::TcpSpec>),
    /// A TLS handshake and certificate inspection.
    Tls(Box<tls::TlsSpec>),
    /// A DNS query against one or more resolvers.
    Dns(Box<dns::DnsSpec>),
}

/// A kind's YAML list key (`http_checks`) and its kind name (`http`).
pub const KINDS: &[(&str, &str)] = &[
    ("http_checks", "http"),
    ("command_checks", "command"),
    ("redis_checks", "redis"),
    #[cfg(feature = "postgres")]
    ("postgres_checks", "postgres"),
    #[cfg(feature = "mysql")]
    ("mysql_checks", "mysql"),
    #[cfg(feature = "kubernetes")]
    ("kubernetes_checks", "kubernetes"),
    #[cfg(feature = "aws")]
    ("aws_checks", "aws"),
    #[cfg(feature = "grpc")]
    ("grpc_checks", "grpc"),
    ("tcp_checks", "tcp"),
    ("tls_checks", "tls"),
    ("dns_checks", "dns"),
];

impl CheckSpec {
    /// The kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Http(_) => "http",
            CheckSpec::Command(_) => "command",
            CheckSpec::Redis(_) => "redis",
            #[cfg(feature = "postgres")]
            CheckSpec::Postgres(_) => "postgres",
            #[cfg(feature = "mysql")]
            CheckSpec::Mysql(_) => "mysql",
            #[cfg(feature = "kubernetes")]
            CheckSpec::Kubernetes(_) => "kubernetes",
            #[cfg(feature = "aws")]
            CheckSpec::Aws(_) => "aws",
            #[cfg(feature = "grpc")]
            CheckSpec::Grpc(_) => "grpc",
            CheckSpec::Tcp(_) => "tcp",
            CheckSpec::Tls(_) => "tls",
            CheckSpec::Dns(_) => "dns",
        }
    }

    /// The `host:port` the check connects to, shared by every check that targets it: the key of
    /// the per-host concurrency limit. `None` for kinds that are not host-limited: `command`
    /// (runs locally), `kubernetes` and `aws` (API clients with their own rate handling), and
    /// `dns` with several or the system's resolvers (one small query per resolver); a `dns`
    /// check with one resolver is limited on that resolver.
    pub fn host_key(&self) -> Option<String> {
        match self {
            CheckSpec::Http(s) => {
                let host = s.url.host_str()?;
                Some(host_key(host, s.url.port_or_known_default()?))
            }
            CheckSpec::Tcp(s) => Some(host_key(&s.host, s.port)),
            CheckSpec::Tls(s) => Some(host_key(&s.host, s.port)),
            CheckSpec::Redis(s) => Some(host_key(&s.host, s.port)),
            #[cfg(feature = "grpc")]
            CheckSpec::Grpc(s) => Some(host_key(&s.host, s.port)),
            #[cfg(feature = "postgres")]
            CheckSpec::Postgres(s) => Some(host_key(
                s.db.url.host_str()?,
                s.db.url.port().unwrap_or(5432),
            )),
            #[cfg(feature = "mysql")]
            CheckSpec::Mysql(s) => Some(host_key(
                s.db.url.host_str()?,
                s.db.url.port().unwrap_or(3306),
            )),
            CheckSpec::Dns(s) => match s.resolvers.as_slice() {
                [one] => Some(one.to_string()),
                _ => None,
            },
            CheckSpec::Command(_) => None,
            #[cfg(feature = "kubernetes")]
            CheckSpec::Kubernetes(_) => None,
            #[cfg(feature = "aws")]
            CheckSpec::Aws(_) => None,
        }
    }

    /// Parse the kind-specific keys of one check; the reader's remaining keys are unknown.
    pub fn parse(
        kind: &str,
        reader: &mut MapReader<'_>,
        ctx: &mut Ctx<'_>,
        thresholds: Thresholds,
    ) -> Option<(CheckSpec, String)> {
        match kind {
            "http" => {
                http::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Http(Box::new(s)), t))
            }
            "tcp" => {
                tcp::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Tcp(Box::new(s)), t))
            }
            "tls" => {
                tls::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Tls(Box::new(s)), t))
            }
            "dns" => {
                dns::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Dns(Box::new(s)), t))
            }
            "command" => command::parse(reader, ctx, thresholds)
                .map(|(s, t)| (CheckSpec::Command(Box::new(s)), t)),
            "redis" => redis::parse(reader, ctx, thresholds)
                .map(|(s, t)| (CheckSpec::Redis(Box::new(s)), t)),
            #[cfg(feature = "postgres")]
            "postgres" => postgres::parse(reader, ctx, thresholds)
                .map(|(s, t)| (CheckSpec::Postgres(Box::new(s)), t)),
            #[cfg(feature = "mysql")]
            "mysql" => mysql::parse(reader, ctx, thresholds)
                .map(|(s, t)| (CheckSpec::Mysql(Box::new(s)), t)),
            #[cfg(feature = "kubernetes")]
            "kubernetes" => kubernetes::parse(reader, ctx, thresholds)
                .map(|(s, t)| (CheckSpec::Kubernetes(Box::new(s)), t)),
            #[cfg(feature = "aws")]
            "aws" => {
                aws::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Aws(Box::new(s)), t))
            }
            #[cfg(feature = "grpc")]
            "grpc" => {
                grpc::parse(reader, ctx, thresholds).map(|(s, t)| (CheckSpec::Grpc(Box::new(s)), t))
            }
            _ => None,
        }
    }

    /// The keys each kind accepts (for typo suggestions).
    pub fn known_keys(kind: &str) -> &'static [&'static str] {
        match kind {
            "http" => http::KEYS,
            "command" => command::KEYS,
            "redis" => redis::KEYS,
            #[cfg(feature = "postgres")]
            "postgres" => postgres::KEYS,
            #[cfg(feature = "mysql")]
            "mysql" => mysql::KEYS,
            #[cfg(feature = "kubernetes")]
            "kubernetes" => kubernetes::KEYS,
            #[cfg(feature = "aws")]
            "aws" => {
                static AWS_KEYS: std::sync::OnceLock<Vec<&str>> = std::sync::OnceLock::new();
                AWS_KEYS.get_or_init(|| aws::FIELDS.iter().map(|f| f.key).collect())
            }
            #[cfg(feature = "grpc")]
            "grpc" => grpc::KEYS,
            "tcp" => tcp::KEYS,
            "tls" => tls::KEYS,
            "dns" => dns::KEYS,
            _ => &[],
        }
    }
}

/// Shared per-run state the checks use (connection pools, resolvers).
pub struct RunContext {
    /// HTTP clients, one per distinct TLS/redirect setting.
    pub http: http::Clients,
    /// The system resolver's name servers, read once when a DNS check has no `resolvers`.
    pub dns_system: dns::SystemResolvers,
    /// Kubernetes clients, one per kubeconfig context, built on first use.
    #[cfg(feature = "kubernetes")]
    pub kube: kubernetes::Clients,
    /// AWS SDK configurations, one per region/profile/endpoint/role, built on first use.
    #[cfg(feature = "aws")]
    pub aws: aws::Clients,
}

impl RunContext {
    /// Build the shared state for a plan's checks.
    pub fn new(checks: &[CheckDef]) -> Result<Self, String> {
        Ok(RunContext {
            http: http::Clients::build(checks)?,
            dns_system: dns::SystemResolvers::load(checks),
            #[cfg(feature = "kubernetes")]
            kube: kubernetes::Clients::default(),
            #[cfg(feature = "aws")]
            aws: aws::Clients::default(),
        })
    }
}

/// In unit tests, a check with this name panics inside `run`.
#[cfg(test)]
pub(crate) const TEST_PANIC_NAME: &str = "__test_panic__";

/// Run one attempt of a check. Never panics on bad data; a failed check is an [`Outcome`].
pub async fn run(check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
    // Unit tests of the engine need a check that panics, to prove panic isolation.
    #[cfg(test)]
    #[allow(clippy::panic, reason = "exercises the engine's panic isolation")]
    if check.name == TEST_PANIC_NAME {
        panic!("injected test panic");
    }
    // The future of this `match` is as large as its largest arm (the SDK clients' futures run
    // to kilobytes), and every in-flight check holds one, moved on each spawn. Each kind's
    // future is boxed, so a check holds only its own kind's state.
    match &check.spec {
        CheckSpec::Http(spec) => Box::pin(http::run(spec, ctx, phase)).await,
        CheckSpec::Command(spec) => Box::pin(command::run(spec, phase)).await,
        CheckSpec::Redis(spec) => Box::pin(redis::run(spec, phase)).await,
        #[cfg(feature = "postgres")]
        CheckSpec::Postgres(spec) => Box::pin(postgres::run(spec, phase)).await,
        #[cfg(feature = "mysql")]
        CheckSpec::Mysql(spec) => Box::pin(mysql::run(spec, phase)).await,
        #[cfg(feature = "kubernetes")]
        CheckSpec::Kubernetes(spec) => Box::pin(kubernetes::run(spec, &ctx.kube, phase)).await,
        #[cfg(feature = "aws")]
        CheckSpec::Aws(spec) => Box::pin(aws::run(spec, &ctx.aws, phase)).await,
        #[cfg(feature = "grpc")]
        CheckSpec::Grpc(spec) => Box::pin(grpc::run(spec, phase)).await,
        CheckSpec::Tcp(spec) => Box::pin(tcp::run(spec, check.timeout, phase)).await,
        CheckSpec::Tls(spec) => Box::pin(tls::run(spec, phase)).await,
        CheckSpec::Dns(spec) => Box::pin(dns::run(spec, ctx, check.timeout, phase)).await,
    }
}

/// What a running check is doing, so a timeout can say where it stopped.
#[derive(Debug, Default)]
pub struct Phase(std::sync::Mutex<&'static str>);

impl Phase {
    /// Record the current phase.
    pub fn set(&self, p: &'static str) {
        if let Ok(mut g) = self.0.lock() {
            *g = p;
        }
    }

    /// The last recorded phase.
    pub fn get(&self) -> &'static str {
        self.0.lock().map(|g| *g).unwrap_or("")
    }
}
