//! The own HTTP/1.1 path of `http_checks` (plain `http://` on a direct route,
//! `src/checks/http/direct.rs`) against a real nginx: which requests take it (the debug log
//! names the path of every hop), and that a check through it keeps what reqwest gave: the
//! request's default and configured headers, phases, metadata, a redirect to `https://`
//! (served by reqwest), the body cap, reasons, and pooled connections to a keep-alive server:
//! handed on after a body read to its end (a HEAD answer's included), closed when a
//! response is left unread.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::tls_server::Pki;
use crate::support::{Workspace, closed_port, code, nginx::Nginx, stderr, stdout};

fn results(out: &std::process::Output) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(out), stderr(out)));
    doc["results"].as_array().cloned().unwrap_or_default()
}

fn by<'a>(rs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rs.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name}"))
}

fn phase_names(r: &serde_json::Value) -> Vec<String> {
    r["phases"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn plain_http_takes_the_own_path_and_keeps_headers_phases_metadata_and_reasons() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("srv", 30);
    let tls = Nginx::start_tls(&format!(
        "ssl_certificate {};\n        ssl_certificate_key {};\n        location = /fast {{ return 200 'tls ok'; }}",
        cert.display(),
        key.display()
    ));
    let big = "x".repeat(1000);
    let plain = Nginx::start(&format!(
        r#"
        location = /echo {{ return 200 "ua=$http_user_agent accept=$http_accept tok=$http_x_token method=$request_method"; }}
        location = /tohttps {{ return 302 https://127.0.0.1:{tls}/fast; }}
        location = /big {{ return 200 "{big}"; }}
        "#,
        tls = tls.port
    ));
    let closed = closed_port();
    let b = plain.base();
    let by_name = format!("http://localhost:{}", plain.port);
    let ca = pki.ca_file();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: plain, url: "{b}/echo", headers: {{X-Token: t1}}, body_contains: ["ua=infracheck/", "accept=*/*", "tok=t1", "method=GET"]}}
      - {{name: own-agent, url: "{b}/echo", method: POST, body: "x", headers: {{User-Agent: mine, Accept: text/plain}}, body_contains: ["ua=mine", "accept=text/plain", "method=POST"]}}
      - {{name: by-name, url: "{by_name}/echo", body_contains: "ua=infracheck/"}}
      - {{name: to-https, url: "{b}/tohttps", ca_file: "{ca}", body_contains: "tls ok"}}
      - {{name: capped, url: "{b}/big", max_body_bytes: 100}}
      - {{name: refused, url: "http://127.0.0.1:{port}/"}}
      - {{name: refused-by-name, url: "http://localhost:{port}/"}}
"#,
            ca = ca.display(),
            port = closed.port
        ),
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--output", "json", "-vv"],
        &[("RUST_LOG", "infracheck=debug")],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rs = results(&out);
    let log = stderr(&out);

    // Every plain hop took the own path; the https hop went to reqwest.
    for url in [
        format!("{b}/echo"),
        format!("{by_name}/echo"),
        format!("{b}/tohttps"),
        format!("{b}/big"),
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("own HTTP/1.1 path") && l.contains(&url)),
            "{url} did not take the own path:\n{log}"
        );
    }
    let https = format!("https://127.0.0.1:{}/fast", tls.port);
    assert!(
        log.lines()
            .any(|l| l.contains("http: reqwest") && l.contains(&https)),
        "{log}"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("own HTTP/1.1 path") && l.contains("https://")),
        "{log}"
    );

    for ok in ["plain", "own-agent", "by-name", "to-https", "capped"] {
        assert_eq!(by(&rs, ok)["status"], "PASS", "{}", by(&rs, ok));
    }
    let plain_r = by(&rs, "plain");
    let addr = format!("127.0.0.1:{}", plain.port);
    assert_eq!(plain_r["metadata"]["remote_addr"], addr.as_str());
    assert_eq!(plain_r["metadata"]["status_code"], 200);
    assert!(plain_r["metadata"].get("final_url").is_none());
    // An IP literal is not looked up: no `dns`; a name is.
    let phases = phase_names(plain_r);
    assert!(!phases.contains(&"dns".to_owned()), "{plain_r}");
    assert!(phases.contains(&"ttfb".to_owned()), "{plain_r}");
    assert!(phases.contains(&"transfer".to_owned()), "{plain_r}");
    let named = by(&rs, "by-name");
    if phase_names(named).contains(&"connect".to_owned()) {
        assert!(phase_names(named).contains(&"dns".to_owned()), "{named}");
    }
    for r in &rs {
        let sum: f64 = r["phases"]
            .as_object()
            .map(|p| p.values().filter_map(serde_json::Value::as_f64).sum())
            .unwrap_or(0.0);
        let total = r["duration_us"].as_f64().unwrap_or(f64::MAX) / 1000.0;
        assert!(sum <= total + 0.001, "{r}");
    }
    // The redirect to https: served by reqwest, with the certificate's metadata.
    let hop = by(&rs, "to-https");
    assert_eq!(hop["metadata"]["final_url"], https.as_str());
    assert!(hop["metadata"]["tls_days_left"].as_i64().is_some(), "{hop}");
    assert!(phase_names(hop).contains(&"tls".to_owned()), "{hop}");
    // The body cap.
    let capped = by(&rs, "capped");
    assert_eq!(capped["metadata"]["body_bytes"], 100);
    assert_eq!(capped["metadata"]["body_truncated"], true);
    // A refused connection (an IP literal, and a name whose every address refuses): the
    // reason and message reqwest's errors gave, and the detail ending in the operating
    // system's own words for the refusal, as a connect of the standard library reports them.
    let os_words = TcpStream::connect(("127.0.0.1", closed.port))
        .expect_err("nothing listens on the closed port")
        .to_string();
    for name in ["refused", "refused-by-name"] {
        let refused = by(&rs, name);
        assert_eq!(refused["status"], "FAIL", "{refused}");
        assert_eq!(refused["reason"], "connect.refused", "{refused}");
        assert_eq!(refused["message"], "connection refused", "{refused}");
        assert_eq!(
            refused["detail"].as_str().unwrap_or(""),
            format!(
                "error sending request for url: client error (Connect): tcp connect error: {os_words}"
            ),
            "{refused}"
        );
    }
}

