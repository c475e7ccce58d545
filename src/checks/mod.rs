//! Check kinds. Each kind lives in its own module (a file, or a folder for a larger one) with
//! its spec type and the one implementation of [`Kind`] for it: its name, its keys
//! (`FIELDS`), its parser, its phases, the values its conditions observe, its reason codes and
//! its `run`. Helpers several kinds share (connect, TLS, certificates, trust keys, judges)
//! are in [`common`].
//!
//! This module holds the one kind registry, the `kinds!` list below: the [`CheckSpec`] enum,
//! [`KINDS`], [`REGISTRY`] and the dispatch from a check to its kind are derived from it
//! (`registry.rs`). It also holds what every kind shares at run time: the [`CheckDef`] with
//! the options read once for every kind, the [`RunContext`], the [`Phase`] recorder, and the
//! judging of the `phases:` and `expect:` thresholds after a kind's run. Adding a kind = its
//! module, one registry line (behind a `cfg` if optional) and its docs
//! (`docs/architecture.md`, "Adding a check kind").

#[cfg(feature = "aws")]
pub mod aws;
pub mod command;
pub mod common;
pub mod dns;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod http;
pub mod icmp;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redis;
#[macro_use]
mod registry;
#[cfg(test)]
mod documented;
pub mod tcp;
pub mod tls;

use std::time::{Duration, Instant};

pub use registry::{Kind, KindEntry, RUN_REASONS, reasons};

use crate::model::{Location, Outcome, PhaseName, Phases};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::Field;
use crate::reader::yaml::MapReader;
pub use common::judge::{PhaseLimit, PhaseLimits, phase_problems};

kinds! {
    /// An HTTP(S) request.
    Http(http::HttpSpec);
    /// A program run with arguments.
    Command(command::CommandSpec);
    /// A Redis PING with role and key assertions.
    Redis(redis::RedisSpec);
    /// A PostgreSQL connection and query.
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresSpec);
    /// A MySQL/MariaDB connection and query.
    #[cfg(feature = "mysql")]
    Mysql(mysql::MysqlSpec);
    /// Kubernetes workload, pod or node readiness.
    #[cfg(feature = "kubernetes")]
    Kubernetes(kubernetes::KubernetesSpec);
    /// An AWS API call: STS identity, S3 bucket, EC2 instances.
    #[cfg(feature = "aws")]
    Aws(aws::AwsSpec);
    /// A gRPC health check (`grpc.health.v1.Health/Check`).
    #[cfg(feature = "grpc")]
    Grpc(grpc::GrpcSpec);
    /// A TCP connection, optionally with a banner exchange.
    Tcp(tcp::TcpSpec);
    /// A TLS handshake and certificate inspection.
    Tls(tls::TlsSpec);
    /// A DNS query against one or more resolvers.
    Dns(dns::DnsSpec);
    /// ICMP echo requests (ping): loss and round trip.
    Icmp(icmp::IcmpSpec);
}

/// The registry line of a kind (`http`, `tcp`…), if this build has it.
pub fn kind_entry(kind: &str) -> Option<&'static KindEntry> {
    REGISTRY.iter().find(|e| e.kind == kind)
}

/// The key table of a kind; empty for a kind this build does not know.
pub fn kind_fields(kind: &str) -> &'static [Field] {
    kind_entry(kind).map_or(&[], |e| e.fields)
}

/// How often `serve` runs a check whose config sets no `interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest `interval` accepted.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// A check as the engine runs it: identity, shared options and the kind's spec.
#[derive(Debug, Clone)]
pub struct CheckDef {
    /// Unique within the environment.
    pub name: String,
    /// What the check targets, with secrets removed (for `list` and reports).
    pub target: crate::model::Text,
    /// Timeout of one attempt, covering the whole check.
    pub timeout: Duration,
    /// Extra attempts after a FAIL.
    pub retries: u32,
    /// Delay before the first retry; doubles on each further retry.
    pub retry_delay: Duration,
    /// How often `serve` runs the check (`interval`).
    pub interval: Duration,
    /// Where the check is defined.
    pub location: Location,
    /// Checks that must finish with PASS or WARN before this one runs (`depends_on`).
    pub depends_on: Vec<Dependency>,
    /// Labels for selecting checks (`tags`, `--tags`), in file order without repeats.
    pub tags: Vec<String>,
    /// Latency thresholds (`warn_latency`, `fail_latency`), over the `defaults:` and the
    /// kind's default; none for a kind without latency.
    pub thresholds: Thresholds,
    /// Thresholds per timed phase (`phases:`), each a phase of the check's kind.
    pub phase_limits: PhaseLimits,
    /// Conditions on the values the check observes (`expect:`), compiled.
    pub expect: Vec<common::expect::Condition>,
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

