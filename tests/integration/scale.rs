//! Scale: `--shard K/N`, `merge` of the shard documents, and the per-host concurrency limit.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

fn server() -> Nginx {
    Nginx::start(
        r#"
        location = /ok { return 200 'all good'; }
        location = /json { default_type application/json; return 200 '{"status":"ok"}'; }
        location = /missing { return 404 'gone'; }
        location = /error { return 500 'boom'; }
        "#,
    )
}

/// About twenty checks of several kinds: passes, failures and warnings, some shared, some the
/// environment's own, lists in an order that is not the kinds' order.
fn config(base: &str, port: u16, closed: u16) -> String {
    format!(
        r#"checks:
  tcp_checks:
    - {{name: shared-tcp, host: 127.0.0.1, port: {port}}}
  http_checks:
    - {{name: shared-ok, url: "{base}/ok"}}
    - {{name: shared-missing, url: "{base}/missing"}}
environments:
  t:
    tcp_checks:
      - {{name: tcp-open, host: 127.0.0.1, port: {port}}}
      - {{name: tcp-closed, host: 127.0.0.1, port: {closed}}}
      - {{name: tcp-open-2, host: localhost, port: {port}}}
    http_checks:
      - {{name: ok-1, url: "{base}/ok"}}
      - {{name: ok-2, url: "{base}/ok", body_contains: good}}
      - {{name: ok-3, url: "{base}/json", json: [{{path: status, equals: ok}}]}}
      - {{name: ok-4, url: "{base}/ok", expected_status: 2xx}}
      - {{name: ok-5, url: "{base}/missing", expected_status: 404}}
      - {{name: fail-404, url: "{base}/missing"}}
      - {{name: fail-500, url: "{base}/error"}}
      - {{name: fail-body, url: "{base}/ok", body_contains: nope, on_body_mismatch: fail}}
      - {{name: fail-json, url: "{base}/json", json: [{{path: status, equals: down}}]}}
      - {{name: warn-body, url: "{base}/ok", body_contains: nope}}
      - {{name: warn-slow, url: "{base}/ok", warn_latency: 0ms}}
      - {{name: warn-slow-2, url: "{base}/json", warn_latency: 0ms}}
      - {{name: fail-refused, url: "http://127.0.0.1:{closed}/"}}
      - {{name: ok-6, url: "{base}/ok"}}
      - {{name: ok-7, url: "{base}/json"}}
"#
    )
}

const FORMATS: &[(&str, &str)] = &[
    ("--json", "json"),
    ("--junit", "xml"),
    ("--sarif", "sarif"),
    ("--markdown", "md"),
    ("--codequality", "cq.json"),
];

/// Report-file arguments writing every format under `prefix`.
fn report_args(prefix: &str) -> Vec<String> {
    FORMATS
        .iter()
        .flat_map(|(flag, ext)| [flag.to_string(), format!("{prefix}.{ext}")])
        .collect()
}

