//! `targets:` on a check: one check written once, expanded into one check per target before
//! it is read. A target is a string (`{{target}}`) or a mapping of strings
//! (`{{target.KEY}}`); the references are replaced in every string value of the check. A name
//! without a reference gets ` [TARGET]` appended. The copies keep the template's positions, so
//! a problem in an expanded value points at the template's line.

use crate::reader::template::{has_target_ref, target_refs};
use crate::reader::yaml::{self, Node, Problems, Value};

/// The key.
pub(super) const TARGETS: &str = "targets";

/// One target: a string, or a mapping of keys to strings (in file order).
enum Target {
    Text(String),
    Map(Vec<(String, String)>),
}

impl Target {
    /// How the target is named in a check name and in messages.
    fn label(&self) -> String {
        match self {
            Target::Text(s) => s.clone(),
            Target::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The value of `{{target}}` (`key` None) or `{{target.KEY}}`.
    fn value(&self, key: Option<&str>) -> Result<&str, String> {
        match (self, key) {
            (Target::Text(s), None) => Ok(s),
            (Target::Text(s), Some(k)) => Err(format!(
                "`{{{{target.{k}}}}}`: target `{s}` is a string, not a mapping (use `{{{{target}}}}`)"
            )),
            (Target::Map(pairs), Some(k)) => pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| {
                    let keys: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
                    format!(
                        "`{{{{target.{k}}}}}`: target `{}` has no key `{k}` (keys: {})",
                        self.label(),
                        keys.join(", ")
                    )
                }),
            (Target::Map(pairs), None) => {
                let keys: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
                Err(format!(
                    "`{{{{target}}}}`: target `{}` is a mapping; use `{{{{target.KEY}}}}` (keys: {})",
                    self.label(),
                    keys.join(", ")
                ))
            }
        }
    }
}

/// The checks a check node stands for: `None` when it has no `targets:` (it is read as it
/// is), else one copy per target without the `targets` key (possibly none, when the list is
/// invalid: its problems are recorded).
pub(super) fn expand(node: &Node, path: &str, problems: &mut Problems) -> Option<Vec<Node>> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let at = entries.iter().position(|(k, _)| k.name == TARGETS)?;
    let (_, list) = entries.get(at)?;
    let list_path = yaml::join(path, TARGETS);
    let targets = read_targets(list, &list_path, problems);
    let mut template = node.clone();
    if let Value::Map(entries) = &mut template.value {
        entries.remove(at);
    }
    let name_at = entries
        .iter()
        .filter(|(k, _)| k.name != TARGETS)
        .position(|(k, _)| k.name == "name");
    // A name with a reference is filled like any value; one without gets ` [TARGET]`.
    let templated = entries
        .iter()
        .any(|(k, v)| k.name == "name" && matches!(&v.value, Value::Str(s) if has_target_ref(s)));
    let mut out: Vec<Node> = Vec::with_capacity(targets.len());
    let mut names: Vec<(String, usize)> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let mut copy = template.clone();
        fill(&mut copy, target, path, problems);
        let Value::Map(fields) = &mut copy.value else {
            continue;
        };
        if let Some((_, name)) = name_at.and_then(|n| fields.get_mut(n)) {
            if !templated {
                suffix_name(name, target);
            }
            if let Value::Str(text) = &name.value {
                if let Some((_, first)) = names.iter().find(|(n, _)| n == text) {
                    problems.at(
                        name,
                        &yaml::join(path, "name"),
                        format!(
                            "targets {} and {} both give the name `{text}`",
                            first + 1,
                            i + 1
                        ),
                    );
                    continue;
                }
                names.push((text.clone(), i));
            }
        }
        out.push(copy);
    }
    Some(out)
}

/// The list of targets; each bad entry is a problem at its position and left out.
fn read_targets(list: &Node, path: &str, problems: &mut Problems) -> Vec<Target> {
    let Value::Seq(items) = &list.value else {
        problems.at(
            list,
            path,
            format!(
                "expected a list of targets (strings or mappings), found {}",
                list.value.type_name()
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        problems.at(list, path, "must list at least one target");
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        match &item.value {
            Value::Map(pairs) => {
                let mut map = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    match scalar_text(&v.value) {
                        Some(text) => map.push((k.name.clone(), text)),
                        None => problems.at(
                            v,
                            &yaml::join(&item_path, &k.name),
                            format!("expected a string, found {}", v.value.type_name()),
                        ),
                    }
                }
                if map.is_empty() {
                    problems.at(item, &item_path, "a target mapping needs at least one key");
                } else {
                    out.push(Target::Map(map));
                }
            }
            other => match scalar_text(other) {
                Some(text) if !text.trim().is_empty() => out.push(Target::Text(text)),
                Some(_) => problems.at(item, &item_path, "must not be empty"),
                None => problems.at(
                    item,
                    &item_path,
                    format!(
                        "expected a string or a mapping, found {}",
                        other.type_name()
                    ),
                ),
            },
        }
    }
    out
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

/// A name without a reference gets ` [TARGET]` appended.
fn suffix_name(name: &mut Node, target: &Target) {
    let text = match &name.value {
        Value::Str(s) => s.clone(),
        other => match scalar_text(other) {
            Some(t) => t,
            None => return,
        },
    };
    name.value = Value::Str(format!("{text} [{}]", target.label()));
}

/// Replace every reference in the string values under `node` (keys are left as written).
fn fill(node: &mut Node, target: &Target, path: &str, problems: &mut Problems) {
    match &mut node.value {
        Value::Str(text) => {
            let refs = target_refs(text);
            if refs.is_empty() {
                return;
            }
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            let mut errors = Vec::new();
            for r in &refs {
                out.push_str(text.get(last..r.start).unwrap_or(""));
                match target.value(r.key) {
                    Ok(v) => out.push_str(v),
                    Err(e) => errors.push(e),
                }
                last = r.end;
            }
            out.push_str(text.get(last..).unwrap_or(""));
            *text = out;
            for e in errors {
                problems.at(node, path, e);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                fill(item, target, &format!("{path}[{i}]"), problems);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                fill(v, target, &yaml::join(path, &k.name), problems);
            }
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
    }
}
