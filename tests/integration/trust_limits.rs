//! Limits that hold against hostile input and concurrent runs: aliases are held to a budget in
//! bytes (one aliased megabyte repeated is refused at the alias, quickly, in bounded memory),
//! and runs sharing one `--history` file never lose a record.

use std::ffi::OsStr;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Workspace, code, infracheck_command, infracheck_command_via, stderr};

/// `infracheck validate -c FILE` with its address space capped at about 400 MB
/// (`ulimit -v 400000`), in the tests' clean environment.
fn validate_limited(ws: &Workspace, file: &str) -> Output {
    let sh: [&OsStr; 3] = [
        "sh".as_ref(),
        "-c".as_ref(),
        "ulimit -v 400000 && exec \"$0\" \"$@\"".as_ref(),
    ];
    let out = infracheck_command_via(ws.path(), &sh)
        .args(["validate", "-c", file])
        .output()
        .expect("run sh");
    assert!(
        out.status.code().is_some(),
        "killed by a signal: {:?} {}",
        out.status,
        stderr(&out)
    );
    out
}

/// `a0: &a0 "<1 MB of x>"` then a list of `aliases` × `*a0`.
fn megabyte_aliases(aliases: usize) -> String {
    let mut doc = format!("a0: &a0 \"{}\"\nlist:\n", "x".repeat(1 << 20));
    doc.push_str(&"  - *a0\n".repeat(aliases));
    doc
}

#[test]
fn an_aliased_megabyte_is_refused_at_the_alias_under_a_memory_limit() {
    for aliases in [1_000, 20_000] {
        let ws = Workspace::new();
        ws.write("big.yaml", &megabyte_aliases(aliases));
        let started = Instant::now();
        let out = validate_limited(&ws, "big.yaml");
        let took = started.elapsed();
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{aliases} aliases: {err}");
        // The 31st alias (line 33) takes the text past 32 MiB: the string itself and 31 copies.
        assert!(
            err.contains("big.yaml:33:5: aliases expand to more than 33554432 bytes of text"),
            "{aliases} aliases: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        // A generous regression bound for an unoptimised build on a busy machine: before the
        // byte budget this took 3.6 s and 2 GB in a release build (20,000 aliases aborted).
        assert!(
            took < Duration::from_secs(10),
            "{aliases} aliases took {took:?}"
        );
    }
    // Aliases within the budget are expanded.
    let ws = Workspace::new();
    ws.write(
        "ok.yaml",
        &format!(
            "environments:\n  t:\n    command_checks:\n      - {{name: ok, command: [\"true\", &big \"{}\", *big, *big, *big]}}\n",
            "y".repeat(1 << 20)
        ),
    );
    let out = validate_limited(&ws, "ok.yaml");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// A config whose one check passes.
fn passing(ws: &Workspace) {
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: ok, command: [\"true\"]}\n",
    );
}

/// The runs recorded in a history file.
fn recorded(ws: &Workspace) -> usize {
    crate::support::json(&ws.path().join("h.json"))["runs"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn twenty_concurrent_runs_sharing_one_history_file_keep_twenty_records() {
    let ws = Workspace::new();
    passing(&ws);
    let children: Vec<std::process::Child> = (0..20)
        .map(|_| {
            infracheck_command(ws.path())
                .args(["run", "--env", "t", "--history", "h.json"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn infracheck")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for infracheck");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    assert_eq!(recorded(&ws), 20);
}

#[test]
fn a_history_lock_that_cannot_be_had_is_a_one_line_error() {
    let ws = Workspace::new();
    passing(&ws);
    let out = ws.run(&["run", "--env", "t", "--history", "h.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(recorded(&ws), 1);
    // Another run holds the lock (this test, for as long as `held` lives).
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(ws.path().join("h.json.lock"))
        .expect("the lock file stays beside the history");
    held.lock().expect("lock");
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--history",
            "h.json",
            "--json",
            "r.json",
        ],
        &[],
    );
    drop(held);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(
        lines,
        [
            "error: history h.json: cannot lock h.json.lock: another run held it for 10s (its update did not finish)"
        ],
        "{err}"
    );
    // The reports are still written; the history is left as it was.
    assert_eq!(
        crate::support::json(&ws.path().join("r.json"))["summary"]["pass"],
        1
    );
    assert_eq!(recorded(&ws), 1);
    // A lock file that cannot be opened is refused the same way, at once.
    std::fs::remove_file(ws.path().join("h.json.lock")).unwrap();
    std::fs::create_dir(ws.path().join("h.json.lock")).unwrap();
    let out = ws.run(&["run", "--env", "t", "--history", "h.json"], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: history h.json: cannot lock h.json.lock: Is a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(recorded(&ws), 1);
}
