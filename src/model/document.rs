//! The JSON document (`--output json`, `--json PATH`): one type, written by the JSON
//! reporter and read back by `merge` and `--baseline`. Field
//! names are a stable contract, documented in `docs/json.md`; bump [`SCHEMA_VERSION`] on any
//! incompatible change.
//!
//! A document read back is untrusted input: every problem is an error message (never a
//! panic), and unknown keys are ignored, since later releases may add fields without changing
//! `schema_version`. What it may name (its results' `kind`s and `reason`s) is an explicit
//! argument of the reading: [`DocumentSeed`], a `serde` [`DeserializeSeed`].

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{
    BaselineSummary, CheckResult, Counts, FailOn, FailedAttempt, GateSummary, Interruption, Reason,
    SelectionRun, ShardRun, Status, Summary,
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
    /// Results in config order (read back through [`DocumentSeed`], which knows the kinds and
    /// the reasons they may name).
    #[serde(skip_deserializing)]
    pub results: Cow<'a, [CheckResult]>,
}

/// Only the version, read first so a newer document is refused as newer, not as malformed.
#[derive(Deserialize)]
struct Probe {
    schema_version: Option<u64>,
}

/// The context of reading a document back: the check kinds its results may name (every kind
/// of the registry, and the stale-waiver results) and the reason codes (the registry's table of
/// every reason). A `serde` seed, so both are explicit arguments of the deserialisation rather
/// than state beside it.
#[derive(Debug, Clone, Copy)]
pub struct DocumentSeed<'k> {
    /// The kinds `results[].kind` may be.
    pub kinds: &'k [&'static str],
    /// The reasons `results[].reason` and `results[].failed_attempts[].reason` may be.
    pub reasons: &'k [Reason],
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = Document<'static>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document<'static>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = Document<'static>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an infracheck JSON document")
    }

    /// The results through [`ResultSeed`]; every other key as the derived reader reads it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document<'static>, A::Error> {
        let mut rest = serde_json::Map::new();
        let mut results: Option<Vec<CheckResult>> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "results" {
                if results.is_some() {
                    return Err(de::Error::duplicate_field("results"));
                }
                results = Some(map.next_value_seed(ResultsSeed(ResultSeed {
                    kinds: self.kinds,
                    reasons: self.reasons,
                }))?);
            } else {
                rest.insert(key, map.next_value()?);
            }
        }
        let results = results.ok_or_else(|| de::Error::missing_field("results"))?;
        let mut doc =
            Document::deserialize(serde_json::Value::Object(rest)).map_err(de::Error::custom)?;
        doc.results = Cow::Owned(results);
        Ok(doc)
    }
}

/// `results`: each element through [`ResultSeed`].
struct ResultsSeed<'k>(ResultSeed<'k>);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = Vec<CheckResult>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<CheckResult>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = Vec<CheckResult>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<CheckResult>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(r) = seq.next_element_seed(self.0)? {
            out.push(r);
        }
        Ok(out)
    }
}

/// One result: its `kind` must be one of `kinds`, its `reason` and those of its
/// `failed_attempts` of `reasons`; the other keys are read by the derived reader.
#[derive(Debug, Clone, Copy)]
pub struct ResultSeed<'k> {
    /// The kinds `kind` may be.
    pub kinds: &'k [&'static str],
    /// The reasons a `reason` may be.
    pub reasons: &'k [Reason],
}

