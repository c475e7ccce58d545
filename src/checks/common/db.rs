//! The part of `postgres_checks` and `mysql_checks` they share: the connection URL, the query
//! and its expectations, the TLS mode and its trust keys.

use super::judge::TextProblem;
use super::text::escape;
use super::url::secret_url;
use crate::model::{Meta, Reason, Status};
use crate::reader::ctx::Ctx;
use crate::text;

/// The phases a database check times (`phases:` takes these names): `connect` (the lookup and
/// the TCP connection, made by infracheck with [`connect`]; for MySQL also the server's
/// greeting), `tls` (the SSL request and the handshake, when TLS is used), `auth` (the login)
/// and `query` (the version read plus the `query`).
pub const PHASES: &[crate::model::PhaseName] = &[
    crate::model::PhaseName::Connect,
    crate::model::PhaseName::Tls,
    crate::model::PhaseName::Auth,
    crate::model::PhaseName::Query,
];

/// The values a database check observes for `expect:` conditions.
pub const VALUES: &[&str] = &["db.value", "db.rows"];

/// The reasons of a database check.
pub const REASONS: &[crate::model::Reason] = &[
    crate::model::Reason::DbConnect,
    crate::model::Reason::DbAuth,
    crate::model::Reason::DbQuery,
    crate::model::Reason::DbExpect,
    crate::model::Reason::DbLatency,
];

/// How a database check uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, else plain (PostgreSQL only).
    Prefer,
    /// TLS or fail; the certificate is verified unless `insecure: true`.
    Require,
}

/// The schema fields of the database keys, with the kind's `tls` modes and URL description.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! db_fields {
    ($tls:expr, $url:expr) => {
        $crate::reader::key_table::field_table![
            &[
                $crate::reader::key_table::req(
                    "url",
                    $crate::reader::key_table::FieldType::String,
                    $url,
                ),
                $crate::reader::key_table::opt(
                    "query",
                    $crate::reader::key_table::FieldType::String,
                    "A query to run (default: none, connect only).",
                ),
                $crate::reader::key_table::opt(
                    "expect_rows",
                    $crate::reader::key_table::FieldType::Integer,
                    "Number of rows the query must return.",
                ),
                $crate::reader::key_table::opt(
                    "expect_value",
                    $crate::reader::key_table::FieldType::String,
                    "Value the first column of the first row must have.",
                ),
                $crate::reader::key_table::opt(
                    "tls",
                    $crate::reader::key_table::FieldType::Choice($tls),
                    "TLS mode.",
                ),
            ],
            $crate::checks::common::trust::TLS_FIELDS,
        ]
    };
}
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use db_fields;

/// The parsed shared part of a database check.
#[derive(Debug, Clone)]
pub struct DbCommon {
    /// The connection URL (with its password: never print it, use the target).
    pub url: url::Url,
    /// The query to run, if any.
    pub query: Option<String>,
    /// Exact number of rows the query must return.
    pub expect_rows: Option<u64>,
    /// The text the first column of the first row must equal.
    pub expect_value: Option<String>,
    /// TLS use.
    pub tls: TlsMode,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra CA file.
    pub ca_file: Option<String>,
    /// The client certificate presented when the server asks for one.
    pub client: Option<super::tls::ClientIdentity>,
}

impl DbCommon {
    /// The trust settings of the check's TLS connections, unless `tls: disable`.
    pub fn tls_trust(&self) -> Option<super::tls::TlsTrust<'_>> {
        (self.tls != TlsMode::Disable).then_some(super::tls::TlsTrust {
            ca_file: self.ca_file.as_deref(),
            insecure: self.insecure,
        })
    }

    /// The server's `host:port`, for the per-host limit.
    pub fn host_key(&self, default_port: u16) -> Option<String> {
        let host = self.url.host_str()?;
        Some(super::net::host_key(
            host,
            self.url.port().unwrap_or(default_port),
        ))
    }
}

