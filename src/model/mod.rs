//! The floor of the crate: what a check produced ([`Status`], stable [`Reason`] codes,
//! [`CheckResult`]), the run [`Summary`], what baseline, gate, shard and history attach to
//! them, the texts every report shows for those, and the JSON [`Document`]. Every reporter
//! reads these types and nothing else; this module imports nothing of the crate but
//! [`crate::text`].

mod annotations;
mod document;
mod facts;
mod history;
mod phases;
mod reason;
mod result;
mod selection;
mod summary;
pub(crate) mod text;
mod verdict;

pub use annotations::{
    BaselineSummary, CertCountdown, Change, CheckGate, FailOn, GateSummary, ResultChange, ShardRun,
    baseline_line, cert_note, change_note, gate_line, gate_note,
};
pub use document::{Document, DocumentSeed, ResultSeed, SCHEMA_VERSION, Tool};
pub use facts::{Actual, ConditionResult, Fact, Facts};
pub use history::{
    CheckHistory, GLYPHS, HistorySummary, Mover, RunPoint, SPARK_MAX, newly_flaky, percentile,
    sparkline, trend_line, worst_movers,
};
pub use phases::{Elapsed, PhaseName, Phases, format_ms, from_precise_ms, precise_ms};
pub(crate) use reason::reasons;
pub use reason::{RUN_REASONS, Reason, ReasonClass, ReasonDef};
pub use result::{
    CheckResult, FailedAttempt, Kind, Limits, Location, Meta, Metadata, Observations, Outcome,
    Status, WAIVER_KIND,
};
pub use selection::{SelectionRun, selection_line};
pub use summary::{Counts, Interruption, Summary};
pub use text::{ELLIPSIS, Text, TextValue, cut};
pub use verdict::{Judgement, Verdict};

/// `0.1.0 (commit abc123def456)`: the version with the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("INFRACHECK_COMMIT"),
    ")"
);

/// A duration as whole milliseconds (saturating), as every report writes it.
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `406 ms` under a second, `2.41 s` from one second up: how every text output (the text
/// report, the live lines, markdown, trends) shows a measured duration.
pub fn human_duration(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        // `406 ms`, or `0.4 ms` under a millisecond (a loopback check does not read `0 ms`).
        phases::format_ms(d)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
#[test]
fn human_duration_reads_the_same_everywhere() {
    use std::time::Duration;
    assert_eq!(human_duration(Duration::from_millis(0)), "0 ms");
    assert_eq!(human_duration(Duration::from_millis(406)), "406 ms");
    assert_eq!(human_duration(Duration::from_millis(999)), "999 ms");
    assert_eq!(human_duration(Duration::from_millis(1000)), "1.00 s");
    assert_eq!(human_duration(Duration::from_millis(2406)), "2.41 s");
    assert_eq!(human_duration(Duration::from_secs(125)), "125.00 s");
}

/// `5m`, `30s` or `250ms`: a duration as the config and the flags write it.
pub use crate::text::format_duration;

pub(crate) use phases::{elapsed, opt_precise_ms};

/// Durations as whole milliseconds in JSON (`#[serde(with = "crate::model::ms")]`).
pub(crate) mod ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(super::millis(*d))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}

/// Optional durations as whole milliseconds or `null`.
pub(crate) mod opt_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::ms::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(Duration::from_millis))
    }
}
