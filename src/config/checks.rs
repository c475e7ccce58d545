//! The checks of one mapping: every `<kind>_checks` list, each check's common keys (`name`,
//! `timeout`, retries, latency thresholds, `depends_on`, the `environments` filter) and its
//! kind's own keys, read through the kind registry.

use std::sync::Arc;
use std::time::Duration;

use super::defaults::{Defaults, positive_duration};
use super::keys;
use super::lists::ListAt;
pub(super) use super::lists::OwnLists;
use super::{DEFAULT_TIMEOUT, file_order};
use crate::checks::common::expect::{self, Condition, Severity};
use crate::checks::{
    CheckDef, CheckSpec, Dependency, KindEntry, PhaseLimit, PhaseLimits, REGISTRY, Thresholds,
};
use crate::model::{Location, PhaseName};
use crate::reader::ctx::Ctx;
use crate::reader::source::Source;
use crate::reader::yaml::{MapReader, Node, Value};

/// The checks read so far, in config order, and the header of every named one (also of a
/// check that is invalid otherwise).
#[derive(Debug, Default)]
pub(super) struct ReadChecks {
    pub(super) checks: Vec<CheckDef>,
    pub(super) headers: Vec<CheckHeader>,
}

/// Read every `<kind>_checks` list of a mapping. `shared` is set for the top-level `checks:`
/// block: (current environment, all environment names) for the `environments:` filter. `own`:
/// the items of the lists taken out of the mapping, consumed here.
pub(super) fn read_kind_lists(
    files: &[Source],
    reader: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    own: Option<&mut OwnLists>,
    read: &mut ReadChecks,
) {
    let (first, first_header) = (read.checks.len(), read.headers.len());
    read_kind_lists_in_key_order(reader, ctx, defaults, shared, own, read);
    // Config file order, not kind order: the lists of a mapping may come in any order and a
    // reader expects the report to follow the file (a stable sort keeps ties as read).
    // Usually they already are (one list per mapping): then no sort, and no scratch buffer
    // as large as the list.
    // Across included files: the main config's checks first, then each file's in the order
    // the files were read.
    let order = |l: &Location| (file_order(files, &l.file), l.line, l.column);
    if let Some(mine) = read.checks.get_mut(first..)
        && !mine.is_sorted_by_key(|c| order(&c.location))
    {
        mine.sort_by_key(|c| order(&c.location));
    }
    if let Some(mine) = read.headers.get_mut(first_header..)
        && !mine.is_sorted_by_key(|c| order(&c.location))
    {
        mine.sort_by_key(|c| order(&c.location));
    }
}

fn read_kind_lists_in_key_order(
    reader: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    mut own: Option<&mut OwnLists>,
    read: &mut ReadChecks,
) {
    for kind in REGISTRY {
        let Some((list_node, list_path)) = reader.take(kind.list_key) else {
            continue;
        };
        let items = match &list_node.value {
            Value::Seq(items) => items,
            Value::Null => continue,
            other => {
                ctx.problem(
                    list_node,
                    &list_path,
                    format!("expected a list of checks, found {}", other.type_name()),
                );
                continue;
            }
        };
        let list = ListAt {
            kind,
            path: &list_path,
            defaults,
            shared,
        };
        match own.as_deref_mut().and_then(|o| o.take(kind.list_key)) {
            // Taken out of the tree: each item is dropped once read.
            Some(owned) => {
                list.reserve(owned.len(), read);
                for (i, item) in owned.into_iter().enumerate() {
                    list.read_item(i, &item, ctx, read);
                }
            }
            None => {
                list.reserve(items.len(), read);
                for (i, item) in items.iter().enumerate() {
                    list.read_item(i, item, ctx, read);
                }
            }
        }
    }
}

/// The run settings of a check: its `defaults:` overridden by its own keys.
struct RunSettings {
    timeout: Duration,
    retries: u32,
    retry_delay: Duration,
    interval: Duration,
}

