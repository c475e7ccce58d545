//! Cross-cutting behaviours documented in README.md and docs/: exit code 4, `-q` and
//! `--color`, the secret-name rules, a SKIP turned WAIVED, and `depends_on` across shards.

use std::collections::BTreeSet;
use std::net::TcpListener;

use crate::support::{Workspace, closed_port, code, json, read, result, stderr, stdout};

/// A TCP listener on loopback: a `tcp_checks` entry on its port passes.
fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

#[test]
fn an_http_client_that_cannot_be_built_exits_4_with_one_line() {
    // A PEM block labelled CERTIFICATE whose bytes are no certificate: the config reads it as
    // PEM (validation passes), but no root store accepts it, so the HTTP client cannot be built.
    let ws = Workspace::new();
    ws.write(
        "bogus-ca.pem",
        "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
    );
    let closed = closed_port();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: api, url: \"https://127.0.0.1:{}/\", ca_file: bogus-ca.pem}}\n",
            closed.port
        ),
    );
    let v = ws.run(&["validate", "-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&v), 0, "the config itself is valid: {}", stderr(&v));
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "r.json"], &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 4, "{}{err}", stdout(&out));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines[0].contains("ca_file") && lines[0].contains("bogus-ca.pem"),
        "names its origin: {err}"
    );
    assert!(
        !ws.path().join("r.json").exists(),
        "nothing ran, no report is written"
    );
}

