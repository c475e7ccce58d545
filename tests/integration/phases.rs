//! Phase timings end to end: every kind reports its phases against its real loopback server
//! (nginx, `openssl s_server`, dnsmasq, Redis, PostgreSQL, MariaDB, the Python gRPC server, a
//! command, the fake Kubernetes API and moto) and they never add up to more than the check's
//! precise total (`duration_us`); a phase threshold gives the kind's latency reason and names the
//! phase; `queued_ms` appears when a per-host cap holds a check back.

use crate::support::Workspace;
use crate::support::dns_server::Dnsmasq;
use crate::support::nginx::Nginx;
use crate::support::platform::{Run, run_json};
use crate::support::redis::Redis;
use crate::support::tcp_server::{Mode, TcpServer};
use crate::support::tls_server::{Pki, TlsServer};

/// The phase names of the result `name`, in order, after checking each is a non-negative
/// number and that together they fit in the result's `duration_us`.
pub(crate) fn phases(run: &Run, name: &str) -> Vec<String> {
    let r = run.get(name);
    let map = r["phases"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: no phases object: {r:#}"));
    let total_us = r["duration_us"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no duration_us: {r:#}"));
    assert_eq!(
        r["duration_ms"].as_u64(),
        Some(total_us / 1000),
        "{name}: {r:#}"
    );
    let mut sum_us = 0u64;
    for (p, v) in map {
        let ms = v.as_f64().unwrap_or_else(|| panic!("{name}.{p}: {v}"));
        assert!(ms >= 0.0, "{name}.{p}: {ms}");
        // Written with microsecond precision: an exact number of microseconds.
        sum_us += (ms * 1000.0).round() as u64;
    }
    assert!(
        sum_us <= total_us,
        "{name}: phases add up to {sum_us} µs > duration_us {total_us}: {r:#}"
    );
    map.keys().cloned().collect()
}

#[test]
fn http_tcp_tls_dns_redis_and_command_report_their_phases() {
    let nginx = Nginx::start(r#"location = /ok { return 200 'fine'; }"#);
    let pki = Pki::new();
    let (c, k) = pki.leaf_days("phases", 30);
    let tls = TlsServer::start(&c, &k, None, &[]);
    let ca = pki.ca_file();
    let banner = TcpServer::start(Mode::Banner("220 ready\r\n"));
    let dns = Dnsmasq::start("example.test", &["--address=/www.example.test/10.0.0.1"]);
    let redis = Redis::start(&["--requirepass", "phase-pw-0001"]);
    let plain = Redis::start(&[]);
    let ws = Workspace::new();
    let http_port = nginx
        .base()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: http-ip, url: "{base}/ok"}}
      - {{name: http-name, url: "http://localhost:{http_port}/ok"}}
      - {{name: https, url: "https://127.0.0.1:{tp}/", ca_file: "{ca}"}}
    tcp_checks:
      - {{name: tcp-ip, host: 127.0.0.1, port: {bp}}}
      - {{name: tcp-banner, host: localhost, port: {bp}, expect: "220"}}
    tls_checks:
      - {{name: tls, host: 127.0.0.1, port: {tp}, server_name: app.test, ca_file: "{ca}"}}
    dns_checks:
      - {{name: dns, query_name: www.example.test, resolvers: ["{dns}"], expected: [10.0.0.1]}}
    redis_checks:
      - {{name: redis-auth, url: "redis://:${{RPW}}@127.0.0.1:{rp}"}}
      - {{name: redis, url: "redis://127.0.0.1:{pp}"}}
    command_checks:
      - {{name: command, command: ["sh", "-c", "exit 0"]}}
"#,
            base = nginx.base(),
            tp = tls.port,
            ca = ca.display(),
            bp = banner.addr.port(),
            dns = dns.addr,
            rp = redis.port,
            pp = plain.port,
        ),
        &[("RPW", "phase-pw-0001")],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    // An IP literal is not looked up; a name is.
    assert_eq!(phases(&run, "http-ip"), ["connect", "ttfb", "transfer"]);
    assert_eq!(
        phases(&run, "http-name"),
        ["dns", "connect", "ttfb", "transfer"]
    );
    assert_eq!(
        phases(&run, "https"),
        ["connect", "tls", "ttfb", "transfer"]
    );
    assert_eq!(phases(&run, "tcp-ip"), ["connect"]);
    assert_eq!(phases(&run, "tcp-banner"), ["dns", "connect", "banner"]);
    assert_eq!(phases(&run, "tls"), ["connect", "handshake"]);
    assert_eq!(phases(&run, "dns"), ["query"]);
    assert_eq!(phases(&run, "redis-auth"), ["connect", "auth", "query"]);
    assert_eq!(phases(&run, "redis"), ["connect", "query"]);
    assert_eq!(phases(&run, "command"), ["run"]);
    // No queue without a limit to wait for.
    assert!(run.results.iter().all(|r| r.get("queued_ms").is_none()));
}

/// PostgreSQL: the TCP connection, the TLS negotiation (only when it happens), the login and
/// the query, each its own span.
#[cfg(all(feature = "postgres", unix))]
#[test]
fn postgres_reports_connect_tls_auth_and_query() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("pg", 90);
    // PostgreSQL reads its key as the `postgres` user and refuses one others may read.
    let (uid, gid) = crate::support::postgres::user_ids("postgres");
    for f in [&cert, &key] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let pg = crate::support::postgres::Postgres::start_with(
        "phase-pg-0002",
        "",
        &[
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
        ],
    );
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    postgres_checks:
      - {{name: pg, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select 1", tls: disable}}
      - {{name: pg-name, url: "postgres://app:${{PGPASSWORD}}@localhost:{p}/app", tls: disable}}
      - {{name: pg-tls, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select 1", tls: require, ca_file: "{ca}"}}
"#,
            p = pg.port,
            ca = pki.ca_file().display(),
        ),
        &[("PGPASSWORD", "phase-pg-0002")],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(phases(&run, "pg"), ["connect", "auth", "query"]);
    // The lookup is part of `connect` (a database check has no `dns` phase).
    assert_eq!(phases(&run, "pg-name"), ["connect", "auth", "query"]);
    assert_eq!(phases(&run, "pg-tls"), ["connect", "tls", "auth", "query"]);
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_without_tls_reports_connect_auth_and_query() {
    let db = crate::support::mariadb::MariaDb::start("phase-my-0003", "");
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - {{name: my, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select 1"}}
"#,
            p = db.port
        ),
        &[("MYSQL_PWD", "phase-my-0003")],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    // No TLS, no `tls` phase.
    assert_eq!(phases(&run, "my"), ["connect", "auth", "query"]);
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_reports_connect_and_rpc() {
    use crate::support::grpc_server::{HealthServer, Mode as GrpcMode, Options};
    let srv = HealthServer::start(GrpcMode::Health, &["=SERVING"], &Options::default());
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            "environments:\n  t:\n    grpc_checks:\n      - {{name: health, target: \"{}\"}}\n",
            srv.target()
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(phases(&run, "health"), ["connect", "rpc"]);
}

#[cfg(feature = "kubernetes")]
#[test]
fn kubernetes_reports_its_request() {
    use crate::support::kubeapi::{KubeApi, Routes, deployment};
    let mut routes = Routes::new();
    routes.insert(
        "/apis/apps/v1/namespaces/prod/deployments/api".to_owned(),
        (200, deployment("api", 2, 2)),
    );
    let api = KubeApi::start(routes);
    let ws = Workspace::new();
    let dead = crate::support::closed_port();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    let run = run_json(
        &ws,
        "environments:\n  t:\n    kubernetes_checks:\n      - {name: api, deployment: api, namespace: prod}\n",
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(phases(&run, "api"), ["request"]);
}

#[cfg(feature = "aws")]
#[test]
fn aws_reports_its_request() {
    use crate::support::moto::{Moto, fake_env, run_json_aws};
    let moto = Moto::start();
    let ws = Workspace::new();
    let run = run_json_aws(
        &ws,
        &format!(
            "environments:\n  t:\n    aws_checks:\n      - {{name: identity, sts_identity: {{account: \"123456789012\"}}, endpoint_url: \"{}\"}}\n",
            moto.url()
        ),
        &fake_env("phase-aws-0004"),
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    assert_eq!(phases(&run, "identity"), ["request"]);
}

/// A zero threshold on a phase that must take some time: the kind's latency reason, and a
/// message naming the phase; a threshold on a phase that did not happen is not judged.
#[test]
fn a_phase_threshold_gives_the_kinds_latency_reason_and_names_the_phase() {
    let server = TcpServer::start(Mode::Banner("220 ready\r\n"));
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - {{name: warned, host: 127.0.0.1, port: {p}, phases: {{connect: {{warn: 0ms}}}}}}
      - {{name: failed, host: 127.0.0.1, port: {p}, expect: "220", phases: {{connect: {{warn: 0ms}}, banner: {{fail: 0ms}}}}}}
      - {{name: absent, host: 127.0.0.1, port: {p}, phases: {{dns: {{fail: 0ms}}, banner: {{fail: 0ms}}}}}}
"#,
            p = server.addr.port()
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let w = run.expect("warned", "WARN", Some("tcp.latency"));
    let msg = w["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("connect ") && msg.ends_with(" ms > warn 0 ms"),
        "{msg}"
    );
    let f = run.expect("failed", "FAIL", Some("tcp.latency"));
    let msg = f["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("banner ") && msg.ends_with(" ms > fail 0 ms"),
        "{msg}"
    );
    // No lookup (IP literal) and no exchange: nothing to judge.
    run.expect("absent", "PASS", None);
}

/// With one check at a time per host, the second check against the same host waits for the
/// first: its `queued_ms` says how long, and the first has none.
#[test]
fn a_per_host_cap_shows_as_queued_ms() {
    let server = TcpServer::start(Mode::Banner("220 ready\r\n"));
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"defaults: {{per_host_concurrency: 1}}
environments:
  t:
    tcp_checks:
      - {{name: first, host: 127.0.0.1, port: {p}, expect: "220"}}
      - {{name: second, host: 127.0.0.1, port: {p}, expect: "220"}}
"#,
            p = server.addr.port()
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    assert!(run.get("first").get("queued_ms").is_none(), "{}", run.raw);
    let queued = run.get("second")["queued_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no queued_ms: {}", run.raw));
    // It waited at least as long as the first check took (the cap held it until then).
    let first_ms = run.get("first")["duration_us"].as_f64().unwrap_or(0.0) / 1000.0;
    assert!(
        queued >= first_ms,
        "queued {queued} ms < first {first_ms} ms"
    );
}

/// `-v` logs each check's phases (and its wait, when it had one).
#[test]
fn verbose_logs_the_phases() {
    let server = TcpServer::start(Mode::Banner("220 ready\r\n"));
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: smtp, host: 127.0.0.1, port: {}, expect: \"220\"}}\n",
            server.addr.port()
        ),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "-v"], &[]);
    assert_eq!(
        crate::support::code(&out),
        0,
        "{}",
        crate::support::stderr(&out)
    );
    let err = crate::support::stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("timings"))
        .unwrap_or_else(|| panic!("no timings line: {err}"));
    assert!(line.contains("smtp"), "{line}");
    assert!(
        line.contains("phases=connect ") && line.contains(" · banner "),
        "{line}"
    );
}