pub(super) fn read_check(
    kind: &KindEntry,
    node: &Node,
    path: &str,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    headers: &mut Vec<CheckHeader>,
) -> Option<CheckDef> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let (line, column) = node.first_key_position();
    // The `environments:` filter of a shared check decides whether it belongs here at all.
    if !belongs_here(&mut r, ctx, shared) {
        return None;
    }
    let name = match r.take("name") {
        Some((n, p)) => ctx.non_empty(n, &p),
        None => {
            ctx.problem(node, path, "missing required key `name`");
            None
        }
    };
    let run = read_run_settings(&mut r, ctx, defaults, kind);
    let thresholds = read_thresholds(&mut r, ctx, defaults, kind, (node, path));
    let phase_limits = match r.take(keys::PHASES_KEY) {
        Some((n, p)) => read_phase_limits(n, &p, ctx, kind),
        None => PhaseLimits::new(),
    };
    let depends_on = r
        .take("depends_on")
        .map(|(n, p)| read_depends_on(n, &p, ctx))
        .unwrap_or_default();
    let tags = r
        .take("tags")
        .map(|(n, p)| read_tags(n, &p, ctx))
        .unwrap_or_default();
    let expect = read_conditions(&mut r, ctx, kind);
    // The file the check is written in (an included one, or the main config).
    let location = Location {
        file: Arc::clone(node.file.name()),
        line,
        column,
    };
    if let Some(name) = &name {
        headers.push(CheckHeader {
            name: name.clone(),
            location: location.clone(),
            depends_on: depends_on.clone(),
        });
    }
    let spec = CheckSpec::parse(kind.kind, &mut r, ctx);
    r.finish_with(
        || {
            let mut known = keys::common_check_keys();
            known.extend(kind.fields.iter().map(|f| f.key));
            known
        },
        ctx.problems,
    );
    let (spec, target) = spec?;
    Some(CheckDef {
        name: name?,
        target,
        timeout: run.timeout,
        retries: run.retries,
        retry_delay: run.retry_delay,
        interval: run.interval,
        thresholds,
        location,
        depends_on,
        tags,
        phase_limits,
        expect,
        spec,
    })
}

/// Whether a check belongs to the environment being read: a shared check (top-level
/// `checks:`, `shared` = the current and every environment) with an `environments:` filter
/// that leaves the current one out does not. The filter anywhere else is a problem.
fn belongs_here(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, shared: Option<(&str, &[&str])>) -> bool {
    let Some((n, p)) = r.take("environments") else {
        return true;
    };
    let Some((current, all)) = shared else {
        ctx.problem(
            n,
            &p,
            "`environments` is only allowed on checks in the top-level `checks:` block",
        );
        return true;
    };
    let Some(list) = ctx.string_list(n, &p) else {
        return false;
    };
    for e in &list {
        if !all.contains(&e.as_str()) {
            ctx.problem(
                n,
                &p,
                format!("unknown environment `{e}` (known: {})", all.join(", ")),
            );
        }
    }
    list.iter().any(|e| e == current)
}

/// `timeout`, `retries`, `retry_delay` and `interval`, over the `defaults:`.
fn read_run_settings(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    kind: &KindEntry,
) -> RunSettings {
    let mut run = RunSettings {
        timeout: defaults.timeout.unwrap_or(DEFAULT_TIMEOUT),
        retries: defaults.retries.unwrap_or(0),
        retry_delay: defaults.retry_delay.unwrap_or(Duration::from_secs(1)),
        interval: defaults.interval.unwrap_or(crate::checks::DEFAULT_INTERVAL),
    };
    if let Some((n, p)) = r.take("timeout")
        && let Some(d) = positive_duration(ctx, n, &p)
    {
        run.timeout = d;
    }
    if let Some((n, p)) = r.take("retries")
        && let Some(v) = ctx.uint(n, &p, 100).and_then(|v| u32::try_from(v).ok())
    {
        run.retries = v;
    }
    if let Some((n, p)) = r.take("retry_delay")
        && let Some(d) = ctx.duration(n, &p)
    {
        run.retry_delay = d;
    }
    // A kind with a key `interval` of its own (icmp: the spacing of its echo requests) reads
    // it itself; under `serve` such a check runs on the interval of `defaults:`.
    if !kind.fields.iter().any(|f| f.key == "interval")
        && let Some((n, p)) = r.take("interval")
        && let Some(d) = super::defaults::interval(ctx, n, &p)
    {
        run.interval = d;
    }
    run
}

/// The check's `expect:` conditions. A kind with a key `expect` of its own (tcp: its banner)
/// reads it when it is written as one text; a list is the check's conditions.
fn read_conditions(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, kind: &KindEntry) -> Vec<Condition> {
    let banner = kind.fields.iter().any(|f| f.key == keys::EXPECT_KEY)
        && r.peek(keys::EXPECT_KEY)
            .is_some_and(|n| !matches!(n.value, Value::Seq(_)));
    match r.take(keys::EXPECT_KEY).filter(|_| !banner) {
        Some((n, p)) => read_expect(n, &p, ctx, kind),
        None => Vec::new(),
    }
}

