//! Dependencies between checks (`depends_on`, SKIP) and expiring waivers (`waivers:`, WAIVED)
//! end to end, against a real nginx, an in-process server that counts requests and a closed
//! loopback port.

use crate::reports::validate;
use crate::support::faults::{Fault, FaultServer};
use crate::support::{Workspace, code, json, nginx::Nginx, read, result, stderr, stdout};

fn nginx() -> Nginx {
    Nginx::start(
        r#"
        location = /ok { return 200 'ok'; }
        location = /down { return 503 'vendor down'; }
        "#,
    )
}

#[test]
fn failed_dependency_skips_its_dependents_without_running_them() {
    let ng = nginx();
    // If a dependent ran, it would reach this server and be counted.
    let counter = FaultServer::start(Fault::Hang);
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ws = Workspace::new();
    let config = format!(
        r#"environments:
  t:
    tcp_checks:
      - {{name: dns-api, host: 127.0.0.1, port: {closed}}}
    http_checks:
      - {{name: api, url: "{u}", timeout: 2s, depends_on: [dns-api]}}
      - {{name: api-deep, url: "{u}", timeout: 2s, depends_on: [api]}}
      - {{name: static, url: "{b}/ok"}}
"#,
        u = counter.url("/"),
        b = ng.base()
    );
    ws.write("c.yaml", &config);
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--sarif",
            "r.sarif",
            "--markdown",
            "r.md",
            "--codequality",
            "cq.json",
        ],
        &[],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(text.contains("FAIL  dns-api"), "{text}");
    assert!(text.contains("SKIP  api "), "{text}");
    assert!(text.contains("blocked by dns-api [blocked]"), "{text}");
    assert!(
        text.contains("blocked by api (root cause: dns-api)"),
        "{text}"
    );
    assert!(text.contains("PASS  static"), "{text}");
    assert!(text.contains("2 skipped,"), "{text}");
    // Never contacted: no request reached the dependents' server.
    assert_eq!(counter.wait_for_requests(0), 0);

    let doc = json(&ws.path().join("r.json"));
    assert_eq!(doc["summary"]["skip"], 2, "{doc}");
    assert_eq!(doc["summary"]["fail"], 1, "{doc}");
    assert_eq!(doc["summary"]["pass"], 1, "{doc}");
    let api = result(&doc, "api");
    assert_eq!(api["status"], "SKIP");
    assert_eq!(api["reason"], "blocked");
    assert_eq!(api["attempts"], 0);
    assert_eq!(api["message"], "blocked by dns-api");
    assert_eq!(result(&doc, "api-deep")["status"], "SKIP");

    let xml_path = ws.path().join("r.xml");
    validate::junit(&xml_path);
    let xml = read(&xml_path);
    assert_eq!(xml.matches("<skipped").count(), 2, "{xml}");
    assert!(
        xml.contains(r#"<skipped message="blocked by dns-api""#),
        "{xml}"
    );

    // SARIF: the root cause only.
    let sarif_path = ws.path().join("r.sarif");
    validate::sarif(&sarif_path);
    let sarif = json(&sarif_path);
    let results = sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 1, "{sarif}");
    assert_eq!(results[0]["properties"]["check"], "dns-api");

    let issues = validate::codequality(&ws.path().join("cq.json"));
    assert_eq!(issues.len(), 1, "{issues:?}");

    let md = read(&ws.path().join("r.md"));
    assert!(md.contains("2 skipped,"), "{md}");
    assert!(md.contains("| ⏭️ SKIP | api |"), "{md}");

    // `merge` reads SKIP back from the JSON document.
    let merged = ws.run(&["merge", "r.json"], &[]);
    let text = stdout(&merged);
    assert_eq!(code(&merged), 1, "{text}{}", stderr(&merged));
    assert!(text.contains("SKIP  api "), "{text}");
}

