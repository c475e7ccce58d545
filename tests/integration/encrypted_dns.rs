//! Encrypted resolvers in `dns_checks.resolvers`: DNS over TLS (`tls://IP[:port][#name]`) and
//! DNS over HTTPS (`https://host[:port]/dns-query`) against a real `unbound` serving a test
//! certificate, mixed with a plain dnsmasq in one propagation check; certificate verification
//! (`ca_file`, `insecure`), a wrong certificate name and a dead resolver, each failure naming
//! the resolver and its transport.

use time::{Duration, OffsetDateTime};

use crate::support::dns_server::Dnsmasq;
use crate::support::tls_server::{Pki, Signer};
use crate::support::unbound::Unbound;
use crate::support::{Workspace, closed_port, code, stderr, stdout};

/// unbound answering `www.dns.test A 192.0.2.10` with a certificate for `dns.test`,
/// `localhost` and 127.0.0.1 from the test CA.
fn unbound(pki: &Pki) -> Unbound {
    let now = OffsetDateTime::now_utc();
    let (cert, key) = pki.leaf(
        "dns",
        &["dns.test", "127.0.0.1", "localhost"],
        now - Duration::days(1),
        now + Duration::days(90),
        Signer::Ca,
    );
    Unbound::start(
        "dns.test",
        &["www.dns.test. 300 IN A 192.0.2.10"],
        &cert,
        &key,
    )
}

fn run(ws: &Workspace, config: &str) -> (i32, Vec<serde_json::Value>, String) {
    ws.write("c.yaml", config);
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (
        code(&out),
        doc["results"].as_array().cloned().unwrap_or_default(),
        stderr(&out),
    )
}

fn by<'a>(rs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rs.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name} in {rs:?}"))
}

