//! `tcp_checks` against loopback listeners: open, refused, banner match, send/expect round
//! trip, banner mismatch and a peer that accepts but never speaks.

use std::time::Instant;

use infracheck::config::DEFAULT_TIMEOUT;

use crate::support::tcp_server::{Mode, TcpServer};
use crate::support::{TIMEOUT_SLACK_MS, Workspace, code, stderr, stdout};

pub fn results(ws: &Workspace) -> (i32, Vec<serde_json::Value>) {
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (
        code(&out),
        doc["results"].as_array().cloned().unwrap_or_default(),
    )
}

pub fn by(rs: &[serde_json::Value], name: &str) -> serde_json::Value {
    rs.iter()
        .find(|r| r["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no result {name} in {rs:?}"))
}

#[test]
fn open_refused_banner_and_round_trip() {
    let ssh = TcpServer::start(Mode::Banner("SSH-2.0-OpenSSH_9.2\r\n"));
    let smtp = TcpServer::start(Mode::Banner("220 mail.example.test ESMTP\r\n"));
    let pong = TcpServer::start(Mode::Pong);
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: open, host: 127.0.0.1, port: {ssh}}}
      - {{name: refused, host: 127.0.0.1, port: {closed}}}
      - {{name: banner, host: 127.0.0.1, port: {ssh}, expect: "SSH-2.0"}}
      - {{name: round-trip, host: 127.0.0.1, port: {pong}, send: "PING\r\n", expect: "+PONG"}}
      - {{name: mismatch, host: 127.0.0.1, port: {smtp}, expect: "SSH-", timeout: 5s}}
"#,
            ssh = ssh.addr.port(),
            smtp = smtp.addr.port(),
            pong = pong.addr.port(),
        ),
    );
    let (c, rs) = results(&ws);
    assert_eq!(c, 1);
    for ok in ["open", "banner", "round-trip"] {
        assert_eq!(by(&rs, ok)["status"], "PASS", "{}", by(&rs, ok));
    }
    let open = by(&rs, "open");
    assert_eq!(open["target"], format!("127.0.0.1:{}", ssh.addr.port()));
    assert_eq!(open["metadata"]["remote_addr"], ssh.addr.to_string());
    assert!(
        by(&rs, "banner")["metadata"]["banner"]
            .as_str()
            .unwrap_or("")
            .starts_with("SSH-2.0-OpenSSH")
    );

    let refused = by(&rs, "refused");
    assert_eq!(refused["status"], "FAIL");
    assert_eq!(refused["reason"], "tcp.refused", "{refused}");

    let mismatch = by(&rs, "mismatch");
    assert_eq!(mismatch["status"], "FAIL");
    assert_eq!(mismatch["reason"], "tcp.expect", "{mismatch}");
    let msg = mismatch["message"].as_str().unwrap_or("");
    assert!(msg.contains("220 mail.example.test"), "{msg}");
    assert!(msg.contains("SSH-"), "{msg}");
}

#[test]
fn silent_peer_times_out_within_the_timeout() {
    let silent = TcpServer::start(Mode::Silent);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: silent, host: 127.0.0.1, port: {p}, expect: "SSH-", timeout: 2s}}
      - {{name: connect-only, host: 127.0.0.1, port: {p}, timeout: 2s}}
"#,
            p = silent.addr.port()
        ),
    );
    let started = Instant::now();
    let (c, rs) = results(&ws);
    // A run whose checks fell back to the 10 s default timeout (or hung) takes at least that
    // long; the 2 s timeouts leave 8 s for a loaded machine to start and finish the run.
    assert!(started.elapsed() < DEFAULT_TIMEOUT);
    assert_eq!(c, 1);
    let r = by(&rs, "silent");
    assert_eq!(r["status"], "FAIL");
    assert_eq!(r["reason"], "timeout", "{r}");
    assert!(
        r["duration_ms"].as_u64().unwrap_or(u64::MAX) < 2000 + TIMEOUT_SLACK_MS,
        "{r}"
    );
    assert_eq!(by(&rs, "connect-only")["status"], "PASS");
}

#[test]
fn expect_beyond_max_bytes_fails_and_within_it_passes() {
    // 100 bytes of filler, then the text expected.
    const BANNER: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxREADY\r\n";
    let srv = TcpServer::start(Mode::Banner(BANNER));
    let p = srv.addr.port();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: capped, host: 127.0.0.1, port: {p}, expect: READY, max_bytes: 50, timeout: 10s}}
      - {{name: roomy, host: 127.0.0.1, port: {p}, expect: READY, max_bytes: 200, timeout: 10s}}
"#
        ),
    );
    let (c, rs) = results(&ws);
    assert_eq!(c, 1, "{rs:#?}");
    let r = by(&rs, "capped");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "tcp.expect", "{r}");
    let read = r["metadata"]["bytes_read"].as_u64().unwrap_or(u64::MAX);
    assert!(read <= 50, "no more than max_bytes is read: {r}");
    let r = by(&rs, "roomy");
    assert_eq!(r["status"], "PASS", "{r}");
}

#[test]
fn a_check_over_ipv6_loopback() {
    let l = std::net::TcpListener::bind("[::1]:0").unwrap_or_else(|e| {
        panic!("this test needs an IPv6 loopback (::1) on the machine; binding [::1]:0 failed: {e}")
    });
    let p = l.local_addr().expect("addr").port();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: bare, host: "::1", port: {p}}}
      - {{name: bracketed, host: "[::1]", port: {p}}}
"#
        ),
    );
    let (c, rs) = results(&ws);
    assert_eq!(c, 0, "{rs:#?}");
    for name in ["bare", "bracketed"] {
        let r = by(&rs, name);
        assert_eq!(r["status"], "PASS", "{r}");
        assert_eq!(r["metadata"]["remote_addr"], format!("[::1]:{p}"), "{r}");
    }
}