    /// The host the check connects to, for `per_host_concurrency`; see [`Kind::host_key`]
    /// (`None` for `command`, which runs locally, `kubernetes` and `aws`, API clients with
    /// their own rate handling, and `dns` with several or the system's resolvers, one small
    /// query each; a `dns` check with one resolver is limited on that resolver).
    pub fn host_key(&self) -> Option<String> {
        self.spec.as_spec().host_key()
    }

    /// The limits the check judges against, for the pictures of the HTML report.
    pub fn limits(&self) -> crate::model::Limits {
        let (warn_days, fail_days) = self.spec.as_spec().days();
        crate::model::Limits {
            warn_latency: self.thresholds.warn_latency,
            fail_latency: self.thresholds.fail_latency,
            warn_days,
            fail_days,
        }
    }
}

/// A check's latency thresholds, after the defaults are applied.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thresholds {
    /// Slower than this is WARN.
    pub warn_latency: Option<Duration>,
    /// Slower than this is FAIL.
    pub fail_latency: Option<Duration>,
}

impl CheckSpec {
    /// The kind name.
    pub fn kind(&self) -> &'static str {
        self.as_spec().kind()
    }

    /// The keys a kind accepts besides the common ones, read from its `FIELDS` (for the
    /// unknown-key check and its typo suggestions).
    pub fn known_keys(kind: &str) -> impl Iterator<Item = &'static str> {
        kind_fields(kind).iter().map(|f| f.key)
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
    /// The TLS preparation (trust store, verifiers, random generator), under way or done.
    pub tls: common::tls::Prepared,
    /// Set by [`RunContext::last_run`]: the next engine run is the last one on this context.
    last_run: std::sync::atomic::AtomicBool,
}

