//! [`Text`]: a report text that may hold deferred cuts.
//!
//! A check never cuts text that may hold a secret: a cut could leave a secret's beginning
//! behind, which no later masking recognises. It marks the span instead ([`Text::cut`]), and
//! the redactor folds the text once, before any output: it masks the secrets of each span
//! (innermost first) and cuts it, then masks the whole text once more
//! (`crate::redact::Redactor::fold`).
//!
//! A text reads as its characters with every cut left out (`Deref<Target = str>`): that is
//! what a folded text, with no cut left, reads as. It has no `Display`, so a check cannot
//! format a deferred cut away into a plain string by mistake: it builds messages with
//! [`text!`](crate::text!) or [`Text::push`].

/// The marker the text gets when it is cut.
pub const ELLIPSIS: char = '…';

/// A text, and the spans of it to be cut once its secrets are masked. As small as a
/// `String` (a plain text is one; the cuts of the others are boxed with their text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(Repr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// No cut deferred.
    Plain(String),
    /// At least one cut deferred.
    Cut(Box<WithCuts>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct WithCuts {
    /// The characters, with no cut carried out.
    flat: String,
    /// The deferred cuts, by start, an enclosing span before the spans inside it.
    cuts: Vec<Cut>,
}

impl Default for Text {
    fn default() -> Self {
        Text(Repr::Plain(String::new()))
    }
}

/// One deferred cut: bytes `start..end` of the text, cut to `max` characters (then `…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    start: usize,
    end: usize,
    max: usize,
    /// The span was itself cut short by a read cap: its end may hold a secret's beginning.
    read_cap: bool,
}

impl Text {
    /// An empty text.
    pub fn new() -> Self {
        Text::default()
    }

    fn from_parts(flat: String, cuts: Vec<Cut>) -> Text {
        if cuts.is_empty() {
            Text(Repr::Plain(flat))
        } else {
            Text(Repr::Cut(Box::new(WithCuts { flat, cuts })))
        }
    }

    fn into_parts(self) -> (String, Vec<Cut>) {
        match self.0 {
            Repr::Plain(flat) => (flat, Vec::new()),
            Repr::Cut(w) => (w.flat, w.cuts),
        }
    }

    fn flat(&self) -> &str {
        match &self.0 {
            Repr::Plain(flat) => flat,
            Repr::Cut(w) => &w.flat,
        }
    }

    fn cuts(&self) -> &[Cut] {
        match &self.0 {
            Repr::Plain(_) => &[],
            Repr::Cut(w) => &w.cuts,
        }
    }

    /// `text` to be cut to `max_chars` characters (then `…`) once its secrets are masked.
    /// `read_cap`: the text is already cut short by a read limit, so its end may hold the
    /// beginning of a secret, which is masked too. Cuts inside `text` are carried out first.
    pub fn cut(text: impl Into<Text>, max_chars: usize, read_cap: bool) -> Text {
        let (flat, mut cuts) = text.into().into_parts();
        cuts.insert(
            0,
            Cut {
                start: 0,
                end: flat.len(),
                max: max_chars,
                read_cap,
            },
        );
        Text::from_parts(flat, cuts)
    }

    /// Append a text (plain or with cuts).
    pub fn push(&mut self, other: impl Into<Text>) {
        let (other_flat, other_cuts) = other.into().into_parts();
        if other_cuts.is_empty() {
            self.push_str(&other_flat);
            return;
        }
        let (mut flat, mut cuts) = std::mem::take(self).into_parts();
        let offset = flat.len();
        flat.push_str(&other_flat);
        cuts.extend(other_cuts.into_iter().map(|c| Cut {
            start: c.start + offset,
            end: c.end + offset,
            ..c
        }));
        *self = Text::from_parts(flat, cuts);
    }

    /// Append plain text.
    pub fn push_str(&mut self, s: &str) {
        match &mut self.0 {
            Repr::Plain(flat) => flat.push_str(s),
            Repr::Cut(w) => w.flat.push_str(s),
        }
    }

