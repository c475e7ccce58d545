//! Parsing: the YAML text to a [`Node`] tree, built straight from the parser's events, with
//! anchors and aliases resolved and duplicate keys reported.

use saphyr::Scalar;

use super::bounds::{Budget, Meter, measure};
use super::{Key, Node, Value};
use crate::reader::error::{ConfigError, Problem};
use crate::reader::source::Source;

/// Deepest nesting of sequences and mappings a config may have (block and flow style alike,
/// aliases included). Real configs stay below 10; the limit keeps every walk over the tree
/// far from the stack's end.
pub const MAX_DEPTH: usize = 256;
/// The alias expansion budget is the larger of this many nodes and
/// [`EXPANSION_FACTOR`] times the document's own node count (a "billion laughs" file of a few
/// hundred bytes would otherwise expand to gigabytes).
pub const MIN_EXPANSION: usize = 1_000_000;
/// See [`MIN_EXPANSION`].
pub const EXPANSION_FACTOR: usize = 100;
/// Aliases are held to a budget in bytes of scalar text too: the larger of this many bytes
/// (32 MiB) and [`EXPANSION_BYTES_FACTOR`] times the file's size. Few nodes can hold much
/// text (one aliased 1 MB string repeated a thousand times would be a gigabyte).
pub const MIN_EXPANSION_BYTES: usize = 32 * 1024 * 1024;
/// See [`MIN_EXPANSION_BYTES`].
pub const EXPANSION_BYTES_FACTOR: usize = 10;

/// Parse a YAML document into a [`Node`] tree. An empty file is an empty mapping.
///
/// The tree is built straight from the parser's events (no intermediate YAML tree), which
/// keeps `validate` fast and small on configs with tens of thousands of checks. Anchors and
/// aliases are resolved; duplicate keys are reported.
///
/// A second document, nesting deeper than [`MAX_DEPTH`] and aliases that expand beyond the
/// budget (see [`MIN_EXPANSION`]) are refused, each with its position, so the tree is bounded
/// in depth and size. The usual document is measured while it is built, in one pass that holds
/// the aliases to the budget of the nodes seen so far; a document that crosses any limit is
/// read again by a first pass that builds nothing and finds the exact problem. Events are
/// pulled one by one (the parser's own `load` recurses once per nesting level).
pub fn parse(file: &str, text: &str) -> Result<Node, ConfigError> {
    // One pass that measures and builds at once, holding the aliases to the budget of the
    // nodes seen so far (never more than the whole document's). At the first sign of trouble
    // (a second document, nesting too deep, an alias over that budget) it stops and the two
    // passes below decide, with the exact problem and position.
    let mut meter = Meter::default();
    let mut builder = Builder::new(Source::new(file));
    let mut fits = true;
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (ev, span) = event.map_err(|e| syntax(file, &e))?;
        let so_far = Budget::of(meter.measured.own, span.end.index());
        if meter.on_event(file, &ev, span, Some(so_far)).is_err() {
            fits = false;
            break;
        }
        saphyr_parser::SpannedEventReceiver::on_event(&mut builder, ev, span);
    }
    if fits {
        return builder.finish(file);
    }
    let measured = measure(file, text, None)?;
    let budget = Budget::of(measured.own, text.len());
    if measured.total > budget.nodes || measured.bytes > budget.bytes {
        // Again, now that the budget is known, to find the alias that crosses it.
        measure(file, text, Some(budget))?;
    }
    let mut builder = Builder::new(Source::new(file));
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (ev, span) = event.map_err(|e| syntax(file, &e))?;
        saphyr_parser::SpannedEventReceiver::on_event(&mut builder, ev, span);
    }
    builder.finish(file)
}

