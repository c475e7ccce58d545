//! `postgres_checks`: connect with tokio-postgres (TLS through rustls when `tls` asks for it),
//! read the server version, run the optional `query` with the simple-query protocol (every
//! value arrives as text) and compare it with `expect_rows` / `expect_value`.

use crate::reader::key_table::Field;
use std::time::Instant;

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{SimpleQueryMessage, SimpleQueryRow};

use super::common::{self, escape};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;
use common::db::{DbCommon, DbReport, QueryResult, TlsMode, parse_db};

/// A validated PostgreSQL check.
#[derive(Debug, Clone)]
pub struct PostgresSpec {
    /// The shared database options.
    pub db: DbCommon,
}

/// The postgres kind (see `src/checks/registry.rs`).
impl Kind for PostgresSpec {
    const NAME: &'static str = "postgres";

    const FIELDS: &'static [Field] = common::db::db_fields!(
        &["prefer", "disable", "require"],
        "`postgres://` or `postgresql://` URL."
    );

    /// Shared by the database kinds (`checks/common/db.rs`).
    const PHASES: &'static [PhaseName] = common::db::PHASES;
    const VALUES: &'static [&'static str] = common::db::VALUES;
    const LATENCY_REASON: Reason = Reason::DbLatency;
    const EXPECT_REASON: Reason = Reason::DbExpect;
    const REASONS: &'static [&'static [Reason]] = &[common::db::REASONS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let (db, target) = parse_db(
            r,
            ctx,
            &["postgres", "postgresql"],
            &[
                ("prefer", TlsMode::Prefer),
                ("disable", TlsMode::Disable),
                ("require", TlsMode::Require),
            ],
        )?;
        Some((PostgresSpec { db }, target))
    }

    fn host_key(&self) -> Option<String> {
        self.db.host_key(5432)
    }

    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        self.db.tls_trust()
    }

    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, ctx, phase).await
    }
}

/// Map a driver error to a reason and a message (the driver never prints the password, and
/// the redactor removes it anyway).
fn classify(e: &tokio_postgres::Error, during: &str) -> Outcome {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let reason = if code.code().starts_with("28") {
            Reason::DbAuth
        } else if *code == SqlState::INVALID_CATALOG_NAME
            || *code == SqlState::TOO_MANY_CONNECTIONS
            || *code == SqlState::CANNOT_CONNECT_NOW
            || during == "connect"
        {
            Reason::DbConnect
        } else {
            Reason::DbQuery
        };
        return Outcome::fail(
            reason,
            crate::text!(
                format!("{during} failed: {} ", db.severity()),
                escape(db.message(), 300),
                format!(" ({})", code.code())
            ),
        );
    }
    let text = common::error_chain(e);
    let reason = if during == "connect" {
        Reason::DbConnect
    } else {
        Reason::DbQuery
    };
    Outcome::fail(
        reason,
        crate::text!("{during} failed: ", escape(&text, 300)),
    )
}

fn rows_of(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    for m in messages {
        if let SimpleQueryMessage::Row(row) = m {
            rows.push(cells(&row));
        }
    }
    rows
}

fn cells(row: &SimpleQueryRow) -> Vec<Option<String>> {
    (0..row.len())
        .map(|i| row.try_get(i).ok().flatten().map(str::to_owned))
        .collect()
}

/// The TCP host and port of the connection URL; `None` for a Unix socket (the driver then
/// connects by itself, as one `connect` span).
fn tcp_target(config: &tokio_postgres::Config) -> Option<(String, u16)> {
    let host = match config.get_hosts().first()? {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => return None,
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Some((host, port))
}

/// The TLS connector of the driver, timing its handshake: the `tls` span runs from `from`
/// (the TCP connection ready, or the end of the wait for the TLS preparation) to the end of
/// the handshake, which also becomes the start of `auth`.
struct TimedTls<'a, T> {
    inner: T,
    from: Instant,
    phase: &'a Phase,
    done: &'a std::sync::Mutex<Option<Instant>>,
}

impl<'a, S, T> tokio_postgres::tls::TlsConnect<S> for TimedTls<'a, T>
where
    T: tokio_postgres::tls::TlsConnect<S>,
    T::Future: Send + 'a,
{
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<T::Stream, T::Error>> + Send + 'a>,
    >;

    fn connect(self, stream: S) -> Self::Future {
        let TimedTls {
            inner,
            from,
            phase,
            done,
        } = self;
        let shaking = inner.connect(stream);
        Box::pin(async move {
            let out = shaking.await;
            let end = phase.lap(crate::model::PhaseName::Tls, from);
            if let Ok(mut d) = done.lock() {
                *d = Some(end);
            }
            out
        })
    }
}

