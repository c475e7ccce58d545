//! What `serve` remembers: per check, its latest result (judged and redacted once), a ring of
//! its last results (`--history-keep`) and its counters. Nothing here grows with uptime: the
//! ring is bounded and the counters are numbers.

use std::collections::{HashMap, VecDeque};

use crate::checks::CheckDef;
use crate::model::{CheckHistory, CheckResult, HistorySummary, Status, Summary, percentile};

/// Default `--history-keep`.
pub const DEFAULT_KEEP: usize = 100;

/// One result in a check's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Its status.
    pub status: Status,
    /// Its latency, ms.
    pub latency_ms: u64,
}

/// One check of the running config.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The check's name (as configured; the reports show the redacted one).
    pub name: String,
    /// Its definition without its place in the file: a reload keeps the history of a check
    /// whose fingerprint did not change.
    pub fingerprint: String,
    /// The latest result, redacted.
    pub latest: Option<CheckResult>,
    /// The last results, oldest first, at most `keep`.
    pub ring: VecDeque<Sample>,
    /// Results recorded since the check was (re)defined.
    pub runs: u64,
    /// Of them, FAIL.
    pub failures: u64,
    /// When the latest result was recorded (Unix seconds).
    pub last_run: Option<f64>,
}

/// The definition of `c` as text, without where it is written.
pub fn fingerprint(c: &CheckDef) -> String {
    format!(
        "{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        c.name,
        c.target,
        c.timeout,
        c.retries,
        c.retry_delay,
        c.interval,
        c.depends_on.iter().map(|d| &d.name).collect::<Vec<_>>(),
        c.tags,
        c.phase_limits,
        c.spec
    )
}

/// Everything `serve` shows.
#[derive(Debug)]
pub struct State {
    /// The environment.
    pub environment: String,
    /// The config path as given.
    pub config_path: String,
    /// When `serve` started.
    pub started_at: time::OffsetDateTime,
    /// The checks of the running config, in config order.
    pub checks: Vec<Tracked>,
    /// Whether the last reload succeeded (true before any).
    pub reload_ok: bool,
    /// When the config was last loaded successfully (Unix seconds).
    pub loaded_at: f64,
    /// Ring size.
    pub keep: usize,
}

impl State {
    /// The state of a config just loaded.
    pub fn new(environment: &str, config_path: &str, checks: &[CheckDef], keep: usize) -> Self {
        State {
            environment: environment.to_owned(),
            config_path: config_path.to_owned(),
            started_at: time::OffsetDateTime::now_utc(),
            checks: checks.iter().map(new_tracked).collect(),
            reload_ok: true,
            loaded_at: unix_now(),
            keep: keep.max(1),
        }
    }

    /// A reloaded config: a check whose name and fingerprint are unchanged keeps its history;
    /// returns, per new check, its index in the old list when kept.
    pub fn reload(&mut self, checks: &[CheckDef]) -> Vec<Option<usize>> {
        let old: HashMap<(String, String), usize> = self
            .checks
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.name.clone(), t.fingerprint.clone()), i))
            .collect();
        let mut previous: Vec<Option<Tracked>> = std::mem::take(&mut self.checks)
            .into_iter()
            .map(Some)
            .collect();
        let mut kept = Vec::with_capacity(checks.len());
        for c in checks {
            let fresh = new_tracked(c);
            let at = old
                .get(&(fresh.name.clone(), fresh.fingerprint.clone()))
                .copied();
            let tracked = at
                .and_then(|i| previous.get_mut(i).and_then(Option::take))
                .unwrap_or(fresh);
            kept.push(at);
            self.checks.push(tracked);
        }
        self.reload_ok = true;
        self.loaded_at = unix_now();
        kept
    }

    /// Record `result` (already judged and redacted) as the latest of check `idx`.
    pub fn record(&mut self, idx: usize, result: CheckResult, at: f64) {
        let keep = self.keep;
        let Some(t) = self.checks.get_mut(idx) else {
            return;
        };
        t.runs += 1;
        if result.status == Status::Fail {
            t.failures += 1;
        }
        t.last_run = Some(at);
        while t.ring.len() >= keep {
            t.ring.pop_front();
        }
        t.ring.push_back(Sample {
            status: result.status,
            latency_ms: crate::model::millis(result.duration),
        });
        t.latest = Some(result);
    }

    /// Whether every check has a result.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|t| t.latest.is_some())
    }

    /// How many checks have a result.
    pub fn ran(&self) -> usize {
        self.checks.iter().filter(|t| t.latest.is_some()).count()
    }

    /// The latest result of every check that has one, as one run's summary (config order),
    /// each with its ring as its history.
    pub fn summary(&self) -> Summary {
        let results = self
            .checks
            .iter()
            .filter_map(|t| {
                let mut r = t.latest.clone()?;
                r.history = Some(Box::new(history_of(t)));
                Some(r)
            })
            .collect();
        let mut summary = Summary {
            environment: self.environment.clone(),
            config_path: self.config_path.clone(),
            started_at: self.started_at,
            duration: time::OffsetDateTime::now_utc()
                .unix_timestamp_nanos()
                .checked_sub(self.started_at.unix_timestamp_nanos())
                .and_then(|ns| u64::try_from(ns).ok())
                .map(std::time::Duration::from_nanos)
                .unwrap_or_default(),
            results,
            fail_on_warn: false,
            interrupted: None,
            shard: None,
            selection: None,
            fail_on: crate::model::FailOn::Any,
            baseline: None,
            gate: None,
            history: Some(HistorySummary {
                path: "memory".to_owned(),
                keep: self.keep,
                runs: Vec::new(),
            }),
            judgement: crate::model::Judgement::UNJUDGED,
        };
        // Judged as a run without flags would be (the reports read the stored verdict).
        summary.judgement = crate::policy::Policy::default().judge(&summary);
        summary
    }
}

fn new_tracked(c: &CheckDef) -> Tracked {
    Tracked {
        name: c.name.clone(),
        fingerprint: fingerprint(c),
        latest: None,
        ring: VecDeque::new(),
        runs: 0,
        failures: 0,
        last_run: None,
    }
}

/// The ring of `t` as the reports' per-check history.
fn history_of(t: &Tracked) -> CheckHistory {
    let latencies_ms: Vec<u64> = t.ring.iter().map(|s| s.latency_ms).collect();
    CheckHistory {
        runs: t.ring.len(),
        failures: t.ring.iter().filter(|s| s.status == Status::Fail).count(),
        p50_ms: percentile(&latencies_ms, 50),
        p95_ms: percentile(&latencies_ms, 95),
        statuses: t.ring.iter().map(|s| s.status).collect(),
        latencies_ms,
    }
}

/// Now as Unix seconds.
pub fn unix_now() -> f64 {
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp_nanos() as f64 / 1e9
}
