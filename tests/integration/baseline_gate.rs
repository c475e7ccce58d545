//! `--baseline` / `--fail-on new` and the deploy gate (`--until-healthy --deadline
//! --interval`) end to end: a real nginx whose files the test adds and removes between runs,
//! an `openssl s_server` for the certificate countdown, and every report format validated as
//! the rest of the suite does.

use std::path::{Path, PathBuf};

use crate::metrics;
use crate::reports::validate;
use crate::support::faults::{Fault, FaultServer};
use crate::support::tls_server::{Pki, TlsServer};
use crate::support::{
    Workspace, code, json, nginx::Nginx, read, result, run_gate_acting_after_round_one, stderr,
    stdout,
};

/// nginx serving `root` as static files, logging every request to `root/../access.log`, plus
/// `/still`, which always answers 503.
fn nginx_serving(root: &Path, log: &Path) -> Nginx {
    Nginx::start(&format!(
        r#"
        location = /still {{ return 503 'still down'; }}
        location / {{ root {root}; access_log {log}; }}
        "#,
        root = root.display(),
        log = log.display()
    ))
}

/// How many requests for `path` nginx logged.
fn requests(log: &Path, path: &str) -> usize {
    let needle = format!("\"GET {path} HTTP/");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

struct Site {
    ws: Workspace,
    www: PathBuf,
    log: PathBuf,
    nginx: Nginx,
}

impl Site {
    fn new() -> Site {
        let ws = Workspace::new();
        let www = ws.path().join("www");
        std::fs::create_dir_all(&www).expect("mkdir www");
        let log = ws.path().join("access.log");
        let nginx = nginx_serving(&www, &log);
        Site {
            ws,
            www,
            log,
            nginx,
        }
    }

    fn file(&self, name: &str, present: bool) {
        let p = self.www.join(name);
        if present {
            std::fs::write(&p, "ok").expect("write page");
        } else if p.exists() {
            std::fs::remove_file(&p).expect("remove page");
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.nginx.base())
    }
}

#[test]
fn baseline_marks_changes_in_every_report_and_fail_on_new_gates_only_new_failures() {
    let site = Site::new();
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("countdown", 40);
    let tls = TlsServer::start(&cert, &key, None, &[]);
    let ca = pki.ca_file();
    let checks = format!(
        r#"    http_checks:
      - {{name: stays-up, url: "{a}"}}
      - {{name: goes-down, url: "{b}"}}
      - {{name: comes-up, url: "{c}"}}
      - {{name: still-down, url: "{still}"}}
    tls_checks:
      - {{name: cert, host: 127.0.0.1, port: {tls}, server_name: app.test, ca_file: "{ca}"}}
    command_checks:
      - {{name: slow, command: ["sleep", "0.3"]}}
"#,
        a = site.url("/a"),
        b = site.url("/b"),
        c = site.url("/c"),
        still = site.url("/still"),
        tls = tls.port,
        ca = ca.display(),
    );
    let ws = &site.ws;
    // The earlier run also had a check that has been removed since.
    ws.write(
        "before.yaml",
        &format!("environments:\n  t:\n{checks}      - {{name: retired, command: [\"true\"]}}\n"),
    );
    ws.write("now.yaml", &format!("environments:\n  t:\n{checks}"));

    site.file("a", true);
    site.file("b", true);
    site.file("c", false);
    let first = ws.run(
        &["-c", "before.yaml", "--env", "t", "--json", "before.json"],
        &[],
    );
    assert_eq!(code(&first), 1, "{}{}", stdout(&first), stderr(&first));
    // The baseline run was fast for `slow` (an earlier, quicker version of the service: 1 ms,
    // where `sleep 0.3` cannot take less than 300 ms) and took a minute for every other check,
    // so however slow this machine is, exactly one check is slower than the baseline.
    let mut doc = json(&ws.path().join("before.json"));
    for r in doc["results"].as_array_mut().expect("results") {
        let ms = if r["name"] == "slow" { 1 } else { 60_000 };
        r["duration_ms"] = serde_json::json!(ms);
    }
    ws.write("before.json", &doc.to_string());

    site.file("b", false);
    site.file("c", true);
    let summary = ws.path().join("step-summary.md");
    let outputs = ws.path().join("github-output.txt");
    let (summary_s, outputs_s) = (summary.display().to_string(), outputs.display().to_string());
    let out = ws.run(
        &[
            "-c",
            "now.yaml",
            "--env",
            "t",
            "--baseline",
            "before.json",
            "--json",
            "now.json",
            "--junit",
            "now.xml",
            "--sarif",
            "now.sarif",
            "--markdown",
            "now.md",
            "--codequality",
            "cq.json",
            "--prometheus",
            "now.prom",
            "--github",
        ],
        &[
            ("GITHUB_STEP_SUMMARY", &summary_s),
            ("GITHUB_OUTPUT", &outputs_s),
        ],
    );
    let text = stdout(&out);
    let annotations = stderr(&out);
    // The default stays "any FAIL".
    assert_eq!(code(&out), 1, "{text}{annotations}");
    assert!(
        text.contains("changes since baseline (before.json, run of ",)
            && text.contains(
                "1 new failure, 1 still failing, 1 recovered, 3 unchanged, 1 slower, 1 removed"
            ),
        "{text}"
    );
    assert!(text.contains("removed since baseline: retired"), "{text}");
    assert!(text.contains("— NEW (was PASS)"), "{text}");
    assert!(text.contains("— STILL failing (was FAIL)"), "{text}");
    assert!(text.contains("— RECOVERED (was FAIL)"), "{text}");
    assert!(text.contains("— slower: 1 ms → "), "{text}");
    assert!(
        text.contains("certificate: 40 days left (was 40)"),
        "{text}"
    );

    // JSON: per result and for the run.
    let doc = json(&ws.path().join("now.json"));
    let change = |name: &str| result(&doc, name)["baseline"]["change"].clone();
    assert_eq!(change("goes-down"), "NEW");
    assert_eq!(change("still-down"), "STILL");
    assert_eq!(change("comes-up"), "RECOVERED");
    assert_eq!(change("stays-up"), "unchanged");
    assert_eq!(
        result(&doc, "goes-down")["baseline"]["previous_status"],
        "PASS"
    );
    assert_eq!(result(&doc, "slow")["baseline"]["latency_regression"], true);
    assert_eq!(
        result(&doc, "stays-up")["baseline"]["latency_regression"],
        false
    );
    let cert = &result(&doc, "cert")["baseline"]["certificate"];
    assert_eq!(cert["days_left"], 40, "{cert}");
    assert_eq!(cert["previous_days_left"], 40, "{cert}");
    assert_eq!(cert["renewed"], false, "{cert}");
    let b = &doc["baseline"];
    assert_eq!(
        (&b["new"], &b["still"], &b["recovered"], &b["unchanged"]),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(3)
        ),
        "{b}"
    );
    assert_eq!(b["removed"], serde_json::json!(["retired"]));
    assert_eq!(b["latency_regressions"], 1);
    assert_eq!(b["path"], "before.json");
    assert_eq!(doc["fail_on"], "any");

    // Markdown (file and step summary) starts with the changes.
    for md in [read(&ws.path().join("now.md")), read(&summary)] {
        assert!(
            md.starts_with("## infracheck · t\n\n### Changes since baseline\n"),
            "{md}"
        );
        let new = md.find("| 🆕 NEW | goes-down |").expect("NEW row");
        let recovered = md
            .find("| 💚 RECOVERED | comes-up |")
            .expect("RECOVERED row");
        let still = md.find("| 🔁 STILL | still-down |").expect("STILL row");
        let slower = md.find("| 🐢 slower | slow |").expect("slower row");
        let table = md.find("| Status | Check |").expect("results table");
        assert!(new < recovered && recovered < still && still < slower && slower < table);
        assert!(md.contains("Removed since baseline (1): retired"), "{md}");
        assert!(md.contains("**Certificate countdown**"), "{md}");
        assert!(md.contains("| cert | 40 | 40 |"), "{md}");
    }

    // JUnit: valid, with the change in the failure text and the counts as suite properties.
    let junit = ws.path().join("now.xml");
    validate::junit(&junit);
    let xml = read(&junit);
    assert!(xml.contains("since baseline: NEW (was PASS)"), "{xml}");
    assert!(
        xml.contains(r#"<property name="baseline.new" value="1"/>"#),
        "{xml}"
    );

    // SARIF: valid, with the standard baselineState.
    let sarif_path = ws.path().join("now.sarif");
    validate::sarif(&sarif_path);
    let sarif = json(&sarif_path);
    let state = |check: &str| {
        sarif["runs"][0]["results"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["properties"]["check"] == check))
            .map(|r| r["baselineState"].clone())
            .unwrap_or_else(|| panic!("no SARIF result for {check}: {sarif}"))
    };
    assert_eq!(state("goes-down"), "new");
    let change_prop = sarif["runs"][0]["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["properties"]["check"] == "goes-down"))
        .map(|r| r["properties"]["change"].clone());
    assert_eq!(change_prop, Some(serde_json::json!("NEW")));
    assert_eq!(state("still-down"), "unchanged");

    // Code Quality names the new failure.
    let issues = validate::codequality(&ws.path().join("cq.json"));
    assert!(
        issues.iter().any(|i| i["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("goes-down [http.status] (new since baseline)"))),
        "{issues:?}"
    );

    // Prometheus: parsed by the reference client.
    let samples = metrics::parse(&ws.path().join("now.prom"));
    let changed = |check: &str, change: &str| {
        metrics::value(
            &samples,
            "infracheck_check_baseline_change",
            &[("check", check), ("change", change)],
        )
    };
    assert_eq!(changed("goes-down", "new"), Some(1.0), "{samples:?}");
    assert_eq!(changed("goes-down", "still"), Some(0.0));
    assert_eq!(changed("comes-up", "recovered"), Some(1.0));
    assert_eq!(
        metrics::value(
            &samples,
            "infracheck_check_latency_regression",
            &[("check", "slow")]
        ),
        Some(1.0)
    );

    // GitHub: the annotation says NEW, the outputs count.
    assert!(
        annotations.contains("title=goes-down [http.status] NEW since baseline::"),
        "{annotations}"
    );
    assert!(
        annotations.contains("Since baseline: 1 new failure"),
        "{annotations}"
    );
    let outs = read(&outputs);
    assert!(
        outs.contains("new_failures=1\nstill_failing=1\nrecovered=1\nlatency_regressions=1\n"),
        "{outs}"
    );

    // `--fail-on new`: the NEW failure still fails the run…
    let out = ws.run(
        &[
            "-c",
            "now.yaml",
            "--env",
            "t",
            "--baseline",
            "before.json",
            "--fail-on",
            "new",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    // …but against a baseline that already had both failures, known failures do not.
    let out = ws.run(
        &[
            "-c",
            "now.yaml",
            "--env",
            "t",
            "--baseline",
            "now.json",
            "--fail-on",
            "new",
            "--json",
            "again.json",
        ],
        &[],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(
        text.contains("(--fail-on new: 2 known failures since the baseline)"),
        "{text}"
    );
    let again = json(&ws.path().join("again.json"));
    assert_eq!(again["fail_on"], "new");
    assert_eq!(again["status"], "warned");
    assert_eq!(again["baseline"]["new"], 0);
    assert_eq!(again["baseline"]["still"], 2);
}

#[test]
fn unusable_baselines_are_refused_before_any_check_runs() {
    let site = Site::new();
    site.file("a", true);
    let ws = &site.ws;
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: a, url: \"{}\"}}\n",
            site.url("/a")
        ),
    );
    let first = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "t.json"], &[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let mut other = json(&ws.path().join("t.json"));
    other["environment"] = serde_json::json!("stage");
    ws.write("stage.json", &other.to_string());
    let mut newer = json(&ws.path().join("t.json"));
    newer["schema_version"] = serde_json::json!(99);
    ws.write("newer.json", &newer.to_string());
    ws.write("garbage.json", "{\"schema_version\": 1, \"results\": [");
    // Something that exists but cannot be read as a file (a missing file is a first run).
    std::fs::create_dir(ws.path().join("dir.json")).unwrap();
    let before = requests(&site.log, "/a");
    for (file, expect) in [
        ("dir.json", "cannot read"),
        ("garbage.json", "not a valid JSON document"),
        (
            "stage.json",
            "environment `stage` differs from this run's `t`",
        ),
        ("newer.json", "schema_version 99 is newer"),
    ] {
        let out = ws.run(&["-c", "c.yaml", "--env", "t", "--baseline", file], &[]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
        assert!(
            err.starts_with(&format!("error: baseline {file}: ")) && err.contains(expect),
            "{file}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{file}: no report");
    }
    assert_eq!(requests(&site.log, "/a"), before, "no check ran");

    // Flags that only make sense together.
    for (args, expect) in [
        (vec!["--fail-on", "new"], "--baseline"),
        (vec!["--until-healthy"], "--deadline"),
        (vec!["--interval", "1s"], "--until-healthy"),
        (
            vec!["--until-healthy", "--deadline", "1m", "--interval", "1ms"],
            "shorter than the minimum of 10ms",
        ),
        (
            vec!["--baseline", "t.json", "--latency-factor", "0.5"],
            "invalid factor",
        ),
    ] {
        let mut all = vec!["-c", "c.yaml", "--env", "t"];
        all.extend(args.iter().copied());
        let out = ws.run(&all, &[]);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_baseline_that_does_not_exist_yet_is_a_first_run() {
    let site = Site::new();
    site.file("a", true);
    let ws = &site.ws;
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: a, url: \"{}\"}}\n      - {{name: gone, url: \"{}\"}}\n",
            site.url("/a"),
            site.url("/gone")
        ),
    );
    // The cache-restore pattern: the first job finds no baseline; it rolls into --json.
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--baseline",
            "last.json",
            "--fail-on",
            "new",
            "--json",
            "last.json",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "the failure is new: {err}");
    assert!(
        err.contains("notice: baseline last.json does not exist yet: a first run, every failure counts as new"),
        "{err}"
    );
    let doc = json(&ws.path().join("last.json"));
    assert_eq!(doc["baseline"]["new"], 1, "{doc}");
    assert_eq!(result(&doc, "gone")["baseline"]["change"], "NEW");
    // The second job has one: the same failure is known, and `-q` keeps stderr quiet.
    let again = ws.run(
        &[
            "-q",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--baseline",
            "last.json",
            "--fail-on",
            "new",
        ],
        &[],
    );
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(!stderr(&again).contains("first run"));
}

#[test]
fn deploy_gate_reruns_only_unhealthy_checks_until_healthy() {
    let site = Site::new();
    site.file("static", true);
    site.file("ready", false);
    let ws = &site.ws;
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: static, url: \"{s}\"}}\n      - {{name: web, url: \"{r}\"}}\n",
            s = site.url("/static"),
            r = site.url("/ready")
        ),
    );
    // The first round is over when infracheck says what it waits for: deploy the page then.
    let (exit, text, err) = run_gate_acting_after_round_one(
        ws.path(),
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            "60s",
            "--interval",
            "50ms",
            "--json",
            "gate.json",
            "--junit",
            "gate.xml",
            "--markdown",
            "gate.md",
            "--prometheus",
            "gate.prom",
        ],
        &[],
        || site.file("ready", true),
    );
    assert_eq!(exit, 0, "{text}{err}");
    assert!(
        err.contains("round 1: 1 of 2 checks not healthy yet (web); next round in 50ms"),
        "{err}"
    );
    assert!(text.contains("deploy gate: healthy after "), "{text}");

    let doc = json(&ws.path().join("gate.json"));
    let gate = &doc["gate"];
    assert_eq!(gate["healthy"], true, "{gate}");
    assert_eq!(gate["interval_ms"], 50);
    assert_eq!(gate["deadline_ms"], 60_000);
    let rounds = gate["rounds"].as_u64().expect("rounds");
    assert!(rounds >= 2, "{gate}");
    let web = &result(&doc, "web")["gate"];
    let stat = &result(&doc, "static")["gate"];
    assert_eq!(stat["rounds"], 1, "{stat}");
    assert_eq!(stat["healthy_round"], 1, "{stat}");
    assert_eq!(web["healthy_round"], serde_json::json!(rounds), "{web}");
    assert_eq!(web["rounds"], serde_json::json!(rounds), "{web}");
    assert!(web["healthy_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    let web_after = web["healthy_after_ms"]
        .as_u64()
        .expect("web healthy_after_ms");
    let stat_after = stat["healthy_after_ms"]
        .as_u64()
        .expect("static healthy_after_ms");
    assert!(web_after >= stat_after, "{web} {stat}");
    assert_eq!(result(&doc, "web")["status"], "PASS");
    assert_eq!(doc["interrupted"], serde_json::Value::Null);

    // Only the unhealthy check was rerun, once per round.
    assert_eq!(requests(&site.log, "/static"), 1);
    assert_eq!(
        requests(&site.log, "/ready"),
        usize::try_from(rounds).expect("rounds")
    );

    let junit = ws.path().join("gate.xml");
    validate::junit(&junit);
    let xml = read(&junit);
    assert!(
        xml.contains(r#"<property name="gate.healthy" value="true"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains("deploy gate: healthy after ") && xml.contains(&format!("(round {rounds})")),
        "{xml}"
    );
    let md = read(&ws.path().join("gate.md"));
    assert!(md.contains("✅ deploy gate\\: healthy after "), "{md}");
    assert!(md.contains(&format!("(round {rounds})")), "{md}");
    let samples = metrics::parse(&ws.path().join("gate.prom"));
    assert_eq!(
        metrics::value(&samples, "infracheck_gate_healthy", &[("environment", "t")]),
        Some(1.0)
    );
    assert_eq!(
        metrics::value(&samples, "infracheck_gate_rounds", &[("environment", "t")]),
        Some(rounds as f64)
    );
}

#[test]
fn deploy_gate_fails_when_the_deadline_passes_and_keeps_the_real_failure() {
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: never, host: 127.0.0.1, port: {closed}}}
    command_checks:
      - {{name: fine, command: ["true"]}}
"#
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            crate::support::GATE_DEADLINE,
            "--interval",
            "100ms",
            "--json",
            "gate.json",
        ],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "deploy gate: NOT healthy before the {} deadline",
            crate::support::GATE_DEADLINE
        )),
        "{text}"
    );
    assert!(text.contains("(deadline reached)"), "{text}");
    let doc = json(&ws.path().join("gate.json"));
    assert_eq!(doc["gate"]["healthy"], false);
    assert_eq!(doc["interrupted"], "deadline");
    let never = result(&doc, "never");
    assert_eq!(never["status"], "FAIL");
    // The last real answer, not "the deadline passed".
    assert_eq!(never["reason"], "tcp.refused", "{never}");
    assert_eq!(never["gate"]["healthy_round"], serde_json::Value::Null);
    assert_eq!(result(&doc, "fine")["gate"]["healthy_round"], 1);
}