/// Run one attempt: the lookup and TCP connection (`connect`), then, unless `tls:
/// disable`, a wait for the TLS preparation outside the check's clock
/// ([`RunContext::tls_ready`]) and the TLS negotiation (`tls`, when the server accepts it),
/// the login (`auth`), and the version read plus the `query` (`query`).
pub async fn run(
    spec: &PostgresSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
) -> Outcome {
    let db = &spec.db;
    let mut config: tokio_postgres::Config = match db.url.as_str().parse() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::fail(
                Reason::DbConnect,
                crate::text!("invalid connection URL: ", escape(&e.to_string(), 200)),
            );
        }
    };
    config.ssl_mode(match db.tls {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require => SslMode::Require,
    });
    if config.get_application_name().is_none() {
        config.application_name("infracheck");
    }
    let start = Instant::now();
    let Some((host, port)) = tcp_target(&config) else {
        // A Unix socket: the driver connects, and TLS does not apply.
        phase.set("connecting");
        let (client, connection) = match config.connect(tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => return classify(&e, "connect"),
        };
        let _abort = AbortOnDrop(tokio::spawn(connection));
        let connected = phase.lap(crate::model::PhaseName::Connect, start);
        return query((db, thresholds), &client, phase, start, connected).await;
    };
    let stream = match common::db::connect(&host, port, phase).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    phase.set("logging in");
    let login = if db.tls == TlsMode::Disable {
        let from = Instant::now();
        login(&config, stream, tokio_postgres::NoTls, phase, from).await
    } else {
        let from = ctx.tls_ready(phase).await;
        let config_tls = match common::tls::client_config(
            db.ca_file.as_deref(),
            db.insecure,
            rustls::DEFAULT_VERSIONS,
            db.client.as_ref(),
        ) {
            Ok(c) => c,
            Err(e) => return Outcome::fail(Reason::DbConnect, e),
        };
        let mut make = tokio_postgres_rustls::MakeRustlsConnect::new(config_tls);
        // Never fails (an invalid name fails the handshake, as a `connect` error).
        let Ok(tls) =
            tokio_postgres::tls::MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(
                &mut make, &host,
            );
        login(&config, stream, tls, phase, from).await
    };
    let (client, _abort, connected) = match login {
        Ok(l) => l,
        Err(o) => return o,
    };
    query((db, thresholds), &client, phase, start, connected).await
}

/// Log in over the connected `stream` (TLS first when the mode asks for it and the server
/// accepts it): `tls` and `auth` from `from` (the connection ready for it); returns the client,
/// the guard of the connection task, and when the login ended.
async fn login<T>(
    config: &tokio_postgres::Config,
    stream: tokio::net::TcpStream,
    tls: T,
    phase: &Phase,
    from: Instant,
) -> Result<(tokio_postgres::Client, AbortOnDrop, Instant), Outcome>
where
    T: tokio_postgres::tls::TlsConnect<tokio::net::TcpStream> + Send,
    T::Future: Send,
    T::Stream: Send + 'static,
{
    let tls_done = std::sync::Mutex::new(None);
    let timed = TimedTls {
        inner: tls,
        from,
        phase,
        done: &tls_done,
    };
    let (client, connection) = config
        .connect_raw(stream, timed)
        .await
        .map_err(|e| classify(&e, "connect"))?;
    let auth_from = tls_done.lock().ok().and_then(|d| *d).unwrap_or(from);
    let connected = phase.lap(crate::model::PhaseName::Auth, auth_from);
    // Dropping the client closes the connection; the task then ends by itself.
    let abort = AbortOnDrop(tokio::spawn(connection));
    Ok((client, abort, connected))
}

/// After the login: read the server version, run the `query` and judge against the spec and
/// the latency thresholds (`start`: the attempt's start; `connected`: the login's end).
async fn query(
    (db, thresholds): (&DbCommon, Thresholds),
    client: &tokio_postgres::Client,
    phase: &Phase,
    start: Instant,
    connected: Instant,
) -> Outcome {
    let connect_time = phase.clocked(start).saturating_sub(connected.elapsed());
    let mut report = DbReport::new(connect_time);
    phase.set("reading the server version");
    if let Ok(msgs) = client.simple_query("SHOW server_version").await
        && let Some(Some(v)) = rows_of(msgs).first().and_then(|r| r.first())
    {
        report.server_version(v);
    }
    if let Some(q) = &db.query {
        phase.set("running the query");
        let rows = match client.simple_query(q).await {
            Ok(m) => rows_of(m),
            Err(e) => return report.fail(classify(&e, "query")),
        };
        report.query_result(db, &QueryResult::of_rows(&rows));
    }
    phase.lap(crate::model::PhaseName::Query, connected);
    report.finish(db, thresholds, phase.clocked(start))
}

/// Ends the connection task when the check ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
