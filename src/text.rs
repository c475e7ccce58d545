//! Shared text helpers for every output: one-line escaping of untrusted text and the
//! neutralising of GitHub workflow commands (see `docs/ci-formats.md`). They sit at the bottom
//! of the crate so the config errors, the model and the reporters can all use them.

/// Escape untrusted text for a one-line human report: control characters become visible
/// escapes (so a body cannot add lines or move the cursor) and the legacy `##[` workflow
/// command form is broken up.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() || is_line_break(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    neutralise_commands(out)
}

/// Escape untrusted multi-line text: control characters other than those in `keep` (such as
/// `\n` and `\t`) and the Unicode line separators become visible escapes (`\u{1b}`), *then*
/// workflow commands are neutralised. In that order: a control character stripped or
/// interpreted after the neutralising (`\x1b[1G::add-mask::x`, a NUL or a backspace before
/// `::`) would otherwise leave a line that starts with `::`.
pub fn escape_controls_then_commands(s: &str, keep: &[char]) -> String {
    neutralise_commands(visible_controls(s, keep))
}

/// Control characters other than those in `keep`, and the Unicode line separators, as visible
/// escapes (`\r`, `\u{1b}`); nothing else changes.
pub fn visible_controls(s: &str, keep: &[char]) -> String {
    if !s
        .chars()
        .any(|c| (c.is_control() || is_line_break(c)) && !keep.contains(&c))
    {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if keep.contains(&c) => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_line_break(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape workflow-command data (the text after `::`): control characters (but line breaks,
/// which GitHub's `%0A` carries) become visible escapes first.
pub fn escape_data(s: &str) -> String {
    neutralise_commands(
        visible_controls(s, &['\n', '\r', '\t'])
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A"),
    )
}

/// Escape a workflow-command property value (`file=`, `title=`…).
pub fn escape_property(s: &str) -> String {
    neutralise_commands(
        visible_controls(s, &['\n', '\r', '\t'])
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
            .replace(':', "%3A")
            .replace(',', "%2C"),
    )
}

/// Unicode line and paragraph separators: some log viewers break lines on them.
fn is_line_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Neutralise GitHub workflow commands in untrusted text, for every format a CI log may print:
/// `::` that starts a line (after optional whitespace, as the runner trims it) and the legacy
/// `##[command]` form, which the runner honours anywhere in a line, each get an invisible word
/// joiner between their first two characters. The text reads the same; no runner acts on it.
pub fn neutralise_commands(s: String) -> String {
    const JOINER: char = '\u{2060}';
    if !s.contains("::") && !s.contains("##[") {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut line_start = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\n' | '\r' => line_start = true,
            ':' if line_start && chars.peek() == Some(&':') => {
                out.push(JOINER);
                line_start = false;
            }
            c if c.is_whitespace() => {}
            _ => line_start = false,
        }
    }
    if out.contains("##[") {
        out = out.replace("##[", "#\u{2060}#[");
    }
    out
}

/// `value` as pretty JSON with a trailing newline, written to `w` as it is serialised, with no
/// `##[` a CI log could read as a legacy GitHub workflow command: `##[` can only occur inside
/// JSON strings (every key is infracheck's own), and written as `#\u0023[` it parses to the
/// same text ([`LegacyCommandEscaper`]). An error writing to `w` is an I/O `serde_json::Error`.
pub fn pretty_json_to(
    value: &impl serde::Serialize,
    w: impl std::io::Write,
) -> Result<(), serde_json::Error> {
    use std::io::Write as _;
    let mut esc = LegacyCommandEscaper::new(w);
    // serde_json writes a document in many small pieces (a quote, a colon, each level of
    // indentation): they are gathered here before the escaper scans them and hands them on.
    let mut pieces = std::io::BufWriter::with_capacity(JSON_PIECES, &mut esc);
    serde_json::to_writer_pretty(&mut pieces, value)?;
    pieces.write_all(b"\n").map_err(serde_json::Error::io)?;
    pieces.flush().map_err(serde_json::Error::io)?;
    drop(pieces);
    esc.finish().map(drop).map_err(serde_json::Error::io)
}

/// The bytes [`pretty_json_to`] gathers before escaping them.
const JSON_PIECES: usize = 16 * 1024;

/// The bytes of [`pretty_json_to`].
pub fn pretty_json(value: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    pretty_json_to(value, &mut out)?;
    Ok(out)
}

/// A writer that passes the bytes written through it to `inner` with every `##[` written as
/// `#\u0023[`, whatever the pieces they come in, so a JSON document is escaped as it is
/// serialised straight to its destination ([`pretty_json_to`]). A `#`
/// at the end of a piece is held back until the next byte shows whether it starts such a
/// sequence; [`LegacyCommandEscaper::finish`] writes it.
pub struct LegacyCommandEscaper<W: std::io::Write> {
    inner: W,
    /// A `#` written to this escaper but not yet to `inner`.
    held: bool,
    /// How many `#` end what was written so far (the held one included).
    run: usize,
}

impl<W: std::io::Write> LegacyCommandEscaper<W> {
    /// An escaper writing to `inner`.
    pub fn new(inner: W) -> Self {
        LegacyCommandEscaper {
            inner,
            held: false,
            run: 0,
        }
    }

    /// Write what is held back and hand back the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.held {
            self.inner.write_all(b"#")?;
            self.held = false;
        }
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for LegacyCommandEscaper<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        const ESCAPED: &[u8] = b"\\u0023";
        let Some(&first) = buf.first() else {
            return Ok(0);
        };
        if self.held {
            self.held = false;
            let held = if first == b'[' && self.run >= 2 {
                ESCAPED
            } else {
                b"#"
            };
            self.inner.write_all(held)?;
        }
        // Most pieces hold no `#` at all: passed on whole (a word-at-a-time search).
        if !buf.contains(&b'#') {
            self.run = 0;
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            match b {
                b'#' => self.run += 1,
                b'[' => {
                    // The `#` just before this `[` (the held one was handled above).
                    if self.run >= 2 && i > 0 {
                        self.inner
                            .write_all(buf.get(start..i - 1).unwrap_or_default())?;
                        self.inner.write_all(ESCAPED)?;
                        start = i;
                    }
                    self.run = 0;
                }
                _ => self.run = 0,
            }
        }
        let rest = buf.get(start..).unwrap_or_default();
        match rest.split_last() {
            Some((b'#', head)) => {
                self.inner.write_all(head)?;
                self.held = true;
            }
            _ => self.inner.write_all(rest)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Cut `s` to at most `max` characters, marking the cut with `…`.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `5m`, `30s` or `250ms`: a duration the way the config and the flags write it (whole
/// minutes, else whole seconds, else milliseconds).
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the escaper in one piece.
    fn escaped(input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut esc = LegacyCommandEscaper::new(Vec::new());
        esc.write_all(input).unwrap();
        esc.finish().unwrap()
    }

    #[test]
    fn legacy_commands_in_json_are_escaped_at_every_place() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"{}", b"{}"),
            (b"\"##[error]x\"", b"\"#\\u0023[error]x\""),
            (b"\"###[\"", b"\"##\\u0023[\""),
            (b"\"##[##[\"", b"\"#\\u0023[#\\u0023[\""),
            (b"\"a ##[b\" ##[", b"\"a #\\u0023[b\" #\\u0023["),
            (b"\"# #[ #\"", b"\"# #[ #\""),
        ];
        for (input, want) in cases {
            let got = escaped(input);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(input));
            assert!(!got.windows(3).any(|w| w == b"##["));
        }
        // Every escape parses back to the same text.
        let doc = pretty_json(&serde_json::json!({"m": "x ##[error]y ###[z"})).unwrap();
        assert!(doc.ends_with(b"}\n") && !doc.windows(3).any(|w| w == b"##["));
        let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(v["m"], "x ##[error]y ###[z");
    }

    /// The escaper gives the same bytes however the input is cut.
    #[test]
    fn the_streaming_escaper_matches_the_whole_document_at_every_cut() {
        use std::io::Write;
        let inputs: [&[u8]; 8] = [
            b"{}",
            b"\"##[error]x\"",
            b"\"###[\"",
            b"\"##[##[\"",
            b"\"a ##[b\" ##[",
            b"\"# #[ #\"",
            b"####[[##[#",
            b"#",
        ];
        for input in inputs {
            let want = escaped(input);
            // Every split into three pieces, empty pieces included.
            for a in 0..=input.len() {
                for b in a..=input.len() {
                    let mut esc = LegacyCommandEscaper::new(Vec::new());
                    for piece in [&input[..a], &input[a..b], &input[b..]] {
                        esc.write_all(piece).unwrap();
                    }
                    let got = esc.finish().unwrap();
                    assert_eq!(
                        got,
                        want,
                        "{} cut at {a}, {b}",
                        String::from_utf8_lossy(input)
                    );
                }
            }
        }
    }
}