#[test]
fn passing_dependency_lets_the_dependent_run() {
    let ng = nginx();
    let counter = FaultServer::start(Fault::NotHttp);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: later, url: "{u}", depends_on: root}}
      - {{name: root, url: "{b}/ok"}}
"#,
            u = counter.url("/"),
            b = ng.base()
        ),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "r.json"], &[]);
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(code(&out), 1, "{doc}");
    assert_eq!(result(&doc, "root")["status"], "PASS");
    // It ran (and met a non-HTTP peer) once its dependency had passed.
    let later = result(&doc, "later");
    assert_eq!(later["status"], "FAIL", "{later}");
    assert_eq!(later["attempts"], 1, "{later}");
    assert_ne!(later["reason"], "blocked", "{later}");
    assert_eq!(doc["summary"]["skip"], 0);
}

fn waiver_config(ng: &Nginx) -> String {
    format!(
        r#"waivers:
  - {{check: "payments-*", reason: "vendor outage, ticket 42", owner: sre, expires: 2026-12-31}}
environments:
  t:
    http_checks:
      - {{name: payments-api, url: "{b}/down"}}
      - {{name: web, url: "{b}/ok"}}
"#,
        b = ng.base()
    )
}

#[test]
fn waived_failure_is_visible_and_does_not_fail_the_run() {
    let ng = nginx();
    let ws = Workspace::new();
    ws.write("c.yaml", &waiver_config(&ng));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--markdown",
            "r.md",
        ],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.contains("WAIVED  payments-api"), "{text}");
    assert!(text.contains("expected status 200, got 503"), "{text}");
    assert!(
        text.contains("; waived until 2026-12-31: vendor outage, ticket 42 (sre) [http.status]"),
        "{text}"
    );
    assert!(text.contains("1 waived,"), "{text}");
    // The live line (stderr is no terminal here) says what the report says: WAIVED.
    let err = stderr(&out);
    let live = err
        .lines()
        .find(|l| l.contains(" payments-api "))
        .unwrap_or_else(|| panic!("a live line for payments-api: {err}"));
    assert!(live.starts_with("WAIVED payments-api "), "{live}");
    assert!(
        live.contains(" ms http.status: ") || live.contains(" s http.status: "),
        "the report's duration format: {live}"
    );

    let doc = json(&ws.path().join("r.json"));
    assert_eq!(doc["summary"]["waived"], 1, "{doc}");
    assert_eq!(doc["summary"]["fail"], 0, "{doc}");
    let p = result(&doc, "payments-api");
    assert_eq!(p["status"], "WAIVED");
    assert_eq!(p["reason"], "http.status");
    let merged = ws.run(&["merge", "r.json"], &[]);
    assert_eq!(code(&merged), 0, "{}", stderr(&merged));
    assert!(
        stdout(&merged).contains("WAIVED  payments-api"),
        "{}",
        stdout(&merged)
    );

    let xml_path = ws.path().join("r.xml");
    validate::junit(&xml_path);
    let xml = read(&xml_path);
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(xml.contains("WAIVED [http.status]"), "{xml}");

    let md = read(&ws.path().join("r.md"));
    assert!(md.contains("| 🛡️ WAIVED | payments-api |"), "{md}");
    assert!(md.contains("1 waived,"), "{md}");
}

#[test]
fn expired_waiver_fails_again_and_says_so() {
    let ng = nginx();
    let ws = Workspace::new();
    ws.write("c.yaml", &waiver_config(&ng));
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t"],
        &[("INFRACHECK_TODAY", "2027-01-01")],
    );
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(text.contains("FAIL  payments-api"), "{text}");
    assert!(
        text.contains("the waiver expired on 2026-12-31: vendor outage, ticket 42 (sre)"),
        "{text}"
    );
    assert!(!text.contains("waived,"), "{text}");
}