/// nginx's `stub_status` page, read with a request of our own (a connection of its own).
fn status(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read status");
    text
}

/// nginx's count of accepted connections (`stub_status`).
fn accepted(port: u16) -> u64 {
    let text = status(port);
    // "server accepts handled requests\n A H R"
    let line = text
        .lines()
        .skip_while(|l| !l.starts_with("server accepts"))
        .nth(1)
        .unwrap_or_else(|| panic!("no counters in {text}"));
    line.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad counters in {text}"))
}

/// nginx's open client connections and the requests it has read (`stub_status`), the
/// request reading them and its connection included.
fn active_and_requests(port: u16) -> (u64, u64) {
    let text = status(port);
    let active = text
        .lines()
        .find_map(|l| l.strip_prefix("Active connections:"))
        .and_then(|n| n.trim().parse().ok());
    // "server accepts handled requests\n A H R"
    let requests = text
        .lines()
        .skip_while(|l| !l.starts_with("server accepts"))
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok());
    match (active, requests) {
        (Some(a), Some(r)) => (a, r),
        _ => panic!("no counters in {text}"),
    }
}

#[test]
fn own_path_pools_connections_to_a_keep_alive_server_and_not_to_one_that_closes() {
    let locations =
        "location = /fast { return 200 'ok'; }\n        location = /status { stub_status; }";
    let keep = Nginx::start(locations);
    let close = Nginx::start(&format!("keepalive_timeout 0;\n        {locations}"));
    let n = 30;
    let mut yaml = String::from("environments:\n  t:\n    http_checks:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "      - {{name: k{i}, url: \"{}/fast\"}}\n      - {{name: c{i}, url: \"{}/fast\"}}\n",
            keep.base(),
            close.base()
        ));
    }
    let ws = Workspace::new();
    ws.write("c.yaml", &yaml);
    let (keep_before, close_before) = (accepted(keep.port), accepted(close.port));
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--output",
            "json",
            "--concurrency",
            "1",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rs = results(&out);
    assert_eq!(rs.len(), 2 * n);
    assert!(rs.iter().all(|r| r["status"] == "PASS"));
    // One at a time: the keep-alive server's connection is reused (the status request is one
    // more); the other server closed each one, so every check opened its own.
    // Counted from before the run (the start-up probe and the reads of the counters are
    // connections too: one each).
    let kept = accepted(keep.port) - keep_before - 1;
    assert!(kept <= 5, "{kept} connections for {n} checks in turn");
    assert_eq!(accepted(close.port) - close_before - 1, n as u64);
    // Only a check that opened a connection has a `connect` phase.
    let with_connect = |prefix: char| {
        rs.iter()
            .filter(|r| r["name"].as_str().unwrap_or("").starts_with(prefix))
            .filter(|r| phase_names(r).contains(&"connect".to_owned()))
            .count()
    };
    assert_eq!(with_connect('c'), n);
    assert!(with_connect('k') <= 5, "{}", with_connect('k'));
}