#[test]
fn deploy_gate_does_not_wait_for_a_waived_failure() {
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"waivers:
  - {{check: "vendor-*", reason: "vendor outage, ticket 42", expires: 2026-12-31}}
environments:
  t:
    tcp_checks:
      - {{name: vendor-api, host: 127.0.0.1, port: {closed}}}
    command_checks:
      - {{name: fine, command: ["true"]}}
"#
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            "60s",
            "--json",
            "gate.json",
        ],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("gate.json"));
    assert_eq!(doc["gate"]["rounds"], 1, "{}", doc["gate"]);
    assert_eq!(doc["gate"]["healthy"], true);
    assert_eq!(result(&doc, "vendor-api")["status"], "WAIVED");
    assert_eq!(result(&doc, "vendor-api")["gate"]["accepted"], true);
    assert!(
        !stderr(&out).contains("infracheck: round"),
        "no round report: {}",
        stderr(&out)
    );
}

#[test]
fn merge_carries_the_gate_and_compares_with_a_baseline() {
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    command_checks:\n      - {{name: one, command: [\"true\"]}}\n      - {{name: two, command: [\"true\"]}}\n      - {{name: three, command: [\"true\"]}}\n    tcp_checks:\n      - {{name: four, host: 127.0.0.1, port: {closed}}}\n"
        ),
    );
    let base = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "base.json"], &[]);
    assert_eq!(code(&base), 1, "{}", stderr(&base));
    let mut docs = Vec::new();
    for k in 1..=2 {
        let name = format!("shard-{k}.json");
        let shard = format!("{k}/2");
        let out = ws.run(
            &[
                "-c",
                "c.yaml",
                "--env",
                "t",
                "--shard",
                &shard,
                "--until-healthy",
                "--deadline",
                crate::support::GATE_DEADLINE,
                "--interval",
                "100ms",
                "--json",
                &name,
            ],
            &[],
        );
        assert!(matches!(code(&out), 0 | 1), "{}", stderr(&out));
        docs.push(name);
    }
    let mut args = vec!["merge"];
    args.extend(docs.iter().map(String::as_str));
    args.extend([
        "--baseline",
        "base.json",
        "--fail-on",
        "new",
        "--json",
        "merged.json",
    ]);
    let out = ws.run(&args, &[]);
    // `four` failed in the baseline too, but the gate was not healthy: the merged run fails.
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("merged.json"));
    assert_eq!(doc["gate"]["healthy"], false, "{}", doc["gate"]);
    assert_eq!(doc["baseline"]["still"], 1);
    assert_eq!(doc["baseline"]["new"], 0);
    assert_eq!(result(&doc, "four")["baseline"]["change"], "STILL");
    assert_eq!(result(&doc, "one")["gate"]["healthy_round"], 1);
}

