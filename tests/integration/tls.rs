//! `tls_checks` (and https `http_checks` expiry thresholds) against `openssl s_server` serving
//! certificates generated at test time.

use time::{Duration, OffsetDateTime};

use crate::support::Workspace;
use crate::support::tls_server::{Pki, Signer, TlsServer};
use crate::tcp::{by, results};

#[test]
fn certificate_validity_expiry_and_trust() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let names = ["app.test", "127.0.0.1"];
    let (c, k) = pki.leaf_days("valid", 90);
    let valid = TlsServer::start(&c, &k, Some(&pki.ca_file()), &[]);
    let (c, k) = pki.leaf_days("warn", 20);
    let warn = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf_days("fail", 3);
    let fail = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf(
        "expired",
        &names,
        now - Duration::days(100),
        now - Duration::days(10) - Duration::hours(1),
        Signer::Ca,
    );
    let expired = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf(
        "future",
        &names,
        now + Duration::days(10),
        now + Duration::days(100),
        Signer::Ca,
    );
    let future = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf(
        "wrongname",
        &["other.test"],
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::Ca,
    );
    let wrong = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf(
        "selfsigned",
        &names,
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::SelfSigned,
    );
    let selfsigned = TlsServer::start(&c, &k, None, &[]);
    let (c, k) = pki.leaf(
        "otherca",
        &names,
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::OtherCa,
    );
    let other = TlsServer::start(&c, &k, None, &[]);

    let ca = pki.ca_file();
    let ca = ca.display();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tls_checks:
      - {{name: valid, host: 127.0.0.1, port: {valid}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: valid-ip, host: 127.0.0.1, port: {valid}, ca_file: "{ca}", min_version: "1.2"}}
      - {{name: no-ca-file, host: 127.0.0.1, port: {valid}, server_name: app.test}}
      - {{name: warn, host: 127.0.0.1, port: {warn}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: fail, host: 127.0.0.1, port: {fail}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: custom-days, host: 127.0.0.1, port: {warn}, server_name: app.test, ca_file: "{ca}", warn_days: 10, fail_days: 5}}
      - {{name: expired, host: 127.0.0.1, port: {expired}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: future, host: 127.0.0.1, port: {future}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: wrong-name, host: 127.0.0.1, port: {wrong}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: self-signed, host: 127.0.0.1, port: {selfsigned}, server_name: app.test, ca_file: "{ca}"}}
      - {{name: other-ca, host: 127.0.0.1, port: {other}, server_name: app.test, ca_file: "{ca}"}}
"#,
            valid = valid.port,
            warn = warn.port,
            fail = fail.port,
            expired = expired.port,
            future = future.port,
            wrong = wrong.port,
            selfsigned = selfsigned.port,
            other = other.port,
        ),
    );
    let (code, rs) = results(&ws);
    assert_eq!(code, 1);

    let v = by(&rs, "valid");
    assert_eq!(v["status"], "PASS", "{v}");
    let m = &v["metadata"];
    let days = m["days_left"].as_i64().unwrap_or(-1);
    assert!((89..=90).contains(&days), "{m}");
    assert!(
        m["issuer"]
            .as_str()
            .unwrap_or("")
            .contains("infracheck test CA"),
        "{m}"
    );
    assert!(m["subject"].as_str().unwrap_or("").contains("valid"), "{m}");
    assert_eq!(
        m["sans"],
        serde_json::json!(["app.test", "127.0.0.1"]),
        "{m}"
    );
    assert_eq!(m["protocol"], "TLS 1.3", "{m}");
    assert_eq!(m["chain_length"], 2, "{m}");
    assert!(
        m["not_after"].as_str().is_some_and(|s| !s.is_empty()),
        "{m}"
    );
    // The served CA lives ten years: the leaf is still the earliest expiry of the chain.
    assert_eq!(m["chain_min_days_left"], m["days_left"], "{m}");
    assert!(m["chain_earliest_not_after"].is_string(), "{m}");
    assert_eq!(
        by(&rs, "valid-ip")["status"],
        "PASS",
        "{}",
        by(&rs, "valid-ip")
    );

    let expect = |name: &str, status: &str, reason: &str| {
        let r = by(&rs, name);
        assert_eq!(r["status"], status, "{name}: {r}");
        assert_eq!(r["reason"], reason, "{name}: {r}");
        r
    };
    let r = expect("no-ca-file", "FAIL", "tls.untrusted");
    assert!(
        r["message"].as_str().unwrap_or("").contains("ca_file"),
        "{r}"
    );
    let r = expect("warn", "WARN", "tls.expiring");
    assert_eq!(r["metadata"]["days_left"], 20, "{r}");
    let r = expect("fail", "FAIL", "tls.expiring");
    assert_eq!(r["metadata"]["days_left"], 3, "{r}");
    assert_eq!(by(&rs, "custom-days")["status"], "PASS");

    // An expired certificate still reports its dates and names.
    let r = expect("expired", "FAIL", "tls.expired");
    let m = &r["metadata"];
    assert!(m["days_left"].as_i64().unwrap_or(0) <= -10, "{m}");
    assert!(
        m["not_after"].as_str().is_some_and(|s| !s.is_empty()),
        "{m}"
    );
    assert!(
        m["issuer"]
            .as_str()
            .unwrap_or("")
            .contains("infracheck test CA"),
        "{m}"
    );
    assert!(
        r["message"].as_str().unwrap_or("").contains("days ago"),
        "{r}"
    );

    expect("future", "FAIL", "tls.not_yet_valid");
    let r = expect("wrong-name", "FAIL", "tls.name_mismatch");
    assert!(
        r["message"].as_str().unwrap_or("").contains("other.test"),
        "{r}"
    );
    assert_eq!(r["metadata"]["sans"], serde_json::json!(["other.test"]));
    expect("self-signed", "FAIL", "tls.self_signed");
    let r = expect("other-ca", "FAIL", "tls.untrusted");
    assert!(
        r["metadata"]["issuer"]
            .as_str()
            .unwrap_or("")
            .contains("some other CA"),
        "{r}"
    );
}