/// Timings and timestamps replaced, so two runs of the same checks compare equal.
fn normalise(text: &str) -> String {
    let rules = [
        (
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[timestamp]",
        ),
        (r#"(time|timestamp)="[^"]*""#, "$1=\"[t]\""),
        (r#""(startTimeUtc|endTimeUtc)": ?"[^"]*""#, "\"$1\": [d]"),
        // The phases and the wait for a slot are timings too, and which of them happen
        // depends on the run (a pooled connection has no `connect`; a shard queues less).
        (r#"(?s)"phases": \{[^}]*\}"#, "\"phases\": [p]"),
        (r#"(?m)^\s*"queued_ms": [\d.]+,\n"#, ""),
        (r"(?m)^- \*\*(phases|queued):\*\* .*\n", ""),
        // `duration_ms`, `duration_us`, `latency_ms`, `connect_ms`… in JSON, properties and
        // markdown.
        (r#"(\w+_(?:ms|us))("?:\s*"?|\W{1,3})\d+"#, "$1$2[d]"),
        (r"\d+(\.\d+)?\s?(ms|s|µs)\b", "[dur]"),
    ];
    let mut out = text.to_owned();
    for (re, with) in rules {
        out = regex::Regex::new(re)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

/// Equal, or a panic showing the first line that differs.
fn same(a: &str, b: &str, what: &str) {
    if a == b {
        return;
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = (0..la.len().max(lb.len()))
        .find(|i| la.get(*i) != lb.get(*i))
        .unwrap_or(0);
    panic!(
        "{what} differs at line {}:\n single: {:?}\n merged: {:?}",
        i + 1,
        la.get(i),
        lb.get(i)
    );
}

fn read(ws: &Workspace, name: &str) -> String {
    std::fs::read_to_string(ws.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.run(args, &[])
}

fn args<'a>(base: &[&'a str], more: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(more.iter().map(String::as_str))
        .collect()
}

#[test]
fn merge_of_four_shards_equals_a_single_run_in_every_format() {
    let ng = server();
    let ws = Workspace::new();
    let closed = crate::support::closed_port();
    ws.write("c.yaml", &config(&ng.base(), ng.port, closed.port));

    let single_reports = report_args("single");
    let single = run(
        &ws,
        &args(
            &["run", "-c", "c.yaml", "--env", "t", "--output", "json"],
            &single_reports,
        ),
    );
    assert_eq!(code(&single), 1, "{}", stderr(&single));
    let single_doc: serde_json::Value = serde_json::from_str(&stdout(&single)).unwrap();
    assert_eq!(single_doc["summary"]["total"], 21);
    assert!(single_doc["shard"].is_null());
    let statuses: BTreeSet<String> = single_doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses.len(),
        3,
        "passes, warnings and failures: {statuses:?}"
    );

    let mut shard_files = Vec::new();
    let mut seen = 0;
    for k in 1..=4 {
        let file = format!("shard-{k}.json");
        let shard = format!("{k}/4");
        let out = run(
            &ws,
            &[
                "run", "-c", "c.yaml", "--env", "t", "--shard", &shard, "--json", &file,
            ],
        );
        assert!([0, 1].contains(&code(&out)), "shard {k}: {}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_str(&read(&ws, &file)).unwrap();
        assert_eq!(doc["shard"]["index"], k);
        assert_eq!(doc["shard"]["count"], 4);
        assert_eq!(doc["shard"]["total_checks"], 21);
        assert_eq!(doc["schema_version"], 1);
        seen += doc["results"].as_array().unwrap().len();
        shard_files.push(file);
    }
    assert_eq!(seen, 21);

    // Any order of documents gives the same merge.
    shard_files.reverse();
    let merged_reports = report_args("merged");
    let mut merge_args: Vec<&str> = vec!["merge"];
    merge_args.extend(shard_files.iter().map(String::as_str));
    merge_args.extend(["--output", "json"]);
    let merged = run(&ws, &args(&merge_args, &merged_reports));
    assert_eq!(code(&merged), code(&single), "{}", stderr(&merged));
    same(
        &normalise(&stdout(&single)),
        &normalise(&stdout(&merged)),
        "stdout JSON",
    );
    for (_, ext) in FORMATS {
        let a = normalise(&read(&ws, &format!("single.{ext}")));
        let b = normalise(&read(&ws, &format!("merged.{ext}")));
        same(&a, &b, ext);
    }

    // The text report and exit code of a merge follow the single run's rules.
    let mut text_args: Vec<&str> = vec!["merge"];
    text_args.extend(shard_files.iter().map(String::as_str));
    let text = run(&ws, &text_args);
    assert_eq!(code(&text), 1);
    assert!(stdout(&text).contains("fail-404"), "{}", stdout(&text));
}

fn names(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}

fn list_config(n: usize) -> String {
    let mut s = String::from("environments:\n  t:\n    tcp_checks:\n");
    for i in 0..n {
        s.push_str(&format!(
            "      - {{name: check-{i}, host: 127.0.0.1, port: 1}}\n"
        ));
    }
    s
}

fn shards(ws: &Workspace, count: usize) -> BTreeMap<String, usize> {
    let mut owner = BTreeMap::new();
    for k in 1..=count {
        let shard = format!("{k}/{count}");
        let out = run(
            ws,
            &["list", "-c", "c.yaml", "--env", "t", "--shard", &shard],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        for name in names(&out) {
            assert!(
                owner.insert(name.clone(), k).is_none(),
                "{name} is in two shards"
            );
        }
    }
    owner
}

#[test]
fn every_check_lands_in_one_shard_and_stays_there_when_a_check_is_added() {
    let ws = Workspace::new();
    ws.write("c.yaml", &list_config(40));
    let all = run(&ws, &["list", "-c", "c.yaml", "--env", "t"]);
    let all: BTreeSet<String> = names(&all).into_iter().collect();
    assert_eq!(all.len(), 40);

    let before = shards(&ws, 4);
    assert_eq!(before.keys().cloned().collect::<BTreeSet<_>>(), all);
    assert!(
        (1..=4).all(|k| before.values().any(|v| *v == k)),
        "every shard gets some of 40 checks: {before:?}"
    );

    // Adding checks moves none of the others.
    ws.write("c.yaml", &list_config(45));
    let after = shards(&ws, 4);
    assert_eq!(after.len(), 45);
    for (name, shard) in &before {
        assert_eq!(after.get(name), Some(shard), "{name} moved");
    }
}

#[test]
fn bad_shard_arguments_exit_2_with_a_clear_message() {
    let ws = Workspace::new();
    ws.write("c.yaml", &list_config(3));
    for bad in ["0/4", "5/4", "x", "2", "1/0", "a/b"] {
        for sub in ["run", "list"] {
            let out = run(&ws, &[sub, "-c", "c.yaml", "--env", "t", "--shard", bad]);
            assert_eq!(code(&out), 2, "{sub} --shard {bad}");
            let err = stderr(&out);
            assert!(err.contains("shard") && err.contains(bad), "{err}");
        }
    }
}

#[test]
fn merge_refuses_documents_that_do_not_belong_together() {
    let ws = Workspace::new();
    let text = list_config(12).replace(
        "environments:\n",
        "environments:\n  u:\n    tcp_checks:\n      - {name: other, host: 127.0.0.1, port: 1}\n",
    );
    ws.write("c.yaml", &text);
    ws.write("d.yaml", &text);
    let shard = |config: &str, env: &str, k: u32, file: &str| {
        let s = format!("{k}/2");
        let out = run(
            &ws,
            &[
                "run", "-c", config, "--env", env, "--shard", &s, "--json", file,
            ],
        );
        assert!([0, 1].contains(&code(&out)), "{}", stderr(&out));
    };
    shard("c.yaml", "t", 1, "t1.json");
    shard("c.yaml", "t", 2, "t2.json");
    shard("c.yaml", "u", 2, "u2.json");
    shard("d.yaml", "t", 2, "d2.json");

    let ok = run(&ws, &["merge", "t1.json", "t2.json", "--output", "json"]);
    assert_eq!(code(&ok), 1, "{}", stderr(&ok));

    let refuse = |files: &[&str], named: &str, says: &str| {
        let mut a = vec!["merge"];
        a.extend(files);
        let out = run(&ws, &a);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{files:?}: {err}");
        assert!(
            err.contains(named) && err.contains(says),
            "{files:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(stdout(&out).is_empty());
    };
    refuse(&["t1.json", "u2.json"], "u2.json", "environment `u`");
    refuse(&["t1.json", "d2.json"], "d2.json", "config `d.yaml`");

    let t2 = read(&ws, "t2.json");
    ws.write("corrupt.json", &t2[..t2.len() / 2]);
    refuse(
        &["t1.json", "corrupt.json"],
        "corrupt.json",
        "not a valid JSON",
    );
    ws.write(
        "newer.json",
        &t2.replace("\"schema_version\": 1", "\"schema_version\": 2"),
    );
    refuse(&["t1.json", "newer.json"], "newer.json", "newer");
    refuse(&["t1.json", "t1.json"], "t1.json", "also");
    refuse(&["t1.json"], "shard 2", "missing");
    refuse(&["t1.json", "nowhere.json"], "nowhere.json", "cannot read");
}

/// Two loopback HTTP servers (two hosts) sharing one gate. Requests to `a` are held until `a`
/// is saturated (`limit` in flight) *and* a request to `b` is in flight at that moment, or
/// until every `a` request has arrived, or a bounded wait passes; requests to `b` are held
/// until `a` is saturated. So a run that respects the limit without starving other hosts
/// reaches exactly `limit` on `a` and overlaps `b` with it; no sleeps synchronise anything.
struct Gate {
    state: std::sync::Mutex<GateState>,
    cv: std::sync::Condvar,
    limit: usize,
    total_a: usize,
}

#[derive(Default)]
struct GateState {
    a_now: usize,
    a_max: usize,
    a_arrived: usize,
    b_served: usize,
    overlap: bool,
}

/// Upper bound on any wait: a broken scheduler fails the test instead of hanging it.
const GATE_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

impl Gate {
    fn a(&self) {
        let mut s = self.state.lock().unwrap();
        s.a_now += 1;
        s.a_arrived += 1;
        s.a_max = s.a_max.max(s.a_now);
        self.cv.notify_all();
        let (mut s, _) = self
            .cv
            .wait_timeout_while(s, GATE_BOUND, |s| !s.overlap && s.a_arrived < self.total_a)
            .unwrap();
        s.a_now -= 1;
        self.cv.notify_all();
    }

    fn b(&self) {
        let s = self.state.lock().unwrap();
        let (mut s, _) = self
            .cv
            .wait_timeout_while(s, GATE_BOUND, |s| s.a_now < self.limit && !s.overlap)
            .unwrap();
        if s.a_now >= self.limit {
            s.overlap = true;
        }
        s.b_served += 1;
        self.cv.notify_all();
    }
}

/// Serve `GET` on a fresh loopback port; each request runs `hold` before its `200`.
fn gated_server(gate: std::sync::Arc<Gate>, hold: fn(&Gate)) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let gate = std::sync::Arc::clone(&gate);
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                hold(&gate);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    port
}

/// Run `a_checks` checks on host `a` then 4 on host `b`, with `extra` arguments, and return
/// the gate's observations.
fn per_host_run(config_limit: usize, extra: &[&str], limit: usize) -> GateState {
    let a_checks = 12;
    let gate = std::sync::Arc::new(Gate {
        state: Default::default(),
        cv: Default::default(),
        limit,
        total_a: a_checks,
    });
    let a = gated_server(std::sync::Arc::clone(&gate), Gate::a);
    let b = gated_server(std::sync::Arc::clone(&gate), Gate::b);
    let mut yaml = format!(
        "concurrency: 8\ndefaults: {{timeout: 60s}}\nenvironments:\n  t:\n    per_host_concurrency: {config_limit}\n    http_checks:\n"
    );
    for i in 0..a_checks {
        yaml.push_str(&format!(
            "      - {{name: a-{i}, url: \"http://127.0.0.1:{a}/{i}\"}}\n"
        ));
    }
    for i in 0..4 {
        yaml.push_str(&format!(
            "      - {{name: b-{i}, url: \"http://127.0.0.1:{b}/{i}\"}}\n"
        ));
    }
    let ws = Workspace::new();
    ws.write("c.yaml", &yaml);
    let mut args = vec!["run", "-c", "c.yaml", "--env", "t"];
    args.extend(extra);
    let out = run(&ws, &args);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let s = gate.state.lock().unwrap();
    GateState {
        a_now: s.a_now,
        a_max: s.a_max,
        a_arrived: s.a_arrived,
        b_served: s.b_served,
        overlap: s.overlap,
    }
}

#[test]
fn per_host_limit_holds_while_other_hosts_keep_running() {
    let s = per_host_run(3, &[], 3);
    assert_eq!(s.a_arrived, 12);
    assert_eq!(s.b_served, 4);
    assert_eq!(
        s.a_max, 3,
        "at most per_host_concurrency in flight on one host"
    );
    assert!(
        s.overlap,
        "host b's checks must run while host a is saturated (no global slots held by queued checks)"
    );
}

#[test]
fn per_host_concurrency_flag_overrides_the_config() {
    let s = per_host_run(3, &["--per-host-concurrency", "2"], 2);
    assert_eq!(s.a_arrived, 12);
    assert_eq!(s.a_max, 2);
    assert!(s.overlap);
}