#[test]
fn a_redirect_hop_hands_its_connection_to_the_next_hop() {
    // nginx numbers the requests of a connection: the target says on which it was served.
    let server = Nginx::start(
        "location = /from { return 302 /to; }\n        location = /to { return 200 'requests=$connection_requests'; }",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: hop, url: \"{}/from\", body_contains: \"requests=2\"}}\n",
            server.base()
        ),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    let rs = results(&out);
    let hop = by(&rs, "hop");
    // The redirect's body was read, so its connection served the second request.
    assert_eq!(hop["status"], "PASS", "{hop}");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_head_response_announcing_a_body_is_not_waited_on_and_hands_its_connection_on() {
    // A HEAD answer carries the length of a body it does not send: the redirect's answer must
    // be taken as complete at once (no wait for 3,000 bytes that never come), and its connection,
    // driven by the check's own task, must serve the next hop.
    let big = "x".repeat(3000);
    let server = Nginx::start(&format!(
        "location = /from {{ return 302 /to; }}\n        location = /to {{ add_header X-Requests $connection_requests always; return 200 \"{big}\"; }}"
    ));
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: head, url: \"{}/from\", method: HEAD, timeout: 20s, response_headers: {{X-Requests: \"2\"}}}}\n",
            server.base()
        ),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    let rs = results(&out);
    let head = by(&rs, "head");
    assert_eq!(head["status"], "PASS", "{head}");
    assert_eq!(head["metadata"]["body_bytes"], 0, "{head}");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_redirect_left_unread_closes_its_connection_and_is_not_pooled() {
    // `max_redirects: 0`: the redirect is refused without its body being read. Its connection
    // (a new one, driven by the check's task) is closed, not pooled: the next check to the
    // same server, run after it, opens one of its own, so its request is the first there.
    let server = Nginx::start(
        "location = /from { return 302 /to; }\n        location = /to { return 200 'requests=$connection_requests'; }",
    );
    let ws = Workspace::new();
    let b = server.base();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: over, url: \"{b}/from\", max_redirects: 0, timeout: 20s}}\n      - {{name: next, url: \"{b}/to\", body_contains: \"requests=1\", on_body_mismatch: fail, timeout: 20s}}\n"
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--output",
            "json",
            "--concurrency",
            "1",
        ],
        &[],
    );
    let rs = results(&out);
    let over = by(&rs, "over");
    assert_eq!(over["status"], "FAIL", "{over}");
    assert_eq!(over["reason"], "http.redirect", "{over}");
    assert!(
        over["message"]
            .as_str()
            .unwrap_or("")
            .contains("too many redirects (max_redirects 0)"),
        "{over}"
    );
    let next = by(&rs, "next");
    assert_eq!(next["status"], "PASS", "{next}");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

/// The own path's clock ends where the kernel stamped the response's bytes
/// (`src/checks/http/stamps.rs`): the phases of a new connection are all there, lie in the
/// check's precise total, and the latency the check judges ends at the same instant as that
/// total (from a later start: never more). A body of several reads included (transfer from
/// the first byte to the last one needed), a body cut at the cap, none (HEAD, 204), a request
/// with a body, pooled connections, and with one runtime thread as with the default.
#[test]
fn the_clock_ends_at_the_kernels_stamps_and_the_phases_fit_in_it() {
    let files = Workspace::new();
    let body = files.write("big.txt", &"y".repeat(40_000));
    let nginx = Nginx::start(&format!(
        r#"
        location = /ok {{ keepalive_timeout 0; return 200 'fine'; }}
        location = /big {{ keepalive_timeout 0; default_type text/plain; alias {}; }}
        location = /none {{ keepalive_timeout 0; return 204; }}
        "#,
        body.display()
    ));
    // The keep-alive server on a port of its own: a connection it keeps open is pooled for
    // its host and port only, so none of the checks above can be served by it.
    let kept = Nginx::start("location = /kept { return 200 'fine'; }");
    let b = nginx.base();
    let k = kept.base();
    let config = format!(
        r#"environments:
  t:
    http_checks:
      - {{name: small, url: "{b}/ok", body_contains: fine}}
      - {{name: big, url: "{b}/big", body_contains: yyyy}}
      - {{name: post, url: "{b}/ok", method: POST, body: "a body", body_contains: fine}}
      - {{name: kept-1, url: "{k}/kept", body_contains: fine}}
      - {{name: kept-2, url: "{k}/kept", body_contains: fine}}
      - {{name: capped, url: "{b}/big", max_body_bytes: 1000, body_contains: yyyy}}
      - {{name: head, url: "{b}/big", method: HEAD}}
      - {{name: empty, url: "{b}/none", expected_status: 204}}
"#
    );
    for threads in [None, Some("1")] {
        let ws = Workspace::new();
        ws.write("c.yaml", &config);
        let mut args = vec!["-c", "c.yaml", "--env", "t", "--output", "json"];
        if let Some(n) = threads {
            args.extend(["--threads", n]);
        }
        let out = ws.run(&args, &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let rs = results(&out);
        let raw = format!("{rs:#?}");
        let run = crate::support::platform::Run {
            code: 0,
            results: rs.clone(),
            raw,
        };
        // A body cut at the cap and none (HEAD, 204): the same.
        for name in ["small", "big", "post", "capped", "head", "empty"] {
            assert_eq!(
                crate::phases::phases(&run, name),
                ["connect", "ttfb", "transfer"],
                "{threads:?} {name}"
            );
            let r = by(&rs, name);
            assert_eq!(r["status"], "PASS", "{r}");
            let latency = r["metadata"]["latency_ms"].as_u64().unwrap_or(u64::MAX);
            let total = r["duration_ms"].as_u64().unwrap_or(0);
            assert!(latency <= total, "{threads:?}: {r}");
        }
        // A keep-alive server: a check served by a pooled connection has no `connect`.
        for name in ["kept-1", "kept-2"] {
            let names = crate::phases::phases(&run, name);
            assert!(
                names.ends_with(&["ttfb".to_owned(), "transfer".to_owned()]),
                "{names:?}"
            );
        }
        assert_eq!(by(&rs, "big")["metadata"]["body_bytes"], 40000);
        assert_eq!(by(&rs, "capped")["metadata"]["body_truncated"], true);
        assert_eq!(by(&rs, "head")["metadata"]["body_bytes"], 0);
    }
}

/// A connect whose SYN is dropped (the listener's accept queue is full) is waited for as
/// before: the request's first write, tried at once, finds the handshake under way and waits;
/// the check times out with the same message and no phase (none ended).
#[test]
fn a_connect_left_unanswered_times_out_as_before() {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue: a further SYN is dropped by the kernel.
    let _fill: Vec<TcpStream> = (0..2)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: silent, url: \"http://{addr}/\", timeout: 1s}}\n"
        ),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let rs = results(&out);
    let r = by(&rs, "silent");
    assert_eq!(r["status"], "FAIL", "{r}");
    assert_eq!(r["reason"], "timeout", "{r}");
    assert_eq!(
        r["message"], "timed out after 1s waiting for the response headers",
        "{r}"
    );
    assert!(phase_names(r).is_empty(), "{r}");
}

