//! The own HTTP/1.1 path of `http_checks`: a plain `http://` request on a direct route (no
//! proxy, no credentials in the URL) goes through hyper's pooled client with a connector of
//! this module instead of reqwest's. reqwest stays for `https://`, proxies and HTTP/2.
//!
//! Why: on a fresh connection (a server that closes every connection) reqwest's connector
//! makes 15 syscalls (`O_NONBLOCK` set by `fcntl` after `socket`, `TCP_USER_TIMEOUT`,
//! `SO_ERROR`, the peer and local addresses, `shutdown` before `close`), and the request
//! goes through reqwest's URL handling and boxed service stack. This connector makes the
//! socket non-blocking at `socket`, connects, sets `TCP_NODELAY` and knows the peer address
//! because it connected to it; closing is one `close` (the FIN goes out then, as it would
//! after a `shutdown`). The HTTP itself (request encoding, response parsing, keep-alive and
//! the pool) stays hyper's and hyper-util's, the same code reqwest runs on.
//!
//! What a check sees is the same as through reqwest: the request's headers (reqwest's
//! defaults `accept: */*` and the user agent where the check sets none), the phases (the
//! connector marks them as [`super::phases::ConnectTiming`] and the resolver do for reqwest),
//! `remote_addr`, the response's URL, and errors whose chain reads as reqwest's (see
//! [`Error`]), so `classify` gives the same reasons and messages.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use tokio::net::TcpStream;

use super::phases::{connection_ready, connection_started, looked_up};
use crate::checks::common::capped::Capped;

/// The user agent of every request (the reqwest clients send the same).
pub(super) const AGENT: &str = concat!("infracheck/", env!("CARGO_PKG_VERSION"));

/// How long an idle pooled connection is kept (as the reqwest clients).
const POOL_IDLE: Duration = Duration::from_secs(30);

type Pool = hyper_util::client::legacy::Client<Connector, Full<Bytes>>;

/// The own client: one pool for every plain `http://` check on a direct route.
#[derive(Clone)]
pub(super) struct Direct {
    client: Pool,
}

impl fmt::Debug for Direct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Direct")
    }
}

impl Direct {
    /// The client; no connection is opened before the first request.
    pub(super) fn new() -> Self {
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(Connector);
        Direct { client }
    }

    /// Whether this path takes a request to `url`: plain `http`, no user or password (reqwest
    /// turns those into an `Authorization` header), a URL hyper accepts as a request target.
    /// The caller has checked that no proxy applies.
    pub(super) fn takes(url: &url::Url) -> bool {
        url.scheme() == "http"
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
        let mut request = hyper::Request::new(Full::new(match body {
            Some(b) => Bytes::copy_from_slice(b.as_bytes()),
            None => Bytes::new(),
        }));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        let h = request.headers_mut();
        h.reserve(headers.len() + 2);
        for (name, value) in headers {
            h.append(name, value.clone());
        }
        // reqwest's default headers, each only where the check sets none.
        h.entry(ACCEPT)
            .or_insert_with(|| HeaderValue::from_static("*/*"));
        h.entry(USER_AGENT)
            .or_insert_with(|| HeaderValue::from_static(AGENT));
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Error::request(Box::new(e)))?;
        let (head, body) = response.into_parts();
        let remote_addr = head.extensions.get::<RemoteAddr>().map(|r| r.0);
        Ok(Response {
            status: head.status,
            headers: head.headers,
            url: url.clone(),
            remote_addr,
            body,
        })
    }
}

/// A response of the own path, its body not yet read.
#[derive(Debug)]
pub(super) struct Response {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) url: url::Url,
    pub(super) remote_addr: Option<SocketAddr>,
    body: Incoming,
}

impl Response {
    /// Read the body, stopping at the first frame past `cap`.
    pub(super) async fn body(mut self, cap: usize) -> Result<Capped, Error> {
        let mut kept = Capped::new(cap);
        while let Some(frame) = self.body.frame().await {
            let frame = frame.map_err(|e| Error::body(Box::new(e)))?;
            if let Ok(data) = frame.into_data() {
                kept.push(&data);
                if kept.truncated() {
                    break;
                }
            }
        }
        Ok(kept)
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

impl Error {
    fn request(source: Box<dyn StdError + Send + Sync>) -> Self {
        Error {
            body: false,
            source,
        }
    }

    fn body(source: Box<dyn StdError + Send + Sync>) -> Self {
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

/// The peer a response came from, put in its extensions by the pool.
#[derive(Debug, Clone, Copy)]
struct RemoteAddr(SocketAddr);

/// The connector: resolve (timed; an IP literal is not looked up), connect to each address in
/// turn until one answers, `TCP_NODELAY`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Connector;

type Connecting = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        Box::pin(connect(uri))
    }
}

async fn connect(uri: hyper::Uri) -> Result<Conn, ConnectError> {
    connection_started();
    let invalid = |what: &'static str| ConnectError {
        what,
        cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, what),
    };
    let host = uri
        .host()
        .ok_or_else(|| invalid("invalid URL, missing host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
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
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(|cause| ConnectError {
                    what: "tcp set_nodelay error",
                    cause,
                })?;
                connection_ready();
                return Ok(Conn {
                    io: TokioIo::new(stream),
                    remote: addr,
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(ConnectError {
        what: "tcp connect error",
        cause: last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "dns error: no addresses returned",
            )
        }),
    })
}

/// A connection of the own path.
#[derive(Debug)]
pub(super) struct Conn {
    io: TokioIo<TcpStream>,
    remote: SocketAddr,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new().extra(RemoteAddr(self.remote))
    }
}

impl hyper::rt::Read for Conn {
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
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
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
