//! `http_checks` through proxies: the proxy environment variables (as curl reads them), the
//! per-check `proxy:` and `proxy: none`, HTTP forward, `CONNECT` tunnels and SOCKS5, proxy
//! credentials never printed, and a proxy that refuses or fails as FAIL `http.proxy`. The
//! servers behind the proxy are a real nginx and `openssl s_server`; the proxy is in-process
//! (`support/proxy_server.rs`). Every proxy variable is given to the infracheck child only (the
//! test process's environment is never changed, and the child starts from a cleared one).

use crate::support::nginx::Nginx;
use crate::support::proxy_server::{Mode, ProxyServer};
use crate::support::tls_server::{Pki, TlsServer};
use crate::support::{Workspace, closed_port, code, read, result, stderr, stdout};

/// The servers behind the proxy: nginx over http, `openssl s_server -www` over https (with the
/// private CA in `ca.pem` of the workspace).
struct Servers {
    nginx: Nginx,
    tls: TlsServer,
    _pki: Pki,
    ca: String,
}

impl Servers {
    fn start() -> Servers {
        let nginx = Nginx::start(r#"location / { return 200 "through-ok\n"; }"#);
        let pki = Pki::new();
        let (cert, key) = pki.leaf_days("proxied", 30);
        let tls = TlsServer::start(&cert, &key, None, &[]);
        let ca = pki.ca_file().display().to_string();
        Servers {
            nginx,
            tls,
            _pki: pki,
            ca,
        }
    }

    fn http(&self) -> String {
        format!("{}/health", self.nginx.base())
    }

    fn https(&self) -> String {
        format!("https://127.0.0.1:{}/", self.tls.port)
    }

    /// `127.0.0.1:PORT` of the http server, as a proxy sees it.
    fn http_authority(&self) -> String {
        format!("127.0.0.1:{}", self.nginx.port)
    }

    fn https_authority(&self) -> String {
        format!("127.0.0.1:{}", self.tls.port)
    }
}

/// Run `checks` (the lines under `http_checks:`) with the JSON output; returns the exit code,
/// the document and stdout + stderr.
fn run(ws: &Workspace, checks: &str, envs: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    http_checks:\n{checks}"),
    );
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], envs);
    let streams = format!("{}\n--- stderr ---\n{}", stdout(&out), stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {streams}"));
    (code(&out), doc, streams)
}

