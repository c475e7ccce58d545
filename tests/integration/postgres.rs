//! `postgres_checks` against a real PostgreSQL: healthy, wrong password, server down, failing
//! query, unmet expectations; the password never appears in any output.

use crate::support::Workspace;
use crate::support::platform::{run_json, validate};
use crate::support::postgres::Postgres;

const PW: &str = "pg-app-sentinel-0007";

#[test]
fn connect_query_expectations_and_failures() {
    let pg = Postgres::start(
        PW,
        "CREATE TABLE jobs (id int, state text); INSERT INTO jobs VALUES (1, 'done'), (2, 'done');",
    );
    let dead_held = crate::support::closed_port();
    let dead = dead_held.port;
    let ws = Workspace::new();
    let p = pg.port;
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    postgres_checks:
      - {{name: orders-db, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select 1", expect_rows: 1}}
      - {{name: value, url: "postgresql://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select count(*) from jobs where state = 'done'", expect_value: "2"}}
      - {{name: connect-only, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", tls: disable}}
      - {{name: wrong-password, url: "postgres://app:wrong-sentinel-0008@127.0.0.1:{p}/app"}}
      - {{name: down, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{dead}/app"}}
      - {{name: bad-query, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select * from missing_table"}}
      - {{name: rows-unmet, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select * from jobs", expect_rows: 3}}
      - {{name: value-unmet, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", query: "select state from jobs order by id", expect_value: "pending"}}
      - {{name: tls-required, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", tls: require}}
      - {{name: slow, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", warn_latency: 0ms}}
"#
        ),
        &[("PGPASSWORD", PW)],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("orders-db", "PASS", None);
    assert_eq!(r["kind"], "postgres");
    assert_eq!(r["metadata"]["rows"], 1);
    assert!(
        r["metadata"]["server_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{r}"
    );
    assert_eq!(r["target"], format!("postgres://app:***@127.0.0.1:{p}/app"));
    let r = run.expect("value", "PASS", None);
    assert_eq!(r["metadata"]["first_value"], "2");
    run.expect("connect-only", "PASS", None);
    let r = run.expect("wrong-password", "FAIL", Some("db.auth"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("password authentication failed"),
        "{r}"
    );
    run.expect("down", "FAIL", Some("db.connect"));
    let r = run.expect("bad-query", "FAIL", Some("db.query"));
    assert!(
        r["message"].as_str().unwrap().contains("missing_table"),
        "{r}"
    );
    let r = run.expect("rows-unmet", "FAIL", Some("db.expect"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("returned 2 rows, expected 3")
    );
    let r = run.expect("value-unmet", "FAIL", Some("db.expect"));
    assert!(r["message"].as_str().unwrap().contains("`done`"), "{r}");
    // The test server has no TLS: `tls: require` must fail, not silently fall back.
    run.expect("tls-required", "FAIL", Some("db.connect"));
    run.expect("slow", "WARN", Some("db.latency"));
    assert!(!run.raw.contains(PW), "{}", run.raw);
    assert!(!run.raw.contains("wrong-sentinel-0008"), "{}", run.raw);
}

#[test]
fn rejects_bad_postgres_config() {
    let ws = Workspace::new();
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    postgres_checks:
      - {name: a, url: "mysql://u:p@h/db"}
      - {name: b, url: "postgres://h/db", expect_rows: 1}
      - {name: c, url: "postgres://h/db", tls: maybe}
      - {name: d, url: "postgres://h/db", query: "select 1", expect_row: 1}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "unsupported URL scheme `mysql`",
        "need a `query`",
        "found `maybe`",
        "expect_row",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn tls_require_succeeds_against_a_server_with_a_certificate() {
    use std::os::unix::fs::PermissionsExt;
    let pki = crate::support::tls_server::Pki::new();
    let (cert, key) = pki.leaf_days("pg", 90);
    // PostgreSQL reads its key as the `postgres` user and refuses one others may read.
    let (uid, gid) = crate::support::postgres::user_ids("postgres");
    for f in [&cert, &key] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let pg = Postgres::start_with(
        PW,
        "",
        &[
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
        ],
    );
    let ca = pki.ca_file();
    let ws = Workspace::new();
    let p = pg.port;
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    postgres_checks:
      - {{name: verified, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", tls: require, ca_file: "{ca}", query: "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()", expect_value: "true"}}
      - {{name: insecure, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", tls: require, insecure: true}}
      - {{name: untrusted, url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app", tls: require}}
"#,
            ca = ca.display()
        ),
        &[("PGPASSWORD", PW)],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("verified", "PASS", None);
    run.expect("insecure", "PASS", None);
    run.expect("untrusted", "FAIL", Some("db.connect"));
    assert!(!run.raw.contains(PW), "{}", run.raw);
}

#[test]
fn a_client_certificate_is_presented_to_a_server_with_clientcert_verify_ca() {
    use std::os::unix::fs::PermissionsExt;
    let pki = crate::support::tls_server::Pki::new();
    let ws = Workspace::new();
    let (cert, key) = crate::mtls::client_files(&pki, &ws);
    let ca = pki.ca_file();
    // The superuser sets the server up with a password alone; `app` must also show a
    // certificate from the private CA (`clientcert=verify-ca`).
    let hba = pki.dir.path().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "hostssl all postgres 127.0.0.1/32 scram-sha-256\n\
         hostssl all app 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n",
    )
    .expect("write pg_hba.conf");
    let (uid, gid) = crate::support::postgres::user_ids("postgres");
    for f in [&cert, &key, &ca, &hba] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let pg = Postgres::start_with(
        PW,
        "",
        &[
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
            format!("ssl_ca_file={}", ca.display()),
            format!("hba_file={}", hba.display()),
        ],
    );
    let url = format!("postgres://app:${{PGPASSWORD}}@127.0.0.1:{}/app", pg.port);
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    postgres_checks:
      - {{name: none, url: "{url}", tls: require, ca_file: "{ca}"}}
      - {{name: cert, url: "{url}", tls: require, ca_file: "{ca}", client_cert: client.pem, client_key: client.key, query: "select (client_dn <> '')::text from pg_stat_ssl where pid = pg_backend_pid()", expect_value: "true"}}
      - {{name: stranger, url: "{url}", tls: require, ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#,
            ca = ca.display()
        ),
    );
    let out = ws.run(
        &["-c", "ops/c.yaml", "--env", "t", "--output", "json"],
        &[("PGPASSWORD", PW)],
    );
    let doc: serde_json::Value = serde_json::from_str(&crate::support::stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}", crate::support::stderr(&out)));
    let rs = doc["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(crate::support::code(&out), 1, "{rs:?}");
    let (status, _, message) = crate::mtls::verdict(&rs, "cert");
    assert_eq!(status, "PASS", "{message}");
    for name in ["none", "stranger"] {
        let (status, _, message) = crate::mtls::verdict(&rs, name);
        assert_eq!(status, "FAIL", "{name}: {message}");
    }
    assert!(!crate::support::stdout(&out).contains(PW));
}
