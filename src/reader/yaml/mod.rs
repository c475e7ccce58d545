//! A YAML tree that remembers where every node came from, and a strict reader over mappings
//! that reports unknown keys, wrong types and bad values with their location instead of
//! stopping at the first one: [`load`] builds the tree within bounds ([`bounds`]), [`merge`]
//! resolves `<<` merge keys, [`reader`] reads mappings key by key.

mod bounds;
mod load;
mod merge;
mod reader;

pub use load::{
    EXPANSION_BYTES_FACTOR, EXPANSION_FACTOR, MAX_DEPTH, MIN_EXPANSION, MIN_EXPANSION_BYTES, parse,
};
pub use merge::apply_merge_keys;
pub use reader::MapReader;
pub(crate) use reader::closest;

use super::error::Problem;
use super::source::Source;

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The file it was read from.
    pub file: Source,
}

impl Node {
    /// Where an entry starts for a reader: the line and column of a mapping's first key (the
    /// `-` of a list item sits before it), else of the node itself.
    pub fn first_key_position(&self) -> (usize, usize) {
        match &self.value {
            Value::Map(entries) => entries
                .first()
                .map_or((self.line, self.column), |(k, _)| (k.line, k.column)),
            _ => (self.line, self.column),
        }
    }
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
    /// The file it was read from.
    pub file: Source,
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

/// Join a key onto a dotted path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_owned();
    }
    // One exact allocation, without the formatting machinery: this runs for every key read.
    let mut joined = String::with_capacity(path.len() + 1 + key.len());
    joined.push_str(path);
    joined.push('.');
    joined.push_str(key);
    joined
}

/// What an unset `${VAR}` without a default is while a config is read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum UnsetEnv {
    /// A problem, like any other (`run`, `list`, `validate --require-env`).
    #[default]
    Problem,
    /// A note: the value is left unknown and the rest is still checked (`validate`, so a
    /// pull request can be linted without the deploy job's secrets).
    Note,
}

/// Collects problems while the configuration is validated.
#[derive(Debug, Default)]
pub struct Problems {
    /// Everything found so far.
    pub list: Vec<Problem>,
    /// Notes: what could not be checked but is no error (unset variables under
    /// [`UnsetEnv::Note`]).
    pub notes: Vec<Problem>,
    /// What an unset variable is.
    pub unset_env: UnsetEnv,
}

impl Problems {
    /// Record a problem at a node.
    pub fn at(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.list.push(Problem {
            file: node.file.clone(),
            line: node.line,
            column: node.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Record a note at a node.
    pub fn note(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.notes.push(Problem {
            file: node.file.clone(),
            line: node.line,
            column: node.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// How many problems and notes were recorded: unchanged means a read found nothing to say.
    pub fn count(&self) -> usize {
        self.list.len() + self.notes.len()
    }

    /// Record a problem at a key.
    pub fn at_key(&mut self, key: &Key, path: &str, message: impl Into<String>) {
        self.list.push(Problem {
            file: key.file.clone(),
            line: key.line,
            column: key.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }
}

/// Whether `name` is an extension key (`x-common:`), ignored wherever keys are checked.
pub fn is_extension_key(name: &str) -> bool {
    name.starts_with("x-")
}