    /// The texts one after another, `sep` between them.
    pub fn join(items: impl IntoIterator<Item = Text>, sep: &str) -> Text {
        let mut out = Text::new();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push(item);
        }
        out
    }

    /// Whether no cut is deferred: the text reads as it will be shown (secrets aside).
    pub fn is_plain(&self) -> bool {
        matches!(self.0, Repr::Plain(_))
    }

    /// The characters, with no cut carried out.
    pub fn as_str(&self) -> &str {
        self.flat()
    }

    /// The plain text, when no cut is deferred.
    pub fn into_plain(self) -> Result<String, Text> {
        match self.0 {
            Repr::Plain(flat) => Ok(flat),
            Repr::Cut(_) => Err(self),
        }
    }

    /// Every whitespace run as one space, none at either end (`split_whitespace` joined with
    /// spaces), the cuts kept. A run does not cross the edge of a cut, and whitespace just
    /// inside a cut at either end of the text is kept (as one space).
    pub fn collapse_whitespace(&self) -> Text {
        let mut bounds: Vec<usize> = self.cuts().iter().flat_map(|c| [c.start, c.end]).collect();
        bounds.push(self.flat().len());
        bounds.sort_unstable();
        bounds.dedup();
        let mut flat = String::with_capacity(self.flat().len());
        // Where each old byte offset went (at every boundary).
        let mut moved = Vec::with_capacity(bounds.len() + 1);
        let mut pos = 0;
        for &b in std::iter::once(&0).chain(&bounds) {
            let segment = self.flat().get(pos..b).unwrap_or_default();
            let mut in_run = false;
            for ch in segment.chars() {
                if ch.is_whitespace() {
                    in_run = true;
                } else {
                    if in_run {
                        flat.push(' ');
                        in_run = false;
                    }
                    flat.push(ch);
                }
            }
            if in_run {
                flat.push(' ');
            }
            moved.push((b, flat.len()));
            pos = b;
        }
        let at = |old: usize| moved.iter().find(|(o, _)| *o == old).map_or(0, |(_, n)| *n);
        let mut cuts: Vec<Cut> = self
            .cuts()
            .iter()
            .map(|c| Cut {
                start: at(c.start),
                end: at(c.end),
                ..*c
            })
            .collect();
        // The ends of the whole text, outside every cut.
        let first_cut = cuts.iter().map(|c| c.start).min();
        let last_cut = cuts.iter().map(|c| c.end).max();
        if first_cut != Some(0) && flat.starts_with(' ') {
            flat.remove(0);
            for c in &mut cuts {
                c.start -= 1;
                c.end -= 1;
            }
        }
        if last_cut != Some(flat.len()) && flat.ends_with(' ') {
            flat.pop();
        }
        Text::from_parts(flat, cuts)
    }

    /// The same cuts over a rewritten text (`flat`, the secrets masked): `at` maps each edge
    /// of a cut from this text to the rewritten one. `at` must not decrease (a cut inside
    /// another stays inside it).
    pub fn remap(&self, flat: String, at: &dyn Fn(usize) -> usize) -> Text {
        let len = flat.len();
        let mut cuts: Vec<Cut> = self
            .cuts()
            .iter()
            .map(|c| Cut {
                start: at(c.start).min(len),
                end: at(c.end).min(len),
                ..*c
            })
            .collect();
        for c in &mut cuts {
            c.end = c.end.max(c.start);
            // Edges fall between characters (a rewrite keeps the text around it).
            while !flat.is_char_boundary(c.start) {
                c.start -= 1;
            }
            while !flat.is_char_boundary(c.end) {
                c.end += 1;
            }
        }
        Text::from_parts(flat, cuts)
    }

    /// The text with its cuts carried out, innermost first: `each` gets the span's text (its
    /// inner cuts done), its `max` and read-cap flag, and returns what replaces it.
    pub fn fold(&self, each: &mut dyn FnMut(String, usize, bool) -> String) -> String {
        self.fold_range(0, self.flat().len(), self.cuts(), each)
    }

    fn fold_range(
        &self,
        start: usize,
        end: usize,
        cuts: &[Cut],
        each: &mut dyn FnMut(String, usize, bool) -> String,
    ) -> String {
        let mut out = String::with_capacity(end - start);
        let mut pos = start;
        let mut i = 0;
        while let Some(c) = cuts.get(i).copied() {
            // The cuts after it that start inside it lie inside it.
            let inner = cuts
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|d| d.start < c.end)
                .count();
            out.push_str(self.flat().get(pos..c.start).unwrap_or_default());
            let body = self.fold_range(
                c.start,
                c.end,
                cuts.get(i + 1..i + 1 + inner).unwrap_or_default(),
                each,
            );
            out.push_str(&each(body, c.max, c.read_cap));
            pos = c.end;
            i += 1 + inner;
        }
        out.push_str(self.flat().get(pos..end).unwrap_or_default());
        out
    }

    /// The text with its cuts carried out and no secret masked: what a text reads as when it
    /// is written without the redactor (never the case for a run's output, which folds
    /// every text through it first).
    pub fn cut_only(&self) -> String {
        self.fold(&mut |body, max, _| cut(&body, max))
    }
}

