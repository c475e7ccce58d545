//! Client certificates (`client_cert`/`client_key`, mutual TLS) against real servers that
//! require one: `openssl s_server -Verify` and nginx with `ssl_verify_client on` (the database,
//! redis, gRPC and DNS kinds have theirs in their own modules). Without the certificate FAIL,
//! with it PASS; a bad pair is a config error at its line that never shows the key.

use time::{Duration, OffsetDateTime};

use crate::support::nginx::Nginx;
use crate::support::tls_server::{Pki, Signer, TlsServer};
use crate::support::{Workspace, code, stderr, stdout};
use crate::tcp::by;

/// The files the tests configure, written into `ws/ops/` beside the config (named relative to
/// it): `client.pem`/`client.key` from the private CA the servers trust, `stranger.*` from a
/// CA they do not trust. Returns the server's own (cert, key), for 127.0.0.1 and `app.test`.
pub fn client_files(pki: &Pki, ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let now = OffsetDateTime::now_utc();
    std::fs::create_dir_all(ws.path().join("ops")).expect("mkdir ops");
    for (name, signer) in [("client", Signer::Ca), ("stranger", Signer::OtherCa)] {
        let (c, k) = pki.leaf(
            name,
            &["client.test"],
            now - Duration::days(1),
            now + Duration::days(90),
            signer,
        );
        std::fs::copy(&c, ws.path().join(format!("ops/{name}.pem"))).expect("copy cert");
        std::fs::copy(&k, ws.path().join(format!("ops/{name}.key"))).expect("copy key");
    }
    pki.leaf_days("server", 90)
}

/// Run `ops/c.yaml` (environment `t`) from the workspace: exit code and results.
pub fn run_ops(ws: &Workspace) -> (i32, Vec<serde_json::Value>) {
    let out = ws.run(&["-c", "ops/c.yaml", "--env", "t", "--output", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (
        code(&out),
        doc["results"].as_array().cloned().unwrap_or_default(),
    )
}

/// The status, reason and message of the result `name`.
pub fn verdict(rs: &[serde_json::Value], name: &str) -> (String, String, String) {
    let r = by(rs, name);
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    (s("status"), s("reason"), s("message"))
}

#[test]
fn tls_check_presents_its_client_certificate_in_tls13_and_tls12() {
    let pki = Pki::new();
    let ws = Workspace::new();
    let (cert, key) = client_files(&pki, &ws);
    let ca = pki.ca_file();
    let ca_arg = ca.to_str().expect("utf-8 path");
    let require = ["-Verify", "1", "-verify_return_error", "-CAfile", ca_arg];
    let s13 = TlsServer::start(&cert, &key, None, &require);
    let mut tls12 = require.to_vec();
    tls12.push("-tls1_2");
    let s12 = TlsServer::start(&cert, &key, None, &tls12);
    let ca = ca.display();
    let mut checks = String::new();
    for (v, port) in [("13", s13.port), ("12", s12.port)] {
        checks.push_str(&format!(
            r#"      - {{name: none-{v}, host: 127.0.0.1, port: {port}, ca_file: "{ca}"}}
      - {{name: cert-{v}, host: 127.0.0.1, port: {port}, ca_file: "{ca}", client_cert: client.pem, client_key: client.key}}
      - {{name: stranger-{v}, host: 127.0.0.1, port: {port}, ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#
        ));
    }
    ws.write(
        "ops/c.yaml",
        &format!("environments:\n  t:\n    tls_checks:\n{checks}"),
    );
    // Run from the workspace: the relative paths are read from ops/, the config's directory.
    let (code, rs) = run_ops(&ws);
    assert_eq!(code, 1, "{rs:?}");
    for v in ["13", "12"] {
        let (status, _, message) = verdict(&rs, &format!("cert-{v}"));
        assert_eq!(status, "PASS", "cert-{v}: {message}");
        let (status, reason, message) = verdict(&rs, &format!("none-{v}"));
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("FAIL", "tls.handshake"),
            "none-{v}: {message}"
        );
        assert!(
            message.contains("requires a client certificate"),
            "none-{v}: {message}"
        );
        let (status, reason, message) = verdict(&rs, &format!("stranger-{v}"));
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("FAIL", "tls.handshake"),
            "stranger-{v}: {message}"
        );
        assert!(
            message.contains("refused the client certificate"),
            "stranger-{v}: {message}"
        );
        assert!(message.contains("stranger.pem"), "stranger-{v}: {message}");
    }
}

#[test]
fn http_check_presents_its_client_certificate_to_nginx() {
    let pki = Pki::new();
    let ws = Workspace::new();
    let (cert, key) = client_files(&pki, &ws);
    let ca = pki.ca_file();
    let nginx = Nginx::start_tls(&format!(
        r#"ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        location / {{ return 200 "client $ssl_client_s_dn\n"; }}"#,
        cert = cert.display(),
        key = key.display(),
        ca = ca.display(),
    ));
    let url = format!("https://127.0.0.1:{}/", nginx.port);
    let ca = ca.display();
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: none, url: "{url}", ca_file: "{ca}"}}
      - {{name: cert, url: "{url}", ca_file: "{ca}", client_cert: client.pem, client_key: client.key, body_contains: "CN=client"}}
      - {{name: stranger, url: "{url}", ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#
        ),
    );
    let (code, rs) = run_ops(&ws);
    assert_eq!(code, 1, "{rs:?}");
    let (status, _, message) = verdict(&rs, "cert");
    assert_eq!(status, "PASS", "{message}");
    // nginx answers a request without an acceptable certificate with 400.
    for name in ["none", "stranger"] {
        let (status, reason, message) = verdict(&rs, name);
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("FAIL", "http.status"),
            "{name}: {message}"
        );
        assert!(message.contains("400"), "{name}: {message}");
    }
}

