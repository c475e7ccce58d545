//! `--history`: ten runs against a real nginx whose latency (`echo_sleep`) and status change
//! between runs give the expected counts, percentiles, flaky list and trend glyphs; and every
//! edge case: first run, new and removed checks, another environment in the same file, a
//! corrupt or newer file, shards, and `merge --history`.

use crate::support::nginx::Nginx;
use crate::support::{Workspace, code, json, read, result, stderr, stdout};

fn site() -> Nginx {
    Nginx::start(
        r#"location = /fast { return 200 "ok"; }
        location = /slow { echo_sleep 1; echo "ok"; }
        location = /down { return 503 "down"; }"#,
    )
}

/// Run `i` (0-based) of ten: `api` is fast for seven runs then slow (1 s), `flappy` is down in
/// runs 1 and 4, `gone` exists in the first three runs only, `fresh` from the last run on.
fn config(base: &str, i: usize) -> String {
    let api = if i >= 7 { "slow" } else { "fast" };
    let flappy = if i == 1 || i == 4 { "down" } else { "fast" };
    let mut c = format!(
        "environments:\n  prod:\n    http_checks:\n      - {{name: api, url: \"{base}/{api}\", warn_latency: 10s}}\n      - {{name: flappy, url: \"{base}/{flappy}\"}}\n"
    );
    if i < 3 {
        c.push_str(&format!("      - {{name: gone, url: \"{base}/fast\"}}\n"));
    }
    if i == 9 {
        c.push_str(&format!("      - {{name: fresh, url: \"{base}/fast\"}}\n"));
    }
    c
}

/// The latency of check `name` in every run of a history file that has it, oldest first.
fn latencies(history: &serde_json::Value, name: &str) -> Vec<u64> {
    history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|run| {
            run["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
        })
        .map(|c| c["latency_ms"].as_u64().unwrap())
        .collect()
}

