//! GitLab Code Quality (`--codequality PATH`): a JSON array of issues for
//! `artifacts:reports:codequality` (`docs/ci-formats.md` §5). `major` for FAIL, `minor` for
//! WARN, nothing for PASS. Fingerprints are a stable hash of environment, check name and reason,
//! so the merge-request widget tracks the same problem across pipelines.

use serde::Serialize;

use super::{Context, RenderError, Reporter};
use crate::model::{Reason, Status};

/// The Code Quality reporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct CodeQuality;

impl Reporter for CodeQuality {
    fn describe(&self) -> &'static str {
        "Code Quality report"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(super::pretty_json(&issues(cx))?)
    }
}

#[derive(Serialize)]
struct Issue {
    #[serde(rename = "type")]
    ty: &'static str,
    description: String,
    check_name: &'static str,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
}

/// 128-bit FNV-1a: small, dependency-free and stable across versions and platforms.
fn fnv1a_128(parts: &[&str]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in parts {
        // Length-prefixed, so ("ab","c") and ("a","bc") differ.
        let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
        for b in len.to_le_bytes().iter().chain(part.as_bytes()) {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// The fingerprint of one problem: environment, check name and reason code.
pub fn fingerprint(environment: &str, check: &str, reason: &str) -> String {
    format!("{:032x}", fnv1a_128(&[environment, check, reason]))
}

fn issues(cx: &Context<'_>) -> Vec<Issue> {
    let s = cx.summary;
    let mut seen = std::collections::BTreeSet::new();
    s.results
        .iter()
        // Root causes only: a SKIP is explained by the FAIL that blocked it.
        .filter(|r| !matches!(r.status, Status::Pass | Status::Skip))
        .map(|r| {
            let reason = r.reason.unwrap_or(Reason::Internal);
            let mut fp = fingerprint(&s.environment, &r.name, reason.code());
            // Names are unique per environment, so a repeat is a hash collision: re-hash with
            // a counter to keep every fingerprint unique (GitLab merges equal ones).
            let mut n = 0u32;
            while !seen.insert(fp.clone()) {
                n += 1;
                fp = format!("{:032x}", fnv1a_128(&[&fp, &n.to_string()]));
            }
            Issue {
                ty: "issue",
                description: match r.baseline.as_ref().map(|c| c.change) {
                    Some(crate::model::Change::New) => format!(
                        "{} [{}] (new since baseline): {}",
                        r.name,
                        reason.code(),
                        r.message.as_str()
                    ),
                    _ => format!("{} [{}]: {}", r.name, reason.code(), r.message.as_str()),
                },
                check_name: reason.code(),
                fingerprint: fp,
                severity: match r.status {
                    Status::Fail => "major",
                    Status::Waived => "info",
                    _ => "minor",
                },
                location: Location {
                    path: cx.paths.relative(&r.location.file),
                    lines: Lines {
                        begin: r.location.line.max(1),
                    },
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn render_fixture() -> String {
        let bytes = fixture::rendered(&CodeQuality, &fixture::summary(), &fixture::repo_root());
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render_fixture());
    }

    #[test]
    fn severities_and_unique_stable_fingerprints() {
        let doc: serde_json::Value = serde_json::from_str(&render_fixture()).unwrap();
        let issues = doc.as_array().unwrap();
        // The SKIP is left out (its root cause is reported); the WAIVED failure is `info`.
        assert_eq!(issues.len(), 5);
        let sev: Vec<&str> = issues
            .iter()
            .map(|i| i["severity"].as_str().unwrap())
            .collect();
        assert_eq!(sev, ["major", "major", "minor", "minor", "info"]);
        let mut fps: Vec<&str> = issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        fps.sort_unstable();
        fps.dedup();
        assert_eq!(fps.len(), 5);
        assert_eq!(issues[0]["location"]["path"], "infracheck.yaml");
        assert_eq!(issues[0]["location"]["lines"]["begin"], 12);
        // Pinned: a fingerprint must never change between versions.
        assert_eq!(
            fingerprint("prod", "api-ready", "http.status"),
            "ac9422ec006102637502e99469a150c6"
        );
        assert_ne!(
            fingerprint("prod", "ab", "c"),
            fingerprint("prod", "a", "bc")
        );
        assert_eq!(
            fingerprint("prod", "api-ready", "http.status"),
            issues[0]["fingerprint"].as_str().unwrap()
        );
    }
}
