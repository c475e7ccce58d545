//! Run history (`--history PATH`): a rolling JSON file of the last runs of each environment,
//! read before the run and written after it. It feeds the trend line of the text report, the
//! "Trends" section of the markdown summary, the HTML sparklines and pass-rate strip, and the
//! JSON `results[].history` fields.
//!
//! One file may hold several environments: each keeps its own last `keep` runs and only the
//! runs of the environment that ran are used (a renamed environment starts a fresh window; the
//! old name's runs stay in the file untouched). A check that left the config disappears from
//! the file once the runs that had it leave the window; a new check has no history yet (a
//! window of one run, this one).

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::model::{CheckHistory, HistorySummary, RunPoint, Status, Summary};
pub use crate::model::{
    GLYPHS, Mover, SPARK_MAX, newly_flaky, percentile, sparkline, trend_line, worst_movers,
};

/// Version of the history file's shape; a file with a higher one is refused.
pub const SCHEMA_VERSION: u32 = 1;
/// Runs kept per environment unless `--history-keep` says otherwise.
pub const DEFAULT_KEEP: usize = 30;
/// The longest latency a history record may hold, ms: 10^12 ms (about 31 years) is more than
/// any check can take (a duration in the config is below 10^9 s). A record above it is not
/// something infracheck wrote; one such value would flatten every trend (`▁▁▁▁▇`).
pub const MAX_LATENCY_MS: u64 = 1_000_000_000_000;

/// Why a history file cannot be used (exit 2 before any check runs).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file exists but cannot be read.
    #[error("history {path}: cannot read: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not a history file infracheck wrote.
    #[error("history {path}: not a valid history file: {message}")]
    Invalid {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Another run held the lock on the file for longer than [`LOCK_WAIT`], or the lock file
    /// could not be opened.
    #[error("history {path}: cannot lock {lock}: {why}")]
    Lock {
        /// The path as given.
        path: String,
        /// The lock file.
        lock: String,
        /// Why.
        why: String,
    },
    /// Written by a newer infracheck.
    #[error(
        "history {path}: schema_version {found} is newer than this infracheck reads ({SCHEMA_VERSION}): upgrade infracheck or start a new file"
    )]
    Newer {
        /// The path as given.
        path: String,
        /// The file's version.
        found: u64,
    },
}

/// How long a run waits for another one sharing the history file to finish its update.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An advisory lock (`flock`) on `PATH.lock` beside the history file, held while alive:
/// runs sharing one `--history` file read, record and write it one at a time, so no run's
/// record is lost. The lock is on a file of its own because the history file itself is
/// replaced (renamed over) by each write; the lock file is never removed (removing it would
/// let two runs lock two different files).
#[derive(Debug)]
pub struct HistoryLock {
    _file: std::fs::File,
}

impl HistoryLock {
    /// Take the lock of the history file `path`, waiting at most [`LOCK_WAIT`].
    pub fn acquire(path: &Path) -> Result<HistoryLock, HistoryError> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let lock = std::path::PathBuf::from(name);
        let error = |why: String| HistoryError::Lock {
            path: path.display().to_string(),
            lock: lock.display().to_string(),
            why,
        };
        // The history file's directory may not exist yet (a first run creates it).
        if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| error(e.to_string()))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(HistoryLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    // Another run is updating the file (a few milliseconds, usually).
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(error(format!(
                        "another run held it for {}s (its update did not finish)",
                        LOCK_WAIT.as_secs()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(error(e.to_string())),
            }
        }
    }
}

/// The file: every kept run, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Runs of every environment, oldest first.
    pub runs: Vec<Run>,
    /// Check records dropped when the file was read: their latency was above
    /// [`MAX_LATENCY_MS`] (the run warns; the file is written back without them).
    #[serde(skip)]
    pub ignored: usize,
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Its environment.
    pub environment: String,
    /// Its checks, in config order.
    pub checks: Vec<RunCheck>,
}

/// One check of a recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCheck {
    /// The check's name (as reported, secrets redacted).
    pub name: String,
    /// `PASS`, `WARN`, `FAIL`, `SKIP` or `WAIVED`.
    pub status: String,
    /// The reason code, when not PASS.
    pub reason: Option<String>,
    /// Its latency (the result's duration), ms.
    pub latency_ms: u64,
}

impl History {
    /// An empty history (a first run).
    pub fn empty() -> Self {
        History {
            schema_version: SCHEMA_VERSION,
            runs: Vec::new(),
            ignored: 0,
        }
    }

