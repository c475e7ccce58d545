//! One environment of `environments:`: its `vars`, `defaults` and concurrency keys, the shared
//! `checks:` that apply to it and its own `<kind>_checks` lists, checked across (unique names,
//! dependencies) into a [`Plan`].

use std::collections::BTreeMap;

use super::checks::{CheckHeader, OwnLists, ReadChecks, read_kind_lists};
use super::defaults::{Defaults, positive, read_defaults};
use super::dependencies::{Dependencies, check_dependencies, check_unique_names};
use super::keys;
use super::secrets::short_secret_names;
use super::{DEFAULT_CONCURRENCY, Plan, TopLevel, no_checks};
use crate::checks::{CheckDef, KINDS};
use crate::reader::ctx::{self, Ctx};
use crate::reader::error::Problem;
use crate::reader::interpolate::Interpolator;
use crate::reader::yaml::{Key, MapReader, Node, Problems};

/// Read the environment `key` (its mapping `node` at `path`); `env_names` are every
/// environment's names, for the `environments:` filter of the shared checks. `None` when the
/// environment is not a mapping (a problem is recorded). Its own check lists are taken out of
/// `node` and consumed as they are read: each check's node is dropped once its definition is
/// built, so the tree and the plan are not held in full at the same time.
pub(super) fn read(
    top: &TopLevel<'_>,
    key: &Key,
    node: &mut Node,
    path: &str,
    env_names: &[&str],
    problems: &mut Problems,
) -> Option<Plan> {
    let mut own = OwnLists::take_from(node);
    let node: &Node = node;
    let mut reader = MapReader::new(node, path, problems)?;
    let (mut env_secrets, vars, pending) = read_env_vars(top, &mut reader, problems);
    let interp = Interpolator {
        env: top.env,
        vars: &vars,
        declared_secrets: &top.declared_secrets,
        pending: &pending,
        used: top.used,
    };
    let mut ctx = Ctx {
        problems,
        interp: &interp,
        secrets: &mut env_secrets,
        shared: crate::reader::ctx::Shared::default(),
    };
    let defaults = read_env_defaults(&mut reader, &mut ctx, top.defaults);
    let problems_before = ctx.problems.count();
    let (checks, headers) =
        read_env_checks(top, key, env_names, reader, &mut ctx, defaults, &mut own);
    // A run of nothing would pass: an environment without checks is a mistake (a typo in a
    // list key is reported above, so this is said only when nothing else was wrong).
    if checks.is_empty() && ctx.problems.count() == problems_before {
        ctx.problems.list.push(Problem {
            file: key.file.clone(),
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
    Some(Plan {
        environment: key.name.clone(),
        concurrency: defaults.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        per_host_concurrency: defaults.per_host_concurrency,
        dependencies: Dependencies::of_checks(&checks),
        checks,
        secrets: env_secrets,
        short_secrets: short_secret_names(&top.used.borrow()),
        waivers: top.waivers.clone(),
        alerts: top.alerts.clone(),
    })
}

/// The environment's `vars:` over the top-level ones: (secret values, vars, vars whose value
/// uses an unset variable).
fn read_env_vars(
    top: &TopLevel<'_>,
    reader: &mut MapReader<'_>,
    problems: &mut Problems,
) -> (Vec<String>, BTreeMap<String, String>, Vec<String>) {
    let mut env_secrets = top.secrets.clone();
    let mut vars = top.vars.clone();
    let mut pending = top.pending.clone();
    if let Some((node, path)) = reader.take("vars") {
        let no_vars = BTreeMap::new();
        let base_interp = Interpolator {
            env: top.env,
            vars: &no_vars,
            declared_secrets: &top.declared_secrets,
            pending: &[],
            used: top.used,
        };
        ctx::read_vars(
            node,
            &path,
            &base_interp,
            problems,
            &mut env_secrets,
            (&mut vars, &mut pending),
        );
    }
    (env_secrets, vars, pending)
}

/// The environment's `defaults:` and concurrency keys over the top-level defaults.
fn read_env_defaults(reader: &mut MapReader<'_>, ctx: &mut Ctx<'_>, top: Defaults) -> Defaults {
    let mut defaults = top;
    if let Some((node, path)) = reader.take("defaults") {
        defaults = defaults.overlay(read_defaults(node, &path, ctx));
    }
    for k in ["concurrency", "max_workers"] {
        if let Some((node, path)) = reader.take(k)
            && let Some(n) = positive(ctx, node, &path)
        {
            defaults.concurrency = Some(n);
        }
    }
    if let Some((node, path)) = reader.take("per_host_concurrency")
        && let Some(n) = positive(ctx, node, &path)
    {
        defaults.per_host_concurrency = Some(n);
    }
    defaults
}

/// The environment's checks, in config order: the shared `checks:` that apply to it, then its
/// own `<kind>_checks` lists; with the header of every named check for the cross-check rules.
/// Every other key of the environment is reported unknown here.
fn read_env_checks(
    top: &TopLevel<'_>,
    key: &Key,
    env_names: &[&str],
    mut reader: MapReader<'_>,
    ctx: &mut Ctx<'_>,
    defaults: Defaults,
    own: &mut OwnLists,
) -> (Vec<CheckDef>, Vec<CheckHeader>) {
    let mut read = ReadChecks::default();
    let list_keys = KINDS.iter().map(|(k, _)| *k);
    if let Some((shared_node, shared_path)) = &top.shared
        && let Some(mut shared_reader) = MapReader::new(shared_node, shared_path, ctx.problems)
    {
        read_kind_lists(
            top.files,
            &mut shared_reader,
            ctx,
            defaults,
            Some((&key.name, env_names)),
            None,
            &mut read,
        );
        let known: Vec<&str> = list_keys.clone().collect();
        shared_reader.finish(&known, ctx.problems);
    }
    read_kind_lists(
        top.files,
        &mut reader,
        ctx,
        defaults,
        None,
        Some(own),
        &mut read,
    );
    let mut known = keys::names(keys::ENVIRONMENT_FIELDS);
    known.extend(list_keys);
    reader.finish(&known, ctx.problems);
    (read.checks, read.headers)
}
