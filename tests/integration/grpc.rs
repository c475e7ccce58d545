//! `grpc_checks` against gRPC's reference Python server (grpcio, `grpc_health.v1.health`):
//! every serving status, unknown services, a server without the health service, a call that
//! hangs past the timeout, TLS trust and names, metadata and its secrets, a dead port, and
//! config errors.

use time::{Duration, OffsetDateTime};

use crate::support::faults::{Fault, FaultServer};
use crate::support::grpc_server::{HealthServer, Mode, Options};
use crate::support::platform::{run_json, validate};
use crate::support::tls_server::{Pki, Signer};
use crate::support::{Workspace, closed_port, code, stdout};

#[test]
fn serving_statuses_unimplemented_refused_and_timeout() {
    let srv = HealthServer::start(
        Mode::Health,
        &[
            "=SERVING",
            "svc-ok=SERVING",
            "svc-down=NOT_SERVING",
            "svc-unknown=UNKNOWN",
            "svc-gone=SERVICE_UNKNOWN",
        ],
        &Options::default(),
    );
    let bare = HealthServer::start(Mode::NoHealth, &[], &Options::default());
    let hang = HealthServer::start(Mode::Hang, &["=SERVING"], &Options::default());
    // Held (bound, not listening) until the test ends: no parallel test can take the port.
    let dead = closed_port();
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    grpc_checks:
      - {{name: whole, target: "{t}"}}
      - {{name: ok, target: "{t}", service: svc-ok}}
      - {{name: down, target: "{t}", service: svc-down}}
      - {{name: unknown, target: "{t}", service: svc-unknown}}
      - {{name: gone, target: "{t}", service: svc-gone}}
      - {{name: not-registered, target: "{t}", service: no-such-service}}
      - {{name: down-expected, target: "{t}", service: svc-down, expected: NOT_SERVING}}
      - {{name: ok-but-expected-down, target: "{t}", service: svc-ok, expected: not_serving}}
      - {{name: gone-expected, target: "{t}", service: no-such-service, expected: SERVICE_UNKNOWN}}
      - {{name: no-health, target: "{b}"}}
      - {{name: refused, target: "{d}"}}
      - {{name: hangs, target: "{h}", timeout: 1s}}
      - {{name: slow-threshold, target: "{t}", warn_latency: 0ms}}
"#,
            t = srv.target(),
            b = bare.target(),
            h = hang.target(),
            d = dead.addr(),
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);

    let r = run.expect("whole", "PASS", None);
    assert_eq!(r["kind"], "grpc");
    assert_eq!(r["target"], srv.target());
    assert_eq!(r["metadata"]["status"], "SERVING");
    assert_eq!(r["metadata"]["remote_addr"], srv.target());
    assert!(r["metadata"]["latency_ms"].is_u64(), "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("the server is SERVING"),
        "{r}"
    );

    let r = run.expect("ok", "PASS", None);
    assert_eq!(r["target"], format!("{} (service svc-ok)", srv.target()));
    assert_eq!(r["metadata"]["status"], "SERVING");

    let r = run.expect("down", "FAIL", Some("grpc.not_serving"));
    assert_eq!(r["metadata"]["status"], "NOT_SERVING");
    assert_eq!(
        r["message"],
        "service `svc-down` is NOT_SERVING, expected SERVING"
    );
    let r = run.expect("unknown", "FAIL", Some("grpc.unknown"));
    assert_eq!(r["metadata"]["status"], "UNKNOWN");
    let r = run.expect("gone", "FAIL", Some("grpc.unknown_service"));
    assert_eq!(r["metadata"]["status"], "SERVICE_UNKNOWN");
    // grpcio answers the gRPC status NOT_FOUND for a service it has no status for.
    let r = run.expect("not-registered", "FAIL", Some("grpc.unknown_service"));
    assert_eq!(r["metadata"]["grpc_code"], "NOT_FOUND");
    assert!(r["message"].as_str().unwrap().contains("NOT_FOUND"), "{r}");

    let r = run.expect("down-expected", "PASS", None);
    assert_eq!(r["metadata"]["status"], "NOT_SERVING");
    run.expect("ok-but-expected-down", "FAIL", Some("grpc.status"));
    run.expect("gone-expected", "PASS", None);

    let r = run.expect("no-health", "FAIL", Some("grpc.unimplemented"));
    assert_eq!(r["metadata"]["grpc_code"], "UNIMPLEMENTED");

    run.expect("refused", "FAIL", Some("connect.refused"));

    let r = run.expect("hangs", "FAIL", Some("timeout"));
    assert_eq!(
        r["message"], "timed out after 1s waiting for Health/Check",
        "{r}"
    );

    let r = run.expect("slow-threshold", "WARN", Some("grpc.latency"));
    assert_eq!(r["metadata"]["status"], "SERVING");
}

