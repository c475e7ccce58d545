//! `expect:` conditions on what each kind observed, against real loopback servers: the value
//! families, every operator, `severity: warn`, the JSON `conditions` and the validator's
//! error at the condition's line with a did-you-mean.

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

/// Run `c.yaml` (environment `t`) and return the exit code and the results by name.
fn run(ws: &Workspace) -> (i32, Vec<serde_json::Value>) {
    run_with(ws, &[])
}

/// [`run`] with environment variables.
fn run_with(ws: &Workspace, envs: &[(&str, &str)]) -> (i32, Vec<serde_json::Value>) {
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], envs);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (
        code(&out),
        doc["results"].as_array().cloned().unwrap_or_default(),
    )
}

fn by<'a>(rs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rs.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name}"))
}

/// Each condition of `r` held, and the result passed.
fn all_held(r: &serde_json::Value) {
    assert_eq!(r["status"], "PASS", "{r}");
    let conds = r["conditions"].as_array().expect("conditions");
    assert!(!conds.is_empty(), "{r}");
    for c in conds {
        assert_eq!(c["ok"], true, "{c} in {r}");
    }
}

#[test]
fn http_conditions_on_status_headers_body_jsonpath_lengths_and_latency() {
    let ng = Nginx::start(
        r#"
        location = /health { default_type application/json; add_header X-Version 7.2.4; return 200 '{"status":"DOWN","queue":{"depth":42},"items":["a","b","c"]}'; }
        location = /page { default_type text/html; return 503 '<html>::error::bad</html>'; }
        "#,
    );
    let b = ng.base();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - name: holds
        url: "{b}/health"
        expect:
          - status == 200
          - status != 500
          - status in [200, 204]
          - header.Content-Type contains json
          - header.x-version >= 6.0
          - header.X-Version < 7.10
          - header.x-missing !exists
          - header.x-version exists
          - body contains '"depth"'
          - body !contains error
          - 'body matches "\"depth\":\\d+"'
          - body !matches "^<html"
          - body.$.queue.depth < 100
          - body.$.queue.depth <= 42
          - body.$.queue.depth > 41
          - body.$.queue.depth >= 42
          - body.$.status == "DOWN"
          - body.$.items contains b
          - len(body.$.items) == 3
          - len(body) < 1KB
          - latency < 30s
          - latency.ttfb < 30s
          - body.$.nothing !exists
      - name: fails
        url: "{b}/health"
        expect:
          - body.$.status == "UP"
          - {{assert: "len(body.$.items) > 5", severity: warn}}
      - name: warns
        url: "{b}/health"
        expect:
          - {{assert: 'body.$.status == "UP"', severity: warn}}
      - name: hostile
        url: "{b}/page"
        expected_status: 503
        expect:
          - body contains ok
"#
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "holds"));
    let fails = by(&rs, "fails");
    assert_eq!(fails["status"], "FAIL");
    assert_eq!(fails["reason"], "http.expect");
    assert_eq!(
        fails["message"], "body.$.status == \"UP\", was \"DOWN\"",
        "{fails}"
    );
    assert_eq!(
        fails["conditions"],
        serde_json::json!([
            {"assert": "body.$.status == \"UP\"", "ok": false, "actual": "DOWN"},
            {"assert": "len(body.$.items) > 5", "ok": false, "actual": 3}
        ])
    );
    let warns = by(&rs, "warns");
    assert_eq!(warns["status"], "WARN");
    assert_eq!(warns["reason"], "http.expect");
    let hostile = by(&rs, "hostile");
    assert_eq!(hostile["reason"], "http.expect");
    assert_eq!(
        hostile["conditions"][0]["actual"],
        "<html>::error::bad</html>"
    );
}

#[test]
fn command_conditions_on_stdout_jsonpath_stderr_and_exit_code() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    command_checks:
      - name: out
        command: ["sh", "-c", "printf '{\"version\":\"15.4\",\"ok\":true,\"n\":[1,2]}'; printf 'warning: x' >&2; exit 3"]
        expect_exit: 3
        expect:
          - exit_code == 3
          - exit_code in [3, 4]
          - stdout contains version
          - stdout.$.version >= 15.2
          - stdout.$.version < 15.10
          - stdout.$.ok == true
          - len(stdout.$.n) == 2
          - stderr matches "^warning"
          - stderr !contains panic
      - name: bad
        command: ["sh", "-c", "echo '{\"state\":\"down\"}'"]
        expect:
          - stdout.$.state == up
"#,
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "out"));
    let bad = by(&rs, "bad");
    assert_eq!(bad["reason"], "command.expect");
    assert_eq!(bad["message"], "stdout.$.state == up, was \"down\"");
}

