//! One clean report on stdout: `--output FORMAT` for every format, on `run` and `merge`, makes
//! stdout that one document alone, byte for byte the file the same run writes, and each is read
//! by its real consumer (xmllint with the JUnit XSD and quick-xml, jsonschema with the SARIF
//! schema, tap.py, prometheus_client, html5lib, the Code Quality rules). Two reports aimed at
//! stdout are refused. And the text report's recap of failures and warnings at its end.

use std::path::Path;
use std::process::Command;

use crate::reports::validate;
use crate::support::{Workspace, code, stderr, stdout};

/// A PASS, a FAIL whose message holds markup and quotes, a SKIP and a WARN.
const CONFIG: &str = r#"environments:
  t:
    command_checks:
      - {name: ok, command: ["true"], tags: [smoke]}
      - {name: broken, command: ["sh", "-c", "echo '<b>&\"x\"</b>' >&2; exit 3"], tags: [smoke, db]}
      - {name: after, command: ["true"], depends_on: broken}
      - {name: slow, command: ["true"], warn_latency: 0ms}
"#;

/// Every `--output` format but text, with the file flag of the same format.
const FORMATS: &[&str] = &[
    "json",
    "junit",
    "sarif",
    "markdown",
    "html",
    "tap",
    "prometheus",
    "codequality",
];

