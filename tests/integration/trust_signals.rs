//! Signals while the reports are written: a write blocked on a FIFO nobody opens or a pipe
//! nobody reads never makes SIGTERM or SIGINT ineffective. The first signal exits 130 / 143
//! once the blocked write completes or is abandoned (after a bounded grace); a second one
//! exits at once, with its own code.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{Workspace, infracheck_command, signal};

/// A config whose checks pass; `count` of them (a big report fills a pipe).
fn passing(ws: &Workspace, count: usize) {
    let mut checks = String::new();
    for i in 0..count {
        checks.push_str(&format!(
            "      - {{name: check-{i:04}-{}, command: [\"true\"]}}\n",
            "n".repeat(100)
        ));
    }
    ws.write(
        "infracheck.yaml",
        &format!("concurrency: 8\nenvironments:\n  t:\n    command_checks:\n{checks}"),
    );
}

/// Wait (bounded, 60 s) until the process's main thread sleeps in one of the kernel functions
/// `wchan` (`wait_for_partner`: opening a FIFO nobody reads; `pipe_write`, called
/// `anon_pipe_write` by newer kernels: writing to a full pipe).
fn wait_blocked_in(child: &mut Child, wchan: &[&str]) {
    let path = format!("/proc/{}/wchan", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::fs::read_to_string(&path).is_ok_and(|w| wchan.contains(&w.trim())) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("infracheck exited ({status}) before blocking in {wchan:?}");
        }
        assert!(
            Instant::now() < deadline,
            "infracheck never blocked in {wchan:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exit code of `child`, waiting at most 60 s (the grace of the reports is 5 s).
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("infracheck did not exit after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A run writing its JSON report to the FIFO `pipe`, which nobody opens yet.
fn run_into_fifo(ws: &Workspace) -> Child {
    run_into_fifo_with(ws, Stdio::null())
}

/// [`run_into_fifo`] with infracheck's stderr going to `stderr`.
fn run_into_fifo_with(ws: &Workspace, stderr: Stdio) -> Child {
    passing(ws, 1);
    let made = std::process::Command::new("mkfifo")
        .arg(ws.path().join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut child = infracheck_command(ws.path())
        .args(["run", "--env", "t", "--json", "pipe"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn infracheck");
    wait_blocked_in(&mut child, &["wait_for_partner"]);
    child
}

#[test]
fn sigterm_while_a_report_waits_for_a_fifo_reader_exits_143() {
    let ws = Workspace::new();
    let mut child = run_into_fifo(&ws);
    signal(child.id(), Signal::SIGTERM);
    // Nobody ever opens the FIFO: the write is abandoned after the grace.
    assert_eq!(exit_code(&mut child), Some(143));
}

#[test]
fn a_report_write_that_completes_after_sigint_still_exits_130() {
    let ws = Workspace::new();
    let mut child = run_into_fifo_with(&ws, Stdio::piped());
    let err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    signal(child.id(), Signal::SIGINT);
    // Once infracheck says it got the signal (bounded wait), the reader arrives: the
    // interrupted write completes, and the run says it was signalled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("signal received") => break,
            Ok(_) => {}
            Err(e) => panic!("no word of the signal on stderr: {e}"),
        }
    }
    let mut text = String::new();
    std::fs::File::open(ws.path().join("pipe"))
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("read the FIFO");
    assert_eq!(exit_code(&mut child), Some(130));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("a whole JSON report");
    assert_eq!(
        doc["results"][0]["name"],
        format!("check-0000-{}", "n".repeat(100))
    );
}

#[test]
fn a_second_signal_while_a_report_write_blocks_exits_at_once_with_its_code() {
    let ws = Workspace::new();
    let mut child = run_into_fifo(&ws);
    signal(child.id(), Signal::SIGTERM);
    signal(child.id(), Signal::SIGINT);
    // 130 is the second signal's code: the grace of the first (which would give 143) was
    // not waited for.
    assert_eq!(exit_code(&mut child), Some(130));
}

#[test]
fn sigint_while_stdout_is_a_pipe_nobody_reads_exits_130() {
    let ws = Workspace::new();
    // 400 results of ~150 bytes each: the JSON document outgrows the 64 KiB pipe buffer.
    passing(&ws, 400);
    let mut child = infracheck_command(ws.path())
        .args(["run", "--env", "t", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn infracheck");
    wait_blocked_in(&mut child, &["pipe_write", "anon_pipe_write"]);
    signal(child.id(), Signal::SIGINT);
    assert_eq!(exit_code(&mut child), Some(130));
    drop(child.stdout.take());
}
