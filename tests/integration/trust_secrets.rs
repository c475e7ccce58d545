//! Trust: redirects keep the configured headers at home, and a secret never leaves in any
//! form (encoded, escaped, cut in half), in any output; untrusted text cannot forge workflow
//! commands in any report file.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Workspace, code, json, nginx::Nginx, read, result, stderr, stdout};

/// An HTTP/1.1 server on loopback: `/redirect/<port>/<path>` answers 302 to
/// `http://127.0.0.1:<port>/<path>`; anything else answers 200 and records the request head.
struct Recorder {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (heads2, stop2) = (Arc::clone(&heads), Arc::clone(&stop));
        thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(300);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let heads = Arc::clone(&heads2);
                        thread::spawn(move || serve(stream, &heads));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Recorder { addr, heads, stop }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The heads of the requests that reached a non-redirect path, lower-cased.
    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut stream: TcpStream, heads: &Mutex<Vec<String>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Bounded: one request head of at most 64 KiB.
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let response = match path.strip_prefix("/redirect/") {
        Some(rest) => {
            let (port, to) = rest.split_once('/').unwrap_or((rest, ""));
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/{to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        None => {
            heads.lock().expect("lock").push(head.to_ascii_lowercase());
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned()
        }
    };
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

const SENT_HEADERS: &[&str] = &[
    "x-api-key",
    "private-token",
    "x-auth-token",
    "authorization",
    "cookie",
];

/// Run one http check through `url` with every kind of credential header, plus `extra` keys.
fn run_redirect(url: &str, extra: &str) -> serde_json::Value {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - name: hop
        url: "{url}"
        headers:
          X-Api-Key: "${{API_KEY}}"
          Private-Token: "private-token-value"
          X-Auth-Token: "auth-token-value"
          Authorization: "Bearer bearer-value"
          Cookie: "session=cookie-value"
{extra}"#
        ),
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--output", "json"],
        &[("API_KEY", "api-key-value")],
    );
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("json")
}

#[test]
fn a_redirect_to_another_origin_drops_every_configured_header() {
    let first = Recorder::start();
    let second = Recorder::start();
    let cross = format!(
        "http://127.0.0.1:{}/redirect/{}/final",
        first.port(),
        second.port()
    );

    // Another port is another origin: nothing configured follows, and no Referer appears.
    let doc = run_redirect(&cross, "");
    assert_eq!(result(&doc, "hop")["status"], "PASS", "{doc}");
    let heads = second.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = heads.first().expect("one request");
    assert!(head.contains("user-agent: infracheck/"), "{head}");
    for h in SENT_HEADERS.iter().chain(&["referer"]) {
        assert!(!head.contains(&format!("\r\n{h}:")), "{h} leaked: {head}");
    }
    assert!(!head.contains("value"), "{head}");

    // The documented opt-in keeps them (a Referer still never appears).
    let doc = run_redirect(&cross, "        forward_headers_on_redirect: true\n");
    assert_eq!(result(&doc, "hop")["status"], "PASS", "{doc}");
    let heads = second.heads();
    let head = heads.get(1).expect("a second request");
    for h in SENT_HEADERS {
        assert!(head.contains(&format!("\r\n{h}:")), "{h} missing: {head}");
    }
    assert!(head.contains("x-api-key: api-key-value"), "{head}");
    assert!(!head.contains("\r\nreferer:"), "{head}");

    // A redirect within the origin keeps the headers.
    let same = format!(
        "http://127.0.0.1:{}/redirect/{}/final",
        first.port(),
        first.port()
    );
    let doc = run_redirect(&same, "");
    assert_eq!(result(&doc, "hop")["status"], "PASS", "{doc}");
    let heads = first.heads();
    let head = heads.first().expect("the same-origin request");
    for h in SENT_HEADERS {
        assert!(head.contains(&format!("\r\n{h}:")), "{h} missing: {head}");
    }
    assert!(!head.contains("\r\nreferer:"), "{head}");
}

#[test]
fn the_opt_in_key_is_validated_and_in_the_schema() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    http_checks:\n      - {name: a, url: \"http://127.0.0.1:1/\", forward_headers_on_redirect: maybe}\n",
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("forward_headers_on_redirect: expected true or false"),
        "{}",
        stderr(&out)
    );
    let schema = stdout(&ws.run(&["schema"], &[]));
    assert!(
        schema.contains("forward_headers_on_redirect"),
        "not in the schema"
    );
}

