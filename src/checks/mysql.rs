//! `mysql_checks` (MySQL and MariaDB): connect with mysql_async (TLS through rustls when
//! `tls: require`), read the server version, run the optional `query` with the text protocol
//! and compare it with `expect_rows` / `expect_value`.

use crate::reader::key_table::Field;
use std::time::Instant;

use mysql_async::prelude::Queryable;

use super::common::db::{DbCommon, TlsMode, db_expectations, db_result_meta, parse_db};
use super::common::{TextProblem, escape, latency_problem, millis, text_problem, verdict};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;

/// Server error codes that mean "these credentials may not connect".
const AUTH_CODES: &[u16] = &[
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1130, // ER_HOST_NOT_PRIVILEGED
    1251, // ER_NOT_SUPPORTED_AUTH_MODE
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
];

/// A validated MySQL/MariaDB check.
#[derive(Debug, Clone)]
pub struct MysqlSpec {
    /// The shared database options.
    pub db: DbCommon,
}

/// The mysql kind (see `src/checks/registry.rs`).
impl Kind for MysqlSpec {
    const NAME: &'static str = "mysql";

    const FIELDS: &'static [Field] =
        super::common::db::db_fields!(&["disable", "require"], "`mysql://` or `mariadb://` URL.");

    /// Shared by the database kinds (`checks/common/db.rs`).
    const PHASES: &'static [PhaseName] = super::common::db::PHASES;
    const VALUES: &'static [&'static str] = super::common::db::VALUES;
    const LATENCY_REASON: Reason = Reason::DbLatency;
    const EXPECT_REASON: Reason = Reason::DbExpect;
    const REASONS: &'static [&'static [Reason]] = &[super::common::db::REASONS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let (db, target) = parse_db(
            r,
            ctx,
            &["mysql", "mariadb"],
            &[("disable", TlsMode::Disable), ("require", TlsMode::Require)],
        )?;
        Some((MysqlSpec { db }, target))
    }

    fn host_key(&self) -> Option<String> {
        self.db.host_key(3306)
    }

    /// The driver builds its own TLS configuration on each connection (its bundled roots plus
    /// `ca_file`, see `run`): nothing of ours to verify with, but with `tls: require` the
    /// crypto library's random generator is seeded before the clock starts (the `insecure`
    /// trust prepares only that).
    fn tls_trust(&self) -> Option<super::common::tls::TlsTrust<'_>> {
        (self.db.tls == TlsMode::Require).then_some(super::common::tls::TlsTrust {
            ca_file: None,
            insecure: true,
        })
    }

    async fn run(&self, check: &CheckDef, _: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, phase).await
    }
}

fn classify(e: &mysql_async::Error, during: &str) -> Outcome {
    match e {
        mysql_async::Error::Server(s) => {
            let reason = if AUTH_CODES.contains(&s.code) {
                Reason::DbAuth
            } else if during == "connect" {
                Reason::DbConnect
            } else {
                Reason::DbQuery
            };
            Outcome::fail(
                reason,
                crate::text!(
                    "{during} failed: ",
                    escape(&s.message, 300),
                    format!(" ({} ", s.code),
                    escape(&s.state, 10),
                    ")"
                ),
            )
        }
        other => {
            let reason = if during == "connect" {
                Reason::DbConnect
            } else {
                Reason::DbQuery
            };
            Outcome::fail(
                reason,
                crate::text!("{during} failed: ", escape(&other.to_string(), 300)),
            )
        }
    }
}

fn cell(v: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

/// Run one attempt.
pub async fn run(spec: &MysqlSpec, thresholds: Thresholds, phase: &Phase) -> Outcome {
    let db = &spec.db;
    // mysql_async knows only the `mysql://` scheme.
    let mut url = db.url.clone();
    if url.scheme() == "mariadb" {
        let rest = url.as_str().trim_start_matches("mariadb");
        match url::Url::parse(&format!("mysql{rest}")) {
            Ok(u) => url = u,
            Err(e) => return Outcome::fail(Reason::DbConnect, format!("invalid URL: {e}")),
        }
    }
    let opts = match mysql_async::Opts::from_url(url.as_str()) {
        Ok(o) => o,
        Err(e) => {
            return Outcome::fail(
                Reason::DbConnect,
                crate::text!("invalid connection URL: ", escape(&e.to_string(), 200)),
            );
        }
    };
    let mut builder = mysql_async::OptsBuilder::from_opts(opts);
    if db.tls == TlsMode::Require {
        let mut ssl = mysql_async::SslOpts::default()
            .with_danger_accept_invalid_certs(db.insecure)
            .with_danger_skip_domain_validation(db.insecure);
        if let Some(ca) = &db.ca_file {
            ssl = ssl.with_root_certs(vec![std::path::PathBuf::from(ca).into()]);
        }
        // The driver parses PEM itself: it gets the bytes read (and matched) with the config.
        if let Some(id) = &db.client {
            ssl = ssl.with_client_identity(Some(mysql_async::ClientIdentity::new(
                id.cert_pem().to_vec().into(),
                id.key_pem().to_vec().into(),
            )));
        }
        builder = builder.ssl_opts(ssl);
    }
    let start = Instant::now();
    phase.set("connecting");
    let mut conn = match mysql_async::Conn::new(builder).await {
        Ok(c) => c,
        Err(e) => return classify(&e, "connect"),
    };
    let connected = phase.lap(crate::model::PhaseName::Connect, start);
    let connect_time = connected.saturating_duration_since(start);
    let mut meta = crate::model::Meta::new();
    meta.insert(
        "connect_ms".to_owned(),
        serde_json::json!(millis(connect_time)),
    );
    phase.set("reading the server version");
    if let Ok(Some(v)) = conn.query_first::<String, _>("SELECT VERSION()").await {
        meta.insert_text("server_version".to_owned(), escape(&v, 80));
    }
    let mut problems: Vec<TextProblem> = Vec::new();
    let mut facts = crate::model::Facts::new();
    if let Some(q) = &db.query {
        phase.set("running the query");
        let rows: Vec<mysql_async::Row> = match conn.query(q.as_str()).await {
            Ok(r) => r,
            Err(e) => {
                let _ = conn.disconnect().await;
                return classify(&e, "query").with_metadata(meta);
            }
        };
        let rows: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|r| (0..r.len()).map(|i| r.as_ref(i).and_then(cell)).collect())
            .collect();
        db_result_meta(&rows, &mut meta);
        db_expectations(db, &rows, &mut problems);
        super::common::db::db_facts(&rows, &mut facts);
    }
    phase.lap(crate::model::PhaseName::Query, connected);
    let elapsed = start.elapsed();
    let _ = conn.disconnect().await;
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    if let Some(p) = latency_problem(elapsed, thresholds, Reason::DbLatency) {
        problems.push(text_problem(p));
    }
    let ok = match &db.query {
        Some(_) => format!("connected and queried in {} ms", elapsed.as_millis()),
        None => format!("connected in {} ms", elapsed.as_millis()),
    };
    facts.duration("latency", elapsed);
    verdict(problems, ok).with_metadata(meta).with_facts(facts)
}
