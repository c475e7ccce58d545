//! Reason codes produced by real runs against real servers on loopback: `tls.invalid` (a
//! certificate for client authentication only, served by `openssl s_server`), `tls.latency`,
//! `redis.latency` (a real redis-server), `tcp.latency`, `connect.error` (a network namespace
//! whose loopback is down), and a TCP check that tries every address of its host in turn.

use std::net::TcpListener;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use time::{Duration, OffsetDateTime};

use crate::support::platform::run_json;
use crate::support::redis::Redis;
use crate::support::tls_server::{Pki, TlsServer};
use crate::support::{Workspace, code, require_bin, stderr, stdout};

/// A CA and, signed by it, a leaf for 127.0.0.1 valid only for client authentication; returns
/// (CA file, leaf cert, leaf key) in `dir`.
fn client_only_leaf(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "purpose CA");
    ca.not_before = now - Duration::days(1);
    ca.not_after = now + Duration::days(365);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "client only");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf.not_before = now - Duration::days(1);
    leaf.not_after = now + Duration::days(90);
    let cert = leaf
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    let paths = (
        dir.join("purpose-ca.pem"),
        dir.join("client.pem"),
        dir.join("client.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[test]
fn tls_invalid_and_tls_latency_from_openssl_s_server() {
    let pki = Pki::new();
    let (ca, cert, key) = client_only_leaf(pki.dir.path());
    let wrong_purpose = TlsServer::start(&cert, &key, None, &[]);
    let (c, k) = pki.leaf_days("fine", 90);
    let fine = TlsServer::start(&c, &k, None, &[]);
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    tls_checks:
      - {{name: purpose, host: 127.0.0.1, port: {p}, ca_file: "{ca}"}}
      - {{name: slow, host: 127.0.0.1, port: {f}, ca_file: "{pki_ca}", fail_latency: 0ms}}
"#,
            p = wrong_purpose.port,
            ca = ca.display(),
            f = fine.port,
            pki_ca = pki.ca_file().display(),
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("purpose", "FAIL", Some("tls.invalid"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("does not allow extended key usage for server authentication"),
        "{r}"
    );
    let r = run.expect("slow", "FAIL", Some("tls.latency"));
    assert!(
        r["message"].as_str().unwrap().contains("fail_latency 0ms"),
        "{r}"
    );
    // The certificate was judged too: the latency is the only problem.
    assert!(r["metadata"]["days_left"].as_i64().unwrap() >= 89, "{r}");
}

#[test]
fn redis_latency_and_tcp_latency_from_real_servers() {
    let redis = Redis::start(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    redis_checks:
      - {{name: redis-slow, url: "redis://127.0.0.1:{r}", warn_latency: 0ms}}
      - {{name: redis-fine, url: "redis://127.0.0.1:{r}", warn_latency: 1h}}
    tcp_checks:
      - {{name: tcp-slow, host: 127.0.0.1, port: {port}, fail_latency: 0ms}}
      - {{name: tcp-fine, host: 127.0.0.1, port: {port}, fail_latency: 1h}}
"#,
            r = redis.port
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("redis-slow", "WARN", Some("redis.latency"));
    assert!(
        r["message"].as_str().unwrap().contains("warn_latency 0ms"),
        "{r}"
    );
    run.expect("redis-fine", "PASS", None);
    let r = run.expect("tcp-slow", "FAIL", Some("tcp.latency"));
    assert!(
        r["message"].as_str().unwrap().contains("fail_latency 0ms"),
        "{r}"
    );
    run.expect("tcp-fine", "PASS", None);
}

/// With the loopback interface down (a network namespace of its own), connecting to
/// 127.0.0.1 fails with "network unreachable": not a refusal, `connect.error`.
#[test]
fn connect_error_when_the_network_is_unreachable() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    tcp_checks:\n      - {name: unreachable, host: 127.0.0.1, port: 9}\n",
    );
    let out = crate::support::run_offline(
        ws.path(),
        &["-c", "c.yaml", "--env", "t", "--output", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let r = crate::support::result(&doc, "unreachable");
    assert_eq!(r["reason"], "connect.error", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("unreachable"),
        "{r}"
    );
}

/// A loopback port `port` that refuses connections on `ip` while the value lives (bound, not
/// listening); `None` when another socket holds it there.
fn refusing(ip: [u8; 4], port: u16) -> Option<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    sock.bind(&std::net::SocketAddr::from((ip, port)).into())
        .ok()?;
    Some(sock)
}

/// `multi.test` resolves to 127.0.0.1 and 127.0.0.2 (a private `/etc/hosts` bind-mounted in a
/// mount namespace of the run's own). Whichever order the resolver returns them in, a check
/// whose port refuses on one address and listens on the other passes, on the listening one:
/// one of the two cases below makes the first address refuse.
#[test]
fn a_tcp_check_tries_every_address_of_its_host_in_turn() {
    let unshare = require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let ws = Workspace::new();
    let hosts = ws.write(
        "hosts",
        "127.0.0.1 localhost\n127.0.0.1 multi.test\n127.0.0.2 multi.test\n",
    );
    // (listening, refusing) addresses, and the port they share.
    let mut cases = Vec::new();
    for (up, down) in [
        ([127, 0, 0, 1], [127, 0, 0, 2]),
        ([127, 0, 0, 2], [127, 0, 0, 1]),
    ] {
        let found = (0..20).find_map(|_| {
            let l = TcpListener::bind(std::net::SocketAddr::from((up, 0))).ok()?;
            let port = l.local_addr().ok()?.port();
            refusing(down, port).map(|r| (l, r, port))
        });
        let (listener, refuser, port) = found.expect("a port free on both addresses");
        cases.push((listener, refuser, port, up));
    }
    let mut config = "environments:\n  t:\n    tcp_checks:\n".to_owned();
    for (i, (_, _, port, _)) in cases.iter().enumerate() {
        config.push_str(&format!(
            "      - {{name: case-{i}, host: multi.test, port: {port}}}\n"
        ));
    }
    // Both addresses refuse: the last one tried is named.
    let both = crate::support::closed_port();
    config.push_str(&format!(
        "      - {{name: none, host: multi.test, port: {}}}\n",
        both.port
    ));
    let _both_v2 = refusing([127, 0, 0, 2], both.port).expect("127.0.0.2 free on the closed port");
    ws.write("c.yaml", &config);
    let script = format!("mount --bind {} /etc/hosts && exec \"$@\"", hosts.display());
    let out = crate::support::infracheck_command_via(
        ws.path(),
        &[
            unshare.as_os_str(),
            "-m".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            script.as_ref(),
            "sh".as_ref(),
        ],
    )
    .args(["-c", "c.yaml", "--env", "t", "--output", "json"])
    .output()
    .unwrap();
    let err = stderr(&out);
    assert!(
        !err.starts_with("unshare:") && !err.starts_with("mount:"),
        "a mount namespace needs CAP_SYS_ADMIN (run the tests as root): {err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {err}", stdout(&out)));
    for (i, (_, _, port, up)) in cases.iter().enumerate() {
        let r = crate::support::result(&doc, &format!("case-{i}"));
        assert_eq!(r["status"], "PASS", "{r}");
        let want = std::net::SocketAddr::from((*up, *port)).to_string();
        assert_eq!(r["metadata"]["remote_addr"], want, "{r}");
    }
    let r = crate::support::result(&doc, "none");
    assert_eq!(r["reason"], "tcp.refused", "{r}");
    assert_eq!(code(&out), 1, "{err}");
}
