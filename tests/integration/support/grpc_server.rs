//! gRPC's reference Python server (`pip install grpcio grpcio-health-checking`) running
//! `tests/fixtures/grpc/health_server.py` on an ephemeral loopback port. The script binds
//! 127.0.0.1:0 and prints the port it got, so there is no race for a free port; the process is
//! killed by PID when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::ChildGuard;

/// How long the script may take to import grpcio and print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Fail (never skip) when grpcio is not installed.
fn require_grpcio() {
    let ok = Command::new("python3")
        .args(["-c", "import grpc, grpc_health.v1.health"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "grpcio is required by the gRPC tests: `python3 -m pip install grpcio grpcio-health-checking` (scripts/test.sh does)"
    );
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grpc/health_server.py")
}

/// What the server does.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// `grpc.health.v1.Health` with the statuses given to [`HealthServer::start`].
    Health,
    /// No health service registered: every call is UNIMPLEMENTED.
    NoHealth,
    /// `Check` blocks until the process is killed.
    Hang,
}

/// Options of one server.
#[derive(Default)]
pub struct Options<'a> {
    /// Certificate and key PEM files: serve TLS.
    pub tls: Option<(&'a Path, &'a Path)>,
    /// With `tls`: require a client certificate issued by this CA (PEM).
    pub client_ca: Option<&'a Path>,
    /// `key=value` metadata every `Check` must carry (else UNAUTHENTICATED, echoing the value).
    pub require: Option<&'a str>,
}

/// A running health server.
pub struct HealthServer {
    pub port: u16,
    _guard: ChildGuard,
}

impl HealthServer {
    /// Start the script in `mode` with `statuses` (`svc=SERVING`, `=SERVING` for the whole
    /// server) and wait (bounded) for the port it prints.
    pub fn start(mode: Mode, statuses: &[&str], opts: &Options<'_>) -> HealthServer {
        require_grpcio();
        let mut cmd = Command::new("python3");
        cmd.arg(script()).arg("--mode").arg(match mode {
            Mode::Health => "health",
            Mode::NoHealth => "no-health",
            Mode::Hang => "hang",
        });
        if let Some((cert, key)) = opts.tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        if let Some(ca) = opts.client_ca {
            cmd.arg("--client-ca").arg(ca);
        }
        if let Some(r) = opts.require {
            cmd.arg("--require").arg(r);
        }
        let mut child = cmd
            .args(statuses)
            // gRPC core logs every refused handshake; Python errors still reach stderr.
            .env("GRPC_VERBOSITY", "NONE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the gRPC health server");
        let stdout = child.stdout.take().expect("piped stdout");
        let guard = ChildGuard {
            child,
            name: "grpc health_server.py",
        };
        // The read blocks, so it runs on a thread and the wait for it is bounded.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(START_TIMEOUT)
            .expect("the gRPC health server printed no port in time");
        let port = line
            .trim()
            .parse::<u16>()
            .unwrap_or_else(|_| panic!("the gRPC health server printed `{line}`, not a port"));
        HealthServer {
            port,
            _guard: guard,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
