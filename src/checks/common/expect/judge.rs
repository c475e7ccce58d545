//! The judge of compiled conditions: pure, from a check's facts to each condition's result
//! and the problems of those that failed.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Condition, Expected, Op, Scalar, Severity, ValueRef};
use crate::checks::common::TextProblem;
use crate::model::{Actual, ConditionResult, Fact, Facts, Reason, Status, Text};

/// Characters of an observed value kept in a message and in the JSON `actual` (cut by the
/// redactor, after the secrets in the whole value are masked).
const ACTUAL_CHARS: usize = 200;

/// What a condition's value turned out to be.
enum Seen {
    /// The check did not observe it (no such header, no JSONPath match).
    Missing,
    /// The text a JSONPath is applied to is not JSON.
    NotJson,
    /// The value.
    Value(Value),
}

/// Judge `conditions` against `facts`: each condition's result and, for each that failed, a
/// problem with `reason` (FAIL, or WARN for `severity: warn`) naming the condition and the
/// value seen (`body.$.status == "UP", was "DOWN"`).
pub fn judge(
    conditions: &[Condition],
    facts: &Facts,
    reason: Reason,
) -> (Vec<ConditionResult>, Vec<TextProblem>) {
    let mut results = Vec::with_capacity(conditions.len());
    let mut problems = Vec::new();
    // A JSON text (the body, stdout) is parsed once however many conditions read it.
    let mut parsed: Vec<(&str, Option<Value>)> = Vec::new();
    for c in conditions {
        let seen = seen(&c.value, facts, &mut parsed);
        let ok = holds(c, &seen);
        let actual = match &seen {
            Seen::Value(v) => shown_value(v),
            Seen::Missing | Seen::NotJson => Actual::Value(Value::Null),
        };
        if !ok {
            let was = match &seen {
                Seen::Missing => "missing".into(),
                Seen::NotJson => format!("{} is not JSON", c.value.fact).into(),
                Seen::Value(v) => render(v),
            };
            let status = match c.severity {
                Severity::Fail => Status::Fail,
                Severity::Warn => Status::Warn,
            };
            problems.push((
                status,
                reason,
                crate::text!(format!("{}, was ", c.assert), was),
            ));
        }
        results.push(ConditionResult {
            assert: c.assert.clone(),
            ok,
            actual,
        });
    }
    (results, problems)
}

/// The value as the JSON `actual` holds it: a long text marked to be cut.
fn shown_value(v: &Value) -> Actual {
    match v {
        Value::String(s) if s.chars().count() > ACTUAL_CHARS => {
            Actual::Text(Text::cut(s, ACTUAL_CHARS, false))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
            Actual::Value(v.clone())
        }
        other => {
            let text = other.to_string();
            if text.chars().count() > ACTUAL_CHARS {
                Actual::Text(Text::cut(text, ACTUAL_CHARS, false))
            } else {
                Actual::Value(other.clone())
            }
        }
    }
}

/// A value in a message: JSON text (a string quoted, its control characters escaped); a long
/// one marked to be cut.
fn render(v: &Value) -> Text {
    let text = v.to_string();
    if text.chars().count() > ACTUAL_CHARS {
        Text::cut(text, ACTUAL_CHARS, false)
    } else {
        text.into()
    }
}

fn seen<'f>(
    value: &ValueRef,
    facts: &'f Facts,
    parsed: &mut Vec<(&'f str, Option<Value>)>,
) -> Seen {
    let Some(fact) = facts.get(&value.fact) else {
        return Seen::Missing;
    };
    let v = match (fact, &value.path) {
        (Fact::Duration(d), _) => Value::from(d.as_secs_f64() * 1000.0),
        (Fact::Value(v), None) => v.clone(),
        (Fact::Value(v), Some(path)) => {
            let text = match v {
                Value::String(s) => s.as_str(),
                _ => return Seen::NotJson,
            };
            let doc = match parsed.iter().find(|(t, _)| std::ptr::eq(*t, text)) {
                Some((_, doc)) => doc.clone(),
                None => {
                    let doc = serde_json::from_str::<Value>(text).ok();
                    parsed.push((text, doc.clone()));
                    doc
                }
            };
            let Some(doc) = doc else {
                return Seen::NotJson;
            };
            let nodes = path.query(&doc).all();
            match nodes.as_slice() {
                [] => return Seen::Missing,
                [one] => (*one).clone(),
                many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
            }
        }
    };
    if value.len {
        return Seen::Value(Value::from(length(&v)));
    }
    Seen::Value(v)
}