/// `validate` and `run` on `ops/c.yaml` holding one tls check with `keys` (YAML flow entries):
/// both exit 2; returns stderr of `validate` (the same as `run`'s) and checks that `secret`
/// appears in no output.
fn config_error(ws: &Workspace, keys: &str, secret: &str) -> String {
    ws.write(
        "ops/c.yaml",
        &format!(
            "environments:\n  t:\n    tls_checks:\n      - name: x\n        host: 127.0.0.1\n{keys}"
        ),
    );
    let mut first = None;
    for args in [
        &["validate", "-c", "ops/c.yaml"][..],
        &["-c", "ops/c.yaml", "--env", "t", "--output", "json"][..],
    ] {
        let out = ws.run(args, &[]);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        for text in [stdout(&out), stderr(&out)] {
            assert!(!text.contains(secret), "{args:?} leaked the key: {text}");
        }
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        first.get_or_insert(stderr(&out));
    }
    first.unwrap_or_default()
}

#[test]
fn a_bad_pair_is_a_config_error_at_its_line_that_never_shows_the_key() {
    let pki = Pki::new();
    let ws = Workspace::new();
    client_files(&pki, &ws);
    let stranger_key = std::fs::read_to_string(ws.path().join("ops/stranger.key")).unwrap();
    let key_line = stranger_key
        .lines()
        .nth(1)
        .expect("a base64 line")
        .to_owned();

    let err = config_error(
        &ws,
        "        client_cert: client.pem\n        client_key: stranger.key\n",
        &key_line,
    );
    assert!(err.starts_with("error: ops/c.yaml:7:21: "), "{err}");
    assert!(
        err.contains("client_key ops/stranger.key does not match the certificate in client_cert ops/client.pem"),
        "{err}"
    );

    let err = config_error(&ws, "        client_cert: client.pem\n", "-----");
    assert!(err.starts_with("error: ops/c.yaml:6:22: "), "{err}");
    assert!(err.contains("`client_cert` needs `client_key`"), "{err}");
    let err = config_error(&ws, "        client_key: client.key\n", "-----");
    assert!(err.starts_with("error: ops/c.yaml:6:21: "), "{err}");
    assert!(err.contains("`client_key` needs `client_cert`"), "{err}");

    let err = config_error(
        &ws,
        "        client_cert: client.pem\n        client_key: missing.key\n",
        "-----",
    );
    assert!(err.starts_with("error: ops/c.yaml:7:21: "), "{err}");
    assert!(
        err.contains("cannot read client_key ops/missing.key"),
        "{err}"
    );
    // Unreadable whoever runs the test (root reads any file): a directory.
    std::fs::create_dir(ws.path().join("ops/dir.key")).unwrap();
    let err = config_error(
        &ws,
        "        client_cert: client.pem\n        client_key: dir.key\n",
        "-----",
    );
    assert!(err.contains("cannot read client_key ops/dir.key"), "{err}");
    let err = config_error(
        &ws,
        "        client_cert: missing.pem\n        client_key: client.key\n",
        "-----",
    );
    assert!(err.starts_with("error: ops/c.yaml:6:22: "), "{err}");
    assert!(
        err.contains("cannot read client_cert ops/missing.pem"),
        "{err}"
    );

    // Key files that are not valid PEM keys: neither they nor any line of them is echoed.
    for (name, content, secret) in [
        (
            "broken.key",
            "-----BEGIN PRIVATE KEY-----\nTOPSECRET!!not*base64@@material\n-----END PRIVATE KEY-----\n",
            "TOPSECRET",
        ),
        ("plain.key", "hunter2-correct-horse-battery\n", "hunter2"),
        (
            "cert-as-key.key",
            &stranger_key.replace("PRIVATE KEY", "CERTIFICATE"),
            &key_line,
        ),
    ] {
        ws.write(&format!("ops/{name}"), content);
        let err = config_error(
            &ws,
            &format!("        client_cert: client.pem\n        client_key: {name}\n"),
            secret,
        );
        assert!(err.starts_with("error: ops/c.yaml:7:21: "), "{err}");
        assert!(err.contains(&format!("client_key ops/{name}")), "{err}");
    }
}

#[test]
fn the_key_files_content_is_masked_wherever_it_appears() {
    let pki = Pki::new();
    let ws = Workspace::new();
    client_files(&pki, &ws);
    let closed = crate::support::closed_port();
    // A command that prints the key file: its output reaches the report, the key does not.
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    tls_checks:
      - {{name: api, host: 127.0.0.1, port: {port}, client_cert: client.pem, client_key: client.key}}
    command_checks:
      - {{name: leak, command: "cat client.key; cat client.key >&2; exit 1", shell: true, cwd: .}}
"#,
            port = closed.port
        ),
    );
    let key = std::fs::read_to_string(ws.path().join("ops/client.key")).unwrap();
    let lines: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!lines.is_empty());
    for args in [
        &["-c", "ops/c.yaml", "--env", "t", "--output", "json"][..],
        &["-c", "ops/c.yaml", "--env", "t"][..],
    ] {
        let out = ws.run(args, &[]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        // The JSON results carry the output excerpts: masked there.
        if args.contains(&"json") {
            assert!(all.contains("***"), "the output was masked: {all}");
        }
        for line in &lines {
            assert!(
                !all.contains(line),
                "{args:?} leaked a line of the key: {all}"
            );
        }
    }
}