/// Parse the shared database keys; `tls_modes` lists the accepted `tls` values, the first is
/// the default.
pub fn parse_db(
    r: &mut crate::reader::yaml::MapReader<'_>,
    ctx: &mut Ctx<'_>,
    schemes: &[&str],
    tls_modes: &[(&str, TlsMode)],
) -> Option<(DbCommon, String)> {
    let url = match r.take("url") {
        Some((n, p)) => secret_url(ctx, n, &p, schemes).and_then(|(u, t)| {
            if u.host_str().is_none_or(str::is_empty) {
                ctx.problem(n, &p, "the URL has no host");
                return None;
            }
            Some((u, t))
        }),
        None => {
            ctx.problem(r.node, &r.path, "missing required key `url`");
            None
        }
    };
    let query = match r.take("query") {
        Some((n, p)) => ctx.non_empty(n, &p),
        None => None,
    };
    let expect_rows = match r.take("expect_rows") {
        Some((n, p)) => ctx.uint(n, &p, u64::from(u32::MAX)),
        None => None,
    };
    let expect_value = match r.take("expect_value") {
        Some((n, p)) => ctx.string(n, &p),
        None => None,
    };
    if query.is_none() && (expect_rows.is_some() || expect_value.is_some()) {
        ctx.problem(
            r.node,
            &r.path,
            "`expect_rows` and `expect_value` need a `query`",
        );
    }
    let default_tls = tls_modes.first().map_or(TlsMode::Disable, |(_, m)| *m);
    let tls = match r.take("tls") {
        Some((n, p)) => {
            let v = ctx.string(n, &p)?.to_ascii_lowercase();
            match tls_modes.iter().find(|(name, _)| *name == v) {
                Some((_, m)) => *m,
                None => {
                    let names: Vec<String> =
                        tls_modes.iter().map(|(n, _)| format!("`{n}`")).collect();
                    ctx.problem(n, &p, format!("expected {}, found `{v}`", names.join(", ")));
                    default_tls
                }
            }
        }
        None => default_tls,
    };
    let insecure = super::trust::insecure(r, ctx);
    let ca_file = super::trust::ca_file(r, ctx)?;
    let client = super::trust::client_identity(r, ctx);
    if client.is_some() && tls == TlsMode::Disable {
        ctx.problem(
            r.node,
            &r.path,
            "`client_cert` and `client_key` need TLS: set `tls: require`",
        );
    }
    let (url, target) = url?;
    Some((
        DbCommon {
            url,
            query,
            expect_rows,
            expect_value,
            tls,
            insecure,
            ca_file,
            client,
        },
        target,
    ))
}

/// Resolve `host` and connect over TCP ([`super::net::connect`]): a failure is the finished
/// outcome with the `db.connect` reason (its message and detail kept). A database check has no
/// `dns` phase: the lookup and the TCP connection are its `connect`.
pub async fn connect(
    host: &str,
    port: u16,
    phase: &crate::checks::Phase,
) -> Result<tokio::net::TcpStream, crate::model::Outcome> {
    let (stream, _) =
        super::net::connect(host, port, phase)
            .await
            .map_err(|o| crate::model::Outcome {
                reason: Some(Reason::DbConnect),
                ..o
            })?;
    let looked_up_and_connected = phase.take_times().sum();
    phase.record(crate::model::PhaseName::Connect, looked_up_and_connected);
    Ok(stream)
}

/// What a query returned, as much as a database check judges: the number of rows and the
/// first column of the first row as text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// The number of rows.
    pub rows: usize,
    /// The first column of the first row (`Some(None)`: SQL NULL); `None` when there is no
    /// row.
    pub first: Option<Option<String>>,
}

impl QueryResult {
    /// The count and first value of rows of text cells.
    pub fn of_rows(rows: &[Vec<Option<String>>]) -> Self {
        QueryResult {
            rows: rows.len(),
            first: rows.first().and_then(|r| r.first()).cloned(),
        }
    }
}

/// What a database check gathers once logged in (metadata, problems, facts), and its verdict.
pub struct DbReport {
    meta: Meta,
    problems: Vec<TextProblem>,
    facts: crate::model::Facts,
}

