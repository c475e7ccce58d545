//! Test support: run the binary in a hermetic environment ([`infracheck_command`]), start real
//! servers on loopback on ports they really hold ([`spawn_listening`]), stop them and every
//! process they forked by process group ([`ChildGuard`]). A missing server binary fails the
//! test (it never silently skips).

#![allow(dead_code)]

pub mod ci;
pub mod dns_server;
pub mod faults;
pub mod file_server;
pub mod forged;
pub mod github_api;
#[cfg(feature = "grpc")]
pub mod grpc_server;
#[cfg(feature = "kubernetes")]
pub mod kubeapi;
pub mod mariadb;
#[cfg(feature = "aws")]
pub mod moto;
pub mod nginx;
pub mod platform;
pub mod postgres;
pub mod proxy_server;
pub mod redis;
pub mod release;
pub mod tcp_server;
pub mod tls_server;
pub mod unbound;

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_infracheck")
}

/// The private `HOME` of every command the tests start: an empty directory of this test
/// process alone (`infracheck-test-home-<pid>` under cargo's per-target scratch space), so no
/// user config (`~/.kube`, `~/.aws`, …) of the machine is ever read and nothing one test run
/// leaves in its `HOME` is seen by the next run or by a run going on beside it. Created empty
/// once per process; the directories of test processes that are gone are removed then.
pub fn private_home() -> &'static Path {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_homes_of_ended_processes(scratch);
        let home = scratch.join(format!("{HOME_PREFIX}{}", std::process::id()));
        // A directory of an earlier process with the same id: start empty all the same.
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", home.display()));
        home
    })
}

const HOME_PREFIX: &str = "infracheck-test-home-";

/// Remove the private `HOME`s in `scratch` whose test process has ended.
pub fn remove_homes_of_ended_processes(scratch: &Path) {
    // Without a /proc to tell live processes from ended ones, leave them all.
    let Ok(entries) = std::fs::read_dir(scratch).and_then(|e| {
        std::fs::metadata("/proc/self")?;
        Ok(e)
    }) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(HOME_PREFIX));
        if let Some(pid) = pid.filter(|p| p.parse::<u32>().is_ok())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The variables a command the tests start inherits from the test process: nothing else. CI
/// markers (`CI`, `GITHUB_*`, `GITLAB_*`, `CI_*`, `RUNNER_*`, `ACTIONS_*`), cluster and cloud
/// credentials (`KUBERNETES_*`, `KUBECONFIG`, `AWS_*`), `RUST_LOG` and colour settings of the
/// machine running the tests must not change what a test sees.
const INHERITED: &[&str] = &["PATH", "TMPDIR"];

/// The suite's sanitised environment for any program a test starts (infracheck, a script of
/// the action, a shell wrapping either): the environment is cleared (keeping only
/// [`INHERITED`]), `HOME` is [`private_home`], colour is off and the EC2 metadata service is
/// never asked. Tests add what they need with `.env(..)`.
pub fn sanitised_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for name in INHERITED {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    cmd.env("HOME", private_home())
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// The ONE builder of every infracheck `Command` in the tests: [`sanitised_command`] for the
/// binary, run in `dir`.
pub fn infracheck_command(dir: &Path) -> Command {
    infracheck_command_via(dir, &[])
}

/// [`infracheck_command`] run through `wrapper` (a program and its arguments, such as
/// `/usr/bin/time -f %M -o FILE`), which then execs infracheck in the same clean environment.
/// An empty `wrapper` runs infracheck itself.
pub fn infracheck_command_via(dir: &Path, wrapper: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = sanitised_command(program);
            c.args(args).arg(bin());
            c
        }
        None => sanitised_command(bin()),
    };
    cmd.current_dir(dir);
    cmd
}

/// The names [`infracheck_command`] keeps from the test process's environment.
pub fn inherited_env_names() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| INHERITED.iter().any(|n| k == n))
        .collect()
}

/// Run infracheck with `args` in `dir`, with a clean, loopback-only environment plus `envs`.
pub fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = infracheck_command(dir);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {}: {e}", bin()),
    }
}

/// Run infracheck in `dir` with `args` in a network namespace of its own (`unshare -n`: no
/// interface but a loopback that is down), so a host name is looked up without the machine's
/// resolver ever being asked and nothing leaves the test. Needs CAP_SYS_ADMIN (the tests run
/// as root, as the database servers require); panics with that hint when unshare fails.
pub fn run_offline(dir: &Path, args: &[&str]) -> Output {
    let unshare = require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let out = infracheck_command_via(dir, &[unshare.as_os_str(), "-n".as_ref()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} under unshare: {e}", bin()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.starts_with("unshare:"),
        "`unshare -n` failed (it needs CAP_SYS_ADMIN: run the tests as root): {err}"
    );
    out
}

