//! `infracheck serve` against real servers on loopback (nginx, Redis, a closed port, command
//! checks gated by files the test creates): readiness before and after the first cycle,
//! `/metrics` parsed by `prometheus_client` and linted by `promtool check metrics`, `/api/v1/results` read back by `merge`, the
//! status page (in Chromium: policy, rows, and a row following a flipped check in the open
//! page), reload (valid, invalid, SIGHUP), the token, SIGTERM with a check in flight, and
//! webhook alerts received by a loopback receiver. Every wait is a bounded poll of an
//! endpoint or of the process; the port is the one `serve` prints (`--listen 127.0.0.1:0`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::faults::{Fault, FaultServer};
use crate::support::nginx::Nginx;
use crate::support::redis::Redis;
use crate::support::{ChildGuard, Workspace, closed_port, infracheck_command, spawn_guarded};

/// A running `serve` and what it printed on stderr.
struct Served {
    guard: ChildGuard,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

/// How long any poll may last before the test fails.
const WAIT: Duration = Duration::from_secs(30);

fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut cmd = infracheck_command(dir);
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut guard = spawn_guarded(&mut cmd, "infracheck serve");
    let err = guard.child.stderr.take().expect("stderr");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            // Kept first, so the line is in `stderr` once the address is known.
            {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
            if let Some(addr) = line
                .split_once("listening on http://")
                .or_else(|| line.split_once("listening on https://"))
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|a| a.parse::<SocketAddr>().ok())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("serve printed no address: {}", stderr.lock().unwrap()));
    Served {
        guard,
        addr,
        stderr,
    }
}

/// One HTTP/1.1 request; returns the status, the headers (lowercase names) and the body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (s, _, b) = request(addr, "GET", path, &[]);
    (s, b)
}

/// Poll `probe` until it returns `Some`, at most [`WAIT`].
fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn results(addr: SocketAddr) -> serde_json::Value {
    let (s, body) = get(addr, "/api/v1/results");
    assert_eq!(s, 200, "{body}");
    serde_json::from_str(&body).expect("results are JSON")
}

fn status_of(doc: &serde_json::Value, name: &str) -> Option<String> {
    doc["results"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["status"].as_str().map(str::to_owned))
}

/// Every sample, `[name, labels, value]`, and every family's type, by `prometheus_client`.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.read()
samples, types = [], {}
for family in text_string_to_metric_families(text):
    assert family.documentation, family.name
    types[family.name] = family.type
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps({"samples": samples, "types": types}))
"#;

fn metrics(addr: SocketAddr) -> (Vec<(String, serde_json::Value, f64)>, serde_json::Value) {
    let (s, head, body) = request(addr, "GET", "/metrics", &[]);
    assert_eq!(s, 200, "{body}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let mut py = std::process::Command::new("python3")
        .arg("-c")
        .arg(PARSE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required to parse the metrics");
    py.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client could not parse /metrics:\n{}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::metrics::promtool_accepts(&body);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples = serde_json::from_value(doc["samples"].clone()).unwrap();
    (samples, doc["types"].clone())
}

fn value(samples: &[(String, serde_json::Value, f64)], name: &str, check: Option<&str>) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && check.is_none_or(|c| l["check"] == c))
        .map(|(_, _, v)| *v)
        .unwrap_or_else(|| panic!("no sample {name} {check:?}"))
}

/// A command check that waits (inside the check) until `file` exists in the workspace.
fn gated(name: &str, file: &str) -> String {
    format!(
        "      - {{name: {name}, timeout: 60s, command: [sh, -c, 'i=0; while [ ! -e {file} ] && [ $i -lt 1200 ]; do i=$((i+1)); sleep 0.05; done; test -e {file}']}}\n"
    )
}

