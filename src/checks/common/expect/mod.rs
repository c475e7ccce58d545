//! Conditions on what a check observed (`expect:`): the grammar `VALUE OP EXPECTED` parsed and
//! compiled once, when the config is read ([`parse`]), and the pure judge of compiled
//! conditions against a check's [`Facts`](crate::model::Facts) ([`judge`]).
//!
//! - VALUE: a name the check's kind observes (`status`, `header.<name>`, `body`,
//!   `body.<JSONPath>` per RFC 9535, `latency`, `latency.<phase>`, `redis.info.<field>`…), or
//!   `len(VALUE)`, the length of a text (bytes) or a list.
//! - OP: `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, `!contains`, `matches`, `!matches`,
//!   `exists`, `!exists`, `in`.
//! - EXPECTED: a number, a duration (`300ms`, `2s`: milliseconds), a size (`1MB`, `4KiB`:
//!   bytes), a quoted string, a bare word, a regex (for `matches`), a list `[a, b]` (for
//!   `in`); nothing after `exists` / `!exists`.

mod judge;
#[cfg(test)]
mod tests;

pub use judge::judge;

use regex::Regex;
use serde_json_path::JsonPath;

use crate::model::PhaseName;
use crate::reader::ctx::parse_duration;

/// The value families every kind observes: its total time and, per phase it times,
/// `latency.<phase>`.
pub const LATENCY_VALUES: &[&str] = &["latency", "latency.<phase>"];

/// A condition's severity: a failed `fail` condition fails the check, a failed `warn` one
/// makes it WARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The check fails (the default).
    Fail,
    /// The check warns.
    Warn,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `!contains`
    NotContains,
    /// `matches`
    Matches,
    /// `!matches`
    NotMatches,
    /// `exists`
    Exists,
    /// `!exists`
    NotExists,
    /// `in`
    In,
}

impl Op {
    /// Every operator with its spelling.
    pub const ALL: &'static [(&'static str, Op)] = &[
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        ("<=", Op::Le),
        (">", Op::Gt),
        (">=", Op::Ge),
        ("contains", Op::Contains),
        ("!contains", Op::NotContains),
        ("matches", Op::Matches),
        ("!matches", Op::NotMatches),
        ("exists", Op::Exists),
        ("!exists", Op::NotExists),
        ("in", Op::In),
    ];

    fn from_word(word: &str) -> Option<Op> {
        Op::ALL.iter().find(|(w, _)| *w == word).map(|(_, op)| *op)
    }

    fn spellings() -> String {
        Op::ALL
            .iter()
            .map(|(w, _)| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A scalar written after the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// As written, unquoted.
    pub text: String,
    /// Its number, for a number, a duration (milliseconds) or a size (bytes); `None` for a
    /// quoted string or a word.
    pub number: Option<f64>,
}

/// What a condition compares against.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Nothing (`exists`, `!exists`).
    Nothing,
    /// One scalar.
    Scalar(Scalar),
    /// A regex (`matches`, `!matches`).
    Regex(Regex),
    /// A list (`in`).
    List(Vec<Scalar>),
}

/// The value a condition looks at.
#[derive(Debug, Clone)]
pub struct ValueRef {
    /// The fact it reads (`body`, `header.content-type`, `latency.ttfb`).
    pub fact: String,
    /// The JSONPath applied to the fact's JSON text (`body.$.status`).
    pub path: Option<JsonPath>,
    /// `len(VALUE)`: the length of the value rather than the value.
    pub len: bool,
}

/// One compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    /// As written (`body.$.status == "UP"`).
    pub assert: String,
    /// What it looks at.
    pub value: ValueRef,
    /// How it compares.
    pub op: Op,
    /// Against what.
    pub expected: Expected,
    /// What a failure makes of the check.
    pub severity: Severity,
}

/// The values a kind accepts: its own `values` plus the latency family (with its phases).
pub struct KindValues<'a> {
    /// The kind name, for messages.
    pub kind: &'a str,
    /// Its value families (`status`, `header.<name>`…).
    pub values: &'a [&'a str],
    /// The phases it times (the only names `latency.<phase>` takes).
    pub phases: &'a [PhaseName],
}

impl KindValues<'_> {
    /// Every family the kind accepts, in documentation order.
    pub fn families(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.values.to_vec();
        all.extend(LATENCY_VALUES);
        all
    }

    fn accepts(&self, family: &str) -> bool {
        self.values.contains(&family) || LATENCY_VALUES.contains(&family)
    }

    /// The names a misspelt value is compared with, for the suggestion.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.families().iter().map(|s| (*s).to_owned()).collect();
        names.extend(
            self.phases
                .iter()
                .map(|p| format!("latency.{}", p.as_str())),
        );
        names
    }

    fn unknown(&self, written: &str) -> String {
        let names = self.names();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = crate::reader::yaml::closest(written, &refs)
            .map(|best| format!(" (did you mean `{best}`?)"))
            .unwrap_or_default();
        format!(
            "unknown value `{written}` for {} checks{hint}; {} checks observe: {}",
            self.kind,
            self.kind,
            self.families().join(", ")
        )
    }
}