impl RunContext {
    /// Build the shared state for a plan's checks, before any check's clock starts: the HTTP
    /// clients and the system resolvers here, and on a thread of its own the TLS preparation
    /// of every trust setting the checks use (the system trust store is read once), which a
    /// check that speaks TLS awaits before its clock starts ([`RunContext::ready_for`]).
    pub fn new(checks: &[CheckDef]) -> Result<Self, String> {
        let tls = common::tls::prepare_in_background(
            checks.iter().filter_map(|c| c.spec.as_spec().tls_trust()),
        );
        Ok(RunContext {
            tls,
            http: http::Clients::build(checks)?,
            dns_system: dns::SystemResolvers::load(checks),
            #[cfg(feature = "kubernetes")]
            kube: kubernetes::Clients::default(),
            #[cfg(feature = "aws")]
            aws: aws::Clients::default(),
            last_run: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The next engine run is the last one that sends anything through this context (a run
    /// of one round; never `serve`, whose checks come back): once it has started its last
    /// check, idle keep-alive connections are closed rather than kept ([`Self::close_idle`]).
    pub fn last_run(&self) {
        self.last_run
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Told by the engine once it has started every check of its run and the first poll of
    /// each has returned (where a check takes its pooled connection, unless it first awaits its
    /// TLS preparation or a name lookup), and again after each result from then on. In the last
    /// run ([`Self::last_run`]) an idle connection then waits for a request no other check
    /// will send: the own HTTP path closes its idle connections, each soon after the check
    /// that gave it back finished (one given back late, once ready for a next request after
    /// its check's result, as it comes back), during the last round, while the run
    /// waits for its last responses, instead of leaving about one per check in flight to the
    /// process's exit (BENCHMARKS.md, "True numbers XX" and "XXIII"). A check still in flight
    /// keeps the connection it holds, and a redirect usually hands its connection to its next
    /// hop as before; a retry, a check that took its connection only after an await, or a hop
    /// whose connection another check's result closed in between, opens a connection of its
    /// own in the last round.
    pub fn close_idle(&self) {
        if self.last_run.load(std::sync::atomic::Ordering::Relaxed) {
            self.http.close_idle();
        }
    }

    /// Told by the engine when its run ends (every check has a result, or the run was cut
    /// short). In the last run ([`Self::last_run`]) the idle connections are closed, and each
    /// one given back later, by a check whose connection became ready for the next request
    /// only after its result.
    pub fn run_ended(&self) {
        if self.last_run.load(std::sync::atomic::Ordering::Relaxed) {
            self.http.close_for_good();
        }
    }
}

impl RunContext {
    /// Resolves once what `check` needs prepared before it starts is ready: at once for a
    /// check that speaks no TLS, or that waits for the preparation itself between its connect
    /// and its handshake ([`Kind::tls_after_connect`]). The engine awaits it before the check's
    /// clock starts.
    pub async fn ready_for(&self, check: &CheckDef) {
        let kind = check.spec.as_spec();
        if kind.tls_trust().is_some() && !kind.tls_after_connect() {
            self.tls.wait().await;
        }
    }

    /// Wait for the TLS preparation outside the check's clock ([`Phase::outside_clock`]): a
    /// kind that connects first calls it between its connect and its handshake, so its
    /// connect is not held back by the preparation and its clock does not carry it. Returns
    /// when the wait ended (the handshake's start).
    pub async fn tls_ready(&self, phase: &Phase) -> Instant {
        phase.outside_clock(self.tls.wait()).await;
        Instant::now()
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
    let started = Instant::now();
    let outcome = check.spec.run_kind(check, ctx, phase).await;
    let elapsed = started.elapsed();
    let outcome = with_phases(check, outcome, phase);
    let outcome = with_conditions(check, outcome, Some(elapsed));
    if SHORT_MESSAGE_KINDS.contains(&check.spec.kind()) {
        common::one_short_line(outcome)
    } else {
        outcome
    }
}

/// The kinds whose failures carry client-library and SDK error chains: their report message
/// is one line of at most [`common::MESSAGE_MAX`] characters, the chain in `detail`.
const SHORT_MESSAGE_KINDS: &[&str] = &["aws", "kubernetes", "postgres", "mysql", "redis"];

/// Move the phases `phase` recorded into `outcome`, keeping only those of the check's kind,
/// and judge them against the check's `phases:` thresholds ([`phase_problems`]).
pub fn with_phases(check: &CheckDef, mut outcome: Outcome, phase: &Phase) -> Outcome {
    let Some(entry) = kind_entry(check.kind()) else {
        return outcome;
    };
    let mut times = phase.take_times();
    times.retain(|p| entry.phases.contains(&p));
    outcome.phases = times;
    let problems = phase_problems(&outcome.phases, &check.phase_limits, entry.latency_reason);
    problems
        .into_iter()
        .fold(outcome, |o, p| common::add_problem(o, Some(p)))
}

/// Judge the check's `expect:` conditions against the facts its attempt observed (plus
/// `latency`, when the kind did not set its own, and `latency.<phase>` from its phases), each
/// failed one a problem with the kind's `expect` reason. An attempt that observed nothing
/// and could not run (it could not connect, it timed out) has failed already: its conditions
/// are listed as not held, with no value and no further problem.
pub fn with_conditions(
    check: &CheckDef,
    mut outcome: Outcome,
    elapsed: Option<Duration>,
) -> Outcome {
    let mut facts = outcome.take_facts();
    let Some(entry) = kind_entry(check.kind()).filter(|_| !check.expect.is_empty()) else {
        outcome.observed = None;
        return outcome;
    };
    let could_not_run = outcome
        .reason
        .is_some_and(|r| r.class() == crate::model::ReasonClass::Error);
    if facts.is_empty() && (could_not_run || elapsed.is_none()) {
        outcome.set_conditions(
            check
                .expect
                .iter()
                .map(|c| crate::model::ConditionResult {
                    assert: c.assert.clone(),
                    ok: false,
                    actual: serde_json::Value::Null.into(),
                })
                .collect(),
        );
        return outcome;
    }
    if let Some(elapsed) = elapsed
        && !facts.has("latency")
    {
        facts.duration("latency", elapsed);
    }
    for (name, took) in outcome.phases.iter() {
        facts.duration(format!("latency.{}", name.as_str()), took);
    }
    let (results, problems) = common::expect::judge(&check.expect, &facts, entry.expect_reason);
    outcome.set_conditions(results);
    problems
        .into_iter()
        .fold(outcome, |o, p| common::add_problem(o, Some(p)))
}

/// What a running check is doing, so a timeout can say where it stopped, and how long each
/// of its timed phases took (the result's `phases`). One per attempt; a kind records each
/// phase as it ends, so a timed-out attempt still reports the phases it finished.
///
/// It also keeps the time the attempt spent waiting for what infracheck prepares for it (the
/// TLS trust, [`RunContext::tls_ready`]): that wait is outside the check's clock, so the engine
/// takes it off the attempt's duration and adds it to its timeout, and a kind takes it off the
/// latency it judges ([`Phase::clocked`]).
#[derive(Debug, Default)]
pub struct Phase {
    doing: std::sync::Mutex<&'static str>,
    times: std::sync::Mutex<Phases>,
    outside: std::sync::Mutex<OutsideClock>,
    /// Where the attempt's own clock ended, when its kind knows it better than the instant the
    /// attempt returned (see [`Phase::end_clock`]).
    ended: std::sync::Mutex<Option<Instant>>,
}

/// The waits of an attempt that are outside its clock: their total, and the start of the one
/// under way.
#[derive(Debug, Default, Clone, Copy)]
struct OutsideClock {
    total: Duration,
    since: Option<Instant>,
}

impl Phase {
    /// Record the current phase.
    pub fn set(&self, p: &'static str) {
        if let Ok(mut g) = self.doing.lock() {
            *g = p;
        }
    }

    /// The last recorded phase.
    pub fn get(&self) -> &'static str {
        self.doing.lock().map(|g| *g).unwrap_or("")
    }

    /// Record that `name` took `d` (added to an earlier span of the same phase).
    pub fn record(&self, name: PhaseName, d: Duration) {
        if let Ok(mut g) = self.times.lock() {
            g.add(name, d);
        }
    }

    /// Record `name` as the span from `since` to now, and return now (the next span's start).
    pub fn lap(&self, name: PhaseName, since: Instant) -> Instant {
        let now = Instant::now();
        self.record(name, now.saturating_duration_since(since));
        now
    }

    /// Await `wait`, a wait for something infracheck prepares (the TLS trust, a kind's API
    /// client), outside the check's clock, and return its output.
    pub async fn outside_clock<T>(&self, wait: impl std::future::Future<Output = T>) -> T {
        let since = Instant::now();
        if let Ok(mut g) = self.outside.lock() {
            g.since = Some(since);
        }
        let out = wait.await;
        if let Ok(mut g) = self.outside.lock() {
            g.since = None;
            g.total = g.total.saturating_add(since.elapsed());
        }
        out
    }

    /// The time spent outside the check's clock so far (a wait under way counts up to now).
    pub fn outside(&self) -> Duration {
        let g = self.outside.lock().map(|g| *g).unwrap_or_default();
        let ongoing = g.since.map_or(Duration::ZERO, |s| s.elapsed());
        g.total.saturating_add(ongoing)
    }

    /// The check's own time since `start` (taken at the start of the attempt): the time
    /// elapsed less the waits outside its clock.
    pub fn clocked(&self, start: Instant) -> Duration {
        start.elapsed().saturating_sub(self.outside())
    }

    /// The attempt's own clock ended at `at`, before the attempt returns: the last byte it
    /// needed reached the socket then (the kernel's receive timestamp, `http/stamps.rs`), and
    /// what came after (the task woken to read it, judging the response) is not the check's.
    /// The engine ends the check's duration there.
    pub fn end_clock(&self, at: Instant) {
        if let Ok(mut g) = self.ended.lock() {
            *g = Some(at);
        }
    }

    /// Where the attempt's own clock ended ([`Phase::end_clock`]), else now.
    pub fn clock_end(&self) -> Instant {
        self.ended
            .lock()
            .ok()
            .and_then(|g| *g)
            .unwrap_or_else(Instant::now)
    }

    /// The phases recorded so far, leaving none.
    pub fn take_times(&self) -> Phases {
        self.times
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}