/// The length of a text (bytes), a list (items) or an object (keys); a number's or a
/// boolean's text length.
fn length(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::Null => 0,
        other => other.to_string().len(),
    }
}

fn holds(c: &Condition, seen: &Seen) -> bool {
    let v = match (seen, c.op) {
        (Seen::Missing | Seen::NotJson, Op::NotExists) => return true,
        (Seen::Missing | Seen::NotJson, _) => return false,
        (Seen::Value(_), Op::NotExists) => return false,
        (Seen::Value(_), Op::Exists) => return true,
        (Seen::Value(v), _) => v,
    };
    match (&c.expected, c.op) {
        (Expected::Scalar(s), Op::Eq) => equal(v, s),
        (Expected::Scalar(s), Op::Ne) => !equal(v, s),
        (Expected::Scalar(s), Op::Lt) => order(v, s) == Some(Ordering::Less),
        (Expected::Scalar(s), Op::Le) => {
            matches!(order(v, s), Some(Ordering::Less | Ordering::Equal))
        }
        (Expected::Scalar(s), Op::Gt) => order(v, s) == Some(Ordering::Greater),
        (Expected::Scalar(s), Op::Ge) => {
            matches!(order(v, s), Some(Ordering::Greater | Ordering::Equal))
        }
        (Expected::Scalar(s), Op::Contains) => contains(v, s),
        (Expected::Scalar(s), Op::NotContains) => !contains(v, s),
        (Expected::Regex(re), Op::Matches) => re.is_match(&text(v)),
        (Expected::Regex(re), Op::NotMatches) => !re.is_match(&text(v)),
        (Expected::List(items), Op::In) => items.iter().any(|s| equal(v, s)),
        // The parser pairs each operator with its kind of expected value.
        _ => false,
    }
}

/// A value's text: a string as it is, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value's number: a JSON number, or a text that is one.
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

/// Numbers compare as numbers, everything else by text.
fn equal(v: &Value, s: &Scalar) -> bool {
    if let (Some(want), Some(got)) = (s.number, as_number(v))
        && !is_version_text(v)
    {
        return got == want;
    }
    text(v) == s.text
}

/// A version-like text (`15.4`, `7.2.4`, `v1.2`) compares as a version; numbers as numbers.
fn order(v: &Value, s: &Scalar) -> Option<Ordering> {
    if let Value::String(got) = v
        && let (Some(a), Some(b)) = (version(got), version(&s.text))
    {
        return Some(compare_versions(&a, &b));
    }
    let (got, want) = (as_number(v)?, s.number?);
    got.partial_cmp(&want)
}

fn is_version_text(v: &Value) -> bool {
    matches!(v, Value::String(s) if version(s).is_some_and(|p| p.len() > 2))
}

/// The numeric parts of the version a text starts with (`7.2.4` → [7, 2, 4]; `15.4 (Debian
/// 15.4-1)` → [15, 4]; `10.11.6-MariaDB` → [10, 11, 6]): digits and dots, then the end or a
/// suffix after a space, `-`, `+`, `_`, `~` or `(`.
fn version(s: &str) -> Option<Vec<u64>> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (core, rest) = s.split_at(end);
    if core.is_empty() || !(rest.is_empty() || rest.starts_with([' ', '-', '+', '_', '~', '('])) {
        return None;
    }
    core.split('.').map(|p| p.parse::<u64>().ok()).collect()
}

fn compare_versions(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// A text contains the expected text, a list an equal item, an object the key.
fn contains(v: &Value, s: &Scalar) -> bool {
    match v {
        Value::String(t) => t.contains(s.text.as_str()),
        Value::Array(items) => items.iter().any(|i| equal(i, s)),
        Value::Object(map) => map.contains_key(&s.text),
        other => other.to_string().contains(s.text.as_str()),
    }
}
