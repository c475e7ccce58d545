//! The JSON document (`--output json`, `--json PATH`): one type, written by the JSON
//! reporter and read back by `merge` and `--baseline`. Field
//! names are a stable contract, documented in `docs/json.md`; bump [`SCHEMA_VERSION`] on any
//! incompatible change.
//!
//! A document read back is untrusted input: every problem is an error message (never a
//! panic), and unknown keys are ignored, since later releases may add fields without changing
//! `schema_version`.

use std::borrow::Cow;
use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::{
    BaselineSummary, CheckResult, Counts, FailOn, GateSummary, Interruption, SelectionRun,
    ShardRun, Status, Summary,
};

/// Version of the JSON document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The program that wrote a document.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tool {
    /// `infracheck`.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
}

/// The JSON document of one run. Written from a borrowed [`Summary`]; read back owned. The
/// fields a reader does not use (`tool`, `status`, `fail_on`, `baseline`, `summary`) are
/// written only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The program that wrote it.
    #[serde(skip_deserializing)]
    pub tool: Tool,
    /// The environment that ran.
    pub environment: Cow<'a, str>,
    /// The config file path as given.
    pub config: Cow<'a, str>,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Wall time of the run, ms.
    pub duration_ms: u64,
    /// `passed`, `warned` or `failed`.
    #[serde(skip_deserializing)]
    pub status: &'static str,
    /// Whether WARN failed the run.
    pub fail_on_warn: bool,
    /// Why the run stopped early, if it did.
    pub interrupted: Option<Interruption>,
    /// The shard the run covered (`--shard K/N`).
    #[serde(default)]
    pub shard: Option<Cow<'a, ShardRun>>,
    /// The selection the run covered (`--tags`, `--only`…); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Cow<'a, SelectionRun>>,
    /// Which failures failed the run.
    #[serde(skip_deserializing)]
    pub fail_on: FailOn,
    /// The comparison with `--baseline`.
    #[serde(skip_deserializing)]
    pub baseline: Option<&'a BaselineSummary>,
    /// The deploy gate.
    #[serde(default)]
    pub gate: Option<Cow<'a, GateSummary>>,
    /// Counts by status.
    #[serde(skip_deserializing)]
    pub summary: Counts,
    /// Results in config order.
    pub results: Cow<'a, [CheckResult]>,
}

/// Only the version, read first so a newer document is refused as newer, not as malformed.
#[derive(Deserialize)]
struct Probe {
    schema_version: Option<u64>,
}

thread_local! {
    /// The kinds a document being read may name (see [`Document::from_json`]).
    static KINDS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

/// `results[].kind`: one of the kinds the reader was given.
pub(crate) fn known_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let kind = <String as Deserialize>::deserialize(d)?;
    KINDS
        .with(|k| k.borrow().iter().copied().find(|k| *k == kind))
        .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{kind}`")))
}

impl<'a> Document<'a> {
    /// The document of `summary`, whose run-level verdict (`passed`, `warned`, `failed`) the
    /// caller's policy decided.
    pub fn of(summary: &'a Summary, status: &'static str) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "infracheck",
                version: env!("CARGO_PKG_VERSION"),
            },
            environment: Cow::Borrowed(&summary.environment),
            config: Cow::Borrowed(&summary.config_path),
            started_at: summary
                .started_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_ms: super::millis(summary.duration),
            status,
            fail_on_warn: summary.fail_on_warn,
            interrupted: summary.interrupted,
            shard: summary.shard.as_ref().map(Cow::Borrowed),
            selection: summary.selection.as_ref().map(Cow::Borrowed),
            fail_on: summary.fail_on,
            baseline: summary.baseline.as_ref(),
            gate: summary.gate.as_ref().map(Cow::Borrowed),
            summary: summary.counts(),
            results: Cow::Borrowed(&summary.results),
        }
    }
}

impl Document<'static> {
    /// Read a document. `kinds`: the check kinds its results may name. The error is one line
    /// saying what is wrong (the caller adds the file).
    pub fn from_json(bytes: &[u8], kinds: &[&'static str]) -> Result<Self, String> {
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| format!("not a valid JSON document: {e}"))?;
        let version = probe
            .schema_version
            .ok_or("not an infracheck JSON document (no `schema_version`)")?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(format!(
                "schema_version {version} is newer than this infracheck reads ({SCHEMA_VERSION}); merge with the infracheck version that wrote it"
            ));
        }
        if version == 0 {
            return Err("unsupported schema_version 0".to_owned());
        }
        let previous = KINDS.with(|k| k.replace(kinds.to_vec()));
        let doc = serde_json::from_slice::<Document<'static>>(bytes);
        KINDS.with(|k| k.replace(previous));
        let doc = doc.map_err(|e| format!("not an infracheck JSON document: {e}"))?;
        doc.validate()?;
        Ok(doc)
    }

    /// What serde cannot check: a reason exactly when not PASS, a shard that fits its results.
    fn validate(&self) -> Result<(), String> {
        if let Some(r) = self
            .results
            .iter()
            .find(|r| (r.status == Status::Pass) != r.reason.is_none())
        {
            return Err(format!(
                "check `{}`: a {} result {} a `reason`",
                r.name,
                r.status.as_str(),
                if r.reason.is_some() { "has" } else { "lacks" }
            ));
        }
        let Some(s) = &self.shard else {
            return Ok(());
        };
        if s.count == 0 || s.index == 0 || s.index > s.count {
            return Err(format!("invalid shard {}/{}", s.index, s.count));
        }
        if s.positions.len() != self.results.len() {
            return Err(format!(
                "shard {}/{} lists {} positions for {} results",
                s.index,
                s.count,
                s.positions.len(),
                self.results.len()
            ));
        }
        if let Some(p) = s.positions.iter().find(|p| **p >= s.total_checks) {
            return Err(format!(
                "shard position {p} is outside the run's {} checks",
                s.total_checks
            ));
        }
        Ok(())
    }

    /// `started_at`, parsed.
    pub fn started_at(&self) -> Result<time::OffsetDateTime, String> {
        time::OffsetDateTime::parse(
            &self.started_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| format!("invalid `started_at` `{}`: {e}", self.started_at))
    }
}
