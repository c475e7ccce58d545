//! The own HTTP/1.1 path of `http_checks`: a plain `http://` request on a direct route (no
//! proxy, no credentials in the URL) goes through hyper's HTTP/1.1 client connection
//! (`hyper::client::conn::http1`) on a socket of this module, with a small pool of idle
//! keep-alive connections ([`Pool`]), instead of reqwest. reqwest stays for `https://`,
//! proxies and HTTP/2.
//!
//! Why: on a fresh connection (a server that closes every connection) reqwest's connector
//! makes 15 syscalls (`O_NONBLOCK` set by `fcntl` after `socket`, `TCP_USER_TIMEOUT`,
//! `SO_ERROR`, the peer and local addresses, `shutdown` before `close`), and the request
//! goes through reqwest's URL handling and boxed service stack. This module makes the socket
//! non-blocking at `socket`, connects, reads the connect's outcome from the readiness the
//! kernel reports (`SO_ERROR` only after a failure, [`connect_one`]), sets `TCP_NODELAY` and
//! knows the peer address because it connected to it; closing is one `close` (the FIN goes
//! out then, as it would after a `shutdown`): 8 syscalls per connection, and one `setsockopt`
//! for the kernel's receive timestamps that end the check's clock ([`super::stamps`]). With
//! one address to connect to, the request's first write is tried as soon as `connect`
//! returns instead of after the runtime reports the socket writable ([`Handshake`]). A new
//! connection's I/O is driven by the task of the check that opened it until its response is
//! read, so a response wakes one task, not a connection task and then the check's. The HTTP
//! itself (request encoding, response parsing, keep-alive) stays hyper's, the code reqwest
//! runs on; what this module adds is what hyper-util's pooled client did around it: the
//! `Host` header and the origin-form target, the pool, and one retry on a fresh connection
//! when a pooled one was closed before the request went out.
//!
//! What a check sees is the same as through reqwest: the request's headers (reqwest's
//! defaults `accept: */*` and the user agent where the check sets none), the phases ([`connect`]
//! marks them as [`super::phases::ConnectTiming`] and the resolver do for reqwest),
//! `remote_addr`, the response's URL, and errors whose chain reads as reqwest's (see
//! [`Error`]), so `classify` gives the same reasons and messages.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use reqwest::header::{ACCEPT, HOST, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use tokio::net::TcpStream;

use super::phases::{connection_ready, connection_started, looked_up};
use super::stamps::Stamps;
use crate::checks::common::capped::Capped;

/// The user agent of every request (the reqwest clients send the same).
pub(super) const AGENT: &str = concat!("infracheck/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept (as the reqwest clients).
const POOL_IDLE: Duration = Duration::from_secs(30);

/// The own client: one pool for every plain `http://` check on a direct route.
#[derive(Clone, Default)]
pub(super) struct Direct {
    pool: Arc<Pool>,
    /// Holds the kernel's receive timestamping on for as long as the client lives
    /// ([`super::stamps::Keeper`]).
    _stamping: Option<Arc<super::stamps::Keeper>>,
}

impl fmt::Debug for Direct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Direct")
    }
}

/// The sending half of one HTTP/1.1 connection.
type Sender = http1::SendRequest<Full<Bytes>>;

/// The other half of one HTTP/1.1 connection: the future that does its I/O. A new connection's
/// is driven by the task of the check that opened it ([`beside`]) until its response's body is
/// read; a connection kept for the next request then gets a task of its own.
type Connection = http1::Connection<Conn, Full<Bytes>>;

/// Await `work` while driving `conn` in the same task, until `conn` ends (it is then dropped:
/// its errors reach the request through the sender, as they would from a task of its own).
/// One task per request instead of two: a response wakes the check's task directly, not a
/// connection task that then wakes it.
async fn beside<F: Future>(work: F, conn: &mut Option<Connection>) -> F::Output {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        drive(conn, cx);
        work.as_mut().poll(cx)
    })
    .await
}

/// Poll `conn` once (if it has not ended), dropping it once it ends.
fn drive(conn: &mut Option<Connection>, cx: &mut Context<'_>) {
    if let Some(c) = conn.as_mut()
        && Pin::new(c).poll(cx).is_ready()
    {
        *conn = None;
    }
}

/// An idle keep-alive connection.
struct Idle {
    conn: Opened,
    since: Instant,
}

