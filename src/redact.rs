//! Secrets are removed once, here, before any reporter sees a result; excerpts are cut here
//! too, after the redaction.
//!
//! A secret is masked in every form it may take in untrusted text: as configured, percent-encoded
//! (`%20` or `+` for a space, upper- or lower-case hex), JSON-escaped (`\"`, `\\`, `\n`,
//! `\u00XX`) and Rust/Debug-escaped (`\u{..}`), in any mix. The Basic credentials of a URL are
//! added as their own secret by the HTTP check. Letter case is ignored: a URL parser
//! lower-cases a host name (`https://${HOST_TOKEN}.example.com/` is printed
//! `abcdefgh12345.example.com`), and a secret must not leak through such a normalisation.
//!
//! Checks never cut text that may hold a secret: they mark the span in a [`Text`]
//! ([`Text::cut`]), and the redactor masks the whole span first and cuts it afterwards
//! ([`Redactor::fold`]), so a secret that straddles the cut cannot leave its prefix behind.

use regex::{Regex, RegexBuilder};

use crate::model::{Actual, CheckResult, Text, cut};

/// What replaces a secret in every output.
pub const MASK: &str = "***";

/// Values shorter than this are not masked: masking `2` would mangle every report. The run
/// warns about such variables instead.
pub const MIN_SECRET_CHARS: usize = 6;

/// Longest secret prefix looked for at the end of a text a read cap cut.
const MAX_PREFIX_CHARS: usize = 1024;

/// The marker the text gets when it is cut.
pub use crate::model::ELLIPSIS;

/// A regex fragment matching `c` in any of its encoded forms.
fn char_forms(c: char) -> String {
    let mut alts = vec![regex::escape(c.encode_utf8(&mut [0; 4]))];
    let mut buf = [0u8; 4];
    let percent: String = c
        .encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%(?i:{b:02x})"))
        .collect();
    alts.push(percent);
    let escaped: &[&str] = match c {
        ' ' => &[r"\+"],
        '"' => &[r#"\\""#],
        '\\' => &[r"\\\\"],
        '/' => &[r"\\/"],
        '\'' => &[r"\\'"],
        '\n' => &[r"\\n"],
        '\r' => &[r"\\r"],
        '\t' => &[r"\\t"],
        '\u{8}' => &[r"\\b"],
        '\u{c}' => &[r"\\f"],
        '\0' => &[r"\\0"],
        _ => &[],
    };
    alts.extend(escaped.iter().map(|s| (*s).to_owned()));
    let code = u32::from(c);
    if code < 0x1_0000 {
        // JSON `\u00e9`.
        alts.push(format!(r"\\u(?i:{code:04x})"));
    }
    // Rust `\u{e9}` (Debug and escape_default).
    alts.push(format!(r"\\u\{{0*(?i:{code:x})\}}"));
    format!("(?:{})", alts.join("|"))
}

/// The regex source matching one secret in any form.
fn forms(secret: &str) -> String {
    secret.chars().map(char_forms).collect()
}

fn build(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 26)
        .dfa_size_limit(1 << 24)
        .build()
        .ok()
}

/// One secret, for the read-cap check.
#[derive(Debug, Clone)]
struct Secret {
    chars: Vec<char>,
    /// The secret in any form, ending at the end of the text.
    at_end: Option<Regex>,
}

/// Replaces every known secret value in a result's text, and carries out deferred cuts.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first.
    secrets: Vec<Secret>,
    /// Every secret in every form (`None`: no secrets, or literal fallback below).
    any: Option<Regex>,
    /// The secrets as given, longest first, when `any` could not be built.
    literal: Vec<String>,
}

