//! What a check observed, by value name ([`Facts`]: `status`, `header.content-type`, `body`,
//! `redis.info.redis_version`…), for the conditions of its `expect:` list, and how each
//! condition went ([`ConditionResult`], a result's JSON `conditions`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One observed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A number, a text, a list (a JSON value).
    Value(serde_json::Value),
    /// A time span (`latency`, `latency.<phase>`): compared in milliseconds.
    Duration(Duration),
}

/// The values one attempt of a check observed, by name. Empty when the check observed nothing
/// (it could not connect, say): its conditions are then not judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts(Vec<(String, Fact)>);

impl Facts {
    /// No facts.
    pub fn new() -> Self {
        Facts(Vec::new())
    }

    /// Set `name` (replacing an earlier value of that name).
    pub fn set(&mut self, name: impl Into<String>, fact: Fact) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, f)) => *f = fact,
            None => self.0.push((name, fact)),
        }
    }

    /// Set `name` to a JSON value.
    pub fn value(&mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) {
        self.set(name, Fact::Value(value.into()));
    }

    /// Set `name` to a time span.
    pub fn duration(&mut self, name: impl Into<String>, d: Duration) {
        self.set(name, Fact::Duration(d));
    }

    /// The value called `name`.
    pub fn get(&self, name: &str) -> Option<&Fact> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How one condition of a check's `expect:` went: the condition as written, whether it held,
/// and the value seen (`null` when the value was not observed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionResult {
    /// The condition as written (`body.$.status == "UP"`).
    pub assert: String,
    /// Whether it held.
    pub ok: bool,
    /// The value seen: a number, a text, a list; milliseconds for a latency; `null` when the
    /// check did not observe it.
    pub actual: Actual,
}

/// A condition's value seen: a JSON value, or a long text to be cut once its secrets are
/// masked (written as a string; read back as a value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Actual {
    /// The value as seen.
    Value(serde_json::Value),
    /// A text with a deferred cut.
    Text(#[serde(with = "super::text::serde_text")] super::Text),
}

impl From<serde_json::Value> for Actual {
    fn from(v: serde_json::Value) -> Self {
        Actual::Value(v)
    }
}

impl From<super::Text> for Actual {
    fn from(t: super::Text) -> Self {
        match t.into_plain() {
            Ok(s) => Actual::Value(serde_json::Value::String(s)),
            Err(t) => Actual::Text(t),
        }
    }
}

impl PartialEq<serde_json::Value> for Actual {
    fn eq(&self, other: &serde_json::Value) -> bool {
        matches!(self, Actual::Value(v) if v == other)
    }
}
