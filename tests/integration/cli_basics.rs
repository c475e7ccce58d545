//! CLI behaviour: subcommands, exit codes, JSON output, the original format.

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

fn nginx_ok() -> Nginx {
    Nginx::start(
        r#"
        location = /health { default_type application/json; return 200 '{"status":"ok","db":{"up":true,"lag":0}}'; }
        location = /down { return 503 'maintenance'; }
        "#,
    )
}

#[test]
fn original_python_format_runs_unchanged() {
    let ng = nginx_ok();
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        &format!(
            r#"max_workers: 10
environments:
  prod:
    http_checks:
      - name: api-health
        url: {}/health
        expected_status: 200
        body_contains: '"status":"ok"'
        timeout: 10
"#,
            ng.base()
        ),
    );
    let out = ws.run(&["--env", "prod"], &[]);
    assert_eq!(
        code(&out),
        0,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("PASS  api-health"), "{text}");
    assert!(
        text.contains("1 passed, 0 warned, 0 failed, 1 total"),
        "{text}"
    );
    // `run` spelled out is the same command.
    let out = ws.run(&["run", "--env", "prod"], &[]);
    assert_eq!(code(&out), 0);
}

#[test]
fn exit_codes_follow_results_and_fail_on_warn() {
    let ng = nginx_ok();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  ok:
    http_checks:
      - {{name: up, url: "{b}/health"}}
  warn:
    http_checks:
      - {{name: text, url: "{b}/health", body_contains: nope}}
  fail:
    http_checks:
      - {{name: down, url: "{b}/down"}}
      - {{name: up, url: "{b}/health"}}
"#,
            b = ng.base()
        ),
    );
    assert_eq!(code(&ws.run(&["-c", "c.yaml", "--env", "ok"], &[])), 0);
    let warn = ws.run(&["-c", "c.yaml", "--env", "warn"], &[]);
    assert_eq!(code(&warn), 0, "WARN alone passes");
    assert!(stdout(&warn).contains("WARN  text"), "{}", stdout(&warn));
    assert_eq!(
        code(&ws.run(&["-c", "c.yaml", "--env", "warn", "--fail-on-warn"], &[])),
        1
    );
    let fail = ws.run(&["-c", "c.yaml", "--env", "fail"], &[]);
    assert_eq!(code(&fail), 1);
    let text = stdout(&fail);
    assert!(
        text.contains("FAIL  down") && text.contains("[http.status]"),
        "{text}"
    );
    assert!(text.contains("expected status 200, got 503"), "{text}");
    // Config order, deterministically.
    let down = text.find("down").unwrap_or(usize::MAX);
    let up = text.find("  up").unwrap_or(0);
    assert!(down < up, "{text}");
}

#[test]
fn json_document_has_the_documented_fields() {
    let ng = nginx_ok();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  prod:
    http_checks:
      - name: api
        url: "{b}/health"
        json:
          - {{path: status, equals: ok}}
          - {{path: db.up, equals: true}}
          - {{path: /db/lag, equals: 0}}
      - name: wrong-json
        url: "{b}/health"
        json: [{{path: db.up, equals: false}}]
"#,
            b = ng.base()
        ),
    );
    let out = ws.run(
        &[
            "-c", "c.yaml", "--env", "prod", "--output", "json", "--json", "r.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("r.json")).expect("r.json written"))
            .expect("file is JSON");
    assert_eq!(doc["results"], file["results"]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "infracheck");
    assert_eq!(doc["environment"], "prod");
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["summary"]["pass"], 1);
    assert_eq!(doc["summary"]["fail"], 1);
    assert_eq!(doc["summary"]["total"], 2);
    assert!(doc["started_at"].as_str().is_some_and(|s| s.contains('T')));
    assert!(doc["duration_ms"].is_u64());
    let api = &doc["results"][0];
    assert_eq!(api["name"], "api");
    assert_eq!(api["kind"], "http");
    assert_eq!(api["status"], "PASS");
    assert_eq!(api["attempts"], 1);
    assert_eq!(api["metadata"]["status_code"], 200);
    assert_eq!(api["location"]["file"], "c.yaml");
    assert_eq!(api["location"]["line"], 4);
    let bad = &doc["results"][1];
    assert_eq!(bad["status"], "FAIL");
    assert_eq!(bad["reason"], "http.json");
    assert_eq!(bad["location"]["line"], 10);
}