fn status(doc: &serde_json::Value, name: &str) -> String {
    result(doc, name)["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn reason(doc: &serde_json::Value, name: &str) -> String {
    result(doc, name)["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn message(doc: &serde_json::Value, name: &str) -> String {
    result(doc, name)["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn the_environment_proxies_carry_http_and_https_as_curl_reads_them() {
    let s = Servers::start();
    let proxy = ProxyServer::start(Mode::Http(None));
    let ws = Workspace::new();
    let checks = format!(
        "      - {{name: plain, url: \"{}\"}}\n      - {{name: tls, url: \"{}\", ca_file: \"{}\"}}\n",
        s.http(),
        s.https(),
        s.ca
    );
    let (c, doc, streams) = run(
        &ws,
        &checks,
        &[
            ("http_proxy", &proxy.url("http")),
            ("HTTPS_PROXY", &proxy.url("http")),
        ],
    );
    assert_eq!(c, 0, "{streams}");
    let seen = proxy.seen();
    assert!(
        seen.contains(&format!("GET http://{}/health", s.http_authority())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("CONNECT {}", s.https_authority())),
        "{seen:?}"
    );
    for name in ["plain", "tls"] {
        assert_eq!(
            result(&doc, name)["metadata"]["proxy"],
            proxy.url("http").as_str(),
            "{name}: {streams}"
        );
    }
    // The TLS handshake was with the server, through the tunnel: its certificate was read.
    assert!(
        result(&doc, "tls")["metadata"]["tls_days_left"].is_number(),
        "{streams}"
    );
}

#[test]
fn upper_case_http_proxy_is_used_except_in_cgi_and_all_proxy_is_the_fallback() {
    let s = Servers::start();
    let upper = ProxyServer::start(Mode::Http(None));
    let all = ProxyServer::start(Mode::Http(None));
    let ws = Workspace::new();
    let checks = format!("      - {{name: plain, url: \"{}\"}}\n", s.http());
    let (c, doc, streams) = run(&ws, &checks, &[("HTTP_PROXY", &upper.url("http"))]);
    assert_eq!(c, 0, "{streams}");
    assert_eq!(
        upper.seen(),
        [format!("GET http://{}/health", s.http_authority())]
    );
    assert!(
        !result(&doc, "plain")["metadata"]["proxy"].is_null(),
        "{doc}"
    );
    // Inside a CGI program (REQUEST_METHOD set) a request's `Proxy:` header can set
    // HTTP_PROXY ("httpoxy"): it is ignored there, and ALL_PROXY is the fallback.
    let (c, _, streams) = run(
        &ws,
        &checks,
        &[
            ("HTTP_PROXY", &upper.url("http")),
            ("ALL_PROXY", &all.url("http")),
            ("REQUEST_METHOD", "GET"),
        ],
    );
    assert_eq!(c, 0, "{streams}");
    assert_eq!(upper.seen().len(), 1, "{:?}", upper.seen());
    assert_eq!(
        all.seen(),
        [format!("GET http://{}/health", s.http_authority())]
    );
}

#[test]
fn no_proxy_and_proxy_none_go_direct() {
    let s = Servers::start();
    let proxy = ProxyServer::start(Mode::Http(None));
    let ws = Workspace::new();
    // `localhost` is excluded by NO_PROXY; 127.0.0.1 is not, except for the check with
    // `proxy: none`.
    let checks = format!(
        "      - {{name: excluded, url: \"http://localhost:{p}/excluded\"}}\n      - {{name: none, url: \"http://127.0.0.1:{p}/none\", proxy: none}}\n      - {{name: proxied, url: \"http://127.0.0.1:{p}/proxied\"}}\n",
        p = s.nginx.port
    );
    let (c, doc, streams) = run(
        &ws,
        &checks,
        &[
            ("http_proxy", &proxy.url("http")),
            ("NO_PROXY", "example.test, localhost"),
        ],
    );
    assert_eq!(c, 0, "{streams}");
    assert_eq!(
        proxy.seen(),
        [format!("GET http://{}/proxied", s.http_authority())]
    );
    assert!(result(&doc, "excluded")["metadata"]["proxy"].is_null());
    assert!(result(&doc, "none")["metadata"]["proxy"].is_null());
    // A CIDR range in lower-case no_proxy, which wins over NO_PROXY.
    let (c, _, streams) = run(
        &ws,
        &checks,
        &[
            ("http_proxy", &proxy.url("http")),
            ("no_proxy", "127.0.0.0/8,localhost"),
            ("NO_PROXY", "example.test"),
        ],
    );
    assert_eq!(c, 0, "{streams}");
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());
}

#[test]
fn a_check_s_own_proxy_wins_over_the_environment_http_and_socks5() {
    let s = Servers::start();
    let env_proxy = ProxyServer::start(Mode::Http(None));
    let own = ProxyServer::start(Mode::Http(None));
    let socks = ProxyServer::start(Mode::Socks5(None));
    let ws = Workspace::new();
    let checks = format!(
        "      - {{name: own, url: \"{h}\", proxy: \"{own}\"}}\n      - {{name: own-tls, url: \"{t}\", ca_file: \"{ca}\", proxy: \"{own}\"}}\n      - {{name: socks, url: \"{h}\", proxy: \"{socks}\"}}\n      - {{name: socks-tls, url: \"{t}\", ca_file: \"{ca}\", proxy: \"{socksh}\"}}\n",
        h = s.http(),
        t = s.https(),
        ca = s.ca,
        own = own.url("http"),
        socks = socks.url("socks5"),
        socksh = socks.url("socks5h"),
    );
    let (c, doc, streams) = run(
        &ws,
        &checks,
        &[
            ("http_proxy", &env_proxy.url("http")),
            ("https_proxy", &env_proxy.url("http")),
            ("NO_PROXY", "127.0.0.1"),
        ],
    );
    assert_eq!(c, 0, "{streams}");
    assert!(env_proxy.seen().is_empty(), "{:?}", env_proxy.seen());
    let mut seen = own.seen();
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("CONNECT {}", s.https_authority()),
            format!("GET http://{}/health", s.http_authority()),
        ]
    );
    let mut seen = socks.seen();
    seen.sort();
    let mut want = [
        format!("SOCKS {}", s.http_authority()),
        format!("SOCKS {}", s.https_authority()),
    ];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(
        result(&doc, "socks-tls")["metadata"]["proxy"],
        socks.url("socks5h").as_str()
    );
}

