//! A YAML tree that remembers where every node came from, and a strict reader over mappings
//! that reports unknown keys, wrong types and bad values with their location instead of
//! stopping at the first one.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::error::{ConfigError, Problem};

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// The shapes a YAML value can take.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null` or `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in file order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and its position.
#[derive(Debug, Clone)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Value {
    /// A short noun for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parse a YAML document into a [`Node`] tree. An empty file is an empty mapping.
pub fn parse(file: &str, text: &str) -> Result<Node, ConfigError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| ConfigError::Syntax {
        file: file.to_owned(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    })?;
    let mut problems = Vec::new();
    let root = match docs.into_iter().next() {
        Some(doc) => convert(&doc, &mut problems, ""),
        None => Node {
            value: Value::Map(Vec::new()),
            line: 1,
            column: 1,
        },
    };
    if problems.is_empty() {
        Ok(root)
    } else {
        Err(ConfigError::Invalid {
            file: file.to_owned(),
            problems,
        })
    }
}

fn convert(node: &MarkedYaml<'_>, problems: &mut Vec<Problem>, path: &str) -> Node {
    let line = node.span.start.line();
    let column = node.span.start.col() + 1;
    let value = match &node.data {
        YamlData::Value(Scalar::Null) => Value::Null,
        YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        YamlData::Value(Scalar::Integer(i)) => Value::Int(*i),
        YamlData::Value(Scalar::FloatingPoint(f)) => Value::Float(f.into_inner()),
        YamlData::Value(Scalar::String(s)) => Value::Str(s.to_string()),
        YamlData::Representation(s, _, _) => Value::Str(s.to_string()),
        YamlData::Sequence(items) => Value::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| convert(n, problems, &format!("{path}[{i}]")))
                .collect(),
        ),
        YamlData::Mapping(map) => {
            let mut entries: Vec<(Key, Node)> = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key_line = k.span.start.line();
                let key_column = k.span.start.col() + 1;
                let name = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    _ => {
                        problems.push(Problem {
                            line: key_line,
                            column: key_column,
                            path: path.to_owned(),
                            message: "mapping keys must be plain strings".to_owned(),
                        });
                        continue;
                    }
                };
                let child_path = join(path, &name);
                let child = convert(v, problems, &child_path);
                entries.push((
                    Key {
                        name,
                        line: key_line,
                        column: key_column,
                    },
                    child,
                ));
            }
            Value::Map(entries)
        }
        YamlData::Tagged(_, inner) => return convert(inner, problems, path),
        YamlData::Alias(_) | YamlData::BadValue => {
            problems.push(Problem {
                line,
                column,
                path: path.to_owned(),
                message: "unsupported or invalid YAML value".to_owned(),
            });
            Value::Null
        }
    };
    Node {
        value,
        line,
        column,
    }
}

/// Join a key onto a dotted path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Collects problems while the configuration is validated.
#[derive(Debug, Default)]
pub struct Problems {
    /// Everything found so far.
    pub list: Vec<Problem>,
}

impl Problems {
    /// Record a problem at a node.
    pub fn at(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.list.push(Problem {
            line: node.line,
            column: node.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Record a problem at a key.
    pub fn at_key(&mut self, key: &Key, path: &str, message: impl Into<String>) {
        self.list.push(Problem {
            line: key.line,
            column: key.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }
}

/// Reads the keys of one mapping; whatever is not taken is reported as unknown by
/// [`MapReader::finish`].
pub struct MapReader<'a> {
    entries: &'a [(Key, Node)],
    taken: Vec<bool>,
    /// The mapping's own dotted path.
    pub path: String,
    /// The mapping node.
    pub node: &'a Node,
}

impl<'a> MapReader<'a> {
    /// Start reading `node`, which must be a mapping; otherwise a problem is recorded and
    /// `None` returned.
    pub fn new(node: &'a Node, path: &str, problems: &mut Problems) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                entries,
                taken: vec![false; entries.len()],
                path: path.to_owned(),
                node,
            }),
            other => {
                problems.at(
                    node,
                    path,
                    format!("expected a mapping, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// Take a key's value (and its path) if present.
    pub fn take(&mut self, key: &str) -> Option<(&'a Node, String)> {
        let entries = self.entries;
        for (i, (k, v)) in entries.iter().enumerate() {
            if k.name == key {
                if let Some(t) = self.taken.get_mut(i) {
                    *t = true;
                }
                return Some((v, join(&self.path, key)));
            }
        }
        None
    }

    /// Whether the mapping has `key` (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }

    /// Every key/value not taken yet, in file order, marking them taken.
    pub fn take_rest(&mut self) -> Vec<(&'a Key, &'a Node)> {
        let entries = self.entries;
        let mut out = Vec::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            if let Some(t) = self.taken.get_mut(i)
                && !*t
            {
                *t = true;
                out.push((k, v));
            }
        }
        out
    }

    /// Report every key that was not taken as unknown, suggesting the closest known key.
    pub fn finish(self, known: &[&str], problems: &mut Problems) {
        for ((k, _), taken) in self.entries.iter().zip(self.taken) {
            if !taken {
                let mut message = format!("unknown key `{}`", k.name);
                if let Some(best) = closest(&k.name, known) {
                    message.push_str(&format!(" (did you mean `{best}`?)"));
                }
                problems.at_key(k, &join(&self.path, &k.name), message);
            }
        }
    }
}

/// The known key closest to `name` by edit distance, if it is close enough to be a typo.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let root = parse("t.yaml", "a: 1\nb:\n  c: x\n").unwrap();
        let Value::Map(entries) = &root.value else {
            unreachable!()
        };
        let (k, v) = &entries[1];
        assert_eq!((k.name.as_str(), k.line, k.column), ("b", 2, 1));
        let Value::Map(inner) = &v.value else {
            unreachable!()
        };
        assert_eq!((inner[0].0.line, inner[0].0.column), (3, 3));
        assert_eq!((inner[0].1.line, inner[0].1.column), (3, 6));
    }

    #[test]
    fn suggests_typo_fix() {
        assert_eq!(
            closest("expected_staus", &["expected_status", "url"]),
            Some("expected_status")
        );
        assert_eq!(closest("zzz", &["expected_status"]), None);
    }

    #[test]
    fn syntax_error_has_location() {
        let err = parse("t.yaml", "a: [1, 2\n").unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:"), "{err}");
    }
}
