//! One version story: every major tag of the Action (`OWNER/infracheck@vN`), every pinned
//! release (`INFRACHECK_VERSION`, `V=` in the README's install lines, the `--version` example)
//! and every container image tag in the README, docs/, the snippets `init --ci` prints and the
//! workflows agrees with what the binary's `--version` says (0.x: `@v0`).

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::support::ci::{read, root, text};
use crate::support::infracheck_command;

/// Every text file under `dir` (recursively).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The files a user reads or copies a version from.
fn version_files() -> Vec<PathBuf> {
    let r = root();
    let mut files = vec![
        r.join("README.md"),
        r.join("CONTRIBUTING.md"),
        r.join("action.yml"),
        r.join("checksums/README.md"),
        r.join("Dockerfile"),
    ];
    for dir in [
        "docs",
        "src/init",
        ".github/workflows",
        "examples",
        "scripts",
    ] {
        files_under(&r.join(dir), &mut files);
    }
    files.retain(|p| p.is_file());
    files
}

/// `infracheck --version` of the built binary: `infracheck X.Y.Z (commit …)`.
fn binary_version() -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = infracheck_command(dir.path())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = line
        .strip_prefix("infracheck ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected --version output: {line}"))
        .to_owned();
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "{line}");
    version
}

#[test]
fn every_documented_version_agrees_with_the_binary() {
    let version = binary_version();
    let major = version.split('.').next().unwrap().to_owned();
    // (what, pattern whose group 1 is the version, whether it is a major tag)
    let rules: [(&str, Regex, bool); 5] = [
        (
            "action major tag",
            Regex::new(r"infracheck@v(\d+)(?:[^.\d]|$)").unwrap(),
            true,
        ),
        (
            "pinned release",
            Regex::new(r#"INFRACHECK_VERSION\s*[:=]\s*["']?(\d+\.\d+\.\d+[0-9A-Za-z.-]*)"#)
                .unwrap(),
            false,
        ),
        (
            "install line",
            Regex::new(r"\bV=(\d+\.\d+\.\d+[0-9A-Za-z.-]*);").unwrap(),
            false,
        ),
        (
            "--version example",
            Regex::new(r"# infracheck (\d+\.\d+\.\d+[0-9A-Za-z.-]*) \(commit").unwrap(),
            false,
        ),
        (
            "container image tag",
            Regex::new(r"ghcr\.io/[A-Za-z0-9_.-]+/infracheck:(\d[0-9A-Za-z.-]*)").unwrap(),
            false,
        ),
    ];
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeMap::<&str, Vec<String>>::new();
    for file in version_files() {
        let Ok(content) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (what, re, is_major) in &rules {
            for c in re.captures_iter(&content) {
                let found = &c[1];
                // An image tag may name the release (`0.1.0`) or its major (`0`).
                let ok = if *is_major || !found.contains('.') {
                    found == major
                } else {
                    found == version
                };
                if !ok {
                    wrong.push(format!("{rel}: {what} `{}`", &c[0]));
                }
                seen.entry(what).or_default().push(rel.clone());
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "these disagree with `infracheck --version` ({version}, major tag v{major}):\n{}",
        wrong.join("\n")
    );
    // The places a new user copies from are among those checked.
    for (what, file) in [
        ("action major tag", "README.md"),
        ("action major tag", "docs/github-action.md"),
        ("action major tag", "docs/ci/github-workflow.yml"),
        ("install line", "README.md"),
        ("pinned release", "docs/ci/gitlab-ci.yml"),
        ("pinned release", "docs/ci/Jenkinsfile"),
        ("--version example", "README.md"),
        ("container image tag", "README.md"),
        ("container image tag", "docs/container.md"),
    ] {
        assert!(
            seen.get(what).is_some_and(|f| f.iter().any(|f| f == file)),
            "expected a {what} in {file}: {seen:?}"
        );
    }
    // `init --ci github` prints the documented workflow, so it carries the same major tag.
    assert!(read("src/init/mod.rs").contains("docs/ci/github-workflow.yml"));
}