#[test]
fn tcp_conditions_on_the_banner_of_a_real_server() {
    let redis = crate::support::redis::Redis::start(&[]);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tcp_checks:
      - name: banner
        host: 127.0.0.1
        port: {p}
        send: "QUIT\r\n"
        expect:
          - banner contains OK
          - banner matches "^\\+OK"
          - len(banner) < 10
          - latency.connect < 30s
      - name: wrong
        host: 127.0.0.1
        port: {p}
        send: "QUIT\r\n"
        expect: [banner == "+PONG"]
      - name: old-expect
        host: 127.0.0.1
        port: {p}
        send: "QUIT\r\n"
        expect: "+OK"
"#,
            p = redis.port
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "banner"));
    let wrong = by(&rs, "wrong");
    assert_eq!(wrong["reason"], "tcp.expect");
    assert_eq!(wrong["message"], "banner == \"+PONG\", was \"+OK\\r\\n\"");
    let old = by(&rs, "old-expect");
    assert_eq!(old["status"], "PASS", "{old}");
    assert!(old.get("conditions").is_none(), "{old}");
}

#[test]
fn tls_conditions_on_the_certificate_of_openssl_s_server() {
    use crate::support::tls_server::{Pki, TlsServer};
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("localhost", 90);
    let server = TlsServer::start(&cert, &key, Some(&pki.ca_file()), &[]);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    tls_checks:
      - name: cert
        host: 127.0.0.1
        port: {p}
        server_name: app.test
        ca_file: "{ca}"
        expect:
          - cert.days_left > 60
          - cert.days_left <= 90
          - cert.sans contains app.test
          - cert.subject contains localhost
          - cert.issuer exists
          - latency.handshake < 30s
      - name: soon
        host: 127.0.0.1
        port: {p}
        server_name: app.test
        ca_file: "{ca}"
        expect:
          - {{assert: cert.days_left > 100, severity: warn}}
"#,
            p = server.port,
            ca = pki.ca_file().display()
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 0, "{rs:?}");
    all_held(by(&rs, "cert"));
    let soon = by(&rs, "soon");
    assert_eq!(soon["status"], "WARN");
    assert_eq!(soon["reason"], "tls.expect");
    let days = soon["conditions"][0]["actual"].as_i64().unwrap();
    assert!((88..=90).contains(&days), "{soon}");
}

#[test]
fn an_unknown_value_is_an_error_at_its_line_with_a_suggestion() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    http_checks:
      - name: typo
        url: http://127.0.0.1:1/
        expect:
          - status == 200
          - bdy contains x
    tcp_checks:
      - name: other
        host: 127.0.0.1
        port: 1
        expect:
          - {assert: "status == 200"}
          - banner matches "("
"#,
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("c.yaml:8:13: ")
            && err.contains("unknown value `bdy` for http checks (did you mean `body`?)"),
        "{err}"
    );
    assert!(
        err.contains("c.yaml:14:22: ") && err.contains("unknown value `status` for tcp checks"),
        "{err}"
    );
    assert!(
        err.contains("c.yaml:15:13: ") && err.contains("invalid regex"),
        "{err}"
    );
}

#[test]
fn dns_conditions_on_the_answers_and_ttl_of_dnsmasq() {
    use crate::support::dns_server::Dnsmasq;
    let dns = Dnsmasq::start(
        "example.test",
        &[
            "--host-record=api.example.test,10.0.0.9",
            "--host-record=multi.example.test,10.0.0.1",
            "--host-record=multi.example.test,10.0.0.2",
            "--local-ttl=120",
        ],
    );
    let r = dns.addr;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    dns_checks:
      - name: answers
        query_name: multi.example.test
        resolvers: ["{r}"]
        expect:
          - dns.answers contains 10.0.0.2
          - len(dns.answers) == 2
          - dns.ttl == 120
          - dns.ttl >= 60
          - latency.query < 30s
      - name: ttl-low
        query_name: api.example.test
        resolvers: ["{r}"]
        expect:
          - dns.ttl > 3600
"#
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "answers"));
    let low = by(&rs, "ttl-low");
    assert_eq!(low["reason"], "dns.expect");
    assert_eq!(low["message"], "dns.ttl > 3600, was 120");
}