#[test]
fn ready_after_the_first_cycle_with_metrics_results_and_page() {
    let nginx = Nginx::start("location = /ok { return 200 'fine'; }");
    let redis = Redis::start(&[]);
    let closed = closed_port();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "defaults: {{interval: 200ms}}\nenvironments:\n  p:\n    http_checks:\n      - {{name: web, url: \"{}/ok\"}}\n    redis_checks:\n      - {{name: cache, url: \"redis://127.0.0.1:{}\"}}\n    tcp_checks:\n      - {{name: down, host: 127.0.0.1, port: {}, interval: 1s}}\n    command_checks:\n{}",
            nginx.base(),
            redis.port,
            closed.port,
            gated("slow", "go")
        ),
    );
    let s = start(ws.path(), &["--env", "p", "--config", "c.yaml"], &[]);
    assert_eq!(get(s.addr, "/healthz"), (200, "ok\n".to_owned()));
    // `slow` is still waiting for its file: not ready, whatever the others did.
    let (code, body) = get(s.addr, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    ws.write("go", "");
    until("readyz", || (get(s.addr, "/readyz").0 == 200).then_some(()));

    let doc = results(s.addr);
    assert_eq!(status_of(&doc, "web").as_deref(), Some("PASS"));
    assert_eq!(status_of(&doc, "cache").as_deref(), Some("PASS"));
    assert_eq!(status_of(&doc, "down").as_deref(), Some("FAIL"));
    assert_eq!(status_of(&doc, "slow").as_deref(), Some("PASS"));
    // The document is the `--json` one: `merge` reads it back.
    let (_, body) = get(s.addr, "/api/v1/results");
    ws.write("latest.json", &body);
    let merged = ws.run(&["merge", "latest.json", "--output", "json"], &[]);
    assert_eq!(
        crate::support::code(&merged),
        1,
        "{}",
        crate::support::stderr(&merged)
    );
    let back: serde_json::Value = serde_json::from_str(&crate::support::stdout(&merged)).unwrap();
    assert_eq!(back["results"].as_array().unwrap().len(), 4);

    // Counters grow with the cycles: wait for `web` to have run a few times.
    let samples = until("three runs of web", || {
        let (samples, _) = metrics(s.addr);
        (value(&samples, "infracheck_check_runs_total", Some("web")) >= 3.0).then_some(samples)
    });
    let (_, types) = metrics(s.addr);
    assert_eq!(types["infracheck_check_runs"], "counter", "{types}");
    assert_eq!(types["infracheck_check_failures"], "counter", "{types}");
    assert_eq!(
        value(&samples, "infracheck_check_failures_total", Some("web")),
        0.0
    );
    assert!(value(&samples, "infracheck_check_failures_total", Some("down")) >= 1.0);
    assert!(
        value(
            &samples,
            "infracheck_check_last_run_timestamp_seconds",
            Some("web")
        ) > 1.7e9
    );
    assert_eq!(
        value(&samples, "infracheck_config_last_reload_successful", None),
        1.0
    );
    assert_eq!(value(&samples, "infracheck_build_info", None), 1.0);
    // The names of `--prometheus`.
    assert!(
        samples
            .iter()
            .any(|(n, l, v)| n == "infracheck_check_status"
                && l["check"] == "down"
                && l["status"] == "fail"
                && *v == 1.0)
    );

    // The live page: the report's rows, its own policy, nothing external.
    let (code, head, page) = request(s.addr, "GET", "/", &[]);
    assert_eq!(code, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(head.contains("connect-src 'self'"), "{head}");
    for name in ["web", "cache", "down", "slow"] {
        assert!(
            page.contains(&format!("<th scope=\"row\">{name}</th>")),
            "{name}"
        );
    }
    assert!(page.contains("api/v1/results"));
    // No external asset: no `src`, no stylesheet link, scripts inline only.
    assert!(!page.contains(" src=") && !page.contains("<link"));
    assert_eq!(get(s.addr, "/nope").0, 404);
    assert_eq!(request(s.addr, "DELETE", "/metrics", &[]).0, 405);
}

#[test]
fn reload_valid_invalid_and_by_sighup() {
    let ws = Workspace::new();
    let one = "defaults: {interval: 100ms}\nenvironments:\n  p:\n    command_checks:\n      - {name: a, command: ['true']}\n";
    ws.write("c.yaml", one);
    let s = start(ws.path(), &["--env", "p", "--config", "c.yaml"], &[]);
    until("a ran", || (get(s.addr, "/readyz").0 == 200).then_some(()));
    let runs = |name: &str| {
        let (samples, _) = metrics(s.addr);
        value(&samples, "infracheck_check_runs_total", Some(name))
    };
    until("a ran twice", || (runs("a") >= 2.0).then_some(()));

    // Valid: a new check joins; `a`, unchanged, keeps its counters.
    let before = runs("a");
    ws.write(
        "c.yaml",
        &format!("{one}      - {{name: b, command: ['true']}}\n"),
    );
    let (code, _, body) = request(s.addr, "POST", "/-/reload", &[]);
    assert_eq!(code, 200, "{body}");
    until("b ran", || status_of(&results(s.addr), "b").map(|_| ()));
    assert!(runs("a") >= before);

    // Invalid: refused, the old config keeps running, the metric says so.
    ws.write(
        "c.yaml",
        "environments:\n  p:\n    command_checks:\n      - {nam: x}\n",
    );
    let (code, _, body) = request(s.addr, "POST", "/-/reload", &[]);
    assert_eq!(code, 400, "{body}");
    assert!(body.starts_with("reload refused: "), "{body}");
    let (samples, _) = metrics(s.addr);
    assert_eq!(
        value(&samples, "infracheck_config_last_reload_successful", None),
        0.0
    );
    let b_runs = runs("b");
    until("b still runs", || (runs("b") > b_runs).then_some(()));
    assert!(s.stderr.lock().unwrap().contains("reload refused"));

    // SIGHUP reads the (fixed) file again.
    ws.write("c.yaml", one);
    crate::support::signal(s.guard.child.id(), nix::sys::signal::Signal::SIGHUP);
    until("reload by SIGHUP", || {
        let (samples, _) = metrics(s.addr);
        let ok = value(&samples, "infracheck_config_last_reload_successful", None) == 1.0;
        (ok && status_of(&results(s.addr), "b").is_none()).then_some(())
    });
}

#[test]
fn sigterm_with_a_check_in_flight_exits_zero() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  p:\n    command_checks:\n      - {{name: quick, command: ['true']}}\n{}",
            gated("stuck", "never")
        ),
    );
    let mut s = start(
        ws.path(),
        &[
            "--env",
            "p",
            "--config",
            "c.yaml",
            "--shutdown-timeout",
            "200ms",
        ],
        &[],
    );
    // `quick` is in, `stuck` in flight.
    let (code, body) = get(s.addr, "/readyz");
    assert_eq!(code, 503, "{body}");
    crate::support::signal(s.guard.child.id(), nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut s.guard.child);
    assert_eq!(status, Some(0), "{}", s.stderr.lock().unwrap());
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        assert!(Instant::now() < deadline, "serve did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_token_guards_every_endpoint_but_healthz() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  p:\n    command_checks:\n      - {name: a, command: ['true']}\n",
    );
    let token = "s3cret-serve-token-value";
    let s = start(
        ws.path(),
        &[
            "--env",
            "p",
            "--config",
            "c.yaml",
            "--auth-token-env",
            "SERVE_TOKEN",
        ],
        &[("SERVE_TOKEN", token)],
    );
    assert_eq!(get(s.addr, "/healthz").0, 200);
    let bearer = format!("Bearer {token}");
    for path in ["/readyz", "/metrics", "/api/v1/results", "/"] {
        let (code, head, _) = request(s.addr, "GET", path, &[]);
        assert_eq!(code, 401, "{path}");
        assert!(head.contains("www-authenticate: basic"), "{head}");
        assert_eq!(
            request(s.addr, "GET", path, &[("Authorization", "Bearer wrong")]).0,
            401
        );
    }
    assert_eq!(request(s.addr, "POST", "/-/reload", &[]).0, 401);
    until("ready with the token", || {
        (request(s.addr, "GET", "/readyz", &[("Authorization", &bearer)]).0 == 200).then_some(())
    });
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("any:{token}"))
    );
    let (code, _, body) = request(s.addr, "GET", "/metrics", &[("Authorization", &basic)]);
    assert_eq!(code, 200);
    assert!(!body.contains(token));
    let (_, _, doc) = request(
        s.addr,
        "GET",
        "/api/v1/results",
        &[("Authorization", &bearer)],
    );
    assert!(!doc.contains(token));
    assert!(!s.stderr.lock().unwrap().contains(token));
}

