//! Expiring waivers (`waivers:` at the top level of the config): a known failure accepted until
//! a date. A FAIL (or a SKIP) whose check name matches an unexpired waiver becomes WAIVED, which
//! stays visible in every report but does not fail the run; after the date the result stays
//! FAIL and says that the waiver expired. A waiver that matches no check of the environment is
//! reported as a WARN (`waiver.stale`), so stale exceptions get noticed.
//!
//! "Today" is the current UTC date; `INFRACHECK_TODAY=YYYY-MM-DD` overrides it (a testing aid).

use globset::{Glob, GlobMatcher};
use time::Date;
use time::macros::format_description;

use crate::model::{CheckResult, Location, Reason, Status, WAIVER_KIND};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{MapReader, Node, Value};

/// The environment variable that overrides today's date (`YYYY-MM-DD`), for tests.
pub const TODAY_VAR: &str = "INFRACHECK_TODAY";

pub(crate) const KEYS: &[&str] = &["check", "reason", "owner", "expires"];

/// One validated waiver.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The check name or glob as written (`payments-*`).
    pub pattern: String,
    matcher: GlobMatcher,
    /// Why the failure is accepted.
    pub reason: String,
    /// Who owns the exception, if given.
    pub owner: Option<String>,
    /// The last day the waiver applies (inclusive).
    pub expires: Date,
    /// Where the waiver is defined.
    pub location: Location,
}

impl Waiver {
    /// Whether the waiver covers the check called `name`.
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }

    /// Whether the waiver still applies on `today` (it does on its `expires` day).
    pub fn active(&self, today: Date) -> bool {
        today <= self.expires
    }

    fn describe(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{} ({owner})", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// Whether a waiver can accept a result with this status: FAIL and SKIP become WAIVED,
/// nothing else (a WARN stays a WARN).
pub fn waivable(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Skip)
}

