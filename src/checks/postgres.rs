//! `postgres_checks`: connect with tokio-postgres (TLS through rustls when `tls` asks for it),
//! read the server version, run the optional `query` with the simple-query protocol (every
//! value arrives as text) and compare it with `expect_rows` / `expect_value`.

use crate::spec::field::Field;
use std::time::Instant;

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{SimpleQueryMessage, SimpleQueryRow};

use super::common::db::{DbCommon, TlsMode, db_expectations, db_result_meta, parse_db};
use super::common::{self, Problem, escape, latency_problem, millis, verdict};
use super::{Phase, Thresholds};
use crate::model::{Outcome, Reason};
use crate::spec::fields::Ctx;
use crate::spec::yaml::MapReader;

/// The phases the kind times (shared by the database kinds).
pub const PHASES: &[crate::model::PhaseName] = crate::checks::common::db::PHASES;

/// The reason of a slow check or phase.
pub const LATENCY_REASON: crate::model::Reason = crate::model::Reason::DbLatency;

/// The values its checks observe for `expect:` conditions, besides `latency` and
/// `latency.<phase>` (see `checks/common/expect`).
pub const VALUES: &[&str] = &["db.value", "db.rows"];

/// The reason of a failed `expect:` condition.
pub const EXPECT_REASON: crate::model::Reason = crate::model::Reason::DbExpect;

/// Every key the kind accepts besides the common ones: its type and description (the
/// validator's key list and the config schema are both read from it).
pub const FIELDS: &[Field] = common::db::db_fields!(
    &["prefer", "disable", "require"],
    "`postgres://` or `postgresql://` URL."
);

/// A validated PostgreSQL check.
#[derive(Debug, Clone)]
pub struct PostgresSpec {
    /// The shared database options.
    pub db: DbCommon,
}

/// Parse the PostgreSQL keys of a check; returns the spec and its printable target.
pub fn parse(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    thresholds: Thresholds,
) -> Option<(PostgresSpec, String)> {
    let (db, target) = parse_db(
        r,
        ctx,
        thresholds,
        &["postgres", "postgresql"],
        &[
            ("prefer", TlsMode::Prefer),
            ("disable", TlsMode::Disable),
            ("require", TlsMode::Require),
        ],
    )?;
    Some((PostgresSpec { db }, target))
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
            format!(
                "{during} failed: {} {} ({})",
                db.severity(),
                escape(db.message(), 300),
                code.code()
            ),
        );
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    let reason = if during == "connect" {
        Reason::DbConnect
    } else {
        Reason::DbQuery
    };
    Outcome::fail(reason, format!("{during} failed: {}", escape(&text, 300)))
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

/// Run one attempt.
pub async fn run(spec: &PostgresSpec, phase: &Phase) -> Outcome {
    let db = &spec.db;
    let mut config: tokio_postgres::Config = match db.url.as_str().parse() {
        Ok(c) => c,
        Err(e) => {
            return Outcome::fail(
                Reason::DbConnect,
                format!("invalid connection URL: {}", escape(&e.to_string(), 200)),
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
    let tls = match common::tls::client_config(
        db.ca_file.as_deref(),
        db.insecure,
        rustls::DEFAULT_VERSIONS,
    ) {
        Ok(c) => tokio_postgres_rustls::MakeRustlsConnect::new(c),
        Err(e) => return Outcome::fail(Reason::DbConnect, e),
    };
    let start = Instant::now();
    phase.set("connecting");
    let (client, connection) = match config.connect(tls).await {
        Ok(c) => c,
        Err(e) => return classify(&e, "connect"),
    };
    let conn_task = tokio::spawn(connection);
    // Dropping the client closes the connection; the task then ends by itself.
    let _abort = AbortOnDrop(conn_task);
    let connected = phase.lap(crate::model::PhaseName::Connect, start);
    let connect_time = connected.saturating_duration_since(start);

    let mut meta = std::collections::BTreeMap::new();
    meta.insert(
        "connect_ms".to_owned(),
        serde_json::json!(millis(connect_time)),
    );
    phase.set("reading the server version");
    if let Ok(msgs) = client.simple_query("SHOW server_version").await
        && let Some(Some(v)) = rows_of(msgs).first().and_then(|r| r.first())
    {
        meta.insert(
            "server_version".to_owned(),
            serde_json::json!(escape(v, 80)),
        );
    }
    let mut problems: Vec<Problem> = Vec::new();
    let mut facts = crate::model::Facts::new();
    if let Some(q) = &db.query {
        phase.set("running the query");
        let rows = match client.simple_query(q).await {
            Ok(m) => rows_of(m),
            Err(e) => return classify(&e, "query").with_metadata(meta),
        };
        db_result_meta(&rows, &mut meta);
        db_expectations(db, &rows, &mut problems);
        super::common::db::db_facts(&rows, &mut facts);
    }
    phase.lap(crate::model::PhaseName::Query, connected);
    let elapsed = start.elapsed();
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    if let Some(p) = latency_problem(elapsed, db.thresholds, Reason::DbLatency) {
        problems.push(p);
    }
    let ok = match &db.query {
        Some(_) => format!("connected and queried in {} ms", elapsed.as_millis()),
        None => format!("connected in {} ms", elapsed.as_millis()),
    };
    facts.duration("latency", elapsed);
    verdict(problems, ok).with_metadata(meta).with_facts(facts)
}

/// Ends the connection task when the check ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This kind's answers to the registry's questions (`src/checks/registry.rs`).
impl crate::checks::Kind for PostgresSpec {
    fn host_key(&self) -> Option<String> {
        Some(crate::checks::host_key(
            self.db.url.host_str()?,
            self.db.url.port().unwrap_or(5432),
        ))
    }
    fn thresholds(&self) -> Option<&crate::checks::Thresholds> {
        Some(&self.db.thresholds)
    }
    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        (self.db.tls != TlsMode::Disable).then_some(common::tls::TlsTrust {
            ca_file: self.db.ca_file.as_deref(),
            insecure: self.db.insecure,
        })
    }
    fn run<'a>(
        &'a self,
        _: &'a crate::checks::CheckDef,
        _: &'a crate::checks::RunContext,
        phase: &'a crate::checks::Phase,
    ) -> impl std::future::Future<Output = crate::model::Outcome> + Send + 'a {
        run(self, phase)
    }
}