#[test]
fn deploy_gate_keeps_a_check_blocked_by_a_waived_dependency_skipped() {
    // If `api` ever ran, it would reach this server and be counted.
    let counter = FaultServer::start(Fault::Hang);
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"waivers:
  - {{check: db, reason: "migration, ticket 9", expires: 2026-12-31}}
environments:
  t:
    tcp_checks:
      - {{name: db, host: 127.0.0.1, port: {closed}}}
    http_checks:
      - {{name: api, url: "{u}", timeout: 2s, depends_on: [db]}}
"#,
            u = counter.url("/")
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            crate::support::GATE_DEADLINE,
            "--interval",
            "100ms",
            "--json",
            "gate.json",
        ],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    // `db` is waived (healthy for the gate), but `api` stays blocked by it, as in a single run:
    // never run, SKIP, and the gate is not healthy.
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("gate.json"));
    assert_eq!(result(&doc, "db")["status"], "WAIVED");
    assert_eq!(result(&doc, "api")["status"], "SKIP");
    assert_eq!(result(&doc, "api")["reason"], "blocked");
    assert_eq!(doc["gate"]["healthy"], false);
    assert_eq!(
        counter.wait_for_requests(0),
        0,
        "the blocked check never ran"
    );
}

#[test]
fn merge_refuses_shards_with_and_without_the_gate() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: one, command: [\"true\"]}\n      - {name: two, command: [\"true\"]}\n      - {name: three, command: [\"true\"]}\n",
    );
    let a = ws.run(
        &[
            "-c", "c.yaml", "--env", "t", "--shard", "1/2", "--json", "a.json",
        ],
        &[],
    );
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    let b = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--shard",
            "2/2",
            "--until-healthy",
            "--deadline",
            "30s",
            "--json",
            "b.json",
        ],
        &[],
    );
    assert_eq!(code(&b), 0, "{}", stderr(&b));
    let out = ws.run(&["merge", "a.json", "b.json"], &[]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("b.json: ran with --until-healthy but a.json did not"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_check_whose_name_holds_a_secret_is_still_reported_and_gated() {
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: \"db ${{DB_TOKEN}}\", host: 127.0.0.1, port: {closed}}}\n    command_checks:\n      - {{name: fine, command: [\"true\"]}}\n"
        ),
    );
    for gated in [false, true] {
        let mut args = vec!["-c", "c.yaml", "--env", "t", "--json", "r.json"];
        if gated {
            args.extend([
                "--until-healthy",
                "--deadline",
                crate::support::GATE_DEADLINE,
                "--interval",
                "100ms",
            ]);
        }
        let out = ws.run(&args, &[("DB_TOKEN", "s3cr3t-sentinel")]);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        // The redacted name must not make the failing result disappear (a green run).
        assert_eq!(code(&out), 1, "gated={gated}: {all}");
        assert!(!all.contains("s3cr3t-sentinel"), "{all}");
        let doc = json(&ws.path().join("r.json"));
        assert_eq!(doc["summary"]["total"], 2, "gated={gated}: {doc}");
        assert_eq!(result(&doc, "db ***")["status"], "FAIL");
        if gated {
            assert_eq!(
                result(&doc, "db ***")["gate"]["healthy_round"],
                serde_json::Value::Null
            );
            assert_eq!(result(&doc, "fine")["gate"]["healthy_round"], 1);
        }
    }
}