#[test]
fn stale_waiver_is_a_warning_at_its_line() {
    let ng = nginx();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"waivers:
  - {{check: web, reason: "flaky CDN", expires: 2026-12-31}}
  - {{check: "ghost-*", reason: "removed service", expires: 2026-12-31}}
environments:
  t:
    http_checks:
      - {{name: web, url: "{b}/ok"}}
"#,
            b = ng.base()
        ),
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--json", "r.json"],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(code(&out), 0, "{doc}");
    let stale = result(&doc, "waiver:ghost-*");
    assert_eq!(stale["status"], "WARN");
    assert_eq!(stale["kind"], "waiver");
    assert_eq!(stale["reason"], "waiver.stale");
    assert_eq!(stale["location"]["line"], 3);
    // A waiver matching a passing check is not stale.
    assert!(
        doc["results"]
            .as_array()
            .is_some_and(|rs| rs.iter().all(|r| r["name"] != "waiver:web")),
        "{doc}"
    );
    assert_eq!(result(&doc, "web")["status"], "PASS");
    // `merge` accepts the synthetic `waiver` kind.
    let merged = ws.run(&["merge", "r.json"], &[]);
    assert_eq!(code(&merged), 0, "{}", stderr(&merged));
    assert!(
        stdout(&merged).contains("WARN  waiver:ghost-*"),
        "{}",
        stdout(&merged)
    );
    // --fail-on-warn makes a stale waiver break the run.
    let strict = ws.run(
        &["-c", "c.yaml", "--env", "t", "--fail-on-warn"],
        &[("INFRACHECK_TODAY", "2026-12-01")],
    );
    assert_eq!(code(&strict), 1, "{}", stdout(&strict));
}

#[test]
fn bad_today_override_is_a_usage_error() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    tcp_checks:\n      - {name: x, host: 127.0.0.1, port: 1}\n",
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t"],
        &[("INFRACHECK_TODAY", "tomorrow")],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("INFRACHECK_TODAY"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn merge_with_the_config_reports_stale_waivers_of_a_sharded_run() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "waivers:\n  - {check: retired-*, reason: \"decommissioned, ticket 5\", expires: 2026-12-31}\nenvironments:\n  t:\n    command_checks:\n      - {name: one, command: [\"true\"]}\n      - {name: two, command: [\"true\"]}\n      - {name: three, command: [\"true\"]}\n",
    );
    let today = [("INFRACHECK_TODAY", "2026-12-01")];
    for k in ["1/2", "2/2"] {
        let name = format!("shard-{}.json", &k[..1]);
        let out = ws.run(
            &["-c", "c.yaml", "--env", "t", "--shard", k, "--json", &name],
            &today,
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let doc = json(&ws.path().join(&name));
        assert!(
            doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["kind"] != "waiver"),
            "a shard alone reports no stale waiver: {doc}"
        );
    }
    // Without the config, merge cannot tell; with it, the stale waiver is a WARN at its line.
    let out = ws.run(&["merge", "shard-1.json", "shard-2.json"], &today);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("waiver:retired-*"),
        "{}",
        stdout(&out)
    );
    let out = ws.run(
        &[
            "merge",
            "shard-1.json",
            "shard-2.json",
            "--config",
            "c.yaml",
            "--json",
            "merged.json",
            "--fail-on-warn",
        ],
        &today,
    );
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("merged.json"));
    let stale = result(&doc, "waiver:retired-*");
    assert_eq!(stale["status"], "WARN");
    assert_eq!(stale["reason"], "waiver.stale");
    assert_eq!(stale["location"]["line"], 2);
    assert_eq!(doc["summary"]["total"], 4);
    // A config without the merged environment is a usage error.
    ws.write(
        "other.yaml",
        "environments:\n  x:\n    command_checks:\n      - {name: one, command: [\"true\"]}\n",
    );
    let out = ws.run(
        &[
            "merge",
            "shard-1.json",
            "shard-2.json",
            "--config",
            "other.yaml",
        ],
        &today,
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}