/// A loopback webhook receiver: every request's headers and body, answered 200.
struct Receiver {
    port: u16,
    got: mpsc::Receiver<(String, serde_json::Value)>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, got) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let doc = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                if tx.send((head, doc)).is_err() {
                    return;
                }
            }
        });
        Receiver { port, got }
    }

    fn next(&self) -> (String, serde_json::Value) {
        self.got.recv_timeout(WAIT).expect("an alert")
    }
}

#[test]
fn alerts_on_a_flip_after_n_resend_and_recovery() {
    let hook = Receiver::start();
    let slack = Receiver::start();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "alerts:\n  after: 2\n  resend_every: 300ms\n  webhooks:\n    - {{url: \"http://127.0.0.1:{}/hook\", headers: {{X-Hook-Token: \"${{HOOK_TOKEN}}\"}}}}\n    - {{url: \"http://127.0.0.1:{}/slack\", format: slack}}\nenvironments:\n  p:\n    command_checks:\n      - {{name: flag, interval: 100ms, command: [sh, -c, 'test ! -e broken']}}\n",
            hook.port, slack.port
        ),
    );
    let hook_token = "hook-token-value-0123456789";
    let s = start(
        ws.path(),
        &[
            "--env",
            "p",
            "--config",
            "c.yaml",
            "--external-url",
            "https://status.example.test/",
        ],
        &[("HOOK_TOKEN", hook_token)],
    );
    until("first pass", || {
        (get(s.addr, "/readyz").0 == 200).then_some(())
    });
    ws.write("broken", "");
    let (head, alert) = hook.next();
    assert!(
        head.contains(&format!("x-hook-token: {hook_token}")),
        "{head}"
    );
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(alert["event"], "firing", "{alert}");
    assert_eq!(alert["environment"], "p");
    assert_eq!(alert["check"], "flag");
    assert_eq!(alert["status"], "FAIL");
    // After two failures: the one before was a failure too.
    assert_eq!(alert["previous_status"], "FAIL");
    assert_eq!(alert["consecutive_failures"], 2);
    assert!(alert["reason"].is_string(), "{alert}");
    assert_eq!(alert["link"], "https://status.example.test/");
    assert!(alert["timestamp"].as_str().unwrap().ends_with('Z'));
    let (_, text) = slack.next();
    assert!(
        text["text"].as_str().unwrap().contains("flag failing"),
        "{text}"
    );
    // Still failing: sent again.
    let (_, again) = hook.next();
    assert_eq!(again["event"], "resend", "{again}");
    std::fs::remove_file(ws.path().join("broken")).unwrap();
    let recovered = until("recovery", || {
        let (_, a) = hook.next();
        (a["event"] == "recovered").then_some(a)
    });
    assert_eq!(recovered["status"], "PASS");
    assert_eq!(recovered["previous_status"], "FAIL");
    assert!(!s.stderr.lock().unwrap().contains(hook_token));
}