/// Parse and compile one condition, checking its value against the kind's. The error is one
/// line for the config problem at the condition.
pub fn parse(text: &str, severity: Severity, kind: &KindValues<'_>) -> Result<Condition, String> {
    let assert = text.trim();
    if assert.is_empty() {
        return Err("empty condition (write `VALUE OP EXPECTED`, e.g. `status == 200`)".into());
    }
    let (value_text, op, rest) = split(assert)?;
    let value = parse_value(value_text, kind)?;
    let expected = parse_expected(op, rest.trim())?;
    Ok(Condition {
        assert: assert.to_owned(),
        value,
        op,
        expected,
        severity,
    })
}

/// `VALUE OP EXPECTED` split at the first operator word that stands between spaces outside
/// brackets, parentheses and quotes (a JSONPath filter may hold `==`).
fn split(s: &str) -> Result<(&str, Op, &str), String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut prev_space = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            prev_space = false;
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && prev_space && i > 0 {
            let tail = s.get(i..).unwrap_or("");
            let word = tail.split_whitespace().next().unwrap_or("");
            if let Some(op) = Op::from_word(word) {
                let value = s.get(..i).unwrap_or("").trim();
                let rest = tail.get(word.len()..).unwrap_or("");
                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    return Ok((value, op, rest));
                }
            }
        }
        prev_space = c.is_whitespace();
    }
    Err(format!(
        "no operator in `{s}` (write `VALUE OP EXPECTED` with spaces around OP, one of {})",
        Op::spellings()
    ))
}

fn parse_value(text: &str, kind: &KindValues<'_>) -> Result<ValueRef, String> {
    let (inner, len) = match text.strip_prefix("len(").and_then(|t| t.strip_suffix(')')) {
        Some(inner) => (inner.trim(), true),
        None => (text, false),
    };
    let (family, fact, path) = classify(inner)?;
    if !kind.accepts(family) {
        return Err(kind.unknown(inner));
    }
    if family == "latency.<phase>" {
        let name = inner.trim_start_matches("latency.");
        if !PhaseName::from_name(name).is_some_and(|p| kind.phases.contains(&p)) {
            let phases: Vec<&str> = kind.phases.iter().map(|p| p.as_str()).collect();
            let hint = crate::reader::yaml::closest(name, &phases)
                .map(|best| format!(" (did you mean `latency.{best}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown phase `{name}` for {} checks{hint}; phases: {}",
                kind.kind,
                phases.join(", ")
            ));
        }
    }
    Ok(ValueRef { fact, path, len })
}

/// A value's family (`header.<name>`), the fact it reads and its JSONPath.
fn classify(v: &str) -> Result<(&'static str, String, Option<JsonPath>), String> {
    for (prefix, family, fact) in [
        ("body.", "body.<JSONPath>", "body"),
        ("stdout.", "stdout.<JSONPath>", "stdout"),
    ] {
        if let Some(p) = v.strip_prefix(prefix) {
            if !p.starts_with('$') {
                return Err(format!(
                    "`{v}`: a JSONPath starts with `$` (write `{prefix}$.{p}`)"
                ));
            }
            let path = JsonPath::parse(p)
                .map_err(|e| format!("invalid JSONPath `{p}` (RFC 9535): {e}"))?;
            return Ok((family, fact.to_owned(), Some(path)));
        }
    }
    for (prefix, family) in [
        ("header.", "header.<name>"),
        ("redis.info.", "redis.info.<field>"),
        ("latency.", "latency.<phase>"),
    ] {
        if let Some(name) = v.strip_prefix(prefix) {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("`{v}`: write `{family}` with a name"));
            }
            let fact = if family == "header.<name>" {
                format!("header.{}", name.to_ascii_lowercase())
            } else {
                v.to_owned()
            };
            return Ok((family, fact, None));
        }
    }
    let family = PLAIN_VALUES
        .iter()
        .find(|f| **f == v)
        .copied()
        .unwrap_or("");
    // An unknown name is reported with the kind's list.
    Ok((family, v.to_owned(), None))
}

/// Every value without a `<…>` part, of every kind.
const PLAIN_VALUES: &[&str] = &[
    "status",
    "body",
    "latency",
    "cert.days_left",
    "cert.issuer",
    "cert.subject",
    "cert.sans",
    "dns.answers",
    "dns.ttl",
    "db.value",
    "db.rows",
    "stdout",
    "stderr",
    "exit_code",
    "grpc.status",
    "k8s.ready",
    "k8s.restarts",
    "banner",
];

