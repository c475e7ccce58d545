//! Live progress where there is no terminal (a CI log): a line per finished check as it
//! finishes and a heartbeat while checks are in flight, on stderr only; in GitHub mode inside a
//! `::group::`. Synchronised on infracheck's own output, never on sleeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;

use crate::support::{Workspace, infracheck_command};

/// Three checks: `up` passes at once, `bad` fails at once, `slow` waits until the test lets
/// its server answer. Returns the config and the trigger that releases `slow`.
fn three_checks(ws: &Workspace) -> mpsc::Sender<()> {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let bad = TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    ws.write(
        "infracheck.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      \
             - {{name: up, host: 127.0.0.1, port: {}}}\n      \
             - {{name: bad, host: 127.0.0.1, port: {}, expect: NOPE}}\n      \
             - {{name: slow, host: 127.0.0.1, port: {}, expect: READY, timeout: 60s}}\n",
            port(&up),
            port(&bad),
            port(&slow)
        ),
    );
    std::thread::spawn(move || {
        // Keep `up` open for the run; `bad` says hello and hangs up.
        let _keep = up;
        if let Ok((mut s, _)) = bad.accept() {
            let _ = s.write_all(b"hello\n");
        }
        std::thread::park();
    });
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = slow.accept() {
            let _ = rx.recv();
            let _ = s.write_all(b"READY\n");
            let mut sink = [0u8; 16];
            let _ = s.read(&mut sink);
        }
    });
    tx
}

/// Run infracheck in `ws` (stderr a pipe, not a terminal); once stderr shows a line for which
/// `ready` holds, fire `release`. Returns the exit code, stdout and stderr lines.
fn run_until(
    ws: &Workspace,
    args: &[&str],
    envs: &[(&str, &str)],
    ready: impl Fn(&str) -> bool,
    release: mpsc::Sender<()>,
) -> (i32, String, Vec<String>) {
    let mut cmd = infracheck_command(ws.path());
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start infracheck");
    let mut out = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut lines = Vec::new();
    let mut release = Some(release);
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if ready(&line)
            && let Some(r) = release.take()
        {
            let _ = r.send(());
        }
        lines.push(line);
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, stdout.join().unwrap(), lines)
}

fn is_heartbeat(line: &str) -> bool {
    // `2/3 done, 1 failed, 0 s`
    line.starts_with("2/3 done, 1 failed, ") && line.ends_with(" s")
}

#[test]
fn a_log_gets_a_line_per_finished_check_and_a_heartbeat() {
    let ws = Workspace::new();
    let release = three_checks(&ws);
    let (code, stdout, lines) = run_until(
        &ws,
        &["--env", "t"],
        &[("INFRACHECK_HEARTBEAT_MS", "20")],
        is_heartbeat,
        release,
    );
    assert_eq!(code, 1, "{lines:#?}");
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?}: {lines:#?}"))
    };
    let (up, bad, beat, slow) = (
        at("PASS up "),
        at("FAIL bad "),
        lines.iter().position(|l| is_heartbeat(l)).unwrap(),
        at("PASS slow "),
    );
    // The slow check finished only after the heartbeat released it, and its line came then.
    assert!(up < beat && bad < beat && beat < slow, "{lines:#?}");
    assert!(lines[up].ends_with(" ms"), "{}", lines[up]);
    assert!(
        lines[bad].contains(" tcp."),
        "a short reason: {}",
        lines[bad]
    );
    // stdout stays the report alone.
    assert!(!stdout.contains("done, "), "{stdout}");
    assert!(stdout.contains("slow"), "{stdout}");

    // -q turns the lines off.
    let ws = Workspace::new();
    let release = three_checks(&ws);
    let _ = release.send(());
    let (_, _, lines) = run_until(
        &ws,
        &["-q", "--env", "t"],
        &[],
        |_| false,
        mpsc::channel().0,
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("PASS ") || l.contains(" done, ")),
        "{lines:#?}"
    );
}

#[test]
fn github_mode_keeps_the_check_lines_in_a_group() {
    let ws = Workspace::new();
    let release = three_checks(&ws);
    let summary = ws.write("summary.md", "");
    let output = ws.write("output", "");
    let (code, _, lines) = run_until(
        &ws,
        &["--env", "t", "--github"],
        &[
            ("INFRACHECK_HEARTBEAT_MS", "20"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ],
        is_heartbeat,
        release,
    );
    assert_eq!(code, 1, "{lines:#?}");
    let open = lines
        .iter()
        .position(|l| l.starts_with("::group::"))
        .unwrap();
    let close = lines.iter().position(|l| l == "::endgroup::").unwrap();
    let pass = lines
        .iter()
        .position(|l| l.starts_with("PASS up "))
        .unwrap();
    let error = lines
        .iter()
        .position(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(open < pass && pass < close && close < error, "{lines:#?}");
}

#[test]
fn reports_carry_short_messages_and_the_json_the_whole_chain() {
    let ws = Workspace::new();
    let closed = crate::support::closed_port();
    ws.write(
        "infracheck.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: db, host: 127.0.0.1, port: {p}}}\n    \
             http_checks:\n      - {{name: web, url: \"http://127.0.0.1:{p}/\"}}\n",
            p = closed.port
        ),
    );
    let o = ws.run(&["--env", "t", "--json", "r.json", "--junit", "r.xml"], &[]);
    assert_eq!(crate::support::code(&o), 1);
    let doc = crate::support::json(&ws.path().join("r.json"));
    for (name, reason, chain) in [
        ("db", "tcp.refused", "connect to 127.0.0.1:"),
        ("web", "connect.refused", "error sending request"),
    ] {
        let r = crate::support::result(&doc, name);
        assert_eq!(r["reason"], reason, "{r}");
        assert_eq!(r["message"], "connection refused", "{r}");
        assert!(
            r["detail"].as_str().is_some_and(|d| d.contains(chain)),
            "the chain is kept in detail: {r}"
        );
    }
    // The chain stays out of the human and CI reports.
    let text = crate::support::stdout(&o);
    let junit = crate::support::read(&ws.path().join("r.xml"));
    for report in [&text, &junit] {
        assert!(!report.contains("os error"), "{report}");
        assert!(!report.contains("error sending request"), "{report}");
    }
    // `-v` logs it.
    let v = ws.run(&["-v", "--env", "t"], &[]);
    assert!(
        crate::support::stderr(&v).contains("error sending request"),
        "{}",
        crate::support::stderr(&v)
    );
}
