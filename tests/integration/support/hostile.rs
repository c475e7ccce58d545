//! An in-process HTTP server that answers every request with hostile text: workflow commands,
//! legacy `##[` commands, HTML and table-breaking payloads in the reason phrase, a header and
//! the body. It echoes the request's `Authorization` header into the body, so a test can check
//! that a secret sent by a check never reaches a report. Bounded like `faults.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Every payload the server sends, one per line.
pub const PAYLOADS: &[&str] = &[
    "::add-mask::x",
    "::set-output name=x::y",
    "::warning file=forged.yaml,line=1::forged",
    "::stop-commands::tok",
    "##[error]legacy",
    "</details><script>alert(1)</script>",
    "| a | b |",
    "%0A::error::pct",
];

/// A running hostile server; stops accepting when dropped.
pub struct HostileServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl HostileServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answer every request with `status` and the payloads.
    pub fn start(status: u16) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(600);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        thread::spawn(move || serve(stream, status));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HostileServer { addr, stop }
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_request(stream: &mut TcpStream) -> String {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn serve(mut stream: TcpStream, status: u16) {
    let req = read_request(&mut stream);
    let auth = req
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    // Reason phrases and header values cannot hold line breaks; bodies can.
    let one_line = PAYLOADS.join(" ");
    let mut body = format!("auth={auth}\n");
    for p in PAYLOADS {
        body.push('\n');
        body.push_str(p);
    }
    body.push_str("\n\r\n::error::after-crlf\n");
    let response = format!(
        "HTTP/1.1 {status} {one_line}\r\nContent-Type: text/plain\r\nX-Evil: {one_line}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