pub(super) fn syntax(file: &str, e: &saphyr_parser::ScanError) -> ConfigError {
    // The scanner counts flow levels in a byte: the 256th `[` or `{` is refused there.
    if e.info() == "recursion limit exceeded" {
        return ConfigError::Invalid {
            file: file.to_owned(),
            problems: vec![Problem {
                file: Source::new(file),
                line: e.marker().line(),
                column: e.marker().col() + 1,
                path: String::new(),
                message: "nesting too deep: more than 255 levels of flow collections ([…] or {…})"
                    .to_owned(),
            }],
        };
    }
    ConfigError::Syntax {
        file: file.to_owned(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    }
}

/// A scalar's text is given back its unused capacity from this many bytes on. Less is no
/// memory returned: the allocator keeps a remainder smaller than its smallest block (32 bytes
/// with glibc's malloc) inside the block, and the call costs as much as the rest of building
/// the node.
const SHRINK_SLACK: usize = 32;

/// Whether a plain, untagged scalar is text without asking the core schema: it starts with an
/// ASCII letter that starts none of its other values (`null`, `true`, `false`, and the `inf`,
/// `infinity` and `nan` a float parse reads; every number starts with a digit, a sign or a
/// point). Most keys and many values are (`url`, `warn_latency`, a check's name).
fn surely_text(text: &str) -> bool {
    text.as_bytes().first().is_some_and(|b| {
        b.is_ascii_alphabetic() && !matches!(b.to_ascii_lowercase(), b'n' | b't' | b'f' | b'i')
    })
}

/// Mappings up to this many keys are checked for duplicates pairwise, larger ones by hashing.
const SMALL_MAP: usize = 16;

enum Frame {
    Seq {
        start: (usize, usize),
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: (usize, usize),
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Option<Key>>,
    },
}

/// Builds [`Node`]s from parser events.
struct Builder {
    /// The file every node is read from.
    source: Source,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    problems: Vec<Problem>,
}

impl Builder {
    fn new(source: Source) -> Self {
        Builder {
            source,
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            root: None,
            problems: Vec::new(),
        }
    }

    /// The tree (an empty file is an empty mapping), or every problem found while building.
    fn finish(self, file: &str) -> Result<Node, ConfigError> {
        let root = self.root.unwrap_or(Node {
            value: Value::Map(Vec::new()),
            line: 1,
            column: 1,
            file: self.source,
        });
        if self.problems.is_empty() {
            Ok(root)
        } else {
            Err(ConfigError::Invalid {
                file: file.to_owned(),
                problems: self.problems,
            })
        }
    }

    fn problem(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.source.clone(),
            line,
            column,
            path: String::new(),
            message: message.into(),
        });
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let mut bad_key = None;
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(Some(k)) => entries.push((k, node)),
                // The value of a key that was rejected: drop it.
                Some(None) => {}
                None => {
                    let (line, column) = (node.line, node.column);
                    // The key's text is moved out of its node, not copied.
                    let name = match node.value {
                        Value::Str(s) => Some(s),
                        Value::Int(i) => Some(i.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    };
                    let file = node.file;
                    *key = Some(name.map(|name| Key {
                        name,
                        line,
                        column,
                        file,
                    }));
                    if key.as_ref().is_some_and(Option::is_none) {
                        bad_key = Some((line, column));
                    }
                }
            },
        }
        if let Some((line, column)) = bad_key {
            self.problem(line, column, "mapping keys must be plain strings");
        }
    }

    fn check_duplicates(&mut self, entries: &[(Key, Node)]) {
        // Each repeated key names the line of the key's previous occurrence.
        let mut dups = Vec::new();
        if entries.len() <= SMALL_MAP {
            // A check's mapping has a handful of keys: comparing them pairwise costs less than
            // a hash map per mapping.
            for (j, (k, _)) in entries.iter().enumerate() {
                let earlier = entries.get(..j).unwrap_or_default();
                if let Some((prev, _)) = earlier.iter().rev().find(|(p, _)| p.name == k.name) {
                    dups.push((k.line, k.column, k.name.clone(), prev.line));
                }
            }
        } else {
            let mut seen: std::collections::HashMap<&str, usize> =
                std::collections::HashMap::with_capacity(entries.len());
            for (k, _) in entries {
                if let Some(first) = seen.insert(k.name.as_str(), k.line) {
                    dups.push((k.line, k.column, k.name.clone(), first));
                }
            }
        }
        for (line, column, name, first) in dups {
            self.problem(
                line,
                column,
                format!("duplicate key `{name}` (first at line {first})"),
            );
        }
    }
}