/// Every output of a run: stdout/stderr at `-vvv` and the JSON, JUnit, HTML and TAP reports.
fn run_everywhere(ws: &Workspace, envs: &[(&str, &str)]) -> (i32, String) {
    let reports = [
        ("--json", "r.json"),
        ("--junit", "r.xml"),
        ("--html", "r.html"),
        ("--tap", "r.tap"),
    ];
    let mut args = vec!["-vvv", "-c", "c.yaml", "--env", "t", "--output", "json"];
    for (flag, file) in reports {
        args.extend([flag, file]);
    }
    let out = ws.run(&args, envs);
    let mut all = format!("{}\n--- stderr ---\n{}", stdout(&out), stderr(&out));
    for (_, file) in reports {
        all.push_str(&read(&ws.path().join(file)));
    }
    (code(&out), all)
}

#[test]
fn proxy_credentials_are_sent_and_never_printed() {
    let user = "proxy-user";
    let password = "Pr0xy-Sentinel-pw27";
    let s = Servers::start();
    let http = ProxyServer::start(Mode::Http(Some((user.into(), password.into()))));
    let socks = ProxyServer::start(Mode::Socks5(Some((user.into(), password.into()))));
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: forward, url: \"{h}\", proxy: \"{hp}\"}}\n      - {{name: wrong, url: \"{h}\", proxy: \"{wrong}\"}}\n      - {{name: socks, url: \"{h}\", proxy: \"{sp}\"}}\n      - {{name: env-tunnel, url: \"{t}\", ca_file: \"{ca}\"}}\n",
            h = s.http(),
            t = s.https(),
            ca = s.ca,
            hp = http.url_with("http", user, password),
            wrong = http.url_with("http", user, "not-the-password"),
            sp = socks.url_with("socks5", user, password),
        ),
    );
    let (c, all) = run_everywhere(
        &ws,
        &[(
            "HTTPS_PROXY",
            // Percent-encoded in the variable, as a URL needs for `@` or `:`.
            &http.url_with("http", user, &password.replace('-', "%2D")),
        )],
    );
    assert_eq!(c, 1, "{all}");
    let mut seen = http.seen();
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("CONNECT {} auth=ok", s.https_authority()),
            format!("GET http://{}/health auth=ok", s.http_authority()),
            format!("GET http://{}/health auth=wrong", s.http_authority()),
        ]
    );
    assert_eq!(
        socks.seen(),
        [format!("SOCKS {} auth=ok", s.http_authority())]
    );
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    for secret in [password, "Pr0xy%2DSentinel%2Dpw27", b64.as_str()] {
        assert!(!all.contains(secret), "{secret} printed: {all}");
    }
    let doc = crate::support::json(&ws.path().join("r.json"));
    for ok in ["forward", "socks", "env-tunnel"] {
        assert_eq!(status(&doc, ok), "PASS", "{ok}: {all}");
    }
    assert_eq!(status(&doc, "wrong"), "FAIL");
    assert_eq!(reason(&doc, "wrong"), "http.proxy");
    assert_eq!(
        message(&doc, "wrong"),
        format!(
            "proxy http://127.0.0.1:{}: proxy authentication required (407)",
            http.port
        )
    );
}

