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
//!
//! By job: this file reads the top level; `environment` one environment into a [`Plan`];
//! `checks` the `<kind>_checks` lists through the kind registry; `defaults` the layered
//! defaults; `dependencies` the rules across checks; `secrets` what is never echoed;
//! `keys` declares every key outside the kinds once, for the readers and [`schema`].

mod alerts;
mod checks;
mod defaults;
mod dependencies;
mod environment;
mod include;
mod keys;
mod lists;
pub mod schema;
mod secrets;
mod targets;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use self::alerts::{Alerts, Webhook, WebhookFormat};
use self::defaults::{Defaults, positive, read_defaults};
pub use self::dependencies::Dependencies;
use crate::checks::CheckDef;
use crate::reader::ctx::{self, Ctx};
pub use crate::reader::error::{ConfigError, Problem};
use crate::reader::interpolate::{EnvUse, Interpolator};
pub use crate::reader::interpolate::{Environment, ProcessEnvironment};
use crate::reader::source::Source;
use crate::reader::yaml::{self, Key, MapReader, Node, Problems, UnsetEnv};
use crate::waiver::Waiver;

/// Default per-check timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default concurrency when the config sets none.
pub const DEFAULT_CONCURRENCY: usize = 50;

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
    /// The `depends_on` graph of `checks`, by position in `checks`: a step that keeps part of
    /// the checks (a selection, a shard) keeps the graph among them ([`Dependencies::within`]).
    pub dependencies: Dependencies,
    /// Secret values to redact from every output.
    pub secrets: Vec<String>,
    /// Variables holding a secret too short to mask ([`crate::redact::MIN_SECRET_CHARS`]):
    /// the run warns about them by name.
    pub short_secrets: Vec<String>,
    /// The top-level `waivers:`, in config order.
    pub waivers: Vec<Waiver>,
    /// The top-level `alerts:` (read by `serve`).
    pub alerts: Option<Alerts>,
}

/// A config read by [`lint`]: the plans of the checks that could be read in full, and the
/// notes about what could not be checked (unset variables), each with its position.
#[derive(Debug)]
pub struct Linted {
    /// The plans (checks missing an unset value are left out).
    pub plans: Vec<Plan>,
    /// One note per value left unknown, in file order.
    pub notes: Vec<Problem>,
}

/// Read and validate a config file. With `only_env`, only that environment is validated and
/// returned; otherwise every environment is. An unset `${VAR}` without a default is an error.
pub fn load(
    path: &str,
    only_env: Option<&str>,
    env: &dyn Environment,
) -> Result<Vec<Plan>, ConfigError> {
    let root = parse_file(path)?;
    load_tree(path, root, only_env, env, UnsetEnv::Problem).map(|l| l.plans)
}

/// [`load`] for linting: an unset `${VAR}` without a default is a note, not an error, so a
/// config can be validated without the secrets of the job that runs it.
pub fn lint(
    path: &str,
    only_env: Option<&str>,
    env: &dyn Environment,
) -> Result<Linted, ConfigError> {
    let root = parse_file(path)?;
    load_tree(path, root, only_env, env, UnsetEnv::Note)
}

/// The tree of the file at `path`; its text is let go before the plan is built.
fn parse_file(path: &str) -> Result<Node, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    yaml::parse(path, &text)
}

/// [`load`] from text already in memory; `file` is used in messages and locations.
pub fn load_str(
    file: &str,
    text: &str,
    only_env: Option<&str>,
    env: &dyn Environment,
) -> Result<Vec<Plan>, ConfigError> {
    let root = yaml::parse(file, text)?;
    load_tree(file, root, only_env, env, UnsetEnv::Problem).map(|l| l.plans)
}

fn load_tree(
    file: &str,
    mut root: Node,
    only_env: Option<&str>,
    env: &dyn Environment,
    unset_env: UnsetEnv,
) -> Result<Linted, ConfigError> {
    let mut problems = Problems {
        unset_env,
        ..Problems::default()
    };
    yaml::apply_merge_keys(&mut root, "", &mut problems);
    let before = problems.list.len();
    let (mut root, files) = include::resolve(file, root, &mut problems)?;
    let used = RefCell::new(Vec::new());
    let env = crate::reader::interpolate::Memo::new(env);
    // Checks read from a tree whose includes failed would only add confusing problems.
    let plans = if problems.list.len() == before {
        build(
            file,
            &mut root,
            &files,
            only_env,
            &env,
            &mut problems,
            &used,
        )?
    } else {
        Vec::new()
    };
    let used = used.into_inner();
    if problems.list.is_empty() {
        let mut notes = problems.notes;
        let mut seen = HashSet::new();
        notes.retain(|p| seen.insert((p.file.clone(), p.line, p.column, p.message.clone())));
        notes.sort_by_key(|p| (file_order(&files, p.file.name()), p.line, p.column));
        return Ok(Linted { plans, notes });
    }
    let mut seen = HashSet::new();
    let mut list: Vec<Problem> = problems
        .list
        .into_iter()
        .map(|mut p| {
            p.message = secrets::hide_env_values(&p.message, &used);
            p
        })
        .filter(|p| seen.insert((p.file.clone(), p.line, p.column, p.message.clone())))
        .collect();
    list.sort_by_key(|p| (file_order(&files, p.file.name()), p.line, p.column));
    Err(ConfigError::Invalid {
        file: file.to_owned(),
        problems: list,
    })
}

