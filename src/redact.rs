//! Secrets are removed once, here, before any reporter sees a result.

use crate::result::CheckResult;

/// What replaces a secret in every output.
pub const MASK: &str = "***";

/// Replaces every known secret value in a result's text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values (empty ones are ignored; longest are replaced first).
    pub fn new(secrets: &[String]) -> Self {
        let mut secrets: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).cloned().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Replace secrets in a string.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    fn value(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.text(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| self.value(i)),
            _ => {}
        }
    }

    /// Redact every text field of a result.
    pub fn redact(&self, r: &mut CheckResult) {
        if self.secrets.is_empty() {
            return;
        }
        r.name = self.text(&r.name);
        r.message = self.text(&r.message);
        r.target = self.text(&r.target);
        for a in &mut r.failed_attempts {
            a.message = self.text(&a.message);
        }
        for v in r.metadata.values_mut() {
            self.value(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_secret_first() {
        let r = Redactor::new(&["abc".to_owned(), "abcdef".to_owned(), String::new()]);
        assert_eq!(r.text("x abcdef y abc"), "x *** y ***");
    }
}
