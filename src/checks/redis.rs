//! `redis_checks`: connect (`redis://` or `rediss://` for TLS), AUTH, SELECT, PING, then the
//! optional replication `role` and `keys_exist`. A minimal RESP2 client over tokio (and
//! tokio-rustls for TLS): five commands do not justify a driver's compile cost, and every
//! reply is bounded so a hostile server cannot make the check allocate without limit.

mod reasons;

use crate::reader::key_table::{Field, FieldType as T, field_table, opt, req};
use std::time::Instant;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

use super::common::{
    self, TextProblem, escape, excerpt, latency_problem, millis, percent_decode, printable_url,
    secret_url, text_problem, verdict,
};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Meta, Outcome, PhaseName, Reason, Status, Text};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;
use crate::text;

const MAX_BULK: usize = 1024 * 1024;
const MAX_ITEMS: usize = 4096;
const MAX_DEPTH: usize = 4;
const MAX_LINE: usize = 64 * 1024;

/// The replication role a server must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A primary (`ROLE` answers `master`).
    Master,
    /// A replica (`ROLE` answers `slave`).
    Replica,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
        }
    }
}

/// A validated Redis check.
#[derive(Debug, Clone)]
pub struct RedisSpec {
    /// Host name or address.
    pub host: String,
    /// Port (6379 by default).
    pub port: u16,
    /// TLS (`rediss://`).
    pub tls: bool,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password, if any (a secret: redacted from every output).
    pub password: Option<String>,
    /// Database index from the URL path.
    pub db: Option<u32>,
    /// Required role.
    pub role: Option<Role>,
    /// Keys that must exist.
    pub keys_exist: Vec<String>,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Extra CA file.
    pub ca_file: Option<String>,
    /// The client certificate presented when the server asks for one (`rediss://`).
    pub client: Option<common::tls::ClientIdentity>,
}

/// The redis kind (see `src/checks/registry.rs`).
impl Kind for RedisSpec {
    const NAME: &'static str = "redis";

    const FIELDS: &'static [Field] = field_table![
        &[
            req("url", T::String, "`redis://` or `rediss://` URL."),
            opt(
                "role",
                T::Choice(&["master", "primary", "replica", "slave"]),
                "Expected replication role.",
            ),
            opt("keys_exist", T::StringList, "Keys that must exist."),
        ],
        common::trust::TLS_FIELDS,
    ];

    /// The connection (lookup and TCP), TLS when on, `AUTH` when a password is set, and the
    /// commands.
    const PHASES: &'static [PhaseName] = &[
        PhaseName::Connect,
        PhaseName::Tls,
        PhaseName::Auth,
        PhaseName::Query,
    ];
    const VALUES: &'static [&'static str] = &["redis.info.<field>"];
    const LATENCY_REASON: Reason = Reason::RedisLatency;
    const EXPECT_REASON: Reason = Reason::RedisExpect;
    const REASONS: &'static [&'static [Reason]] = &[common::tls::HANDSHAKE_REASONS, reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        let url = match r.take("url") {
            Some((n, p)) => secret_url(ctx, n, &p, &["redis", "rediss"]).and_then(|(u, t)| {
                if u.host_str().is_none_or(str::is_empty) {
                    ctx.problem(n, &p, "the URL has no host");
                    return None;
                }
                let db = match u.path().trim_matches('/') {
                    "" => Some(None),
                    d => match d.parse::<u32>() {
                        Ok(v) => Some(Some(v)),
                        Err(_) => {
                            ctx.problem(
                                n,
                                &p,
                                format!("the URL path must be a database number, found `/{d}`"),
                            );
                            None
                        }
                    },
                }?;
                Some((u, t, db))
            }),
            None => {
                ctx.problem(r.node, &r.path, "missing required key `url`");
                None
            }
        };
        let role = match r.take("role") {
            Some((n, p)) => match ctx.string(n, &p)?.to_ascii_lowercase().as_str() {
                "master" | "primary" => Some(Role::Master),
                "replica" | "slave" => Some(Role::Replica),
                other => {
                    ctx.problem(
                        n,
                        &p,
                        format!("expected `master` or `replica`, found `{other}`"),
                    );
                    None
                }
            },
            None => None,
        };
        let keys_exist = match r.take("keys_exist") {
            Some((n, p)) => ctx.string_list(n, &p).unwrap_or_default(),
            None => Vec::new(),
        };
        let insecure = common::trust::insecure(r, ctx);
        let ca_file = common::trust::ca_file(r, ctx)?;
        let client = common::trust::client_identity(r, ctx);
        let (url, target, db) = url?;
        if client.is_some() && url.scheme() != "rediss" {
            ctx.problem(
                r.node,
                &r.path,
                "`client_cert` and `client_key` apply only to a `rediss://` URL",
            );
        }
        let username = Some(percent_decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(percent_decode);
        Some((
            RedisSpec {
                host: url
                    .host_str()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port: url.port().unwrap_or(6379),
                tls: url.scheme() == "rediss",
                username,
                password,
                db,
                role,
                keys_exist,
                insecure,
                ca_file,
                client,
            },
            if target.is_empty() {
                printable_url(&url)
            } else {
                target
            },
        ))
    }

    fn host_key(&self) -> Option<String> {
        Some(super::common::net::host_key(&self.host, self.port))
    }

    fn tls_trust(&self) -> Option<common::tls::TlsTrust<'_>> {
        self.tls.then_some(common::tls::TlsTrust {
            ca_file: self.ca_file.as_deref(),
            insecure: self.insecure,
        })
    }

    fn tls_after_connect(&self) -> bool {
        true
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, ctx, phase, !check.expect.is_empty()).await
    }
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