/// `expect: [conditions]`: each a string `VALUE OP EXPECTED` or a mapping `{assert, severity}`,
/// parsed and compiled now (regexes, JSONPaths) against the values the kind observes; a bad
/// one is a problem at its entry.
fn read_expect(node: &Node, path: &str, ctx: &mut Ctx<'_>, entry: &KindEntry) -> Vec<Condition> {
    let values = entry.expect_values();
    let Value::Seq(items) = &node.value else {
        ctx.problem(
            node,
            path,
            format!(
                "expected a list of conditions (`VALUE OP EXPECTED`, or `{{assert, severity}}`), found {}",
                node.value.type_name()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let (text_node, text_path, severity) = match &item.value {
            Value::Map(_) => {
                let Some(mut r) = MapReader::new(item, &item_path, ctx.problems) else {
                    continue;
                };
                let severity = match r.take("severity") {
                    Some((n, p)) => match ctx.string(n, &p).map(|s| s.to_ascii_lowercase()) {
                        Some(s) if s == "fail" => Some(Severity::Fail),
                        Some(s) if s == "warn" => Some(Severity::Warn),
                        Some(other) => {
                            ctx.problem(
                                n,
                                &p,
                                format!("expected `fail` or `warn`, found `{other}`"),
                            );
                            None
                        }
                        None => None,
                    },
                    None => Some(Severity::Fail),
                };
                let assert = r.take("assert");
                r.finish(&keys::names(keys::EXPECT_ITEM_FIELDS), ctx.problems);
                let Some((n, p)) = assert else {
                    ctx.problem(item, &item_path, "missing required key `assert`");
                    continue;
                };
                let Some(severity) = severity else {
                    continue;
                };
                (n, p, severity)
            }
            _ => (item, item_path, Severity::Fail),
        };
        let Some(text) = ctx.string(text_node, &text_path) else {
            continue;
        };
        match expect::parse(&text, severity, &values) {
            Ok(c) => out.push(c),
            Err(e) => ctx.problem(text_node, &text_path, e),
        }
    }
    out
}

/// `phases: {ttfb: {warn: 300ms}, connect: {fail: 1s}}`: each name one of the kind's phases
/// (an unknown one is a problem at its key, listing the kind's phases), each value a mapping
/// of `warn` and/or `fail` durations.
fn read_phase_limits(node: &Node, path: &str, ctx: &mut Ctx<'_>, entry: &KindEntry) -> PhaseLimits {
    if !entry.latency {
        ctx.problem(
            node,
            path,
            format!("`phases` is not supported for {} checks", entry.kind),
        );
        return PhaseLimits::new();
    }
    let Value::Map(items) = &node.value else {
        ctx.problem(
            node,
            path,
            format!(
                "expected a mapping of phase names to `{{warn, fail}}`, found {}",
                node.value.type_name()
            ),
        );
        return PhaseLimits::new();
    };
    let mut limits = PhaseLimits::new();
    for (key, value) in items {
        let item_path = crate::reader::yaml::join(path, &key.name);
        let Some(name) = PhaseName::from_name(&key.name).filter(|p| entry.phases.contains(p))
        else {
            let names: Vec<&str> = entry.phases.iter().map(|p| p.as_str()).collect();
            ctx.problems.at_key(
                key,
                &item_path,
                format!(
                    "unknown phase `{}` for {} checks (phases: {})",
                    key.name,
                    entry.kind,
                    names.join(", ")
                ),
            );
            continue;
        };
        if let Some(limit) = read_phase_limit(value, &item_path, ctx) {
            limits.push((name, limit));
        }
    }
    limits
}

/// One phase's `{warn: DURATION, fail: DURATION}`.
fn read_phase_limit(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<PhaseLimit> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let mut limit = PhaseLimit::default();
    if let Some((n, p)) = r.take("warn") {
        limit.warn = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("fail") {
        limit.fail = ctx.duration(n, &p);
    }
    r.finish(&keys::names(keys::PHASE_LIMIT_FIELDS), ctx.problems);
    if let (Some(w), Some(f)) = (limit.warn, limit.fail)
        && w > f
    {
        ctx.problem(node, path, "`warn` must not be greater than `fail`");
    }
    Some(limit)
}

/// A check's latency thresholds: its own `warn_latency` / `fail_latency` over the defaults',
/// over the kind's default `warn_latency`. A kind without latency ([`Kind::LATENCY`]) rejects
/// both keys, each at its position, and ignores the defaults' thresholds.
///
/// [`Kind::LATENCY`]: crate::checks::Kind::LATENCY
fn read_thresholds(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    entry: &KindEntry,
    (node, path): (&Node, &str),
) -> Thresholds {
    let (kind, latency) = (entry.kind, entry.latency);
    let mut thresholds = Thresholds {
        warn_latency: defaults.warn_latency.filter(|_| latency),
        fail_latency: defaults.fail_latency.filter(|_| latency),
    };
    for (key, slot) in [
        ("warn_latency", &mut thresholds.warn_latency),
        ("fail_latency", &mut thresholds.fail_latency),
    ] {
        let Some((n, p)) = r.take(key) else {
            continue;
        };
        if latency {
            *slot = ctx.duration(n, &p);
        } else {
            ctx.problem(n, &p, format!("`{key}` is not supported for {kind} checks"));
        }
    }
    if let (Some(w), Some(f)) = (thresholds.warn_latency, thresholds.fail_latency)
        && w > f
    {
        ctx.problem(
            node,
            path,
            "`warn_latency` must not be greater than `fail_latency`",
        );
    }
    // The kind's default is no setting of the check's: it is not compared with `fail_latency`.
    if thresholds.warn_latency.is_none() {
        thresholds.warn_latency = entry.default_warn_latency;
    }
    thresholds
}

/// `depends_on: [names]` (a single name is accepted too), each entry with its position.
fn read_depends_on(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Vec<Dependency> {
    list_items(node, path, ctx, "check names")
        .into_iter()
        .filter_map(|(item, item_path)| {
            let name = ctx.non_empty(item, &item_path)?;
            Some(Dependency {
                name,
                location: Location {
                    file: Arc::clone(item.file.name()),
                    line: item.line,
                    column: item.column,
                },
                path: item_path,
            })
        })
        .collect()
}

/// `tags: [names]` (a single tag is accepted too): each a word without whitespace or commas
/// (`--tags a,b` splits on commas), each problem at its entry; a repeated tag is kept once.
fn read_tags(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Vec<String> {
    let items = list_items(node, path, ctx, "tags");
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for (item, item_path) in items {
        let Some(tag) = ctx.non_empty(item, &item_path) else {
            continue;
        };
        if tag.contains(|c: char| c == ',' || c.is_whitespace()) {
            ctx.problem(
                item,
                &item_path,
                "a tag must not contain a space or a comma (`--tags a,b` splits on commas)",
            );
        } else if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// What the cross-check rules (unique names, `depends_on`) need of a check. Gathered for every
/// check that has a name, also when the rest of it is invalid, so one `validate` reports every
/// problem at once.
#[derive(Debug, Clone)]
pub(super) struct CheckHeader {
    pub(super) name: String,
    pub(super) location: Location,
    pub(super) depends_on: Vec<Dependency>,
}

/// The entries of a list key that also takes a single scalar, each with its path; a mapping or
/// null is a problem (`expected a list of WHAT`) and gives no entries.
fn list_items<'n>(
    node: &'n Node,
    path: &str,
    ctx: &mut Ctx<'_>,
    what: &str,
) -> Vec<(&'n Node, String)> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (item, format!("{path}[{i}]")))
            .collect(),
        Value::Map(_) | Value::Null => {
            ctx.problem(
                node,
                path,
                format!(
                    "expected a list of {what}, found {}",
                    node.value.type_name()
                ),
            );
            Vec::new()
        }
        _ => vec![(node, path.to_owned())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::yaml;

    /// The thresholds read from `text` for a kind that takes latency or not, and the problems.
    fn thresholds(text: &str, latency: bool) -> (Thresholds, Vec<String>) {
        let root = yaml::parse("c.yaml", text).unwrap();
        let defaults = Defaults {
            warn_latency: Some(Duration::from_secs(1)),
            ..Defaults::default()
        };
        let entry = KindEntry {
            kind: "k",
            latency,
            default_warn_latency: None,
            ..REGISTRY[0]
        };
        let (t, problems) = crate::testing::read_mapping(&root, |mut r, ctx| {
            let t = read_thresholds(&mut r, ctx, defaults, &entry, (&root, "c"));
            r.finish(&keys::common_check_keys(), ctx.problems);
            t
        });
        let list = problems
            .list
            .iter()
            .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
            .collect();
        (t, list)
    }

    #[test]
    fn a_kind_with_latency_reads_its_thresholds_over_the_defaults() {
        let (t, problems) = thresholds("fail_latency: 3s\n", true);
        assert_eq!(t.warn_latency, Some(Duration::from_secs(1)));
        assert_eq!(t.fail_latency, Some(Duration::from_secs(3)));
        assert!(problems.is_empty(), "{problems:?}");
        let (_, problems) = thresholds("warn_latency: 5s\nfail_latency: 3s\n", true);
        assert_eq!(
            problems,
            ["1:1: `warn_latency` must not be greater than `fail_latency`"]
        );
    }

    #[test]
    fn a_kind_without_latency_rejects_the_keys_and_ignores_the_defaults() {
        let (t, problems) = thresholds("warn_latency: 1s\nfail_latency: 2s\n", false);
        assert_eq!((t.warn_latency, t.fail_latency), (None, None));
        assert_eq!(
            problems,
            [
                "1:15: `warn_latency` is not supported for k checks",
                "2:15: `fail_latency` is not supported for k checks"
            ]
        );
        let (t, problems) = thresholds("{}", false);
        assert_eq!((t.warn_latency, t.fail_latency), (None, None));
        assert!(problems.is_empty(), "{problems:?}");
    }
}
