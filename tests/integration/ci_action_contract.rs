//! `action.yml` keeps its contract: its inputs, defaults and outputs, inputs reaching scripts
//! only through `env:`, every key infracheck writes to `$GITHUB_OUTPUT` exposed as an output,
//! and the fixture config of the action test is valid.

use std::collections::BTreeSet;
use std::net::TcpListener;

use crate::support::ci::{get, keys, parse_yaml, read, req, root, run_cmd, str_of, text};
use crate::support::infracheck_command;

#[test]
fn action_yml_keeps_its_contract() {
    let a = parse_yaml(&read("action.yml"), "action.yml");
    let runs = req(&a, "runs", "action.yml");
    assert_eq!(str_of(req(runs, "using", "runs"), "using"), "composite");

    let inputs = req(&a, "inputs", "action.yml");
    let input = |n: &str| req(inputs, n, "inputs");
    assert_eq!(
        get(input("env"), "required").and_then(|v| v.as_bool()),
        Some(true)
    );
    assert_eq!(
        get(input("config"), "default").and_then(|v| v.as_str()),
        Some("infracheck.yaml")
    );
    assert_eq!(
        get(input("fail-on-warn"), "default").and_then(|v| v.as_str()),
        Some("false")
    );
    for name in ["version", "junit", "sarif", "json", "markdown", "args"] {
        let i = input(name);
        assert!(
            get(i, "description").is_some(),
            "input {name} needs a description"
        );
        assert!(get(i, "default").is_some(), "input {name} needs a default");
    }
    for (name, default) in [
        ("fail", "true"),
        ("summary", "true"),
        ("annotations", "true"),
        ("tags", ""),
        ("only", ""),
    ] {
        assert_eq!(
            get(input(name), "default").and_then(|v| v.as_str()),
            Some(default),
            "input {name}"
        );
    }
    for name in ["junit", "sarif", "json", "markdown", "html"] {
        let d = get(input(name), "default")
            .and_then(|v| v.as_str())
            .unwrap();
        assert!(
            !d.is_empty(),
            "input {name} should default to a report path"
        );
    }

    let outputs = req(&a, "outputs", "action.yml");
    let steps = req(runs, "steps", "runs").as_sequence().unwrap();
    let step_ids: BTreeSet<&str> = steps
        .iter()
        .filter_map(|s| get(s, "id").and_then(|i| i.as_str()))
        .collect();
    for name in [
        "status",
        "passed",
        "warned",
        "failed",
        "total",
        "junit",
        "sarif",
        "json",
        "markdown",
        "html",
        "exit-code",
    ] {
        let o = req(outputs, name, "outputs");
        let value = str_of(req(o, "value", name), name);
        let inner = value
            .strip_prefix("${{ steps.")
            .and_then(|v| v.strip_suffix(" }}"))
            .unwrap_or_else(|| {
                panic!("output {name}: value must be `${{{{ steps.X.outputs.Y }}}}`, is `{value}`")
            });
        let (step, rest) = inner.split_once('.').unwrap();
        assert!(
            step_ids.contains(step),
            "output {name} reads unknown step `{step}`"
        );
        assert!(rest.starts_with("outputs."), "output {name}: `{value}`");
    }

    for step in steps {
        // The one action the composite uses (actions/cache, for `version: source`) is pinned
        // to a commit SHA; every other step is a script.
        if let Some(uses) = get(step, "uses").and_then(|u| u.as_str()) {
            let sha = uses.split_once('@').map_or("", |(_, r)| r);
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "`uses: {uses}` must be pinned to a commit SHA"
            );
            continue;
        }
        assert_eq!(
            get(step, "shell").and_then(|s| s.as_str()),
            Some("bash"),
            "every step runs in bash"
        );
        let run = str_of(req(step, "run", "step"), "run");
        assert!(
            !run.contains("${{"),
            "run block interpolates an expression: {run}"
        );
        assert!(run.contains("$GITHUB_ACTION_PATH") || run.contains("${GITHUB_ACTION_PATH"));
    }
    // Every input reaches a script, through `env:`.
    let mut env_values = String::new();
    for step in steps {
        if let Some(env) = get(step, "env").and_then(|e| e.as_mapping()) {
            for v in env.values() {
                env_values.push_str(v.as_str().unwrap_or(""));
                env_values.push('\n');
            }
        }
    }
    for name in keys(inputs) {
        assert!(
            env_values.contains(&format!("${{{{ inputs.{name} }}}}")),
            "input {name} is not passed to a step through env:"
        );
    }
}

