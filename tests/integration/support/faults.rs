//! In-process servers for faults a real server will not produce: accept and never answer,
//! reset mid-body, trickle, redirect loop, a huge body, a non-HTTP speaker.
//! Each runs on its own thread on an ephemeral loopback port; every loop is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the fault server does with each connection.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Accept, read the request, never answer (until the server is dropped).
    Hang,
    /// Send headers promising 1 MB, part of the body, then reset the connection.
    ResetMidBody,
    /// Send headers, then the body one byte every 200 ms.
    Trickle,
    /// Redirect to itself forever.
    RedirectLoop,
    /// A 200 MB body, streamed.
    HugeBody,
    /// Answer with a non-HTTP banner.
    NotHttp,
    /// Read the first bytes the client sends, then close without a byte.
    CloseImmediately,
}

/// A running fault server; stops accepting when dropped.
pub struct FaultServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<(Mutex<usize>, Condvar)>,
}

impl FaultServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Block until at least `n` requests have been read (bounded by 30 s); returns the count.
    pub fn wait_for_requests(&self, n: usize) -> usize {
        let (lock, cv) = &*self.requests;
        let mut count = lock.lock().expect("lock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while *count < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            count = cv.wait_timeout(count, left).expect("wait").0;
        }
        *count
    }

    pub fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let requests = Arc::new((Mutex::new(0usize), Condvar::new()));
        let requests2 = Arc::clone(&requests);
        thread::spawn(move || {
            // Bounded: at most 10 minutes of life, then the thread ends on its own.
            let end = Instant::now() + Duration::from_secs(600);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let stop3 = Arc::clone(&stop2);
                        let req3 = Arc::clone(&requests2);
                        thread::spawn(move || serve(stream, fault, &stop3, &req3));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultServer {
            addr,
            stop,
            requests,
        }
    }
}

impl Drop for FaultServer {
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

fn serve(
    mut stream: TcpStream,
    fault: Fault,
    stop: &AtomicBool,
    requests: &(Mutex<usize>, Condvar),
) {
    // These two act before reading anything, like a non-HTTP service or a dead backend.
    match fault {
        Fault::NotHttp => {
            let _ = stream.set_nonblocking(false);
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n");
            // Keep the socket open and drain what the client sends until it hangs up, so its
            // request never meets a closed socket (which would be a reset, not a protocol
            // error). Bounded by the read timeout and a byte cap.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut sink = [0u8; 4096];
            let mut total = 0usize;
            while total < 1 << 20 {
                match stream.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            return;
        }
        Fault::CloseImmediately => {
            // Wait for the client's first bytes (request or TLS ClientHello), then close
            // without a word: a clean EOF, never a reset caused by writing to a closed socket.
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut first = [0u8; 4096];
            let _ = stream.read(&mut first);
            return;
        }
        _ => {}
    }
    let req = read_request(&mut stream);
    {
        let (lock, cv) = requests;
        if let Ok(mut n) = lock.lock() {
            *n += 1;
        }
        cv.notify_all();
    }
    let path = req
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_owned();
    let end = Instant::now() + Duration::from_secs(120);
    match fault {
        Fault::Hang => {
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                thread::sleep(Duration::from_millis(20));
            }
        }
        Fault::ResetMidBody => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nContent-Type: text/plain\r\n\r\npartial body",
            );
            let _ = stream.flush();
            // SO_LINGER 0 turns close into a RST.
            let sock = socket2_linger_zero(&stream);
            drop(sock);
        }
        Fault::Trickle => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                if stream.write_all(b"x").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(200));
            }
        }
        Fault::RedirectLoop => {
            let next = if path.len() > 200 {
                "/".to_owned()
            } else {
                format!("{path}x")
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
        Fault::HugeBody => {
            let total: usize = 200 * 1024 * 1024;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nContent-Type: text/plain\r\n\r\n"
                )
                .as_bytes(),
            );
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            while sent < total && !stop.load(Ordering::Relaxed) && Instant::now() < end {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        }
        Fault::NotHttp | Fault::CloseImmediately => {}
    }
}

/// Set SO_LINGER to zero so dropping the stream sends RST instead of FIN.
fn socket2_linger_zero(stream: &TcpStream) -> TcpStream {
    let s = stream.try_clone().expect("clone stream");
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    s
}