/// A peer that reads the HTTP/2 preface and hangs up (a crashed backend, a wrong port): no real
/// gRPC server does this on demand, so an in-process fault server does.
#[test]
fn peer_closing_the_connection_is_a_reset() {
    let closer = FaultServer::start(Fault::CloseImmediately);
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    grpc_checks:
      - {{name: closes, target: "{}", timeout: 5s}}
"#,
            closer.addr
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("closes", "FAIL", Some("connect.reset"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Health/Check failed: "),
        "{r}"
    );
    assert_eq!(r["metadata"]["remote_addr"], closer.addr.to_string());
}

#[test]
fn tls_trust_names_and_insecure() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let (cert, key) = pki.leaf(
        "grpc",
        &["localhost", "127.0.0.1"],
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::Ca,
    );
    let srv = HealthServer::start(
        Mode::Health,
        &["=SERVING"],
        &Options {
            tls: Some((&cert, &key)),
            require: None,
            client_ca: None,
        },
    );
    let ca = pki.ca_file();
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    grpc_checks:
      - {{name: tls-ok, target: "{t}", tls: true, ca_file: "{ca}"}}
      - {{name: tls-sni, target: "{t}", tls: true, ca_file: "{ca}", server_name: localhost}}
      - {{name: tls-wrong-name, target: "{t}", tls: true, ca_file: "{ca}", server_name: wrong.example}}
      - {{name: tls-untrusted, target: "{t}", tls: true}}
      - {{name: tls-insecure, target: "{t}", tls: true, insecure: true}}
"#,
            t = srv.target(),
            ca = ca.display(),
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("tls-ok", "PASS", None);
    assert_eq!(r["metadata"]["status"], "SERVING");
    run.expect("tls-sni", "PASS", None);
    let r = run.expect("tls-wrong-name", "FAIL", Some("tls.name_mismatch"));
    assert!(
        r["message"].as_str().unwrap().contains("wrong.example"),
        "{r}"
    );
    run.expect("tls-untrusted", "FAIL", Some("tls.untrusted"));
    run.expect("tls-insecure", "PASS", None);
}