impl DbReport {
    /// A report whose `connect_ms` is `connect_time` (the connection through the login).
    pub fn new(connect_time: std::time::Duration) -> Self {
        let mut meta = Meta::new();
        meta.insert(
            "connect_ms".to_owned(),
            serde_json::json!(super::millis(connect_time)),
        );
        DbReport {
            meta,
            problems: Vec::new(),
            facts: crate::model::Facts::new(),
        }
    }

    /// Record the server's version (`server_version`, escaped and short).
    pub fn server_version(&mut self, v: &str) {
        self.meta
            .insert_text("server_version".to_owned(), escape(v, 80));
    }

    /// Record the `query`'s result: its metadata, its expectations, its facts.
    pub fn query_result(&mut self, common: &DbCommon, result: &QueryResult) {
        db_result_meta(result, &mut self.meta);
        db_expectations(common, result, &mut self.problems);
        db_facts(result, &mut self.facts);
    }

    /// A failure with the metadata gathered so far.
    pub fn fail(self, failed: crate::model::Outcome) -> crate::model::Outcome {
        failed.with_metadata(self.meta)
    }

    /// The verdict: the expectations, `latency_ms` and the latency thresholds on `elapsed`
    /// (the check's own time, through the query).
    pub fn finish(
        mut self,
        common: &DbCommon,
        thresholds: crate::checks::Thresholds,
        elapsed: std::time::Duration,
    ) -> crate::model::Outcome {
        self.meta.insert(
            "latency_ms".to_owned(),
            serde_json::json!(super::millis(elapsed)),
        );
        if let Some(p) = super::latency_problem(elapsed, thresholds, Reason::DbLatency) {
            self.problems.push(super::text_problem(p));
        }
        let ok = match &common.query {
            Some(_) => format!("connected and queried in {} ms", elapsed.as_millis()),
            None => format!("connected in {} ms", elapsed.as_millis()),
        };
        self.facts.duration("latency", elapsed);
        super::verdict(self.problems, ok)
            .with_metadata(self.meta)
            .with_facts(self.facts)
    }
}

/// Check a query result against `expect_rows` / `expect_value`.
pub fn db_expectations(common: &DbCommon, result: &QueryResult, problems: &mut Vec<TextProblem>) {
    if let Some(want) = common.expect_rows
        && u64::try_from(result.rows).unwrap_or(u64::MAX) != want
    {
        problems.push((
            Status::Fail,
            Reason::DbExpect,
            format!("query returned {} rows, expected {want}", result.rows).into(),
        ));
    }
    if let Some(want) = &common.expect_value {
        match &result.first {
            None => problems.push((
                Status::Fail,
                Reason::DbExpect,
                text!(
                    "query returned no value, expected `",
                    escape(want, 100),
                    "`"
                ),
            )),
            Some(got) => {
                let got = got.as_deref().unwrap_or("NULL");
                if got != want {
                    problems.push((
                        Status::Fail,
                        Reason::DbExpect,
                        text!(
                            "query returned `",
                            escape(got, 100),
                            "`, expected `",
                            escape(want, 100),
                            "`"
                        ),
                    ));
                }
            }
        }
    }
}

/// Metadata about a query result: the row count and the first value (escaped, short).
pub fn db_result_meta(result: &QueryResult, meta: &mut Meta) {
    meta.insert("rows".to_owned(), serde_json::json!(result.rows));
    if let Some(v) = &result.first {
        match v {
            Some(s) => meta.insert_text("first_value".to_owned(), escape(s, 200)),
            None => meta.insert("first_value".to_owned(), serde_json::Value::Null),
        }
    }
}

/// The values of `expect:` conditions from a query result: `db.rows`, the row count, and
/// `db.value`, the first column of the first row as text (`null` for SQL NULL; absent when
/// there is no row).
pub fn db_facts(result: &QueryResult, facts: &mut crate::model::Facts) {
    facts.value("db.rows", result.rows);
    if let Some(v) = &result.first {
        facts.value("db.value", v.clone());
    }
}