/// Why a RESP exchange failed.
#[derive(Debug)]
enum ConnError {
    Io(std::io::Error),
    /// What was wrong, quoting the reply (cut by the redactor).
    Protocol(Text),
}

impl ConnError {
    /// The error as a report shows it.
    fn text(&self) -> Text {
        match self {
            ConnError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                "the server closed the connection".into()
            }
            ConnError::Io(e) => e.to_string().into(),
            ConnError::Protocol(m) => text!("not a Redis server? ", m),
        }
    }
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> Self {
        ConnError::Io(e)
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Conn {
    io: tokio::io::BufStream<Box<dyn Stream>>,
}

impl Conn {
    async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, ConnError> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.io.write_all(&buf).await?;
        self.io.flush().await?;
        read_reply(&mut self.io, 0).await
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<String, ConnError> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(u64::try_from(MAX_LINE).unwrap_or(u64::MAX))
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(ConnError::Protocol(text!(
            "unterminated reply line `",
            excerpt(&line, 80),
            "`"
        )));
    }
    line.truncate(line.len().saturating_sub(2));
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn read_reply<'a, R: AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, ConnError>> + Send + 'a>> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let mut chars = line.chars();
        let kind = chars.next();
        let rest = chars.as_str();
        let bad = |what: &str| ConnError::Protocol(text!("{what} `", escape(&line, 80), "`"));
        match kind {
            Some('+') => Ok(Reply::Simple(rest.to_owned())),
            Some('-') => Ok(Reply::Error(rest.to_owned())),
            Some(':') => rest
                .parse()
                .map(Reply::Int)
                .map_err(|_| bad("invalid integer reply")),
            Some('$') => {
                let len: i64 = rest.parse().map_err(|_| bad("invalid bulk length"))?;
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let len = usize::try_from(len).map_err(|_| bad("invalid bulk length"))?;
                if len > MAX_BULK {
                    return Err(bad("bulk reply too large"));
                }
                let mut data = vec![0u8; len + 2];
                r.read_exact(&mut data).await?;
                data.truncate(len);
                Ok(Reply::Bulk(Some(data)))
            }
            Some('*') => {
                let len: i64 = rest.parse().map_err(|_| bad("invalid array length"))?;
                if len < 0 {
                    return Ok(Reply::Array(None));
                }
                let len = usize::try_from(len).map_err(|_| bad("invalid array length"))?;
                if len > MAX_ITEMS || depth >= MAX_DEPTH {
                    return Err(bad("array reply too large or too deep"));
                }
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(read_reply(r, depth + 1).await?);
                }
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(bad("unexpected reply")),
        }
    })
}