#[test]
fn a_client_certificate_is_presented_to_a_server_that_requires_one() {
    let pki = Pki::new();
    let ws = Workspace::new();
    let (cert, key) = crate::mtls::client_files(&pki, &ws);
    let ca = pki.ca_file();
    let srv = HealthServer::start(
        Mode::Health,
        &["=SERVING"],
        &Options {
            tls: Some((&cert, &key)),
            require: None,
            client_ca: Some(&ca),
        },
    );
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    grpc_checks:
      - {{name: none, target: "{t}", tls: true, ca_file: "{ca}"}}
      - {{name: cert, target: "{t}", tls: true, ca_file: "{ca}", client_cert: client.pem, client_key: client.key}}
      - {{name: stranger, target: "{t}", tls: true, ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#,
            t = srv.target(),
            ca = ca.display(),
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
}

#[test]
fn metadata_reaches_the_server_and_secrets_stay_out_of_reports() {
    let good = "grpc-sentinel-token-0007";
    let wrong = "wrong-grpc-sentinel-0008";
    let srv = HealthServer::start(
        Mode::Health,
        &["=SERVING"],
        &Options {
            tls: None,
            require: Some(&format!("authorization=Bearer {good}")),
            client_ca: None,
        },
    );
    let ws = Workspace::new();
    let config = format!(
        r#"environments:
  t:
    grpc_checks:
      - name: with-token
        target: "{t}"
        headers: {{authorization: "Bearer {good}"}}
      - name: wrong-token
        target: "{t}"
        headers: {{Authorization: "Bearer {wrong}"}}
      - name: no-token
        target: "{t}"
"#,
        t = srv.target(),
    );
    let run = run_json(&ws, &config, &[]);
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("with-token", "PASS", None);
    // The server echoes the value it got: the report must not repeat it.
    let r = run.expect("wrong-token", "FAIL", Some("grpc.error"));
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Health/Check answered UNAUTHENTICATED: bad authorization: "),
        "{r}"
    );
    assert_eq!(r["metadata"]["grpc_code"], "UNAUTHENTICATED");
    let r = run.expect("no-token", "FAIL", Some("grpc.error"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .ends_with("bad authorization: None"),
        "{r}"
    );
    for secret in [good, wrong] {
        assert!(!run.raw.contains(secret), "{secret} leaked: {}", run.raw);
    }
    // The other report formats, written to files, are redacted as well.
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--junit",
            "j.xml",
            "--sarif",
            "s.sarif",
            "--markdown",
            "m.md",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let mut all = stdout(&out);
    for f in ["j.xml", "s.sarif", "m.md"] {
        all.push_str(&std::fs::read_to_string(ws.path().join(f)).unwrap());
    }
    assert!(all.contains("UNAUTHENTICATED"), "{all}");
    for secret in [good, wrong] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

#[test]
fn rejects_bad_grpc_config() {
    let ws = Workspace::new();
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    grpc_checks:
      - {name: a, target: "http://127.0.0.1:50051"}
      - {name: b, target: "127.0.0.1"}
      - {name: c}
      - {name: d, target: "127.0.0.1:50051", expected: HEALTHY}
      - {name: e, target: "127.0.0.1:50051", ca_file: ca.pem, insecure: true}
      - {name: f, target: "127.0.0.1:50051", headers: {grpc-timeout: 1S}}
      - {name: g, target: "127.0.0.1:50051", servce: x}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "expected `host:port`, found the URL `http://127.0.0.1:50051`",
        "expected `host:port`, found `127.0.0.1` (the port is required)",
        "missing required key `target`",
        "unknown serving status `HEALTHY` (expected SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN)",
        "`server_name`, `ca_file` and `insecure` apply only with `tls: true`",
        "`headers`: `grpc-timeout` is reserved by the gRPC protocol",
        "servce",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    grpc_checks:
      - {name: ok, target: "[::1]:50051", service: app.v1.Orders, tls: true, server_name: api.test, headers: {x-api-key: k}}
"#,
        &[],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn schema_knows_grpc_checks() {
    let ws = Workspace::new();
    let out = ws.run(&["schema"], &[]);
    assert_eq!(code(&out), 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("schema is JSON");
    let def = &schema["definitions"]["grpc_check"];
    assert_eq!(def["required"], serde_json::json!(["name", "target"]));
    assert_eq!(def["additionalProperties"], false);
    for key in [
        "target",
        "service",
        "tls",
        "server_name",
        "ca_file",
        "insecure",
        "headers",
        "expected",
        "timeout",
        "retries",
        "depends_on",
        "warn_latency",
        "fail_latency",
    ] {
        assert!(def["properties"][key].is_object(), "`{key}` in {def:#}");
    }
    assert_eq!(
        def["properties"]["expected"]["anyOf"][0]["enum"],
        serde_json::json!(["SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN"])
    );
    assert!(
        schema["definitions"]["environment"]["properties"]["grpc_checks"].is_object(),
        "{schema:#}"
    );
}