/// The secret: it starts with a marker no other output contains, and has characters that
/// every encoding changes.
const SECRET: &str = "Qx7Sentinel \"q\" \\/x=";
const MARKER: &str = "Qx7";

fn percent(s: &str, space_plus: bool, lower: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && space_plus {
            out.push('+');
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secret as encoders print it.
fn forms() -> Vec<String> {
    let json = serde_json::to_string(SECRET).expect("json");
    let debug = format!("{SECRET:?}");
    let unicode_json: String = SECRET
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    vec![
        SECRET.to_owned(),
        percent(SECRET, false, false),
        percent(SECRET, false, true),
        percent(SECRET, true, false),
        json.trim_matches('"').to_owned(),
        debug.trim_matches('"').to_owned(),
        unicode_json,
    ]
}

/// Every output of a run at -vvv with every report format, GitHub mode on.
fn all_outputs(ws: &Workspace, envs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_OUTPUT", "outputs.txt"),
    ];
    env.extend_from_slice(envs);
    let mut outputs = Vec::new();
    for args in [
        vec![
            "-c",
            "c.yaml",
            "--env",
            "t",
            "-vvv",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--sarif",
            "r.sarif",
            "--markdown",
            "r.md",
            "--codequality",
            "r.cq.json",
            "--prometheus",
            "r.prom",
        ],
        vec!["-c", "c.yaml", "--env", "t", "-vvv", "--output", "json"],
        vec!["list", "-c", "c.yaml", "--env", "t"],
    ] {
        let out = ws.run(&args, &env);
        let what = args.join(" ");
        outputs.push((format!("stdout of {what}"), stdout(&out)));
        outputs.push((format!("stderr of {what}"), stderr(&out)));
    }
    for f in [
        "r.json",
        "r.xml",
        "r.sarif",
        "r.md",
        "r.cq.json",
        "r.prom",
        "summary.md",
        "outputs.txt",
    ] {
        outputs.push((f.to_owned(), read(&ws.path().join(f))));
    }
    outputs
}

/// The secret at every offset around every cut: response bodies (300 characters), command
/// output (500), command targets (300), assertion messages (200) and names; and in every
/// encoded form a server or a program may print. None of it reaches any output.
#[test]
fn a_secret_in_any_form_at_any_offset_reaches_no_output() {
    let ng =
        Nginx::start(r#"location = /pad { return 500 '$arg_p$http_x_api_key tail $arg_token'; }"#);
    let mut checks = String::new();
    for pad in 280..=305 {
        checks.push_str(&format!(
            "      - {{name: body-{pad}, url: \"{}/pad?p={}&token=${{API_TOKEN}}\", headers: {{X-Api-Key: \"${{API_TOKEN}}\"}}}}\n",
            ng.base(),
            "x".repeat(pad)
        ));
    }
    let mut commands = String::new();
    for pad in (270..=310).chain(470..=510) {
        commands.push_str(&format!(
            "      - {{name: out-{pad}, command: [printf, \"%s%s\", \"{}\", \"${{API_TOKEN}}\"], expect_exit: 1}}\n",
            "x".repeat(pad)
        ));
    }
    for pad in 180..=205 {
        commands.push_str(&format!(
            "      - {{name: msg-{pad}, command: [\"true\"], stdout_contains: \"{}${{API_TOKEN}}\"}}\n",
            "x".repeat(pad)
        ));
    }
    commands.push_str(
        "      - {name: \"name-${API_TOKEN}\", command: [sh, -c, 'printf \"%s\" \"$FORMS\"; printf \"%s\" \"$FORMS\" >&2; exit 1'], env: {FORMS: \"${FORMS}\"}}\n",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    http_checks:\n{checks}    command_checks:\n{commands}"),
    );
    let forms = forms();
    let all_forms = forms.join(" | ");
    let outputs = all_outputs(&ws, &[("API_TOKEN", SECRET), ("FORMS", &all_forms)]);
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(doc["summary"]["total"], 26 + 82 + 26 + 1, "{doc}");
    // The checks really produced the text: bodies, output, messages.
    let body = result(&doc, "body-290")["metadata"]["body_excerpt"]
        .as_str()
        .expect("body excerpt")
        .to_owned();
    assert!(body.starts_with("xxxx") && body.ends_with('…'), "{body}");
    let printed = result(&doc, "name-***")["metadata"]["stdout_excerpt"]
        .as_str()
        .expect("stdout excerpt")
        .to_owned();
    assert_eq!(printed.matches("***").count(), forms.len(), "{printed}");
    for (what, text) in &outputs {
        assert!(
            !text.contains(MARKER),
            "the secret's start leaked in {what}:\n{text}"
        );
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{form} leaked in {what}");
        }
    }
}

/// Well-known credential variables are secrets whenever set, with no check that uses them.
#[test]
fn well_known_credentials_are_masked_without_a_check_that_uses_them() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: leak, command: [sh, -c, 'echo \"$AWS_SECRET_ACCESS_KEY $GITHUB_TOKEN $PGPASSWORD\"; exit 1']}\n",
    );
    let outputs = all_outputs(
        &ws,
        &[
            ("AWS_SECRET_ACCESS_KEY", "Qx7AwsSecretKeyValue"),
            ("GITHUB_TOKEN", "Qx7GithubTokenValue"),
            ("PGPASSWORD", "Qx7PgPassword"),
        ],
    );
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(
        result(&doc, "leak")["metadata"]["stdout_excerpt"],
        "*** *** ***\\n"
    );
    for (what, text) in &outputs {
        assert!(!text.contains(MARKER), "leaked in {what}:\n{text}");
    }
}

