//! Untrusted text made safe for one report line, and the short messages of transport
//! failures.

use crate::model::{Outcome, Reason, Text};

/// An error and its sources on one line, without repeating a source already in the text
/// (`connection failed: tls: certificate expired`).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

/// The longest report message of a kind listed in `checks::SHORT_MESSAGE_KINDS`, in
/// characters (docs/results.md).
pub const MESSAGE_MAX: usize = 120;

/// `outcome` with its message on one line of at most [`MESSAGE_MAX`] characters: whitespace
/// runs (the SDKs' multi-line chains) become one space, and a longer message is cut with `…`
/// after redaction. The full text is kept in `detail` (JSON, `-v` logs) unless a detail is
/// already there.
pub fn one_short_line(mut outcome: Outcome) -> Outcome {
    let line = outcome.message.collapse_whitespace();
    if line == outcome.message && line.chars().count() <= MESSAGE_MAX {
        return outcome;
    }
    if outcome.detail.is_none() && line.chars().count() > MESSAGE_MAX {
        outcome.detail = Some(Box::new(line.clone()));
    }
    // `…` is the last of the MESSAGE_MAX characters.
    outcome.message = Text::cut(line, MESSAGE_MAX - 1, false);
    outcome
}

/// Text from a server or a child process, made safe for one report line: decoded lossily,
/// control characters escaped (`\n`, `\u{1b}`), cut to `max_chars` with `…` when longer. The
/// cut is carried out by the redactor, after it has masked the secrets ([`Text::cut`]).
pub fn excerpt(bytes: &[u8], max_chars: usize) -> Text {
    let text = String::from_utf8_lossy(bytes);
    escape(&text, max_chars)
}

/// [`excerpt`] for text already decoded.
pub fn escape(text: &str, max_chars: usize) -> Text {
    Text::cut(escape_controls(text), max_chars, false)
}

/// Control characters as visible escapes (`\n`, `\u{1b}`), nothing cut.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The short one-line message of a transport failure, for every report: `connection refused`,
/// `TLS handshake failed: certificate expired`. The whole error chain (`chain`, its parts
/// joined with `: `) goes to the JSON `detail` and the `-v` logs instead
/// ([`Outcome::with_detail`](crate::model::Outcome::with_detail)).
pub fn short_message(reason: Reason, chain: &str) -> String {
    // The innermost cause is the last part of the chain, without an OS error number.
    let inner = chain.rsplit(": ").next().unwrap_or(chain).trim();
    let inner = match inner.find(" (os error") {
        Some(i) => inner.get(..i).unwrap_or(inner),
        None => inner,
    };
    let inner = inner.to_lowercase();
    match reason {
        Reason::ConnectRefused | Reason::TcpRefused => "connection refused".to_owned(),
        Reason::ConnectReset => format!("connection reset: {inner}"),
        Reason::DnsResolve => format!("cannot resolve the host name: {inner}"),
        Reason::Timeout => "timed out".to_owned(),
        Reason::TlsExpired => "TLS handshake failed: certificate expired".to_owned(),
        Reason::TlsNotYetValid => "TLS handshake failed: certificate not yet valid".to_owned(),
        Reason::TlsNameMismatch => {
            "TLS handshake failed: certificate does not match the host name".to_owned()
        }
        Reason::TlsSelfSigned => "TLS handshake failed: self-signed certificate".to_owned(),
        Reason::TlsUntrusted => "TLS handshake failed: certificate not trusted".to_owned(),
        Reason::TlsInvalid => format!("TLS handshake failed: invalid certificate: {inner}"),
        Reason::TlsHandshake => format!("TLS handshake failed: {inner}"),
        Reason::HttpProtocol => format!("not a valid HTTP response: {inner}"),
        Reason::HttpBodyRead => format!("reading the body failed: {inner}"),
        _ => inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_short_line_keeps_the_chain_in_detail() {
        let shown = |t: &Text| crate::redact::Redactor::default().fold(t);
        let chain = format!(
            "sts:GetCallerIdentity: dispatch failure:\n  {}",
            "io error: ".repeat(80)
        );
        let o = one_short_line(Outcome::fail(Reason::RedisConnect, chain.clone()));
        let message = shown(&o.message);
        assert!(message.chars().count() <= MESSAGE_MAX, "{message}");
        assert!(!message.contains('\n'), "{message}");
        assert!(
            message.starts_with("sts:GetCallerIdentity: dispatch failure: io error"),
            "{message}"
        );
        assert!(message.ends_with('…'), "{message}");
        let detail = o.detail.unwrap();
        assert!(detail.chars().count() > 700, "the whole chain: {detail}");
        assert!(!detail.contains('\n'), "{detail}");
        // A short message is left alone; an existing detail is kept.
        let short = one_short_line(
            Outcome::fail(Reason::RedisError, "s3: NoSuchBucket").with_detail("full"),
        );
        assert_eq!(
            (
                short.message.as_str(),
                short.detail.as_deref().map(Text::as_str)
            ),
            ("s3: NoSuchBucket", Some("full"))
        );
    }

    #[test]
    fn escapes_control_characters_and_caps() {
        let done = |t: Text| crate::redact::Redactor::default().fold(&t);
        assert_eq!(done(escape("a\nb\u{1b}[31m", 100)), "a\\nb\\u{1b}[31m");
        assert_eq!(done(escape("a\nb", 2)), "a\\…");
        assert_eq!(done(escape("abcdef", 3)), "abc…");
    }

    #[test]
    fn short_messages_keep_the_innermost_cause() {
        assert_eq!(
            short_message(
                Reason::ConnectRefused,
                "error sending request: Connection refused (os error 111)"
            ),
            "connection refused"
        );
        assert_eq!(
            short_message(
                Reason::ConnectError,
                "a: b: Network Unreachable (os error 101)"
            ),
            "network unreachable"
        );
    }
}
