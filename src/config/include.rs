//! `include:` at the top level: more files (or globs) read into the one config tree, each
//! entry relative to the directory of the file that names it ([`Source::resolve`]). Every node
//! keeps its own file, so a problem in an included file is reported at that file's
//! `file:line:column`.
//!
//! Merging is one rule for every key: mappings merge key by key, lists append (the including
//! file's entries first, then each included file's in the order listed), `null` counts as
//! absent, and any other value set in two files is a problem naming both places. Environments,
//! shared `checks:`, `defaults`, `vars`, `secrets` and `waivers` thus combine across files; a
//! check name defined twice is caught later, like a repeat within one file.
//!
//! Bounds: includes nest at most [`MAX_DEPTH`] files deep, at most [`MAX_FILES`] files are
//! read, and a glob's directory walk visits at most [`MAX_WALK`] entries. A file included twice
//! (a cycle, or two includes naming it) is a problem at the second include, naming the first.

use std::path::{Path, PathBuf};

use globset::GlobBuilder;

use crate::reader::error::{ConfigError, Problem};
use crate::reader::source::Source;
use crate::reader::yaml::{self, Key, Node, Problems, Value};

/// How deep includes may nest (the main config is level 0).
pub const MAX_DEPTH: usize = 16;
/// How many files one config may read in all.
pub const MAX_FILES: usize = 256;
/// The largest included file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// How many directory entries one glob may visit.
pub const MAX_WALK: usize = 20_000;
/// The key.
const INCLUDE: &str = "include";

/// Where a file was first read: the main config, or an `include` entry.
#[derive(Clone)]
enum ReadFrom {
    Main,
    Entry(Source, usize, usize),
}

impl ReadFrom {
    fn describe(&self) -> String {
        match self {
            ReadFrom::Main => "it is the main config".to_owned(),
            ReadFrom::Entry(file, line, column) => {
                format!("already included at {file}:{line}:{column}")
            }
        }
    }
}

/// The files read so far, in the order read: their identity on disk and where each was read
/// from. The order is the config order of their checks.
struct Files {
    read: Vec<(PathBuf, Source, ReadFrom)>,
    /// The files whose includes are being read: the main config, then each nested include.
    chain: Vec<PathBuf>,
}

/// Read `root` (parsed from `file`, merge keys applied) with every file it includes, merged
/// into one tree. Returns the tree and the files in config order (the main config first).
/// Problems with the includes themselves (missing, cyclic, too deep, conflicting values) are
/// recorded in `problems`; a file that is not valid YAML is the error.
pub(super) fn resolve(
    file: &str,
    mut root: Node,
    problems: &mut Problems,
) -> Result<(Node, Vec<Source>), ConfigError> {
    let main = identity(Path::new(file));
    let mut files = Files {
        read: vec![(main.clone(), root.file.clone(), ReadFrom::Main)],
        chain: vec![main],
    };
    expand(&mut root, 0, &mut files, problems)?;
    let order = files.read.into_iter().map(|(_, s, _)| s).collect();
    Ok((root, order))
}

/// A file's identity on disk (its canonical path), or the path itself when it has none (a
/// config given as text).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Take `include:` out of `node` (a file's root) and merge every file it names into it.
fn expand(
    node: &mut Node,
    depth: usize,
    files: &mut Files,
    problems: &mut Problems,
) -> Result<(), ConfigError> {
    let Value::Map(entries) = &mut node.value else {
        return Ok(());
    };
    let Some(at) = entries.iter().position(|(k, _)| k.name == INCLUDE) else {
        return Ok(());
    };
    let (_, list) = entries.remove(at);
    let patterns: Vec<&Node> = match &list.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![&list],
    };
    for (i, pattern) in patterns.into_iter().enumerate() {
        let path = format!("{INCLUDE}[{i}]");
        let Value::Str(written) = &pattern.value else {
            problems.at(
                pattern,
                &path,
                format!(
                    "expected a file name or glob, found {}",
                    pattern.value.type_name()
                ),
            );
            continue;
        };
        if written.trim().is_empty() {
            problems.at(pattern, &path, "must not be empty");
            continue;
        }
        for found in named_files(&pattern.file, written, pattern, &path, problems) {
            include_one(node, &found, (pattern, &path), depth, files, problems)?;
        }
    }
    Ok(())
}

