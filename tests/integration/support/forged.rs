//! What a CI log would take for a GitHub workflow command in a report printed to it
//! (`cat report.json` in a step): a line that starts with `::` after whitespace, which the
//! runner trims, or that holds the legacy `##[` anywhere. Lines are split on `\n` and `\r` as
//! the runner splits them (`text::neutralise_commands` guards the same lines).
//!
//! A line is also forged when it starts with `::` once its leading control characters and
//! ANSI escape sequences (`ESC[1G`, `ESC]0;title BEL`, a lone NUL, BS, BEL, the one-character
//! CSI U+009B) are taken away: a terminal shows nothing for them, and a writer that strips them
//! after its own `::` guard hands the runner a real command.

/// The first forged line of `text`, if any.
pub fn forged_line(text: &str) -> Option<&str> {
    text.split(['\n', '\r']).find(|line| {
        line.trim_start().starts_with("::")
            || line.contains("##[")
            || without_leading_controls(line).starts_with("::")
    })
}

/// `line` without its leading whitespace, control characters and escape sequences.
fn without_leading_controls(line: &str) -> &str {
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start();
        let mut chars = trimmed.chars();
        rest = match chars.next() {
            Some('\u{1b}') => match chars.next() {
                Some('[') => after_csi(chars.as_str()),
                Some(']') => after_osc(chars.as_str()),
                // Any other escape: only ESC itself is taken to be invisible.
                _ => trimmed.get(1..).unwrap_or_default(),
            },
            Some('\u{9b}') => after_csi(chars.as_str()),
            Some(c) if c.is_control() => chars.as_str(),
            _ => return trimmed,
        };
    }
}

/// The text after a CSI sequence's parameters, intermediates and final byte.
fn after_csi(s: &str) -> &str {
    let body = s.trim_start_matches(|c: char| ('\u{20}'..='\u{3f}').contains(&c));
    body.strip_prefix(|c: char| ('\u{40}'..='\u{7e}').contains(&c))
        .unwrap_or(body)
}

/// The text after an OSC sequence, ended by BEL or ST (`ESC \`); all of it when unterminated.
fn after_osc(s: &str) -> &str {
    match s.find(['\u{7}', '\u{9c}', '\u{1b}']) {
        Some(at) => {
            let end = s.get(at..).unwrap_or_default();
            let mut chars = end.chars();
            match chars.next() {
                Some('\u{1b}') => end.strip_prefix("\u{1b}\\").unwrap_or(end),
                _ => chars.as_str(),
            }
        }
        None => "",
    }
}

#[test]
fn forged_lines_are_found_behind_invisible_prefixes() {
    for forged in [
        "ok\n::add-mask::x",
        "ok\r  ::error::x",
        "a ##[error]x",
        "\u{1b}[1G::add-mask::x",
        "\u{0}::error::x",
        "\u{8}\u{7}::warning::x",
        "\u{1b}]0;title\u{7}::notice::x",
        "\u{1b}]0;title\u{1b}\\::notice::x",
        "\u{9b}2K::error::x",
        " \u{1b}[0m \u{1b}[1G ::error::x",
    ] {
        assert!(forged_line(forged).is_some(), "{forged:?}");
    }
    for fine in [
        "ok \u{2060}::x",
        "\u{2060}::add-mask::x",
        "#\u{2060}#[error]",
        "\"message\": \"\\u001b[1G::add-mask::x\"",
        "x::y",
        "\u{1b}]0;unterminated::error::x",
    ] {
        assert_eq!(forged_line(fine), None, "{fine:?}");
    }
}