/// Idle keep-alive connections by `host:port` (as the URL writes them), most recent last.
/// A connection is put back once its response's body was read to the end and the server did
/// not close it; one idle longer than [`POOL_IDLE`] is dropped when next looked at.
#[derive(Default)]
struct Pool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
    /// What a connection given back meets ([`Pool::close_idle`]). Read and written with
    /// `idle` locked.
    state: std::sync::atomic::AtomicU8,
    /// Set once the task that sweeps the pool ([`sweep_while_alive`]) was started: at the
    /// first connection put back, inside the runtime.
    sweeping: std::sync::OnceLock<()>,
}

impl Pool {
    /// The most recently used idle connection to `key` that is still open.
    fn take(&self, key: &str) -> Option<Idle> {
        let mut map = self.idle.lock().ok()?;
        let list = map.get_mut(key)?;
        let mut found = None;
        while let Some(idle) = list.pop() {
            if !idle.conn.sender.is_closed() && idle.since.elapsed() < POOL_IDLE {
                found = Some(idle);
                break;
            }
        }
        // Connections idle past the limit, or closed by the server, are dropped (closed).
        list.retain(|i| !i.conn.sender.is_closed() && i.since.elapsed() < POOL_IDLE);
        if list.is_empty() {
            map.remove(key);
        }
        found
    }

    /// Keep `idle` for the next request to `key`. `late`: given back from a task of its own,
    /// after its check's result (see [`Lease::give_back`]); in the last round it is closed.
    fn put(self: &Arc<Self>, key: String, idle: Idle, late: bool) {
        let Ok(mut map) = self.idle.lock() else {
            return;
        };
        let state = self.state.load(std::sync::atomic::Ordering::Relaxed);
        if state == CLOSED || (late && state == LAST_ROUND) {
            // Closed (its socket with the connection's task, which sees its sender gone).
            drop(map);
            drop(idle);
            return;
        }
        map.entry(key).or_default().push(idle);
        drop(map);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.sweeping.get_or_init(|| {
                runtime.spawn(sweep_while_alive(Arc::downgrade(self)));
            });
        }
    }

    /// Close every idle connection, and from now on each one given back late (from a task
    /// that waited for it to be ready, after its check's result: no later call would close
    /// it), or with `for_good` every one given back. Closed once the lock is let go.
    fn close_idle(&self, for_good: bool) {
        let idle = match self.idle.lock() {
            Ok(mut map) => {
                let state = if for_good { CLOSED } else { LAST_ROUND };
                self.state
                    .fetch_max(state, std::sync::atomic::Ordering::Relaxed);
                std::mem::take(&mut *map)
            }
            Err(_) => return,
        };
        drop(idle);
    }

    /// Close every idle connection past [`POOL_IDLE`] or closed by its server.
    fn sweep(&self) {
        if let Ok(mut map) = self.idle.lock() {
            map.retain(|_, list| {
                list.retain(|i| !i.conn.sender.is_closed() && i.since.elapsed() < POOL_IDLE);
                !list.is_empty()
            });
        }
    }
}

/// Sweep `pool` every [`POOL_IDLE`] while it exists (in `serve`, a plan's checks may not ask
/// for a host again for a long time; its idle connections close after [`POOL_IDLE`], as the
/// reqwest clients' pools close theirs). Ends once the pool is dropped.
async fn sweep_while_alive(pool: std::sync::Weak<Pool>) {
    loop {
        tokio::time::sleep(POOL_IDLE).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.sweep();
    }
}

/// A pool's states past the first (0, the default: every connection given back is kept;
/// [`Pool::close_idle`]): in the last round, those given back late are closed; closed for
/// good, all are.
const LAST_ROUND: u8 = 1;
const CLOSED: u8 = 2;

/// A connection to give back to the pool once its response's body is read.
struct Lease {
    pool: Arc<Pool>,
    key: String,
    conn: Opened,
}

impl Lease {
    /// Back to the pool when the connection is ready for the next request (at once for a
    /// connection that waits for nothing; else in a task, after hyper's connection task has
    /// seen the end of the response). `conn`: the connection's I/O, when the check's task was
    /// driving it; it gets a task of its own here.
    fn give_back(mut self, conn: Option<Connection>) {
        if self.conn.sender.is_closed() {
            return;
        }
        if let Some(conn) = conn {
            tokio::spawn(async move {
                // Its errors reach the next request through the sender.
                let _ = conn.await;
            });
        }
        if self.conn.sender.is_ready() {
            let idle = Idle {
                conn: self.conn,
                since: Instant::now(),
            };
            self.pool.put(self.key, idle, false);
            return;
        }
        tokio::spawn(async move {
            if self.conn.sender.ready().await.is_ok() {
                let idle = Idle {
                    conn: self.conn,
                    since: Instant::now(),
                };
                self.pool.put(self.key, idle, true);
            }
        });
    }
}

