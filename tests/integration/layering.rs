//! The layers of `docs/architecture.md` hold. [`LAYERS`] is the one ordered list: a module of
//! `src/` may name only the layers listed before its own, and itself. There are no per-layer
//! exceptions, so two layers can never import each other, and every `.rs` file under `src/`
//! belongs to exactly one layer (its top module; `lib.rs` and `main.rs` are layers of their
//! own): a file no line claims fails here, as does a line that claims no file.
//!
//! What counts as naming a layer: every path that resolves to `crate::<layer>` — `use` trees
//! with nested groups (`use crate::{a::{b, c}, d}`), `pub use` and `pub(crate) use`, paths in
//! expressions, types and macros (`crate::`, `$crate::`, `infracheck::` in the binary),
//! `super::` chains resolved against the file's module path (and inline `mod` blocks), aliases
//! of the crate root (`use crate as x`, `use crate::{self as x}`, `extern crate self as x`),
//! and path strings in attributes (`#[serde(with = "super::ms")]`). Comments, doc comments and
//! other string literals are not code and are skipped.
//!
//! Unit tests are not judged: an item under `#[cfg(test)]` (the `mod tests { … }` block) and a
//! file declared by `#[cfg(test)] mod name;` (`tests.rs`, `report/fixture.rs`, `testing.rs`)
//! with its children. Test code may reach any layer to build its fixtures; it is not part of
//! the build. A test-only file still belongs to a layer, like every file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first: one line each, the name of a top-level module of the library
/// (`src/<name>.rs` and everything under `src/<name>/`), then the two crate roots. A layer
/// imports only the layers above it in this list. `docs/architecture.md` lists the same
/// layers in the same order (`the_architecture_page_lists_the_layers_in_this_order`).
const LAYERS: &[&str] = &[
    "text",
    "model",
    "report",
    "reader",
    "redact",
    "event",
    "checks",
    "comment",
    "waiver",
    "config",
    "engine",
    "baseline",
    "history",
    "shard",
    "select",
    "merge",
    "policy",
    "gate",
    "driver",
    "serve",
    "init",
    "exit_code",
    "cli",
    "app",
    "testing",
    "lib",
    "main",
];