/// A secret shorter than 6 characters is not masked (it would mangle every report); the run
/// says so once, naming the variable and never the value.
#[test]
fn a_short_secret_is_not_masked_and_named_once() {
    let ng = Nginx::start("location = /ok { return 200 'fine'; }");
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: up, url: \"{}/ok\", retries: \"${{AUTH_RETRIES}}\"}}\n",
            ng.base()
        ),
    );
    let out = ws.run(
        &["-c", "c.yaml", "--env", "t", "--json", "r.json"],
        &[("AUTH_RETRIES", "2")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("AUTH_RETRIES")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].starts_with("warning: "), "{err}");
    assert!(!warnings[0].contains('2'), "the value is not shown: {err}");
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(
        result(&doc, "up")["target"],
        format!("{}/ok", ng.base()),
        "nothing mangled"
    );
    assert!(!read(&ws.path().join("r.json")).contains("***"));
}

/// A config error shows the `${VAR}` reference, never the value (in any letter case).
#[test]
fn config_errors_show_the_reference_not_the_value() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    http_checks:
      - {name: a, url: "http://127.0.0.1:1/", on_body_mismatch: "${REDIS_PW}"}
      - {name: b, url: "http://127.0.0.1:1/", method: "${SHORT}"}
      - {name: c, url: "http://127.0.0.1:1/", follow_redirects: "${PLAIN_VALUE}"}
"#,
    );
    let envs = [
        ("REDIS_PW", "S3nt1nel_RedisPW"),
        ("SHORT", "ab"),
        ("PLAIN_VALUE", "Sentinel-Plain"),
    ];
    for args in [
        vec!["validate", "-c", "c.yaml"],
        vec!["-c", "c.yaml", "--env", "t"],
    ] {
        let out = ws.run(&args, &envs);
        assert_eq!(code(&out), 2);
        let err = stderr(&out);
        let lower = err.to_ascii_lowercase();
        for (name, value) in envs {
            assert!(!lower.contains(&value.to_ascii_lowercase()), "{err}");
            assert!(err.contains(&format!("${{{name}}}")), "{name}: {err}");
        }
        assert!(err.contains("found `${REDIS_PW}`"), "{err}");
        assert!(err.contains("unsupported method `${SHORT}`"), "{err}");
    }
}

/// A server's body lines `::error::…` and `##[error]…` are neutralised in every report file and
/// on stdout.
#[test]
fn workflow_commands_from_a_server_are_neutralised_in_every_report() {
    let ng = Nginx::start(
        "location = /x { return 500 'ok\n::error::forged\n  ::warning file=a::x\n##[error]x\n'; }",
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: \"::error::named\", url: \"{}/x\"}}\n    command_checks:\n      - {{name: cmd, command: [printf, '::error::out\\n##[error]y\\n'], expect_exit: 1}}\n",
            ng.base()
        ),
    );
    let outputs = all_outputs(&ws, &[]);
    for (what, text) in &outputs {
        // GitHub annotations on stderr are infracheck's own commands.
        if what.starts_with("stderr") {
            continue;
        }
        for line in text.lines() {
            assert!(
                !line.trim_start().starts_with("::"),
                "{what}: workflow command in {line:?}"
            );
            assert!(!line.contains("##["), "{what}: legacy command in {line:?}");
        }
    }
    // Neutralised, not dropped: the text is still there for a reader.
    let xml = read(&ws.path().join("r.xml"));
    assert!(xml.contains("error::forged"), "{xml}");
}
