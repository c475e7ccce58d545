//! CI reports end to end: every format from one run in GitHub mode against a real nginx, each
//! validated against its official schema; report write failures and exit codes; and a hostile
//! server whose text must not forge a workflow command or break any format.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Workspace, code, nginx::Nginx, stderr, stdout};

#[path = "support/hostile.rs"]
mod hostile;
#[path = "support/validate.rs"]
pub(crate) mod validate;

use hostile::HostileServer;

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in config"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Split the way the runner does (CR, LF) and check every line: only infracheck's own
/// annotation commands may start with `::`, each with exactly its own properties, and `##[`
/// appears nowhere.
fn assert_no_forged_commands(text: &str, what: &str) {
    for line in text.split(['\n', '\r']) {
        assert!(!line.contains("##["), "{what}: legacy command in {line:?}");
        let t = line.trim_start();
        if !t.starts_with("::") {
            continue;
        }
        // infracheck's own live-progress group, exactly as it writes it.
        if t == "::group::infracheck: checks as they finish" || t == "::endgroup::" {
            continue;
        }
        let (command, rest) = t[2..]
            .split_once(' ')
            .unwrap_or_else(|| panic!("{what}: forged command {line:?}"));
        assert!(
            ["error", "warning", "notice"].contains(&command),
            "{what}: forged command {line:?}"
        );
        let (props, _message) = rest
            .split_once("::")
            .unwrap_or_else(|| panic!("{what}: malformed {line:?}"));
        let keys: Vec<&str> = props
            .split(',')
            .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
            .collect();
        let expected: &[&str] = if command == "notice" {
            &["title"]
        } else {
            &["file", "line", "col", "title"]
        };
        assert_eq!(keys, expected, "{what}: properties of {line:?}");
    }
}

/// Parse `$GITHUB_OUTPUT` (`name=value` and `name<<DELIM` … `DELIM`).
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_owned(), value.to_owned());
        } else {
            panic!("bad output line {line:?} in {text}");
        }
    }
    out
}

/// Every table row of the step summary has its six column bars (escaped `\|` excluded).
fn assert_table_intact(md: &str) {
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let bars = line.replace("\\|", "").matches('|').count();
        assert_eq!(bars, 6, "broken table row: {line}\n{md}");
    }
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count(),
        "{md}"
    );
}

