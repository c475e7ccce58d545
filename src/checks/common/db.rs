//! The part of `postgres_checks` and `mysql_checks` they share: the connection URL, the query
//! and its expectations, the TLS mode and its trust keys.

use super::judge::TextProblem;
use super::text::escape;
use super::url::secret_url;
use crate::model::{Meta, Reason, Status};
use crate::reader::ctx::Ctx;
use crate::text;

/// The phases a database check may time (`phases:` takes these names). PostgreSQL records
/// each: `connect` (the lookup and the TCP connection, made by infracheck), `tls` (the SSL
/// negotiation and handshake, when it happens), `auth` (the login) and `query` (the version
/// read plus the `query`). The MySQL driver connects, negotiates TLS and logs in as one call
/// that takes no stream of ours, so a MySQL check records that call as `connect` and has no
/// `tls` or `auth`.
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
            $crate::checks::common::trust::INSECURE_FIELD,
            $crate::checks::common::trust::CA_FILE_FIELD,
            $crate::checks::common::trust::CLIENT_CERT_FIELD,
            $crate::checks::common::trust::CLIENT_KEY_FIELD,
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

/// Check a query result (rows of text cells) against `expect_rows` / `expect_value`.
pub fn db_expectations(
    common: &DbCommon,
    rows: &[Vec<Option<String>>],
    problems: &mut Vec<TextProblem>,
) {
    if let Some(want) = common.expect_rows
        && u64::try_from(rows.len()).unwrap_or(u64::MAX) != want
    {
        problems.push((
            Status::Fail,
            Reason::DbExpect,
            format!("query returned {} rows, expected {want}", rows.len()).into(),
        ));
    }
    if let Some(want) = &common.expect_value {
        match rows.first().and_then(|r| r.first()) {
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
pub fn db_result_meta(rows: &[Vec<Option<String>>], meta: &mut Meta) {
    meta.insert("rows".to_owned(), serde_json::json!(rows.len()));
    if let Some(v) = rows.first().and_then(|r| r.first()) {
        match v {
            Some(s) => meta.insert_text("first_value".to_owned(), escape(s, 200)),
            None => meta.insert("first_value".to_owned(), serde_json::Value::Null),
        }
    }
}

/// The values of `expect:` conditions from a query result: `db.rows`, the row count, and
/// `db.value`, the first column of the first row as text (`null` for SQL NULL; absent when
/// there is no row).
pub fn db_facts(rows: &[Vec<Option<String>>], facts: &mut crate::model::Facts) {
    facts.value("db.rows", rows.len());
    if let Some(v) = rows.first().and_then(|r| r.first()) {
        facts.value("db.value", v.clone());
    }
}
