//! YAML 1.1 merge keys (`<<`), resolved in place over the whole tree.

use super::{Node, Problems, Value, join};

/// The YAML 1.1 merge key.
const MERGE_KEY: &str = "<<";

/// Resolve YAML 1.1 merge keys (`<<: *a`, `<<: [*a, *b]`) in place, everywhere in the tree:
/// the merged mappings' keys are added where the mapping does not set them itself, earlier
/// mappings of a list winning over later ones (<https://yaml.org/type/merge.html>). A merge
/// value that is not a mapping or a list of mappings is a problem at its position.
pub fn apply_merge_keys(node: &mut Node, path: &str, problems: &mut Problems) {
    merge_keys(node, &LazyPath::Root(path), problems);
}

/// A dotted path written out only when a problem needs it: the walk over every node of a
/// large config builds no string for the nodes that have none.
enum LazyPath<'p> {
    Root(&'p str),
    Key(&'p LazyPath<'p>, &'p str),
    Index(&'p LazyPath<'p>, usize),
}

impl LazyPath<'_> {
    fn render(&self) -> String {
        match self {
            LazyPath::Root(p) => (*p).to_owned(),
            LazyPath::Key(parent, key) => join(&parent.render(), key),
            LazyPath::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

fn merge_keys(node: &mut Node, path: &LazyPath<'_>, problems: &mut Problems) {
    match &mut node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                if matches!(item.value, Value::Seq(_) | Value::Map(_)) {
                    merge_keys(item, &LazyPath::Index(path, i), problems);
                }
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                if k.name != MERGE_KEY && matches!(v.value, Value::Seq(_) | Value::Map(_)) {
                    merge_keys(v, &LazyPath::Key(path, &k.name), problems);
                }
            }
            if !entries.iter().any(|(k, _)| k.name == MERGE_KEY) {
                return;
            }
            let (merges, mut own): (Vec<_>, Vec<_>) = std::mem::take(entries)
                .into_iter()
                .partition(|(k, _)| k.name == MERGE_KEY);
            let p = LazyPath::Key(path, MERGE_KEY);
            for (key, value) in merges {
                let sources: Vec<Node> = match value.value {
                    Value::Map(_) => vec![value],
                    Value::Seq(items) => items,
                    other => {
                        problems.at_key(
                            &key,
                            &p.render(),
                            format!(
                                "a merge key `<<` takes a mapping or a list of mappings, found {}",
                                other.type_name()
                            ),
                        );
                        continue;
                    }
                };
                for mut source in sources {
                    // Merged mappings may hold merge keys of their own.
                    merge_keys(&mut source, &p, problems);
                    let Value::Map(add) = source.value else {
                        problems.at(
                            &source,
                            &p.render(),
                            format!(
                                "a merge key `<<` takes a mapping or a list of mappings, found {}",
                                source.value.type_name()
                            ),
                        );
                        continue;
                    };
                    for (k, v) in add {
                        if !own.iter().any(|(o, _)| o.name == k.name) {
                            own.push((k, v));
                        }
                    }
                }
            }
            *entries = own;
        }
        _ => {}
    }
}