/// The files an `include` entry names: the one file, or a glob's matches in name order.
fn named_files(
    from: &Source,
    written: &str,
    at: &Node,
    path: &str,
    problems: &mut Problems,
) -> Vec<String> {
    let resolved = from.resolve(written);
    if !written.contains(['*', '?', '[', '{']) {
        return vec![resolved];
    }
    let glob = match GlobBuilder::new(&resolved).literal_separator(true).build() {
        Ok(g) => g.compile_matcher(),
        Err(e) => {
            problems.at(at, path, format!("invalid glob `{written}`: {e}"));
            return Vec::new();
        }
    };
    // Walk from the glob's literal leading directories only.
    let mut base = PathBuf::new();
    let mut levels = 0usize;
    for (i, part) in Path::new(&resolved).components().enumerate() {
        let text = part.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            levels = Path::new(&resolved).components().count() - i;
            break;
        }
        base.push(part);
    }
    let max_levels = if resolved.contains("**") { 32 } else { levels };
    let mut found = Vec::new();
    let mut visited = 0usize;
    // An empty base is the working directory; names stay relative, as the glob is written.
    let mut stack = vec![(base, 1usize)];
    while let Some((dir, level)) = stack.pop() {
        let listing = if dir.as_os_str().is_empty() {
            std::fs::read_dir(".")
        } else {
            std::fs::read_dir(&dir)
        };
        let Ok(read) = listing else {
            continue;
        };
        for entry in read.flatten() {
            visited += 1;
            if visited > MAX_WALK {
                problems.at(
                    at,
                    path,
                    format!("glob `{written}` visits more than {MAX_WALK} directory entries"),
                );
                return Vec::new();
            }
            let full = dir.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if level < max_levels {
                    stack.push((full, level + 1));
                }
            } else if full.is_file() && glob.is_match(&full) {
                found.push(full.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    if found.is_empty() {
        problems.at(at, path, format!("`{written}` matches no file"));
    }
    found
}

/// Read one included file and merge it (with its own includes) into `into`.
fn include_one(
    into: &mut Node,
    name: &str,
    (at, path): (&Node, &str),
    depth: usize,
    files: &mut Files,
    problems: &mut Problems,
) -> Result<(), ConfigError> {
    let id = identity(Path::new(name));
    if let Some((_, _, from)) = files.read.iter().find(|(p, _, _)| *p == id) {
        let what = if files.chain.contains(&id) {
            "include cycle"
        } else {
            "included twice"
        };
        problems.at(
            at,
            path,
            format!("{what}: `{name}` is read already ({})", from.describe()),
        );
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        problems.at(
            at,
            path,
            format!("includes nest deeper than {MAX_DEPTH} files"),
        );
        return Ok(());
    }
    if files.read.len() >= MAX_FILES {
        problems.at(
            at,
            path,
            format!("a config may read at most {MAX_FILES} files"),
        );
        return Ok(());
    }
    let text = match read_regular(name) {
        Ok(t) => t,
        Err(e) => {
            problems.at(at, path, format!("cannot read included file {name}: {e}"));
            return Ok(());
        }
    };
    let mut child = match yaml::parse(name, &text) {
        Ok(c) => c,
        Err(ConfigError::Invalid { problems: list, .. }) => {
            problems.list.extend(list);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    files.read.push((
        id.clone(),
        child.file.clone(),
        ReadFrom::Entry(at.file.clone(), at.line, at.column),
    ));
    if !matches!(child.value, Value::Map(_) | Value::Null) {
        problems.at(
            &child,
            "",
            format!(
                "an included file holds a mapping of config keys, found {}",
                child.value.type_name()
            ),
        );
        return Ok(());
    }
    yaml::apply_merge_keys(&mut child, "", problems);
    files.chain.push(id);
    let expanded = expand(&mut child, depth + 1, files, problems);
    files.chain.pop();
    expanded?;
    merge(into, child, "", problems);
    Ok(())
}

/// Merge `from` into `into`: mappings key by key, lists appended, `null` as absent; any other
/// value set on both sides is a problem naming both places. Extension keys (`x-…`) of an
/// included file only hold anchors for that file and are dropped.
fn merge(into: &mut Node, from: Node, path: &str, problems: &mut Problems) {
    match (&mut into.value, from.value) {
        (_, Value::Null) => {}
        (Value::Null, value) => {
            into.value = value;
            into.line = from.line;
            into.column = from.column;
            into.file = from.file;
        }
        (Value::Seq(items), Value::Seq(more)) => items.extend(more),
        (Value::Map(entries), Value::Map(more)) => {
            for (key, value) in more {
                if yaml::is_extension_key(&key.name) {
                    continue;
                }
                let key_path = yaml::join(path, &key.name);
                match entries.iter_mut().find(|(k, _)| k.name == key.name) {
                    Some((first, existing)) => {
                        if conflicts(existing, &value) {
                            conflict(problems, first, &key, &key_path);
                        } else {
                            merge(existing, value, &key_path, problems);
                        }
                    }
                    None => entries.push((key, value)),
                }
            }
        }
        (_, value) => {
            let shown = Node {
                value,
                line: from.line,
                column: from.column,
                file: from.file,
            };
            problems.at(
                &shown,
                path,
                format!(
                    "set both here and at {}:{}:{}",
                    into.file, into.line, into.column
                ),
            );
        }
    }
}

/// The text of a regular file of at most [`MAX_FILE_BYTES`]: a device, a FIFO or a huge
/// file named by an include is refused rather than read forever.
fn read_regular(name: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(name).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(text)
}

/// Whether two values of one key cannot be merged (not both lists, not both mappings, neither
/// null).
fn conflicts(a: &Node, b: &Node) -> bool {
    !matches!(
        (&a.value, &b.value),
        (Value::Null, _)
            | (_, Value::Null)
            | (Value::Seq(_), Value::Seq(_))
            | (Value::Map(_), Value::Map(_))
    )
}

fn conflict(problems: &mut Problems, first: &Key, again: &Key, path: &str) {
    problems.list.push(Problem {
        file: again.file.clone(),
        line: again.line,
        column: again.column,
        path: path.to_owned(),
        message: format!(
            "`{}` is set in two files: here and at {}:{}:{}",
            again.name, first.file, first.line, first.column
        ),
    });
}
