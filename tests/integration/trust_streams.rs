//! Reports on the process's streams: `/dev/stdout`, `/dev/stderr` and `/proc/self/fd/N` are
//! written through the open descriptor (a log opened with `>>` keeps what it holds, same
//! inode), and two reports aimed at one stream are refused with exit 2.

use std::fs::OpenOptions;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;

use crate::support::{Workspace, code, infracheck_command, infracheck_command_via, stderr, stdout};

/// A config whose one check passes.
fn passing(ws: &Workspace) {
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: ok, command: [\"true\"]}\n",
    );
}

/// The one JSON document in `text` (from its `{` line to the end).
fn json_tail(text: &str) -> serde_json::Value {
    let start = text.find("\n{\n").map(|i| i + 1).unwrap_or_else(|| {
        panic!("no JSON document in {text:?}");
    });
    serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `echo earlier > log; infracheck run --json PATH >>log` (stdout or stderr appended to the
/// log): the log keeps "earlier", the text report and the JSON, and is the same file.
fn appended_stream_keeps_the_log(report_path: &str, on_stderr: bool) {
    let ws = Workspace::new();
    passing(&ws);
    let log = ws.write("out.txt", "earlier\n");
    let inode = std::fs::metadata(&log).unwrap().ino();
    let open = || OpenOptions::new().append(true).open(&log).unwrap();
    let mut cmd = infracheck_command(ws.path());
    cmd.args(["run", "--env", "t", "--json", report_path]);
    if on_stderr {
        cmd.stderr(Stdio::from(open())).stdout(Stdio::null());
    } else {
        cmd.stdout(Stdio::from(open())).stderr(Stdio::piped());
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        std::fs::metadata(&log).unwrap().ino(),
        inode,
        "{report_path}: the log was replaced"
    );
    assert!(text.starts_with("earlier\n"), "{report_path}: {text}");
    if !on_stderr {
        assert!(text.contains("PASS  ok"), "{report_path}: {text}");
    }
    assert_eq!(json_tail(&text)["results"][0]["name"], "ok", "{text}");
}

#[test]
fn json_to_dev_stdout_appends_to_the_log_in_place() {
    appended_stream_keeps_the_log("/dev/stdout", false);
    appended_stream_keeps_the_log("/proc/self/fd/1", false);
}

#[test]
fn json_to_dev_stderr_appends_to_the_log_in_place() {
    appended_stream_keeps_the_log("/dev/stderr", true);
}

#[test]
fn a_symlink_to_dev_stdout_writes_through_the_descriptor() {
    let ws = Workspace::new();
    passing(&ws);
    std::os::unix::fs::symlink("/dev/stdout", ws.path().join("r.json")).unwrap();
    let log = ws.write("out.txt", "earlier\n");
    let inode = std::fs::metadata(&log).unwrap().ino();
    let out = infracheck_command(ws.path())
        .args(["run", "--env", "t", "--json", "r.json"])
        .stdout(Stdio::from(
            OpenOptions::new().append(true).open(&log).unwrap(),
        ))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&log).unwrap().ino(), inode);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("earlier\n"), "{text}");
    assert!(text.contains("PASS  ok"), "{text}");
    assert_eq!(json_tail(&text)["results"][0]["name"], "ok");
}

/// `3>>fd3.txt`: `/proc/self/fd/3` and `/dev/fd/3` are appended to in place.
#[test]
fn json_to_proc_self_fd_n_appends_through_the_descriptor() {
    for path in ["/proc/self/fd/3", "/dev/fd/3"] {
        let ws = Workspace::new();
        passing(&ws);
        let log = ws.write("fd3.txt", "earlier\n");
        let inode = std::fs::metadata(&log).unwrap().ino();
        // `sh` opens descriptor 3 for appending, then execs infracheck (`$0`) with it.
        let sh: [&std::ffi::OsStr; 3] = [
            "sh".as_ref(),
            "-c".as_ref(),
            "exec \"$0\" \"$@\" 3>>fd3.txt".as_ref(),
        ];
        let out = infracheck_command_via(ws.path(), &sh)
            .args(["run", "--env", "t", "--json", path])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{path}: {}", stderr(&out));
        assert_eq!(std::fs::metadata(&log).unwrap().ino(), inode, "{path}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("earlier\n{\n"), "{path}: {text}");
        assert_eq!(json_tail(&text)["results"][0]["name"], "ok");
        assert!(stdout(&out).contains("PASS  ok"));
    }
}

#[test]
fn two_reports_on_one_stream_are_refused_with_exit_2() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: ok, command: [\"touch\", \"ran\"]}\n",
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["--json", "-", "--tap", "-"],
            "--json and --tap both write to stdout",
        ),
        (
            &["--output", "json", "--json", "-"],
            "--output json and --json both write to stdout",
        ),
        (
            &["--json", "/dev/stdout", "--junit", "-"],
            "--json and --junit both write to stdout",
        ),
        (
            &["--output", "junit", "--sarif", "/dev/stdout"],
            "--output junit and --sarif both write to stdout",
        ),
        (
            &["--sarif", "/dev/stderr", "--html", "/proc/self/fd/2"],
            "--sarif and --html both write to stderr",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["run", "--env", "t"];
        all.extend_from_slice(args);
        let out = ws.run(&all, &[]);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert!(
            !Path::new(&ws.path().join("ran")).exists(),
            "{args:?}: a check ran"
        );
    }
    // One document per stream is fine: JSON on stdout, TAP on stderr.
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--output",
            "json",
            "--tap",
            "/dev/stderr",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json_tail(&format!("\n{}", stdout(&out)))["results"][0]["name"],
        "ok"
    );
    assert!(stderr(&out).contains("TAP version 14"), "{}", stderr(&out));
}