impl Redactor {
    /// A redactor for these values. Values shorter than [`MIN_SECRET_CHARS`] are ignored;
    /// longest are replaced first.
    pub fn new(secrets: &[String]) -> Self {
        let mut values: Vec<String> = secrets
            .iter()
            .filter(|s| s.chars().count() >= MIN_SECRET_CHARS)
            .cloned()
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        if values.is_empty() {
            return Redactor::default();
        }
        let any = build(
            &values
                .iter()
                .map(|v| format!("(?:{})", forms(v)))
                .collect::<Vec<_>>()
                .join("|"),
        );
        let secrets = values
            .iter()
            .map(|v| Secret {
                chars: v.chars().collect(),
                at_end: build(&format!(r"(?:{})\z", forms(v))),
            })
            .collect();
        let literal = if any.is_none() { values } else { Vec::new() };
        Redactor {
            secrets,
            any,
            literal,
        }
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Mask every secret, in every form, in a plain text.
    fn mask(&self, s: &str) -> String {
        if let Some(re) = &self.any {
            return re.replace_all(s, MASK).into_owned();
        }
        let mut out = s.to_owned();
        for secret in &self.literal {
            // As given, and in the cases a normalising parser prints it.
            for form in [secret.clone(), secret.to_lowercase(), secret.to_uppercase()] {
                if out.contains(form.as_str()) {
                    out = out.replace(form.as_str(), MASK);
                }
            }
        }
        out
    }

    /// Mask a secret whose beginning ends `s` (a text a read cap cut short).
    fn mask_cut_prefix(&self, s: &str) -> String {
        for secret in &self.secrets {
            let Some(re) = &secret.at_end else { continue };
            let longest = secret.chars.len().saturating_sub(1).min(MAX_PREFIX_CHARS);
            // An encoded character takes at most 12 bytes (`%XX` for each of 4 UTF-8 bytes).
            let mut from = s.len().saturating_sub(longest * 12 + 16);
            while !s.is_char_boundary(from) {
                from -= 1;
            }
            let tail = s.get(from..).unwrap_or_default();
            for k in (1..=longest).rev() {
                // The text, then the rest of the secret: if the secret now ends the text and
                // starts before the cut, the text ended with its first `k` characters.
                let rest: String = secret.chars.iter().skip(k).collect();
                let candidate = format!("{tail}{rest}");
                if let Some(m) = re.find(&candidate)
                    && m.start() < tail.len()
                {
                    let mut out = s.get(..from + m.start()).unwrap_or_default().to_owned();
                    out.push_str(MASK);
                    return out;
                }
            }
        }
        s.to_owned()
    }

    /// Replace secrets in a plain string. Generic so that a [`Text`] cannot reach it by
    /// deref (it would lose its cuts): a text goes through [`Redactor::fold`].
    pub fn text<S: AsRef<str> + ?Sized>(&self, s: &S) -> String {
        self.mask(s.as_ref())
    }

    /// Where every secret, in any form, occurs in `s`: byte ranges in order, not
    /// overlapping.
    fn secrets_in(&self, s: &str) -> Vec<(usize, usize)> {
        if let Some(re) = &self.any {
            return re.find_iter(s).map(|m| (m.start(), m.end())).collect();
        }
        let mut found: Vec<(usize, usize)> = Vec::new();
        for secret in &self.literal {
            for form in [secret.clone(), secret.to_lowercase(), secret.to_uppercase()] {
                found.extend(
                    s.match_indices(form.as_str())
                        .map(|(i, m)| (i, i + m.len())),
                );
            }
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// `t` with every secret of its whole text masked, before any cut: a secret that
    /// straddles the edge of a cut is masked whole. An edge that fell inside a secret moves
    /// to where its mask begins.
    fn mask_whole(&self, t: &Text) -> Text {
        let found = self.secrets_in(t);
        if found.is_empty() {
            return t.clone();
        }
        let mut flat = String::with_capacity(t.len());
        // Each secret's range, and where its mask begins in the masked text.
        let mut moved: Vec<(usize, usize, usize)> = Vec::with_capacity(found.len());
        let mut pos = 0;
        for (start, end) in found {
            flat.push_str(t.get(pos..start).unwrap_or_default());
            moved.push((start, end, flat.len()));
            flat.push_str(MASK);
            pos = end;
        }
        flat.push_str(t.get(pos..).unwrap_or_default());
        let at = |p: usize| {
            let mut shifted = p;
            for &(start, end, masked_at) in &moved {
                if p <= start {
                    break;
                }
                if p < end {
                    return masked_at;
                }
                shifted = masked_at + MASK.len() + (p - end);
            }
            shifted
        };
        t.remap(flat, &at)
    }

    /// Fold a [`Text`], the one way a text with deferred cuts becomes output: the secrets of
    /// the whole text are masked first; then each cut span, innermost first, is cut (a span a
    /// read cap cut short also loses a secret's beginning at its end); then the whole text is
    /// masked once more.
    pub fn fold(&self, t: &Text) -> String {
        if t.is_plain() {
            return self.mask(t);
        }
        let t = self.mask_whole(t);
        let out = t.fold(&mut |body, max, read_cap| {
            let mut masked = self.mask(&body);
            if read_cap {
                masked = self.mask_cut_prefix(&masked);
            }
            cut(&masked, max)
        });
        self.mask(&out)
    }

    /// [`Redactor::fold`] made safe for one line of a human output (control characters
    /// escaped, workflow commands neutralised: [`crate::text::one_line`]).
    pub fn line_of(&self, t: &Text) -> String {
        crate::text::one_line(&self.fold(t))
    }

    /// [`Redactor::text`] made safe for one line of a human output (control characters
    /// escaped, workflow commands neutralised: [`crate::text::one_line`]).
    pub fn line<S: AsRef<str> + ?Sized>(&self, s: &S) -> String {
        crate::text::one_line(&self.text(s))
    }

    fn value(&self, v: &mut serde_json::Value) {
        // Nothing to mask: every text, keys included, stays as it is (no copy of each key).
        if self.is_empty() {
            return;
        }
        match v {
            serde_json::Value::String(s) => self.field(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            serde_json::Value::Object(map) => {
                // Keys too: a check may key its facts by text it read.
                for (key, mut item) in std::mem::take(map) {
                    self.value(&mut item);
                    map.insert(self.text(&key), item);
                }
            }
            _ => {}
        }
    }

    /// Redact one plain text field in place. A text with nothing to mask is left as it is:
    /// no copy (the common case, run for every field of every result).
    fn field(&self, s: &mut String) {
        if self.is_empty() {
            return;
        }
        if let Some(re) = &self.any
            && !re.is_match(s)
        {
            return;
        }
        *s = self.mask(s);
    }

    /// Fold one text field in place: plain afterwards.
    fn text_field(&self, t: &mut Text) {
        match std::mem::take(t).into_plain() {
            Ok(mut s) => {
                self.field(&mut s);
                *t = Text::from(s);
            }
            Err(cut) => *t = Text::from(self.fold(&cut)),
        }
    }

    /// Redact every text field of a result and carry out its deferred cuts: the one place a
    /// result's texts are folded.
    pub fn redact(&self, r: &mut CheckResult) {
        self.field(&mut r.name);
        self.text_field(&mut r.message);
        if let Some(d) = &mut r.detail {
            self.text_field(d);
        }
        self.text_field(&mut r.target);
        for t in r.tags.iter_mut().chain(&mut r.pulled_in_by) {
            self.field(t);
        }
        for a in &mut r.failed_attempts {
            self.text_field(&mut a.message);
        }
        for v in r.metadata.values_mut() {
            self.value(v);
        }
        for (key, t) in r.metadata.take_texts() {
            r.metadata.insert(key, t.to_json(&|t| self.fold(t)));
        }
        for c in &mut r.conditions {
            self.field(&mut c.assert);
            match &mut c.actual {
                Actual::Value(v) => self.value(v),
                Actual::Text(t) => {
                    c.actual = Actual::Value(serde_json::Value::String(self.fold(t)))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "S3NT1NEL_LONG";

    fn redactor() -> Redactor {
        Redactor::new(&[SECRET.to_owned()])
    }

    #[test]
    fn longest_secret_first_and_short_values_ignored() {
        let r = Redactor::new(&[
            "abcdefg".to_owned(),
            "abcdefghij".to_owned(),
            "2".to_owned(),
            String::new(),
        ]);
        assert_eq!(r.text("x abcdefghij y abcdefg 2"), "x *** y *** 2");
        assert!(Redactor::new(&["short".to_owned()]).is_empty());
        assert_eq!(
            Redactor::new(&["2".to_owned()]).text("http://127.0.0.1"),
            "http://127.0.0.1"
        );
    }

    #[test]
    fn every_form_is_masked() {
        let secret = "p@ss w\"rd\\/é\n!";
        let r = Redactor::new(&[secret.to_owned()]);
        let json = serde_json::to_string(secret).unwrap();
        let json = json.trim_matches('"');
        let debug = format!("{secret:?}");
        let debug = debug.trim_matches('"');
        let ascii_json = r#"p@ss w\"rd\\\/\u00E9\n!"#;
        let percent_upper = "p%40ss%20w%22rd%5C%2F%C3%A9%0A%21";
        let percent_lower = percent_upper.to_lowercase();
        let form_plus = "p%40ss+w%22rd%5C%2F%C3%A9%0A%21";
        let escape_default: String = secret.escape_default().collect();
        for form in [
            secret,
            json,
            debug,
            ascii_json,
            percent_upper,
            &percent_lower,
            form_plus,
            &escape_default,
        ] {
            let out = r.text(&format!("<{form}>"));
            assert_eq!(out, "<***>", "{form}");
        }
    }

    #[test]
    fn a_secret_straddling_any_cut_leaves_no_prefix() {
        let r = redactor();
        for max in [1usize, 5, 20, 300] {
            for offset in 0..max + SECRET.len() + 2 {
                let text = format!("{}{SECRET} tail", "x".repeat(offset));
                let out = r.fold(&Text::cut(text, max, false));
                for k in 3..=SECRET.len() {
                    let prefix = SECRET.get(..k).unwrap();
                    assert!(!out.contains(prefix), "max {max} offset {offset}: {out}");
                }
                assert!(out.chars().count() <= max + 1, "{out}");
            }
        }
    }

    #[test]
    fn a_read_cap_that_cuts_a_secret_masks_its_beginning() {
        let r = redactor();
        for k in 1..SECRET.len() {
            let text = format!("body {}", SECRET.get(..k).unwrap());
            let out = r.fold(&Text::cut(text, 300, true));
            assert_eq!(out, "body ***", "{k}");
        }
        // Text that merely ends like nothing secret is kept.
        assert_eq!(r.fold(&Text::cut("body xyz", 300, true)), "body xyz");
    }

    #[test]
    fn a_secret_is_masked_in_any_letter_case() {
        let r = Redactor::new(&["AbCdEfGh12345".to_owned()]);
        assert_eq!(
            r.text("https://abcdefgh12345.example.com/ and ABCDEFGH12345"),
            "https://***.example.com/ and ***"
        );
        // A cut prefix is masked in any case too.
        assert_eq!(r.fold(&Text::cut("host abcdef", 300, true)), "host ***");
    }

    #[test]
    fn nested_cuts_and_plain_pieces() {
        let r = redactor();
        let inner = Text::cut(format!("inner {SECRET}"), 8, false);
        let outer = Text::cut(crate::text!("outer ", inner, " {SECRET}"), 100, false);
        assert_eq!(r.fold(&outer), "outer inner **… ***");
        // Plain pieces around a cut are masked too, and a plain text is only masked.
        let t = crate::text!(
            "{SECRET} before ",
            Text::cut("abcdef", 3, false),
            " after {SECRET}"
        );
        assert_eq!(r.fold(&t), "*** before abc… after ***");
        assert_eq!(r.fold(&Text::from(format!("a {SECRET}"))), "a ***");
        // Characters a cut was once spelt with are text like any other.
        assert_eq!(r.text("a\u{E000}b\u{E002}c"), "a\u{E000}b\u{E002}c");
    }

    #[test]
    fn a_secret_straddling_the_edge_of_a_cut_piece_is_never_partly_shown() {
        let r = redactor();
        // The secret begins in the plain piece and ends inside the cut span, or the reverse:
        // the whole text is masked after the cut, and the span is masked before it.
        let (head, tail) = SECRET.split_at(5);
        for max in [1usize, 3, 6, 20] {
            let t = crate::text!("x {head}", Text::cut(format!("{tail} rest"), max, false));
            let out = r.fold(&t);
            assert!(!out.contains(head), "max {max}: {out}");
            let t = crate::text!(Text::cut(format!("rest {head}"), max, false), "{tail} y");
            let out = r.fold(&t);
            for k in 3..=SECRET.len() {
                assert!(!out.contains(SECRET.get(..k).unwrap()), "max {max}: {out}");
            }
            assert!(!out.contains(tail), "max {max}: {out}");
        }
        // Inside one span, across its cut.
        let t = Text::cut(format!("ab {SECRET} cd"), 6, false);
        assert_eq!(r.fold(&t), "ab ***…");
    }

    #[test]
    fn a_read_cap_masks_a_secret_beginning_at_the_end_of_its_span_only() {
        let r = redactor();
        let begins = SECRET.get(..6).unwrap();
        let t = crate::text!(Text::cut(format!("got {begins}"), 300, true), " (read cap)");
        assert_eq!(r.fold(&t), "got *** (read cap)");
        // Without the flag the same text is kept: it is the whole text read.
        let t = Text::cut(format!("got {begins}"), 300, false);
        assert_eq!(r.fold(&t), format!("got {begins}"));
        assert_eq!(r.line_of(&Text::cut("a\nb", 9, false)), "a\\nb");
    }

    #[test]
    fn no_secrets_still_cuts() {
        let r = Redactor::default();
        assert_eq!(r.fold(&Text::cut("abcdef", 3, false)), "abc…");
    }

    #[test]
    fn conditions_are_redacted_and_their_cuts_carried_out() {
        let r = redactor();
        let mut result = crate::report::fixture::summary().results.remove(0);
        let long = format!("{SECRET} {}", "x".repeat(300));
        result.conditions = vec![crate::model::ConditionResult {
            assert: format!("body contains {SECRET}"),
            ok: false,
            actual: Text::cut(long, 20, false).into(),
        }]
        .into();
        r.redact(&mut result);
        let c = &result.conditions[0];
        assert_eq!(c.assert, "body contains ***");
        assert_eq!(c.actual, serde_json::json!("*** xxxxxxxxxxxxxxxx…"));
    }

    #[test]
    fn without_secrets_values_stay_and_cuts_are_carried_out() {
        let r = Redactor::default();
        let mut result = crate::report::fixture::summary().results.remove(0);
        let value = serde_json::json!({"a b": ["x", {"k": "v"}], "n": 1});
        result.metadata.insert("v".into(), value.clone());
        result.conditions = vec![crate::model::ConditionResult {
            assert: "body contains x".into(),
            ok: false,
            actual: Text::cut("x".repeat(30), 5, false).into(),
        }]
        .into();
        let before = result.clone();
        r.redact(&mut result);
        assert_eq!(result.metadata.get("v"), Some(&value));
        assert_eq!(result.conditions[0].actual, serde_json::json!("xxxxx…"));
        assert_eq!(result.name, before.name);
        assert_eq!(result.message, before.message);
    }
}