#[test]
fn quiet_silences_stderr_of_a_passing_run() {
    let (_l, port) = listener();
    let ws = Workspace::new();
    // `AUTH_N` is secret by its name and too short to mask: a warning, unless `-q`.
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: up, host: 127.0.0.1, port: {port}, send: \"${{AUTH_N}}\"}}\n      - {{name: up-too, host: 127.0.0.1, port: {port}}}\n"
        ),
    );
    let env = [("AUTH_N", "abc")];
    let loud = ws.run(&["-c", "c.yaml", "--env", "t"], &env);
    assert_eq!(code(&loud), 0, "{}{}", stdout(&loud), stderr(&loud));
    let err = stderr(&loud);
    assert!(
        err.contains("warning: the secret in `AUTH_N` is shorter than 6 characters"),
        "without -q the run speaks on stderr: {err}"
    );
    let quiet = ws.run(&["-q", "-c", "c.yaml", "--env", "t"], &env);
    assert_eq!(code(&quiet), 0, "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "", "-q: nothing on stderr");
    assert!(stdout(&quiet).contains("up-too"), "{}", stdout(&quiet));
    // `--quiet` is the same flag, after the subcommand too.
    let quiet = ws.run(&["run", "--quiet", "-c", "c.yaml", "--env", "t"], &env);
    assert_eq!(code(&quiet), 0, "{}", stderr(&quiet));
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn color_always_paints_the_text_report_and_never_or_auto_off_a_terminal_does_not() {
    let (_l, port) = listener();
    let closed = closed_port();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: up, host: 127.0.0.1, port: {port}}}\n      - {{name: down, host: 127.0.0.1, port: {}}}\n",
            closed.port
        ),
    );
    // The harness sets NO_COLOR=1: `always` overrides it.
    let always = ws.run(&["--color", "always", "-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&always), 1);
    let text = stdout(&always);
    assert!(text.contains("\u{1b}[32m"), "PASS in green: {text:?}");
    assert!(text.contains("\u{1b}[31;1m"), "FAIL in bold red: {text:?}");
    assert!(text.contains("\u{1b}[0m"), "{text:?}");
    let never = ws.run(&["--color", "never", "-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&never), 1);
    assert!(!stdout(&never).contains('\u{1b}'), "{:?}", stdout(&never));
    // `auto` (the default) with stdout a pipe and NO_COLOR unset: no colour either.
    let mut cmd = crate::support::infracheck_command(ws.path());
    cmd.env_remove("NO_COLOR")
        .args(["--color", "auto", "-c", "c.yaml", "--env", "t"]);
    let auto = cmd.output().expect("run infracheck");
    assert_eq!(code(&auto), 1);
    assert!(!stdout(&auto).contains('\u{1b}'), "{:?}", stdout(&auto));
    // The same report apart from the escapes.
    let stripped = text
        .replace("\u{1b}[32m", "")
        .replace("\u{1b}[31;1m", "")
        .replace("\u{1b}[0m", "");
    let plain = stdout(&never);
    let strip_times = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(strip_times(&stripped), strip_times(&plain));
}

/// Every report format written by one run, as one text (plus stdout and stderr).
fn all_outputs(ws: &Workspace, envs: &[(&str, &str)]) -> (i32, String) {
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
            "--sarif",
            "r.sarif",
            "--markdown",
            "r.md",
            "--codequality",
            "cq.json",
            "--prometheus",
            "r.prom",
        ],
        envs,
    );
    let mut all = format!("{}\n{}\n", stdout(&out), stderr(&out));
    for f in ["r.json", "r.xml", "r.sarif", "r.md", "cq.json", "r.prom"] {
        all.push_str(&read(&ws.path().join(f)));
        all.push('\n');
    }
    (code(&out), all)
}

#[test]
fn variables_named_like_secrets_are_masked_in_every_report() {
    // One variable per documented hint (letter case does not matter), each printed by a
    // command whose check fails, so the output lands in messages and excerpts.
    let vars = [
        ("DB_PASS", "value-of-pass-01"),
        ("OLD_PWD_X", "value-of-pwd-02"),
        ("APP_SECRET", "value-of-secret-03"),
        ("GH_TOKEN_RO", "value-of-token-04"),
        ("SIGNING_KEY", "value-of-key-05"),
        ("basic_auth", "value-of-auth-06"),
        ("SVC_CREDENTIALS", "value-of-credential-07"),
        ("LOGIN_COOKIE", "value-of-cookie-08"),
        ("SessionId", "value-of-session-09"),
    ];
    let plain = ("GREETING", "value-of-greeting-10");
    let mut echo = String::from("echo");
    for (name, _) in vars.iter().chain([&plain]) {
        echo.push_str(&format!(" ${{{name}}}"));
    }
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    command_checks:\n      - name: leak\n        shell: true\n        command: \"{echo}; echo {echo_err} >&2; exit 3\"\n        stdout_contains: never-there\n",
            echo_err = echo.trim_start_matches("echo ")
        ),
    );
    let envs: Vec<(&str, &str)> = vars.iter().copied().chain([plain]).collect();
    let (c, all) = all_outputs(&ws, &envs);
    assert_eq!(c, 1, "{all}");
    for (name, value) in vars {
        assert!(!all.contains(value), "`{name}` leaked: {all}");
        // Nor its first characters past a cut.
        assert!(
            !all.contains(&value[..12]),
            "`{name}` leaked in part: {all}"
        );
    }
    // A name that hints at nothing is printed: the masking is by name, not of everything.
    assert!(all.contains(plain.1), "{all}");
    let doc = json(&ws.path().join("r.json"));
    let r = result(&doc, "leak");
    assert!(
        r["metadata"]["stdout_excerpt"].as_str().is_some_and(
            |s| s.starts_with("*** *** *** *** *** *** *** *** *** value-of-greeting-10")
        ),
        "{r}"
    );
}

