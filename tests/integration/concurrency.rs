//! Default concurrency: `max_workers`/`--concurrency` alone decides how many checks are in
//! flight; `per_host_concurrency` is opt-in, and when it is what holds checks back the run says
//! so once on stderr. Observed by an in-process HTTP server's peak of concurrent requests,
//! never by timing: the server holds every request until the expected number are in flight,
//! then lets them all go.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Workspace, code, stderr, stdout};

/// How long after the server starts requests may be held at all: generous, so only a real
/// failure ends a hold, and bounded, so a failure ends the test instead of hanging it.
const HOLD_BOUND: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Counts {
    /// Requests being served now.
    now: usize,
    /// Most requests ever served at once.
    peak: usize,
    /// Requests received in all.
    total: usize,
    /// Set once `release_at` requests were in flight together: nothing is held any more.
    released: bool,
}

/// An HTTP server on 127.0.0.1 that counts concurrent requests and holds each one until
/// `release_at` are in flight at once (then every request, held or later, is answered at once).
struct PeakServer {
    counts: Mutex<Counts>,
    cv: Condvar,
    release_at: usize,
    /// After this nothing is held (see [`HOLD_BOUND`]).
    hold_until: Instant,
}

impl PeakServer {
    fn start(release_at: usize) -> (Arc<PeakServer>, u16) {
        Self::start_holding(release_at, HOLD_BOUND)
    }

    /// [`PeakServer::start`] holding requests for at most `hold` after the start.
    fn start_holding(release_at: usize, hold: Duration) -> (Arc<PeakServer>, u16) {
        let server = Arc::new(PeakServer {
            counts: Mutex::default(),
            cv: Condvar::new(),
            release_at,
            hold_until: Instant::now() + hold,
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = Arc::clone(&server);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let s = Arc::clone(&s);
                std::thread::spawn(move || s.serve(conn));
            }
        });
        (server, port)
    }

    /// Serve the requests of one connection (`Connection: close` after each).
    fn serve(&self, mut conn: std::net::TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        {
            let mut c = self.counts.lock().unwrap();
            c.now += 1;
            c.total += 1;
            c.peak = c.peak.max(c.now);
            if c.now >= self.release_at {
                c.released = true;
                self.cv.notify_all();
            }
            while !c.released {
                let left = self.hold_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                c = self.cv.wait_timeout(c, left).unwrap().0;
            }
        }
        // Out of flight before the answer leaves: once it has, the client may finish the check
        // and start the next one (at once, on another runtime thread) before this thread would
        // count down, and the two would be counted in flight together.
        self.counts.lock().unwrap().now -= 1;
        let _ =
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        let _ = conn.flush();
    }

    fn peak(&self) -> usize {
        self.counts.lock().unwrap().peak
    }

    fn total(&self) -> usize {
        self.counts.lock().unwrap().total
    }
}

/// A config of `n` HTTP checks on `port`, after `head` (top-level keys).
fn config(head: &str, n: usize, port: u16) -> String {
    let mut yaml =
        format!("{head}defaults: {{timeout: 30s}}\nenvironments:\n  t:\n    http_checks:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "      - {{name: c-{i}, url: \"http://127.0.0.1:{port}/{i}\"}}\n"
        ));
    }
    yaml
}

fn notice(limit: usize, port: u16) -> String {
    format!(
        "notice: per_host_concurrency {limit} held back checks to 127.0.0.1:{port} (set per_host_concurrency to raise it)"
    )
}

#[test]
fn max_workers_alone_decides_the_checks_in_flight_on_one_host() {
    let (server, port) = PeakServer::start(100);
    let ws = Workspace::new();
    ws.write("c.yaml", &config("max_workers: 100\n", 100, port));
    let out = ws.run(&["-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(server.total(), 100);
    assert_eq!(
        server.peak(),
        100,
        "no per-host cap unless configured: all 100 checks in flight at once"
    );
    assert!(
        !stderr(&out).contains("notice: per_host_concurrency"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_configured_per_host_cap_holds_and_says_so_once() {
    // The first 5 requests are held until all 5 are in flight, so the peak reaches the cap;
    // after that every request is answered at once.
    let (server, port) = PeakServer::start(5);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &config("max_workers: 100\nper_host_concurrency: 5\n", 30, port),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{}{err}", stdout(&out));
    assert_eq!(server.total(), 30);
    assert_eq!(server.peak(), 5, "at most per_host_concurrency in flight");
    let want = notice(5, port);
    assert_eq!(
        err.lines().filter(|l| *l == want).count(),
        1,
        "one notice line `{want}` in:\n{err}"
    );
    assert_eq!(err.matches("notice:").count(), 1, "{err}");
    assert!(!stdout(&out).contains("notice:"), "{}", stdout(&out));
}

#[test]
fn the_per_host_flag_opts_in_and_a_cap_that_never_binds_says_nothing() {
    // `--per-host-concurrency 3` with 12 checks and 100 workers: the flag's cap is the one held.
    let (server, port) = PeakServer::start(3);
    let ws = Workspace::new();
    ws.write("c.yaml", &config("max_workers: 100\n", 12, port));
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--per-host-concurrency", "3"],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{}{err}", stdout(&out));
    assert_eq!(server.peak(), 3);
    assert!(err.contains(&notice(3, port)), "{err}");

    // A cap of 10 under 2 workers never holds a check back: no notice.
    let (server, port) = PeakServer::start(2);
    ws.write(
        "c.yaml",
        &config("max_workers: 2\nper_host_concurrency: 10\n", 8, port),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{}{err}", stdout(&out));
    assert_eq!(server.peak(), 2, "max_workers bounds the checks in flight");
    assert!(!err.contains("notice:"), "{err}");
}

#[test]
fn the_concurrency_flag_overrides_max_workers() {
    // `--concurrency 1` under `max_workers: 50`: the first request is held for a while, waiting
    // for a second one to be in flight with it; one never comes. (The hold is the window in
    // which a second request would be seen, not a synchronisation: the verdict is the peak.)
    let (server, port) = PeakServer::start_holding(2, Duration::from_secs(2));
    let ws = Workspace::new();
    ws.write("c.yaml", &config("max_workers: 50\n", 6, port));
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--concurrency", "1"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(server.total(), 6);
    assert_eq!(server.peak(), 1, "one check in flight at a time");

    // `--concurrency 4` under `max_workers: 1`: the flag raises the bound too.
    let (server, port) = PeakServer::start(4);
    ws.write("c.yaml", &config("max_workers: 1\n", 8, port));
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--concurrency", "4"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(server.total(), 8);
    assert_eq!(server.peak(), 4, "the flag's bound, not max_workers");
}
