//! `mysql_checks` against a real MariaDB: healthy, wrong password, server down, failing
//! query, unmet expectations, TLS, client certificates; the phases of each step of the
//! connection; the password never appears in any output.

use crate::support::Workspace;
use crate::support::mariadb::MariaDb;
use crate::support::platform::run_json;

const PW: &str = "my-app-sentinel-0009";

#[test]
fn connect_query_expectations_and_failures() {
    let db = MariaDb::start(
        PW,
        "CREATE TABLE t (id INT, name VARCHAR(20)); INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, 'c');",
    );
    let dead_held = crate::support::closed_port();
    let dead = dead_held.port;
    let ws = Workspace::new();
    let p = db.port;
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - {{name: legacy-db, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select count(*) from t", expect_value: "3"}}
      - {{name: rows, url: "mariadb://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select * from t", expect_rows: 3}}
      - {{name: connect-only, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app"}}
      - {{name: wrong-password, url: "mysql://app:wrong-sentinel-0010@127.0.0.1:{p}/app"}}
      - {{name: down, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{dead}/app"}}
      - {{name: bad-query, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select * from missing_table"}}
      - {{name: rows-unmet, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select * from t", expect_rows: 1}}
      - {{name: value-unmet, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", query: "select name from t where id = 2", expect_value: "b"}}
"#
        ),
        &[("MYSQL_PWD", PW)],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("legacy-db", "PASS", None);
    assert_eq!(r["kind"], "mysql");
    assert!(
        r["metadata"]["server_version"]
            .as_str()
            .is_some_and(|v| v.contains("MariaDB")),
        "{r}"
    );
    assert_eq!(r["target"], format!("mysql://app:***@127.0.0.1:{p}/app"));
    run.expect("rows", "PASS", None);
    run.expect("connect-only", "PASS", None);
    let r = run.expect("wrong-password", "FAIL", Some("db.auth"));
    assert!(r["message"].as_str().unwrap().contains("1045"), "{r}");
    // Without TLS there is no `tls` phase; a refused login records no `auth` span.
    assert_eq!(
        crate::phases::phases(&run, "connect-only"),
        ["connect", "auth", "query"]
    );
    assert_eq!(crate::phases::phases(&run, "wrong-password"), ["connect"]);
    run.expect("down", "FAIL", Some("db.connect"));
    let r = run.expect("bad-query", "FAIL", Some("db.query"));
    assert!(
        r["message"].as_str().unwrap().contains("missing_table"),
        "{r}"
    );
    run.expect("rows-unmet", "FAIL", Some("db.expect"));
    let r = run.expect("value-unmet", "FAIL", Some("db.expect"));
    assert!(r["message"].as_str().unwrap().contains("`NULL`"), "{r}");
    assert!(!run.raw.contains(PW), "{}", run.raw);
    assert!(!run.raw.contains("wrong-sentinel-0010"), "{}", run.raw);
}

#[test]
fn tls_require_succeeds_against_a_server_with_a_certificate() {
    use std::os::unix::fs::PermissionsExt;
    let pki = crate::support::tls_server::Pki::new();
    let (cert, key) = pki.leaf_days("mariadb", 90);
    // mariadbd runs as `mysql` and reads its certificate and key as that user.
    let (uid, gid) = crate::support::postgres::user_ids("mysql");
    for f in [&cert, &key] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let db = MariaDb::start_with(
        PW,
        "",
        &[
            format!("--ssl-cert={}", cert.display()),
            format!("--ssl-key={}", key.display()),
        ],
    );
    let ca = pki.ca_file();
    let ws = Workspace::new();
    let p = db.port;
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - {{name: verified, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", tls: require, ca_file: "{ca}", query: "select variable_value <> '' from information_schema.session_status where variable_name = 'Ssl_cipher'", expect_value: "1"}}
      - {{name: insecure, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", tls: require, insecure: true}}
      - {{name: untrusted, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app", tls: require}}
      - {{name: tls-wrong-password, url: "mysql://app:wrong-sentinel-0011@127.0.0.1:{p}/app", tls: require, ca_file: "{ca}"}}
"#,
            ca = ca.display()
        ),
        &[("MYSQL_PWD", PW)],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("verified", "PASS", None);
    run.expect("insecure", "PASS", None);
    let r = run.expect("untrusted", "FAIL", Some("db.connect"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("TLS handshake failed"),
        "{r}"
    );
    // Each step of the connection is timed apart, and they fit in the check's total.
    for name in ["verified", "insecure"] {
        assert_eq!(
            crate::phases::phases(&run, name),
            ["connect", "tls", "auth", "query"],
            "{name}"
        );
    }
    // A wrong password over TLS: the server's refusal, after the handshake; no login span.
    let r = run.expect("tls-wrong-password", "FAIL", Some("db.auth"));
    assert!(r["message"].as_str().unwrap().contains("1045"), "{r}");
    assert_eq!(
        crate::phases::phases(&run, "tls-wrong-password"),
        ["connect", "tls"]
    );
    assert!(!run.raw.contains(PW), "{}", run.raw);
    assert!(!run.raw.contains("wrong-sentinel-0011"), "{}", run.raw);
}

#[test]
fn a_client_certificate_is_presented_to_a_user_that_requires_x509() {
    use std::os::unix::fs::PermissionsExt;
    let pki = crate::support::tls_server::Pki::new();
    let ws = Workspace::new();
    let (cert, key) = crate::mtls::client_files(&pki, &ws);
    let ca = pki.ca_file();
    let (uid, gid) = crate::support::postgres::user_ids("mysql");
    for f in [&cert, &key, &ca] {
        std::os::unix::fs::chown(f, Some(uid), Some(gid)).expect("chown");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let db = MariaDb::start_with(
        PW,
        "",
        &[
            format!("--ssl-cert={}", cert.display()),
            format!("--ssl-key={}", key.display()),
            format!("--ssl-ca={}", ca.display()),
        ],
    );
    db.sql("ALTER USER 'app'@'%' REQUIRE X509; FLUSH PRIVILEGES;");
    let url = format!("mysql://app:${{MYSQL_PWD}}@127.0.0.1:{}/app", db.port);
    ws.write(
        "ops/c.yaml",
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - {{name: none, url: "{url}", tls: require, ca_file: "{ca}"}}
      - {{name: cert, url: "{url}", tls: require, ca_file: "{ca}", client_cert: client.pem, client_key: client.key, query: "select 1", expect_value: "1"}}
      - {{name: stranger, url: "{url}", tls: require, ca_file: "{ca}", client_cert: stranger.pem, client_key: stranger.key}}
"#,
            ca = ca.display()
        ),
    );
    let out = ws.run(
        &["-c", "ops/c.yaml", "--env", "t", "--output", "json"],
        &[("MYSQL_PWD", PW)],
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

#[test]
fn a_silent_server_times_out_at_the_greeting_and_a_non_mysql_one_is_a_clear_error() {
    use crate::support::tcp_server::{Mode, TcpServer};
    let silent = TcpServer::start(Mode::Silent);
    let smtp = TcpServer::start(Mode::Banner("220 mail.example ESMTP ready\r\n"));
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - {{name: silent, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{s}/app", timeout: 1s}}
      - {{name: smtp, url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{m}/app", timeout: 5s}}
"#,
            s = silent.addr.port(),
            m = smtp.addr.port()
        ),
        &[("MYSQL_PWD", PW)],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("silent", "FAIL", Some("timeout"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("reading the server greeting"),
        "{r}"
    );
    // The TCP connection was made; the greeting never came.
    assert_eq!(crate::phases::phases(&run, "silent"), ["connect"]);
    let r = run.expect("smtp", "FAIL", Some("db.connect"));
    let m = r["message"].as_str().unwrap();
    assert!(m.contains("unexpected reply from the server"), "{r}");
    assert!(!m.contains('\n'), "{r}");
    assert!(!run.raw.contains(PW), "{}", run.raw);
}