/// Connect, and for `tls: true` wait for the TLS preparation outside the check's clock
/// ([`RunContext::tls_ready`]) and handshake.
async fn connect(spec: &RedisSpec, ctx: &RunContext, phase: &Phase) -> Result<Conn, Outcome> {
    phase.set("connecting");
    let t0 = Instant::now();
    let tcp = tokio::net::TcpStream::connect((spec.host.as_str(), spec.port))
        .await
        .map_err(|e| {
            let what = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => e.to_string(),
            };
            Outcome::fail(
                Reason::RedisConnect,
                format!("cannot connect to {}:{}: {what}", spec.host, spec.port),
            )
        })?;
    phase.lap(PhaseName::Connect, t0);
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if spec.tls {
        let shaking = ctx.tls_ready(phase).await;
        phase.set("TLS handshake");
        let config = common::tls::client_config(
            spec.ca_file.as_deref(),
            spec.insecure,
            rustls::DEFAULT_VERSIONS,
            spec.client.as_ref(),
        )
        .map_err(|e| Outcome::fail(Reason::RedisConnect, e))?;
        let name = rustls::pki_types::ServerName::try_from(spec.host.clone()).map_err(|e| {
            Outcome::fail(
                Reason::RedisConnect,
                format!("invalid TLS server name: {e}"),
            )
        })?;
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tls = connector.connect(name, tcp).await.map_err(|e| {
            let reason = common::tls::handshake_reason(&e);
            Outcome::fail(reason, format!("TLS handshake failed: {e}"))
        })?;
        phase.lap(PhaseName::Tls, shaking);
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    Ok(Conn {
        io: tokio::io::BufStream::new(stream),
    })
}

fn io_fail(e: &ConnError, during: &str) -> Outcome {
    Outcome::fail(Reason::RedisConnect, text!("{during}: ", e.text()))
}

fn is_auth_error(msg: &str) -> bool {
    let upper = msg.to_ascii_uppercase();
    upper.starts_with("NOAUTH")
        || upper.starts_with("WRONGPASS")
        || upper.contains("INVALID PASSWORD")
        || upper.contains("INVALID USERNAME-PASSWORD")
        || (upper.contains("AUTH") && upper.contains("WITHOUT ANY PASSWORD CONFIGURED"))
}

fn reply_error(msg: &str, during: &str) -> Outcome {
    let reason = if is_auth_error(msg) {
        Reason::RedisAuth
    } else {
        Reason::RedisError
    };
    Outcome::fail(reason, text!("{during}: ", escape(msg, 300)))
}

/// Run one attempt. `conditions`: the check has `expect:` conditions, so every field of the
/// default `INFO` sections is kept as a fact `redis.info.<field>`.
pub async fn run(
    spec: &RedisSpec,
    thresholds: Thresholds,
    ctx: &RunContext,
    phase: &Phase,
    conditions: bool,
) -> Outcome {
    let start = Instant::now();
    let mut conn = match connect(spec, ctx, phase).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    if let Some(pw) = &spec.password {
        phase.set("authenticating");
        let t = Instant::now();
        let reply = match &spec.username {
            Some(u) => conn.command(&[b"AUTH", u.as_bytes(), pw.as_bytes()]).await,
            None => conn.command(&[b"AUTH", pw.as_bytes()]).await,
        };
        match reply {
            Ok(Reply::Error(m)) => return reply_error(&m, "AUTH failed"),
            Ok(_) => {}
            Err(e) => return io_fail(&e, "AUTH failed"),
        }
        phase.lap(PhaseName::Auth, t);
    }
    let queried = Instant::now();
    if let Some(db) = spec.db {
        phase.set("selecting the database");
        match conn.command(&[b"SELECT", db.to_string().as_bytes()]).await {
            Ok(Reply::Error(m)) => return reply_error(&m, &format!("SELECT {db} failed")),
            Ok(_) => {}
            Err(e) => return io_fail(&e, "SELECT failed"),
        }
    }
    phase.set("waiting for PING");
    match conn.command(&[b"PING"]).await {
        Ok(Reply::Simple(s)) if s == "PONG" => {}
        Ok(Reply::Error(m)) => return reply_error(&m, "PING failed"),
        Ok(other) => {
            return Outcome::fail(
                Reason::RedisError,
                format!("PING answered {other:?}, expected PONG"),
            );
        }
        Err(e) => return io_fail(&e, "PING failed"),
    }

    let mut meta = Meta::new();
    let mut facts = crate::model::Facts::new();
    phase.set("reading INFO server");
    let section: &[u8] = if conditions { b"default" } else { b"server" };
    if let Ok(Reply::Bulk(Some(info))) = conn.command(&[b"INFO", section]).await {
        let text = String::from_utf8_lossy(&info);
        if conditions {
            info_facts(&text, &mut facts);
        }
        if let Some(v) = text.lines().find_map(|l| l.strip_prefix("redis_version:")) {
            meta.insert_text("server_version".to_owned(), escape(v.trim(), 40));
        }
    }
    let mut problems: Vec<TextProblem> = Vec::new();
    phase.set("waiting for ROLE");
    match conn.command(&[b"ROLE"]).await {
        Ok(Reply::Array(Some(items))) => {
            let role = items.first().and_then(Reply::text).unwrap_or_default();
            let actual = match role.as_str() {
                "master" => Some(Role::Master),
                "slave" | "replica" => Some(Role::Replica),
                _ => None,
            };
            let shown_role = actual.map_or_else(|| escape(&role, 40), |r| r.as_str().into());
            meta.insert_text("role".to_owned(), shown_role.clone());
            match actual {
                Some(Role::Master) => {
                    if let Some(Reply::Array(Some(replicas))) = items.get(2) {
                        meta.insert(
                            "connected_replicas".to_owned(),
                            serde_json::json!(replicas.len()),
                        );
                    }
                }
                Some(Role::Replica) => {
                    if let Some(state) = items.get(3).and_then(Reply::text) {
                        meta.insert_text("master_link_state".to_owned(), escape(&state, 40));
                    }
                }
                None => {}
            }
            if let Some(want) = spec.role
                && actual != Some(want)
            {
                problems.push((
                    Status::Fail,
                    Reason::RedisRole,
                    text!(
                        "role is ",
                        shown_role,
                        format!(", expected {}", want.as_str())
                    ),
                ));
            }
        }
        Ok(Reply::Error(m)) if spec.role.is_some() => {
            return reply_error(&m, "ROLE failed");
        }
        Ok(_) | Err(ConnError::Protocol(_)) if spec.role.is_none() => {}
        Ok(other) => {
            return Outcome::fail(
                Reason::RedisError,
                format!("ROLE answered {other:?}, expected an array"),
            );
        }
        Err(e) => return io_fail(&e, "ROLE failed"),
    }
    for key in &spec.keys_exist {
        phase.set("checking keys");
        match conn.command(&[b"EXISTS", key.as_bytes()]).await {
            Ok(Reply::Int(1..)) => {}
            Ok(Reply::Int(_)) => problems.push((
                Status::Fail,
                Reason::RedisKey,
                text!("key `", escape(key, 200), "` does not exist"),
            )),
            Ok(Reply::Error(m)) => return reply_error(&m, "EXISTS failed"),
            Ok(other) => {
                return Outcome::fail(
                    Reason::RedisError,
                    format!("EXISTS answered {other:?}, expected an integer"),
                );
            }
            Err(e) => return io_fail(&e, "EXISTS failed"),
        }
    }
    phase.lap(PhaseName::Query, queried);
    let elapsed = phase.clocked(start);
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    if let Some(p) = latency_problem(elapsed, thresholds, Reason::RedisLatency) {
        problems.push(text_problem(p));
    }
    let _ = conn.command(&[b"QUIT"]).await;
    facts.duration("latency", elapsed);
    verdict(problems, format!("PONG in {} ms", elapsed.as_millis()))
        .with_metadata(meta)
        .with_facts(facts)
}

