//! `infracheck merge`: read the JSON documents of a sharded run (`run --shard K/N --json …`)
//! back into one [`Summary`], so the same reporters write the same reports — with the same exit
//! code — as a single run of the whole environment would.
//!
//! The documents are user input: a corrupt, truncated or hostile file is an error naming the
//! file, never a panic. Documents that do not fit together (another environment or config, a
//! shard given twice or missing, a check in two shards) are refused rather than merged into a
//! report that silently lacks checks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::model::{
    CheckResult, Document, DocumentSeed, GateSummary, Interruption, SelectionRun, ShardRun, Summary,
};

/// Why the documents cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// One document is unreadable, invalid, or does not fit with the others.
    #[error("{path}: {message}")]
    Document {
        /// The document's path as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The documents together do not make a whole run.
    #[error("{0}")]
    Set(String),
}

fn doc_error(path: &Path, message: impl Into<String>) -> MergeError {
    MergeError::Document {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// One document, checked and converted.
struct Part {
    path: PathBuf,
    environment: String,
    config: String,
    started_at: OffsetDateTime,
    duration: Duration,
    fail_on_warn: bool,
    interrupted: Option<Interruption>,
    shard: Option<ShardRun>,
    selection: Option<SelectionRun>,
    gate: Option<GateSummary>,
    results: Vec<CheckResult>,
}

/// Read and combine `paths` into the summary of one run. `fail_on_warn` (the merge's own
/// `--fail-on-warn`) adds to the documents' setting: any shard run with it makes WARN fail.
/// `seed`: the check kinds and the reasons a document's results may name.
pub fn load(
    paths: &[PathBuf],
    fail_on_warn: bool,
    seed: DocumentSeed<'_>,
) -> Result<Summary, MergeError> {
    let docs = paths
        .iter()
        .map(|p| read_part(p, seed))
        .collect::<Result<Vec<_>, _>>()?;
    combine(docs, fail_on_warn)
}

/// Read one JSON document; every problem names the file.
fn read_part(path: &Path, seed: DocumentSeed<'_>) -> Result<Part, MergeError> {
    let bytes = std::fs::read(path).map_err(|e| doc_error(path, format!("cannot read: {e}")))?;
    let doc = Document::from_json(&bytes, seed).map_err(|m| doc_error(path, m))?;
    let started_at = doc.started_at().map_err(|m| doc_error(path, m))?;
    Ok(Part {
        path: path.to_path_buf(),
        environment: doc.environment.into_owned(),
        config: doc.config.into_owned(),
        started_at,
        duration: Duration::from_millis(doc.duration_ms),
        fail_on_warn: doc.fail_on_warn,
        interrupted: doc.interrupted,
        shard: doc.shard.map(std::borrow::Cow::into_owned),
        selection: doc.selection.map(std::borrow::Cow::into_owned),
        gate: doc.gate.map(std::borrow::Cow::into_owned),
        results: doc.results.into_owned(),
    })
}

/// One summary of `docs`, refused unless they are the whole of one run: the documents checked
/// to fit together, then their times, verdict settings, gate and selection merged and their
/// results put back into config order.
fn combine(docs: Vec<Part>, fail_on_warn: bool) -> Result<Summary, MergeError> {
    let Some(first) = docs.first() else {
        return Err(MergeError::Set("no JSON documents to merge".to_owned()));
    };
    let environment = first.environment.clone();
    let config = first.config.clone();
    let total_checks = first.shard.as_ref().map(|s| s.total_checks);
    same_run(&docs)?;
    // Shards may be empty one by one, but a merged run of nothing would pass.
    if docs.iter().all(|d| d.results.is_empty()) {
        return Err(MergeError::Set(format!(
            "{} (the merged documents hold no results)",
            crate::config::no_checks(&environment)
        )));
    }
    let (started_at, duration) = time_span(&docs);
    let interrupted = worst_interruption(&docs);
    let fail_on_warn = fail_on_warn || docs.iter().any(|d| d.fail_on_warn);
    same_gate(&docs)?;
    let gate = merged_gate(&docs);
    let selection = same_selection(&docs)?;
    let results = in_config_order(docs, total_checks)?;
    Ok(Summary {
        environment,
        config_path: config,
        started_at,
        duration,
        results,
        fail_on_warn,
        interrupted,
        shard: None,
        selection,
        fail_on: Default::default(),
        baseline: None,
        gate,
        history: None,
        judgement: crate::model::Judgement::UNJUDGED,
    })
}

/// Every document is a shard of the same run: the first one's environment and config, shards
/// of the same split, each shard once and none missing (or a single whole run).
fn same_run(docs: &[Part]) -> Result<(), MergeError> {
    let Some(first) = docs.first() else {
        return Ok(());
    };
    let first_path = first.path.display().to_string();
    let first_shard = first.shard.as_ref().map(|s| (s.count, s.total_checks));
    let mut seen_shards: BTreeMap<u32, String> = BTreeMap::new();
    for d in docs {
        same_source(d, first)?;
        match (&d.shard, first_shard) {
            (None, _) if docs.len() > 1 => {
                return Err(doc_error(
                    &d.path,
                    "is a whole run (`shard` is null): only the documents of `run --shard K/N` can be merged together",
                ));
            }
            (None, _) => {}
            (Some(s), Some(split)) => same_split(d, s, split, &first_path, &mut seen_shards)?,
            (Some(_), None) => {
                return Err(doc_error(
                    &d.path,
                    format!("is a shard but {first_path} is a whole run (`shard` is null)"),
                ));
            }
        }
    }
    match first_shard {
        Some((count, _)) => no_shard_missing(count, &seen_shards),
        None => Ok(()),
    }
}

/// `d` ran the environment and config `first` ran.
fn same_source(d: &Part, first: &Part) -> Result<(), MergeError> {
    let fields = [
        ("environment", &d.environment, &first.environment),
        ("config", &d.config, &first.config),
    ];
    match fields.into_iter().find(|(_, mine, theirs)| mine != theirs) {
        Some((what, mine, theirs)) => Err(doc_error(
            &d.path,
            format!(
                "{what} `{mine}` differs from `{theirs}` in {}",
                first.path.display()
            ),
        )),
        None => Ok(()),
    }
}

/// The shard `s` of document `d` belongs to the split of the first document (`count` shards
/// of `total` checks) and was not given before (`seen`: shard number → document).
fn same_split(
    d: &Part,
    s: &ShardRun,
    (count, total): (u32, usize),
    first_path: &str,
    seen: &mut BTreeMap<u32, String>,
) -> Result<(), MergeError> {
    if s.count != count || s.total_checks != total {
        return Err(doc_error(
            &d.path,
            format!(
                "shard {}/{} of {} checks does not fit shard count {count} of {total} checks in {first_path} (different configs or --shard counts)",
                s.index, s.count, s.total_checks
            ),
        ));
    }
    if let Some(other) = seen.insert(s.index, d.path.display().to_string()) {
        return Err(doc_error(
            &d.path,
            format!("shard {}/{} is also {other}", s.index, s.count),
        ));
    }
    Ok(())
}

/// Every shard 1..=`count` was given (`seen`).
fn no_shard_missing(count: u32, seen: &BTreeMap<u32, String>) -> Result<(), MergeError> {
    let missing: Vec<String> = (1..=count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(MergeError::Set(format!(
        "missing shard{} {} of {count}: give the JSON document of every shard",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    )))
}

/// When the whole run started (the earliest shard) and how long it took (to the end of the
/// last shard).
fn time_span(docs: &[Part]) -> (OffsetDateTime, Duration) {
    let started_at = docs
        .iter()
        .map(|d| d.started_at)
        .min()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let ended_at = docs
        .iter()
        .map(|d| {
            d.started_at.saturating_add(
                time::Duration::try_from(d.duration).unwrap_or(time::Duration::ZERO),
            )
        })
        .max()
        .unwrap_or(started_at);
    let duration = Duration::try_from(ended_at - started_at).unwrap_or_default();
    (started_at, duration)
}

/// The gravest interruption of any shard: SIGTERM over SIGINT over the deadline.
fn worst_interruption(docs: &[Part]) -> Option<Interruption> {
    docs.iter()
        .filter_map(|d| d.interrupted)
        .max_by_key(|i| match i {
            Interruption::Deadline => 0,
            Interruption::Sigint => 1,
            Interruption::Sigterm => 2,
        })
}

/// Every shard ran with the deploy gate, or none did.
fn same_gate(docs: &[Part]) -> Result<(), MergeError> {
    let Some(first) = docs.first() else {
        return Ok(());
    };
    let Some(d) = docs
        .iter()
        .find(|d| d.gate.is_some() != first.gate.is_some())
    else {
        return Ok(());
    };
    Err(doc_error(
        &d.path,
        format!(
            "{} --until-healthy but {} {}: every shard of a run must use the same deploy gate",
            if d.gate.is_some() {
                "ran with"
            } else {
                "ran without"
            },
            first.path.display(),
            if first.gate.is_some() {
                "did"
            } else {
                "did not"
            }
        ),
    ))
}

/// The results of every document back in config order (by each shard's positions), refusing
/// a check that two shards ran, a position two documents claim, and, for shards of a run of
/// `total_checks`, a set that does not hold them all.
fn in_config_order(
    docs: Vec<Part>,
    total_checks: Option<usize>,
) -> Result<Vec<CheckResult>, MergeError> {
    let mut owner: HashMap<String, PathBuf> = HashMap::new();
    let mut positioned: Vec<(usize, CheckResult)> = Vec::new();
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    for d in docs {
        let positions: Vec<usize> = match &d.shard {
            Some(s) => s.positions.clone(),
            None => (0..d.results.len()).collect(),
        };
        for (pos, r) in positions.into_iter().zip(d.results) {
            if let Some(other) = owner.get(&r.name) {
                return Err(doc_error(
                    &d.path,
                    format!(
                        "check `{}` is also in {} (a check must run in exactly one shard)",
                        r.name,
                        other.display()
                    ),
                ));
            }
            if !taken.insert(pos) {
                return Err(doc_error(
                    &d.path,
                    format!(
                        "check `{}` is at config position {pos}, which another document also uses (different configs?)",
                        r.name
                    ),
                ));
            }
            owner.insert(r.name.clone(), d.path.clone());
            positioned.push((pos, r));
        }
    }
    if let Some(total) = total_checks
        && positioned.len() != total
    {
        return Err(MergeError::Set(format!(
            "the documents hold {} of the run's {total} checks (different configs?)",
            positioned.len()
        )));
    }
    positioned.sort_by_key(|(pos, _)| *pos);
    Ok(positioned.into_iter().map(|(_, r)| r).collect())
}

/// The selection every document ran (`--tags`, `--only`…): the shards of one run must all have
/// run the same one, or the merged reports would judge a mix of subsets as one run.
fn same_selection(docs: &[Part]) -> Result<Option<SelectionRun>, MergeError> {
    let Some(first) = docs.first() else {
        return Ok(None);
    };
    let describe = |s: &Option<SelectionRun>| {
        s.as_ref().map_or_else(
            || "every check".to_owned(),
            |s| format!("selection {}", s.options()),
        )
    };
    if let Some(d) = docs.iter().find(|d| d.selection != first.selection) {
        return Err(doc_error(
            &d.path,
            format!(
                "ran {} but {} ran {}: every shard of a run must select the same checks",
                describe(&d.selection),
                first.path.display(),
                describe(&first.selection)
            ),
        ));
    }
    Ok(first.selection.clone())
}

/// The deploy gate of the whole run: healthy only if every shard's gate was; as many rounds
/// as the longest shard ran.
fn merged_gate(docs: &[Part]) -> Option<GateSummary> {
    let first = docs.iter().find_map(|d| d.gate.as_ref())?;
    let healthy = docs
        .iter()
        .all(|d| d.gate.as_ref().is_some_and(|g| g.healthy));
    Some(GateSummary {
        interval: first.interval,
        deadline: first.deadline,
        rounds: docs
            .iter()
            .filter_map(|d| d.gate.as_ref().map(|g| g.rounds))
            .max()
            .unwrap_or(0),
        healthy,
        healthy_after: if healthy {
            docs.iter()
                .filter_map(|d| d.gate.as_ref().and_then(|g| g.healthy_after))
                .max()
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds and reasons these documents may name.
    const KINDS: DocumentSeed<'static> = DocumentSeed {
        kinds: &["http", "tcp"],
        reasons: &[
            crate::model::Reason::HttpStatus,
            crate::model::Reason::HttpLatency,
        ],
    };

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn doc(env: &str, shard: &str, results: &str) -> String {
        format!(
            r#"{{"schema_version":1,"environment":"{env}","config":"c.yaml","started_at":"2026-01-01T10:00:00Z","duration_ms":5,"fail_on_warn":false,"interrupted":null,"shard":{shard},"results":[{results}]}}"#
        )
    }

    /// [`doc`] of shard `index` of a run split in 2 shards of 3 checks, which ran the checks
    /// at `positions` (`0,1`).
    fn split_doc(env: &str, index: u32, positions: &str, results: &str) -> String {
        let shard =
            format!(r#"{{"index":{index},"count":2,"total_checks":3,"positions":[{positions}]}}"#);
        doc(env, &shard, results)
    }

    fn result(name: &str, status: &str, reason: &str) -> String {
        format!(
            r#"{{"name":"{name}","kind":"http","target":"t","status":"{status}","reason":{reason},"message":"m","duration_ms":1,"attempts":1,"flaky":false,"metadata":{{}},"location":{{"file":"c.yaml","line":1,"column":1}}}}"#
        )
    }

    #[test]
    fn merges_in_config_order_and_refuses_bad_sets() {
        let dir = tempfile::tempdir().unwrap();
        let z = result("z", "FAIL", r#""http.status""#);
        let (x, y) = (
            result("x", "PASS", "null"),
            result("y", "WARN", r#""http.latency""#),
        );
        let a = write(dir.path(), "a.json", &split_doc("prod", 1, "2", &z));
        let b = write(
            dir.path(),
            "b.json",
            &split_doc("prod", 2, "0,1", &format!("{x},{y}")),
        );
        let s = load(&[a.clone(), b.clone()], false, KINDS).unwrap();
        let names: Vec<&str> = s.results.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "z"]);
        assert!(
            !crate::policy::Policy::new(s.fail_on_warn, s.fail_on, false)
                .judge(&s)
                .passed()
        );

        let err = load(std::slice::from_ref(&a), false, KINDS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing shard 2 of 2"), "{err}");
        let err = load(&[a.clone(), a.clone()], false, KINDS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shard 1/2 is also"), "{err}");
        let other = write(dir.path(), "other.json", &split_doc("stage", 2, "0", &x));
        let err = load(&[a.clone(), other], false, KINDS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("other.json: environment `stage`"), "{err}");
    }

    #[test]
    fn hostile_documents_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("trunc.json", "{\"schema_version\":1,".to_owned()),
            ("newer.json", doc("p", "null", "").replace(":1,", ":2,")),
            ("deep.json", "[".repeat(100_000)),
            (
                "kind.json",
                doc("p", "null", &result("x", "PASS", "null")).replace("http", "gopher"),
            ),
            (
                "reason.json",
                doc("p", "null", &result("x", "FAIL", r#""nope""#)),
            ),
            (
                "noreason.json",
                doc("p", "null", &result("x", "FAIL", "null")),
            ),
            (
                "shard.json",
                doc(
                    "p",
                    r#"{"index":3,"count":2,"total_checks":1,"positions":[]}"#,
                    "",
                ),
            ),
            (
                "pos.json",
                doc(
                    "p",
                    r#"{"index":1,"count":1,"total_checks":1,"positions":[7]}"#,
                    &result("x", "PASS", "null"),
                ),
            ),
            ("array.json", "[]".to_owned()),
        ];
        for (name, text) in cases {
            let p = write(dir.path(), name, &text);
            let err = load(&[p], false, KINDS).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
            assert!(!err.contains('\n'), "{name}: {err}");
        }
    }
}