#[test]
fn dot_and_doh_answer_and_mix_with_plain_resolvers() {
    let pki = Pki::new();
    let ub = unbound(&pki);
    let plain = Dnsmasq::start("dns.test", &["--address=/www.dns.test/192.0.2.10"]);
    let ca = pki.ca_file();
    let dot = format!("tls://127.0.0.1:{}#dns.test", ub.tls_port);
    let doh = format!("https://127.0.0.1:{}/dns-query", ub.https_port);
    // A host name: resolved, the certificate checked for the name.
    let doh_name = format!("https://localhost:{}/dns-query", ub.https_port);
    let ws = Workspace::new();
    let config = format!(
        r#"environments:
  t:
    dns_checks:
      - {{name: dot, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{dot}"], ca_file: "{ca}"}}
      - {{name: doh, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{doh}"], ca_file: "{ca}"}}
      - {{name: doh-by-name, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{doh_name}"], ca_file: "{ca}"}}
      - name: mixed
        query_name: www.dns.test
        resolvers: ["{plain}", "{ub_plain}", "{dot}", "{doh}"]
        ca_file: "{ca}"
"#,
        ca = ca.display(),
        plain = plain.addr,
        ub_plain = ub.plain,
    );
    let (rc, rs, err) = run(&ws, &config);
    assert_eq!(rc, 0, "{rs:?} {err}");
    let r = by(&rs, "dot");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(r["metadata"]["resolvers"][&dot]["transport"], "tls", "{r}");
    assert_eq!(
        r["metadata"]["answer"],
        serde_json::json!(["192.0.2.10"]),
        "{r}"
    );
    assert!(r["target"].as_str().unwrap().contains(&dot), "{r}");
    let r = by(&rs, "doh");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(
        r["metadata"]["resolvers"][&doh]["transport"], "https",
        "{r}"
    );
    let r = by(&rs, "doh-by-name");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(
        r["metadata"]["resolvers"][&doh_name]["transport"], "https",
        "{r}"
    );
    let r = by(&rs, "mixed");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(r["metadata"]["agree"], 4, "{r}");
    let per = &r["metadata"]["resolvers"];
    assert_eq!(per[plain.addr.to_string()]["transport"], "udp", "{r}");
    assert_eq!(per[&dot]["transport"], "tls", "{r}");
    assert_eq!(per[&doh]["transport"], "https", "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("= [192.0.2.10] from all 4 resolvers"),
        "{r}"
    );
}

#[test]
fn resolver_certificates_are_verified_and_failures_name_the_transport() {
    let pki = Pki::new();
    let ub = unbound(&pki);
    let ca = pki.ca_file();
    let wrong = format!("tls://127.0.0.1:{}#wrong.test", ub.tls_port);
    let doh = format!("https://127.0.0.1:{}/dns-query", ub.https_port);
    // Held (bound, not listening) until the test ends: no parallel test can take the port.
    let closed = closed_port();
    let dead_dot = format!("tls://{}#dns.test", closed.addr());
    let dead_doh = format!("https://{}/dns-query", closed.addr());
    let ws = Workspace::new();
    let config = format!(
        r#"environments:
  t:
    dns_checks:
      - {{name: wrong-name, query_name: www.dns.test, resolvers: ["{wrong}"], ca_file: "{ca}"}}
      - {{name: wrong-name-insecure, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{wrong}"], insecure: true}}
      - {{name: untrusted-doh, query_name: www.dns.test, resolvers: ["{doh}"]}}
      - {{name: dead-dot, query_name: www.dns.test, resolvers: ["{dead_dot}"], ca_file: "{ca}", timeout: 5s}}
      - {{name: dead-doh, query_name: www.dns.test, resolvers: ["{dead_doh}"], ca_file: "{ca}", timeout: 5s}}
      - name: one-dead-of-two
        query_name: www.dns.test
        expected: [192.0.2.10]
        resolvers: ["{doh}", "{dead_dot}"]
        ca_file: "{ca}"
        timeout: 5s
"#,
        ca = ca.display(),
    );
    let (rc, rs, err) = run(&ws, &config);
    assert_eq!(rc, 1, "{rs:?} {err}");

    let r = by(&rs, "wrong-name");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "tls.name_mismatch", "{r}");
    assert_eq!(
        r["message"],
        format!("{wrong}: TLS handshake failed: certificate name mismatch"),
        "{r}"
    );

    let r = by(&rs, "wrong-name-insecure");
    assert_eq!(r["status"], "PASS", "insecure accepts the certificate: {r}");

    let r = by(&rs, "untrusted-doh");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "tls.untrusted", "{r}");
    assert!(
        r["message"].as_str().unwrap().starts_with(&format!(
            "{doh}: TLS handshake failed: certificate not trusted"
        )),
        "{r}"
    );

    for (name, resolver) in [("dead-dot", &dead_dot), ("dead-doh", &dead_doh)] {
        let r = by(&rs, name);
        assert_eq!(r["status"], "FAIL", "{r}");
        assert_eq!(r["reason"], "connect.refused", "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{resolver} refused the")),
            "{r}"
        );
    }

    let r = by(&rs, "one-dead-of-two");
    assert_eq!(r["status"], "FAIL", "{r}");
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.starts_with("1/2 resolvers agree: ") && msg.contains(&dead_dot),
        "{r}"
    );
    assert_eq!(r["metadata"]["resolvers"][&doh]["agrees"], true, "{r}");
    assert_eq!(
        r["metadata"]["resolvers"][&dead_dot]["agrees"], false,
        "{r}"
    );
}

#[test]
fn dot_and_doh_resolvers_present_a_client_certificate() {
    let pki = Pki::new();
    let ub = unbound(&pki);
    let ws = Workspace::new();
    let (cert, key) = crate::mtls::client_files(&pki, &ws);
    let ca = pki.ca_file();
    let require = format!(
        "ssl_certificate {cert};\n        ssl_certificate_key {key};\n        ssl_client_certificate {ca};\n        ssl_verify_client on;",
        cert = cert.display(),
        key = key.display(),
        ca = ca.display(),
    );
    // DNS over TLS: nginx requires the certificate and passes the stream to unbound's TCP port.
    let dot_front = crate::support::nginx::Nginx::start_stream_tls(&format!(
        "{require}\n        proxy_pass {};",
        ub.plain
    ));
    // DNS over HTTPS: nginx requires the certificate and passes HTTP/2 on to unbound's DoH.
    let doh_front = crate::support::nginx::Nginx::start_tls_h2(&format!(
        "{require}\n        location /dns-query {{ grpc_pass grpcs://127.0.0.1:{}; }}",
        ub.https_port
    ));
    let dot = format!("tls://127.0.0.1:{}#app.test", dot_front.port);
    let doh = format!("https://127.0.0.1:{}/dns-query", doh_front.port);
    let ca = ca.display();
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    dns_checks:
      - {{name: dot-none, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{dot}"], ca_file: "{ca}"}}
      - {{name: dot-cert, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{dot}"], ca_file: "{ca}", client_cert: client.pem, client_key: client.key}}
      - {{name: dot-stranger, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{dot}"], ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
      - {{name: doh-none, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{doh}"], ca_file: "{ca}"}}
      - {{name: doh-cert, query_name: www.dns.test, expected: [192.0.2.10], resolvers: ["{doh}"], ca_file: "{ca}", client_cert: client.pem, client_key: client.key}}
"#
        ),
    );
    let (rc, rs) = crate::mtls::run_ops(&ws);
    assert_eq!(rc, 1, "{rs:?}");
    for name in ["dot-cert", "doh-cert"] {
        let (status, _, message) = crate::mtls::verdict(&rs, name);
        assert_eq!(status, "PASS", "{name}: {message}");
    }
    for name in ["dot-none", "dot-stranger", "doh-none"] {
        let (status, _, message) = crate::mtls::verdict(&rs, name);
        assert_eq!(status, "FAIL", "{name}: {message}");
    }
}