#[test]
fn ten_runs_give_counts_percentiles_flaky_checks_and_glyphs() {
    let site = site();
    let ws = Workspace::new();
    let mut last = None;
    for i in 0..10 {
        ws.write("c.yaml", &config(&site.base(), i));
        let out = ws.run(
            &[
                "run",
                "-c",
                "c.yaml",
                "--env",
                "prod",
                "--history",
                "cache/h.json",
                "--json",
                "r.json",
                "--markdown",
                "r.md",
                "--html",
                "r.html",
            ],
            &[],
        );
        let want = if i == 1 || i == 4 { 1 } else { 0 };
        assert_eq!(code(&out), want, "run {i}: {}", stderr(&out));
        if i == 0 {
            assert!(
                stderr(&out).contains("notice: history cache/h.json does not exist yet"),
                "{}",
                stderr(&out)
            );
            assert!(stdout(&out).contains("  new: no history yet  "));
        }
        last = Some(out);
    }
    let out = last.unwrap();
    let text = stdout(&out);
    // api: seven fast runs then three slow ones, as the history file recorded them. A slow
    // run takes at least 1000 ms whatever the machine (nginx sleeps 1 s); a fast one is a
    // `return 200` on loopback. `< 1000` is the one timing bound here and deliberately
    // generous: the test needs only fast below slow, and a loaded CI machine can stall a
    // request for hundreds of milliseconds.
    let api_ms = latencies(&json(&ws.path().join("cache/h.json")), "api");
    assert_eq!(api_ms.len(), 10, "{api_ms:?}");
    assert!(api_ms[..7].iter().all(|ms| *ms < 1000), "{api_ms:?}");
    assert!(api_ms[7..].iter().all(|ms| *ms >= 1000), "{api_ms:?}");
    // The trend shows exactly those latencies (the scaling is unit-tested beside
    // `sparkline`): the lowest glyph among the fast runs, the highest among the slow ones.
    let glyphs = infracheck::model::sparkline(&api_ms);
    let sorted = {
        let mut v = api_ms.clone();
        v.sort_unstable();
        v
    };
    // Nearest rank of ten: p50 is the 5th latency, a fast run; p95 the 10th, a slow one.
    let (p50, p95) = (sorted[4], sorted[9]);
    // A column of the check's own line (no second `trend` line), in the one duration format.
    let human = |ms: u64| infracheck::model::human_duration(std::time::Duration::from_millis(ms));
    let trend = format!(
        "{glyphs} · p50 {} · p95 {} · 0 of last 10 failed",
        human(p50),
        human(p95)
    );
    let api_line = text
        .lines()
        .find(|l| l.contains(" api "))
        .unwrap_or_else(|| panic!("a line for api: {text}"));
    assert!(
        api_line.contains(&trend),
        "glyphs of api: {trend} in {text}"
    );
    assert!(!text.contains("trend "), "no second line: {text}");
    let glyphs: Vec<char> = glyphs.chars().collect();
    assert!(
        glyphs[..7].contains(&'▁') && glyphs[7..].contains(&'▇'),
        "{glyphs:?}"
    );
    assert!(text.contains("2 of last 10 failed"), "flappy: {text}");
    let doc = json(&ws.path().join("r.json"));
    let api = &result(&doc, "api")["history"];
    assert_eq!(api["runs"], 10);
    assert_eq!(api["failures"], 0);
    assert_eq!(api["p50_ms"].as_u64(), Some(p50), "{api}");
    assert_eq!(api["p95_ms"].as_u64(), Some(p95), "{api}");
    assert!(p50 < 1000 && p95 >= 1000, "{api}");
    let flappy = &result(&doc, "flappy")["history"];
    assert_eq!(
        (flappy["runs"].as_u64(), flappy["failures"].as_u64()),
        (Some(10), Some(2))
    );
    // flappy is never the slow endpoint: every run, up or down, is quick (generous, as above).
    assert!(flappy["p95_ms"].as_u64().unwrap() < 1000, "{flappy}");
    // A new check has no history yet: a window of this run alone.
    assert_eq!(result(&doc, "fresh")["history"]["runs"], 1);
    let fresh = text.lines().find(|l| l.contains(" fresh ")).unwrap();
    assert!(fresh.contains("new: no history yet"), "fresh: {text}");

    let md = read(&ws.path().join("r.md"));
    let trends = md.find("### Trends").expect("a Trends section");
    assert!(trends < md.find("| Status | Check |").unwrap());
    assert!(
        md.contains("Over the last 10 runs of this environment"),
        "{md}"
    );
    assert!(md.contains("| api | "), "api is the worst mover: {md}");
    assert!(
        md.contains(
            "**Newly flaky** (failed at least twice in the window, passing now, 1): flappy"
        ),
        "{md}"
    );
    let html = read(&ws.path().join("r.html"));
    assert!(html.contains("<h2 id=\"h-passrate\">Pass rate</h2>"));
    assert_eq!(html.matches("aria-label=\"Latency trend&#58;").count(), 3);

    // The file: ten runs, `gone` still in the three oldest.
    let h = json(&ws.path().join("cache/h.json"));
    assert_eq!(h["schema_version"], 1);
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 10);
    let run0 = &runs[0];
    assert_eq!(run0["environment"], "prod");
    assert!(run0["started_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(run0["checks"][0]["name"], "api");
    assert_eq!(run0["checks"][0]["status"], "PASS");
    assert!(run0["checks"][0]["latency_ms"].is_u64());
    assert_eq!(runs[1]["checks"][1]["reason"], "http.status");
    // A removed check leaves the file with the last run that had it: keep 7 drops runs 0–3.
    ws.write("c.yaml", &config(&site.base(), 5));
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "prod",
            "--history",
            "cache/h.json",
            "--history-keep",
            "7",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let h = read(&ws.path().join("cache/h.json"));
    assert!(!h.contains("\"gone\""), "{h}");
    assert_eq!(
        json(&ws.path().join("cache/h.json"))["runs"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert!(
        stdout(&out).contains("of last 7 failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn environments_are_kept_apart_in_one_file() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  a:\n    command_checks:\n      - {name: x, command: [\"true\"]}\n  b:\n    command_checks:\n      - {name: x, command: [\"false\"]}\n",
    );
    for env in ["a", "a", "b"] {
        ws.run(
            &[
                "run",
                "-c",
                "c.yaml",
                "--env",
                env,
                "--history",
                "h.json",
                "--json",
                "r.json",
            ],
            &[],
        );
    }
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(
        result(&doc, "x")["history"]["runs"],
        1,
        "b's window has only b's run"
    );
    let h = json(&ws.path().join("h.json"));
    let envs: Vec<&str> = h["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["a", "a", "b"]);
    // Back to a: its window continues with its own runs.
    ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "a",
            "--history",
            "h.json",
            "--history-keep",
            "2",
            "--json",
            "r.json",
        ],
        &[],
    );
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "x")["history"]["runs"], 2);
    let h = json(&ws.path().join("h.json"));
    assert_eq!(h["runs"].as_array().unwrap().len(), 3, "b's run is kept");
}

#[test]
fn unusable_files_and_shards_are_refused_before_any_check_runs() {
    let ws = Workspace::new();
    // The check would create `ran` if it ran.
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: x, command: [\"touch\", \"ran\"]}\n",
    );
    ws.write("corrupt.json", "{\"schema_version\": 1, \"runs\": [");
    ws.write("newer.json", "{\"schema_version\": 99, \"runs\": []}");
    ws.write(
        "other.json",
        "{\"schema_version\": 1, \"runs\": [], \"extra\": 1}",
    );
    std::fs::create_dir(ws.path().join("dir.json")).unwrap();
    for (file, expect) in [
        ("corrupt.json", "not a valid history file"),
        ("other.json", "not a valid history file"),
        (
            "newer.json",
            "schema_version 99 is newer than this infracheck reads (1)",
        ),
        ("dir.json", "cannot read"),
    ] {
        let before = std::fs::read(ws.path().join(file)).ok();
        let out = ws.run(
            &["run", "-c", "c.yaml", "--env", "t", "--history", file],
            &[],
        );
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
        assert!(
            err.starts_with(&format!("error: history {file}: ")) && err.contains(expect),
            "{file}: {err}"
        );
        assert!(stdout(&out).is_empty());
        assert_eq!(
            std::fs::read(ws.path().join(file)).ok(),
            before,
            "{file} untouched"
        );
    }
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--shard",
            "1/2",
            "--history",
            "h.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("infracheck merge --history"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path().join("ran").exists(), "no check ran");
    assert!(!ws.path().join("h.json").exists());
    // A report may not overwrite the history file.
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--history",
            "h.json",
            "--json",
            "h.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--json and --history both name h.json"),
        "{}",
        stderr(&out)
    );
    // --history-keep needs --history.
    let out = ws.run(
        &["run", "-c", "c.yaml", "--env", "t", "--history-keep", "3"],
        &[],
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn merge_records_the_whole_sharded_run_once() {
    let ws = Workspace::new();
    let mut c = String::from("environments:\n  t:\n    command_checks:\n");
    for i in 0..6 {
        c.push_str(&format!("      - {{name: c{i}, command: [\"true\"]}}\n"));
    }
    ws.write("c.yaml", &c);
    for k in 1..=2 {
        let out = ws.run(
            &[
                "run",
                "-c",
                "c.yaml",
                "--env",
                "t",
                "--shard",
                &format!("{k}/2"),
                "--json",
                &format!("s{k}.json"),
            ],
            &[],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    for _ in 0..2 {
        let out = ws.run(&["merge", "s1.json", "s2.json", "--history", "h.json"], &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let h = json(&ws.path().join("h.json"));
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1]["checks"].as_array().unwrap().len(),
        6,
        "every check, once"
    );
}
