//! `--tap PATH`: the TAP version 14 report read back by real consumers — Perl's
//! `TAP::Parser` (what `prove` runs on) and `prove` itself, and Python's tap.py with PyYAML for
//! the diagnostics blocks — for every status, hostile names and messages, `merge`, the
//! distinct-paths check and the GitHub output `report_tap`.

use std::path::Path;

use crate::support::{Workspace, code, read, stderr, stdout};

/// Perl (core modules only) reading a TAP file with `TAP::Parser`: one JSON line per test
/// point, then one with the parser's totals.
const PERL_READER: &str = r#"
use strict; use warnings;
use TAP::Parser; use JSON::PP;
my $json = JSON::PP->new->canonical->utf8;
open(my $fh, '<:encoding(UTF-8)', $ARGV[0]) or die "open: $!";
my $tap = do { local $/; <$fh> };
my $p = TAP::Parser->new({ tap => $tap });
my $last;
while (my $r = $p->next) {
    if ($r->is_test) {
        $last = { number => $r->number + 0, ok => ($r->is_actual_ok ? 1 : 0),
            description => $r->description, directive => $r->directive,
            explanation => $r->explanation, yaml => undef };
        print $json->encode($last), "\n";
    } elsif ($r->is_yaml) {
        print $json->encode({ yaml_for => $last->{number}, yaml => $r->data }), "\n";
    } elsif ($r->is_unknown) {
        print $json->encode({ unknown => $r->as_string }), "\n";
    }
}
print $json->encode({ totals => 1, planned => $p->tests_planned + 0, run => $p->tests_run + 0,
    passed => scalar($p->passed) + 0, failed => scalar($p->failed) + 0,
    skipped => scalar($p->skipped) + 0, todo => scalar($p->todo) + 0,
    parse_errors => [ $p->parse_errors ] }), "\n";
"#;

/// What `TAP::Parser` read: test points (with their YAML blocks) and the totals.
struct Parsed {
    points: Vec<serde_json::Value>,
    totals: serde_json::Value,
}

impl Parsed {
    /// The parse errors, less the one Test::Harness before 3.48 (Debian 12 ships 3.44) reports
    /// for any `TAP version 14` header: it reads the file as TAP 13, which version 14 extends.
    fn parse_errors(&self) -> Vec<String> {
        self.totals["parse_errors"]
            .as_array()
            .expect("parse_errors")
            .iter()
            .filter_map(|e| e.as_str())
            .filter(|e| {
                *e != "TAP specified version 14 but we don't know about versions later than 13"
            })
            .map(str::to_owned)
            .collect()
    }

    fn point(&self, n: u64) -> &serde_json::Value {
        self.points
            .iter()
            .find(|p| p["number"] == n)
            .unwrap_or_else(|| panic!("no test point {n}: {:?}", self.points))
    }
}

fn perl_parse(file: &Path) -> Parsed {
    let out = std::process::Command::new("perl")
        .arg("-e")
        .arg(PERL_READER)
        .arg(file)
        .output()
        .expect("perl is required (Debian package `perl`)");
    assert!(
        out.status.success(),
        "perl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut points: Vec<serde_json::Value> = Vec::new();
    let mut totals = serde_json::Value::Null;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("perl JSON line");
        if let Some(n) = v.get("yaml_for") {
            let p = points
                .iter_mut()
                .find(|p| p["number"] == *n)
                .expect("a YAML block follows its test point");
            p["yaml"] = v["yaml"].clone();
        } else if v.get("unknown").is_some() {
            panic!("TAP::Parser did not understand a line: {v}");
        } else if v.get("totals").is_some() {
            totals = v;
        } else {
            points.push(v);
        }
    }
    Parsed { points, totals }
}

