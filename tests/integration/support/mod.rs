//! Test support: run the binary, start real servers on loopback with ephemeral ports, stop
//! them by PID. A missing server binary fails the test (it never silently skips).

#![allow(dead_code)]

pub mod dns_server;
pub mod faults;
#[cfg(feature = "kubernetes")]
pub mod kubeapi;
pub mod mariadb;
#[cfg(feature = "aws")]
pub mod moto;
pub mod nginx;
pub mod platform;
pub mod postgres;
pub mod redis;
pub mod tcp_server;
pub mod tls_server;
pub mod unbound;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_infracheck")
}

/// Run infracheck with `args` in `dir`, with a clean, loopback-only environment plus `envs`.
pub fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {}: {e}", bin()),
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code (signals map to -1).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A report file's text; panics naming the file.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A JSON report file, parsed; panics naming the file.
pub fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The result called `name` in a JSON document.
pub fn result<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no result `{name}` in {doc}"))
}

/// A temp dir holding a config file.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file relative to the workspace and return its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }

    /// Run infracheck in the workspace.
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        run_in(self.path(), args, envs)
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Wait (bounded) until something accepts TCP connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not start listening on {addr} within 20s");
}

/// Find a server binary; panics with an install hint when it is missing, so CI fails loudly.
pub fn require_bin(name: &str, candidates: &[&str], package: &str) -> PathBuf {
    for c in candidates {
        let p = Path::new(c);
        if p.is_file() {
            return p.to_path_buf();
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in path.split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "`{name}` is required by this test: install the Debian package `{package}` (scripts/test.sh does)"
    );
}

/// A child process killed (by PID) and reaped when dropped.
pub struct ChildGuard {
    pub child: Child,
    pub name: &'static str,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run infracheck in `dir` with `args` (a deploy-gate run) and `envs`; call `act` once it has
/// reported its first round on stderr (the synchronisation point: no sleeps), then wait for it.
/// Returns the exit code, stdout, and all of stderr.
pub fn run_gate_acting_after_round_one(
    dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    act: impl FnOnce(),
) -> (i32, String, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start infracheck");
    let mut stdout_pipe = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).expect("read stderr");
        assert!(
            n > 0,
            "infracheck ended before its first round report: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with("infracheck: round 1: ") {
            break;
        }
    }
    act();
    err.read_to_string(&mut seen).expect("read stderr");
    let status = child.wait().expect("wait for infracheck");
    let out = reader.join().expect("stdout reader");
    (status.code().unwrap_or(-1), out, seen)
}
