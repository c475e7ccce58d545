//! One environment of `environments:`: its `vars`, `defaults` and concurrency keys, the shared
//! `checks:` that apply to it and its own `<kind>_checks` lists, checked across (unique names,
//! dependencies) into a [`Plan`].

use std::collections::BTreeMap;

use super::checks::read_kind_lists;
use super::defaults::{positive, read_defaults};
use super::dependencies::{check_dependencies, check_unique_names};
use super::keys;
use super::secrets::short_secret_names;
use super::{DEFAULT_CONCURRENCY, Plan, TopLevel, no_checks};
use crate::checks::KINDS;
use crate::reader::ctx::{self, Ctx};
use crate::reader::error::Problem;
use crate::reader::interpolate::Interpolator;
use crate::reader::yaml::{Key, MapReader, Node, Problems};

/// Read the environment `key` (its mapping `node` at `path`); `env_names` are every
/// environment's names, for the `environments:` filter of the shared checks. `None` when the
/// environment is not a mapping (a problem is recorded).
pub(super) fn read(
    top: &TopLevel<'_>,
    key: &Key,
    node: &Node,
    path: &str,
    env_names: &[&str],
    problems: &mut Problems,
) -> Option<Plan> {
    let mut reader = MapReader::new(node, path, problems)?;
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
    };
    let mut defaults = top.defaults;
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

    let problems_before = ctx.problems.count();
    let mut checks = Vec::new();
    let mut headers = Vec::new();
    let list_keys = KINDS.iter().map(|(k, _)| *k);
    if let Some((shared_node, shared_path)) = &top.shared
        && let Some(mut shared_reader) = MapReader::new(shared_node, shared_path, ctx.problems)
    {
        read_kind_lists(
            top.files,
            &mut shared_reader,
            &mut ctx,
            defaults,
            Some((&key.name, env_names)),
            &mut checks,
            &mut headers,
        );
        let known: Vec<&str> = list_keys.clone().collect();
        shared_reader.finish(&known, ctx.problems);
    }
    read_kind_lists(
        top.files,
        &mut reader,
        &mut ctx,
        defaults,
        None,
        &mut checks,
        &mut headers,
    );
    let mut known = keys::names(keys::ENVIRONMENT_FIELDS);
    known.extend(list_keys);
    reader.finish(&known, ctx.problems);

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
        checks,
        secrets: env_secrets,
        short_secrets: short_secret_names(&top.used.borrow()),
        waivers: top.waivers.clone(),
        alerts: top.alerts.clone(),
    })
}