#[test]
fn list_and_validate() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        r#"checks:
  http_checks:
    - {name: shared, url: "https://${vars.host}/health"}
    - {name: prod-only, url: "https://${vars.host}/x", environments: [prod]}
environments:
  prod:
    vars: {host: api.example.com}
  staging:
    vars: {host: api.staging.example.com}
    http_checks:
      - {name: login, url: "https://user:hunter2@${vars.host}/login", method: post}
"#,
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 environments, 4 checks"),
        "{}",
        stdout(&out)
    );
    let out = ws.run(&["list", "--env", "staging"], &[]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "shared\thttp\thttps://api.staging.example.com/health\t-\n\
         login\thttp\thttps://user:***@api.staging.example.com/login\t-\n"
    );
    let out = ws.run(&["list", "--env", "prod"], &[]);
    assert!(stdout(&out).contains("prod-only\thttp\thttps://api.example.com/x\t-\n"));
    let out = ws.run(&["validate", "--env", "qa"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("unknown environment `qa` (known: prod, staging)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let ws = Workspace::new();
    let out = ws.run(&["--env", "prod"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read config infracheck.yaml"),
        "{}",
        stderr(&out)
    );
    // No config exists here either: each error must be the flag's own, not the missing file.
    let out = ws.run(&["--bogus-flag"], &[]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("unexpected argument '--bogus-flag'") && !err.contains("cannot read config"),
        "{err}"
    );
    let out = ws.run(&["--env", "x", "--deadline", "soon"], &[]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("'soon'") && err.contains("--deadline") && !err.contains("cannot read config"),
        "{err}"
    );
    ws.write("infracheck.yaml", "environments: {prod: {}}\n");
    let out = ws.run(&[], &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--env is required"));
}

#[test]
fn version_completions_and_man_page() {
    let ws = Workspace::new();
    let out = ws.run(&["--version"], &[]);
    assert_eq!(code(&out), 0);
    let v = stdout(&out);
    assert!(
        v.starts_with("infracheck 0.") && v.contains("(commit "),
        "{v}"
    );
    for (shell, marker) in [
        ("bash", "_infracheck()"),
        ("zsh", "#compdef infracheck"),
        ("fish", "complete -c infracheck"),
    ] {
        let out = ws.run(&["completions", shell], &[]);
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("fail-on-warn"),
            "{shell} completes run flags"
        );
    }
    assert_eq!(code(&ws.run(&["completions", "tcsh"], &[])), 2);
    let out = ws.run(&["man"], &[]);
    assert_eq!(code(&out), 0);
    let page = stdout(&out);
    assert!(page.contains(".TH infracheck 1"), "{page}");
    assert!(page.contains("validate"), "subcommands listed");
}

#[test]
fn two_reports_on_one_path_are_refused_before_any_check_runs() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: marker, command: [\"touch\", \"ran\"]}\n",
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--json",
            "out/r.xml",
            "--junit",
            "./out/../out/r.xml",
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert_eq!(
        stderr(&out),
        "error: --json and --junit both write ./out/../out/r.xml: give each report its own file\n"
    );
    assert!(!ws.path().join("ran").exists(), "no check ran");
    // The baseline may be the JSON file it rolls forward into.
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "last.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--baseline",
            "last.json",
            "--json",
            "last.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("last.json")).unwrap())
            .unwrap();
    assert_eq!(doc["baseline"]["unchanged"], 1, "{doc}");
}
