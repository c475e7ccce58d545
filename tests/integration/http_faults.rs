//! HTTP faults a real server will not make, served in-process: each must FAIL with the right
//! reason within its timeout plus a margin, and the 200 MB body must not be read whole.

use crate::support::faults::{Fault, FaultServer};
use crate::support::{
    TIMEOUT_SLACK_MS, Workspace, code, infracheck_command_via, require_bin, run_offline, stderr,
    stdout,
};

/// Run one check against `url` and return its JSON result.
fn run_one(extra: &str, url: &str) -> (i32, serde_json::Value) {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    http_checks:\n      - {{name: probe, url: \"{url}\", timeout: 2s{extra}}}\n"),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (code(&out), doc["results"][0].clone())
}

fn assert_fail(result: &serde_json::Value, reason: &str) {
    assert_eq!(result["status"], "FAIL", "{result}");
    assert_eq!(result["reason"], reason, "{result}");
    // Finished within the 2 s timeout plus a generous margin (see `TIMEOUT_SLACK_MS`).
    let ms = result["duration_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(ms < 2000 + TIMEOUT_SLACK_MS, "took {ms} ms: {result}");
}

#[test]
fn accepts_and_never_answers_is_a_timeout() {
    let s = FaultServer::start(Fault::Hang);
    let (c, r) = run_one("", &s.url("/"));
    assert_eq!(c, 1);
    assert_fail(&r, "timeout");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after 2s waiting for the response headers"),
        "{r}"
    );
}

#[test]
fn trickled_body_times_out_while_reading() {
    let s = FaultServer::start(Fault::Trickle);
    let (c, r) = run_one("", &s.url("/"));
    assert_eq!(c, 1);
    assert_fail(&r, "timeout");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or("")
            .contains("reading the response body"),
        "{r}"
    );
}

#[test]
fn reset_mid_body() {
    let s = FaultServer::start(Fault::ResetMidBody);
    let (c, r) = run_one("", &s.url("/"));
    assert_eq!(c, 1);
    let reason = r["reason"].as_str().unwrap_or("");
    assert!(
        reason == "connect.reset" || reason == "http.body_read",
        "{r}"
    );
    assert_fail(&r, reason);
}

#[test]
fn redirect_loop() {
    let s = FaultServer::start(Fault::RedirectLoop);
    let (c, r) = run_one(", max_redirects: 5", &s.url("/a"));
    assert_eq!(c, 1);
    assert_fail(&r, "http.redirect");
    // With redirects off, the 302 itself is checked.
    let (c, r) = run_one(
        ", follow_redirects: false, expected_status: 302",
        &s.url("/a"),
    );
    assert_eq!(c, 0, "{r}");
    assert_eq!(r["metadata"]["location"], "/ax");
}

#[test]
fn huge_body_is_capped() {
    let s = FaultServer::start(Fault::HugeBody);
    let (c, r) = run_one(", body_contains: aaaa, max_body_bytes: 65536", &s.url("/"));
    assert_eq!(c, 0, "{r}");
    assert_eq!(r["status"], "PASS");
    assert_eq!(r["metadata"]["body_truncated"], true);
    assert_eq!(r["metadata"]["body_bytes"], 65536);
}

#[test]
fn huge_body_default_cap_keeps_memory_bounded() {
    let s = FaultServer::start(Fault::HugeBody);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    http_checks:\n      - {{name: big, url: \"{}\", timeout: 20s}}\n", s.url("/")),
    );
    // The peak RSS of infracheck itself, measured by GNU time around exactly that process.
    let time = require_bin("time", &["/usr/bin/time"], "time");
    let rss_file = ws.path().join("rss.txt");
    let mut cmd = infracheck_command_via(
        ws.path(),
        &[
            time.as_os_str(),
            "-f".as_ref(),
            "%M".as_ref(),
            "-o".as_ref(),
            rss_file.as_os_str(),
        ],
    );
    let out = cmd
        .args(["-c", "c.yaml", "--env", "t", "--output", "json"])
        .output()
        .expect("run infracheck under /usr/bin/time");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["results"][0]["metadata"]["body_bytes"], 1024 * 1024);
    let rss_text = std::fs::read_to_string(&rss_file).expect("GNU time output");
    let rss: u64 = rss_text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("GNU time wrote {rss_text:?}: {e}"));
    // A binary that ran at all has a resident set; 0 would mean time measured nothing.
    assert!(rss > 1024, "peak RSS {rss} KiB is not a measurement");
    assert!(
        rss < 100 * 1024,
        "peak RSS {rss} KiB while a 200 MB body was offered"
    );
}

#[test]
fn non_http_speaker_is_a_protocol_error() {
    let s = FaultServer::start(Fault::NotHttp);
    let (c, r) = run_one("", &s.url("/"));
    assert_eq!(c, 1);
    assert_fail(&r, "http.protocol");
}

#[test]
fn refused_port() {
    let port_held = crate::support::closed_port();
    let port = port_held.port;
    let (c, r) = run_one("", &format!("http://127.0.0.1:{port}/"));
    assert_eq!(c, 1);
    assert_fail(&r, "connect.refused");
}

/// The name is looked up with no network at all ([`run_offline`]), so the machine's resolver
/// is never asked; the lookup fails at once, as an unresolvable name must.
#[test]
fn unresolvable_host_is_dns_resolve_without_asking_the_network() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    http_checks:\n      - {name: probe, url: \"http://no-such-host.invalid/\", timeout: 5s}\n",
    );
    let out = run_offline(
        ws.path(),
        &["-c", "c.yaml", "--env", "t", "--output", "json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(code(&out), 1);
    let r = &doc["results"][0];
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "dns.resolve", "{r}");
}

#[test]
fn retries_are_counted() {
    let port_held = crate::support::closed_port();
    let port = port_held.port;
    let (c, r) = run_one(
        ", retries: 2, retry_delay: 10ms",
        &format!("http://127.0.0.1:{port}/"),
    );
    assert_eq!(c, 1);
    assert_eq!(r["attempts"], 3, "{r}");
    assert_eq!(r["flaky"], false);
    assert_eq!(r["failed_attempts"].as_array().map(Vec::len), Some(2));
}

#[test]
fn deadline_fails_unfinished_checks() {
    let s = FaultServer::start(Fault::Hang);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "max_workers: 1\nenvironments:\n  t:\n    http_checks:\n      - {{name: a, url: \"{u}\", timeout: 60s}}\n      - {{name: b, url: \"{u}\", timeout: 60s}}\n",
            u = s.url("/")
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--deadline",
            "1s",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["interrupted"], "deadline");
    for r in doc["results"].as_array().expect("results") {
        assert_eq!(r["status"], "FAIL");
        assert_eq!(r["reason"], "timeout.deadline");
    }
    assert!(
        doc["results"][1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("before the check started")
    );
}
