//! `infracheck merge`: the reports and exit code of one run, from the JSON documents of its
//! shards.

use super::outputs::{Inputs, distinct_report_paths, finish};
use super::run::{load_baseline, load_history};
use super::signals::Signals;
use super::{config_error, document_kinds, eprint_line, process_env};
use crate::cli::{GlobalArgs, MergeArgs};
use crate::config;
use crate::exit_code::ExitCode;
use crate::model::{FailOn, Summary};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::report;

/// `merge`: the reports and exit code of one run, from the JSON documents of its shards.
pub(super) fn merge(a: &MergeArgs, g: &GlobalArgs) -> ExitCode {
    if let Err(msg) = distinct_report_paths(&a.report, a.config.as_deref(), &process_env) {
        eprint_line(&format!("error: {}", report::one_line(&msg)));
        return ExitCode::Usage;
    }
    match crate::merge::load(&a.documents, a.report.fail_on_warn, &document_kinds()) {
        Ok(mut summary) => match stale_waivers(a, &mut summary).and_then(|redactor| {
            let baseline = load_baseline(&a.report, &summary.environment, g.quiet)?;
            let history = load_history(&a.report, g.quiet)?;
            Ok((redactor, baseline, history))
        }) {
            Ok((redactor, baseline, history)) => {
                let signals = Signals::start();
                let fail_on = FailOn::from(a.report.fail_on);
                let policy = Policy::new(summary.fail_on_warn, fail_on, baseline.is_some());
                let inputs = Inputs {
                    baseline: baseline.as_ref(),
                    history,
                    redactor: &redactor,
                    policy: &policy,
                    signals: &signals,
                };
                finish(summary, &a.report, g, inputs)
            }
            Err(code) => code,
        },
        Err(e) => {
            eprint_line(&format!("error: {}", report::one_line(&format!("{e:#}"))));
            ExitCode::Usage
        }
    }
}

/// `merge --config`: the waivers of the config that match no check of the merged environment,
/// as the WARN results a whole run would have reported (each shard alone cannot tell). Returns
/// the redactor of the config's secrets (none without `--config`).
fn stale_waivers(a: &MergeArgs, summary: &mut Summary) -> Result<Redactor, ExitCode> {
    let Some(config) = &a.config else {
        return Ok(Redactor::default());
    };
    let path = config.display().to_string();
    let plan = match config::load(&path, Some(&summary.environment), &process_env) {
        Ok(mut plans) => plans.pop(),
        Err(e) => return Err(config_error(&e)),
    };
    let Some(plan) = plan else {
        eprint_line(&format!(
            "error: {path}: {}",
            report::one_line(&config::no_checks(&summary.environment))
        ));
        return Err(ExitCode::Usage);
    };
    let names: Vec<&str> = plan.checks.iter().map(|c| c.name.as_str()).collect();
    let redactor = Redactor::new(&plan.secrets);
    for r in crate::waiver::stale(&plan.waivers, &names) {
        // A whole-run document already reports its stale waivers, redacted.
        let shown = redactor.text(&r.name);
        if !summary.results.iter().any(|x| x.name == shown) {
            summary.results.push(r);
        }
    }
    Ok(redactor)
}