#[test]
fn a_proxy_that_refuses_or_fails_is_http_proxy_naming_it_without_credentials() {
    let s = Servers::start();
    let dead = closed_port();
    let needs_auth = ProxyServer::start(Mode::Http(Some(("u".into(), "Never-Sent-pw1".into()))));
    let deny = ProxyServer::start(Mode::HttpDenyConnect);
    let socks = ProxyServer::start(Mode::Socks5(Some(("u".into(), "Socks-Right-pw1".into()))));
    let ws = Workspace::new();
    let dead_url = format!("http://someone:Dead-Proxy-pw9@127.0.0.1:{}", dead.port);
    let checks = format!(
        "      - {{name: refused, url: \"{h}\", proxy: \"{dead_url}\"}}\n      - {{name: refused-tunnel, url: \"{t}\", ca_file: \"{ca}\", proxy: \"{dead_url}\"}}\n      - {{name: forward-407, url: \"{h}\", proxy: \"{na}\"}}\n      - {{name: tunnel-407, url: \"{t}\", ca_file: \"{ca}\", proxy: \"{na}\"}}\n      - {{name: tunnel-denied, url: \"{t}\", ca_file: \"{ca}\", proxy: \"{deny}\"}}\n      - {{name: socks-denied, url: \"{h}\", proxy: \"{sw}\"}}\n      - {{name: env-refused, url: \"{t}\", ca_file: \"{ca}\"}}\n",
        h = s.http(),
        t = s.https(),
        ca = s.ca,
        na = needs_auth.url("http"),
        deny = deny.url("http"),
        sw = socks.url_with("socks5", "u", "Socks-Wrong-pw1"),
    );
    let (c, doc, streams) = run(&ws, &checks, &[("https_proxy", &dead_url)]);
    assert_eq!(c, 1, "{streams}");
    let dead_name = format!("http://127.0.0.1:{}", dead.port);
    let expect = [
        ("refused", format!("proxy {dead_name}: connection refused")),
        (
            "refused-tunnel",
            format!("proxy {dead_name}: connection refused"),
        ),
        (
            "forward-407",
            format!(
                "proxy {}: proxy authentication required (407)",
                needs_auth.url("http")
            ),
        ),
        (
            "tunnel-407",
            format!(
                "proxy {}: proxy authentication required (407)",
                needs_auth.url("http")
            ),
        ),
        (
            "tunnel-denied",
            format!(
                "proxy {}: the proxy refused the CONNECT tunnel",
                deny.url("http")
            ),
        ),
        (
            "env-refused",
            format!("proxy {dead_name} (from https_proxy): connection refused"),
        ),
    ];
    for (name, msg) in expect {
        assert_eq!(status(&doc, name), "FAIL", "{name}: {streams}");
        assert_eq!(reason(&doc, name), "http.proxy", "{name}: {streams}");
        assert_eq!(message(&doc, name), msg, "{name}: {streams}");
    }
    assert_eq!(reason(&doc, "socks-denied"), "http.proxy", "{streams}");
    assert!(
        message(&doc, "socks-denied").starts_with(&format!(
            "proxy socks5://127.0.0.1:{}: SOCKS connection failed",
            socks.port
        )),
        "{streams}"
    );
    for secret in ["Dead-Proxy-pw9", "Socks-Wrong-pw1", "someone:"] {
        assert!(!streams.contains(secret), "{secret}: {streams}");
    }
}

#[test]
fn a_bad_proxy_url_or_variable_is_exit_2_at_its_origin() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    http_checks:\n      - name: a\n        url: http://127.0.0.1:1/\n        proxy: \"ftp://u:Bad-Url-pw1@proxy.test:21\"\n      - name: b\n        url: http://127.0.0.1:1/\n        proxy: \"proxy.test:3128\"\n",
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("c.yaml:6:16: ") && err.contains("unsupported proxy scheme `ftp`"),
        "{err}"
    );
    assert!(
        err.contains("c.yaml:9:16: ") && err.contains("needs a scheme"),
        "{err}"
    );
    assert!(!err.contains("Bad-Url-pw1"), "{err}");
    // A proxy variable that is not a proxy URL: named, at the check that would use it.
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    http_checks:\n      - {name: a, url: \"http://127.0.0.1:1/\"}\n      - {name: b, url: \"http://127.0.0.1:1/\", proxy: none}\n",
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t"],
        &[("HTTPS_PROXY", "gopher://u:Env-Bad-pw1@proxy.test")],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("c.yaml:4:9: ") && err.contains("environment variable `HTTPS_PROXY`"),
        "{err}"
    );
    assert_eq!(err.matches("HTTPS_PROXY").count(), 1, "{err}");
    assert!(!err.contains("Env-Bad-pw1"), "{err}");
}

