//! Every relative link in README.md, CONTRIBUTING.md and the markdown pages under docs/ resolves:
//! the file it names exists and, for a `#fragment` into a markdown page, that page has a heading
//! with that anchor (GitHub's rule: lowercase, punctuation dropped, spaces as `-`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::ci::{read, root};

/// README.md, CONTRIBUTING.md and every `.md` file under docs/, relative to the repository.
fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned(), "CONTRIBUTING.md".to_owned()];
    let mut dirs = vec![PathBuf::from("docs")];
    while let Some(dir) = dirs.pop() {
        let abs = root().join(&dir);
        let entries = std::fs::read_dir(&abs)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", abs.display()));
        for entry in entries {
            let name = dir.join(entry.unwrap().file_name());
            if root().join(&name).is_dir() {
                dirs.push(name);
            } else if name.extension().is_some_and(|e| e == "md") {
                files.push(name.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

/// The lines of `markdown` outside fenced code blocks.
fn prose_lines(markdown: &str) -> Vec<&str> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            lines.push(line);
        }
    }
    lines
}

/// The targets of the inline links `[text](target)` in `markdown`, outside code blocks and code
/// spans. A link's text may wrap onto the next line, so the prose is read as one string.
fn link_targets(markdown: &str) -> Vec<String> {
    let prose = prose_lines(markdown).join("\n");
    let mut targets = Vec::new();
    let mut in_code = false;
    let mut rest = prose.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code
            && let Some(after) = rest.strip_prefix("](")
            && let Some(end) = after.find(')')
        {
            targets.push(after[..end].to_owned());
        }
        rest = &rest[c.len_utf8()..];
    }
    targets
}

/// The anchors GitHub gives the headings of `markdown`.
fn anchors(markdown: &str) -> BTreeSet<String> {
    prose_lines(markdown)
        .into_iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// `target` resolved against the directory of `from`, with `.` and `..` removed.
fn resolve(from: &str, target: &str) -> PathBuf {
    let mut path = Path::new(from)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for part in Path::new(target).components() {
        match part {
            std::path::Component::ParentDir => {
                path.pop();
            }
            std::path::Component::CurDir => {}
            other => path.push(other),
        }
    }
    path
}

#[test]
fn every_relative_markdown_link_resolves() {
    let files = markdown_files();
    assert!(
        files.len() >= 10,
        "expected the README and the docs pages: {files:?}"
    );
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        for target in link_targets(&read(file)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let rel = if path.is_empty() {
                PathBuf::from(file)
            } else {
                resolve(file, path)
            };
            if !root().join(&rel).exists() {
                broken.push(format!(
                    "{file}: `{target}`: {} does not exist",
                    rel.display()
                ));
                continue;
            }
            if let Some(fragment) = fragment
                && rel.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&rel.to_string_lossy())).contains(fragment)
            {
                broken.push(format!(
                    "{file}: `{target}`: {} has no heading `#{fragment}`",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        checked >= 40,
        "expected many relative links, found {checked}"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_reader_finds_links_and_anchors_as_github_does() {
    let md = "# Title\n\nSee [a](a.md) and [b\nwrapped](../b.md#x-y), not `[c](c.md)`.\n\
              ```sh\n[d](d.md)\n```\n## `http_checks` and more (here)\n";
    assert_eq!(link_targets(md), vec!["a.md", "../b.md#x-y"]);
    let a = anchors(md);
    assert!(a.contains("title"), "{a:?}");
    assert!(a.contains("http_checks-and-more-here"), "{a:?}");
    assert_eq!(
        resolve("docs/checks.md", "../README.md"),
        PathBuf::from("README.md")
    );
    assert_eq!(
        resolve("docs/checks.md", "ci/README.md"),
        PathBuf::from("docs/ci/README.md")
    );
}