/// tap.py (with PyYAML for the diagnostics blocks): `[ok, skip, todo, yaml]` per test point.
pub(crate) fn tappy_parse(file: &Path) -> Vec<serde_json::Value> {
    let script = r#"
import json, sys
from tap.parser import Parser
out = []
for line in Parser().parse_file(sys.argv[1]):
    if line.category == "test":
        out.append({"ok": line.ok, "skip": line.skip, "todo": line.todo, "yaml": line.yaml_block})
    elif line.category == "unknown":
        raise SystemExit("tap.py did not understand a line")
print(json.dumps(out))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 is required");
    assert!(
        out.status.success(),
        "tap.py (pip install 'tap.py[yaml]'): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tap.py JSON")
}

/// A run with every status: PASS, FAIL (hostile name and output), SKIP, WAIVED, and a WARN
/// (a stale waiver).
fn every_status(ws: &Workspace) -> String {
    let config = r#"waivers:
  - {check: "vendor*", reason: "ticket 42", owner: sre, expires: 2099-12-31}
  - {check: "gone-check", reason: "old", expires: 2099-12-31}
environments:
  ci:
    command_checks:
      - name: up
        command: ["true"]
      - name: "evil # SKIP \\ back\n::error::forged ##[warning]x"
        command: ["sh", "-c", "printf 'out\\n::error::forged\\n##[error]x\\n  ...\\n'; exit 3"]
      - name: blocked
        command: ["true"]
        depends_on: ["evil # SKIP \\ back\n::error::forged ##[warning]x"]
      - name: vendor-api
        command: ["false"]
"#;
    ws.write("infracheck.yaml", config);
    config.to_owned()
}

fn line_of(text: &str, needle: &str) -> u64 {
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in config"));
    u64::try_from(i + 1).unwrap()
}