#[test]
fn phases_through_a_proxy_time_the_connection_to_it_and_the_tunnelled_handshake() {
    let s = Servers::start();
    let proxy = ProxyServer::start(Mode::Http(None));
    let ws = Workspace::new();
    let checks = format!(
        "      - {{name: tls, url: \"{}\", ca_file: \"{}\", proxy: \"{}\"}}\n      - {{name: plain, url: \"{}\", proxy: \"{}\"}}\n",
        s.https(),
        s.ca,
        proxy.url("http"),
        s.http(),
        proxy.url("http")
    );
    let (c, doc, streams) = run(&ws, &checks, &[]);
    assert_eq!(c, 0, "{streams}");
    let names = |name: &str| -> Vec<String> {
        result(&doc, name)["phases"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no phases: {streams}"))
            .keys()
            .cloned()
            .collect()
    };
    let mut tls = names("tls");
    tls.sort();
    assert_eq!(tls, ["connect", "tls", "transfer", "ttfb"], "{streams}");
    let mut plain = names("plain");
    plain.sort();
    assert_eq!(plain, ["connect", "transfer", "ttfb"], "{streams}");
}

#[test]
fn an_https_proxy_is_reached_over_tls_verified_with_the_check_s_ca_file() {
    let s = Servers::start();
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("proxy", 30);
    let proxy = ProxyServer::start(Mode::TlsForward(cert, key));
    let ws = Workspace::new();
    let checks = format!(
        "      - {{name: trusted, url: \"{h}\", proxy: \"{p}\", ca_file: \"{ca}\"}}\n      - {{name: untrusted, url: \"{h}\", proxy: \"{p}\"}}\n",
        h = s.http(),
        p = proxy.url("https"),
        ca = pki.ca_file().display(),
    );
    let (c, doc, streams) = run(&ws, &checks, &[]);
    assert_eq!(c, 1, "{streams}");
    assert_eq!(status(&doc, "trusted"), "PASS", "{streams}");
    assert_eq!(
        proxy.seen(),
        [format!("GET http://{}/health HTTP/1.1", s.http_authority())]
    );
    assert_eq!(reason(&doc, "untrusted"), "http.proxy", "{streams}");
    assert_eq!(
        message(&doc, "untrusted"),
        format!(
            "proxy {}: TLS handshake failed: certificate not trusted",
            proxy.url("https")
        ),
        "{streams}"
    );
}

#[test]
fn a_bad_proxy_variable_is_named_at_every_check_of_every_environment_that_would_use_it() {
    // The variables are read once per environment: the problem is still one per check that
    // falls back to them (not the one with `proxy: none`), in each environment, in config
    // order; the password of the one that parses is never printed.
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  a:\n    http_checks:\n      - {name: a1, url: \"http://127.0.0.1:1/\"}\n      - {name: a2, url: \"http://127.0.0.1:1/\", proxy: none}\n      - {name: a3, url: \"http://127.0.0.1:1/\"}\n  b:\n    http_checks:\n      - {name: b1, url: \"http://127.0.0.1:1/\"}\n",
    );
    let out = ws.run(
        &["validate", "-c", "c.yaml"],
        &[
            ("HTTPS_PROXY", "gopher://u:Env-Bad-pw2@proxy.test"),
            ("HTTP_PROXY", "http://u:Env-Good-pw3@proxy.test:3128"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    let problem = "environment variable `HTTPS_PROXY`: unsupported proxy scheme `gopher` (use http://, https://, socks5:// or socks5h://)";
    let want: String = [
        "c.yaml:4:9: environments.a.http_checks[0]",
        "c.yaml:6:9: environments.a.http_checks[2]",
        "c.yaml:9:9: environments.b.http_checks[0]",
    ]
    .iter()
    .map(|at| format!("error: {at}: {problem}\n"))
    .collect();
    assert_eq!(err, want);
    for secret in ["Env-Bad-pw2", "Env-Good-pw3"] {
        assert!(
            !err.contains(secret) && !stdout(&out).contains(secret),
            "{err}"
        );
    }
}
