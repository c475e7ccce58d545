//! What a run says about itself, held end to end: an interrupted deploy gate says it was
//! interrupted, the HTML commit falls back to `CI_COMMIT_SHA`, `--latency-min-increase` decides
//! what is a latency regression, and an absurd history latency is dropped with a warning
//! instead of flattening every trend.

use crate::support::{Workspace, closed_port, code, json, read, result, stderr, stdout};

const PASSING: &str =
    "environments:\n  t:\n    command_checks:\n      - {name: a, command: [\"true\"]}\n";

/// A deploy gate ended by SIGINT or SIGTERM says so in every report, and not that its deadline
/// passed (the deadline here is an hour away).
#[test]
fn an_interrupted_deploy_gate_says_interrupted_not_deadline() {
    for (signal, name, exit) in [
        (nix::sys::signal::Signal::SIGINT, "SIGINT", 130),
        (nix::sys::signal::Signal::SIGTERM, "SIGTERM", 143),
    ] {
        let closed = closed_port();
        let ws = Workspace::new();
        ws.write(
            "c.yaml",
            &format!(
                "environments:\n  t:\n    tcp_checks:\n      - {{name: never, host: 127.0.0.1, port: {}}}\n",
                closed.port
            ),
        );
        let (status, out, err) = run_gate_signalled(&ws, signal);
        assert_eq!(status, exit, "{name}: {out}{err}");
        let line = format!("deploy gate: interrupted by {name} before every check was healthy");
        assert!(out.contains(&line), "{name}: {out}");
        assert!(!out.contains("NOT healthy before"), "{name}: {out}");
        for f in ["r.md", "r.html"] {
            // Markdown escapes punctuation (`gate\:`), HTML the colon (`gate&#58;`).
            let text = read(&ws.path().join(f))
                .replace('\\', "")
                .replace("&#58;", ":");
            assert!(text.contains(&line), "{name} {f}: {text}");
            assert!(!text.contains("NOT healthy before"), "{name} {f}: {text}");
        }
        let doc = json(&ws.path().join("r.json"));
        assert_eq!(doc["gate"]["healthy"], false);
    }
}

/// Run a never-healthy deploy gate (deadline 1h) and send `signal` once its first round is
/// reported. Returns the exit code, stdout and stderr.
fn run_gate_signalled(ws: &Workspace, signal: nix::sys::signal::Signal) -> (i32, String, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = crate::support::infracheck_command(ws.path())
        .args([
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            "1h",
            "--interval",
            "50ms",
            "--json",
            "r.json",
            "--markdown",
            "r.md",
            "--html",
            "r.html",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).unwrap();
        assert!(n > 0, "ended before its first round: {seen}");
        seen.push_str(&line);
        if line.starts_with("infracheck: round 1: ") {
            break;
        }
    }
    crate::support::signal(child.id(), signal);
    err.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), reader.join().unwrap(), seen)
}

#[test]
fn the_html_commit_falls_back_to_ci_commit_sha() {
    let ws = Workspace::new();
    ws.write("c.yaml", PASSING);
    let gitlab = "0123456789abcdef0123456789abcdef01234567";
    let github = "fedcba9876543210fedcba9876543210fedcba98";
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--html", "gl.html"],
        &[("CI_COMMIT_SHA", gitlab)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read(&ws.path().join("gl.html")).contains(gitlab));
    // GITHUB_SHA first when both are set.
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--html", "gh.html"],
        &[("CI_COMMIT_SHA", gitlab), ("GITHUB_SHA", github)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let html = read(&ws.path().join("gh.html"));
    assert!(html.contains(github) && !html.contains(gitlab), "{html}");
    // Neither: no commit line.
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--html", "none.html"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!read(&ws.path().join("none.html")).contains(">Commit<"));
}

/// The baseline says the check took 0 ms; now it sleeps 300 ms (at least: `sleep` never
/// returns early), far more than `--latency-factor` 2 times slower. Whether that is a
/// regression is `--latency-min-increase`'s call: 50 ms says yes, 1 h says no.
#[test]
fn latency_min_increase_decides_what_counts_as_slower() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: slow, command: [\"sleep\", \"0.3\"]}\n",
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "base.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut base = json(&ws.path().join("base.json"));
    base["results"][0]["duration_ms"] = 0.into();
    std::fs::write(
        ws.path().join("base.json"),
        serde_json::to_vec(&base).unwrap(),
    )
    .unwrap();
    for (min, regression) in [("50ms", true), ("1h", false)] {
        let file = format!("now-{min}.json");
        let out = ws.run(
            &[
                "-c",
                "c.yaml",
                "--env",
                "t",
                "--baseline",
                "base.json",
                "--latency-min-increase",
                min,
                "--json",
                &file,
            ],
            &[],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let doc = json(&ws.path().join(&file));
        assert_eq!(
            result(&doc, "slow")["baseline"]["latency_regression"],
            regression,
            "--latency-min-increase {min}: {doc}"
        );
        assert_eq!(
            doc["baseline"]["latency_regressions"],
            u64::from(regression),
            "{doc}"
        );
        let text = stdout(&out);
        assert_eq!(text.contains("slower"), regression, "{min}: {text}");
    }
}

/// A history record of 2^64−1 ms is no latency infracheck wrote: the run warns, drops it, and
/// the trend still shows the real spread (`▇` for the slowest real run), where the one absurd
/// value used to flatten it to `▁▁▁▁`.
#[test]
fn an_absurd_history_latency_is_dropped_with_a_warning() {
    let ws = Workspace::new();
    ws.write("c.yaml", PASSING);
    let record = |ms: u64| {
        format!(
            r#"{{"started_at":"2026-12-01T10:00:00Z","environment":"t","checks":[{{"name":"a","status":"PASS","reason":null,"latency_ms":{ms}}}]}}"#
        )
    };
    let runs: Vec<String> = [100_000, u64::MAX, 300_000, 200_000]
        .into_iter()
        .map(record)
        .collect();
    ws.write(
        "h.json",
        &format!(r#"{{"schema_version":1,"runs":[{}]}}"#, runs.join(",")),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--history",
            "h.json",
            "--json",
            "r.json",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains("warning: history h.json: ignored 1 check record with a latency above"),
        "{err}"
    );
    let text = stdout(&out);
    // The trend is a column of the check's own row.
    let trend = text
        .lines()
        .find(|l| l.contains("PASS  a "))
        .unwrap_or_else(|| panic!("no row of check a: {text}"));
    // 100 s, 300 s, 200 s, then this run (milliseconds): the 300 s run is the tallest glyph.
    assert!(trend.contains("▂▇▅▁"), "{trend}");
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "a")["history"]["runs"], 4, "{doc}");
    let file = read(&ws.path().join("h.json"));
    assert!(!file.contains(&u64::MAX.to_string()), "{file}");
}