/// In a run of one round, once every check has started, the keep-alive connection its checks
/// gave back is closed while the run still waits for its last check (a server that answers
/// only when the test lets it), not left open to the process's exit.
#[test]
fn a_one_round_run_closes_its_idle_connection_while_its_last_check_still_waits() {
    use std::process::Stdio;
    let keep = Nginx::start(
        "location = /fast { return 200 'ok'; }\n        location = /status { stub_status; }",
    );
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let held_port = held.local_addr().expect("addr").port();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = held.accept().expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        // Answered once the test saw what it waits for (or gave up).
        let _ = released.recv_timeout(Duration::from_secs(60));
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    });
    let mut yaml = format!(
        "environments:\n  t:\n    http_checks:\n      - {{name: held, url: \"http://127.0.0.1:{held_port}/\", timeout: 60s}}\n"
    );
    for i in 0..3 {
        yaml.push_str(&format!(
            "      - {{name: k{i}, url: \"{}/fast\"}}\n",
            keep.base()
        ));
    }
    let ws = Workspace::new();
    ws.write("c.yaml", &yaml);
    let mut cmd = crate::support::infracheck_command(ws.path());
    cmd.args([
        "-c",
        "c.yaml",
        "--env",
        "t",
        "--output",
        "json",
        "--concurrency",
        "2",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let (_, before) = active_and_requests(keep.port);
    let mut run = crate::support::spawn_guarded(&mut cmd, "infracheck");
    // The k checks run one after another on one pooled connection beside the held one. Once
    // nginx has read their three requests (beside one per reading of the counters), the last
    // has its result soon after, and then only the status request's own connection is open.
    // Bounded: a connection kept to the exit is still open when the wait ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut polls = 0;
    let (mut open, mut served) = (u64::MAX, 0);
    while (served < 3 || open > 1) && std::time::Instant::now() < deadline {
        let (a, r) = active_and_requests(keep.port);
        polls += 1;
        (open, served) = (a, r.saturating_sub(before + polls));
        if served < 3 || open > 1 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    release.send(()).ok();
    let mut out = String::new();
    run.child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read the report");
    let exit = run.child.wait().expect("wait");
    server.join().expect("the held server");
    assert_eq!(served, 3, "the k checks' requests");
    assert_eq!(
        open, 1,
        "the idle keep-alive connection was still open while the run waited for its last check"
    );
    assert!(exit.success(), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    let rs = doc["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(rs.len(), 4);
    assert!(rs.iter().all(|r| r["status"] == "PASS"), "{out}");
}