/// One source file: its path under `src/` with `/` separators, and its text.
struct Source {
    rel: String,
    text: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn the_sources() -> Vec<Source> {
    let mut files = Vec::new();
    crate::support::rust_files(&src(), &mut files);
    files
        .iter()
        .map(|p| Source {
            rel: p
                .strip_prefix(src())
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/"),
            text: std::fs::read_to_string(p).expect("read source"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tokens: enough of Rust's lexer to tell code from comments and literals.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
    /// A string literal's contents (attributes hold paths in strings).
    Str(String),
    /// Numbers, characters, lifetimes: nothing this reader looks into.
    Other,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(text: &str) -> Vec<Tok> {
    let s: Vec<char> = text.chars().collect();
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = at(i);
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < s.len() && at(i) != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0usize;
            while i < s.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some((len, hashes)) = raw_string_start(&s, i) {
            // r"…", r#"…"#, br"…", cr#"…"#: ends at a quote followed by as many hashes.
            i += len;
            let start = i;
            loop {
                if i >= s.len() {
                    break;
                }
                if at(i) == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    break;
                }
                i += 1;
            }
            out.push(Tok::Str(
                s.get(start..i.min(s.len()))
                    .unwrap_or_default()
                    .iter()
                    .collect(),
            ));
            i += 1 + hashes;
        } else if c == '"' || ((c == 'b' || c == 'c') && at(i + 1) == '"') {
            i += if c == '"' { 1 } else { 2 };
            let mut value = String::new();
            while i < s.len() && at(i) != '"' {
                if at(i) == '\\' {
                    i += 1;
                }
                value.push(at(i));
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(value));
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            // A character literal ('a', '\n', b'x', '\u{1F600}') or a lifetime ('a, 'static).
            if c == 'b' {
                i += 1;
            }
            if at(i + 1) == '\\' {
                // Past the quote, the backslash and the escaped character (which may be a quote).
                i += 3;
                while i < s.len() && at(i) != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
                while is_ident_char(at(i)) {
                    i += 1;
                }
            }
            out.push(Tok::Other);
        } else if c == '$'
            && s.get(i + 1..i + 6)
                .is_some_and(|w| w.iter().copied().eq("crate".chars()))
            && !is_ident_char(at(i + 6))
        {
            // `$crate` in a macro is the crate root.
            out.push(Tok::Ident("crate".into()));
            i += 6;
        } else if is_ident_start(c) {
            if c == 'r' && at(i + 1) == '#' && is_ident_start(at(i + 2)) {
                i += 2;
            }
            let start = i;
            while is_ident_char(at(i)) {
                i += 1;
            }
            out.push(Tok::Ident(
                s.get(start..i).unwrap_or_default().iter().collect(),
            ));
        } else if c.is_ascii_digit() {
            while is_ident_char(at(i)) {
                i += 1;
            }
            out.push(Tok::Other);
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Tok::Sep);
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// The length of a raw string's opening (`r#"` is 3) and its number of hashes.
fn raw_string_start(s: &[char], i: usize) -> Option<(usize, usize)> {
    let at = |k: usize| s.get(k).copied().unwrap_or('\0');
    if i > 0 && is_ident_char(at(i - 1)) {
        return None;
    }
    let mut k = i;
    if at(k) == 'b' || at(k) == 'c' {
        k += 1;
    }
    if at(k) != 'r' {
        return None;
    }
    k += 1;
    let mut hashes = 0;
    while at(k) == '#' {
        hashes += 1;
        k += 1;
    }
    (at(k) == '"').then_some((k + 1 - i, hashes))
}

// ---------------------------------------------------------------------------------------------
// Paths: what a file names, resolved to absolute module paths.

/// What one file names: the absolute paths it reaches (`["config", "Plan"]`), and the child
/// modules it declares under `#[cfg(test)]` (`tests` for `#[cfg(test)] mod tests;`).
#[derive(Debug, Default)]
struct Named {
    paths: Vec<Vec<String>>,
    test_children: Vec<Vec<String>>,
}

struct Reader<'a> {
    toks: &'a [Tok],
    pos: usize,
    /// The file's module path (`["checks", "http", "run"]`).
    base: Vec<String>,
    /// The inline `mod name {` blocks open at this point: `(name, brace depth at its {)`.
    mods: Vec<(String, usize)>,
    depth: usize,
    /// `use … as name` renames, resolved: `name → absolute path`.
    aliases: BTreeMap<String, Vec<String>>,
    named: Named,
}

impl Reader<'_> {
    fn peek(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }

    fn ident_at(&self, k: usize) -> Option<&str> {
        match self.peek(k) {
            Some(Tok::Ident(s)) => Some(s),
            _ => None,
        }
    }

    fn current(&self) -> Vec<String> {
        let mut m = self.base.clone();
        m.extend(self.mods.iter().map(|(n, _)| n.clone()));
        m
    }

    /// Where a path's first segment starts, if it is one this reader follows.
    fn root_of(&self, first: &str) -> Option<Vec<String>> {
        match first {
            "crate" | "infracheck" => Some(Vec::new()),
            "self" => Some(self.current()),
            "super" => {
                let mut m = self.current();
                m.pop();
                Some(m)
            }
            other => self.aliases.get(other).cloned(),
        }
    }

    /// Walk further segments from a resolved path (`super` climbs, `self` stays).
    fn extend(mut at: Vec<String>, segment: &str) -> Vec<String> {
        match segment {
            "super" => {
                at.pop();
            }
            "self" => {}
            other => at.push(other.to_owned()),
        }
        at
    }

    fn record(&mut self, path: Vec<String>) {
        if !path.is_empty() {
            self.named.paths.push(path);
        }
    }

    /// A `use` tree from `prefix` (already resolved; `None` when the tree starts relative to
    /// something this reader does not follow, such as `std`). Consumes the tree.
    fn use_tree(&mut self, prefix: Option<Vec<String>>) {
        match self.peek(0).cloned() {
            Some(Tok::Punct('{')) => {
                self.pos += 1;
                loop {
                    match self.peek(0) {
                        None => return,
                        Some(Tok::Punct('}')) => {
                            self.pos += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => self.pos += 1,
                        _ => {
                            let before = self.pos;
                            self.use_tree(prefix.clone());
                            if self.pos == before {
                                self.pos += 1;
                            }
                        }
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                self.pos += 1;
                if let Some(p) = prefix {
                    self.record(p);
                }
            }
            Some(Tok::Sep) => {
                // `use ::name` is an external crate.
                self.pos += 1;
                if let Some(name) = self.ident_at(0).map(str::to_owned) {
                    let p = (name == "infracheck").then(Vec::new);
                    self.pos += 1;
                    self.use_path_rest(p);
                }
            }
            Some(Tok::Ident(first)) => {
                self.pos += 1;
                let resolved = match prefix {
                    Some(p) => Some(Self::extend(p, &first)),
                    None => self.root_of(&first),
                };
                self.use_path_rest(resolved);
            }
            _ => {}
        }
    }

    /// After a segment of a `use` path: more segments, a group, a glob, or `as name`.
    fn use_path_rest(&mut self, mut at: Option<Vec<String>>) {
        loop {
            match (self.peek(0), self.peek(1).cloned()) {
                (Some(Tok::Sep), Some(Tok::Ident(seg))) => {
                    self.pos += 2;
                    at = at.map(|p| Self::extend(p, &seg));
                }
                (Some(Tok::Sep), _) => {
                    self.pos += 1;
                    self.use_tree(at);
                    return;
                }
                _ => break,
            }
        }
        if self.ident_at(0) == Some("as") {
            if let (Some(name), Some(p)) = (self.ident_at(1).map(str::to_owned), at.clone())
                && name != "_"
            {
                self.aliases.insert(name, p);
            }
            self.pos += 2;
        }
        if let Some(p) = at {
            self.record(p);
        }
    }

    /// A path in an expression, a type or a macro, from its first segment (at `pos`).
    fn expr_path(&mut self) {
        let Some(first) = self.ident_at(0).map(str::to_owned) else {
            return;
        };
        self.pos += 1;
        let Some(mut at) = self.root_of(&first) else {
            return;
        };
        while let (Some(Tok::Sep), Some(Tok::Ident(seg))) = (self.peek(0), self.peek(1).cloned()) {
            self.pos += 2;
            at = Self::extend(at, &seg);
        }
        if self.peek(0) == Some(&Tok::Sep) && self.peek(1) == Some(&Tok::Punct('{')) {
            // A group outside `use` only appears in macros; read it as a use tree.
            self.pos += 1;
            self.use_tree(Some(at));
            return;
        }
        self.record(at);
    }

    /// The tokens of an attribute after `#[` (or `#![`), up to its `]`. Returns whether it is
    /// `cfg(test)`, and records path strings it holds (`with = "super::ms"`).
    fn attribute(&mut self) -> bool {
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(t) = self.peek(0).cloned() {
            self.pos += 1;
            match t {
                Tok::Punct('[') => depth += 1,
                Tok::Punct(']') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Str(s) => {
                    let toks = lex(&s);
                    let is_path = matches!(toks.first(), Some(Tok::Ident(_)))
                        && toks.iter().all(|t| matches!(t, Tok::Ident(_) | Tok::Sep));
                    if is_path {
                        let mut inner = Reader {
                            toks: &toks,
                            pos: 0,
                            base: self.current(),
                            mods: Vec::new(),
                            depth: 0,
                            aliases: self.aliases.clone(),
                            named: Named::default(),
                        };
                        inner.expr_path();
                        self.named.paths.extend(inner.named.paths);
                    }
                }
                _ => {}
            }
        }
        let body = self
            .toks
            .get(start..self.pos.saturating_sub(1))
            .unwrap_or_default();
        body == [
            Tok::Ident("cfg".into()),
            Tok::Punct('('),
            Tok::Ident("test".into()),
            Tok::Punct(')'),
        ]
    }

    /// Skip the item after `#[cfg(test)]` (its other attributes, then up to its `;` or the
    /// end of its `{ … }` body); a `mod name;` there names a test-only file.
    fn skip_test_item(&mut self) {
        while self.peek(0) == Some(&Tok::Punct('#')) && self.peek(1) == Some(&Tok::Punct('[')) {
            self.pos += 2;
            self.attribute();
        }
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(t) = self.peek(0).cloned() {
            self.pos += 1;
            match t {
                Tok::Punct('{' | '(' | '[') => depth += 1,
                Tok::Punct('}' | ')' | ']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && t == Tok::Punct('}') {
                        break;
                    }
                }
                Tok::Punct(';') if depth == 0 => break,
                _ => {}
            }
        }
        let item = self.toks.get(start..self.pos).unwrap_or_default();
        let names: Vec<&str> = item
            .iter()
            .filter_map(|t| match t {
                Tok::Ident(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        if item.last() == Some(&Tok::Punct(';')) {
            let visibility_free: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !matches!(*n, "pub" | "crate" | "super" | "in" | "self"))
                .collect();
            if let ["mod", name] = visibility_free.as_slice() {
                let mut child = self.current();
                child.push((*name).to_owned());
                self.named.test_children.push(child);
            }
        }
    }

    fn read(&mut self) {
        while let Some(t) = self.peek(0).cloned() {
            match t {
                Tok::Punct('#') => {
                    let inner = self.peek(1) == Some(&Tok::Punct('!'));
                    let open = if inner { 2 } else { 1 };
                    if self.peek(open) == Some(&Tok::Punct('[')) {
                        self.pos += open + 1;
                        if self.attribute() && !inner {
                            self.skip_test_item();
                        }
                    } else {
                        self.pos += 1;
                    }
                }
                Tok::Punct('{') => {
                    self.depth += 1;
                    self.pos += 1;
                }
                Tok::Punct('}') => {
                    if self.mods.last().is_some_and(|(_, d)| *d == self.depth) {
                        self.mods.pop();
                    }
                    self.depth = self.depth.saturating_sub(1);
                    self.pos += 1;
                }
                Tok::Ident(ref w) if w == "mod" => {
                    // `mod name {` opens an inline module; `mod name;` is a file.
                    if let (Some(name), Some(Tok::Punct('{'))) =
                        (self.ident_at(1).map(str::to_owned), self.peek(2))
                    {
                        self.depth += 1;
                        self.mods.push((name, self.depth));
                        self.pos += 3;
                    } else {
                        self.pos += 1;
                    }
                }
                Tok::Ident(ref w) if w == "use" => {
                    self.pos += 1;
                    self.use_tree(None);
                }
                Tok::Ident(ref w)
                    if w == "extern"
                        && self.ident_at(1) == Some("crate")
                        && self.ident_at(2) == Some("self")
                        && self.ident_at(3) == Some("as") =>
                {
                    if let Some(name) = self.ident_at(4).map(str::to_owned) {
                        self.aliases.insert(name, Vec::new());
                    }
                    self.pos += 5;
                }
                Tok::Ident(ref w) => {
                    let after_sep = self.pos > 0 && self.toks.get(self.pos - 1) == Some(&Tok::Sep);
                    let followed = self.peek(1) == Some(&Tok::Sep);
                    if followed && !after_sep && self.root_of(w).is_some() {
                        self.expr_path();
                    } else {
                        self.pos += 1;
                    }
                }
                _ => self.pos += 1,
            }
        }
    }
}

/// The module path of a file under `src/`: `checks/http/run.rs` is `checks::http::run`,
/// `checks/mod.rs` is `checks`, `lib.rs` and `main.rs` are the crate root.
fn module_path(rel: &str) -> Vec<String> {
    if rel == "lib.rs" || rel == "main.rs" {
        return Vec::new();
    }
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Everything one file names, resolved. Aliases may be declared after their use, so the file
/// is read until the aliases stop changing (at most a few passes).
fn names_of(rel: &str, text: &str) -> Named {
    let toks = lex(text);
    let mut aliases = BTreeMap::new();
    for _ in 0..4 {
        let mut r = Reader {
            toks: &toks,
            pos: 0,
            base: module_path(rel),
            mods: Vec::new(),
            depth: 0,
            aliases: aliases.clone(),
            named: Named::default(),
        };
        r.read();
        if r.aliases == aliases {
            return r.named;
        }
        aliases = r.aliases;
    }
    panic!("{rel}: aliases did not settle");
}

/// The layer a file belongs to: its top module, or `lib`/`main` for the crate roots.
fn layer_of(rel: &str) -> &str {
    match rel {
        "lib.rs" => "lib",
        "main.rs" => "main",
        _ => rel
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs"),
    }
}

/// Every way `sources` break `layers`, one line each (empty when they hold).
fn check(layers: &[&str], sources: &[Source]) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for l in layers {
        if !seen.insert(*l) {
            wrong.push(format!("layer {l} is listed twice"));
        }
    }
    let rank = |name: &str| layers.iter().position(|l| *l == name);
    let named: Vec<(&Source, Named)> = sources
        .iter()
        .map(|s| (s, names_of(&s.rel, &s.text)))
        .collect();
    let tests: Vec<&Vec<String>> = named.iter().flat_map(|(_, n)| &n.test_children).collect();
    let is_test = |rel: &str| {
        let m = module_path(rel);
        !m.is_empty() && tests.iter().any(|t| m.starts_with(t))
    };
    let mut claimed = BTreeSet::new();
    for (source, names) in &named {
        let own = layer_of(&source.rel);
        let Some(own_rank) = rank(own) else {
            wrong.push(format!("src/{}: no layer claims this file", source.rel));
            continue;
        };
        claimed.insert(own);
        if is_test(&source.rel) {
            continue;
        }
        let mut reported = BTreeSet::new();
        for path in &names.paths {
            let Some(top) = path.first() else { continue };
            if top == own || !reported.insert(top.clone()) {
                continue;
            }
            match rank(top) {
                Some(r) if r < own_rank => {}
                Some(_) => wrong.push(format!(
                    "src/{} (layer {own}) names crate::{} (layer {top}, not below {own})",
                    source.rel,
                    path.join("::")
                )),
                None => wrong.push(format!(
                    "src/{} (layer {own}) names crate::{}, which no layer claims",
                    source.rel,
                    path.join("::")
                )),
            }
        }
    }
    for l in layers {
        if !claimed.contains(l) {
            wrong.push(format!("layer {l} claims no file under src/"));
        }
    }
    wrong
}

// ---------------------------------------------------------------------------------------------
// The library itself.

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let sources = the_sources();
    assert!(sources.len() > 50, "found the sources: {}", sources.len());
    let paths: usize = sources
        .iter()
        .map(|s| names_of(&s.rel, &s.text).paths.len())
        .sum();
    assert!(paths > 500, "the reader found the crate's paths: {paths}");
    let wrong = check(LAYERS, &sources);
    assert!(
        wrong.is_empty(),
        "the layers of tests/integration/layering.rs (and docs/architecture.md) do not hold:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_architecture_page_lists_the_layers_in_this_order() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .expect("read docs/architecture.md");
    let section = page
        .split("\n## Layers\n")
        .nth(1)
        .expect("a Layers section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let rows: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `src/"))
        .map(|l| {
            layer_of(
                l.split('`')
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/'),
            )
            .to_owned()
        })
        .collect();
    assert_eq!(
        rows, LAYERS,
        "the Layers table of docs/architecture.md, row by row"
    );
}

// ---------------------------------------------------------------------------------------------
// The reader, and a failing fixture for every way an import could slip past it.

fn sources(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(rel, text)| Source {
            rel: (*rel).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

fn tops(rel: &str, text: &str) -> Vec<String> {
    let named = names_of(rel, text);
    let set: BTreeSet<String> = named
        .paths
        .iter()
        .filter_map(|p| p.first().cloned())
        .collect();
    set.into_iter().collect()
}

const FIXTURE_LAYERS: &[&str] = &["text", "model", "checks", "gate", "lib"];

/// The fixture's base: every layer has a file, and each names only what is below it.
fn base_fixture() -> Vec<(&'static str, &'static str)> {
    vec![
        ("text.rs", "pub fn one_line() {}\n"),
        (
            "model/mod.rs",
            "use crate::text::one_line;\npub mod result;\n",
        ),
        ("model/result.rs", "use super::super::text;\n"),
        (
            "checks/mod.rs",
            "pub mod http;\nuse crate::model::{result::R, Status};\n",
        ),
        ("checks/http/mod.rs", "pub mod run;\n"),
        (
            "checks/http/run.rs",
            "use super::super::super::model;\nuse super::Spec;\n",
        ),
        ("gate.rs", "use crate::{checks, model::{self, result}};\n"),
        (
            "lib.rs",
            "pub mod checks;\npub mod gate;\npub mod model;\npub mod text;\n",
        ),
    ]
}

fn fixture_with(rel: &'static str, text: &'static str) -> Vec<String> {
    let mut files = base_fixture();
    files.retain(|(r, _)| *r != rel);
    files.push((rel, text));
    check(FIXTURE_LAYERS, &sources(&files))
}

#[test]
fn the_base_fixture_holds() {
    assert_eq!(
        check(FIXTURE_LAYERS, &sources(&base_fixture())),
        Vec::<String>::new()
    );
}

#[test]
fn an_upward_import_fails() {
    let wrong = fixture_with("model/result.rs", "use crate::checks::Run;\n");
    assert_eq!(
        wrong,
        [
            "src/model/result.rs (layer model) names crate::checks::Run (layer checks, not below model)"
        ]
    );
}

#[test]
fn a_mutual_pair_fails() {
    // gate names checks (fine: checks is below it) and checks names gate back: the order
    // allows one direction only, so the pair fails however the two are listed.
    let wrong = fixture_with("checks/mod.rs", "pub mod http;\nuse crate::gate::Gate;\n");
    assert_eq!(
        wrong,
        ["src/checks/mod.rs (layer checks) names crate::gate::Gate (layer gate, not below checks)"]
    );
    let swapped: Vec<&str> = vec!["text", "model", "gate", "checks", "lib"];
    let mut files = base_fixture();
    files.retain(|(r, _)| *r != "checks/mod.rs");
    files.push(("checks/mod.rs", "pub mod http;\nuse crate::gate::Gate;\n"));
    let wrong = check(&swapped, &sources(&files));
    assert_eq!(
        wrong,
        ["src/gate.rs (layer gate) names crate::checks (layer checks, not below gate)"]
    );
}

#[test]
fn a_nested_group_hiding_an_upward_import_fails() {
    let wrong = fixture_with(
        "model/mod.rs",
        "pub mod result;\nuse crate::{text::{one_line, escape::{a, b}}, model::X, checks::http::{run, Spec}};\n",
    );
    assert_eq!(
        wrong,
        [
            "src/model/mod.rs (layer model) names crate::checks::http::run (layer checks, not below model)"
        ]
    );
}

#[test]
fn a_super_super_path_up_a_layer_fails() {
    // From checks::http::run, super::super::super is the crate root: this is crate::gate.
    let wrong = fixture_with(
        "checks/http/run.rs",
        "use super::super::super::gate::Gate;\n",
    );
    assert_eq!(
        wrong,
        [
            "src/checks/http/run.rs (layer checks) names crate::gate::Gate (layer gate, not below checks)"
        ]
    );
    // The same in an expression, and from a top-level file `super::` is the root.
    let wrong = fixture_with("model/result.rs", "fn f() { super::super::gate::run(); }\n");
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    let wrong = fixture_with("text.rs", "pub fn one_line() { super::model::x() }\n");
    assert_eq!(wrong.len(), 1, "{wrong:?}");
}

#[test]
fn a_crate_alias_fails() {
    for text in [
        "use crate as root;\nfn f() { root::gate::run(); }\n",
        "use crate::{self as root, text};\nuse root::gate::Gate;\n",
        "extern crate self as me;\nfn f() -> me::gate::Gate { todo!() }\n",
        "use super::super as up;\nfn f() { up::gate::run(); }\n",
        "fn f() { root::gate::run(); }\nuse crate as root;\n",
    ] {
        let wrong = fixture_with("model/result.rs", text);
        assert_eq!(
            wrong.len(),
            1,
            "an alias of the crate root hides crate::gate in {text:?}: {wrong:?}"
        );
        assert!(wrong[0].contains("names crate::gate"), "{wrong:?}");
    }
}

#[test]
fn an_unclaimed_file_fails() {
    let mut files = base_fixture();
    files.push(("extra.rs", "pub fn x() {}\n"));
    files.push(("extra/inner.rs", "pub fn y() {}\n"));
    assert_eq!(
        check(FIXTURE_LAYERS, &sources(&files)),
        [
            "src/extra.rs: no layer claims this file",
            "src/extra/inner.rs: no layer claims this file"
        ]
    );
    // And a layer line that claims nothing is stale.
    let mut layers = FIXTURE_LAYERS.to_vec();
    layers.insert(2, "gone");
    assert_eq!(
        check(&layers, &sources(&base_fixture())),
        ["layer gone claims no file under src/"]
    );
}

#[test]
fn public_uses_macros_and_attribute_paths_count() {
    for text in [
        "pub use crate::gate::Gate;\n",
        "pub(crate) use crate::gate::Gate;\n",
        "pub(in crate::model) use crate::gate;\n",
        "macro_rules! m { () => { $crate::gate::run() }; }\n",
        "#[derive(serde::Serialize)]\nstruct S { #[serde(with = \"super::super::gate::ms\")] d: u64 }\n",
        "fn f() -> Vec<crate::gate::Gate> { Vec::new() }\n",
        "fn f() { let _ = <crate::gate::Gate as Default>::default(); }\n",
        "mod inner { use super::super::super::gate; }\n",
    ] {
        let wrong = fixture_with("model/result.rs", text);
        assert_eq!(wrong.len(), 1, "{text:?}: {wrong:?}");
    }
}

#[test]
fn comments_strings_and_unit_tests_are_not_imports() {
    let text = r##"
//! See [`crate::gate`].
/* use crate::gate; /* nested */ use crate::gate; */
const A: &str = "crate::gate::x";
const B: &str = r#"use crate::gate;"#;
const C: char = '"';
const D: [char; 3] = ['\'', '\\', '\u{22}'];
const E: &str = "\"use crate::gate;\"";
fn f<'a>(x: &'a str) -> &'a str { x }

#[cfg(test)]
mod tests {
    use crate::gate::Gate;
}

#[cfg(test)]
mod fixture;

#[cfg(test)]
use crate::gate::{a, b};
"##;
    assert_eq!(fixture_with("model/result.rs", text), Vec::<String>::new());
    // The file `#[cfg(test)] mod fixture;` declares is test code, and so are its children.
    let mut files = base_fixture();
    files.retain(|(r, _)| *r != "model/result.rs");
    files.push(("model/result.rs", text));
    files.push(("model/result/fixture.rs", "use crate::gate::Gate;\n"));
    files.push(("model/result/fixture/deeper.rs", "use crate::gate::Gate;\n"));
    assert_eq!(
        check(FIXTURE_LAYERS, &sources(&files)),
        Vec::<String>::new()
    );
    // A `mod tests` without `#[cfg(test)]` is judged like any code.
    let wrong = fixture_with("model/result.rs", "mod tests { use crate::gate::Gate; }\n");
    assert_eq!(wrong.len(), 1, "{wrong:?}");
}

#[test]
fn the_reader_resolves_every_form_of_path() {
    assert_eq!(
        tops(
            "gate.rs",
            "use crate::model::{A, B};\nuse crate::{reader, text::{one_line, x::{y, z}}, checks::{self}};\n\
             use super::engine::{self as e};\nlet x = crate::config::run();\nuse std::collections::{BTreeMap, crate_x};\n\
             use ::infracheck::cli;\n"
        ),
        [
            "checks", "cli", "config", "engine", "model", "reader", "text"
        ]
    );
    // `super` from a folder's mod.rs is the folder's parent; from a nested file, its folder.
    assert_eq!(
        tops("checks/http/mod.rs", "use super::common;\n"),
        ["checks"]
    );
    assert_eq!(
        tops("checks/http/mod.rs", "use super::super::model;\n"),
        ["model"]
    );
    assert_eq!(
        tops("checks/http/run.rs", "use super::super::common;\n"),
        ["checks"]
    );
    assert_eq!(
        tops("checks/http/run.rs", "use super::super::super::model;\n"),
        ["model"]
    );
    // Inside an inline module, `super` is the file's own module.
    assert_eq!(
        tops("model.rs", "mod ms { use super::super::text; }\n"),
        ["text"]
    );
    // `self::` stays in the module.
    assert_eq!(tops("model.rs", "use self::inner::X;\n"), ["model"]);
    // The binary names the library by its crate name.
    assert_eq!(
        tops("main.rs", "fn main() { infracheck::app::execute(); }\n"),
        ["app"]
    );
}