/// The keys a `$GITHUB_OUTPUT` file holds (`k=v` lines and `k<<DELIM` blocks).
fn output_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((k, delim)) = line.split_once("<<") {
            keys.insert(k.to_owned());
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
            }
        } else if let Some((k, _)) = line.split_once('=') {
            keys.insert(k.to_owned());
        }
    }
    keys
}

/// The keys the real binary writes to `$GITHUB_OUTPUT` with every feature that adds one on.
pub(crate) fn written_output_keys() -> BTreeSet<String> {
    // The real binary, with every feature that adds outputs on: a baseline, the deploy gate
    // and every report file. A held listener makes the one check pass.
    let ws = crate::support::Workspace::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    ws.write(
        "infracheck.yaml",
        &format!("environments:\n  t:\n    tcp_checks:\n      - {{name: up, host: 127.0.0.1, port: {port}}}\n"),
    );
    let first = ws.run(&["run", "--env", "t", "--json", "base.json"], &[]);
    assert_eq!(
        crate::support::code(&first),
        0,
        "{}",
        crate::support::stderr(&first)
    );
    let out_file = ws.write("github_output", "");
    let summary = ws.write("step_summary", "");
    let o = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--github",
            "--baseline",
            "base.json",
            "--until-healthy",
            "--deadline",
            "30s",
            "--interval",
            "10ms",
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
            "--html",
            "r.html",
            "--history",
            "h.json",
            "--tap",
            "r.tap",
        ],
        &[
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(
        crate::support::code(&o),
        0,
        "{}",
        crate::support::stderr(&o)
    );
    drop(listener);
    output_keys(&crate::support::read(&out_file))
}

#[test]
fn action_yml_exposes_every_output_infracheck_writes() {
    let written = written_output_keys();
    for must in [
        "status",
        "latency_regressions",
        "healthy",
        "gate_rounds",
        "report_prometheus",
        "report_html",
        "report_tap",
    ] {
        assert!(written.contains(must), "{must} not written: {written:?}");
    }

    // What action.yml's outputs read from the run step.
    let a = parse_yaml(&read("action.yml"), "action.yml");
    let outputs = req(&a, "outputs", "action.yml");
    let exposed: BTreeSet<String> = keys(outputs)
        .iter()
        .filter_map(|name| {
            let value = str_of(req(req(outputs, name, "outputs"), "value", name), name);
            value
                .strip_prefix("${{ steps.run.outputs.")
                .and_then(|v| v.strip_suffix(" }}"))
                .map(str::to_owned)
        })
        .collect();
    let missing: Vec<&String> = written.difference(&exposed).collect();
    assert!(missing.is_empty(), "action.yml does not expose {missing:?}");
    // …and nothing it exposes from the run step is invented (scripts/action/run.sh adds
    // infracheck's exit code).
    let invented: Vec<&String> = exposed
        .difference(&written)
        .filter(|k| *k != "exit_code")
        .collect();
    assert!(
        invented.is_empty(),
        "action.yml exposes keys never written: {invented:?}"
    );
}

#[test]
fn action_fixture_config_is_valid() {
    let out = run_cmd(
        infracheck_command(&root())
            .args(["validate", "--config"])
            .arg(root().join("tests/fixtures/action/infracheck.yaml")),
        "infracheck validate",
    );
    assert!(out.status.success(), "{}", text(&out));
}