impl Direct {
    /// The client; no connection is opened before the first request. `stamping`: some check
    /// may take this path, so the kernel's receive timestamping is switched on now, before
    /// any check's clock starts ([`super::stamps::Keeper`]).
    pub(super) fn new(stamping: bool) -> Self {
        Direct {
            pool: Arc::default(),
            _stamping: stamping.then(|| Arc::new(super::stamps::Keeper::new())),
        }
    }
    /// Close the idle connections: no other check will send a request through them (see
    /// [`crate::checks::RunContext::close_idle`]).
    pub(super) fn close_idle(&self) {
        self.pool.close_idle(false);
    }

    /// No request will be sent on this client any more: its idle connections are closed now,
    /// and each one given back later at once.
    pub(super) fn close_for_good(&self) {
        self.pool.close_idle(true);
    }

    /// How many idle connections the pool holds.
    #[cfg(test)]
    pub(super) fn idle_connections(&self) -> usize {
        self.pool
            .idle
            .lock()
            .map_or(0, |m| m.values().map(Vec::len).sum())
    }

    /// Whether this path takes `method` to `url`: plain `http`, no user or password (reqwest
    /// turns those into an `Authorization` header), no fragment, not `CONNECT` (whose target
    /// is `host:port`, not a path). The caller has checked that no proxy applies.
    pub(super) fn takes(method: &Method, url: &url::Url) -> bool {
        method != Method::CONNECT
            && url.scheme() == "http"
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
    }

    /// Send one request (no redirect followed) and return the response head with its body
    /// still to read.
    pub(super) async fn send(
        &self,
        method: &Method,
        url: &url::Url,
        headers: &HeaderMap,
        body: Option<&str>,
    ) -> Result<Response, Error> {
        let uri: hyper::Uri = url
            .as_str()
            .parse()
            .map_err(|e| Error::request(Box::new(e)))?;
        let host = uri
            .host()
            .ok_or_else(|| Error::request("invalid URL, missing host".into()))?;
        let port = uri.port_u16().unwrap_or(80);
        let key = match uri.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut request = hyper::Request::new(Full::new(match body {
            Some(b) => Bytes::copy_from_slice(b.as_bytes()),
            None => Bytes::new(),
        }));
        *request.method_mut() = method.clone();
        // The origin form (`/path?query`), as hyper-util's client sends it without a proxy.
        *request.uri_mut() = match uri.path_and_query() {
            Some(p) if p.as_str() != "/" => hyper::Uri::from(p.clone()),
            _ => hyper::Uri::default(),
        };
        let h = request.headers_mut();
        h.reserve(headers.len() + 3);
        for (name, value) in headers {
            h.append(name, value.clone());
        }
        // reqwest's default headers and hyper-util's `Host` (the port only when not 80), each
        // only where the check sets none.
        h.entry(ACCEPT)
            .or_insert_with(|| HeaderValue::from_static("*/*"));
        h.entry(USER_AGENT)
            .or_insert_with(|| HeaderValue::from_static(AGENT));
        if let hyper::header::Entry::Vacant(e) = h.entry(HOST) {
            // `key` is `host:port` exactly when the port is not 80 (the URL leaves 80 out).
            let value = match uri.port_u16() {
                Some(p) if p != 80 => HeaderValue::from_str(&key),
                _ => HeaderValue::from_str(host),
            };
            e.insert(value.map_err(|e| Error::request(Box::new(e)))?);
        }

        // A pooled connection first; if the server closed it before the request went out,
        // the request goes once more on a fresh one (as hyper-util's client retries).
        let mut request = request;
        if let Some(Idle { mut conn, .. }) = self.pool.take(&key) {
            match conn.sender.try_send_request(request).await {
                Ok(response) => return Ok(self.response(response, url, key, conn, None)),
                Err(mut e) => match e.take_message() {
                    Some(back) => request = back,
                    None => return Err(Error::send(Box::new(e.into_error()))),
                },
            }
        }
        let (mut conn, connection) = self.open(host, port).await?;
        let mut connection = Some(connection);
        let response = beside(conn.sender.send_request(request), &mut connection)
            .await
            .map_err(|e| match conn.shared.failed_connect() {
                // The connect failed at the first write: its error, as if it had been awaited.
                Some(cause) => Error::connect(Box::new(tcp_connect_error(cause))),
                None => Error::send(Box::new(e)),
            })?;
        Ok(self.response(response, url, key, conn, connection))
    }