/// Read `file` (stdout of `--output format`) with the format's consumer.
fn consume(format: &str, file: &Path) {
    let text = std::fs::read_to_string(file).expect("utf-8 report");
    assert!(
        !text.contains(" · environment t · ") && !text.contains("\nfailures ("),
        "{format}: the text report leaked into stdout:\n{text}"
    );
    match format {
        "json" => {
            let doc: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
            assert_eq!(doc["results"].as_array().map(Vec::len), Some(4), "{doc}");
        }
        "junit" => {
            validate::junit(file);
            let mut reader = quick_xml::Reader::from_str(&text);
            let mut cases = 0;
            loop {
                match reader.read_event().expect("well-formed XML") {
                    quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                        if e.name().as_ref() == b"testcase" =>
                    {
                        cases += 1;
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            assert_eq!(cases, 4, "{text}");
        }
        "sarif" => validate::sarif(file),
        "codequality" => {
            let issues = validate::codequality(file);
            assert!(issues.len() >= 2, "{issues:?}");
        }
        "tap" => {
            let points = crate::tap::tappy_parse(file);
            assert_eq!(points.len(), 4, "{points:?}");
        }
        "prometheus" => {
            let samples = crate::metrics::parse(file);
            assert!(!samples.is_empty());
        }
        "html" => {
            let fixture =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html/validate.py");
            let out = Command::new("python3")
                .arg(&fixture)
                .arg(file)
                .output()
                .expect("python3 is required");
            assert!(
                out.status.success(),
                "html5lib strict parse (pip install html5lib; scripts/test.sh does): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        "markdown" => {
            // No markdown parser judges validity: the document is the markdown report alone.
            assert!(text.contains("broken"), "{text}");
            assert!(text.contains('|'), "a table: {text}");
        }
        other => panic!("no consumer for {other}"),
    }
}

#[test]
fn every_output_format_on_stdout_is_that_document_alone_on_run_and_merge() {
    let ws = Workspace::new();
    ws.write("c.yaml", CONFIG);
    let out = ws.run(
        &["run", "-c", "c.yaml", "--env", "t", "--json", "whole.json"],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    for format in FORMATS {
        let file = format!("file.{format}");
        let flag = format!("--{format}");
        // The stdout document and the file of the same run are one rendering of one summary.
        let out = ws.run(
            &[
                "run", "-c", "c.yaml", "--env", "t", "--output", format, &flag, &file,
            ],
            &[],
        );
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        let written = std::fs::read(ws.path().join(&file)).expect("report file");
        assert_eq!(
            out.stdout, written,
            "{format}: stdout is the document alone"
        );
        // Live lines go to stderr.
        assert!(
            stderr(&out).contains("broken"),
            "{format}: {}",
            stderr(&out)
        );
        let piped = ws.write(&format!("stdout.{format}"), &stdout(&out));
        consume(format, &piped);

        let out = ws.run(
            &["merge", "whole.json", "--output", format, &flag, &file],
            &[],
        );
        assert_eq!(code(&out), 1, "merge {format}: {}", stderr(&out));
        let written = std::fs::read(ws.path().join(&file)).expect("report file");
        assert_eq!(out.stdout, written, "merge {format}");
        let piped = ws.write(&format!("merged.{format}"), &stdout(&out));
        consume(format, &piped);
    }
}

#[test]
fn two_reports_aimed_at_stdout_are_refused_before_anything_runs() {
    let ws = Workspace::new();
    ws.write("c.yaml", CONFIG);
    for (args, both) in [
        (
            // A document on stdout and a document on `-`: one stream, two documents, the
            // same rule for every format (`--output json --json -` below).
            vec!["--output", "junit", "--junit", "-"],
            "error: --output junit and --junit both write to stdout: give each report its own file\n",
        ),
        (
            vec!["--output", "text", "--tap", "-"],
            "error: --output text and --tap - both write to stdout: give one of them a file\n",
        ),
        (
            vec!["--json", "-", "--sarif", "-"],
            // Two report flags on one stream: the check of every stream (stdout, stderr,
            // /dev/fd/N) answers first.
            "error: --json and --sarif both write to stdout: give each report its own file\n",
        ),
    ] {
        let mut run = vec!["run", "-c", "c.yaml", "--env", "t", "--json", "r.json"];
        // The first case's file document stays a file; the others replace it.
        if args.contains(&"--json") {
            run.truncate(5);
        }
        run.extend(&args);
        let out = ws.run(&run, &[]);
        assert_eq!(code(&out), 2, "{args:?}: {}", stdout(&out));
        assert_eq!(stdout(&out), "");
        assert_eq!(stderr(&out), both);
    }
    let out = ws.run(
        &["run", "-c", "c.yaml", "--env", "t", "--json", "r.json"],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let out = ws.run(&["merge", "r.json", "--output", "json", "--json", "-"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: --output json and --json both write to stdout: give each report its own file\n"
    );
}

#[test]
fn the_text_report_ends_with_a_recap_of_failures_and_warnings() {
    let ws = Workspace::new();
    ws.write("c.yaml", CONFIG);
    let out = ws.run(&["run", "-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    assert!(n >= 10, "{text}");
    // The last lines of a CI log say what broke, as `cargo test` ends with its failures.
    let tail = &lines[n - 9..];
    assert_eq!(tail[0], "", "{text}");
    assert_eq!(tail[1], "failures (2):", "{text}");
    assert!(
        tail[2].starts_with("  FAIL  broken  c.yaml:5 [command.exit]  ")
            && tail[2].contains("exit code 3"),
        "{text}"
    );
    assert_eq!(
        tail[3], "  SKIP  after   c.yaml:6 [blocked]  blocked by broken",
        "{text}"
    );
    assert_eq!(tail[4], "", "{text}");
    assert_eq!(tail[5], "warnings (1):", "{text}");
    assert!(tail[6].starts_with("  WARN  slow  c.yaml:7 ["), "{text}");
    assert_eq!(tail[7], "", "{text}");
    assert!(
        tail[8].starts_with("1 passed, 1 warned, 1 failed, 1 skipped, 4 total in "),
        "{text}"
    );
    // The table came first: every check once above the recap.
    let table = &lines[..n - 9];
    for name in ["ok", "broken", "after", "slow"] {
        assert_eq!(
            table
                .iter()
                .filter(|l| l.split_whitespace().nth(1) == Some(name))
                .count(),
            1,
            "{name}: {text}"
        );
    }
    // A run that passes has no recap.
    let out = ws.run(
        &[
            "run", "-c", "c.yaml", "--env", "t", "--tags", "smoke", "--skip", "broken",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains("failures ("), "{}", stdout(&out));
    assert!(!stdout(&out).contains("warnings ("), "{}", stdout(&out));
}
