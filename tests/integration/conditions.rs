//! `expect:` conditions on what each kind observed, against real loopback servers: the value
//! families, every operator, `severity: warn`, the JSON `conditions` and the validator's
//! error at the condition's line with a did-you-mean.

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

/// Run `c.yaml` (environment `t`) and return the exit code and the results by name.
fn run(ws: &Workspace) -> (i32, Vec<serde_json::Value>) {
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
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