#[test]
fn deploy_gate_with_fail_on_new_does_not_wait_for_known_failures() {
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: legacy, host: 127.0.0.1, port: {closed}}}\n    command_checks:\n      - {{name: fine, command: [\"true\"]}}\n"
        ),
    );
    let base = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "base.json"], &[]);
    assert_eq!(code(&base), 1, "{}", stderr(&base));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--baseline",
            "base.json",
            "--fail-on",
            "new",
            "--until-healthy",
            "--deadline",
            "60s",
            "--json",
            "gate.json",
        ],
        &[],
    );
    // `legacy` failed in the baseline too: the gate is healthy after one round.
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("gate.json"));
    assert_eq!(doc["gate"]["rounds"], 1, "{}", doc["gate"]);
    assert_eq!(doc["gate"]["healthy"], true);
    assert_eq!(result(&doc, "legacy")["status"], "FAIL");
    assert_eq!(result(&doc, "legacy")["baseline"]["change"], "STILL");
    assert_eq!(result(&doc, "legacy")["gate"]["accepted"], true);
    assert_eq!(
        result(&doc, "legacy")["gate"]["healthy_round"],
        serde_json::Value::Null
    );
    assert!(
        stdout(&out).contains("— failure accepted, not waited for"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn certificate_renewal_shows_in_the_countdown() {
    let pki = Pki::new();
    let ca = pki.ca_file();
    let ws = Workspace::new();
    let config = |port: u16| {
        format!(
            "environments:\n  t:\n    tls_checks:\n      - {{name: cert, host: 127.0.0.1, port: {port}, server_name: app.test, ca_file: \"{}\", warn_days: 14}}\n",
            ca.display()
        )
    };
    // Before: the certificate had 10 days left (a WARN).
    let (cert, key) = pki.leaf_days("old", 10);
    let old = TlsServer::start(&cert, &key, None, &[]);
    ws.write("c.yaml", &config(old.port));
    let first = ws.run(
        &["-c", "c.yaml", "--env", "t", "--json", "before.json"],
        &[],
    );
    assert_eq!(code(&first), 0, "{}{}", stdout(&first), stderr(&first));
    drop(old);
    // Now: renewed, 90 days left.
    let (cert, key) = pki.leaf_days("new", 90);
    let renewed = TlsServer::start(&cert, &key, None, &[]);
    ws.write("c.yaml", &config(renewed.port));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--baseline",
            "before.json",
            "--json",
            "now.json",
            "--markdown",
            "now.md",
        ],
        &[],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(
        text.contains("certificate renewed: 90 days left (was 10)"),
        "{text}"
    );
    let doc = json(&ws.path().join("now.json"));
    let c = &result(&doc, "cert")["baseline"]["certificate"];
    assert_eq!(
        (&c["days_left"], &c["previous_days_left"], &c["renewed"]),
        (
            &serde_json::json!(90),
            &serde_json::json!(10),
            &serde_json::json!(true)
        ),
        "{c}"
    );
    assert_eq!(result(&doc, "cert")["baseline"]["previous_status"], "WARN");
    let md = read(&ws.path().join("now.md"));
    assert!(md.contains("| cert | 90 | 10 (renewed since) |"), "{md}");
}