#[test]
fn min_version_and_non_tls_peer() {
    let pki = Pki::new();
    let (c, k) = pki.leaf_days("tls12", 90);
    let tls12 = TlsServer::start(&c, &k, None, &["-tls1_2"]);
    let banner = crate::support::tcp_server::TcpServer::start(
        crate::support::tcp_server::Mode::Banner("SSH-2.0-OpenSSH_9.2\r\n"),
    );
    let ca = pki.ca_file();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tls_checks:
      - {{name: old, host: 127.0.0.1, port: {p}, server_name: app.test, ca_file: "{ca}", min_version: "1.3"}}
      - {{name: ok12, host: 127.0.0.1, port: {p}, server_name: app.test, ca_file: "{ca}", min_version: "1.2"}}
      - {{name: not-tls, host: 127.0.0.1, port: {b}, server_name: app.test, ca_file: "{ca}", timeout: 3s}}
"#,
            p = tls12.port,
            b = banner.addr.port(),
            ca = ca.display()
        ),
    );
    let (_, rs) = results(&ws);
    let old = by(&rs, "old");
    assert_eq!(old["status"], "FAIL", "{old}");
    assert_eq!(old["reason"], "tls.version", "{old}");
    assert_eq!(old["metadata"]["protocol"], "TLS 1.2", "{old}");
    let ok = by(&rs, "ok12");
    assert_eq!(ok["status"], "PASS", "{ok}");
    assert_eq!(ok["metadata"]["protocol"], "TLS 1.2", "{ok}");
    let nt = by(&rs, "not-tls");
    assert_eq!(nt["status"], "FAIL", "{nt}");
    assert_eq!(nt["reason"], "tls.handshake", "{nt}");
}

#[test]
fn https_http_check_reports_days_left_and_thresholds() {
    let pki = Pki::new();
    let (c, k) = pki.leaf_days("web", 20);
    let srv = TlsServer::start(&c, &k, None, &[]);
    let ca = pki.ca_file();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: default, url: "https://127.0.0.1:{p}/", ca_file: "{ca}"}}
      - {{name: warn, url: "https://127.0.0.1:{p}/", ca_file: "{ca}", warn_days: 30, fail_days: 7}}
      - {{name: fail, url: "https://127.0.0.1:{p}/", ca_file: "{ca}", warn_days: 60, fail_days: 25}}
      - {{name: untrusted, url: "https://127.0.0.1:{p}/"}}
"#,
            p = srv.port,
            ca = ca.display()
        ),
    );
    let (_, rs) = results(&ws);
    let d = by(&rs, "default");
    assert_eq!(d["status"], "PASS", "{d}");
    assert_eq!(d["metadata"]["tls_days_left"], 20, "{d}");
    assert!(d["metadata"]["tls_not_after"].is_string(), "{d}");
    let w = by(&rs, "warn");
    assert_eq!(w["status"], "WARN", "{w}");
    assert_eq!(w["reason"], "tls.expiring", "{w}");
    let f = by(&rs, "fail");
    assert_eq!(f["status"], "FAIL", "{f}");
    assert_eq!(f["reason"], "tls.expiring", "{f}");
    let u = by(&rs, "untrusted");
    assert_eq!(u["status"], "FAIL", "{u}");
    assert_eq!(u["reason"], "tls.untrusted", "{u}");
}