    /// A new connection to `host:port`; its I/O (the [`Connection`]) is the caller's to drive.
    async fn open(&self, host: &str, port: u16) -> Result<(Opened, Connection), Error> {
        let conn = connect(host, port)
            .await
            .map_err(|e| Error::connect(Box::new(e)))?;
        let remote = conn.remote;
        let shared = Arc::clone(&conn.shared);
        let (sender, connection) = http1::handshake(conn)
            .await
            .map_err(|e| Error::connect(Box::new(e)))?;
        let opened = Opened {
            sender,
            remote,
            shared,
        };
        Ok((opened, connection))
    }

    fn response(
        &self,
        response: hyper::Response<Incoming>,
        url: &url::Url,
        key: String,
        conn: Opened,
        connection: Option<Connection>,
    ) -> Response {
        let (head, body) = response.into_parts();
        let first_byte = conn.shared.stamps.first();
        let remote = conn.remote;
        let lease = Lease {
            pool: Arc::clone(&self.pool),
            key,
            conn,
        };
        Response {
            status: head.status,
            headers: head.headers,
            url: url.clone(),
            remote_addr: Some(remote),
            first_byte,
            body,
            connection,
            lease: Some(lease),
        }
    }
}

/// The request side of a connection: its sender, its peer, its stamps.
struct Opened {
    sender: Sender,
    remote: SocketAddr,
    shared: Arc<Shared>,
}

/// A response of the own path, its body not yet read.
pub(super) struct Response {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) url: url::Url,
    pub(super) remote_addr: Option<SocketAddr>,
    /// When the response's first byte reached the socket (the kernel's stamp where there is
    /// one, see `stamps.rs`), if it was read on this path's clock.
    pub(super) first_byte: Option<Instant>,
    body: Incoming,
    /// The connection's I/O while this request's task drives it (a new connection; `None`
    /// for a pooled one, driven by a task of its own, or once it ended).
    connection: Option<Connection>,
    /// The connection, given back to the pool when the body was read to its end.
    lease: Option<Lease>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.as_str())
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// Read the body, stopping at the first frame past `cap`; with it, when the last byte
    /// read for it reached the socket (as [`Response::first_byte`]).
    pub(super) async fn body(mut self, cap: usize) -> Result<(Capped, Option<Instant>), Error> {
        let mut kept = Capped::new(cap);
        let last = |lease: &Option<Lease>| lease.as_ref().and_then(|l| l.conn.shared.stamps.last());
        while let Some(frame) = beside(self.body.frame(), &mut self.connection).await {
            let frame = frame.map_err(|e| Error::body(Box::new(e)))?;
            if let Ok(data) = frame.into_data() {
                kept.push(&data);
                if kept.truncated() {
                    // The rest is not read: the connection is closed, not pooled.
                    return Ok((kept, last(&self.lease)));
                }
            }
        }
        // Before the connection is polled once more (it may read the server's close).
        let last = last(&self.lease);
        // Once more: the connection sees the end of the response (it ends, or it is ready for
        // the next request).
        std::future::poll_fn(|cx| {
            drive(&mut self.connection, cx);
            Poll::Ready(())
        })
        .await;
        if let Some(lease) = self.lease.take() {
            lease.give_back(self.connection.take());
        }
        Ok((kept, last))
    }
}

/// An error of the own path. Its text and causes read as reqwest's for the same failure
/// (`error sending request for url: client error (Connect): tcp connect error: ...`, `error
/// decoding response body: ...`), so the
/// one classification in `client.rs` serves both paths.
#[derive(Debug)]
pub(super) struct Error {
    body: bool,
    source: Box<dyn StdError + Send + Sync>,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl Error {
    /// The request could not be built (reqwest refuses the same URL before sending).
    fn request(source: BoxError) -> Self {
        Error {
            body: false,
            source,
        }
    }

    /// No connection (lookup, connect).
    fn connect(source: BoxError) -> Self {
        Error::request(Box::new(Stage {
            stage: "Connect",
            source,
        }))
    }

    /// The request went out on a connection and no response head came back.
    fn send(source: BoxError) -> Self {
        Error::request(Box::new(Stage {
            stage: "SendRequest",
            source,
        }))
    }

    fn body(source: BoxError) -> Self {
        Error { body: true, source }
    }

    /// A failure while reading the body (after the response head came).
    pub(super) fn is_body(&self) -> bool {
        self.body
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As reqwest's, with the URL already left out (as `classify` leaves it out).
        f.write_str(if self.body {
            "error decoding response body"
        } else {
            "error sending request for url"
        })
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// Where a request failed, worded as hyper-util's client words it (`client error (Connect)`).
#[derive(Debug)]
struct Stage {
    stage: &'static str,
    source: BoxError,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client error ({})", self.stage)
    }
}

impl StdError for Stage {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// A connection failure, worded as hyper-util's connector words it.
#[derive(Debug)]
pub(super) struct ConnectError {
    what: &'static str,
    cause: std::io::Error,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
}

impl StdError for ConnectError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.cause)
    }
}

