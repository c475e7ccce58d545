//! The verdicts of a Kubernetes check from what the API returned: a workload's replica counts,
//! the pods of a selector, the nodes. Pure functions (objects in, outcome out); [`super::run`]
//! fetches the objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

use super::MAX_NAMES;
use crate::checks::common::{TextProblem, escape, verdict};
use crate::model::{Meta, Outcome, Reason, Status, Text};
use crate::text;

pub(super) fn count(v: Option<i32>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// A workload's readiness: `available` must reach `min_ready`, or `desired` without it.
pub(super) fn workload(
    kind: &str,
    name: &str,
    desired: u64,
    ready: u64,
    available: u64,
    min_ready: Option<u64>,
) -> Outcome {
    let need = min_ready.unwrap_or(desired);
    let mut meta = BTreeMap::new();
    meta.insert("desired".to_owned(), serde_json::json!(desired));
    meta.insert("ready".to_owned(), serde_json::json!(ready));
    meta.insert("available".to_owned(), serde_json::json!(available));
    let summary = format!("{kind} {name}: {available}/{desired} available, {ready} ready");
    let outcome = if available >= need {
        Outcome::pass(summary)
    } else if min_ready.is_some() {
        Outcome::fail(Reason::K8sNotReady, format!("{summary} (min_ready {need})"))
    } else {
        Outcome::fail(Reason::K8sNotReady, summary)
    };
    let mut facts = crate::model::Facts::new();
    facts.value("k8s.ready", ready);
    outcome.with_metadata(meta).with_facts(facts)
}

fn condition_true(conditions: Option<&Vec<k8s_openapi::api::core::v1::PodCondition>>) -> bool {
    conditions.is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(super) fn pods(
    items: &[Pod],
    selector: &str,
    ns: &str,
    min_ready: Option<u64>,
    max_restarts: Option<u64>,
) -> Outcome {
    let mut ready = 0u64;
    let mut not_ready: Vec<Text> = Vec::new();
    let mut worst_restarts = 0u64;
    let mut restarting: Vec<Text> = Vec::new();
    for p in items {
        let name = p.metadata.name.clone().unwrap_or_default();
        let status = p.status.as_ref();
        if condition_true(status.and_then(|s| s.conditions.as_ref())) {
            ready += 1;
        } else {
            let phase = status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".to_owned());
            not_ready.push(text!(escape(&name, 100), " (", escape(&phase, 30), ")"));
        }
        let restarts: u64 = status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| count(Some(c.restart_count))).sum())
            .unwrap_or(0);
        worst_restarts = worst_restarts.max(restarts);
        if let Some(limit) = max_restarts
            && restarts > limit
        {
            restarting.push(text!(escape(&name, 100), " ({restarts})"));
        }
    }
    let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let mut meta = Meta::new();
    meta.insert("pods".to_owned(), serde_json::json!(total));
    meta.insert("ready_pods".to_owned(), serde_json::json!(ready));
    meta.insert(
        "max_restarts_seen".to_owned(),
        serde_json::json!(worst_restarts),
    );
    let not_ready: Vec<Text> = not_ready.into_iter().take(MAX_NAMES).collect();
    if !not_ready.is_empty() {
        meta.insert_text("not_ready".to_owned(), not_ready.clone());
    }
    let mut problems: Vec<TextProblem> = Vec::new();
    if total == 0 {
        problems.push((
            Status::Fail,
            Reason::K8sNotReady,
            text!("no pods match `", escape(selector, 200), "` in {ns}"),
        ));
    } else {
        let need = min_ready.unwrap_or(total);
        if ready < need {
            let list = Text::join(not_ready, ", ");
            let req = match min_ready {
                Some(m) => format!(" (min_ready {m})"),
                None => String::new(),
            };
            problems.push((
                Status::Fail,
                Reason::K8sNotReady,
                text!("{ready}/{total} pods ready{req}; not ready: ", list),
            ));
        }
    }
    if let Some(limit) = max_restarts
        && !restarting.is_empty()
    {
        let list = Text::join(restarting.into_iter().take(MAX_NAMES), ", ");
        problems.push((
            Status::Warn,
            Reason::K8sRestarts,
            text!("restarts over max_restarts {limit}: ", list),
        ));
    }
    // `k8s.ready` and `k8s.restarts` (the most restarts of one pod) of `expect:` conditions.
    let mut facts = crate::model::Facts::new();
    facts.value("k8s.ready", ready);
    facts.value("k8s.restarts", worst_restarts);
    verdict(problems, format!("{ready}/{total} pods ready"))
        .with_metadata(meta)
        .with_facts(facts)
}

pub(super) fn nodes(items: &[Node], min_ready: Option<u64>) -> Outcome {
    let mut ready = 0u64;
    let mut not_ready: Vec<Text> = Vec::new();
    for n in items {
        let ok = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ok {
            ready += 1;
        } else {
            not_ready.push(escape(&n.metadata.name.clone().unwrap_or_default(), 100));
        }
    }
    let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
    let mut meta = Meta::new();
    meta.insert("nodes".to_owned(), serde_json::json!(total));
    meta.insert("ready_nodes".to_owned(), serde_json::json!(ready));
    let not_ready: Vec<Text> = not_ready.into_iter().take(MAX_NAMES).collect();
    if !not_ready.is_empty() {
        meta.insert_text("not_ready".to_owned(), not_ready.clone());
    }
    let need = min_ready.unwrap_or(total).max(1);
    let summary = format!("{ready}/{total} nodes ready");
    let outcome = if ready >= need {
        Outcome::pass(summary)
    } else {
        let mut m = Text::from(summary);
        if let Some(min) = min_ready {
            m.push_str(&format!(" (min_ready {min})"));
        }
        if !not_ready.is_empty() {
            m.push(text!("; not ready: ", Text::join(not_ready, ", ")));
        }
        Outcome::fail(Reason::K8sNotReady, m)
    };
    let mut facts = crate::model::Facts::new();
    facts.value("k8s.ready", ready);
    outcome.with_metadata(meta).with_facts(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workload_is_ready_when_available_reaches_desired_or_min_ready() {
        let ok = workload("deployment", "api", 3, 3, 3, None);
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(ok.metadata["available"], 3);

        let short = workload("deployment", "api", 3, 2, 2, None);
        assert_eq!(short.status, Status::Fail);
        assert_eq!(short.reason, Some(Reason::K8sNotReady));
        assert!(short.message.contains("2/3 available"), "{}", short.message);

        let enough = workload("statefulset", "db", 3, 2, 2, Some(2));
        assert_eq!(enough.status, Status::Pass);
        let under = workload("statefulset", "db", 3, 1, 1, Some(2));
        assert!(
            under.message.ends_with("(min_ready 2)"),
            "{}",
            under.message
        );
    }

    #[test]
    fn counts_are_never_negative() {
        assert_eq!(count(Some(-1)), 0);
        assert_eq!(count(None), 0);
        assert_eq!(count(Some(4)), 4);
    }

    #[test]
    fn no_nodes_is_not_ready() {
        let o = nodes(&[], None);
        assert_ne!(o.status, Status::Pass);
    }
}