fn parse_expected(op: Op, rest: &str) -> Result<Expected, String> {
    match op {
        Op::Exists | Op::NotExists => {
            if rest.is_empty() {
                Ok(Expected::Nothing)
            } else {
                Err(format!("nothing is written after `exists`, found `{rest}`"))
            }
        }
        _ if rest.is_empty() => Err("missing the expected value after the operator".into()),
        Op::Matches | Op::NotMatches => {
            let pattern = unquote(rest)?;
            let re = regex::RegexBuilder::new(&pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    let first = e.to_string();
                    let line = first.lines().last().unwrap_or("").trim();
                    let line = line.strip_prefix("error: ").unwrap_or(line).to_owned();
                    format!("invalid regex `{pattern}`: {line}")
                })?;
            Ok(Expected::Regex(re))
        }
        Op::In => {
            let inner = rest
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .ok_or_else(|| format!("`in` takes a list `[a, b]`, found `{rest}`"))?;
            let items = split_list(inner)?
                .into_iter()
                .map(scalar)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expected::List(items))
        }
        _ => scalar(rest).map(Expected::Scalar),
    }
}

/// The items of a list's inside, split at commas outside quotes.
fn split_list(s: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let (mut start, mut quote) = (0usize, None::<char>);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ',') => {
                items.push(s.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s.get(start..).unwrap_or("").trim();
    if !last.is_empty() || !items.is_empty() {
        items.push(last);
    }
    if items.iter().any(|i| i.is_empty()) {
        return Err(format!("empty item in the list `[{s}]`"));
    }
    Ok(items)
}

/// A quoted string's text (with `\"`, `\\` escapes), or a bare token as written.
fn unquote(s: &str) -> Result<String, String> {
    let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Ok(s.to_owned());
    };
    let body = s
        .get(1..)
        .and_then(|b| b.strip_suffix(q))
        .ok_or_else(|| format!("unterminated string `{s}`"))?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => return Err(format!("string `{s}` ends with a lone `\\`")),
            },
            c if c == q => return Err(format!("unescaped `{q}` inside the string `{s}`")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A number, a duration, a size, a quoted string or a word.
fn scalar(s: &str) -> Result<Scalar, String> {
    if s.starts_with(['"', '\'']) {
        return Ok(Scalar {
            text: unquote(s)?,
            number: None,
        });
    }
    if s.contains(char::is_whitespace) {
        return Err(format!("`{s}`: quote a text with spaces (`\"{s}\"`)"));
    }
    Ok(Scalar {
        text: s.to_owned(),
        number: number(s),
    })
}

/// The number of a number (`200`, `-1.5`), a duration in milliseconds (`300ms`, `2s`) or a
/// size in bytes (`1MB`, `4KiB`).
fn number(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
        && s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    {
        return Some(n);
    }
    if let Some(bytes) = size(s) {
        return Some(bytes);
    }
    if s.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return parse_duration(s).map(|d| d.as_secs_f64() * 1000.0);
    }
    None
}

/// `1MB`, `1.5 kB`, `4KiB`, `10B` in bytes (case-insensitive; `K`/`M`/`G`/`T` decimal, the
/// `i` forms binary).
fn size(s: &str) -> Option<f64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * factor)
}

/// The JSON Schema pattern (ECMA 262) of a condition of a kind: one of the kind's values
/// (or `len(VALUE)`), an operator between spaces, and the expected part (none after
/// `exists`). The validator says more (a bad regex or JSONPath, a did-you-mean).
pub fn schema_pattern(kind: &KindValues<'_>) -> String {
    let mut alts: Vec<String> = Vec::new();
    for family in kind.families() {
        let alt = match family {
            "header.<name>" => r"header\.[^\s()]+".to_owned(),
            "redis.info.<field>" => r"redis\.info\.[^\s()]+".to_owned(),
            "body.<JSONPath>" => r"body\.\$\S*(\s+\S+)*?".to_owned(),
            "stdout.<JSONPath>" => r"stdout\.\$\S*(\s+\S+)*?".to_owned(),
            "latency.<phase>" if kind.phases.is_empty() => continue,
            "latency.<phase>" => {
                let names: Vec<&str> = kind.phases.iter().map(|p| p.as_str()).collect();
                format!(r"latency\.({})", names.join("|"))
            }
            plain => plain.replace('.', r"\."),
        };
        alts.push(alt);
    }
    let value = format!("({})", alts.join("|"));
    format!(
        r"^\s*({value}|len\({value}\))\s+((==|!=|<=?|>=?|!?contains|!?matches|in)\s+\S.*|!?exists\s*)$"
    )
}