/// A fact that is a text with deferred cuts, or a list of such texts (`not_ready` pods).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextValue {
    /// One text.
    One(Text),
    /// A list of texts.
    List(Vec<Text>),
}

impl TextValue {
    /// Whether no cut is deferred.
    pub fn is_plain(&self) -> bool {
        match self {
            TextValue::One(t) => t.is_plain(),
            TextValue::List(l) => l.iter().all(Text::is_plain),
        }
    }

    /// The JSON value, each text folded by `fold` (a string, or a list of strings).
    pub fn to_json(&self, fold: &dyn Fn(&Text) -> String) -> serde_json::Value {
        match self {
            TextValue::One(t) => serde_json::Value::String(fold(t)),
            TextValue::List(l) => {
                serde_json::Value::Array(l.iter().map(|t| fold(t).into()).collect())
            }
        }
    }
}

impl From<Text> for TextValue {
    fn from(t: Text) -> Self {
        TextValue::One(t)
    }
}

impl From<Vec<Text>> for TextValue {
    fn from(l: Vec<Text>) -> Self {
        TextValue::List(l)
    }
}

/// Cut `s` to `max` characters, marking the cut with `…`.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push(ELLIPSIS);
    out
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.flat()
    }
}

/// Tests print a text in their assertion messages: its characters, no cut carried out. The
/// crate itself has no `Display` for a text (a deferred cut cannot be formatted away).
#[cfg(test)]
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.flat())
    }
}

impl From<String> for Text {
    fn from(flat: String) -> Self {
        Text(Repr::Plain(flat))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::from(s.to_owned())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.clone())
    }
}

impl From<std::borrow::Cow<'_, str>> for Text {
    fn from(s: std::borrow::Cow<'_, str>) -> Self {
        Text::from(s.into_owned())
    }
}

impl From<&Text> for Text {
    fn from(t: &Text) -> Self {
        t.clone()
    }
}

impl PartialEq<str> for Text {
    /// A plain text equal to `other`.
    fn eq(&self, other: &str) -> bool {
        matches!(&self.0, Repr::Plain(flat) if flat == other)
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        *self == **other
    }
}

