//! Robustness: signals during a real run, and "never green by accident".

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::faults::{Fault, FaultServer};
use crate::support::{Workspace, code, infracheck_command, nginx::Nginx, stderr, stdout};

/// Start a run whose second check hangs, wait until the hanging request reached the server
/// (so the first check has finished), send `signal`, and return (exit code, JSON report).
fn signalled_run(signal: &str) -> (Option<i32>, serde_json::Value) {
    let ng = Nginx::start("location = /ok { return 200 'fine'; }");
    let hang = FaultServer::start(Fault::Hang);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "max_workers: 1\nenvironments:\n  t:\n    http_checks:\n      - {{name: up, url: \"{}/ok\"}}\n      - {{name: stuck, url: \"{}\", timeout: 120s}}\n      - {{name: never-started, url: \"{}/ok\"}}\n",
            ng.base(),
            hang.url("/"),
            ng.base()
        ),
    );
    let mut child = infracheck_command(ws.path())
        .args(["-c", "c.yaml", "--env", "t", "--json", "r.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn infracheck");
    assert_eq!(
        hang.wait_for_requests(1),
        1,
        "the hanging check never started"
    );
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s.code();
        }
        assert!(
            Instant::now() < deadline,
            "infracheck did not exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let report = std::fs::read(ws.path().join("r.json")).expect("report written after a signal");
    (exit, serde_json::from_slice(&report).expect("valid JSON"))
}

