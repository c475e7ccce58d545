//! SARIF 2.1.0 (`--sarif PATH`) for GitHub code scanning: a small serde model of the parts
//! infracheck uses (OASIS SARIF 2.1.0; GitHub's ingestion rules in `docs/ci-formats.md` §4).
//!
//! One rule per reason code used, with a stable id ([`Reason::rule_id`]); one result per FAIL
//! (`error`) and WARN (`warning`), none for PASS; every result is located at its check's line
//! with a repository-relative URI (GitHub rejects a whole upload when one result has none);
//! `automationDetails.id` is `infracheck/<env>/` so each environment is its own category.

use serde::Serialize;

use super::{Context, RenderError, Reporter, truncate_chars};
use crate::model::{Reason, Status};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// GitHub's limit for `help.text`.
const HELP_MAX: usize = 1024;

/// The SARIF reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sarif;

impl Reporter for Sarif {
    fn describe(&self) -> &'static str {
        "SARIF report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(super::pretty_json(&log(cx))?)
    }
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    automation_details: AutomationDetails,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<LocationWrapper>,
    /// SARIF §3.27.24: `new`, `unchanged` or `updated` relative to the `--baseline` run.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    properties: Properties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationWrapper {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
}

#[derive(Serialize)]
struct Properties {
    environment: String,
    check: String,
    kind: &'static str,
    target: String,
    reason: &'static str,
    /// `new`, `still`… (`--baseline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<crate::model::Change>,
    /// A latency regression since the baseline.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    latency_regression: bool,
}

/// Percent-encode a relative path for a URI reference, keeping `/` and unreserved characters.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn rule(reason: Reason) -> Rule {
    let help = format!(
        "{} Reason code `{}`; see the check's message and the infracheck README.",
        reason.full_description(),
        reason.code()
    );
    Rule {
        id: reason.rule_id(),
        name: reason.code(),
        short_description: Text {
            text: reason.short_description().to_owned(),
        },
        full_description: Text {
            text: reason.full_description().to_owned(),
        },
        help: Text {
            text: truncate_chars(&help, HELP_MAX),
        },
        default_configuration: Configuration { level: "error" },
    }
}

/// The SARIF baseline state of a reported (non-passing) result: `new` when the check passed
/// in the baseline or is not in it, `unchanged` when it had the same status, `updated` when it
/// was reported with another status (FAIL → WARN…).
fn baseline_state(now: Status, c: &crate::model::ResultChange) -> &'static str {
    match c.previous_status {
        None | Some(Status::Pass | Status::Skip) => "new",
        Some(before) if before == now => "unchanged",
        Some(_) => "updated",
    }
}

fn log(cx: &Context<'_>) -> Log {
    let summary = cx.summary;
    // Rules in `Reason` order, only those used: stable indexes for a given run.
    let reported: Vec<_> = summary
        .results
        .iter()
        // Root causes only: a SKIP is explained by the FAIL that blocked it.
        .filter(|r| !matches!(r.status, Status::Pass | Status::Skip))
        .collect();
    let used: Vec<Reason> = reported
        .iter()
        .map(|r| r.reason.unwrap_or(Reason::Internal))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let results = reported
        .iter()
        .map(|r| {
            let reason = r.reason.unwrap_or(Reason::Internal);
            let message = if r.message.is_empty() {
                format!("{}: {}", r.name, reason.short_description())
            } else {
                format!("{}: {}", r.name, r.message.as_str())
            };
            SarifResult {
                rule_id: reason.rule_id(),
                rule_index: used.iter().position(|u| *u == reason).unwrap_or(0),
                level: match r.status {
                    Status::Fail => "error",
                    // A waived failure stays visible without raising an alert.
                    Status::Waived => "note",
                    _ => "warning",
                },
                message: Text { text: message },
                locations: vec![LocationWrapper {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation {
                            uri: uri_path(&cx.paths.relative(&r.location.file)),
                        },
                        region: Region {
                            start_line: r.location.line.max(1),
                            start_column: r.location.column.max(1),
                        },
                    },
                }],
                baseline_state: r.baseline.as_ref().map(|c| baseline_state(r.status, c)),
                properties: Properties {
                    environment: summary.environment.clone(),
                    check: r.name.clone(),
                    kind: r.kind,
                    target: r.target.as_str().to_owned(),
                    reason: reason.code(),
                    change: r.baseline.as_ref().map(|c| c.change),
                    latency_regression: r.baseline.as_ref().is_some_and(|c| c.latency_regression),
                },
            }
        })
        .collect();
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "infracheck",
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: used.into_iter().map(rule).collect(),
                },
            },
            automation_details: AutomationDetails {
                id: format!("infracheck/{}/", summary.environment),
            },
            results,
        }],
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::report::{RepoPaths, fixture};

    fn render_fixture(root: &str) -> serde_json::Value {
        let paths = RepoPaths::new(PathBuf::from("/repo/ops"), PathBuf::from(root));
        let bytes = fixture::rendered(&Sarif, &fixture::summary(), &paths);
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn snapshot() {
        let bytes = fixture::rendered(&Sarif, &fixture::summary(), &fixture::repo_root());
        let text = String::from_utf8(bytes).unwrap();
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }

    #[test]
    fn rule_ids_are_unique_and_stable() {
        let all = crate::checks::reasons();
        let mut ids: Vec<String> = all.iter().map(|r| rule(*r).id).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(rule(Reason::TlsExpired).id, "tls/expired");
        for r in &all {
            let rule = rule(*r);
            assert!(!rule.short_description.text.is_empty());
            assert!(!rule.full_description.text.is_empty());
            assert!(rule.help.text.chars().count() <= HELP_MAX);
        }
    }

    #[test]
    fn only_fail_and_warn_each_located_repo_relative() {
        let doc = render_fixture("/repo");
        let run = &doc["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "infracheck/prod/");
        let results = run["results"].as_array().unwrap();
        // No result for the SKIP (its root cause is reported); the WAIVED failure is a note.
        assert_eq!(results.len(), 5);
        let levels: Vec<&str> = results
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["error", "error", "warning", "warning", "note"]);
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for r in results {
            let loc = &r["locations"][0]["physicalLocation"];
            assert_eq!(loc["artifactLocation"]["uri"], "ops/infracheck.yaml");
            assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
            let index = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(rules[index]["id"], r["ruleId"]);
        }
    }

    #[test]
    fn uri_is_percent_encoded() {
        assert_eq!(uri_path("a dir/ü#.yaml"), "a%20dir/%C3%BC%23.yaml");
    }
}