#[test]
fn not_yet_valid_certificate_fails_tls_and_https_checks_with_not_before() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    // Whole seconds, so the metadata and the metric compare exactly.
    let not_before = OffsetDateTime::from_unix_timestamp(now.unix_timestamp() + 10 * 86_400)
        .expect("not_before");
    let (c, k) = pki.leaf(
        "notyet",
        &["app.test", "127.0.0.1"],
        not_before,
        now + Duration::days(100),
        Signer::Ca,
    );
    let future = TlsServer::start(&c, &k, None, &[]);
    let valid_from =
        OffsetDateTime::from_unix_timestamp(now.unix_timestamp() - 5 * 86_400).expect("valid_from");
    let (c, k) = pki.leaf(
        "current",
        &["app.test", "127.0.0.1"],
        valid_from,
        now + Duration::days(100),
        Signer::Ca,
    );
    let current = TlsServer::start(&c, &k, None, &[]);
    let ca = pki.ca_file();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tls_checks:
      - {{name: tls-future, host: 127.0.0.1, port: {f}, server_name: app.test, ca_file: "{ca}"}}
    http_checks:
      - {{name: https-future, url: "https://127.0.0.1:{f}/", ca_file: "{ca}"}}
      - {{name: https-future-insecure, url: "https://127.0.0.1:{f}/", insecure: true}}
      - {{name: https-current, url: "https://127.0.0.1:{c}/", ca_file: "{ca}"}}
"#,
            f = future.port,
            c = current.port,
            ca = ca.display()
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--output",
            "json",
            "--prometheus",
            "m.prom",
        ],
        &[],
    );
    assert_eq!(
        crate::support::code(&out),
        1,
        "{}",
        crate::support::stderr(&out)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&crate::support::stdout(&out)).expect("JSON on stdout");
    let rs = doc["results"].as_array().cloned().unwrap_or_default();
    let date = not_before
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (name, key) in [
        ("tls-future", "not_before"),
        ("https-future", "tls_not_before"),
        ("https-future-insecure", "tls_not_before"),
    ] {
        let r = by(&rs, name);
        assert_eq!(r["status"], "FAIL", "{r}");
        assert_eq!(r["reason"], "tls.not_yet_valid", "{r}");
        assert_eq!(r["metadata"][key], date, "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains(&format!("is not valid before {date}")),
            "{r}"
        );
    }
    // With the certificate in hand (insecure), its notAfter is reported beside it.
    let r = by(&rs, "https-future-insecure");
    assert!(r["metadata"]["tls_not_after"].is_string(), "{r}");
    let r = by(&rs, "https-current");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(
        r["metadata"]["tls_not_before"],
        valid_from
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        "{r}"
    );

    // The metric, same labels as the expiry metric.
    let samples = crate::metrics::parse(&ws.path().join("m.prom"));
    let metric = "infracheck_certificate_not_before_timestamp_seconds";
    for name in ["tls-future", "https-future", "https-future-insecure"] {
        let kind = if name.starts_with("tls") {
            "tls"
        } else {
            "http"
        };
        assert_eq!(
            crate::metrics::value(
                &samples,
                metric,
                &[("environment", "t"), ("check", name), ("kind", kind)]
            ),
            Some(not_before.unix_timestamp() as f64),
            "{name}: {samples:?}"
        );
    }
    assert_eq!(
        crate::metrics::value(&samples, metric, &[("check", "https-current")]),
        Some(valid_from.unix_timestamp() as f64)
    );
    assert!(
        crate::metrics::value(
            &samples,
            "infracheck_check_certificate_expiry_timestamp_seconds",
            &[
                ("environment", "t"),
                ("check", "https-current"),
                ("kind", "http")
            ]
        )
        .is_some()
    );
}

#[test]
fn insecure_https_check_accepts_a_self_signed_or_untrusted_certificate() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let names = ["app.test", "127.0.0.1"];
    let (sc, sk) = pki.leaf(
        "self",
        &names,
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::SelfSigned,
    );
    let (oc, ok) = pki.leaf(
        "other",
        &names,
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::OtherCa,
    );
    let self_signed = TlsServer::start(&sc, &sk, None, &[]);
    let other = TlsServer::start(&oc, &ok, None, &[]);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: self-insecure, url: "https://127.0.0.1:{s}/", insecure: true}}
      - {{name: self-verified, url: "https://127.0.0.1:{s}/"}}
      - {{name: other-insecure, url: "https://127.0.0.1:{o}/", insecure: true}}
      - {{name: other-verified, url: "https://127.0.0.1:{o}/", insecure: false}}
"#,
            s = self_signed.port,
            o = other.port,
        ),
    );
    let (c, rs) = results(&ws);
    assert_eq!(c, 1, "{rs:#?}");
    for name in ["self-insecure", "other-insecure"] {
        let r = by(&rs, name);
        assert_eq!(r["status"], "PASS", "{r}");
        assert_eq!(r["metadata"]["status_code"], 200, "{r}");
    }
    // rustls reports a self-signed leaf as an unknown issuer on the HTTP path (`tls_checks`
    // inspect the certificate and say `tls.self_signed`): either certificate reason will do.
    let r = by(&rs, "self-verified");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert!(
        r["reason"] == "tls.self_signed" || r["reason"] == "tls.untrusted",
        "{r}"
    );
    let r = by(&rs, "other-verified");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "tls.untrusted", "{r}");
}
