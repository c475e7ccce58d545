//! HTTP check features against a real nginx.

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

fn server() -> Nginx {
    Nginx::start(
        r#"
        location = /health { default_type application/json; add_header X-Version 1.2.3; return 200 '{"status":"ok","items":[1,2,3]}'; }
        location = /echo-method { return 200 '$request_method $http_authorization'; }
        location = /created { return 201 'made'; }
        location = /moved { return 301 /health; }
        location = /teapot { return 418 'short and stout'; }
        "#,
    )
}

fn results(ws: &Workspace, envs: &[(&str, &str)]) -> (i32, Vec<serde_json::Value>) {
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], envs);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&out), stderr(&out)));
    (
        code(&out),
        doc["results"].as_array().cloned().unwrap_or_default(),
    )
}

#[test]
fn status_classes_lists_redirects_headers_and_regex() {
    let ng = server();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: class, url: "{b}/created", expected_status: 2xx}}
      - {{name: list, url: "{b}/teapot", expected_status: [200, 418]}}
      - {{name: follow, url: "{b}/moved", body_contains: ok}}
      - {{name: no-follow, url: "{b}/moved", follow_redirects: false, expected_status: 301}}
      - {{name: header, url: "{b}/health", response_headers: {{X-Version: "1.2", Content-Type: json}}}}
      - {{name: header-bad, url: "{b}/health", response_headers: {{X-Missing: x}}}}
      - {{name: regex, url: "{b}/health", body_regex: '"items":\[1,2,\d\]'}}
      - {{name: not-contains, url: "{b}/health", body_not_contains: error}}
      - {{name: mismatch-fail, url: "{b}/health", body_contains: nope, on_body_mismatch: fail}}
      - {{name: slow, url: "{b}/health", warn_latency: 0ms}}
      - {{name: too-slow, url: "{b}/health", warn_latency: 0ms, fail_latency: 0ms}}
"#,
            b = ng.base()
        ),
    );
    let (c, rs) = results(&ws, &[]);
    assert_eq!(c, 1);
    let by = |name: &str| {
        rs.iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no result {name}"))
    };
    for ok in [
        "class",
        "list",
        "follow",
        "no-follow",
        "header",
        "regex",
        "not-contains",
    ] {
        assert_eq!(by(ok)["status"], "PASS", "{}", by(ok));
    }
    assert!(
        by("follow")["metadata"]["final_url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/health")
    );
    assert_eq!(by("header-bad")["reason"], "http.header");
    assert_eq!(by("mismatch-fail")["status"], "FAIL");
    assert_eq!(by("mismatch-fail")["reason"], "http.body");
    assert_eq!(by("slow")["status"], "WARN");
    assert_eq!(by("slow")["reason"], "http.latency");
    assert_eq!(by("too-slow")["status"], "FAIL");
}

#[test]
fn method_headers_and_secret_redaction() {
    let ng = server();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - name: post
        url: "{b}/echo-method"
        method: POST
        body: '{{"a":1}}'
        headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
        body_contains: "POST Bearer"
        body_regex: "never-matches"
"#,
            b = ng.base()
        ),
    );
    let (c, rs) = results(&ws, &[("API_TOKEN", "sentinel-4242")]);
    assert_eq!(c, 0);
    let r = &rs[0];
    assert_eq!(r["status"], "WARN", "{r}");
    // The server echoed the token into the body; the excerpt must not show it.
    let all = r.to_string();
    assert!(!all.contains("sentinel-4242"), "{all}");
    assert!(
        r["metadata"]["body_excerpt"]
            .as_str()
            .unwrap_or("")
            .starts_with("POST ***"),
        "{r}"
    );
}

#[test]
fn every_method_and_the_request_body_reach_the_server() {
    // nginx's echo module answers with the method and the body it received; the method is
    // also in a response header, for HEAD (no body).
    let ng = Nginx::start(
        r#"
        location = /echo {
            add_header X-Method $request_method always;
            echo_read_request_body;
            echo "$request_method [$request_body]";
        }
        "#,
    );
    let ws = Workspace::new();
    let u = format!("{}/echo", ng.base());
    let mut yaml = String::from("environments:\n  t:\n    http_checks:\n");
    for m in ["GET", "HEAD", "DELETE", "OPTIONS"] {
        yaml.push_str(&format!(
            "      - {{name: m-{m}, url: \"{u}\", method: {m}, response_headers: {{X-Method: {m}}}}}\n"
        ));
    }
    for m in ["POST", "PUT", "PATCH"] {
        yaml.push_str(&format!(
            "      - {{name: m-{m}, url: \"{u}\", method: {m}, body: 'payload-{m}', response_headers: {{X-Method: {m}}}, body_contains: \"{m} [payload-{m}]\", on_body_mismatch: fail}}\n"
        ));
    }
    // The default method is GET, sent without a body.
    yaml.push_str(&format!(
        "      - {{name: default, url: \"{u}\", body_contains: \"GET []\", on_body_mismatch: fail}}\n"
    ));
    // Controls: a method the server did not see, a body it did not get.
    yaml.push_str(&format!(
        "      - {{name: wrong-method, url: \"{u}\", method: PUT, response_headers: {{X-Method: POST}}}}\n"
    ));
    yaml.push_str(&format!(
        "      - {{name: wrong-body, url: \"{u}\", method: POST, body: other, body_contains: \"[payload]\", on_body_mismatch: fail}}\n"
    ));
    ws.write("c.yaml", &yaml);
    let (c, rs) = results(&ws, &[]);
    assert_eq!(c, 1, "{rs:#?}");
    let by = |name: &str| {
        rs.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {rs:#?}"))
            .clone()
    };
    for m in ["GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "PATCH"] {
        let r = by(&format!("m-{m}"));
        assert_eq!(r["status"], "PASS", "{r}");
    }
    assert_eq!(by("default")["status"], "PASS", "{}", by("default"));
    let r = by("wrong-method");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "http.header", "{r}");
    let r = by("wrong-body");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "http.body", "{r}");
    assert!(
        r["metadata"]["body_excerpt"]
            .as_str()
            .is_some_and(|b| b.starts_with("POST [other]")),
        "{r}"
    );
}

#[test]
fn a_cookie_header_value_is_masked_everywhere() {
    let ng = Nginx::start(r#"location = /cookie { return 200 'got $http_cookie'; }"#);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: c, url: \"{}/cookie\", headers: {{Cookie: \"sid=cookie-sentinel-77\"}}, body_contains: never, on_body_mismatch: fail}}\n",
            ng.base()
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "-vv",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--markdown",
            "r.md",
            "--sarif",
            "r.sarif",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut all = format!("{}{}", stdout(&out), stderr(&out));
    for f in ["r.json", "r.xml", "r.md", "r.sarif"] {
        all.push_str(&crate::support::read(&ws.path().join(f)));
    }
    assert!(!all.contains("cookie-sentinel-77"), "{all}");
    let doc = crate::support::json(&ws.path().join("r.json"));
    let r = crate::support::result(&doc, "c");
    assert_eq!(r["reason"], "http.body", "{r}");
    // The whole header value is the secret: the echoed `sid=…` is masked as one.
    assert_eq!(r["metadata"]["body_excerpt"], "got ***", "{r}");
}
