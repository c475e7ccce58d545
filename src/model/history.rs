//! The `--history` window as reporters read it.

use serde::Serialize;

use super::{Status, Summary};

/// One check over the `--history` window (JSON `results[].history`): the runs of the same
/// environment that had the check, this run included, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckHistory {
    /// Runs in the window that had the check (1: a new check, no history yet).
    pub runs: usize,
    /// How many of them ended FAIL.
    pub failures: usize,
    /// Median latency over those runs (nearest rank), ms.
    pub p50_ms: u64,
    /// 95th percentile latency (nearest rank), ms.
    pub p95_ms: u64,
    /// Latency per run, oldest first (this run last).
    #[serde(skip)]
    pub latencies_ms: Vec<u64>,
    /// Status per run, oldest first (this run last).
    #[serde(skip)]
    pub statuses: Vec<Status>,
}

/// The `--history` window of the whole run: read by the HTML pass-rate strip and the
/// markdown "Trends" section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistorySummary {
    /// The history file's path as given.
    pub path: String,
    /// The most runs kept per environment (`--history-keep`).
    pub keep: usize,
    /// Per run of this environment in the window, oldest first (this run last): when it
    /// started (RFC 3339), its checks and how many of them passed.
    pub runs: Vec<RunPoint>,
}

/// One run of the history window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunPoint {
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Checks in the run.
    pub total: usize,
    /// Checks that ended PASS.
    pub passed: usize,
}

/// The nearest-rank percentile `p` (1–100) of `values`; 0 when empty.
pub fn percentile(values: &[u64], p: usize) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// `▁▂▃▅▇`: the latency glyphs of the trend line, lowest to highest.
pub const GLYPHS: [char; 5] = ['▁', '▂', '▃', '▅', '▇'];

/// Most glyphs in a sparkline (the most recent runs).
pub const SPARK_MAX: usize = 30;

/// The latencies as glyphs, scaled between the window's minimum and maximum (all `▁` when
/// they are equal). At most the last [`SPARK_MAX`] values.
pub fn sparkline(values: &[u64]) -> String {
    let values = values
        .get(values.len().saturating_sub(SPARK_MAX)..)
        .unwrap_or_default();
    let (Some(min), Some(max)) = (values.iter().min(), values.iter().max()) else {
        return String::new();
    };
    // In u128: `(v - min) * 4` of a huge latency must not overflow.
    let (min, span) = (u128::from(*min), u128::from(max - min));
    values
        .iter()
        .map(|v| {
            // All equal (span 0): the lowest glyph.
            let level = ((u128::from(*v) - min) * 4 + span / 2)
                .checked_div(span)
                .map_or(0, |l| usize::try_from(l).unwrap_or(4));
            GLYPHS.get(level.min(4)).copied().unwrap_or('▇')
        })
        .collect()
}

/// `▁▂▇ · p50 120 ms · p95 1.20 s · 2 of last 3 failed`, or `new: no history yet`.
pub fn trend_line(h: &CheckHistory) -> String {
    if h.runs <= 1 {
        return "new: no history yet".to_owned();
    }
    format!(
        "{} · p50 {} · p95 {} · {} of last {} failed",
        sparkline(&h.latencies_ms),
        super::human_duration(std::time::Duration::from_millis(h.p50_ms)),
        super::human_duration(std::time::Duration::from_millis(h.p95_ms)),
        h.failures,
        h.runs
    )
}

/// A check whose latency now is above the p50 of its earlier runs in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover<'a> {
    /// The check.
    pub name: &'a str,
    /// Its latency now, ms.
    pub now_ms: u64,
    /// The p50 of its earlier runs in the window, ms.
    pub before_p50_ms: u64,
}

/// The checks whose latency now rose most above the p50 of their earlier runs in the window,
/// largest increase first (ties: config order), at most `max`.
pub fn worst_movers(summary: &Summary, max: usize) -> Vec<Mover<'_>> {
    let mut movers: Vec<Mover<'_>> = summary
        .results
        .iter()
        .filter_map(|r| {
            let h = r.history.as_ref()?;
            let (now, earlier) = h.latencies_ms.split_last()?;
            if earlier.is_empty() {
                return None;
            }
            let before = percentile(earlier, 50);
            (*now > before).then_some(Mover {
                name: &r.name,
                now_ms: *now,
                before_p50_ms: before,
            })
        })
        .collect();
    movers.sort_by_key(|m| std::cmp::Reverse(m.now_ms - m.before_p50_ms));
    movers.truncate(max);
    movers
}

/// Checks that failed at least twice in the window yet pass now, in config order.
pub fn newly_flaky(summary: &Summary) -> Vec<&str> {
    summary
        .results
        .iter()
        .filter(|r| r.status == Status::Pass && r.history.as_ref().is_some_and(|h| h.failures >= 2))
        .map(|r| r.name.as_str())
        .collect()
}
