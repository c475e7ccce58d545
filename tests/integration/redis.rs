//! `redis_checks` against real redis-server processes: PING, role, keys, AUTH and a dead port.

use crate::support::Workspace;
use crate::support::platform::{run_json, validate};
use crate::support::redis::Redis;

#[test]
fn ping_role_keys_and_failures() {
    let master = Redis::start(&[]);
    master.cli(&["SET", "feature:flags", "on"]);
    let replica = Redis::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let secured = Redis::start(&["--requirepass", "redis-sentinel-pw-0003"]);
    let dead_held = crate::support::closed_port();
    let dead = dead_held.port;
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    redis_checks:
      - {{name: cache, url: "redis://127.0.0.1:{m}", role: master, keys_exist: ["feature:flags"]}}
      - {{name: replica, url: "redis://127.0.0.1:{r}/0", role: replica}}
      - {{name: wrong-role, url: "redis://127.0.0.1:{r}", role: master}}
      - {{name: missing-key, url: "redis://127.0.0.1:{m}/0", keys_exist: [nope]}}
      - {{name: auth-ok, url: "redis://:redis-sentinel-pw-0003@127.0.0.1:{s}"}}
      - {{name: auth-wrong, url: "redis://:wrong-sentinel-0004@127.0.0.1:{s}"}}
      - {{name: auth-missing, url: "redis://127.0.0.1:{s}"}}
      - {{name: down, url: "redis://127.0.0.1:{dead}"}}
      - {{name: not-redis-db, url: "redis://127.0.0.1:{m}/99"}}
"#,
            m = master.port,
            r = replica.port,
            s = secured.port,
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("cache", "PASS", None);
    assert_eq!(r["kind"], "redis");
    assert_eq!(r["metadata"]["role"], "master");
    assert!(r["metadata"]["server_version"].is_string(), "{r}");
    let r = run.expect("replica", "PASS", None);
    assert_eq!(r["metadata"]["role"], "replica");
    let r = run.expect("wrong-role", "FAIL", Some("redis.role"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("role is replica, expected master")
    );
    run.expect("missing-key", "FAIL", Some("redis.key"));
    run.expect("auth-ok", "PASS", None);
    let r = run.expect("auth-wrong", "FAIL", Some("redis.auth"));
    assert_eq!(
        r["target"],
        format!("redis://:***@127.0.0.1:{}", secured.port)
    );
    run.expect("auth-missing", "FAIL", Some("redis.auth"));
    run.expect("down", "FAIL", Some("redis.connect"));
    run.expect("not-redis-db", "FAIL", Some("redis.error"));
    assert!(!run.raw.contains("redis-sentinel-pw-0003"), "{}", run.raw);
    assert!(!run.raw.contains("wrong-sentinel-0004"), "{}", run.raw);
}

#[test]
fn rejects_bad_redis_config() {
    let ws = Workspace::new();
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    redis_checks:
      - {name: a, url: "http://127.0.0.1:6379"}
      - {name: b, url: "redis://127.0.0.1:6379", role: leader}
      - {name: c, url: "redis://:pw-in-bad-url-0005@127.0.0.1:6379/x"}
      - {name: d}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "unsupported URL scheme `http`",
        "expected `master` or `replica`",
        "must be a database number",
        "missing required key `url`",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
    assert!(!out.contains("pw-in-bad-url-0005"), "{out}");
}

#[test]
fn a_master_is_not_a_replica() {
    let master = Redis::start(&[]);
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            "environments:\n  t:\n    redis_checks:\n      - {{name: primary, url: \"redis://127.0.0.1:{p}\", role: primary}}\n      - {{name: want-replica, url: \"redis://127.0.0.1:{p}\", role: replica}}\n",
            p = master.port
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("primary", "PASS", None);
    let r = run.expect("want-replica", "FAIL", Some("redis.role"));
    assert_eq!(r["metadata"]["role"], "master", "{r}");
}

#[test]
fn rediss_against_a_tls_redis_server() {
    use crate::support::tls_server::Pki;
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("redis", 90);
    let ca = pki.ca_file();
    let server = Redis::start_tls(&cert, &key, &ca, false);
    let port = server.port;
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    redis_checks:
      - {{name: verified, url: "rediss://127.0.0.1:{port}", ca_file: "{ca}", role: master}}
      - {{name: insecure, url: "rediss://127.0.0.1:{port}", insecure: true}}
      - {{name: untrusted, url: "rediss://127.0.0.1:{port}"}}
      - {{name: plain-to-tls, url: "redis://127.0.0.1:{port}", timeout: 3s}}
"#,
            ca = ca.display()
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("verified", "PASS", None);
    assert_eq!(r["metadata"]["role"], "master", "{r}");
    assert!(r["metadata"]["server_version"].is_string(), "{r}");
    // Its phases: the TLS handshake is its own span (the wait for the TLS preparation before
    // it is in none), and together they fit in the check's time.
    let phases = r["phases"].as_object().expect("phases");
    let names: Vec<&str> = phases.keys().map(String::as_str).collect();
    assert_eq!(names, ["connect", "tls", "query"], "{r}");
    let sum_us: f64 = phases.values().filter_map(|v| v.as_f64()).sum::<f64>() * 1000.0;
    // Each phase is written to the microsecond: allow one microsecond of rounding per phase.
    let slack = phases.len() as f64;
    assert!(
        sum_us.round() <= r["duration_us"].as_f64().unwrap_or(0.0) + slack,
        "{r}"
    );
    run.expect("insecure", "PASS", None);
    run.expect("untrusted", "FAIL", Some("tls.untrusted"));
    let r = run.get("plain-to-tls");
    assert_eq!(
        r["status"], "FAIL",
        "a plaintext client gets no answer: {r}"
    );
}

#[test]
fn rediss_presents_a_client_certificate_when_tls_auth_clients_is_on() {
    use crate::support::tls_server::Pki;
    let pki = Pki::new();
    let ws = Workspace::new();
    let (cert, key) = crate::mtls::client_files(&pki, &ws);
    let ca = pki.ca_file();
    let server = Redis::start_tls(&cert, &key, &ca, true);
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    redis_checks:
      - {{name: none, url: "rediss://127.0.0.1:{port}", ca_file: "{ca}"}}
      - {{name: cert, url: "rediss://127.0.0.1:{port}", ca_file: "{ca}", client_cert: client.pem, client_key: client.key, role: master}}
      - {{name: stranger, url: "rediss://127.0.0.1:{port}", ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#,
            port = server.port,
            ca = ca.display()
        ),
    );
    let (code, rs) = crate::mtls::run_ops(&ws);
    assert_eq!(code, 1, "{rs:?}");
    let (status, _, message) = crate::mtls::verdict(&rs, "cert");
    assert_eq!(status, "PASS", "{message}");
    for name in ["none", "stranger"] {
        let (status, _, message) = crate::mtls::verdict(&rs, name);
        assert_eq!(status, "FAIL", "{name}: {message}");
    }
    // On a plain `redis://` URL the keys are a config error.
    ws.write(
        "ops/c.yaml",
        "environments:\n  t:\n    redis_checks:\n      - {name: plain, url: \"redis://127.0.0.1:1\", client_cert: client.pem, client_key: client.key}\n",
    );
    let out = ws.run(&["validate", "-c", "ops/c.yaml"], &[]);
    assert_eq!(crate::support::code(&out), 2);
    assert!(
        crate::support::stderr(&out).contains("apply only to a `rediss://` URL"),
        "{}",
        crate::support::stderr(&out)
    );
}
