//! The CI examples in docs/ and the README stay true: the GitHub workflow shown in
//! docs/github-action.md is docs/ci/github-workflow.yml verbatim and uses only the action's
//! inputs, as does the README's quick start; the GitLab and Jenkins examples (docs/ci/ and
//! docs/gitlab-jenkins.md) publish their reports; every documented command line (those pages and
//! the README's quick start and usage) uses flags the binary accepts.

use std::collections::BTreeSet;

use crate::support::ci::{
    fenced_blocks, get, keys, parse_yaml, read, req, root, run_cmd, str_of, text,
};
use crate::support::infracheck_command;

/// The page of the GitHub Action.
const GITHUB_PAGE: &str = "docs/github-action.md";
/// The page of the GitLab job and the Jenkins pipeline.
const GITLAB_JENKINS_PAGE: &str = "docs/gitlab-jenkins.md";
/// The README's sections that show command lines.
const README_COMMAND_SECTIONS: [&str; 2] = ["Quick start", "Usage"];

/// The inputs `action.yml` declares.
fn action_inputs() -> Vec<String> {
    keys(req(
        &parse_yaml(&read("action.yml"), "action.yml"),
        "inputs",
        "action",
    ))
}

#[test]
fn github_action_page_shows_the_documented_workflow() {
    let blocks = fenced_blocks(&read(GITHUB_PAGE), None, "yaml");
    let doc = read("docs/ci/github-workflow.yml");
    assert!(
        blocks.contains(&doc),
        "{GITHUB_PAGE} must show docs/ci/github-workflow.yml verbatim"
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
    let inputs = action_inputs();
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
    for b in fenced_blocks(&read(GITLAB_JENKINS_PAGE), None, "yaml") {
        v.push((format!("{GITLAB_JENKINS_PAGE} GitLab snippet"), b));
    }
    v
}

fn jenkins_snippets() -> Vec<(String, String)> {
    let mut v = vec![(
        "docs/ci/Jenkinsfile".to_owned(),
        read("docs/ci/Jenkinsfile"),
    )];
    for b in fenced_blocks(&read(GITLAB_JENKINS_PAGE), None, "groovy") {
        v.push((format!("{GITLAB_JENKINS_PAGE} Jenkins snippet"), b));
    }
    v
}

#[test]
fn gitlab_job_declares_junit_and_codequality_reports() {
    let snippets = gitlab_snippets();
    assert!(
        snippets.len() >= 2,
        "{GITLAB_JENKINS_PAGE} shows the GitLab job too"
    );
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
    assert!(
        snippets.len() >= 2,
        "{GITLAB_JENKINS_PAGE} shows the Jenkins pipeline too"
    );
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

/// The command lines of the README's quick start and usage: its `sh` blocks.
fn readme_command_blocks() -> Vec<String> {
    let readme = read("README.md");
    let blocks: Vec<String> = README_COMMAND_SECTIONS
        .iter()
        .flat_map(|section| fenced_blocks(&readme, Some(section), "sh"))
        .collect();
    assert!(
        blocks.len() >= README_COMMAND_SECTIONS.len(),
        "the README's {README_COMMAND_SECTIONS:?} sections show command lines"
    );
    blocks
}

/// The `--flags` of every `infracheck run …` (or `infracheck --…`, the default command) line
/// in `sources`.
fn run_flags_in(sources: &[String]) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for s in sources {
        for line in s.lines() {
            let Some(pos) = line
                .find("infracheck run ")
                .or_else(|| line.find("infracheck --"))
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

/// Flags that the documented command lines use and that must appear in `infracheck run --help`.
fn documented_flags() -> BTreeSet<String> {
    let mut sources: Vec<String> = vec![read("docs/ci/gitlab-ci.yml"), read("docs/ci/Jenkinsfile")];
    for page in [GITHUB_PAGE, GITLAB_JENKINS_PAGE] {
        let page = read(page);
        for lang in ["yaml", "groovy", "sh"] {
            sources.extend(fenced_blocks(&page, None, lang));
        }
    }
    sources.extend(readme_command_blocks());
    let mut flags = run_flags_in(&sources);
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
    // The README's own command lines are among them.
    let readme_flags = run_flags_in(&readme_command_blocks());
    for f in [
        "--env",
        "--fail-on-warn",
        "--baseline",
        "--until-healthy",
        "--shard",
    ] {
        assert!(
            readme_flags.contains(f),
            "expected the README's quick start or usage to use {f}: {readme_flags:?}"
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

/// The quick start's one-step GitHub Action uses the action and only inputs it declares.
#[test]
fn readme_quick_start_uses_the_action_with_its_inputs() {
    let blocks = fenced_blocks(&read("README.md"), Some("Quick start"), "yaml");
    assert_eq!(blocks.len(), 1, "the quick start shows one action step");
    let steps = parse_yaml(&blocks[0], "README quick start step");
    let step = steps
        .as_sequence()
        .and_then(|s| s.first())
        .expect("the quick start's YAML is a list of steps");
    let uses = str_of(req(step, "uses", "quick start step"), "uses");
    let major = env!("CARGO_PKG_VERSION").split('.').next().unwrap();
    assert!(
        uses.ends_with(&format!("/infracheck@v{major}")),
        "quick start uses `{uses}`, not the major tag of this version"
    );
    let inputs = action_inputs();
    let with = keys(req(step, "with", "quick start step"));
    assert!(
        with.contains(&"env".to_owned()),
        "the quick start names the environment"
    );
    for k in with {
        assert!(
            inputs.contains(&k),
            "quick start input `{k}` is not an input of action.yml"
        );
    }
}