#[test]
fn every_format_from_one_run_in_github_mode() {
    let ng = Nginx::start(
        r#"
        location = /health { return 200 'ok'; }
        location = /down { return 503 'maintenance'; }
        "#,
    );
    let ws = Workspace::new();
    let closed = crate::support::closed_port();
    let config = format!(
        r#"environments:
  ci:
    http_checks:
      - name: up
        url: "{b}/health"
      - name: down
        url: "{b}/down"
      - name: text
        url: "{b}/health"
        body_contains: nope
      - name: closed-port
        url: "http://127.0.0.1:{port}/"
        timeout: 5s
"#,
        b = ng.base(),
        port = closed.port
    );
    ws.write("ops/infracheck.yaml", &config);
    let summary = ws.write("step-summary.md", "# Earlier step\n\nkept content\n");
    let outputs = ws.write("github-output", "earlier=1\n");
    let summary_s = summary.display().to_string();
    let outputs_s = outputs.display().to_string();
    let root = ws.path().display().to_string();
    let out = ws.run(
        &[
            "-c",
            "ops/infracheck.yaml",
            "--env",
            "ci",
            "--junit",
            "junit.xml",
            "--sarif",
            "infracheck.sarif",
            "--markdown",
            "summary.md",
            "--json",
            "report.json",
            "--codequality",
            "codequality.json",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary_s),
            ("GITHUB_OUTPUT", &outputs_s),
            ("GITHUB_WORKSPACE", &root),
        ],
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(code(&out), 1, "stdout:\n{so}\nstderr:\n{se}");
    // The text report is still on stdout.
    assert!(so.contains("FAIL  down"), "{so}");
    assert!(so.contains("1 passed, 1 warned, 2 failed, 4 total"), "{so}");
    assert_no_forged_commands(&so, "stdout");
    assert_no_forged_commands(&se, "stderr");

    // Annotations point at the check's line of the config, repo-relative.
    let down_line = line_of(&config, "name: down");
    assert!(
        se.contains(&format!(
            "::error file=ops/infracheck.yaml,line={down_line},col=9,title=down [http.status]::expected status 200, got 503"
        )),
        "{se}"
    );
    let closed_line = line_of(&config, "name: closed-port");
    assert!(
        se.contains(&format!(
            "::error file=ops/infracheck.yaml,line={closed_line},col=9,title=closed-port [connect.refused]::"
        )),
        "{se}"
    );
    assert!(
        se.contains(&format!(
            "::warning file=ops/infracheck.yaml,line={},col=9,title=text [http.body]::",
            line_of(&config, "name: text")
        )),
        "{se}"
    );
    assert!(
        se.contains("::notice title=infracheck ci::1 passed, 1 warned, 2 failed, 4 total: failed."),
        "{se}"
    );

    // JUnit: schema-valid, classes, file/line.
    let junit = ws.path().join("junit.xml");
    validate::junit(&junit);
    let xml = read(&junit);
    assert!(xml.contains(r#"<testsuite name="ci" tests="4""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="down" classname="http" time="#)
            && xml.contains(&format!(r#"file="ops/infracheck.yaml" line="{down_line}""#)),
        "{xml}"
    );
    assert!(
        xml.contains(r#"type="http.status">expected status 200, got 503"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<error message="#) && xml.contains(r#"type="connect.refused""#),
        "{xml}"
    );
    assert!(xml.contains("<system-out>WARN [http.body]"), "{xml}");

    // SARIF: schema-valid, GitHub's rules, one result per FAIL/WARN at the right line.
    let sarif_path = ws.path().join("infracheck.sarif");
    validate::sarif(&sarif_path);
    let sarif: serde_json::Value = serde_json::from_str(&read(&sarif_path)).unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(run["automationDetails"]["id"], "infracheck/ci/");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{sarif}");
    let down = results
        .iter()
        .find(|r| r["ruleId"] == "http/status")
        .unwrap();
    assert_eq!(down["level"], "error");
    let loc = &down["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "ops/infracheck.yaml");
    assert_eq!(loc["region"]["startLine"], down_line);
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "http/body" && r["level"] == "warning")
    );

    // Markdown file and the step summary (appended after the earlier content).
    let md = read(&ws.path().join("summary.md"));
    assert!(md.starts_with("## infracheck · ci\n"), "{md}");
    assert!(
        md.contains("❌ **FAILED**: 1 passed, 1 warned, 2 failed, 4 total"),
        "{md}"
    );
    assert_table_intact(&md);
    let first_fail = md.find("| ❌ FAIL |").unwrap();
    let first_pass = md.find("| ✅ PASS |").unwrap();
    assert!(first_fail < first_pass, "failures first: {md}");
    let step = read(&summary);
    assert!(
        step.starts_with("# Earlier step\n\nkept content\n"),
        "{step}"
    );
    assert!(
        step.ends_with(&md),
        "the summary appends the same markdown: {step}"
    );

    // JSON and Code Quality.
    let json: serde_json::Value =
        serde_json::from_str(&read(&ws.path().join("report.json"))).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["results"].as_array().map(Vec::len), Some(4));
    let issues = validate::codequality(&ws.path().join("codequality.json"));
    let severities: Vec<&str> = issues
        .iter()
        .map(|i| i["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["major", "minor", "major"]);
    assert_eq!(issues[0]["location"]["path"], "ops/infracheck.yaml");
    assert_eq!(issues[0]["location"]["lines"]["begin"], down_line);

    // $GITHUB_OUTPUT: earlier content kept, counts, status and the report paths.
    let text = read(&outputs);
    assert!(text.starts_with("earlier=1\n"), "{text}");
    let o = parse_outputs(&text);
    let expect = [
        ("earlier", "1"),
        ("passed", "1"),
        ("warned", "1"),
        ("failed", "2"),
        ("skipped", "0"),
        ("waived", "0"),
        ("total", "4"),
        ("status", "failed"),
        ("report_json", "report.json"),
        ("report_junit", "junit.xml"),
        ("report_sarif", "infracheck.sarif"),
        ("report_markdown", "summary.md"),
        ("report_codequality", "codequality.json"),
    ];
    let expect: BTreeMap<String, String> = expect
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(o, expect, "{text}");

    // The same run with --no-github: no annotations, no summary, no outputs.
    let before = (read(&summary), read(&outputs));
    let out = ws.run(
        &["-c", "ops/infracheck.yaml", "--env", "ci", "--no-github"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary_s),
            ("GITHUB_OUTPUT", &outputs_s),
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains("::error"), "{}", stderr(&out));
    assert_eq!((read(&summary), read(&outputs)), before);
}

#[test]
fn a_report_that_cannot_be_written_exits_3_and_the_others_are_written() {
    let ng = Nginx::start("location = /health { return 200 'ok'; }");
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: up, url: \"{}/health\"}}\n",
            ng.base()
        ),
    );
    let args = [
        "-c",
        "c.yaml",
        "--env",
        "t",
        "--junit",
        "blocker/junit.xml",
        "--sarif",
        "r.sarif",
        "--codequality",
        "cq.json",
    ];
    // A regular file where the report's directory should be: the directory cannot be made.
    ws.write("blocker", "");
    let out = ws.run(&args, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: JUnit report: cannot write blocker/junit.xml: "),
        "{err}"
    );
    assert!(!err.contains("cannot render"), "{err}");
    assert!(stdout(&out).contains("PASS  up"));
    validate::sarif(&ws.path().join("r.sarif"));
    assert!(validate::codequality(&ws.path().join("cq.json")).is_empty());
    // No temp file is left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(ws.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A failing check wins over the report error: exit 1.
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: up, url: \"{}/missing\"}}\n",
            ng.base()
        ),
    );
    assert_eq!(code(&ws.run(&args, &[])), 1);
}

