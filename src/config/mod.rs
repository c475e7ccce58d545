//! The configuration file: parse the YAML with positions, validate every key, interpolate
//! `${…}`, apply defaults and produce one [`Plan`] per environment that cannot be invalid.
//!
//! Layout of `infracheck.yaml`:
//! ```yaml
//! max_workers: 10            # or `concurrency:`
//! per_host_concurrency: 20   # opt-in: at most this many checks in flight against one host
//! defaults: {timeout: 10s, retries: 0, retry_delay: 1s, warn_latency: 2s, fail_latency: 5s}
//! secrets: [API_TOKEN]       # env vars whose values are never printed
//! vars: {domain: example.com}
//! checks:                    # written once, run in every environment (or `environments:`)
//!   http_checks: [...]
//! environments:
//!   prod:
//!     vars: {host: api.example.com}
//!     defaults: {...}
//!     http_checks: [...]
//! ```

pub mod schema;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::checks::{CheckDef, CheckSpec, Dependency, KINDS, Thresholds};
use crate::model::Location;
pub use crate::spec::error::{ConfigError, Problem};
use crate::spec::fields::{self, Ctx};
use crate::spec::interpolate::{self, EnvUse, Interpolator};
use crate::spec::yaml::{self, MapReader, Node, Problems, Value};
use crate::waiver::Waiver;

/// Default per-check timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default concurrency when the config sets none.
pub const DEFAULT_CONCURRENCY: usize = 50;
/// Default HTTP latency warning threshold (the first config format's default).
pub const DEFAULT_WARN_LATENCY: Duration = Duration::from_millis(2000);

const TOP_KEYS: &[&str] = &[
    "max_workers",
    "concurrency",
    "per_host_concurrency",
    "defaults",
    "secrets",
    "vars",
    "checks",
    "environments",
    "waivers",
];
const DEFAULT_KEYS: &[&str] = &[
    "timeout",
    "retries",
    "retry_delay",
    "warn_latency",
    "fail_latency",
    "concurrency",
    "per_host_concurrency",
];
/// The keys of an environment besides its `<kind>_checks` lists.
const ENVIRONMENT_KEYS: &[&str] = &[
    "vars",
    "defaults",
    "concurrency",
    "max_workers",
    "per_host_concurrency",
];
const COMMON_CHECK_KEYS: &[&str] = &[
    "name",
    "timeout",
    "retries",
    "retry_delay",
    "warn_latency",
    "fail_latency",
    "environments",
    "depends_on",
];

/// The checks of one environment, defaults applied, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment's name.
    pub environment: String,
    /// Maximum checks in flight.
    pub concurrency: usize,
    /// Maximum checks in flight against one host; `None` (the default): no per-host limit,
    /// `concurrency` alone bounds the checks in flight.
    pub per_host_concurrency: Option<usize>,
    /// Checks in config order (shared checks first, then the environment's own).
    pub checks: Vec<CheckDef>,
    /// Secret values to redact from every output.
    pub secrets: Vec<String>,
    /// Variables holding a secret too short to mask ([`crate::redact::MIN_SECRET_CHARS`]):
    /// the run warns about them by name.
    pub short_secrets: Vec<String>,
    /// The top-level `waivers:`, in config order.
    pub waivers: Vec<Waiver>,
}

/// Defaults that apply to checks, layered top-level → environment → check.
#[derive(Debug, Clone, Copy, Default)]
struct Defaults {
    timeout: Option<Duration>,
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    warn_latency: Option<Duration>,
    fail_latency: Option<Duration>,
    concurrency: Option<usize>,
    per_host_concurrency: Option<usize>,
}

impl Defaults {
    fn overlay(self, top: Defaults) -> Defaults {
        Defaults {
            timeout: top.timeout.or(self.timeout),
            retries: top.retries.or(self.retries),
            retry_delay: top.retry_delay.or(self.retry_delay),
            warn_latency: top.warn_latency.or(self.warn_latency),
            fail_latency: top.fail_latency.or(self.fail_latency),
            concurrency: top.concurrency.or(self.concurrency),
            per_host_concurrency: top.per_host_concurrency.or(self.per_host_concurrency),
        }
    }
}

/// Read and validate a config file. With `only_env`, only that environment is validated and
/// returned; otherwise every environment is.
pub fn load(
    path: &str,
    only_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Plan>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(path, &text, only_env, env)
}

