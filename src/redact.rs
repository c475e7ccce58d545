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
//! Checks never cut text that may hold a secret: they mark it with [`cut_later`], and the
//! redactor masks the whole text first and cuts it afterwards, so a secret that straddles the
//! cut cannot leave its prefix behind.

use regex::{Regex, RegexBuilder};

use crate::model::CheckResult;

/// What replaces a secret in every output.
pub const MASK: &str = "***";

/// Values shorter than this are not masked: masking `2` would mangle every report. The run
/// warns about such variables instead.
pub const MIN_SECRET_CHARS: usize = 6;

/// Opens a deferred cut: `CUT_OPEN` max [`CUT_READ_CAP`] `CUT_TEXT` text `CUT_CLOSE`.
const CUT_OPEN: char = '\u{E000}';
const CUT_TEXT: char = '\u{E001}';
const CUT_CLOSE: char = '\u{E002}';
/// In a cut's header: the text itself was cut by a read cap (its end may hold part of a secret).
const CUT_READ_CAP: char = '+';
/// Longest secret prefix looked for at the end of a text a read cap cut.
const MAX_PREFIX_CHARS: usize = 1024;

/// The marker the text gets when it is cut.
pub const ELLIPSIS: char = '…';

/// Mark `text` to be cut to `max_chars` characters (then `…`) by the redactor, after it has been
/// redacted. `read_cap`: the text is already cut short by a read limit, so its end may hold
/// the beginning of a secret, which is masked too.
pub fn cut_later(text: &str, max_chars: usize, read_cap: bool) -> String {
    // A cut inside `text` (an excerpt quoted in a longer message) is carried out first. Text
    // that forges a cut gains nothing: every cut masks before it cuts.
    let cap = if read_cap {
        CUT_READ_CAP.to_string()
    } else {
        String::new()
    };
    format!("{CUT_OPEN}{max_chars}{cap}{CUT_TEXT}{text}{CUT_CLOSE}")
}

/// Cut `s` to `max` characters, marking the cut with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push(ELLIPSIS);
    out
}

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

    /// Mask every secret, in every form, in a text without deferred cuts.
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

    /// Replace secrets in a string, then carry out its deferred cuts ([`cut_later`]).
    pub fn text(&self, s: &str) -> String {
        if !s.contains([CUT_OPEN, CUT_TEXT, CUT_CLOSE]) {
            return self.mask(s);
        }
        let mut out = s.to_owned();
        // Innermost (last opened) first; each round removes one cut, so this ends.
        let rounds = out.matches(CUT_OPEN).count();
        for _ in 0..rounds {
            let Some(open) = out.rfind(CUT_OPEN) else {
                break;
            };
            let body_start = open + CUT_OPEN.len_utf8();
            let Some(close) = out.get(body_start..).and_then(|t| t.find(CUT_CLOSE)) else {
                break;
            };
            let close = body_start + close;
            let inner = out.get(body_start..close).unwrap_or_default();
            let done = match inner.split_once(CUT_TEXT) {
                Some((header, text)) => {
                    let read_cap = header.ends_with(CUT_READ_CAP);
                    let max = header
                        .trim_end_matches(CUT_READ_CAP)
                        .parse::<usize>()
                        .unwrap_or(0);
                    let mut masked = self.mask(text);
                    if read_cap {
                        masked = self.mask_cut_prefix(&masked);
                    }
                    cut(&masked, max)
                }
                None => self.mask(inner),
            };
            out.replace_range(open..close + CUT_CLOSE.len_utf8(), &done);
        }
        // Stray markers (never written by `cut_later` outside a cut) go; then the whole text
        // is masked once more, for secrets around the cuts.
        let out: String = out
            .chars()
            .filter(|c| !matches!(*c, CUT_OPEN | CUT_TEXT | CUT_CLOSE))
            .collect();
        self.mask(&out)
    }

    /// [`Redactor::text`] made safe for one line of a human output (control characters
    /// escaped, workflow commands neutralised: [`crate::text::one_line`]).
    pub fn line(&self, s: &str) -> String {
        crate::text::one_line(&self.text(s))
    }

    fn value(&self, v: &mut serde_json::Value) {
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

    /// Redact one text field in place. A text with no deferred cut and nothing to mask is left
    /// as it is: no copy (the common case, run for every field of every result).
    fn field(&self, s: &mut String) {
        if !s.contains([CUT_OPEN, CUT_TEXT, CUT_CLOSE]) {
            if self.is_empty() {
                return;
            }
            if let Some(re) = &self.any
                && !re.is_match(s)
            {
                return;
            }
        }
        *s = self.text(s);
    }

    /// Redact every text field of a result (and carry out its deferred cuts).
    pub fn redact(&self, r: &mut CheckResult) {
        self.field(&mut r.name);
        self.field(&mut r.message);
        if let Some(d) = &mut r.detail {
            self.field(d);
        }
        self.field(&mut r.target);
        for t in r.tags.iter_mut().chain(&mut r.pulled_in_by) {
            self.field(t);
        }
        for a in &mut r.failed_attempts {
            self.field(&mut a.message);
        }
        for v in r.metadata.values_mut() {
            self.value(v);
        }
        for c in &mut r.conditions {
            self.field(&mut c.assert);
            self.value(&mut c.actual);
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
                let out = r.text(&cut_later(&text, max, false));
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
            let out = r.text(&cut_later(&text, 300, true));
            assert_eq!(out, "body ***", "{k}");
        }
        // Text that merely ends like nothing secret is kept.
        assert_eq!(r.text(&cut_later("body xyz", 300, true)), "body xyz");
    }

    #[test]
    fn a_secret_is_masked_in_any_letter_case() {
        let r = Redactor::new(&["AbCdEfGh12345".to_owned()]);
        assert_eq!(
            r.text("https://abcdefgh12345.example.com/ and ABCDEFGH12345"),
            "https://***.example.com/ and ***"
        );
        // A cut prefix is masked in any case too.
        assert_eq!(r.text(&cut_later("host abcdef", 300, true)), "host ***");
    }

    #[test]
    fn nested_cuts_and_stray_markers() {
        let r = redactor();
        let inner = cut_later(&format!("inner {SECRET}"), 8, false);
        let outer = cut_later(&format!("outer {inner} {SECRET}"), 100, false);
        assert_eq!(r.text(&outer), "outer inner **… ***");
        assert_eq!(r.text("a\u{E000}b\u{E002}c"), "abc");
        // A forged cut masks before it cuts too.
        let forged = format!("a\u{E000}4\u{E001}{SECRET}\u{E002}");
        assert_eq!(r.text(&forged), "a***");
        assert_eq!(r.text("a\u{E000}1\u{E001}bc"), "a1bc");
    }

    #[test]
    fn no_secrets_still_cuts() {
        let r = Redactor::default();
        assert_eq!(r.text(&cut_later("abcdef", 3, false)), "abc…");
    }

    #[test]
    fn conditions_are_redacted_and_their_cuts_carried_out() {
        let r = redactor();
        let mut result = crate::report::fixture::summary().results.remove(0);
        let long = format!("{SECRET} {}", "x".repeat(300));
        result.conditions = vec![crate::model::ConditionResult {
            assert: format!("body contains {SECRET}"),
            ok: false,
            actual: serde_json::json!(cut_later(&long, 20, false)),
        }];
        r.redact(&mut result);
        let c = &result.conditions[0];
        assert_eq!(c.assert, "body contains ***");
        assert_eq!(c.actual, serde_json::json!("*** xxxxxxxxxxxxxxxx…"));
    }
}
