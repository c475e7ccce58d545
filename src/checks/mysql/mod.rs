//! `mysql_checks` (MySQL and MariaDB): infracheck speaks the client protocol itself, so each
//! step of the connection is timed apart: the lookup, the TCP connection and the server's
//! greeting (`connect`), the SSL request and the rustls handshake with the shared verifier
//! (`tls`, with `tls: require`), the login (`auth`, `auth.rs`), then the server version and the
//! optional `query` with the text protocol (`query`, `wire.rs`), compared with `expect_rows` /
//! `expect_value`.

mod auth;
mod wire;

use crate::reader::key_table::Field;
use std::time::Instant;

use super::common::db::{DbCommon, DbReport, TlsMode, parse_db};
use super::common::escape;
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason, Text};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;
use crate::text;
use wire::{Conn, WireError};

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

    fn tls_trust(&self) -> Option<super::common::tls::TlsTrust<'_>> {
        self.db.tls_trust()
    }

    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, ctx, phase).await
    }
}

/// Map an error to a reason and a one-line message; `during` is `connect` (through the
/// login) or `query`.
fn classify(e: &WireError, during: &str) -> Outcome {
    let fallback = if during == "connect" {
        Reason::DbConnect
    } else {
        Reason::DbQuery
    };
    match e {
        WireError::Server {
            code,
            state,
            message,
        } => {
            let reason = if AUTH_CODES.contains(code) {
                Reason::DbAuth
            } else {
                fallback
            };
            let code = match state {
                Some(s) => text!("{code} ", escape(s, 10)),
                None => code.to_string().into(),
            };
            Outcome::fail(
                reason,
                text!("{during} failed: ", escape(message, 300), " (", code, ")"),
            )
        }
        other => Outcome::fail(
            fallback,
            text!("{during} failed: ", escape(&other.to_string(), 300)),
        ),
    }
}

/// URL parameters of the former driver that tune a connection pool or a driver this check
/// does not have: accepted, and without effect on one connection and one query.
const IGNORED_PARAMS: &[&str] = &[
    "pool_min",
    "pool_max",
    "inactive_connection_ttl",
    "ttl_check_interval",
    "conn_ttl",
    "abs_conn_ttl",
    "abs_conn_ttl_jitter",
    "tcp_keepalive",
    "tcp_nodelay",
    "stmt_cache_size",
    "wait_timeout",
    "reset_connection",
    "prefer_socket",
    "max_allowed_packet",
    "client_found_rows",
    "compression",
    "secure_auth",
];

/// Where and as whom to connect, from the URL.
struct Target {
    host: String,
    port: u16,
    user: String,
    password: String,
    database: Option<String>,
    clear_without_tls: bool,
}

impl Target {
    /// Read the URL: host, port (3306), user, password and database percent-decoded, and its
    /// parameters (an unknown one, or one whose job the check's keys do, is an error naming
    /// it; its value is never quoted).
    fn of(url: &url::Url) -> Result<Target, Text> {
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("the URL has no host".into()),
        };
        let mut clear_without_tls = false;
        for (key, value) in url.query_pairs() {
            let key: &str = &key;
            match key {
                "enable_cleartext_plugin" => {
                    clear_without_tls = value.parse().map_err(|_| {
                        Text::from(
                            "URL parameter `enable_cleartext_plugin` must be `true` or `false`",
                        )
                    })?;
                }
                "require_ssl" | "verify_ca" | "verify_identity" | "built_in_roots" => {
                    return Err(format!(
                        "URL parameter `{key}` is not supported: use the `tls`, `insecure` and \
                         `ca_file` keys"
                    )
                    .into());
                }
                "socket" => {
                    return Err(
                        "URL parameter `socket` is not supported: the check connects over TCP"
                            .into(),
                    );
                }
                k if IGNORED_PARAMS.contains(&k) => {}
                other => {
                    return Err(text!("unknown URL parameter `", escape(other, 40), "`"));
                }
            }
        }
        let database = url
            .path_segments()
            .and_then(|mut s| s.next())
            .map(super::common::percent_decode)
            .filter(|d| !d.is_empty());
        Ok(Target {
            host,
            port: url.port().unwrap_or(3306),
            user: super::common::percent_decode(url.username()),
            password: url
                .password()
                .map(super::common::percent_decode)
                .unwrap_or_default(),
            database,
            clear_without_tls,
        })
    }

    fn credentials(&self) -> auth::Credentials<'_> {
        auth::Credentials {
            user: &self.user,
            password: &self.password,
            database: self.database.as_deref(),
            clear_without_tls: self.clear_without_tls,
        }
    }
}

/// Run one attempt: the lookup, the TCP connection and the server's greeting (`connect`);
/// with `tls: require`, a wait for the TLS preparation outside the check's clock
/// ([`RunContext::tls_ready`]), the SSL request and the handshake (`tls`); the login
/// (`auth`); the version read and the `query` (`query`).
pub async fn run(
    spec: &MysqlSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
) -> Outcome {
    let db = &spec.db;
    let target = match Target::of(&db.url) {
        Ok(t) => t,
        Err(e) => {
            return Outcome::fail(Reason::DbConnect, text!("invalid connection URL: ", e));
        }
    };
    let start = Instant::now();
    let tcp = match super::common::db::connect(&target.host, target.port, phase).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (mut conn, connected) = match login(db, &target, tcp, ctx, phase).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let connect_time = phase.clocked(start).saturating_sub(connected.elapsed());
    let mut report = DbReport::new(connect_time);
    phase.set("reading the server version");
    if let Ok(version) = conn.query("SELECT VERSION()").await
        && let Some(Some(v)) = version.first
    {
        report.server_version(&v);
    }
    if let Some(q) = &db.query {
        phase.set("running the query");
        match conn.query(q).await {
            Ok(result) => report.query_result(db, &result),
            Err(e) => {
                conn.quit().await;
                return report.fail(classify(&e, "query"));
            }
        }
    }
    phase.lap(PhaseName::Query, connected);
    let elapsed = phase.clocked(start);
    conn.quit().await;
    report.finish(db, thresholds, elapsed)
}

