//! The last leaks and forged lines, each reproduced against a real run and checked in every
//! output (every report format, `--output json`, `list`, stdout and stderr at `-vvv`, the
//! GitHub step summary and outputs): a secret cut by the capture limit leaves no prefix in
//! the command's message; control characters cannot unmask a workflow command; a variable
//! listed under `secrets:` is masked wherever its value appears; a secret in a host name is
//! masked after a URL parser lower-cased it.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use crate::support::nginx::Nginx;
use crate::support::{
    Workspace, infracheck_command_via, json, read, require_bin, result, run_in, stderr, stdout,
};

/// The report files [`every_output`] asks for.
const FILES: &[(&str, &str)] = &[
    ("--json", "r.json"),
    ("--junit", "r.xml"),
    ("--sarif", "r.sarif"),
    ("--markdown", "r.md"),
    ("--codequality", "r.cq.json"),
    ("--prometheus", "r.prom"),
    ("--html", "r.html"),
    ("--tap", "r.tap"),
];

/// Every output of `c.yaml`'s environment `t`: a run at `-vvv` with every report format in
/// GitHub mode (step summary and outputs files), a run with `--output json`, and `list`.
/// `offline`: each run in a network namespace of its own (host names are never looked up).
fn every_output(ws: &Workspace, envs: &[(&str, &str)], offline: bool) -> Vec<(String, String)> {
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_OUTPUT", "outputs.txt"),
    ];
    env.extend_from_slice(envs);
    let mut report_run = vec!["-c", "c.yaml", "--env", "t", "-vvv"];
    for (flag, file) in FILES {
        report_run.extend([*flag, *file]);
    }
    let mut outputs = Vec::new();
    for args in [
        report_run,
        vec!["-c", "c.yaml", "--env", "t", "-vvv", "--output", "json"],
        vec!["list", "-c", "c.yaml", "--env", "t"],
    ] {
        let out = run(ws, &args, &env, offline);
        let what = args.join(" ");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{what}: {}",
            stderr(&out)
        );
        outputs.push((format!("stdout of {what}"), stdout(&out)));
        outputs.push((format!("stderr of {what}"), stderr(&out)));
    }
    for f in FILES
        .iter()
        .map(|(_, f)| *f)
        .chain(["summary.md", "outputs.txt"])
    {
        outputs.push((f.to_owned(), read(&ws.path().join(f))));
    }
    outputs
}

/// Run infracheck in `ws`, in a network namespace of its own when `offline` (see
/// `support::run_offline`).
fn run(ws: &Workspace, args: &[&str], envs: &[(&str, &str)], offline: bool) -> Output {
    if !offline {
        return run_in(ws.path(), args, envs);
    }
    let unshare = require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let wrapper: [&OsStr; 2] = [unshare.as_os_str(), "-n".as_ref()];
    let mut cmd = infracheck_command_via(ws.path(), &wrapper);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run infracheck under unshare");
    assert!(
        !stderr(&out).starts_with("unshare:"),
        "`unshare -n` failed (it needs CAP_SYS_ADMIN: run the tests as root): {}",
        stderr(&out)
    );
    out
}

/// The AWS documentation's example secret key: its first ten characters are the prefix the
/// issue saw leak.
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn a_secret_cut_by_the_capture_limit_leaves_no_prefix_in_the_message() {
    // `key=` and then the secret on stderr; the capture keeps 4 + k bytes, so the captured
    // output ends with the secret's first k characters (k = 10 is `wJalrXUtnF`).
    let mut checks = String::new();
    for k in [3usize, 6, 10, 20, 39] {
        checks.push_str(&format!(
            "      - {{name: cut-{k}, command: [sh, -c, 'printf \"key=%s\" \"$AWS_SECRET_ACCESS_KEY\" >&2; exit 1'], max_output_bytes: {}}}\n",
            4 + k
        ));
    }
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    command_checks:\n{checks}"),
    );
    let outputs = every_output(&ws, &[("AWS_SECRET_ACCESS_KEY", AWS_SECRET)], false);
    let doc = json(&ws.path().join("r.json"));
    for k in [3usize, 6, 10, 20, 39] {
        let r = result(&doc, &format!("cut-{k}"));
        assert_eq!(
            r["message"], "exit code 1, expected 0 (last output: key=***)",
            "{r}"
        );
        assert_eq!(r["metadata"]["stderr_excerpt"], "key=***", "{r}");
    }
    for (what, text) in &outputs {
        for k in 3..AWS_SECRET.len() {
            let prefix = &AWS_SECRET[..k];
            assert!(
                !text.contains(prefix),
                "`{prefix}` leaked in {what}:\n{text}"
            );
        }
    }
}

/// The control characters (and sequences) that may hide a workflow command from a check done
/// before they are stripped or interpreted.
const CONTROL_PREFIXES: &[&[u8]] = &[
    b"\x1b[1G",
    b"\x00",
    b"\x08",
    b"\x07",
    b"\x1b]0;title\x07",
    b"\x1b[2K",
    b"\x1b[1G\r",
];