/// Each `field:value` line of an INFO reply as the fact `redis.info.<field>`: a number when
/// the value is one (a `*_version` field stays text, compared as a version).
fn info_facts(text: &str, facts: &mut crate::model::Facts) {
    for line in text.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        if field.starts_with('#') || field.is_empty() {
            continue;
        }
        let value = value.trim();
        let name = format!("redis.info.{field}");
        match value.parse::<f64>() {
            Ok(n) if n.is_finite() && !field.ends_with("_version") => {
                let number = value
                    .parse::<i64>()
                    .map_or_else(|_| serde_json::json!(n), |i| serde_json::json!(i));
                facts.value(name, number);
            }
            _ => facts.value(name, value.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply, ConnError> {
        let mut r = tokio::io::BufReader::new(bytes);
        read_reply(&mut r, 0).await
    }

    #[tokio::test]
    async fn resp_replies() {
        assert_eq!(
            parse(b"+PONG\r\n").await.unwrap(),
            Reply::Simple("PONG".into())
        );
        assert_eq!(parse(b":3\r\n").await.unwrap(), Reply::Int(3));
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Bulk(None));
        assert_eq!(
            parse(b"*2\r\n$6\r\nmaster\r\n:0\r\n").await.unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"master".to_vec())),
                Reply::Int(0)
            ]))
        );
        assert!(parse(b"$99999999999\r\n").await.is_err());
        assert!(parse(b"HTTP/1.1 400\r\n").await.is_err());
        assert!(
            parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
                .await
                .is_err()
        );
    }

    #[test]
    fn auth_errors() {
        assert!(is_auth_error("WRONGPASS invalid username-password pair"));
        assert!(is_auth_error("NOAUTH Authentication required."));
        assert!(!is_auth_error("LOADING Redis is loading the dataset"));
    }
}