/// Parse `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// Format a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Today's date: `INFRACHECK_TODAY` when set (must be `YYYY-MM-DD`), else the UTC date.
pub fn today(env: &dyn Fn(&str) -> Option<String>) -> Result<Date, String> {
    match env(TODAY_VAR).filter(|v| !v.is_empty()) {
        Some(v) => {
            parse_date(&v).ok_or_else(|| format!("{TODAY_VAR}=`{v}` is not a date (YYYY-MM-DD)"))
        }
        None => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

/// Read the top-level `waivers:` list; every problem is recorded with its location.
pub(crate) fn read(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Vec<Waiver> {
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Null => return Vec::new(),
        other => {
            ctx.problem(
                node,
                path,
                format!("expected a list of waivers, found {}", other.type_name()),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if let Some(w) = read_one(item, &item_path, ctx) {
            out.push(w);
        }
    }
    out
}

fn read_one(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Waiver> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let (line, column) = node.first_key_position();
    let check = required(&mut r, ctx, node, path, "check");
    let reason = required(&mut r, ctx, node, path, "reason");
    let expires = required(&mut r, ctx, node, path, "expires");
    let owner = match r.take("owner") {
        Some((n, p)) => ctx.non_empty(n, &p),
        None => None,
    };
    r.finish(KEYS, ctx.problems);

    let matcher = check
        .as_ref()
        .and_then(|(pattern, n, p)| match Glob::new(pattern) {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                ctx.problem(n, p, format!("invalid check name pattern: {}", e.kind()));
                None
            }
        });
    let expires = expires.and_then(|(text, n, p)| {
        let d = parse_date(&text);
        if d.is_none() {
            ctx.problem(n, &p, format!("expected a date YYYY-MM-DD, found `{text}`"));
        }
        d
    });
    Some(Waiver {
        pattern: check?.0,
        matcher: matcher?,
        reason: reason?.0,
        owner,
        expires: expires?,
        location: Location {
            // The file the waiver is written in (an included one, or the main config).
            file: std::sync::Arc::clone(node.file.name()),
            line,
            column,
        },
    })
}

fn required<'a>(
    r: &mut MapReader<'a>,
    ctx: &mut Ctx<'_>,
    node: &Node,
    path: &str,
    key: &str,
) -> Option<(String, &'a Node, String)> {
    match r.take(key) {
        Some((n, p)) => ctx.non_empty(n, &p).map(|v| (v, n, p)),
        None => {
            ctx.problem(node, path, format!("missing required key `{key}`"));
            None
        }
    }
}

/// Apply `waivers` to the results of one run on `today`.
///
/// A FAIL or SKIP matched by an active waiver becomes WAIVED (the first matching waiver in
/// config order is named); one matched only by expired waivers stays as it is and says so.
/// With `report_stale`, each waiver that matches none of `all_names` (every check of the
/// environment) adds a WARN result `waiver:<pattern>` at the waiver's line; a sharded run
/// passes `false`, since one shard sees only part of the checks.
pub fn apply(
    results: &mut Vec<CheckResult>,
    waivers: &[Waiver],
    today: Date,
    all_names: &[&str],
    report_stale: bool,
) {
    if waivers.is_empty() {
        return;
    }
    for r in results.iter_mut() {
        if !waivable(r.status) {
            continue;
        }
        let matching: Vec<&Waiver> = waivers.iter().filter(|w| w.matches(&r.name)).collect();
        if let Some(w) = matching.iter().find(|w| w.active(today)) {
            r.status = Status::Waived;
            r.message.push_str(&format!(
                "; waived until {}: {}",
                format_date(w.expires),
                w.describe()
            ));
            r.metadata
                .insert("waiver".to_owned(), serde_json::json!(w.pattern));
        } else if let Some(w) = matching.iter().max_by_key(|w| w.expires) {
            r.message.push_str(&format!(
                "; the waiver expired on {}: {}",
                format_date(w.expires),
                w.describe()
            ));
            r.metadata
                .insert("waiver_expired".to_owned(), serde_json::json!(w.pattern));
        }
    }
    if report_stale {
        results.extend(stale(waivers, all_names));
    }
}

/// A WARN result `waiver:<pattern>` at the waiver's line for each waiver that matches none of
/// `all_names` (every check of the environment).
pub fn stale(waivers: &[Waiver], all_names: &[&str]) -> Vec<CheckResult> {
    waivers
        .iter()
        .filter(|w| !all_names.iter().any(|n| w.matches(n)))
        .map(|w| {
            CheckResult::new(
                format!("waiver:{}", w.pattern),
                WAIVER_KIND,
                w.pattern.clone(),
                w.location.clone(),
                Status::Warn,
                Some(Reason::WaiverStale),
                format!(
                    "waiver `{}` matches no check of this environment (expires {}: {}); remove it or fix the pattern",
                    w.pattern,
                    format_date(w.expires),
                    w.describe()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(name: &str) -> CheckResult {
        CheckResult {
            attempts: 1,
            ..CheckResult::new(
                name.to_owned(),
                "http",
                "t".to_owned(),
                Location::default(),
                Status::Fail,
                Some(Reason::HttpStatus),
                "expected status 200, got 503".to_owned(),
            )
        }
    }

    const YAML: &str = "waivers:\n  - {check: \"pay-*\", reason: outage, owner: sre, expires: 2026-12-31}\n  - {check: gone, reason: old, expires: 2026-01-01}\nenvironments:\n  t:\n    http_checks:\n      - {name: pay-api, url: \"http://127.0.0.1:1/\"}\n";

    /// `results` after the waivers of [`YAML`] on `day` (`pay-api` is the environment's one
    /// check).
    fn waived(mut results: Vec<CheckResult>, day: &str, report_stale: bool) -> Vec<CheckResult> {
        let p = crate::testing::plan(YAML);
        assert_eq!(p.waivers.len(), 2);
        let today = parse_date(day).unwrap();
        apply(&mut results, &p.waivers, today, &["pay-api"], report_stale);
        results
    }

    #[test]
    fn active_waiver_waives_and_expired_one_says_so() {
        let results = waived(vec![fail("pay-api"), fail("other")], "2026-12-31", true);
        assert_eq!(results[0].status, Status::Waived);
        assert!(
            results[0]
                .message
                .ends_with("; waived until 2026-12-31: outage (sre)"),
            "{}",
            results[0].message
        );
        assert_eq!(results[1].status, Status::Fail);
        assert_eq!(results.len(), 3, "one stale waiver: {results:?}");
        assert_eq!(results[2].name, "waiver:gone");
        assert_eq!(results[2].status, Status::Warn);
        assert_eq!(results[2].location.line, 3);

        let results = waived(vec![fail("pay-api")], "2027-01-01", false);
        assert_eq!(results[0].status, Status::Fail);
        assert!(
            results[0]
                .message
                .contains("the waiver expired on 2026-12-31"),
            "{}",
            results[0].message
        );
        assert_eq!(results.len(), 1);
    }

    #[test]
    fn bad_waivers_are_config_errors() {
        let yaml = "waivers:\n  - {check: \"a[\", reason: x, expires: 2026-13-01}\n  - {check: b}\nenvironments:\n  t:\n    http_checks: []\n";
        let err = crate::testing::plan_error(yaml);
        assert!(err.contains("invalid check name pattern"), "{err}");
        assert!(
            err.contains("expected a date YYYY-MM-DD, found `2026-13-01`"),
            "{err}"
        );
        assert!(err.contains("missing required key `reason`"), "{err}");
        assert!(err.contains("missing required key `expires`"), "{err}");
    }

    #[test]
    fn today_can_be_overridden() {
        let d = today(&|_| Some("2026-12-01".to_owned())).unwrap();
        assert_eq!(format_date(d), "2026-12-01");
        assert!(today(&|_| Some("soon".to_owned())).is_err());
    }
}