#[test]
fn redis_conditions_on_info_fields_compare_versions() {
    let redis = crate::support::redis::Redis::start(&[]);
    let version = redis.cli(&["INFO", "server"]);
    let version = version
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .expect("redis_version")
        .trim()
        .to_owned();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    redis_checks:
      - name: info
        url: "redis://127.0.0.1:{p}"
        expect:
          - redis.info.redis_version >= 6.0
          - redis.info.redis_version < 99.1.2
          - redis.info.redis_version == {version}
          - redis.info.role == master
          - redis.info.connected_clients >= 1
          - redis.info.tcp_port == {p}
          - redis.info.no_such_field !exists
      - name: too-old
        url: "redis://127.0.0.1:{p}"
        expect:
          - redis.info.redis_version >= 99.0
"#,
            p = redis.port
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "info"));
    let old = by(&rs, "too-old");
    assert_eq!(old["reason"], "redis.expect");
    assert_eq!(
        old["message"],
        format!("redis.info.redis_version >= 99.0, was \"{version}\"")
    );
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_conditions_on_the_query_value_and_rows() {
    use crate::support::postgres::Postgres;
    const PW: &str = "cond-pg-sentinel-0093";
    let pg = Postgres::start(
        PW,
        "CREATE TABLE jobs (id int, state text); INSERT INTO jobs VALUES (1, 'done'), (2, 'done'), (3, 'late');",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    postgres_checks:
      - name: value
        url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app"
        query: "select count(*) from jobs where state = 'done'"
        expect:
          - db.value == 2
          - db.value < 10
          - db.rows == 1
      - name: version
        url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app"
        query: "show server_version"
        expect:
          - db.value >= 9.6
      - name: rows
        url: "postgres://app:${{PGPASSWORD}}@127.0.0.1:{p}/app"
        query: "select state from jobs order by id"
        expect:
          - db.rows > 5
"#,
            p = pg.port
        ),
    );
    let (c, rs) = run_with(&ws, &[("PGPASSWORD", PW)]);
    assert_eq!(c, 1);
    all_held(by(&rs, "value"));
    all_held(by(&rs, "version"));
    let rows = by(&rs, "rows");
    assert_eq!(rows["reason"], "db.expect");
    assert_eq!(rows["message"], "db.rows > 5, was 3");
    assert!(!format!("{rs:?}").contains(PW));
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_conditions_on_the_query_value_and_rows() {
    use crate::support::mariadb::MariaDb;
    const PW: &str = "cond-my-sentinel-0094";
    let db = MariaDb::start(
        PW,
        "CREATE TABLE t (id INT, name VARCHAR(20)); INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, 'c');",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    mysql_checks:
      - name: value
        url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app"
        query: "select name from t order by id"
        expect:
          - db.value == a
          - db.rows == 3
          - db.rows in [3, 4]
      - name: version
        url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app"
        query: "select version()"
        expect:
          - db.value matches "MariaDB"
          - db.value >= 10.0
      - name: null-value
        url: "mysql://app:${{MYSQL_PWD}}@127.0.0.1:{p}/app"
        query: "select name from t where id = 2"
        expect:
          - {{assert: db.value == a, severity: warn}}
"#,
            p = db.port
        ),
    );
    let (c, rs) = run_with(&ws, &[("MYSQL_PWD", PW)]);
    assert_eq!(c, 0, "{rs:?}");
    all_held(by(&rs, "value"));
    all_held(by(&rs, "version"));
    let null = by(&rs, "null-value");
    assert_eq!(null["status"], "WARN");
    assert_eq!(null["reason"], "db.expect");
    assert_eq!(null["message"], "db.value == a, was null");
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_conditions_on_the_serving_status() {
    use crate::support::grpc_server::{HealthServer, Mode, Options};
    let srv = HealthServer::start(
        Mode::Health,
        &["=SERVING", "svc-down=NOT_SERVING"],
        &Options::default(),
    );
    let t = format!("127.0.0.1:{}", srv.port);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    grpc_checks:
      - name: serving
        target: "{t}"
        expect:
          - grpc.status == SERVING
          - grpc.status in [SERVING, UNKNOWN]
          - latency.rpc < 30s
      - name: down
        target: "{t}"
        service: svc-down
        expected: NOT_SERVING
        expect:
          - grpc.status != SERVING
          - grpc.status == "SERVING"
"#
        ),
    );
    let (c, rs) = run(&ws);
    assert_eq!(c, 1);
    all_held(by(&rs, "serving"));
    let down = by(&rs, "down");
    assert_eq!(down["reason"], "grpc.expect");
    assert_eq!(
        down["message"],
        "grpc.status == \"SERVING\", was \"NOT_SERVING\""
    );
}

#[cfg(feature = "kubernetes")]
#[test]
fn kubernetes_conditions_on_ready_counts_and_restarts() {
    use crate::support::kubeapi::{KubeApi, Routes, deployment, list, pod};
    let mut routes = Routes::new();
    routes.insert(
        "/apis/apps/v1/namespaces/prod/deployments/api".to_owned(),
        (200, deployment("api", 3, 3)),
    );
    routes.insert(
        "/api/v1/namespaces/prod/pods?labelSelector=app=worker".to_owned(),
        (
            200,
            list(
                "PodList",
                vec![pod("worker-a", true, 0), pod("worker-b", true, 7)],
            ),
        ),
    );
    let api = KubeApi::start(routes);
    let ws = Workspace::new();
    let dead = crate::support::closed_port();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    kubernetes_checks:
      - name: api
        deployment: api
        namespace: prod
        expect:
          - k8s.ready == 3
          - k8s.ready >= 2
          - k8s.restarts !exists
      - name: workers
        pods: {selector: "app=worker"}
        namespace: prod
        expect:
          - k8s.ready == 2
          - {assert: k8s.restarts <= 5, severity: warn}
"#,
    );
    let (c, rs) = run_with(&ws, &[("KUBECONFIG", kubeconfig.to_str().unwrap())]);
    assert_eq!(c, 0, "{rs:?}");
    all_held(by(&rs, "api"));
    let workers = by(&rs, "workers");
    assert_eq!(workers["status"], "WARN", "{workers}");
    assert_eq!(workers["reason"], "k8s.expect");
    assert_eq!(workers["message"], "k8s.restarts <= 5, was 7");
}