/// Open a connection: resolve (timed; an IP literal is not looked up), connect to each
/// address in turn until one answers, `TCP_NODELAY`. Marks the connection's phases.
async fn connect(host: &str, port: u16) -> Result<Conn, ConnectError> {
    connection_started();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => return connect_single(SocketAddr::new(ip, port)).await,
        Err(_) => {
            let start = Instant::now();
            let found = tokio::net::lookup_host((bare, port)).await;
            looked_up(start, Instant::now());
            found
                .map_err(|cause| ConnectError {
                    what: "dns error",
                    cause,
                })?
                .collect()
        }
    };
    if let [addr] = addrs.as_slice() {
        return connect_single(*addr).await;
    }
    let (stream, addr) = connect_any(addrs).await.map_err(tcp_connect_error)?;
    connected((stream, Handshake::Seen), addr)
}

/// A connect with one address to try (an IP literal, a name with one address): nothing to
/// order or race and no other address to fall back on, so its outcome is left to the
/// request's first write (see [`Handshake`]).
async fn connect_single(addr: SocketAddr) -> Result<Conn, ConnectError> {
    let opened = connect_one(addr, false).await.map_err(tcp_connect_error)?;
    connected(opened, addr)
}

/// A failed TCP connect, as the error reqwest's connector gives.
fn tcp_connect_error(cause: std::io::Error) -> ConnectError {
    ConnectError {
        what: "tcp connect error",
        cause,
    }
}

/// A connection just made (or under way, [`Handshake`]): `TCP_NODELAY`, its phase marked once
/// it is known to be made.
fn connected(
    (stream, handshake): (TcpStream, Handshake),
    addr: SocketAddr,
) -> Result<Conn, ConnectError> {
    stream.set_nodelay(true).map_err(|cause| ConnectError {
        what: "tcp set_nodelay error",
        cause,
    })?;
    if handshake == Handshake::Seen {
        connection_ready();
    }
    Ok(Conn {
        io: TokioIo::new(stream),
        remote: addr,
        shared: Arc::default(),
        handshake,
    })
}

/// Whether a connection's TCP handshake was seen to complete. `connect` on a non-blocking
/// socket returns before the handshake is over; on loopback it is usually over by then (the
/// SYN and SYN-ACK are handled on the connecting CPU before the call returns), but the
/// readiness that says so comes only with the runtime's next turn, a turn that lands inside
/// the check's clock. Where a connect has one address to try (an IP literal, a name with one
/// address), the request's first write is tried at once instead ([`Conn::poll_first_write`]):
/// it succeeds on a connected socket, says "would block" while the handshake is under way
/// (then the write waits for the socket to be writable, as the connect did), and fails with
/// the connect's own error (refused, timed out) when it failed; that error is the one a
/// wait for the connect would have given. A connection made and then reset before that write
/// fails as a made one ([`Conn::first_io_failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum Handshake {
    /// Complete: the connect was awaited.
    Seen,
    /// Not yet known: the first write is tried at once.
    Unseen,
    /// Under way when the first write was tried: the next waits until writable.
    Waiting,
}

/// How long the addresses of the first family are tried alone before those of the other
/// family are tried beside them (RFC 8305, section 5, recommends 250 ms; hyper-util's
/// connector, which the reqwest path uses, waits 300 ms).
const FALLBACK_DELAY: Duration = Duration::from_millis(300);

/// Connect to one of `addrs`, as the reqwest path's connector does ("happy eyeballs", RFC
/// 8305): the addresses of the first one's family in turn; if that has not connected within
/// [`FALLBACK_DELAY`] (or failed sooner), the other family's in turn beside it, and the first
/// connection made wins. A host whose IPv6 address drops packets is thus reached over IPv4
/// instead of timing out.
async fn connect_any(addrs: Vec<SocketAddr>) -> std::io::Result<(TcpStream, SocketAddr)> {
    let v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (preferred, fallback): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == v6);
    if fallback.is_empty() {
        return in_turn(&preferred).await;
    }
    let first = in_turn(&preferred);
    tokio::pin!(first);
    tokio::select! {
        result = &mut first => return match result {
            Ok(connected) => Ok(connected),
            Err(_) => in_turn(&fallback).await,
        },
        () = tokio::time::sleep(FALLBACK_DELAY) => {}
    }
    let second = in_turn(&fallback);
    tokio::pin!(second);
    tokio::select! {
        result = &mut first => match result {
            Ok(connected) => Ok(connected),
            Err(_) => second.await,
        },
        result = &mut second => match result {
            Ok(connected) => Ok(connected),
            Err(_) => first.await,
        },
    }
}

