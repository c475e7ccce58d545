//! `infracheck merge`: the reports and exit code of one run, from the JSON documents of its
//! shards.

use std::collections::BTreeSet;

use super::run::{load_baseline, load_history, refuse_report_clashes, select};
use super::signals::Signals;
use super::stages::{Inputs, Results, Services, finish};
use super::{DocumentNames, config_error};
use crate::cli::{GlobalArgs, MergeArgs};
use crate::config;
use crate::event::Sink;
use crate::exit_code::ExitCode;
use crate::model::{Summary, WAIVER_KIND};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::select::Selection;

/// `merge`: the reports and exit code of one run, from the JSON documents of its shards.
pub(super) fn merge(a: &MergeArgs, g: &GlobalArgs, sink: &Sink) -> ExitCode {
    merge_steps(a, g, sink).unwrap_or_else(|code| code)
}

/// The steps of a merge, in order; the first that fails stops it with its exit code.
fn merge_steps(a: &MergeArgs, g: &GlobalArgs, sink: &Sink) -> Result<ExitCode, ExitCode> {
    refuse_report_clashes(&a.report, a.config.as_deref(), sink)?;
    let mut summary = load_documents(a, sink)?;
    // The run's one redactor: the config's secrets (none without `--config`).
    let redactor = stale_waivers(a, &mut summary, sink)?;
    let baseline = load_baseline(&a.report, &summary.environment, g.quiet, sink)?;
    let history = load_history(&a.report, g.quiet, sink)?;
    let signals = Signals::start(sink);
    // The merged run's policy: its `--fail-on-warn` (or any document's, see
    // `crate::merge::load`) and `--fail-on`, as the summary records them.
    let policy = Policy::new(summary.fail_on_warn, summary.fail_on, baseline.is_some());
    let inputs = Inputs {
        baseline: baseline.as_ref(),
        history,
        policy: &policy,
        services: Services {
            redactor: &redactor,
            signals: &signals,
            sink,
        },
    };
    Ok(finish(Results(summary), &a.report, g, inputs))
}

/// The documents merged into the summary of one run, recording this command's `--fail-on`
/// (the documents' own is not carried over; `--fail-on-warn` is merged by `crate::merge`).
fn load_documents(a: &MergeArgs, sink: &Sink) -> Result<Summary, ExitCode> {
    match crate::merge::load(
        &a.documents,
        a.report.fail_on_warn,
        DocumentNames::new().seed(),
    ) {
        Ok(summary) => Ok(Summary {
            fail_on: a.report.fail_on.into(),
            ..summary
        }),
        Err(e) => {
            sink.error(&format!("{e:#}"));
            Err(ExitCode::Usage)
        }
    }
}

/// `merge --config`: the documents must hold exactly the checks the config plans for the
/// environment (edited documents that leave a check out would otherwise pass); then the
/// waivers of the config that match no check of the merged environment, as the WARN results a
/// whole run would have reported (each shard alone cannot tell). Returns the redactor of the
/// config's secrets (none without `--config`).
fn stale_waivers(a: &MergeArgs, summary: &mut Summary, sink: &Sink) -> Result<Redactor, ExitCode> {
    let Some(config) = &a.config else {
        return Ok(Redactor::default());
    };
    let path = config.display().to_string();
    let plan = match config::load(
        &path,
        Some(&summary.environment),
        &config::ProcessEnvironment,
    ) {
        Ok(mut plans) => plans.pop(),
        Err(e) => return Err(config_error(&e, sink)),
    };
    let Some(mut plan) = plan else {
        sink.error(&format!(
            "{path}: {}",
            config::no_checks(&summary.environment)
        ));
        return Err(ExitCode::Usage);
    };
    let all_names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    let names: Vec<&str> = all_names.iter().map(String::as_str).collect();
    let redactor = Redactor::new(&plan.secrets);
    sink.set_redactor(std::sync::Arc::new(redactor.clone()));
    // The shards ran a selection (`--tags`, `--only`…): they hold the checks it picks (and
    // pulled in), not the whole environment; stale waivers still look at every check.
    if let Some(run) = &summary.selection {
        let selection = Selection::new(&run.tags, &run.exclude_tags, &run.only, &run.skip)
            .map_err(|e| {
                sink.error(&e.to_string());
                ExitCode::Usage
            })?;
        select(&mut plan, selection.as_ref(), sink)?;
    }
    let selected: Vec<&str> = plan.checks.iter().map(|c| c.name.as_str()).collect();
    if let Err(msg) = same_checks(&selected, summary, &redactor) {
        sink.error(&format!("{path}: {msg}"));
        return Err(ExitCode::Usage);
    }
    for r in crate::waiver::stale(&plan.waivers, &names) {
        // A whole-run document already reports its stale waivers, redacted.
        let shown = redactor.text(&r.name);
        if !summary.results.iter().any(|x| x.name == shown) {
            summary.results.push(r);
        }
    }
    Ok(redactor)
}

/// Whether the merged results are the planned checks `names`, each once (compared as the
/// documents show them: redacted). A whole-run document's stale-waiver results are not checks.
fn same_checks(names: &[&str], summary: &Summary, redactor: &Redactor) -> Result<(), String> {
    let planned: BTreeSet<String> = names.iter().map(|n| redactor.text(n)).collect();
    let merged: BTreeSet<&str> = summary
        .results
        .iter()
        .filter(|r| r.kind != WAIVER_KIND)
        .map(|r| r.name.as_str())
        .collect();
    let quote = |list: Vec<&str>| {
        let shown: Vec<String> = list.iter().take(5).map(|n| format!("`{n}`")).collect();
        let more = list.len().saturating_sub(5);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let missing: Vec<&str> = planned
        .iter()
        .map(String::as_str)
        .filter(|n| !merged.contains(n))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "environment {} plans {} that no document holds (a shard left out, or documents of another config?)",
            summary.environment,
            quote(missing)
        ));
    }
    let unknown: Vec<&str> = merged
        .iter()
        .copied()
        .filter(|n| !planned.contains(*n))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the documents hold {} that environment {} does not plan (documents of another config?)",
            quote(unknown),
            summary.environment
        ));
    }
    Ok(())
}
