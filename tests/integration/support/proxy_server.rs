//! An in-process proxy on loopback for the proxy tests: HTTP (absolute-form requests forwarded,
//! `CONNECT` tunnels) or SOCKS5 (RFC 1928, with RFC 1929 username/password), optionally
//! requiring credentials, recording every request it is asked to carry. In-process because the
//! faults the tests need (a 407, a refused tunnel, a SOCKS refusal) are the proxy's own answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy speaks and how it answers.
#[derive(Clone)]
pub enum Mode {
    /// HTTP forward proxy and `CONNECT` tunnels; `Some((user, password))` requires
    /// `Proxy-Authorization: Basic` with them (else 407).
    Http(Option<(String, String)>),
    /// Answers every `CONNECT` with 403 (forwarding still works).
    HttpDenyConnect,
    /// SOCKS5; `Some((user, password))` requires username/password authentication.
    Socks5(Option<(String, String)>),
    /// An `https://` proxy: TLS with this certificate and key (PEM files), then forwarding
    /// only (no `CONNECT`).
    TlsForward(std::path::PathBuf, std::path::PathBuf),
}

/// A running proxy on 127.0.0.1; stops accepting when dropped.
pub struct ProxyServer {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ProxyServer {
    pub fn start(mode: Mode) -> ProxyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (mode, seen) = (mode.clone(), seen2.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &mode, &seen);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ProxyServer { port, seen, stop }
    }

    /// `scheme://127.0.0.1:PORT`
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `scheme://user:password@127.0.0.1:PORT`
    pub fn url_with(&self, scheme: &str, user: &str, password: &str) -> String {
        format!("{scheme}://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// What it was asked to carry: `GET http://…` (forwarded), `CONNECT host:port`,
    /// `SOCKS host:port`, each followed by ` auth=ok|missing|wrong` where it asks for
    /// credentials.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, mode: &Mode, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    match mode {
        Mode::Http(creds) => serve_http(stream, creds.as_ref(), false, seen),
        Mode::HttpDenyConnect => serve_http(stream, None, true, seen),
        Mode::Socks5(creds) => serve_socks(stream, creds.as_ref(), seen),
        Mode::TlsForward(cert, key) => {
            let conn = rustls::ServerConnection::new(tls_config(cert, key))
                .map_err(std::io::Error::other)?;
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let (request_line, headers) = read_head(&mut BufReader::new(&mut tls))?;
            seen.lock().unwrap().push(request_line.clone());
            forward(&mut tls, &request_line, &headers)?;
            tls.conn.send_close_notify();
            tls.flush()
        }
    }
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Arc<rustls::ServerConfig> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(cert).unwrap()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut BufReader::new(std::fs::File::open(key).unwrap()))
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// The request line and header lines of a request.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<String>)> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        headers.push(h);
    }
    Ok((request_line.trim_end().to_owned(), headers))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

fn serve_http(
    mut stream: TcpStream,
    creds: Option<&(String, String)>,
    deny_connect: bool,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let (request_line, headers) = read_head(&mut BufReader::new(stream.try_clone()?))?;
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let auth = headers
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("proxy-authorization")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let mut record = format!("{method} {target}");
    if let Some((u, p)) = creds {
        let verdict = if auth.is_empty() {
            "missing"
        } else if auth == format!("Basic {}", basic(u, p)) {
            "ok"
        } else {
            "wrong"
        };
        record.push_str(&format!(" auth={verdict}"));
        seen.lock().unwrap().push(record);
        if verdict != "ok" {
            stream.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
    } else {
        seen.lock().unwrap().push(record);
    }
    if method == "CONNECT" {
        if deny_connect {
            stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        }
        let upstream = match TcpStream::connect(target) {
            Ok(u) => u,
            Err(_) => {
                stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
                return Ok(());
            }
        };
        stream.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
        return pipe(stream, upstream);
    }
    forward(&mut stream, &request_line, &headers)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// Forward: `GET http://host:port/path` becomes `GET /path` to host:port, one request per
/// connection; the answer is copied back to `client`.
fn forward(client: &mut impl Write, request_line: &str, headers: &[String]) -> std::io::Result<()> {
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let rest = target.strip_prefix("http://").unwrap_or(target);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut upstream = TcpStream::connect(&authority)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers {
        let name = h.split(':').next().unwrap_or("").to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection"
        ) {
            head.push_str(h);
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    std::io::copy(&mut upstream, client)?;
    client.flush()
}

fn serve_socks(
    mut stream: TcpStream,
    creds: Option<&(String, String)>,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut hello = [0u8; 2];
    stream.read_exact(&mut hello)?;
    let mut methods = vec![0u8; usize::from(hello[1])];
    stream.read_exact(&mut methods)?;
    let mut verdict = None;
    if let Some((u, p)) = creds {
        if !methods.contains(&2) {
            stream.write_all(&[5, 0xff])?;
            seen.lock().unwrap().push("SOCKS auth=missing".to_owned());
            return Ok(());
        }
        stream.write_all(&[5, 2])?;
        let mut ver_len = [0u8; 2];
        stream.read_exact(&mut ver_len)?;
        let mut user = vec![0u8; usize::from(ver_len[1])];
        stream.read_exact(&mut user)?;
        let mut plen = [0u8; 1];
        stream.read_exact(&mut plen)?;
        let mut password = vec![0u8; usize::from(plen[0])];
        stream.read_exact(&mut password)?;
        let ok = user == u.as_bytes() && password == p.as_bytes();
        stream.write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            seen.lock().unwrap().push("SOCKS auth=wrong".to_owned());
            return Ok(());
        }
        verdict = Some("ok");
    } else {
        stream.write_all(&[5, 0])?;
    }
    let mut req = [0u8; 4];
    stream.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            stream.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            stream.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            let mut a = [0u8; 16];
            stream.read_exact(&mut a)?;
            format!("[{}]", std::net::Ipv6Addr::from(a))
        }
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    let mut record = format!("SOCKS {target}");
    if let Some(v) = verdict {
        record.push_str(&format!(" auth={v}"));
    }
    seen.lock().unwrap().push(record);
    match TcpStream::connect(&target) {
        Ok(upstream) => {
            stream.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
            pipe(stream, upstream)
        }
        Err(_) => {
            // Reply 5: connection refused.
            stream.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
            Ok(())
        }
    }
}

/// Copy both ways until either side closes.
fn pipe(client: TcpStream, upstream: TcpStream) -> std::io::Result<()> {
    let (mut c_read, mut u_write) = (client.try_clone()?, upstream.try_clone()?);
    upstream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = up.join();
    Ok(())
}