/// Connect to the first of `addrs` that accepts, one after the other.
async fn in_turn(addrs: &[SocketAddr]) -> std::io::Result<(TcpStream, SocketAddr)> {
    let mut last = None;
    for &addr in addrs {
        match connect_one(addr, true).await {
            Ok((stream, _)) => return Ok((stream, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "dns error: no addresses returned",
        )
    }))
}

/// Connect to `addr` as tokio's `TcpStream::connect` does (a non-blocking socket made so by
/// `socket` itself, `connect`, then wait until it is writable), with one syscall less: the
/// socket's pending error (`SO_ERROR`) is read only when the readiness says the connect
/// failed (the kernel reports a failed connect as an error or a hang-up beside writable), so
/// its error is the same as tokio's. The socket asks for the kernel's receive timestamps
/// (`stamps.rs`). `wait`: await the connect's outcome; else a connect under way is returned
/// as it is, its outcome left to the first write ([`Handshake::Unseen`]).
#[cfg(target_os = "linux")]
async fn connect_one(addr: SocketAddr, wait: bool) -> std::io::Result<(TcpStream, Handshake)> {
    use socket2::{Domain, Socket, Type};
    use tokio::io::Interest;
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        None,
    )?;
    super::stamps::linux::enable(&socket);
    match socket.connect(&addr.into()) {
        Ok(()) => {
            let stream = TcpStream::from_std(std::net::TcpStream::from(socket))?;
            return Ok((stream, Handshake::Seen));
        }
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => {}
        Err(e) => return Err(e),
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(socket))?;
    if !wait {
        return Ok((stream, Handshake::Unseen));
    }
    let ready = stream.ready(Interest::WRITABLE | Interest::ERROR).await?;
    if (ready.is_error() || ready.is_write_closed())
        && let Some(e) = stream.take_error()?
    {
        return Err(e);
    }
    Ok((stream, Handshake::Seen))
}

/// Elsewhere, tokio's connect, awaited.
#[cfg(not(target_os = "linux"))]
async fn connect_one(addr: SocketAddr, _wait: bool) -> std::io::Result<(TcpStream, Handshake)> {
    Ok((TcpStream::connect(addr).await?, Handshake::Seen))
}

/// A connection of the own path.
#[derive(Debug)]
pub(super) struct Conn {
    io: TokioIo<TcpStream>,
    remote: SocketAddr,
    /// What its I/O tells the request using it (shared with the request).
    shared: Arc<Shared>,
    /// Read only on Linux (elsewhere every connect is awaited: always [`Handshake::Seen`]).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    handshake: Handshake,
}

/// What a connection's I/O tells the request using it: when the request went out and the
/// response came in, and the error of a connect that failed at the first write.
#[derive(Debug, Default)]
struct Shared {
    stamps: Stamps,
    failed_connect: Mutex<Option<std::io::Error>>,
}

impl Shared {
    /// The error of the connect, when it failed at the request's first write or a read before
    /// it ([`Handshake::Unseen`]).
    fn failed_connect(&self) -> Option<std::io::Error> {
        self.failed_connect.lock().ok().and_then(|mut e| e.take())
    }

    /// Keep `e` as the connect's error; an error of the same kind for hyper.
    #[cfg(target_os = "linux")]
    fn failed(&self, e: std::io::Error) -> std::io::Error {
        let same = e
            .raw_os_error()
            .map_or_else(|| e.kind().into(), std::io::Error::from_raw_os_error);
        if let Ok(mut kept) = self.failed_connect.lock() {
            *kept = Some(e);
        }
        same
    }
}

impl Conn {
    /// A write of `n` bytes finished (none: nothing went out).
    fn wrote(&self, written: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &written
            && *n > 0
        {
            self.shared.stamps.wrote();
        }
        written
    }