/// The place of `file` among the files read (the main config first, then each include in
/// the order read): the config order across files.
fn file_order(files: &[Source], file: &Arc<str>) -> usize {
    files
        .iter()
        .position(|s| Arc::ptr_eq(s.name(), file) || **s.name() == **file)
        .unwrap_or(usize::MAX)
}

/// What the top level of the file gives every environment.
struct TopLevel<'a> {
    /// The files read, in config order (the main config first).
    files: &'a [Source],
    env: &'a dyn Environment,
    used: &'a RefCell<Vec<EnvUse>>,
    /// The names listed under `secrets:`.
    declared_secrets: Vec<String>,
    /// Secret values found so far.
    secrets: Vec<String>,
    vars: BTreeMap<String, String>,
    /// Top-level vars whose value uses an unset variable (validate's notes).
    pending: Vec<String>,
    defaults: Defaults,
    waivers: Vec<Waiver>,
    alerts: Option<Alerts>,
    /// The shared `checks:` block.
    shared: Option<(&'a Node, String)>,
}

/// Read the top level of `root` and each environment (only `only_env` when given) into its
/// plan: the top-level keys first, then the environments with what the top level gives them.
/// `environments:` is taken out of the tree first, so that each environment's own check lists
/// can be consumed as its plan is built ([`environment::read`]).
fn build<'a>(
    file: &'a str,
    root: &'a mut Node,
    files: &'a [Source],
    only_env: Option<&str>,
    env: &'a dyn Environment,
    problems: &mut Problems,
    used: &'a RefCell<Vec<EnvUse>>,
) -> Result<Vec<Plan>, ConfigError> {
    let envs_node = take_environments(root);
    let root: &'a Node = root;
    let Some(mut reader) = MapReader::new(root, "", problems) else {
        return Ok(Vec::new());
    };
    let (declared_secrets, mut secrets) = read_secrets(&mut reader, env, used, problems);
    let no_vars = BTreeMap::new();
    let base_interp = Interpolator {
        env,
        vars: &no_vars,
        declared_secrets: &declared_secrets,
        pending: &[],
        used,
    };
    let mut ctx = Ctx {
        problems,
        interp: &base_interp,
        secrets: &mut secrets,
    };
    let defaults = read_top_defaults(&mut reader, &mut ctx);
    let (vars, pending) = read_top_vars(&mut reader, &mut ctx);
    let waivers = reader
        .take("waivers")
        .map(|(node, path)| crate::waiver::read(node, &path, &mut ctx))
        .unwrap_or_default();
    let alerts = reader
        .take("alerts")
        .and_then(|(node, path)| alerts::read(node, &path, &mut ctx));
    let shared = reader.take("checks");
    // The key is taken from the tree (it is known); its value is the node taken out above.
    let mut envs = reader
        .take("environments")
        .and_then(|(_, path)| envs_node.map(|n| (n, path)));
    let mut known = keys::names(keys::TOP_FIELDS);
    known.extend(keys::TOP_CHECK_KEYS);
    reader.finish(&known, problems);
    let Some((entries, envs_path)) =
        environment_entries(file, root, envs.as_mut(), only_env, problems)?
    else {
        return Ok(Vec::new());
    };
    let top = TopLevel {
        files,
        env,
        used,
        declared_secrets,
        secrets,
        vars,
        pending,
        defaults,
        waivers,
        alerts,
        shared,
    };
    let env_names: Vec<&str> = entries
        .iter()
        .map(|(k, _)| {
            let k: &Key = k;
            k.name.as_str()
        })
        .collect();
    let mut plans = Vec::new();
    for (key, env_node) in entries {
        if only_env.is_some_and(|w| w != key.name) {
            continue;
        }
        let env_path = yaml::join(&envs_path, &key.name);
        if let Some(plan) = environment::read(&top, key, env_node, &env_path, &env_names, problems)
        {
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// `secrets:`: (the names it declares, the secret values known so far: the well-known
/// variables' and the declared ones').
fn read_secrets(
    reader: &mut MapReader<'_>,
    env: &dyn Environment,
    used: &RefCell<Vec<EnvUse>>,
    problems: &mut Problems,
) -> (Vec<String>, Vec<String>) {
    let mut secrets = secrets::well_known(env, used);
    let mut declared_secrets: Vec<String> = Vec::new();
    if let Some((node, path)) = reader.take("secrets") {
        // The list itself is read without `${…}`: it names variables, it does not use them.
        let no_vars = BTreeMap::new();
        let plain = Interpolator {
            env: &|_: &str| None::<String>,
            vars: &no_vars,
            declared_secrets: &[],
            pending: &[],
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
        secrets.extend(secrets::declared(&declared_secrets, env, used));
    }
    (declared_secrets, secrets)
}

/// The top-level concurrency keys and `defaults:`. Concurrency: `max_workers` (the first config
/// format) or `concurrency`, not both; and a limit set at the top level is not set again in
/// `defaults`.
fn read_top_defaults(reader: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Defaults {
    let mut top_defaults = Defaults::default();
    for key in ["max_workers", "concurrency"] {
        if let Some((node, path)) = reader.take(key) {
            if top_defaults.concurrency.is_some() {
                ctx.problem(
                    node,
                    &path,
                    "set either `max_workers` or `concurrency`, not both",
                );
            } else if let Some(n) = positive(ctx, node, &path) {
                top_defaults.concurrency = Some(n);
            }
        }
    }
    if let Some((node, path)) = reader.take("per_host_concurrency") {
        top_defaults.per_host_concurrency = positive(ctx, node, &path);
    }
    let Some((node, path)) = reader.take("defaults") else {
        return top_defaults;
    };
    let d = read_defaults(node, &path, ctx);
    for (what, top_set, defaults_set) in [
        (
            "concurrency",
            top_defaults.concurrency.is_some(),
            d.concurrency.is_some(),
        ),
        (
            "per_host_concurrency",
            top_defaults.per_host_concurrency.is_some(),
            d.per_host_concurrency.is_some(),
        ),
    ] {
        if top_set && defaults_set {
            ctx.problem(
                node,
                &path,
                format!("{what} is set both at the top level and in `defaults`"),
            );
        }
    }
    top_defaults.overlay(d)
}

/// The top-level `vars:`: (vars, vars whose value uses an unset variable).
fn read_top_vars(
    reader: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut vars = BTreeMap::new();
    let mut pending = Vec::new();
    if let Some((node, path)) = reader.take("vars") {
        ctx::read_vars(
            node,
            &path,
            ctx.interp,
            ctx.problems,
            ctx.secrets,
            (&mut vars, &mut pending),
        );
    }
    (vars, pending)
}

/// The value of the root's first `environments` key, taken out of the tree (a `null` left in
/// its place, at its position); `None` when the root is no mapping or has no such key.
fn take_environments(root: &mut Node) -> Option<Node> {
    let yaml::Value::Map(entries) = &mut root.value else {
        return None;
    };
    let (_, node) = entries.iter_mut().find(|(k, _)| k.name == "environments")?;
    let placeholder = Node {
        value: yaml::Value::Null,
        line: node.line,
        column: node.column,
        file: node.file.clone(),
    };
    Some(std::mem::replace(node, placeholder))
}

/// The entries of `environments:`: each environment's key and mapping (mutable: each
/// environment's check lists are consumed as they are read).
type EnvEntries<'a> = Vec<(&'a Key, &'a mut Node)>;

/// The entries of `environments:` (`envs`, its node and path) without the `x-…` keys that hold
/// anchors, with its path; `None` when it is missing or not a mapping (a problem is recorded).
/// Asking for an environment the file does not define is an error of its own.
fn environment_entries<'a>(
    file: &str,
    root: &Node,
    envs: Option<&'a mut (Node, String)>,
    only_env: Option<&str>,
    problems: &mut Problems,
) -> Result<Option<(EnvEntries<'a>, String)>, ConfigError> {
    let Some((envs_node, envs_path)) = envs else {
        problems.at(
            root,
            "",
            "missing `environments` (a mapping of environment names to their checks)",
        );
        return Ok(None);
    };
    let envs_path = envs_path.clone();
    // What the reader of a mapping says of anything else.
    if MapReader::new(envs_node, &envs_path, problems).is_none() {
        return Ok(None);
    }
    // `x-…` under `environments:` holds anchors, not an environment.
    let count = match &envs_node.value {
        yaml::Value::Map(map) => map
            .iter()
            .filter(|(k, _)| !yaml::is_extension_key(&k.name))
            .count(),
        _ => 0,
    };
    if count == 0 {
        problems.at(envs_node, &envs_path, "no environments defined");
    }
    let entries: EnvEntries<'a> = match &mut envs_node.value {
        yaml::Value::Map(map) => map
            .iter_mut()
            .filter(|(k, _)| !yaml::is_extension_key(&k.name))
            .map(|(k, v)| (&*k, v))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(wanted) = only_env
        && !entries.iter().any(|(k, _)| k.name == wanted)
    {
        return Err(ConfigError::UnknownEnvironment {
            file: file.to_owned(),
            name: wanted.to_owned(),
            known: entries.iter().map(|(k, _)| k.name.clone()).collect(),
        });
    }
    Ok(Some((entries, envs_path)))
}

/// The message for an environment that selects no checks (also used by `run` and `merge`).
pub fn no_checks(environment: &str) -> String {
    format!("environment {environment} has no checks")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_line_breaks_gives_one_line_per_problem() {
        // Found by the `config` fuzz target: a quoted key holding CR/LF made multi-line errors.
        let err = load_str(
            "t.yaml",
            "\"a\\r\\n::error::x\": 1\nenvironments: {p: {command_checks: [{name: x, command: [\"true\"]}]}}\n",
            None,
            &|_: &str| None::<String>,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("t.yaml:1:1: "), "{err}");
        assert!(err.contains("\\r\\n::error::x"), "{err}");
    }
}