#[test]
fn sigterm_cancels_running_checks_and_still_writes_reports() {
    let (exit, doc) = signalled_run("-TERM");
    assert_eq!(exit, Some(143));
    assert_eq!(doc["interrupted"], "sigterm");
    assert_eq!(doc["status"], "failed");
    let r = &doc["results"];
    assert_eq!(r[0]["name"], "up");
    assert_eq!(r[0]["status"], "PASS", "completed work is kept");
    assert_eq!(r[1]["status"], "FAIL");
    assert_eq!(r[1]["reason"], "cancelled");
    assert!(
        r[1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("before the check finished")
    );
    assert_eq!(r[2]["reason"], "cancelled");
    assert!(
        r[2]["message"]
            .as_str()
            .unwrap_or("")
            .contains("before the check started")
    );
}

#[test]
fn sigint_exits_130() {
    let (exit, doc) = signalled_run("-INT");
    assert_eq!(exit, Some(130));
    assert_eq!(doc["interrupted"], "sigint");
    assert_eq!(doc["results"][1]["reason"], "cancelled");
}

/// Every way a check can fail to run is FAIL and exit 1, never PASS or exit 0.
#[test]
fn never_green_by_accident() {
    let hang = FaultServer::start(Fault::Hang);
    let closed = FaultServer::start(Fault::CloseImmediately);
    let banner = FaultServer::start(Fault::NotHttp);
    let refused_held = crate::support::closed_port();
    let refused = refused_held.port;
    let cases: &[(&str, String, &[&str], &str)] = &[
        (
            "refused",
            format!("http://127.0.0.1:{refused}/"),
            &[],
            "connect.refused",
        ),
        (
            "unresolvable",
            "http://no-such-host.invalid/".to_owned(),
            &[],
            "dns.resolve",
        ),
        (
            "closed-without-answer",
            closed.url("/"),
            &[],
            "connect.reset",
        ),
        ("timeout", hang.url("/"), &[], "timeout"),
        (
            "deadline",
            hang.url("/"),
            &["--deadline", "1s"],
            "timeout.deadline",
        ),
        (
            "tls-to-plain-port",
            format!("https://{}/", banner.addr),
            &[],
            "tls.handshake",
        ),
        (
            "tls-peer-closes",
            format!("https://{}/", closed.addr),
            &[],
            "tls.handshake",
        ),
    ];
    for (name, url, extra, reason) in cases {
        let ws = Workspace::new();
        ws.write(
            "c.yaml",
            &format!(
                "environments:\n  t:\n    http_checks:\n      - {{name: {name}, url: \"{url}\", timeout: 3s}}\n"
            ),
        );
        let mut args = vec!["-c", "c.yaml", "--env", "t", "--output", "json"];
        args.extend_from_slice(extra);
        // The unresolvable name is looked up offline: the machine's resolver is never asked.
        let out = if *name == "unresolvable" {
            crate::support::run_offline(ws.path(), &args)
        } else {
            ws.run(&args, &[])
        };
        assert_eq!(code(&out), 1, "{name}: {}\n{}", stdout(&out), stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
        let r = &doc["results"][0];
        assert_eq!(r["status"], "FAIL", "{name}: {r}");
        assert_eq!(r["reason"], *reason, "{name}: {r}");
        assert_eq!(doc["summary"]["pass"], 0);
    }
}

/// One sentinel secret placed everywhere a secret can live never appears in stdout, stderr at
/// -vv, or any report format.
#[test]
fn sentinel_secret_never_appears_in_any_output() {
    const SENTINEL: &str = "SeNtInEl-7f3a9c";
    let ng = Nginx::start(
        r#"location = /echo { return 200 'auth=$http_authorization key=$http_x_api_key q=$arg_token'; }
           location = /fail { return 500 'auth=$http_authorization'; }"#,
    );
    let ws = Workspace::new();
    let refused = crate::support::closed_port();
    ws.write(
        "c.yaml",
        &format!(
            r#"secrets: [PLAIN_NAME]
environments:
  t:
    http_checks:
      - name: header
        url: "{b}/echo"
        headers: {{Authorization: "Bearer ${{API_TOKEN}}", X-Api-Key: "${{PLAIN_NAME}}"}}
        body_contains: "never"
      - name: url-password
        url: "http://svc:${{DB_PASSWORD}}@127.0.0.1:{port}/fail"
      - name: query-token
        url: "{b}/echo?token=${{PLAIN_NAME}}"
        body_contains: "${{PLAIN_NAME}}-missing"
        on_body_mismatch: fail
      - name: refused
        url: "http://u:${{DB_PASSWORD}}@127.0.0.1:{refused}/"
    redis_checks:
      - {{name: cache, url: "redis://:${{DB_PASSWORD}}@127.0.0.1:{refused}/0"}}
    postgres_checks:
      - {{name: pg, url: "postgres://app:${{DB_PASSWORD}}@127.0.0.1:{refused}/app", tls: disable}}
    mysql_checks:
      - {{name: my, url: "mysql://app:${{DB_PASSWORD}}@127.0.0.1:{refused}/app"}}
    command_checks:
      - {{name: cmd, command: ["sh", "-c", "echo $TOKEN_ECHO; exit 3"], env: {{TOKEN_ECHO: "${{API_TOKEN}}"}}}}
    aws_checks:
      - {{name: identity, sts_identity: {{}}, region: eu-west-1, endpoint_url: "http://127.0.0.1:{refused}"}}
"#,
            b = ng.base(),
            port = ng.port,
            refused = refused.port,
        ),
    );
    let envs = [
        ("API_TOKEN", SENTINEL),
        ("PLAIN_NAME", SENTINEL),
        ("DB_PASSWORD", SENTINEL),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SENTINEL),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        ),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_OUTPUT", "outputs.txt"),
    ];
    let mut outputs = Vec::new();
    for args in [
        vec![
            "-c",
            "c.yaml",
            "--env",
            "t",
            "-vv",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--sarif",
            "r.sarif",
            "--markdown",
            "r.md",
            "--codequality",
            "r.cq.json",
            "--prometheus",
            "r.prom",
        ],
        vec!["-c", "c.yaml", "--env", "t", "-vvv", "--output", "json"],
        vec!["list", "-c", "c.yaml", "--env", "t"],
    ] {
        let out = ws.run(&args, &envs);
        outputs.push(stdout(&out));
        outputs.push(stderr(&out));
    }
    for entry in std::fs::read_dir(ws.path()).expect("dir").flatten() {
        if entry.path().extension().is_some_and(|e| e != "yaml") {
            outputs.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    assert!(
        outputs.iter().any(|o| o.contains("***")),
        "nothing was masked at all?"
    );
    // Every report was written (and every check kind really ran and failed).
    for f in [
        "r.json",
        "r.xml",
        "r.sarif",
        "r.md",
        "r.cq.json",
        "r.prom",
        "summary.md",
        "outputs.txt",
    ] {
        assert!(ws.path().join(f).is_file(), "{f} not written");
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.path().join("r.json")).expect("r.json"))
            .expect("json");
    assert_eq!(doc["summary"]["total"], 9, "{doc}");
    // Nor in encoded form: the URL credentials as the Basic auth header carries them.
    let basic = "c3ZjOlNlTnRJbkVsLTdmM2E5Yw=="; // base64("svc:SeNtInEl-7f3a9c")
    assert!(
        outputs.iter().all(|o| !o.contains(basic)),
        "Basic credentials leaked"
    );
    for o in &outputs {
        assert!(!o.contains(SENTINEL), "secret leaked:\n{o}");
    }
}
