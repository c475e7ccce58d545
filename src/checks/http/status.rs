//! An accepted HTTP status (`200`, `2xx`): how `expected_status` is written and matched.

/// One accepted status: an exact code or a class (`2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    /// Exactly this code.
    Exact(u16),
    /// Any code of this hundred (2 for `2xx`).
    Class(u16),
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Exact(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

impl StatusPattern {
    /// Whether `code` is this code or in this class.
    pub fn matches(self, code: u16) -> bool {
        match self {
            StatusPattern::Exact(c) => c == code,
            StatusPattern::Class(c) => code / 100 == c,
        }
    }
}

impl StatusPattern {
    /// `200` or `2xx`; `None` outside 100-599 (classes 1xx-5xx).
    pub(super) fn parse(s: &str) -> Option<StatusPattern> {
        let s = s.trim();
        if let Some(prefix) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
            let c: u16 = prefix.parse().ok()?;
            return (1..=5).contains(&c).then_some(StatusPattern::Class(c));
        }
        let c: u16 = s.parse().ok()?;
        (100..=599).contains(&c).then_some(StatusPattern::Exact(c))
    }
}