/// Over the connected `tcp`: the greeting (the rest of `connect`), TLS when the mode asks for
/// it (`tls`) and the login (`auth`); returns the connection and when the login ended.
async fn login(
    db: &DbCommon,
    target: &Target,
    tcp: tokio::net::TcpStream,
    ctx: &RunContext,
    phase: &Phase,
) -> Result<(Conn, Instant), Outcome> {
    let fail = |e: WireError| classify(&e, "connect");
    phase.set("reading the server greeting");
    let greeted = Instant::now();
    let mut conn = Conn::new(Box::new(tcp));
    let tls = db.tls == TlsMode::Require;
    let hello = conn.read().await.map_err(fail)?;
    let greeting = auth::Greeting::parse(&hello, tls, target.database.is_some()).map_err(fail)?;
    let mut from = phase.lap(PhaseName::Connect, greeted);
    if tls {
        from = ctx.tls_ready(phase).await;
        phase.set("TLS handshake");
        conn.write(&greeting.ssl_request()).await.map_err(fail)?;
        let (stream, seq) = conn.into_parts();
        let config = super::common::tls::client_config(
            db.ca_file.as_deref(),
            db.insecure,
            rustls::DEFAULT_VERSIONS,
            db.client.as_ref(),
        )
        .map_err(|e| Outcome::fail(Reason::DbConnect, e))?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| {
            Outcome::fail(
                Reason::DbConnect,
                format!("connect failed: invalid TLS server name: {e}"),
            )
        })?;
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let stream = connector.connect(name, stream).await.map_err(|e| {
            Outcome::fail(
                Reason::DbConnect,
                text!(
                    "connect failed: TLS handshake failed: ",
                    escape(&e.to_string(), 300)
                ),
            )
        })?;
        conn = Conn::resume(Box::new(stream), seq);
        from = phase.lap(PhaseName::Tls, from);
    }
    phase.set("logging in");
    auth::login(&mut conn, &greeting, target.credentials(), tls)
        .await
        .map_err(fail)?;
    let connected = phase.lap(PhaseName::Auth, from);
    Ok((conn, connected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Result<Target, String> {
        Target::of(&url::Url::parse(url).unwrap()).map_err(|e| shown(&e))
    }

    /// A message as reports show it (its deferred cuts carried out).
    fn shown(s: &Text) -> String {
        crate::redact::Redactor::default().fold(s)
    }

    #[test]
    fn the_url_gives_host_port_user_password_and_database() {
        let t = target("mariadb://ap%40p:p%2Fw@[::1]/my%20db?pool_max=3").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, 3306);
        assert_eq!(t.user, "ap@p");
        assert_eq!(t.password, "p/w");
        assert_eq!(t.database.as_deref(), Some("my db"));
        assert!(!t.clear_without_tls);
        let t = target("mysql://db.internal:3307?enable_cleartext_plugin=true").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("db.internal", 3307));
        assert_eq!((t.user.as_str(), t.password.as_str()), ("", ""));
        assert_eq!(t.database, None);
        assert!(t.clear_without_tls);
    }

    #[test]
    fn url_parameters_the_check_does_not_honour_are_errors_naming_them() {
        let e = target("mysql://u:pw@h/db?require_ssl=true").err().unwrap();
        assert!(e.contains("`require_ssl`") && e.contains("`tls`"), "{e}");
        let e = target("mysql://u:pw@h/db?socket=/run/mysqld.sock")
            .err()
            .unwrap();
        assert!(e.contains("`socket`"), "{e}");
        let e = target("mysql://u:pw@h/db?colour=secret-value")
            .err()
            .unwrap();
        assert_eq!(e, "unknown URL parameter `colour`");
    }

    #[test]
    fn server_errors_keep_their_number_and_state_and_auth_codes_are_db_auth() {
        let denied = WireError::Server {
            code: 1045,
            state: Some("28000".to_owned()),
            message: "Access denied for user 'app'".to_owned(),
        };
        let o = classify(&denied, "connect");
        assert_eq!(o.reason, Some(Reason::DbAuth));
        assert_eq!(
            shown(&o.message),
            "connect failed: Access denied for user 'app' (1045 28000)"
        );
        let unknown_db = WireError::Server {
            code: 1049,
            state: None,
            message: "Unknown database 'x'".to_owned(),
        };
        assert_eq!(
            classify(&unknown_db, "connect").reason,
            Some(Reason::DbConnect)
        );
        assert_eq!(classify(&unknown_db, "query").reason, Some(Reason::DbQuery));
        let plugin = WireError::Unsupported("the server asks for `x`".to_owned());
        assert_eq!(classify(&plugin, "connect").reason, Some(Reason::DbConnect));
    }
}