#[test]
fn hostile_server_text_cannot_forge_commands_or_break_formats() {
    let server = HostileServer::start(500);
    let ws = Workspace::new();
    let url = server.url("/");
    ws.write(
        "infracheck.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - name: "evil %0A::warning::x, a:b"
        url: "{url}"
        headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
      - name: "header </details><script>alert(1)</script> | x"
        url: "{url}"
        expected_status: 500
        response_headers: {{X-Evil: "not-there"}}
      - name: "body ##[error]x"
        url: "{url}"
        expected_status: 500
        body_contains: "never"
      - name: "condition on the hostile body"
        url: "{url}"
        headers: {{Authorization: "Bearer ${{API_TOKEN}}"}}
        expected_status: 500
        expect:
          - body == "x"
          - header.x-evil == "x"
"#
        ),
    );
    let summary = ws.write("step-summary.md", "");
    let outputs = ws.write("github-output", "");
    let summary_s = summary.display().to_string();
    let outputs_s = outputs.display().to_string();
    let root = ws.path().display().to_string();
    let secret = "sentinel-secret-7319";
    for output in ["text", "json"] {
        let out = ws.run(
            &[
                "--env",
                "t",
                "--output",
                output,
                "--junit",
                "junit.xml",
                "--sarif",
                "r.sarif",
                "--markdown",
                "summary.md",
                "--json",
                "r.json",
                "--codequality",
                "cq.json",
                "-v",
            ],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_STEP_SUMMARY", &summary_s),
                ("GITHUB_OUTPUT", &outputs_s),
                ("GITHUB_WORKSPACE", &root),
                ("API_TOKEN", secret),
            ],
        );
        let (so, se) = (stdout(&out), stderr(&out));
        assert_eq!(code(&out), 1, "stdout:\n{so}\nstderr:\n{se}");
        assert_no_forged_commands(&so, "stdout");
        assert_no_forged_commands(&se, "stderr");
        // Four failures and the notice: nothing else was turned into a command (besides the
        // live-progress group around the per-check lines).
        let commands = se
            .lines()
            .filter(|l| l.starts_with("::") && !l.starts_with("::group::") && *l != "::endgroup::")
            .count();
        assert_eq!(commands, 5, "{se}");
        assert!(
            se.contains("title=evil %250A%3A%3Awarning%3A%3Ax%2C a%3Ab [http.status]::"),
            "{se}"
        );
        if output == "json" {
            let doc: serde_json::Value = serde_json::from_str(&so).expect("stdout stays JSON");
            // The excerpt survived intact in the data, only its printing was neutralised.
            let excerpt = doc["results"][0]["metadata"]["body_excerpt"]
                .as_str()
                .unwrap();
            assert!(excerpt.contains("##[error]legacy"), "{excerpt}");
            // A failed condition's value seen, as data: the payloads intact, the secret masked.
            let cond = &doc["results"][3];
            assert_eq!(cond["reason"], "http.expect", "{cond}");
            let actual = cond["conditions"][0]["actual"].as_str().unwrap();
            assert!(actual.contains("::add-mask::x"), "{actual}");
            assert!(!actual.contains(secret), "{actual}");
            assert!(
                cond["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("body == \"x\", was \"")
            );
        }
        for (name, text) in [("stdout", &so), ("stderr", &se)] {
            assert!(!text.contains(secret), "secret in {name}");
        }
    }

    // Every file is valid and free of the payloads' active forms.
    validate::junit(&ws.path().join("junit.xml"));
    validate::sarif(&ws.path().join("r.sarif"));
    validate::codequality(&ws.path().join("cq.json"));
    let json: serde_json::Value = serde_json::from_str(&read(&ws.path().join("r.json"))).unwrap();
    assert_eq!(json["summary"]["fail"], 3, "{json}");
    assert_eq!(json["summary"]["warn"], 1, "{json}");
    let xml = read(&ws.path().join("junit.xml"));
    assert!(
        xml.contains("::add-mask::x"),
        "the body excerpt is in the JUnit body: {xml}"
    );

    let md = read(&ws.path().join("summary.md"));
    let step = read(&summary);
    assert!(
        step.ends_with(&md) && step.matches("## infracheck · t").count() == 2,
        "appended once per run: {step}"
    );
    assert_table_intact(&md);
    for forbidden in [
        "<script",
        "</details><",
        "##[",
        "::add-mask::",
        "::set-output",
    ] {
        assert!(
            !md.contains(forbidden),
            "`{forbidden}` in the summary:\n{md}"
        );
    }
    assert!(md.contains("&lt;script&gt;"), "escaped, not dropped: {md}");

    let o = parse_outputs(&read(&outputs));
    assert!(
        o.keys().all(|k| [
            "passed",
            "warned",
            "failed",
            "skipped",
            "waived",
            "total",
            "status",
            "report_json",
            "report_junit",
            "report_sarif",
            "report_markdown",
            "report_codequality"
        ]
        .contains(&k.as_str())),
        "{o:?}"
    );
    assert_eq!(o.get("status").map(String::as_str), Some("failed"));

    // The secret sent to the server and echoed back appears in no file.
    for f in [
        "junit.xml",
        "r.sarif",
        "summary.md",
        "r.json",
        "cq.json",
        "step-summary.md",
        "github-output",
    ] {
        let text = read(&ws.path().join(f));
        assert!(!text.contains(secret), "secret in {f}");
    }
    let rjson = read(&ws.path().join("r.json"));
    assert!(rjson.contains("auth=***"), "the echo was redacted: {rjson}");
}
