//! In-process TCP servers for the banner faults a real service will not produce on demand:
//! silent after accept, a fixed banner, a line-based PING/PONG. Bounded loops, stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does with each connection.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Accept and never send a byte (until the server is dropped).
    Silent,
    /// Send this banner, then keep the connection open without sending more.
    Banner(&'static str),
    /// Answer each line `PING` with `+PONG`.
    Pong,
}

/// A running server; stops when dropped.
pub struct TcpServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl TcpServer {
    pub fn start(mode: Mode) -> TcpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(300);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < end {
                match listener.accept() {
                    Ok((s, _)) => {
                        let stop3 = Arc::clone(&stop2);
                        thread::spawn(move || serve(s, mode, &stop3));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TcpServer { addr, stop }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn hold(stop: &AtomicBool) {
    let end = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
}

fn serve(mut s: TcpStream, mode: Mode, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    match mode {
        Mode::Silent => hold(stop),
        Mode::Banner(b) => {
            let _ = s.write_all(b.as_bytes());
            hold(stop);
        }
        Mode::Pong => {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(clone) = s.try_clone() else { return };
            let mut lines = BufReader::new(clone);
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line.trim() == "PING" {
                    let _ = s.write_all(b"+PONG\r\n");
                }
                line.clear();
            }
        }
    }
}