impl ResultSeed<'_> {
    /// The reason of `code`, or an error naming the code.
    fn reason<E: de::Error>(&self, code: &str) -> Result<Reason, E> {
        Reason::find(self.reasons, code)
            .ok_or_else(|| de::Error::custom(format!("unknown reason `{code}`")))
    }

    /// `failed_attempts`: each one's `reason` through [`ResultSeed::reason`], its other keys
    /// by the derived reader of [`AttemptRest`].
    fn attempts<E: de::Error>(
        &self,
        raw: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<Vec<FailedAttempt>, E> {
        raw.into_iter()
            .map(|mut fields| {
                let reason = match fields.remove("reason") {
                    Some(serde_json::Value::String(code)) => self.reason(&code)?,
                    Some(other) => {
                        return Err(de::Error::custom(format!(
                            "invalid `reason` {other}, expected a reason code"
                        )));
                    }
                    None => return Err(de::Error::missing_field("reason")),
                };
                let rest = AttemptRest::deserialize(serde_json::Value::Object(fields))
                    .map_err(de::Error::custom)?;
                Ok(FailedAttempt {
                    reason,
                    message: rest.message.into(),
                    duration: rest.duration,
                })
            })
            .collect()
    }
}

/// A failed attempt's keys besides its `reason` (see [`FailedAttempt`]).
#[derive(Deserialize)]
struct AttemptRest {
    message: String,
    #[serde(rename = "duration_ms", with = "super::ms")]
    duration: std::time::Duration,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_> {
    type Value = CheckResult;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<CheckResult, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_> {
    type Value = CheckResult;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a check result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckResult, A::Error> {
        let mut rest = serde_json::Map::new();
        let mut kind: Option<&'static str> = None;
        let mut reason: Option<Option<Reason>> = None;
        let mut attempts: Option<Vec<FailedAttempt>> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "kind" {
                if kind.is_some() {
                    return Err(de::Error::duplicate_field("kind"));
                }
                let name: String = map.next_value()?;
                kind = Some(
                    self.kinds
                        .iter()
                        .copied()
                        .find(|k| *k == name)
                        .ok_or_else(|| de::Error::custom(format!("unknown kind `{name}`")))?,
                );
            } else if key == "reason" {
                if reason.is_some() {
                    return Err(de::Error::duplicate_field("reason"));
                }
                let code: Option<String> = map.next_value()?;
                reason = Some(code.map(|c| self.reason(&c)).transpose()?);
            } else if key == "failed_attempts" {
                if attempts.is_some() {
                    return Err(de::Error::duplicate_field("failed_attempts"));
                }
                attempts = Some(self.attempts(map.next_value()?)?);
            } else {
                rest.insert(key, map.next_value()?);
            }
        }
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let mut r =
            CheckResult::deserialize(serde_json::Value::Object(rest)).map_err(de::Error::custom)?;
        r.kind = kind;
        r.reason = reason.flatten();
        r.failed_attempts = attempts.unwrap_or_default().into_boxed_slice();
        Ok(r)
    }
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
    /// Read a document. `seed`: the check kinds and the reasons its results may name. The
    /// error is one line saying what is wrong (the caller adds the file).
    pub fn from_json(bytes: &[u8], seed: DocumentSeed<'_>) -> Result<Self, String> {
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
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let doc = seed
            .deserialize(&mut reader)
            .and_then(|doc| reader.end().map(|()| doc))
            .map_err(|e| format!("not an infracheck JSON document: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A written fixture document and the kinds and reasons its results name.
    struct Written {
        summary: Summary,
        bytes: Vec<u8>,
        kinds: Vec<&'static str>,
        reasons: Vec<Reason>,
    }

    impl Written {
        fn seed(&self) -> DocumentSeed<'_> {
            DocumentSeed {
                kinds: &self.kinds,
                reasons: &self.reasons,
            }
        }
    }

    fn written() -> Written {
        let summary = crate::report::fixture::summary();
        let bytes = serde_json::to_vec(&Document::of(&summary, "failed")).unwrap();
        let kinds = summary.results.iter().map(|r| r.kind).collect();
        let reasons = summary
            .results
            .iter()
            .flat_map(|r| {
                r.reason
                    .into_iter()
                    .chain(r.failed_attempts.iter().map(|a| a.reason))
            })
            .collect();
        Written {
            summary,
            bytes,
            kinds,
            reasons,
        }
    }

    /// The kinds are the seed's: the same bytes read with two seeds, one that knows every kind
    /// and one that does not, give a document and a positioned error.
    #[test]
    fn the_seed_decides_which_kinds_a_document_may_name() {
        let w = written();
        let back = Document::from_json(&w.bytes, w.seed()).unwrap();
        let read: Vec<&str> = back.results.iter().map(|r| r.kind).collect();
        assert_eq!(read, w.kinds);
        let none = DocumentSeed {
            kinds: &[],
            ..w.seed()
        };
        let err = Document::from_json(&w.bytes, none).unwrap_err();
        assert!(
            err.contains("unknown kind `") && err.contains("line 1"),
            "{err}"
        );
        // Nothing is left behind: the first seed still reads it afterwards.
        assert!(Document::from_json(&w.bytes, w.seed()).is_ok());
    }

    /// The reasons are the seed's too, for a result's `reason` and for those of its failed
    /// attempts.
    #[test]
    fn the_seed_decides_which_reasons_a_document_may_name() {
        let w = written();
        let final_reason = w.summary.results[3].reason.unwrap();
        let attempt_reason = w.summary.results[0].failed_attempts[0].reason;
        for missing in [final_reason, attempt_reason] {
            let fewer: Vec<Reason> = w
                .reasons
                .iter()
                .copied()
                .filter(|r| *r != missing)
                .collect();
            let seed = DocumentSeed {
                reasons: &fewer,
                ..w.seed()
            };
            let err = Document::from_json(&w.bytes, seed).unwrap_err();
            assert!(
                err.contains(&format!("unknown reason `{missing}`")),
                "{missing}: {err}"
            );
        }
        let mut doc: serde_json::Value = serde_json::from_slice(&w.bytes).unwrap();
        doc["results"][0]["failed_attempts"][0]
            .as_object_mut()
            .unwrap()
            .remove("reason");
        let err = Document::from_json(&serde_json::to_vec(&doc).unwrap(), w.seed()).unwrap_err();
        assert!(err.contains("missing field `reason`"), "{err}");
        doc["results"][0]["failed_attempts"][0]["reason"] = serde_json::json!(7);
        let err = Document::from_json(&serde_json::to_vec(&doc).unwrap(), w.seed()).unwrap_err();
        assert!(err.contains("invalid `reason` 7"), "{err}");
    }

    /// Every field a reader uses survives the seeded reading (the results go through the
    /// derived reader, the kind and the reasons through the seed).
    #[test]
    fn seeded_results_read_back_as_written() {
        let mut w = written();
        let back = Document::from_json(&w.bytes, w.seed()).unwrap();
        for r in &mut w.summary.results {
            // Written, never read back (a comparison belongs to the run that made it).
            r.baseline = None;
            r.history = None;
        }
        assert_eq!(
            serde_json::to_value(&back.results[..]).unwrap(),
            serde_json::to_value(&w.summary.results).unwrap()
        );
        assert_eq!(back.environment, w.summary.environment);
        assert_eq!(back.duration_ms, crate::model::millis(w.summary.duration));
    }

    #[test]
    fn a_result_without_a_kind_or_with_two_is_refused() {
        let w = written();
        let mut doc: serde_json::Value = serde_json::from_slice(&w.bytes).unwrap();
        doc["results"][0].as_object_mut().unwrap().remove("kind");
        let err = Document::from_json(&serde_json::to_vec(&doc).unwrap(), w.seed()).unwrap_err();
        assert!(err.contains("missing field `kind`"), "{err}");
        let text = String::from_utf8(w.bytes.clone()).unwrap();
        for (key, twice) in [
            ("kind", "\"kind\":\"http\",\"kind\":"),
            ("reason", "\"reason\":null,\"reason\":"),
        ] {
            let text = text.replacen(&format!("\"{key}\":"), twice, 1);
            let err = Document::from_json(text.as_bytes(), w.seed()).unwrap_err();
            assert!(err.contains(&format!("duplicate field `{key}`")), "{err}");
        }
        let err = Document::from_json(b"{\"schema_version\":1} x", w.seed()).unwrap_err();
        assert!(err.starts_with("not a valid JSON document"), "{err}");
    }
}
