//! The JSON document (`--output json`, `--json PATH`). Field names are a stable contract,
//! documented in the README; bump `schema_version` on any incompatible change.

use serde::Serialize;

use crate::result::{CheckResult, Counts, Interruption, Summary};

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
        summary: summary.counts(),
        results: &summary.results,
    };
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}