#[test]
fn tls_serves_the_endpoints_over_https() {
    let pki = crate::support::tls_server::Pki::new();
    let (cert, key) = pki.leaf_days("serve", 30);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  p:\n    command_checks:\n      - {name: a, command: ['true']}\n",
    );
    let s = start(
        ws.path(),
        &[
            "--env",
            "p",
            "--config",
            "c.yaml",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(s.stderr.lock().unwrap().contains("listening on https://"));
    // infracheck's own HTTP check, trusting the private CA, reads the endpoints over TLS.
    ws.write(
        "probe.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: healthz, url: \"https://127.0.0.1:{0}/healthz\", ca_file: \"{1}\", body_contains: ok}}\n      - {{name: metrics, url: \"https://127.0.0.1:{0}/metrics\", ca_file: \"{1}\", body_contains: infracheck_build_info, retries: 20, retry_delay: 100ms}}\n",
            s.addr.port(),
            pki.ca_file().display()
        ),
    );
    let out = ws.run(&["--env", "t", "--config", "probe.yaml"], &[]);
    assert_eq!(
        crate::support::code(&out),
        0,
        "{}{}",
        crate::support::stdout(&out),
        crate::support::stderr(&out)
    );
    // Plain HTTP on the TLS port gets no answer.
    let mut plain = TcpStream::connect(s.addr).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    let _ = plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));
}

