//! The layers of `docs/architecture.md` hold: every `crate::` path a module of `src/` names
//! (outside its unit tests) belongs to a layer below it or to itself. A new upward import
//! fails here with the file and the path, before it can grow into an import circle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each layer may name besides itself: `(path prefix under src/, allowed top modules)`.
/// The first matching prefix decides; `text` is the shared bottom every layer may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("text.rs", &[]),
    ("model/", &["text"]),
    ("reader/", &["text"]),
    ("redact.rs", &["model", "text"]),
    ("event.rs", &["model", "redact", "text"]),
    ("checks/", &["model", "reader", "redact", "text"]),
    (
        "config/",
        &["checks", "model", "reader", "redact", "text", "waiver"],
    ),
    ("waiver.rs", &["model", "reader", "config", "text"]),
    (
        "engine/",
        &["checks", "config", "model", "redact", "text", "policy"],
    ),
    ("baseline.rs", &["model", "text"]),
    ("merge.rs", &["model", "config", "text"]),
    ("shard.rs", &["model", "config", "checks", "text"]),
    ("select.rs", &["model", "checks", "text"]),
    ("history.rs", &["model", "text"]),
    (
        "gate.rs",
        &[
            "model", "policy", "engine", "checks", "config", "event", "text",
        ],
    ),
    ("policy.rs", &["model", "baseline", "waiver", "text"]),
    ("policy/", &["model", "baseline", "waiver", "text"]),
    ("report/", &["model", "text"]),
    ("comment.rs", &["checks", "text"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its unit tests (a `tests.rs` file, or the inline
/// `#[cfg(test)] mod tests` block that ends every file that has one) and without comments.
fn code(path: &Path) -> String {
    if path
        .file_name()
        .is_some_and(|n| n == "tests.rs" || n == "fixture.rs")
    {
        return String::new();
    }
    let text = std::fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => text.get(..i).unwrap_or_default().to_owned(),
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code names through `crate::` (`crate::a::b`,
/// `crate::{a, b::c}`).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = rest.get(i + "crate::".len()..).unwrap_or_default();
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group.get(..end).unwrap_or_default().split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name.chars().next().is_some_and(char::is_lowercase) {
                out.insert(name);
            }
        }
    }
    out
}

/// The top-level module a file belongs to (`checks` for `src/checks/http/run.rs`).
fn own_module(rel: &str) -> &str {
    rel.split('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".rs")
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let mut checked = 0;
    let mut wrong = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(src())
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, allowed)) = LAYERS.iter().find(|(prefix, _)| rel.starts_with(prefix)) else {
            continue;
        };
        checked += 1;
        let own = own_module(&rel);
        for name in named_modules(&code(path)) {
            if name != own && !allowed.contains(&name.as_str()) {
                wrong.push(format!("src/{rel} names crate::{name}"));
            }
        }
    }
    assert!(checked > 40, "the layer table matched the files: {checked}");
    assert!(
        wrong.is_empty(),
        "imports that run up the layers (docs/architecture.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_sees_grouped_and_plain_paths() {
    let found = named_modules(
        "use crate::model::{A, B};\nuse crate::{reader, text::one_line};\nlet x = crate::checks::run();",
    );
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["checks", "model", "reader", "text"]);
}
