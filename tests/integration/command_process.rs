//! The command check's process, end to end: its whole process group is killed when the run's
//! `--deadline` passes and when infracheck gets SIGINT or SIGTERM (a background grandchild
//! does not outlive the run), and it reads nothing from infracheck's stdin.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Workspace, code, infracheck_command, json, result, stderr};

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|state| {
        state
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// SIGKILL went to the group before infracheck exited; the kernel may need a moment to tear
/// the process down: wait (bounded) for it to go.
fn assert_gone(pid: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "{what}: grandchild {pid} outlived the run");
}

/// Wait (bounded) until the command wrote its grandchild's pid to `file`.
fn pid_in(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && text.ends_with('\n')
        {
            return text.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A command that leaves a background `sleep` in its process group and waits for it; the
/// check's own timeout (1 h) never fires.
fn config(pidfile: &Path) -> String {
    format!(
        "environments:\n  t:\n    command_checks:\n      - name: hangs\n        command: [\"sh\", \"-c\", \"sleep 300 & echo $! > {}; wait\"]\n        timeout: 1h\n",
        pidfile.display()
    )
}

#[test]
fn the_deadline_kills_the_command_process_group() {
    let ws = Workspace::new();
    let pidfile = ws.path().join("grandchild.pid");
    ws.write("c.yaml", &config(&pidfile));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--deadline",
            "1s",
            "--json",
            "r.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "hangs")["reason"], "timeout.deadline", "{doc}");
    assert_gone(&pid_in(&pidfile), "--deadline");
}

#[test]
fn sigint_and_sigterm_kill_the_command_process_group() {
    for (signal, exit) in [
        (nix::sys::signal::Signal::SIGINT, 130),
        (nix::sys::signal::Signal::SIGTERM, 143),
    ] {
        let ws = Workspace::new();
        let pidfile = ws.path().join("grandchild.pid");
        ws.write("c.yaml", &config(&pidfile));
        let mut child = infracheck_command(ws.path())
            .args(["-c", "c.yaml", "--env", "t", "--json", "r.json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let guard = KillOnDrop(child.id());
        let pid = pid_in(&pidfile);
        assert!(alive(&pid), "{signal}: the grandchild is not running");
        crate::support::signal(child.id(), signal);
        let status = child.wait().unwrap();
        // Reaped: its pid may be reused, never signal it again.
        std::mem::forget(guard);
        assert_eq!(status.code(), Some(exit), "{signal}");
        let doc = json(&ws.path().join("r.json"));
        assert_eq!(
            result(&doc, "hangs")["reason"],
            "cancelled",
            "{signal}: {doc}"
        );
        assert_gone(&pid, signal.as_ref());
    }
}

/// Kills infracheck if an assertion fails before it exits (forgotten once it is reaped).
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        crate::support::signal(self.0, nix::sys::signal::Signal::SIGKILL);
    }
}

#[test]
fn the_command_reads_nothing_from_infracheck_stdin() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    command_checks:
      - {name: fd0, command: ["readlink", "/proc/self/fd/0"], stdout_regex: '^/dev/null\s*$'}
      - {name: reads, command: ["sh", "-c", "if read -r line; then echo got:$line; else echo eof; fi"], stdout_regex: '^eof\s*$'}
"#,
    );
    let mut child = infracheck_command(ws.path())
        .args(["-c", "c.yaml", "--env", "t", "--json", "r.json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    // A line waits on infracheck's stdin, which stays open for the whole run.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"stdin-sentinel-0051\n").unwrap();
    let out = child.wait_with_output().unwrap();
    std::mem::forget(guard);
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    for name in ["fd0", "reads"] {
        assert_eq!(result(&doc, name)["status"], "PASS", "{doc}");
    }
    assert!(!doc.to_string().contains("stdin-sentinel-0051"), "{doc}");
}