/// Fail the test unless it runs as root. The suite runs as root in CI (the database servers
/// and `unshare -n` need it), so a root-only case must fail loudly where root is missing: one
/// that printed "skipped" and passed would prove nothing. `what` names what needs root.
pub fn require_root(what: &str) {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    assert!(
        root,
        "this test needs root ({what}): run the suite as root, as CI does"
    );
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

/// How far past its own `timeout` a check may finish in a timing assertion. Generous on
/// purpose: a loaded CI machine can delay a timer or a process start by seconds. Still short
/// enough that a check with a 2 s `timeout` that ignored it (and fell back to the 10 s
/// [`infracheck::config::DEFAULT_TIMEOUT`]) or hung fails the bound.
pub const TIMEOUT_SLACK_MS: u64 = 5000;

/// The `--deadline` of a deploy-gate test whose gate never turns healthy, so the run lasts
/// exactly this long. Generous on purpose: the tests assert what the first round found (a
/// check healthy in round 1, the real failure of the other), and a loaded CI machine can take
/// well over a second to spawn and finish that round; a shorter deadline would cut it.
pub const GATE_DEADLINE: &str = "3s";

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

/// A port that was free a moment ago on 127.0.0.1. Nothing holds it: a server started on it
/// must go through [`spawn_listening`] (which retries when the port was taken meanwhile), and
/// a port that must refuse connections is a [`ClosedPort`].
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A loopback port that refuses connections for as long as this value lives: a TCP socket
/// bound to it but not listening, so no parallel test (or server) can take it.
pub struct ClosedPort {
    pub port: u16,
    _sock: socket2::Socket,
}

impl ClosedPort {
    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// Bind (without listening) an ephemeral loopback port; connecting to it is refused.
pub fn closed_port() -> ClosedPort {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("tcp socket");
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind ephemeral port");
    let port = sock
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("an inet address")
        .port();
    ClosedPort { port, _sock: sock }
}

/// Wait (bounded) until something accepts TCP connections on `addr`. Prefer
/// [`spawn_listening`] for servers we start: it also checks that the listener is ours.
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

/// The inodes of the sockets listening on TCP `127.0.0.1:port` (from `/proc/net/tcp`).
fn listening_inodes(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st … inode: LISTEN is state 0A.
            match (cols.get(1), cols.get(3), cols.get(9)) {
                (Some(l), Some(&"0A"), Some(inode)) if *l == local => Some((*inode).to_owned()),
                _ => None,
            }
        })
        .collect()
}

/// Whether process `pid` itself holds a socket listening on `127.0.0.1:port`: the listener a
/// test talks to is the server it started, not another test's that took the port first.
pub fn pid_listens_on(pid: u32, port: u16) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            inodes.iter().any(|i| t == format!("socket:[{i}]"))
        })
    })
}

/// How a started server came up.
pub enum Started {
    /// The child listens on the port.
    Listening,
    /// The child exited before listening (typically: the port was taken meanwhile).
    Exited(String),
}

/// Wait (bounded, 30 s) until `child` itself listens on TCP `127.0.0.1:port` and accepts a
/// connection there, or exits.
pub fn wait_for_child_port(child: &mut Child, port: u16, what: &str) -> Started {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Started::Exited(format!("{what} exited with {status}"));
        }
        if pid_listens_on(child.id(), port)
            && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        {
            return Started::Listening;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{what} did not start listening on {addr} within 30s");
}

/// How many fresh ports a server gets before the test gives up.
pub const PORT_TRIES: usize = 5;

/// Start a server on a fresh port: `make(port)` builds its command. The child runs in its own
/// process group (stopped as a whole by [`ChildGuard`]). When it exits before listening (its
/// port was taken between [`free_port`] and its bind) it is started again on a new port, at
/// most [`PORT_TRIES`] times. Returns the port the child really listens on.
pub fn spawn_listening(
    name: &'static str,
    mut make: impl FnMut(u16) -> Command,
) -> (u16, ChildGuard) {
    let mut failures = Vec::new();
    for _ in 0..PORT_TRIES {
        let port = free_port();
        let mut guard = spawn_guarded(&mut make(port), name);
        match wait_for_child_port(&mut guard.child, port, name) {
            Started::Listening => return (port, guard),
            Started::Exited(why) => failures.push(format!("port {port}: {why}")),
        }
    }
    panic!(
        "{name} did not start in {PORT_TRIES} tries: {}",
        failures.join("; ")
    );
}

/// Spawn `cmd` as the leader of a new process group, guarded: dropping the guard kills the
/// whole group (the server and every process it forked) and reaps the child.
pub fn spawn_guarded(cmd: &mut Command, name: &'static str) -> ChildGuard {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    ChildGuard { child, name }
}

/// SIGKILL the process group led by `pid` (a no-op when there is none).
pub fn kill_group(pid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Send `signal` to the single process `pid`.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
    }
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

/// A child process killed (by PID, with its process group when it leads one, see
/// [`spawn_guarded`]) and reaped when dropped.
pub struct ChildGuard {
    pub child: Child,
    pub name: &'static str,
}

impl ChildGuard {
    /// Send `sig` to the child, then wait (bounded by `grace`) for it to exit. Returns whether
    /// it did; the drop kills whatever is left either way.
    pub fn stop_gracefully(&mut self, sig: nix::sys::signal::Signal, grace: Duration) -> bool {
        signal(self.child.id(), sig);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        kill_group(self.child.id());
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
    let mut cmd = infracheck_command(dir);
    cmd.args(args)
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

/// Every `.rs` file below `dir`, in a stable (sorted) order, appended to `out`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}