/// [`load`] from text already in memory; `file` is used in messages and locations.
pub fn load_str(
    file: &str,
    text: &str,
    only_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Plan>, ConfigError> {
    let mut root = yaml::parse(file, text)?;
    let mut problems = Problems::default();
    yaml::apply_merge_keys(&mut root, "", &mut problems);
    let used = RefCell::new(Vec::new());
    let plans = build(file, &root, only_env, env, &mut problems, &used)?;
    if problems.list.is_empty() {
        return Ok(plans);
    }
    let used = used.into_inner();
    let mut seen = HashSet::new();
    let mut list: Vec<Problem> = problems
        .list
        .into_iter()
        .map(|mut p| {
            p.message = hide_env_values(&p.message, &used);
            p
        })
        .filter(|p| seen.insert((p.line, p.column, p.message.clone())))
        .collect();
    list.sort_by_key(|p| (p.line, p.column));
    Err(ConfigError::Invalid {
        file: file.to_owned(),
        problems: list,
    })
}

/// A config problem never echoes a value that came from the process environment: each one
/// (in any letter case) is shown as the `${NAME}` reference it came from. A value too short to
/// search for safely is replaced only where it is a whole `quoted` value.
fn hide_env_values(message: &str, used: &[EnvUse]) -> String {
    let mut uses: Vec<&EnvUse> = used.iter().filter(|u| !u.value.is_empty()).collect();
    uses.sort_by(|a, b| b.value.len().cmp(&a.value.len()).then(a.name.cmp(&b.name)));
    uses.dedup_by(|a, b| a.value == b.value);
    let mut out = message.to_owned();
    for u in uses {
        let reference = format!("${{{}}}", u.name);
        let long = u.value.chars().count() >= crate::redact::MIN_SECRET_CHARS;
        let pattern = if long {
            format!("(?i){}", regex::escape(&u.value))
        } else {
            format!("(?i)`{}`", regex::escape(&u.value))
        };
        let Ok(re) = regex::Regex::new(&pattern) else {
            continue;
        };
        let with = if long {
            reference
        } else {
            format!("`{reference}`")
        };
        out = re.replace_all(&out, regex::NoExpand(&with)).into_owned();
    }
    out
}

fn build(
    file: &str,
    root: &Node,
    only_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
    used: &RefCell<Vec<EnvUse>>,
) -> Result<Vec<Plan>, ConfigError> {
    let Some(mut top) = MapReader::new(root, "", problems) else {
        return Ok(Vec::new());
    };
    let no_vars = BTreeMap::new();
    let mut declared_secrets: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();
    // Well-known credentials are secrets whenever they are set, used by the config or not.
    for name in interpolate::WELL_KNOWN_SECRETS {
        if let Some(value) = env(name).filter(|v| !v.is_empty()) {
            secrets.push(value.clone());
            used.borrow_mut().push(EnvUse {
                name: (*name).to_owned(),
                value,
                secret: true,
            });
        }
    }

    if let Some((node, path)) = top.take("secrets") {
        let plain = Interpolator {
            env: &|_| None,
            vars: &no_vars,
            declared_secrets: &[],
            used,
        };
        let mut ctx = Ctx {
            problems,
            interp: &plain,
            secrets: &mut secrets,
        };
        if let Some(list) = ctx.string_list(node, &path) {
            declared_secrets = list;
        }
    }
    let base_interp = Interpolator {
        env,
        vars: &no_vars,
        declared_secrets: &declared_secrets,
        used,
    };

    // Concurrency: `max_workers` (the first config format) or `concurrency`, not both.
    let mut top_defaults = Defaults::default();
    for key in ["max_workers", "concurrency"] {
        if let Some((node, path)) = top.take(key) {
            let mut ctx = Ctx {
                problems,
                interp: &base_interp,
                secrets: &mut secrets,
            };
            if top_defaults.concurrency.is_some() {
                ctx.problem(
                    node,
                    &path,
                    "set either `max_workers` or `concurrency`, not both",
                );
            } else if let Some(n) = positive(&mut ctx, node, &path) {
                top_defaults.concurrency = Some(n);
            }
        }
    }
    if let Some((node, path)) = top.take("per_host_concurrency") {
        let mut ctx = Ctx {
            problems,
            interp: &base_interp,
            secrets: &mut secrets,
        };
        top_defaults.per_host_concurrency = positive(&mut ctx, node, &path);
    }
    if let Some((node, path)) = top.take("defaults") {
        let mut ctx = Ctx {
            problems,
            interp: &base_interp,
            secrets: &mut secrets,
        };
        let d = read_defaults(node, &path, &mut ctx);
        if top_defaults.concurrency.is_some() && d.concurrency.is_some() {
            ctx.problem(
                node,
                &path,
                "concurrency is set both at the top level and in `defaults`",
            );
        }
        if top_defaults.per_host_concurrency.is_some() && d.per_host_concurrency.is_some() {
            ctx.problem(
                node,
                &path,
                "per_host_concurrency is set both at the top level and in `defaults`",
            );
        }
        top_defaults = top_defaults.overlay(d);
    }
    let mut top_vars = BTreeMap::new();
    if let Some((node, path)) = top.take("vars") {
        fields::read_vars(
            node,
            &path,
            &base_interp,
            problems,
            &mut secrets,
            &mut top_vars,
        );
    }
    let mut waivers = Vec::new();
    if let Some((node, path)) = top.take("waivers") {
        let mut ctx = Ctx {
            problems,
            interp: &base_interp,
            secrets: &mut secrets,
        };
        waivers = crate::waiver::read(file, node, &path, &mut ctx);
    }
    let shared = top.take("checks");
    let envs = top.take("environments");
    top.finish(TOP_KEYS, problems);

    let Some((envs_node, envs_path)) = envs else {
        problems.at(
            root,
            "",
            "missing `environments` (a mapping of environment names to their checks)",
        );
        return Ok(Vec::new());
    };
    let Some(mut envs_reader) = MapReader::new(envs_node, &envs_path, problems) else {
        return Ok(Vec::new());
    };
    let mut env_entries = envs_reader.take_rest();
    // `x-…` under `environments:` holds anchors, not an environment.
    env_entries.retain(|(k, _)| !yaml::is_extension_key(&k.name));
    if env_entries.is_empty() {
        problems.at(envs_node, &envs_path, "no environments defined");
    }
    if let Some(wanted) = only_env
        && !env_entries.iter().any(|(k, _)| k.name == wanted)
    {
        return Err(ConfigError::UnknownEnvironment {
            file: file.to_owned(),
            name: wanted.to_owned(),
            known: env_entries.iter().map(|(k, _)| k.name.clone()).collect(),
        });
    }
    let env_names: Vec<&str> = env_entries.iter().map(|(k, _)| k.name.as_str()).collect();

    let mut plans = Vec::new();
    for (key, env_node) in &env_entries {
        if only_env.is_some_and(|w| w != key.name) {
            continue;
        }
        let env_path = yaml::join(&envs_path, &key.name);
        let Some(mut reader) = MapReader::new(env_node, &env_path, problems) else {
            continue;
        };
        let mut env_secrets = secrets.clone();
        let mut vars = top_vars.clone();
        if let Some((node, path)) = reader.take("vars") {
            fields::read_vars(
                node,
                &path,
                &base_interp,
                problems,
                &mut env_secrets,
                &mut vars,
            );
        }
        let interp = Interpolator {
            env,
            vars: &vars,
            declared_secrets: &declared_secrets,
            used,
        };
        let mut ctx = Ctx {
            problems,
            interp: &interp,
            secrets: &mut env_secrets,
        };
        let mut defaults = top_defaults;
        if let Some((node, path)) = reader.take("defaults") {
            defaults = defaults.overlay(read_defaults(node, &path, &mut ctx));
        }
        for k in ["concurrency", "max_workers"] {
            if let Some((node, path)) = reader.take(k)
                && let Some(n) = positive(&mut ctx, node, &path)
            {
                defaults.concurrency = Some(n);
            }
        }
        if let Some((node, path)) = reader.take("per_host_concurrency")
            && let Some(n) = positive(&mut ctx, node, &path)
        {
            defaults.per_host_concurrency = Some(n);
        }

        let problems_before = ctx.problems.list.len();
        let mut checks = Vec::new();
        let mut headers = Vec::new();
        if let Some((shared_node, shared_path)) = &shared
            && let Some(mut shared_reader) = MapReader::new(shared_node, shared_path, ctx.problems)
        {
            read_kind_lists(
                file,
                &mut shared_reader,
                &mut ctx,
                defaults,
                Some((&key.name, &env_names)),
                &mut checks,
                &mut headers,
            );
            let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            shared_reader.finish(&kinds, ctx.problems);
        }
        read_kind_lists(
            file,
            &mut reader,
            &mut ctx,
            defaults,
            None,
            &mut checks,
            &mut headers,
        );
        let mut known: Vec<&str> = ENVIRONMENT_KEYS.to_vec();
        known.extend(KINDS.iter().map(|(k, _)| *k));
        reader.finish(&known, ctx.problems);

        // A run of nothing would pass: an environment without checks is a mistake (a typo in
        // a list key is reported above, so this is said only when nothing else was wrong).
        if checks.is_empty() && ctx.problems.list.len() == problems_before {
            ctx.problems.list.push(Problem {
                line: key.line,
                column: key.column,
                path: String::new(),
                message: no_checks(&key.name),
            });
        }
        check_unique_names(&headers, ctx.problems);
        check_dependencies(&headers, ctx.problems);
        env_secrets.retain(|s| !s.is_empty());
        env_secrets.sort();
        env_secrets.dedup();
        plans.push(Plan {
            environment: key.name.clone(),
            concurrency: defaults.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
            per_host_concurrency: defaults.per_host_concurrency,
            checks,
            secrets: env_secrets,
            short_secrets: short_secret_names(&used.borrow()),
            waivers: waivers.clone(),
        });
    }
    Ok(plans)
}

/// The message for an environment that selects no checks (also used by `run` and `merge`).
pub fn no_checks(environment: &str) -> String {
    format!("environment {environment} has no checks")
}

/// Names of the secret variables whose values are too short to be masked.
fn short_secret_names(used: &[EnvUse]) -> Vec<String> {
    let mut names: Vec<String> = used
        .iter()
        .filter(|u| {
            u.secret
                && !u.value.is_empty()
                && u.value.chars().count() < crate::redact::MIN_SECRET_CHARS
        })
        .map(|u| u.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn positive(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<usize> {
    let n = ctx.uint(node, path, 100_000)?;
    if n == 0 {
        ctx.problem(node, path, "must be at least 1");
        return None;
    }
    usize::try_from(n).ok()
}

fn read_defaults(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Defaults {
    let mut d = Defaults::default();
    let Some(mut r) = MapReader::new(node, path, ctx.problems) else {
        return d;
    };
    if let Some((n, p)) = r.take("timeout") {
        d.timeout = positive_duration(ctx, n, &p);
    }
    if let Some((n, p)) = r.take("retries") {
        d.retries = ctx.uint(n, &p, 100).and_then(|v| u32::try_from(v).ok());
    }
    if let Some((n, p)) = r.take("retry_delay") {
        d.retry_delay = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("warn_latency") {
        d.warn_latency = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("fail_latency") {
        d.fail_latency = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("concurrency") {
        d.concurrency = positive(ctx, n, &p);
    }
    if let Some((n, p)) = r.take("per_host_concurrency") {
        d.per_host_concurrency = positive(ctx, n, &p);
    }
    r.finish(DEFAULT_KEYS, ctx.problems);
    d
}

fn positive_duration(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<Duration> {
    let d = ctx.duration(node, path)?;
    if d.is_zero() {
        ctx.problem(node, path, "must be greater than zero");
        return None;
    }
    Some(d)
}

/// Read every `<kind>_checks` list of a mapping. `shared` is set for the top-level `checks:`
/// block: (current environment, all environment names) for the `environments:` filter.
fn read_kind_lists(
    file: &str,
    reader: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    out: &mut Vec<CheckDef>,
    headers: &mut Vec<CheckHeader>,
) {
    let (first, first_header) = (out.len(), headers.len());
    read_kind_lists_in_key_order(file, reader, ctx, defaults, shared, out, headers);
    // Config file order, not kind order: the lists of a mapping may come in any order and a
    // reader expects the report to follow the file (a stable sort keeps ties as read).
    if let Some(mine) = out.get_mut(first..) {
        mine.sort_by_key(|c| (c.location.line, c.location.column));
    }
    if let Some(mine) = headers.get_mut(first_header..) {
        mine.sort_by_key(|c| (c.location.line, c.location.column));
    }
}

fn read_kind_lists_in_key_order(
    file: &str,
    reader: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    out: &mut Vec<CheckDef>,
    headers: &mut Vec<CheckHeader>,
) {
    for (list_key, kind) in KINDS {
        let Some((list_node, list_path)) = reader.take(list_key) else {
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
        for (i, item) in items.iter().enumerate() {
            let path = format!("{list_path}[{i}]");
            if let Some(check) = read_check(file, kind, item, &path, ctx, defaults, shared, headers)
            {
                out.push(check);
            }
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one reader step: the check's node, where it sits, and the run's context"
)]
fn read_check(
    file: &str,
    kind: &str,
    node: &Node,
    path: &str,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    shared: Option<(&str, &[&str])>,
    headers: &mut Vec<CheckHeader>,
) -> Option<CheckDef> {
    let mut r = MapReader::new(node, path, ctx.problems)?;
    let (line, column) = match &node.value {
        Value::Map(entries) => entries
            .first()
            .map_or((node.line, node.column), |(k, _)| (k.line, k.column)),
        _ => (node.line, node.column),
    };

    // The `environments:` filter of a shared check decides whether it belongs here at all.
    if let Some((n, p)) = r.take("environments") {
        match shared {
            Some((current, all)) => {
                let list = ctx.string_list(n, &p)?;
                for e in &list {
                    if !all.contains(&e.as_str()) {
                        ctx.problem(
                            n,
                            &p,
                            format!("unknown environment `{e}` (known: {})", all.join(", ")),
                        );
                    }
                }
                if !list.iter().any(|e| e == current) {
                    return None;
                }
            }
            None => ctx.problem(
                n,
                &p,
                "`environments` is only allowed on checks in the top-level `checks:` block",
            ),
        }
    }

    let name = match r.take("name") {
        Some((n, p)) => ctx.non_empty(n, &p),
        None => {
            ctx.problem(node, path, "missing required key `name`");
            None
        }
    };
    let mut timeout = defaults.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if let Some((n, p)) = r.take("timeout")
        && let Some(d) = positive_duration(ctx, n, &p)
    {
        timeout = d;
    }
    let mut retries = defaults.retries.unwrap_or(0);
    if let Some((n, p)) = r.take("retries")
        && let Some(v) = ctx.uint(n, &p, 100).and_then(|v| u32::try_from(v).ok())
    {
        retries = v;
    }
    let mut retry_delay = defaults.retry_delay.unwrap_or(Duration::from_secs(1));
    if let Some((n, p)) = r.take("retry_delay")
        && let Some(d) = ctx.duration(n, &p)
    {
        retry_delay = d;
    }
    let mut thresholds = Thresholds {
        warn_latency: defaults.warn_latency,
        fail_latency: defaults.fail_latency,
    };
    if let Some((n, p)) = r.take("warn_latency") {
        thresholds.warn_latency = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("fail_latency") {
        thresholds.fail_latency = ctx.duration(n, &p);
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

    let mut depends_on = Vec::new();
    if let Some((n, p)) = r.take("depends_on") {
        depends_on = read_depends_on(file, n, &p, ctx);
    }

    if let Some(name) = &name {
        headers.push(CheckHeader {
            name: name.clone(),
            location: Location {
                file: file.to_owned(),
                line,
                column,
            },
            depends_on: depends_on.clone(),
        });
    }
    let spec = CheckSpec::parse(kind, &mut r, ctx, thresholds);
    let mut known: Vec<&str> = COMMON_CHECK_KEYS.to_vec();
    known.extend(CheckSpec::known_keys(kind));
    r.finish(&known, ctx.problems);
    let (spec, target) = spec?;
    Some(CheckDef {
        name: name?,
        target,
        timeout,
        retries,
        retry_delay,
        location: Location {
            file: file.to_owned(),
            line,
            column,
        },
        depends_on,
        spec,
    })
}

/// `depends_on: [names]` (a single name is accepted too), each entry with its position.
fn read_depends_on(file: &str, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Vec<Dependency> {
    let items: Vec<(&Node, String)> = match &node.value {
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
                    "expected a list of check names, found {}",
                    node.value.type_name()
                ),
            );
            return Vec::new();
        }
        _ => vec![(node, path.to_owned())],
    };
    items
        .into_iter()
        .filter_map(|(item, item_path)| {
            let name = ctx.non_empty(item, &item_path)?;
            Some(Dependency {
                name,
                location: Location {
                    file: file.to_owned(),
                    line: item.line,
                    column: item.column,
                },
                path: item_path,
            })
        })
        .collect()
}

/// Every `depends_on` entry names a check of the same environment, and the dependencies form
/// no cycle (a check depending on itself included).
fn check_dependencies(checks: &[CheckHeader], problems: &mut Problems) {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in checks.iter().enumerate() {
        index.entry(c.name.as_str()).or_insert(i);
    }
    let problem = |problems: &mut Problems, d: &Dependency, message: String| {
        problems.list.push(Problem {
            line: d.location.line,
            column: d.location.column,
            path: d.path.clone(),
            message,
        });
    };
    // Resolved edges: check -> (dependency index, entry).
    let mut edges: Vec<Vec<(usize, &Dependency)>> = vec![Vec::new(); checks.len()];
    for (i, c) in checks.iter().enumerate() {
        for d in &c.depends_on {
            match index.get(d.name.as_str()) {
                None => {
                    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
                    let hint = yaml::closest(&d.name, &names)
                        .map(|best| format!(" (did you mean `{best}`?)"))
                        .unwrap_or_default();
                    problem(
                        problems,
                        d,
                        format!(
                            "`{}` depends on unknown check `{}` (no check of this environment has that name){hint}",
                            c.name, d.name
                        ),
                    );
                }
                Some(&j) if j == i => problem(
                    problems,
                    d,
                    format!("dependency cycle: `{}` depends on itself", c.name),
                ),
                Some(&j) => {
                    if let Some(e) = edges.get_mut(i) {
                        e.push((j, d));
                    }
                }
            }
        }
    }
    // Iterative depth-first search in config order; a back edge closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; checks.len()];
    let name = |i: usize| checks.get(i).map_or("?", |c| c.name.as_str());
    for root in 0..checks.len() {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(m) = mark.get_mut(root) {
            *m = Mark::Open;
        }
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&(dep, entry)) = edges.get(node).and_then(|e| e.get(*next)) else {
                if let Some(m) = mark.get_mut(node) {
                    *m = Mark::Done;
                }
                stack.pop();
                continue;
            };
            *next += 1;
            match mark.get(dep).copied() {
                Some(Mark::New) => {
                    if let Some(m) = mark.get_mut(dep) {
                        *m = Mark::Open;
                    }
                    stack.push((dep, 0));
                }
                Some(Mark::Open) => {
                    let start = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                    let mut cycle: Vec<String> = stack
                        .iter()
                        .skip(start)
                        .map(|(n, _)| format!("`{}`", name(*n)))
                        .collect();
                    cycle.push(format!("`{}`", name(dep)));
                    problem(
                        problems,
                        entry,
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    );
                }
                _ => {}
            }
        }
    }
}

/// What the cross-check rules (unique names, `depends_on`) need of a check. Gathered for every
/// check that has a name, also when the rest of it is invalid, so one `validate` reports every
/// problem at once.
#[derive(Debug, Clone)]
struct CheckHeader {
    name: String,
    location: Location,
    depends_on: Vec<Dependency>,
}

fn check_unique_names(checks: &[CheckHeader], problems: &mut Problems) {
    let mut first: BTreeMap<&str, &Location> = BTreeMap::new();
    for c in checks {
        if let Some(prev) = first.get(c.name.as_str()) {
            problems.list.push(Problem {
                line: c.location.line,
                column: c.location.column,
                path: String::new(),
                message: format!(
                    "duplicate check name `{}` (first defined at line {})",
                    c.name, prev.line
                ),
            });
        } else {
            first.insert(&c.name, &c.location);
        }
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    fn uses(list: &[(&str, &str, bool)]) -> Vec<EnvUse> {
        list.iter()
            .map(|(n, v, s)| EnvUse {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
                secret: *s,
            })
            .collect()
    }

    #[test]
    fn config_errors_show_the_reference_in_any_case() {
        let used = uses(&[("REDIS_PW", "S3nt1nel_RedisPW", true), ("M", "ab", false)]);
        assert_eq!(
            hide_env_values("found `s3nt1nel_redispw`, also S3NT1NEL_REDISPW", &used),
            "found `${REDIS_PW}`, also ${REDIS_PW}"
        );
        // A short value is replaced only where it is the whole quoted value.
        assert_eq!(
            hide_env_values("unsupported method `AB` (a tab)", &used),
            "unsupported method `${M}` (a tab)"
        );
    }

    #[test]
    fn short_secrets_are_named_once() {
        let used = uses(&[
            ("AUTH_RETRIES", "2", true),
            ("AUTH_RETRIES", "2", true),
            ("PORT", "80", false),
            ("API_TOKEN", "long-enough", true),
        ]);
        assert_eq!(short_secret_names(&used), vec!["AUTH_RETRIES".to_owned()]);
    }

    #[test]
    fn well_known_credentials_are_secrets_without_being_used() {
        let env = |k: &str| (k == "GITHUB_TOKEN").then(|| "ghp-token-value".to_owned());
        let plans = load_str(
            "c.yaml",
            "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 1}\n",
            None,
            &env,
        )
        .unwrap();
        assert_eq!(plans[0].secrets, vec!["ghp-token-value".to_owned()]);
    }
}