/// A line of `text` that a GitHub runner would read as a workflow command it did not come
/// from infracheck: `::` at its start (after whitespace), or `##[` anywhere. On stderr,
/// infracheck's own annotations and log group are allowed.
fn forged_line<'a>(what: &str, text: &'a str) -> Option<&'a str> {
    let own = [
        "::error ",
        "::warning ",
        "::notice ",
        "::group::",
        "::endgroup::",
    ];
    text.split(['\n', '\r']).find(|line| {
        let t = line.trim_start();
        let command = t.starts_with("::")
            && !(what.starts_with("stderr") && own.iter().any(|o| t.starts_with(o)));
        command || line.contains("##[")
    })
}

#[test]
fn control_characters_cannot_unmask_a_workflow_command_in_any_output() {
    let mut body = Vec::new();
    for prefix in CONTROL_PREFIXES {
        for payload in [
            &b"::add-mask::forged"[..],
            b"::error::forged",
            b"##[error]forged",
        ] {
            body.extend_from_slice(prefix);
            body.extend_from_slice(payload);
            body.push(b'\n');
        }
    }
    let ws = Workspace::new();
    std::fs::write(ws.path().join("body.bin"), &body).unwrap();
    let ng = Nginx::start(&format!(
        "location = /x {{ alias {}; }}",
        ws.path().join("body.bin").display()
    ));
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: "\e[1G::error::named", url: "{}/x", body_contains: never-there, on_body_mismatch: fail}}
    command_checks:
      - {{name: "cmd\b\b\b::add-mask::n", command: [cat, body.bin], expect_exit: 1}}
      - {{name: err, command: [sh, -c, 'cat body.bin >&2; exit 1']}}
"#,
            ng.base()
        ),
    );
    let outputs = every_output(&ws, &[], false);
    let doc = json(&ws.path().join("r.json"));
    let excerpt = result(&doc, "\u{1b}[1G::error::named")["metadata"]["body_excerpt"]
        .as_str()
        .expect("a body excerpt")
        .to_owned();
    assert!(excerpt.contains("::add-mask::forged"), "{excerpt}");
    for (what, text) in &outputs {
        if let Some(line) = forged_line(what, text) {
            panic!("{what}: a workflow command in {line:?}\n{text}");
        }
        for c in ['\u{1b}', '\u{0}', '\u{8}', '\u{7}'] {
            // JSON documents escape them as `\u001b`; no output holds the raw character.
            assert!(!text.contains(c), "{what}: raw {c:?} in\n{text}");
        }
    }
    // Escaped, not dropped: the JUnit file still shows what the server sent.
    let xml = read(&ws.path().join("r.xml"));
    assert!(xml.contains("\\u{1b}[1G:"), "{xml}");
}

/// A variable listed under `secrets:` is masked wherever its value appears, although the
/// config never references it: printed by a command, sent in a TCP banner by a real server
/// (redis answers `ECHO` with it).
#[test]
fn a_listed_secret_is_masked_wherever_it_appears() {
    let redis = crate::support::redis::Redis::start(&[]);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"secrets: [BANNER_PASSWORD]
environments:
  t:
    command_checks:
      - {{name: printed, command: [sh, -c, 'echo "value: $BANNER_PASSWORD"; exit 1']}}
    tcp_checks:
      - {{name: banner, host: 127.0.0.1, port: {}, send: "ECHO Lx9ListedSecret\r\n", expect: never-there}}
"#,
            redis.port
        ),
    );
    let outputs = every_output(&ws, &[("BANNER_PASSWORD", "Lx9ListedSecret")], false);
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(
        result(&doc, "printed")["metadata"]["stdout_excerpt"],
        "value: ***\\n"
    );
    let banner = result(&doc, "banner")["metadata"]["banner"]
        .as_str()
        .expect("a banner")
        .to_owned();
    assert!(banner.contains("***"), "redis answered the ECHO: {banner}");
    for (what, text) in &outputs {
        assert!(
            !text.to_lowercase().contains("lx9listed"),
            "leaked in {what}:\n{text}"
        );
    }
}

/// A secret in a host name: a URL parser prints it lower-cased (`abcdefgh12345.example.com`),
/// and so may a DNS name or a DNS-over-TLS resolver's `#name`. Masked in any case, in every
/// output. Offline: nothing is looked up.
#[test]
fn a_secret_in_a_host_name_is_masked_after_lower_casing() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    http_checks:
      - {name: web, url: "https://${HOST_TOKEN}.example.com/"}
    tls_checks:
      - {name: cert, host: "${HOST_TOKEN}.example.com"}
    dns_checks:
      - {name: dns, query_name: "${HOST_TOKEN}.example.test", resolvers: ["127.0.0.1:1"]}
      - {name: dot, query_name: example.test, resolvers: ["tls://127.0.0.1:1#${HOST_TOKEN}.example.com"]}
"#,
    );
    let outputs = every_output(&ws, &[("HOST_TOKEN", "AbCdEfGh12345")], true);
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "web")["target"], "https://***.example.com/");
    for (what, text) in &outputs {
        assert!(
            !text.to_lowercase().contains("abcdefgh"),
            "leaked in {what}:\n{text}"
        );
    }
    assert!(Path::new(&ws.path().join("r.html")).exists());
}