#[test]
fn a_skip_matched_by_a_waiver_is_waived_and_its_cause_still_fails() {
    let (_l, port) = listener();
    let closed = closed_port();
    let ws = Workspace::new();
    let config = |waived: &str| {
        format!(
            r#"waivers:
  - {{check: "{waived}", reason: "migration, ticket 7", owner: sre, expires: 2030-01-31}}
environments:
  t:
    tcp_checks:
      - {{name: root-db, host: 127.0.0.1, port: {c}}}
      - {{name: app, host: 127.0.0.1, port: {port}, depends_on: [root-db]}}
"#,
            c = closed.port
        )
    };
    let envs = [("INFRACHECK_TODAY", "2030-01-15")];
    ws.write("c.yaml", &config("app"));
    let out = ws.run(
        &[
            "-c", "c.yaml", "--env", "t", "--json", "r.json", "--junit", "r.xml",
        ],
        &envs,
    );
    assert_eq!(code(&out), 1, "the root cause still fails the run");
    let doc = json(&ws.path().join("r.json"));
    let app = result(&doc, "app");
    assert_eq!(app["status"], "WAIVED", "{app}");
    assert_eq!(
        app["reason"], "blocked",
        "keeps the reason of its SKIP: {app}"
    );
    let msg = app["message"].as_str().unwrap();
    assert!(msg.contains("blocked by root-db"), "{msg}");
    assert!(
        msg.contains("waived until 2030-01-31: migration, ticket 7 (sre)"),
        "{msg}"
    );
    assert_eq!(result(&doc, "root-db")["status"], "FAIL");
    assert_eq!(doc["summary"]["waived"], 1);
    assert_eq!(doc["summary"]["skip"], 0);
    assert_eq!(doc["summary"]["fail"], 1);
    let xml = read(&ws.path().join("r.xml"));
    assert!(
        !xml.contains("<skipped"),
        "a waived SKIP is a passing test case: {xml}"
    );

    // Waive the cause too (a glob): nothing fails, exit 0.
    ws.write("c.yaml", &config("{root-db,app}"));
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "r.json"], &envs);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "app")["status"], "WAIVED");
    assert_eq!(result(&doc, "root-db")["status"], "WAIVED");
    assert_eq!(doc["status"], "warned", "passed with warnings: {doc}");
}

/// The names `list --shard K/2` prints for the config in `c.yaml`.
fn shard_names(ws: &Workspace, k: usize) -> BTreeSet<String> {
    let out = ws.run(
        &[
            "list",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--shard",
            &format!("{k}/2"),
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_dependency_in_another_shard_is_ignored() {
    let (_l, port) = listener();
    let closed = closed_port();
    let ws = Workspace::new();
    // Find a name of each shard (the hash is stable: the same names stay in their shards).
    let mut yaml = String::from("environments:\n  t:\n    tcp_checks:\n");
    for i in 0..16 {
        yaml.push_str(&format!(
            "      - {{name: c{i}, host: 127.0.0.1, port: {port}}}\n"
        ));
    }
    ws.write("c.yaml", &yaml);
    let one = shard_names(&ws, 1);
    let two = shard_names(&ws, 2);
    let dep = one.iter().next().expect("a check in shard 1").clone();
    let dependent = two.iter().next().expect("a check in shard 2").clone();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    tcp_checks:\n      - {{name: {dep}, host: 127.0.0.1, port: {c}}}\n      - {{name: {dependent}, host: 127.0.0.1, port: {port}, depends_on: [{dep}]}}\n",
            c = closed.port
        ),
    );
    assert!(shard_names(&ws, 1).contains(&dep));
    assert!(shard_names(&ws, 2).contains(&dependent));

    // Unsharded, the failed dependency blocks the dependent.
    let out = ws.run(&["-c", "c.yaml", "--env", "t", "--json", "all.json"], &[]);
    assert_eq!(code(&out), 1);
    let doc = json(&ws.path().join("all.json"));
    assert_eq!(result(&doc, &dependent)["status"], "SKIP");

    // In shard 2 the dependency (shard 1) is ignored: the dependent runs and passes.
    let out = ws.run(
        &[
            "-c", "c.yaml", "--env", "t", "--shard", "2/2", "--json", "s2.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("s2.json"));
    let r = result(&doc, &dependent);
    assert_eq!(r["status"], "PASS", "{r}");
    assert!(r["metadata"].get("blocked_by").is_none(), "{r}");
    assert_eq!(doc["results"].as_array().map(Vec::len), Some(1));
}