/// The status page in headless Chromium, its scripts given 12 s of virtual time: the DOM then
/// and Chromium's log.
fn chromium_dom(url: &str) -> (String, String) {
    let chromium = crate::support::require_bin(
        "chromium",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    );
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=12000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

#[test]
fn the_status_page_runs_its_refresh_in_chromium_under_its_policy() {
    let nginx = Nginx::start("location = /ok { return 200 'fine'; }");
    let closed = closed_port();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "defaults: {{interval: 1s}}\nenvironments:\n  p:\n    http_checks:\n      - {{name: web, url: \"{}/ok\"}}\n    tcp_checks:\n      - {{name: \"<b id=injected>down</b>\", host: 127.0.0.1, port: {}}}\n",
            nginx.base(),
            closed.port
        ),
    );
    let s = start(ws.path(), &["--env", "p", "--config", "c.yaml"], &[]);
    until("ready", || (get(s.addr, "/readyz").0 == 200).then_some(()));
    let (dom, log) = chromium_dom(&format!("http://{}/", s.addr));
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("ERR_")
        })
        .collect();
    assert!(errors.is_empty(), "console: {log}");
    // The report's script ran, and the live one fetched the results and updated the page.
    assert!(dom.contains("class=\" js\""), "script did not run");
    assert_eq!(dom.matches("<tr class=\"row\">").count(), 2);
    assert!(
        !dom.contains("when the page loaded"),
        "the refresh did not run"
    );
    // Failures first; the hostile name is text.
    let down = dom
        .find("&lt;b id=injected&gt;down&lt;/b&gt;")
        .expect("down row");
    let web = dom.find("<th scope=\"row\">web</th>").expect("web row");
    assert!(down < web);
    assert!(!dom.contains("id=\"injected\""));
}

/// Drives one headless Chromium over the DevTools protocol (websocket-client): opens the
/// page, reads the `flag` row (`data-status|badge|marker`), marks the document, then flips the
/// check by creating the file and removing it again, polling the same document's row after each
/// flip (bounded by count and by a deadline). Prints what it saw: every request the page sent
/// (Network domain), console calls, exceptions, log entries (CSP violations land there), failed
/// loads and main-frame navigations.
const DEVTOOLS: &str = r#"
import json, os, signal, subprocess, sys, time, urllib.request
import websocket

chromium, profile, url, flag = sys.argv[1:5]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
deadline = time.monotonic() + 90

def left():
    return max(0.1, deadline - time.monotonic())

proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
out = {"requests": [], "console": [], "exceptions": [], "log": [], "failed": [], "navigations": 0}
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
        assert time.monotonic() < deadline, "Chromium wrote no DevToolsActivePort"
        time.sleep(0.05)
    port = open(port_file).read().split()[0]
    page = None
    while page is None:
        assert time.monotonic() < deadline, "Chromium listed no page"
        with urllib.request.urlopen("http://127.0.0.1:%s/json/list" % port, timeout=left()) as r:
            page = next((t for t in json.load(r) if t.get("type") == "page"), None)
        if page is None:
            time.sleep(0.05)
    ws = websocket.create_connection(
        page["webSocketDebuggerUrl"], timeout=left(), suppress_origin=True)
    ids = iter(range(1, 1 << 30))

    def note(ev):
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Network.requestWillBeSent":
            out["requests"].append(p["request"]["url"])
        elif m == "Network.loadingFailed":
            out["failed"].append(p.get("errorText"))
        elif m == "Runtime.consoleAPICalled":
            out["console"].append([p.get("type"), [a.get("value") for a in p.get("args", [])]])
        elif m == "Runtime.exceptionThrown":
            out["exceptions"].append(p["exceptionDetails"].get("text"))
        elif m == "Log.entryAdded":
            out["log"].append([p["entry"].get("level"), p["entry"].get("text")])
        elif m == "Page.frameNavigated" and "parentId" not in p["frame"]:
            out["navigations"] += 1

    def call(method, **params):
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            ws.settimeout(left())
            msg = json.loads(ws.recv())
            if msg.get("id") == i:
                assert "error" not in msg, msg
                return msg.get("result", {})
            note(msg)

    def value(expression):
        return call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    ROW = """(function(){var gs=document.querySelectorAll("tbody.check");
for(var i=0;i<gs.length;i++){var th=gs[i].querySelector("tr.row>th");
if(th&&th.textContent==="flag"){return gs[i].getAttribute("data-status")+"|"+
gs[i].querySelector(".badge").textContent+"|"+(window.flipMarker===1);}}
return "";})()"""

    def until(want):
        got = ""
        for _ in range(600):
            got = value(ROW) or ""
            if got.startswith(want + "|" + want + "|") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return got

    for domain in ["Network", "Runtime", "Log", "Page"]:
        call(domain + ".enable")
    call("Page.navigate", url=url)
    out["before"] = until("PASS")
    out["rows"] = value('document.querySelectorAll("tbody.check>tr.row").length')
    value("window.flipMarker=1")
    open(flag, "w").close()
    out["after"] = until("FAIL")
    os.remove(flag)
    out["back"] = until("PASS")
    out["updated"] = value('document.getElementById("updated").textContent')
    ws.close()
finally:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
print(json.dumps(out))
"#;