    /// The request's first write on a connection whose handshake was not seen to complete
    /// ([`Handshake`]): at once, without waiting for the runtime to report the socket
    /// writable; if the handshake is still under way, once it is writable. A failure is the
    /// connect's: kept for the request ([`Shared::failed_connect`]), and handed to hyper as
    /// an error of the same kind. Its phase (`connect`) ends when the write starts.
    #[cfg(target_os = "linux")]
    fn poll_first_write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let stream = self.io.inner();
        let send = || socket2::SockRef::from(stream).send_vectored(bufs);
        loop {
            let at = Instant::now();
            let sent = if self.handshake == Handshake::Unseen {
                send()
            } else {
                match stream.poll_write_ready(cx) {
                    Poll::Ready(Ok(())) => stream.try_io(tokio::io::Interest::WRITABLE, send),
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => return Poll::Pending,
                }
            };
            match sent {
                Ok(n) => {
                    self.handshake = Handshake::Seen;
                    super::phases::connection_ready_at(at);
                    self.shared.stamps.wrote();
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.handshake = Handshake::Waiting;
                }
                Err(e) => return Poll::Ready(Err(self.first_io_failed(e, at))),
            }
        }
    }

    /// The request's first write, or a read before it, failed with `e` (tried at `at`) on a
    /// connection whose handshake was not seen to complete ([`Handshake`]). A reset or a broken
    /// pipe comes only to a connection that was made (a handshake answered with a reset fails
    /// as refused): the error is the connection's, as after an awaited connect, and its
    /// `connect` phase ends at `at`. Any other error is the connect's ([`Shared::failed`]).
    #[cfg(target_os = "linux")]
    fn first_io_failed(&mut self, e: std::io::Error, at: Instant) -> std::io::Error {
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        self.handshake = Handshake::Seen;
        if matches!(e.kind(), ConnectionReset | BrokenPipe) {
            super::phases::connection_ready_at(at);
            return e;
        }
        self.shared.failed(e)
    }
}