    /// Read `path`. `Ok(None)`: nothing there yet (a first run; the file is created after it).
    pub fn load(path: &Path) -> Result<Option<History>, HistoryError> {
        let shown = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(HistoryError::Read {
                    path: shown,
                    source,
                });
            }
        };
        Self::parse(&shown, &bytes).map(Some)
    }

    /// Parse the bytes of the file `shown`.
    pub fn parse(shown: &str, bytes: &[u8]) -> Result<History, HistoryError> {
        let invalid = |message: String| HistoryError::Invalid {
            path: shown.to_owned(),
            message,
        };
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| invalid(format!("not a valid JSON document ({e})")))?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| invalid("no numeric `schema_version`".to_owned()))?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(HistoryError::Newer {
                path: shown.to_owned(),
                found: version,
            });
        }
        let mut history: History =
            serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        for run in &mut history.runs {
            let before = run.checks.len();
            run.checks.retain(|c| c.latency_ms <= MAX_LATENCY_MS);
            history.ignored += before - run.checks.len();
        }
        for run in &history.runs {
            if let Some(c) = run
                .checks
                .iter()
                .find(|c| Status::from_label(&c.status).is_none())
            {
                return Err(invalid(format!(
                    "unknown status `{}`",
                    crate::text::truncate_chars(&c.status, 40)
                )));
            }
        }
        Ok(history)
    }

    /// The file's bytes (pretty JSON, trailing newline).
    pub fn render(&self) -> Result<Vec<u8>, serde_json::Error> {
        crate::text::pretty_json(self)
    }

    /// Add the run of `summary`, keep the last `keep` runs of its environment, and attach the
    /// window to the summary and each of its results.
    pub fn record(&mut self, summary: &mut Summary, path: &str, keep: usize) {
        let keep = keep.max(1);
        let environment = summary.environment.clone();
        self.runs.push(Run {
            started_at: summary.started_at.format(&Rfc3339).unwrap_or_default(),
            environment: environment.clone(),
            checks: summary
                .results
                .iter()
                // Cut short by the deadline or a signal: says nothing about the check.
                .filter(|r| !r.cut_short())
                .map(|r| RunCheck {
                    name: r.name.clone(),
                    status: r.status.as_str().to_owned(),
                    reason: r.reason.map(|x| x.code().to_owned()),
                    latency_ms: crate::model::millis(r.duration),
                })
                .collect(),
        });
        let of_env = self
            .runs
            .iter()
            .filter(|r| r.environment == environment)
            .count();
        let mut drop = of_env.saturating_sub(keep);
        self.runs.retain(|r| {
            if drop > 0 && r.environment == environment {
                drop -= 1;
                false
            } else {
                true
            }
        });
        let window: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| r.environment == environment)
            .collect();
        for result in &mut summary.results {
            let mut latencies = Vec::new();
            let mut statuses = Vec::new();
            for run in &window {
                if let Some(c) = run.checks.iter().find(|c| c.name == result.name) {
                    latencies.push(c.latency_ms);
                    statuses.push(Status::from_label(&c.status).unwrap_or(Status::Fail));
                }
            }
            if statuses.is_empty() {
                continue;
            }
            result.history = Some(Box::new(CheckHistory {
                runs: statuses.len(),
                failures: statuses.iter().filter(|s| **s == Status::Fail).count(),
                p50_ms: percentile(&latencies, 50),
                p95_ms: percentile(&latencies, 95),
                latencies_ms: latencies,
                statuses,
            }));
        }
        summary.history = Some(HistorySummary {
            path: path.to_owned(),
            keep,
            runs: window
                .iter()
                .map(|r| RunPoint {
                    started_at: r.started_at.clone(),
                    total: r.checks.len(),
                    passed: r.checks.iter().filter(|c| c.status == "PASS").count(),
                })
                .collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::fixture;

    #[test]
    fn percentiles_and_glyphs() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[5], 95), 5);
        let v: Vec<u64> = (1..=10).map(|i| i * 100).collect();
        assert_eq!(percentile(&v, 50), 500);
        assert_eq!(percentile(&v, 95), 1000);
        assert_eq!(sparkline(&[10, 10, 10]), "▁▁▁");
        assert_eq!(sparkline(&[0, 25, 50, 75, 100]), "▁▂▃▅▇");
        assert_eq!(sparkline(&(0..100).collect::<Vec<_>>()).chars().count(), 30);
    }

    #[test]
    fn keeps_the_last_runs_per_environment_and_attaches_the_window() {
        let mut h = History::empty();
        h.runs.push(Run {
            started_at: "2024-01-01T00:00:00Z".to_owned(),
            environment: "stage".to_owned(),
            checks: Vec::new(),
        });
        for i in 0..5u64 {
            let mut s = fixture::summary();
            s.results.truncate(2);
            s.results[0].duration = Duration::from_millis(100 * (i + 1));
            s.results[1].status = if i % 2 == 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            h.record(&mut s, "h.json", 3);
            if i == 4 {
                let a = s.results[0].history.as_ref().unwrap();
                assert_eq!((a.runs, a.failures), (3, 0));
                assert_eq!(a.latencies_ms, vec![300, 400, 500]);
                assert_eq!((a.p50_ms, a.p95_ms), (400, 500));
                let b = s.results[1].history.as_ref().unwrap();
                assert_eq!((b.runs, b.failures), (3, 2));
                assert_eq!(s.history.as_ref().unwrap().runs.len(), 3);
                assert_eq!(worst_movers(&s, 5)[0].before_p50_ms, 300);
            }
        }
        assert_eq!(h.runs.len(), 4, "3 of prod, the stage run kept");
        assert_eq!(h.runs[0].environment, "stage");
        let back = History::parse("h.json", &h.render().unwrap()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn absurd_latencies_are_dropped_and_counted() {
        let text = format!(
            r#"{{"schema_version":1,"runs":[{{"started_at":"x","environment":"p","checks":[{{"name":"a","status":"PASS","reason":null,"latency_ms":{}}},{{"name":"b","status":"PASS","reason":null,"latency_ms":120}}]}}]}}"#,
            u64::MAX
        );
        let h = History::parse("h.json", text.as_bytes()).unwrap();
        assert_eq!(h.ignored, 1);
        let names: Vec<&str> = h.runs[0].checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b"]);
        assert!(
            !String::from_utf8(h.render().unwrap())
                .unwrap()
                .contains("ignored")
        );
    }

    #[test]
    fn refuses_bad_files() {
        let e = History::parse("h.json", b"{").unwrap_err().to_string();
        assert!(
            e.starts_with("history h.json: not a valid history file"),
            "{e}"
        );
        let e = History::parse("h.json", br#"{"schema_version": 7, "runs": []}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema_version 7 is newer"), "{e}");
        let bad = br#"{"schema_version":1,"runs":[{"started_at":"x","environment":"p","checks":[{"name":"a","status":"MEH","reason":null,"latency_ms":1}]}]}"#;
        assert!(History::parse("h.json", bad).is_err());
    }
}