#[test]
fn the_status_page_updates_a_row_in_place_after_a_check_flips() {
    let chromium = crate::support::require_bin(
        "chromium",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "chromium",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "defaults: {interval: 200ms}\nenvironments:\n  p:\n    command_checks:\n      - {name: flag, command: [sh, -c, 'test ! -e broken']}\n      - {name: steady, command: ['true']}\n",
    );
    let s = start(ws.path(), &["--env", "p", "--config", "c.yaml"], &[]);
    until("ready", || (get(s.addr, "/readyz").0 == 200).then_some(()));
    let profile = tempfile::tempdir().unwrap();
    let origin = format!("http://{}/", s.addr);
    let out = std::process::Command::new("timeout")
        .arg("150")
        .arg("python3")
        .arg("-c")
        .arg(DEVTOOLS)
        .arg(&chromium)
        .arg(profile.path())
        .arg(&origin)
        .arg(ws.path().join("broken"))
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "the DevTools driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the driver's JSON");
    // The row as served, then the same document's row after each flip: the marker set on the
    // document survives, and the page navigated once (no reload).
    assert_eq!(seen["before"], "PASS|PASS|false", "{seen}");
    assert_eq!(seen["rows"], 2, "{seen}");
    assert_eq!(seen["after"], "FAIL|FAIL|true", "{seen}");
    assert_eq!(seen["back"], "PASS|PASS|true", "{seen}");
    assert_eq!(seen["navigations"], 1, "{seen}");
    assert_ne!(seen["updated"], "when the page loaded", "{seen}");
    // Requests: the page, then its refreshes, all to the serve origin.
    let requests: Vec<&str> = seen["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(requests.first(), Some(&origin.as_str()), "{seen}");
    assert!(
        requests.iter().all(|r| r.starts_with(&origin)),
        "a request off the serve origin: {seen}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| **r == format!("{origin}api/v1/results"))
            .count()
            >= 2,
        "{seen}"
    );
    // Nothing failed, nothing logged: no console call, exception, CSP violation or failed load.
    for key in ["console", "exceptions", "log", "failed"] {
        assert_eq!(seen[key], serde_json::json!([]), "{key}: {seen}");
    }
}

/// `infracheck_check_runs_total` of `check`, read from the exposition as text (the whole
/// exposition is parsed and linted by [`metrics`]).
fn runs_of(addr: SocketAddr, check: &str) -> Option<u64> {
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    let key = format!("infracheck_check_runs_total{{environment=\"p\",check=\"{check}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn a_check_in_flight_holds_back_neither_the_others_nor_runs_twice() {
    let nginx = Nginx::start("location = /ok { return 200 'fine'; }");
    // Accepts, reads the request, never answers: `slow` stays in flight until its timeout,
    // longer than any wait of this test.
    let hang = FaultServer::start(Fault::Hang);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "defaults: {{interval: 200ms}}\nenvironments:\n  p:\n    http_checks:\n      - {{name: fast, url: \"{}/ok\"}}\n      - {{name: slow, url: \"{}\", timeout: 120s, retries: 0}}\n",
            nginx.base(),
            hang.url("/never")
        ),
    );
    let s = start(ws.path(), &["--env", "p", "--config", "c.yaml"], &[]);
    // `slow`'s request is in: it is in flight.
    assert_eq!(hang.wait_for_requests(1), 1);
    let first = until("a first run of fast", || {
        runs_of(s.addr, "fast").filter(|n| *n >= 1)
    });
    // `fast` keeps running on its own interval (200ms) while `slow` is in flight...
    until("five more runs of fast", || {
        runs_of(s.addr, "fast").filter(|n| *n >= first + 5)
    });
    let (samples, _) = metrics(s.addr);
    assert!(value(&samples, "infracheck_check_runs_total", Some("fast")) >= (first + 5) as f64);
    assert_eq!(
        value(&samples, "infracheck_check_failures_total", Some("fast")),
        0.0
    );
    // ... and `slow`, due again many times meanwhile, has no result and was not started again.
    assert_eq!(
        value(&samples, "infracheck_check_runs_total", Some("slow")),
        0.0
    );
    assert_eq!(hang.wait_for_requests(1), 1, "slow started while in flight");
    let (code, body) = get(s.addr, "/readyz");
    assert_eq!(
        (code, body.as_str()),
        (503, "not ready: 1 of 2 checks have run\n")
    );
}