/// Serde for a result's text fields (`#[serde(with = "crate::model::text::serde_text")]`):
/// written as a string, its cuts carried out (a run's output folds every text through the
/// redactor before it is written, so no cut is left by then); read back plain (a text read
/// back was cut when it was written). `Text` itself is not `Serialize`: a check cannot put a
/// text into a JSON value (`json!`) and lose its deferred cut to an unmasked one.
pub(crate) mod serde_text {
    use super::Text;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &Text, out: S) -> Result<S::Ok, S::Error> {
        if t.is_plain() {
            out.serialize_str(t)
        } else {
            out.serialize_str(&t.cut_only())
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// [`serde_text`] for an optional text.
pub(crate) mod serde_opt_text {
    use super::Text;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<Box<Text>>,
        out: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serde_text::serialize(t, out),
            None => out.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Box<Text>>, D::Error> {
        Option::<String>::deserialize(d).map(|s| s.map(|s| Box::new(Text::from(s))))
    }
}

/// A [`Text`] of plain and cut pieces, one after another: a string literal is formatted
/// (`"{during}: "`, with its inline arguments), anything else goes in as
/// `impl Into<Text>` (a `String`, a `&str`, or a text with cuts such as
/// `checks::common::escape`'s).
///
/// `text!("{what}: ", escape(&msg, 300), format!(" ({})", status.code))`
#[macro_export]
macro_rules! text {
    (@push $t:ident;) => {};
    (@push $t:ident; $lit:literal $(, $($rest:tt)*)?) => {
        $t.push_str(&format!($lit));
        $( $crate::text!(@push $t; $($rest)*); )?
    };
    (@push $t:ident; $e:expr $(, $($rest:tt)*)?) => {
        $t.push($e);
        $( $crate::text!(@push $t; $($rest)*); )?
    };
    ($($parts:tt)*) => {{
        let mut text = $crate::model::Text::new();
        $crate::text!(@push text; $($parts)*);
        text
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brackets(t: &Text) -> String {
        t.fold(&mut |body, max, read_cap| {
            format!("[{max}{}:{body}]", if read_cap { "+" } else { "" })
        })
    }

    #[test]
    fn plain_and_cut_pieces_concatenate() {
        let during = "query";
        let t = crate::text!(
            "{during}: ",
            Text::cut("abcdef", 3, false),
            " (",
            "x".to_owned(),
            ")"
        );
        assert_eq!(t.as_str(), "query: abcdef (x)");
        assert!(!t.is_plain());
        assert_eq!(t.cut_only(), "query: abc… (x)");
        assert_eq!(brackets(&t), "query: [3:abcdef] (x)");
        let plain = Text::from(format!("{during} failed"));
        assert!(plain.is_plain());
        assert_eq!(plain, "query failed");
        assert_eq!(plain.into_plain(), Ok("query failed".to_owned()));
    }

    #[test]
    fn nested_cuts_fold_innermost_first() {
        let inner = Text::cut("inner text", 5, true);
        let outer = Text::cut(crate::text!("outer ", inner, " end"), 100, false);
        assert_eq!(brackets(&outer), "[100:outer [5+:inner text] end]");
        assert_eq!(outer.cut_only(), "outer inner… end");
        let joined = Text::join([Text::cut("ab", 1, false), Text::from("c"), outer], ", ");
        assert_eq!(
            brackets(&joined),
            "[1:ab], c, [100:outer [5+:inner text] end]"
        );
        // An empty cut, and a cut of a whole text that already starts with one.
        let t = Text::cut(crate::text!(Text::cut("", 2, false), "xyz"), 2, false);
        assert_eq!(brackets(&t), "[2:[2:]xyz]");
        assert_eq!(t.cut_only(), "xy…");
    }

    #[test]
    fn whitespace_collapses_without_crossing_a_cut() {
        let t = crate::text!("  a \n b ", Text::cut(" c  d ", 9, false), "  e  ");
        let c = t.collapse_whitespace();
        assert_eq!(brackets(&c), "a b [9: c d ] e");
        let at_start = crate::text!(Text::cut("  x", 9, false), " y ");
        assert_eq!(brackets(&at_start.collapse_whitespace()), "[9: x] y");
        let plain = Text::from("\tone\n  two ");
        assert_eq!(plain.collapse_whitespace(), "one two");
    }

    #[test]
    fn serialises_cut_and_reads_back_plain() {
        let t = crate::text!("body: ", Text::cut("abcdef", 3, false));
        let mut out = Vec::new();
        serde_text::serialize(&t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#""body: abc…""#);
        let back =
            serde_text::deserialize(&mut serde_json::Deserializer::from_str(r#""body: abc…""#))
                .unwrap();
        assert!(back.is_plain());
        assert_eq!(back, "body: abc…");
    }
}
