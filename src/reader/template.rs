//! `{{target}}` and `{{target.KEY}}` references (spaces inside the braces allowed), replaced
//! when a check with `targets:` is expanded (`config/targets.rs`). Anything else between
//! `{{ }}` is left as written.

/// One reference found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef<'a> {
    /// Byte range of the whole `{{ … }}` in the text.
    pub start: usize,
    /// End of the range (exclusive).
    pub end: usize,
    /// `Some(KEY)` for `{{target.KEY}}`, `None` for `{{target}}`.
    pub key: Option<&'a str>,
}

/// Every `{{target}}` / `{{target.KEY}}` in `text`, in order.
pub fn target_refs(text: &str) -> Vec<TargetRef<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text.get(from..).and_then(|t| t.find("{{")) {
        let start = from + rel;
        let inner_start = start + 2;
        let Some(close) = text.get(inner_start..).and_then(|t| t.find("}}")) else {
            break;
        };
        let end = inner_start + close + 2;
        let inner = text
            .get(inner_start..inner_start + close)
            .unwrap_or("")
            .trim();
        let key = match inner.strip_prefix("target") {
            Some("") => Some(None),
            Some(rest) => rest
                .strip_prefix('.')
                .filter(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
                .map(Some),
            None => None,
        };
        match key {
            Some(key) => {
                out.push(TargetRef { start, end, key });
                from = end;
            }
            None => from = start + 2,
        }
    }
    out
}

/// Whether `text` holds a `{{target…}}` reference.
pub fn has_target_ref(text: &str) -> bool {
    text.contains("{{") && !target_refs(text).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_and_keyed_references_and_leaves_the_rest() {
        let refs = target_refs("https://{{target}}/{{ target.port }}/{{targets}}/{{.x}}");
        let keys: Vec<Option<&str>> = refs.iter().map(|r| r.key).collect();
        assert_eq!(keys, [None, Some("port")]);
        assert_eq!(refs[0].start, 8);
        assert_eq!(refs[0].end, 18);
        assert!(!has_target_ref("{{ .State.Status }} {{target.}}"));
        assert!(has_target_ref("x {{target}}"));
    }
}