impl<'input> saphyr_parser::SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: saphyr_parser::Event<'input>, span: saphyr_parser::Span) {
        use saphyr_parser::Event;
        let line = span.start.line();
        let column = span.start.col() + 1;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let scalar = if style == saphyr_parser::ScalarStyle::Plain
                    && tag.is_none()
                    && surely_text(&text)
                {
                    Some(Scalar::String(text))
                } else {
                    Scalar::parse_from_cow_and_metadata(text, style, tag.as_ref())
                };
                let value = match scalar {
                    Some(Scalar::Null) => Value::Null,
                    Some(Scalar::Boolean(b)) => Value::Bool(b),
                    Some(Scalar::Integer(i)) => Value::Int(i),
                    Some(Scalar::FloatingPoint(f)) => Value::Float(f.into_inner()),
                    Some(Scalar::String(s)) => {
                        // The scanner grows its strings as it reads; the tree keeps the text
                        // at its length (keys move out of their node, so this is their one
                        // allocation).
                        let mut s = s.into_owned();
                        if s.capacity() - s.len() >= SHRINK_SLACK {
                            s.shrink_to_fit();
                        }
                        Value::Str(s)
                    }
                    None => {
                        self.problem(line, column, "invalid value for its YAML tag");
                        Value::Null
                    }
                };
                self.push(
                    Node {
                        value,
                        line,
                        column,
                        file: self.source.clone(),
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                start: (line, column),
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                start: (line, column),
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    self.push(
                        Node {
                            value: Value::Seq(items),
                            line: start.0,
                            column: start.1,
                            file: self.source.clone(),
                        },
                        anchor,
                    );
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    self.check_duplicates(&entries);
                    self.push(
                        Node {
                            value: Value::Map(entries),
                            line: start.0,
                            column: start.1,
                            file: self.source.clone(),
                        },
                        anchor,
                    );
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push(node, 0),
                None => {
                    self.problem(line, column, "alias to an unknown anchor");
                    self.push(
                        Node {
                            value: Value::Null,
                            line,
                            column,
                            file: self.source.clone(),
                        },
                        0,
                    );
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list of `own` scalars anchored `&a`, then `aliases` aliases to it, then `tail` more
    /// scalars: the aliases cross the budget of the nodes seen so far, not necessarily the
    /// whole document's.
    fn aliased(own: usize, aliases: usize, tail: usize) -> String {
        let mut doc = format!("a: &a [{}]\nb: [", vec!["x"; own].join(", "));
        doc.push_str(&vec!["*a"; aliases].join(", "));
        doc.push_str("]\nc: [");
        doc.push_str(&vec!["y"; tail].join(", "));
        doc.push_str("]\n");
        doc
    }

    #[test]
    fn the_one_pass_falls_back_to_the_exact_budget() {
        // 1,000 x 1,100 nodes pass the 1,000,000 floor early; the 13,000 scalars after them
        // raise the document's budget to 100 x its own nodes, which the aliases fit.
        let root = parse("t.yaml", &aliased(1_000, 1_100, 13_000)).unwrap();
        let Value::Map(entries) = &root.value else {
            unreachable!()
        };
        let Value::Seq(b) = &entries[1].1.value else {
            unreachable!()
        };
        assert_eq!(b.len(), 1_100);
        // Without the tail the same aliases are over budget, and the refusal names them.
        let err = parse("t.yaml", &aliased(1_000, 1_100, 0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aliases expand to more than 1000000 nodes"),
            "{err}"
        );
        // Refusals found in the one pass are reported exactly as by the measuring pass.
        let err = parse("t.yaml", "a: 1\n---\nb: 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a second YAML document starts here"), "{err}");
        assert!(err.contains(":2:"), "{err}");
    }

    #[test]
    fn text_read_without_the_core_schema_is_what_the_schema_reads() {
        let words = [
            "url",
            "warn_latency",
            "c0",
            "name",
            "true",
            "True",
            "false",
            "null",
            "Null",
            "inf",
            "Infinity",
            "nan",
            "NaN",
            "e5",
            "E5",
            "x1",
            "a.5",
            "y",
            "no",
            "off",
            "ok",
            "0x1f",
            "~",
            "1e3",
            "abc123",
        ];
        for w in words {
            let schema = Scalar::parse_from_cow(std::borrow::Cow::Borrowed(w));
            if surely_text(w) {
                assert!(matches!(schema, Scalar::String(_)), "{w}");
            }
        }
        assert!(surely_text("url") && !surely_text("name") && !surely_text("30s"));
    }

    #[test]
    fn tagged_and_quoted_scalars_are_read_by_the_schema_not_as_plain_text() {
        // A tag still decides: `!!bool yes` and `!!int abc` are errors at their line, not text.
        for (doc, line) in [("a: 1\nb: !!bool yes\n", 2), ("a: !!int abc\n", 1)] {
            let err = parse("t.yaml", doc).unwrap_err().to_string();
            assert!(
                err.contains("invalid value for its YAML tag")
                    && err.contains(&format!(":{line}:")),
                "{doc:?}: {err}"
            );
        }
        let root = parse("t.yaml", "a: \"true\"\nb: !!str true\nc: true\nd: yes\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("a map");
        };
        let values: Vec<&Value> = entries.iter().map(|(_, v)| &v.value).collect();
        assert!(
            matches!(values[0], Value::Str(s) if s == "true"),
            "{values:?}"
        );
        assert!(
            matches!(values[1], Value::Str(s) if s == "true"),
            "{values:?}"
        );
        assert!(matches!(values[2], Value::Bool(true)), "{values:?}");
        assert!(
            matches!(values[3], Value::Str(s) if s == "yes"),
            "{values:?}"
        );
    }

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

    /// Eight levels of ten aliases each: 10^8 nodes once expanded, from a few hundred bytes.
    fn billion_laughs() -> String {
        let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..=8 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        s
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let err = parse("t.yaml", &billion_laughs()).unwrap_err().to_string();
        // Level 5 (111,111 nodes per alias) crosses the 1,000,000 budget at its 8th alias.
        assert!(
            err.starts_with("t.yaml:6:45: aliases expand to more than 1000000 nodes"),
            "{err}"
        );
        // Aliases within the budget are still expanded.
        let root = parse("t.yaml", "a: &x [1, 2]\nb: [*x, *x]\n").unwrap();
        let Value::Map(entries) = &root.value else {
            unreachable!()
        };
        let Value::Seq(b) = &entries[1].1.value else {
            unreachable!()
        };
        assert!(matches!(&b[1].value, Value::Seq(x) if x.len() == 2));
    }

    #[test]
    fn alias_expansion_is_bounded_in_bytes() {
        // One 1 MB string and a thousand aliases to it: few nodes, a gigabyte of text. The
        // 31st alias (line 33) crosses the 32 MiB floor: the string and 31 copies (the file is
        // 1 MB: 10 x its size is less).
        let mut doc = format!("a0: &a0 \"{}\"\nlist:\n", "x".repeat(1 << 20));
        doc.push_str(&"  - *a0\n".repeat(1_000));
        let err = parse("t.yaml", &doc).unwrap_err().to_string();
        assert!(
            err.starts_with("t.yaml:33:5: aliases expand to more than 33554432 bytes of text"),
            "{err}"
        );
        // Thirty aliases fit.
        let mut doc = format!("a0: &a0 \"{}\"\nlist:\n", "x".repeat(1 << 20));
        doc.push_str(&"  - *a0\n".repeat(30));
        assert!(parse("t.yaml", &doc).is_ok());
    }

    #[test]
    fn nesting_depth_is_bounded_in_block_and_flow_style() {
        let block = "- ".repeat(20_000) + "x\n";
        let err = parse("t.yaml", &block).unwrap_err().to_string();
        assert_eq!(err, "t.yaml:1:513: nesting too deep: more than 256 levels");
        // 256 levels are fine.
        let ok = "- ".repeat(256) + "x\n";
        assert!(parse("t.yaml", &ok).is_ok());
        let flow = "[".repeat(20_000) + &"]".repeat(20_000);
        let err = parse("t.yaml", &flow).unwrap_err().to_string();
        assert!(
            err.starts_with("t.yaml:1:256: nesting too deep: more than 255 levels of flow"),
            "{err}"
        );
        // Flow inside block: the total counts.
        let mixed = "- ".repeat(200) + &"[".repeat(100) + &"]".repeat(100);
        let err = parse("t.yaml", &mixed).unwrap_err().to_string();
        assert_eq!(err, "t.yaml:1:457: nesting too deep: more than 256 levels");
        // Aliases cannot stack nesting past the limit either.
        let mut chain = format!("a0: &a0 {}{}\n", "[".repeat(200), "]".repeat(200));
        for i in 1..=60 {
            chain.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let err = parse("t.yaml", &chain).unwrap_err().to_string();
        assert!(
            err.contains("nesting too deep: more than 256 levels (through this alias)"),
            "{err}"
        );
    }

    #[test]
    fn a_second_document_is_refused_at_its_line() {
        let err = parse("t.yaml", "a: 1\n---\nb: 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.yaml:2:1: a second YAML document"),
            "{err}"
        );
        // An explicit start and end of the one document are fine.
        assert!(parse("t.yaml", "---\na: 1\n...\n").is_ok());
    }

    #[test]
    fn syntax_error_has_location() {
        let err = parse("t.yaml", "a: [1, 2\n").unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:"), "{err}");
    }

    /// The duplicate-key problems of a document, as `line:column: message`.
    fn duplicates(text: &str) -> Vec<String> {
        match parse("t.yaml", text) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => problems
                .iter()
                .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
                .collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn a_repeated_key_names_its_previous_occurrence_in_small_and_large_maps() {
        let small = "a: 1\nb: 2\na: 3\na: 4\n";
        assert_eq!(
            duplicates(small),
            [
                "3:1: duplicate key `a` (first at line 1)",
                "4:1: duplicate key `a` (first at line 3)"
            ]
        );
        // Past the pairwise limit the hashed path gives the same problems.
        let mut large: String = (0..SMALL_MAP + 4).map(|i| format!("k{i}: 1\n")).collect();
        large.push_str("a: 1\na: 2\na: 3\n");
        let first = SMALL_MAP + 5;
        assert_eq!(
            duplicates(&large),
            [
                format!("{}:1: duplicate key `a` (first at line {first})", first + 1),
                format!(
                    "{}:1: duplicate key `a` (first at line {})",
                    first + 2,
                    first + 1
                )
            ]
        );
    }
}
