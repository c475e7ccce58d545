//! The GitHub workflows infracheck ships stay valid: every workflow, the documented one and
//! `action.yml` (as a workflow) pass actionlint; actions are pinned to commit SHAs with read-only
//! permissions; no `${{ }}` is interpolated inside a `run:` block; the release and action-test
//! workflows keep their shape; `deny.toml` bans OpenSSL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use saphyr::{Yaml, YamlEmitter};

use crate::support::ci::{
    actionlint, fenced_blocks, get, keys, parse_yaml, read, req, root, run_cmd, str_of, text,
    workflow_files,
};
use crate::support::release::TARGETS;

#[test]
fn actionlint_accepts_every_workflow_and_the_documented_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = workflow_files();
    files.push(root().join("docs/ci/github-workflow.yml"));
    for (i, block) in fenced_blocks(&read("docs/github-action.md"), None, "yaml")
        .into_iter()
        .enumerate()
    {
        let y = parse_yaml(&block, "docs/github-action.md snippet");
        if get(&y, "jobs").is_some() {
            let p = tmp.path().join(format!("github-action-doc-{i}.yml"));
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
                        // The release commits and tags (contents) and pushes the image
                        // (packages); nothing else writes.
                        assert!(
                            name == "release.yml"
                                && ((job_name == "publish" && k == "contents")
                                    || (job_name == "image" && k == "packages")),
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

/// The release pushes the container image built from the released musl binaries, for both
/// Linux platforms, with the release's tags, after the release is published.
#[test]
fn release_pushes_the_container_image_for_both_linux_platforms() {
    let wf = parse_yaml(&read(".github/workflows/release.yml"), "release.yml");
    let job = req(req(&wf, "jobs", "release"), "image", "jobs");
    assert_eq!(str_of(req(job, "needs", "image"), "needs"), "publish");
    let steps = req(job, "steps", "image").as_sequence().unwrap();
    let push = steps
        .iter()
        .find(|s| {
            get(s, "uses")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u.starts_with("docker/build-push-action@"))
        })
        .expect("the image job builds with docker/build-push-action");
    let with = req(push, "with", "build-push-action");
    assert_eq!(
        str_of(req(with, "platforms", "with"), "platforms"),
        "linux/amd64,linux/arm64"
    );
    assert_eq!(get(with, "push").and_then(|p| p.as_bool()), Some(true));
    assert_eq!(str_of(req(with, "context", "with"), "context"), "image");
    let text = read(".github/workflows/release.yml");
    for needle in [
        "bash scripts/container.sh --context image",
        "linux/amd64=dist/infracheck-$TAG-x86_64-unknown-linux-musl/infracheck",
        "linux/arm64=dist/infracheck-$TAG-aarch64-unknown-linux-musl/infracheck",
        "image=\"ghcr.io/${GITHUB_REPOSITORY,,}\"",
        "registry: ghcr.io",
        "packages: write",
    ] {
        assert!(text.contains(needle), "release.yml lacks `{needle}`");
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
