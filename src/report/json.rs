//! The JSON document (`--output json`, `--json PATH`). Field names are a stable contract,
//! documented in the README; bump `schema_version` on any incompatible change.

use serde::Serialize;

use crate::baseline::{BaselineSummary, FailOn};
use crate::gate::GateSummary;
use crate::model::{CheckResult, Counts, Interruption, Summary};
use crate::shard::ShardRun;

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    tool: Tool,
    environment: &'a str,
    config: &'a str,
    started_at: String,
    duration_ms: u64,
    status: &'static str,
    fail_on_warn: bool,
    interrupted: Option<Interruption>,
    shard: Option<&'a ShardRun>,
    fail_on: FailOn,
    baseline: Option<&'a BaselineSummary>,
    gate: Option<&'a GateSummary>,
    summary: Counts,
    results: &'a [CheckResult],
}

/// Render the JSON document (pretty-printed, trailing newline).
pub fn render(summary: &Summary) -> Result<Vec<u8>, serde_json::Error> {
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "infracheck",
            version: env!("CARGO_PKG_VERSION"),
        },
        environment: &summary.environment,
        config: &summary.config_path,
        started_at: summary
            .started_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        duration_ms: u64::try_from(summary.duration.as_millis()).unwrap_or(u64::MAX),
        status: summary.verdict(),
        fail_on_warn: summary.fail_on_warn,
        interrupted: summary.interrupted,
        shard: summary.shard.as_ref(),
        fail_on: summary.fail_on,
        baseline: summary.baseline.as_ref(),
        gate: summary.gate.as_ref(),
        summary: summary.counts(),
        results: &summary.results,
    };
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(super::json_without_legacy_commands(out))
}

/// The JSON document as a [`Reporter`](super::Reporter).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl super::Reporter for Json {
    fn describe(&self) -> &'static str {
        "JSON report"
    }

    fn render(&self, cx: &super::Context<'_>) -> Result<Vec<u8>, super::RenderError> {
        Ok(render(cx.summary)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let bytes = render(&crate::report::fixture::summary()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // The version changes with every release: redacted.
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }

    #[test]
    fn legacy_commands_are_escaped_losslessly() {
        let mut s = crate::report::fixture::summary();
        s.results[0].message = "x ##[error]y ###[z".to_owned();
        let bytes = render(&s).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("##["), "{text}");
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["results"][0]["message"], "x ##[error]y ###[z");
    }
}