impl hyper::rt::Read for Conn {
    /// One `recvmsg` that brings the kernel's receive timestamp along (see `stamps.rs`).
    #[cfg(target_os = "linux")]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let room = buf.remaining();
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        let this = self.get_mut();
        let stream = this.io.inner();
        loop {
            std::task::ready!(stream.poll_read_ready(cx))?;
            let read = stream.try_io(tokio::io::Interest::READABLE, || {
                super::stamps::linux::recv(stream, room, |data| buf.put_slice(data))
            });
            match read {
                Ok((n, stamp)) => {
                    if n > 0 {
                        this.shared.stamps.read(stamp);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // Before the first write went out, a failure is the connect's, a reset
                // excepted (the read may see a refused connect first; the kernel reports its
                // error once).
                Err(e) if this.handshake != Handshake::Seen => {
                    return Poll::Ready(Err(this.first_io_failed(e, Instant::now())));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Elsewhere, tokio's read: no stamps, the clocks end when the task reads.
    #[cfg(not(target_os = "linux"))]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        #[cfg(target_os = "linux")]
        if self.handshake != Handshake::Seen {
            return self.poll_first_write(cx, &[std::io::IoSlice::new(buf)]);
        }
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        #[cfg(target_os = "linux")]
        if self.handshake != Handshake::Seen {
            return self.poll_first_write(cx, bufs);
        }
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Nothing: the connection is closed right after, and `close` sends the same FIN a
    /// `shutdown` would (one syscall less per connection).
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};

    /// A listener on `ip` whose accept queue is full, and the sockets that fill it: a further
    /// connect's SYN is dropped by the kernel, so that connect hangs as it does to a host that
    /// drops packets.
    fn full_listener(ip: IpAddr) -> (SocketAddr, Socket, Vec<Socket>) {
        let domain = if ip.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let listener = Socket::new(domain, Type::STREAM, None).unwrap();
        listener.bind(&SocketAddr::new(ip, 0).into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let fill = (0..3)
            .map(|_| {
                let s = Socket::new(domain, Type::STREAM, None).unwrap();
                s.set_nonblocking(true).unwrap();
                // In progress or done: either way it takes a place in the queue or waits.
                let _ = s.connect(&addr.into());
                s
            })
            .collect();
        (addr, listener, fill)
    }

    #[tokio::test]
    async fn an_ipv6_address_that_drops_the_connect_falls_back_to_ipv4() {
        let (silent, _listener, _fill) = full_listener("::1".parse().unwrap());
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v4_addr = v4.local_addr().unwrap();
        // Bounded: without the fallback this connect would wait for the kernel's SYN retries.
        let connecting = connect_any(vec![silent, v4_addr]);
        let (_stream, remote) = tokio::time::timeout(Duration::from_secs(30), connecting)
            .await
            .expect("no fallback to IPv4 within 30 s")
            .unwrap();
        assert_eq!(remote, v4_addr);
    }

    #[tokio::test]
    async fn a_refused_first_family_falls_back_at_once_and_all_refused_is_an_error() {
        let closed = |ip: &str| {
            let l = std::net::TcpListener::bind((ip, 0)).unwrap();
            l.local_addr().unwrap()
            // dropped here: nothing listens on that port any more
        };
        let v6_closed = closed("::1");
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v4_addr = v4.local_addr().unwrap();
        let (_stream, remote) = connect_any(vec![v6_closed, v4_addr]).await.unwrap();
        assert_eq!(remote, v4_addr);

        let v4_closed = closed("127.0.0.1");
        let err = connect_any(vec![v6_closed, v4_closed]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        let err = connect_any(Vec::new()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_sweep_closes_connections_idle_past_the_limit_and_keeps_the_others() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let direct = Direct::new(false);
        let idle_since = |since: Instant| {
            let direct = direct.clone();
            async move {
                let (conn, connection) = direct.open("127.0.0.1", port).await.unwrap();
                tokio::spawn(connection);
                (conn, since)
            }
        };
        let old = Instant::now().checked_sub(POOL_IDLE + Duration::from_secs(1));
        for (key, since) in [("old", old.unwrap()), ("fresh", Instant::now())] {
            let (conn, since) = idle_since(since).await;
            let idle = Idle { conn, since };
            direct.pool.put(key.to_owned(), idle, false);
        }
        direct.pool.sweep();
        let map = direct.pool.idle.lock().unwrap();
        let keys: Vec<&String> = map.keys().collect();
        assert_eq!(keys, vec!["fresh"]);
    }

    #[tokio::test]
    async fn closing_the_idle_connections_empties_the_pool() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let direct = Direct::new(false);
        for key in ["a", "a", "b"] {
            let (conn, connection) = direct.open("127.0.0.1", port).await.unwrap();
            tokio::spawn(connection);
            let idle = Idle {
                conn,
                since: Instant::now(),
            };
            direct.pool.put(key.to_owned(), idle, false);
        }
        assert_eq!(direct.idle_connections(), 3);
        direct.close_idle();
        assert_eq!(direct.idle_connections(), 0);
        assert!(direct.pool.take("a").is_none());
        // Closing the idle ones (the last round) does not close the pool: a connection given
        // back by its check is kept (a redirect's next hop takes it), one given back late,
        // after its check's result, is closed.
        let since = Instant::now();
        for late in [true, false] {
            let (conn, connection) = direct.open("127.0.0.1", port).await.unwrap();
            tokio::spawn(connection);
            direct.pool.put("a".to_owned(), Idle { conn, since }, late);
        }
        assert_eq!(direct.idle_connections(), 1);
        // Closed for good: the idle one is closed, and so is one given back afterwards.
        direct.close_for_good();
        assert_eq!(direct.idle_connections(), 0);
        let (conn, connection) = direct.open("127.0.0.1", port).await.unwrap();
        tokio::spawn(connection);
        direct.pool.put("a".to_owned(), Idle { conn, since }, false);
        assert_eq!(
            direct.idle_connections(),
            0,
            "given back after the end: closed"
        );
    }

    /// A connection made, then reset by the server before the request's first write or a
    /// read before it (the handshake was not awaited, [`Handshake::Unseen`]): its error is
    /// the connection's, not that of a connect that failed.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_reset_after_the_handshake_is_not_reported_as_the_connects_error() {
        use hyper::rt::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        for by_read in [false, true] {
            let mut conn = connected(connect_one(addr, false).await.unwrap(), addr).unwrap();
            conn.handshake = Handshake::Unseen;
            let (server, _) = listener.accept().unwrap();
            socket2::SockRef::from(&server)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(server);
            // The reset is there once the socket reports readable (a readiness, not a wait).
            conn.io.inner().readable().await.unwrap();
            let failed = if by_read {
                let mut bytes = [0u8; 16];
                let mut buf = hyper::rt::ReadBuf::new(&mut bytes);
                std::future::poll_fn(|cx| Pin::new(&mut conn).poll_read(cx, buf.unfilled()))
                    .await
                    .unwrap_err()
            } else {
                std::future::poll_fn(|cx| Pin::new(&mut conn).poll_write(cx, b"GET / HTTP/1.1"))
                    .await
                    .unwrap_err()
            };
            assert_eq!(
                failed.kind(),
                std::io::ErrorKind::ConnectionReset,
                "{by_read}"
            );
            assert!(conn.shared.failed_connect().is_none(), "{by_read}");
            assert_eq!(conn.handshake, Handshake::Seen, "{by_read}");
        }
    }

    #[tokio::test]
    async fn one_family_is_tried_in_turn() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open_addr = open.local_addr().unwrap();
        let (_stream, remote) = connect_any(vec![closed, open_addr]).await.unwrap();
        assert_eq!(remote, open_addr);
    }
}