#[test]
fn tap_report_read_by_perl_prove_and_tappy() {
    let ws = Workspace::new();
    let config = every_status(&ws);
    let out = ws.run(
        &["--env", "ci", "--tap", "out/report.tap", "--json", "r.json"],
        &[],
    );
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let file = ws.path().join("out/report.tap");
    let tap = read(&file);
    assert!(tap.starts_with("TAP version 14\n1..5\n"), "{tap}");
    for line in tap.split(['\n', '\r']) {
        assert!(
            !line.trim_start().starts_with("::"),
            "command line {line:?}"
        );
        assert!(!line.contains("##["), "legacy command {line:?}");
    }

    // Perl's TAP::Parser: counts, directives and the diagnostics.
    let p = perl_parse(&file);
    assert_eq!(p.totals["planned"], 5, "{}", p.totals);
    assert_eq!(p.totals["run"], 5, "{}", p.totals);
    assert_eq!(p.parse_errors(), Vec::<String>::new(), "{tap}");
    // `passed` counts TODO points too (a TODO failure does not fail a TAP run).
    assert_eq!(p.totals["passed"], 4, "{}", p.totals);
    assert_eq!(p.totals["failed"], 1, "{}", p.totals);
    assert_eq!(p.totals["skipped"], 1, "{}", p.totals);
    assert_eq!(p.totals["todo"], 1, "{}", p.totals);

    // Config order: the checks, then the stale waiver's WARN.
    let up = p.point(1);
    assert_eq!(
        (up["ok"].clone(), up["description"].clone()),
        (1.into(), "- up".into())
    );
    assert!(up["yaml"].is_null());

    let evil = p.point(2);
    assert_eq!(evil["ok"], 0);
    // The `#` in the name is escaped: no directive is forged.
    assert_eq!(evil["directive"], "", "{evil}");
    assert_eq!(
        evil["description"],
        "- evil \\# SKIP \\\\ back\\\\n::error::forged \\#\u{2060}\\#[warning]x",
        "{evil}"
    );
    let y = &evil["yaml"];
    assert_eq!(y["status"], "FAIL", "{evil}");
    assert_eq!(y["reason"], "command.exit", "{evil}");
    assert_eq!(y["file"], "infracheck.yaml", "{evil}");
    assert_eq!(
        y["line"],
        line_of(&config, "- name: \"evil").to_string(),
        "{evil}"
    );
    assert!(y["target"].as_str().unwrap().contains("printf"), "{evil}");
    assert!(y["message"].as_str().unwrap().contains("exit"), "{evil}");

    let blocked = p.point(3);
    assert_eq!(blocked["ok"], 1);
    assert_eq!(blocked["directive"], "SKIP");
    assert!(
        blocked["explanation"]
            .as_str()
            .unwrap()
            .starts_with("blocked by evil"),
        "{blocked}"
    );

    let vendor = p.point(4);
    assert_eq!(vendor["ok"], 0);
    assert_eq!(vendor["directive"], "TODO");
    assert!(
        vendor["explanation"]
            .as_str()
            .unwrap()
            .contains("waived until 2099-12-31: ticket 42 (sre)"),
        "{vendor}"
    );

    let stale = p.point(5);
    assert_eq!(stale["ok"], 1, "a WARN is ok: {stale}");
    assert_eq!(stale["directive"], "");
    assert_eq!(stale["yaml"]["status"], "WARN");
    assert_eq!(stale["yaml"]["reason"], "waiver.stale");
    assert_eq!(stale["yaml"]["target"], "gone-check");
    assert_eq!(
        stale["yaml"]["line"],
        line_of(&config, "gone-check").to_string()
    );

    // `prove` itself: one failed test point (the FAIL), the SKIP and the TODO not failures.
    let prove = std::process::Command::new("prove")
        .args(["--exec", "cat"])
        .arg(&file)
        .output()
        .expect("prove is required (Debian package `perl`)");
    let prove_out = String::from_utf8_lossy(&prove.stdout).into_owned();
    assert!(!prove.status.success(), "{prove_out}");
    assert!(
        prove_out.contains("Failed 1/5 subtests")
            && prove_out.contains("(less 1 skipped subtest: 3 okay)")
            && prove_out.contains("Tests: 5 Failed: 1)")
            && prove_out.contains("Failed test:  2\n"),
        "{prove_out}"
    );

    // tap.py with PyYAML: the YAML blocks read as YAML, hostile text and all.
    let points = tappy_parse(&file);
    assert_eq!(points.len(), 5);
    let oks: Vec<bool> = points.iter().map(|p| p["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, false, true, false, true]);
    assert_eq!(points[2]["skip"], true);
    assert_eq!(points[3]["todo"], true);
    let y = &points[1]["yaml"];
    let doc = crate::support::json(&ws.path().join("r.json"));
    let evil_json = &doc["results"][1];
    assert_eq!(y["message"], evil_json["message"], "{y}");
    assert_eq!(y["line"], evil_json["location"]["line"], "{y}");
    assert_eq!(points[4]["yaml"]["reason"], "waiver.stale");
}

#[test]
fn tap_from_merge_and_in_github_outputs() {
    let ws = Workspace::new();
    every_status(&ws);
    let out = ws.run(&["--env", "ci", "--json", "run.json"], &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let gh = ws.write("github_output", "");
    let out = ws.run(
        &["merge", "run.json", "--tap", "merged.tap", "--github"],
        &[("GITHUB_OUTPUT", gh.to_str().unwrap())],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let p = perl_parse(&ws.path().join("merged.tap"));
    assert_eq!(p.totals["planned"], 5, "{}", p.totals);
    assert_eq!(p.totals["failed"], 1, "{}", p.totals);
    assert!(read(&gh).contains("report_tap<<"), "{}", read(&gh));

    // A TAP report may not overwrite another report or an input.
    let out = ws.run(
        &["--env", "ci", "--junit", "same.out", "--tap", "same.out"],
        &[],
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("error: --junit and --tap both write same.out"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["--env", "ci", "--tap", "infracheck.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("--tap and the config file both name infracheck.yaml"),
        "{}",
        stderr(&out)
    );
}
