//! When each check runs: every check is due at once when `serve` starts (so `/readyz` turns
//! ready after one cycle), then again `interval` after its last run ended, moved by a jitter of
//! up to ±10 % so checks with one interval do not stay aligned. A cycle runs every check due
//! by then, plus those due within a tenth of their interval (the jitter's own window), as one
//! engine run: `max_workers`, per-host caps and `depends_on` apply within the cycle. A check
//! a due one depends on joins the cycle, so a dependency is judged in the same cycle.
//!
//! Pure: the times come from a [`Clock`](super::clock::Clock) the caller reads, so a test
//! runs a simulated day of cycles.

use std::hash::{Hash, Hasher};
use std::time::Duration;

/// One check as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The check's name (seeds its jitter).
    pub name: String,
    /// `interval`.
    pub interval: Duration,
    /// The checks it depends on, as indices into the slot list.
    pub depends_on: Vec<usize>,
}

/// The next run of every check.
#[derive(Debug, Clone)]
pub struct Schedule {
    slots: Vec<Slot>,
    /// Per check: when it is next due.
    next: Vec<Duration>,
    /// Per check: how many times it ran (seeds the next jitter).
    runs: Vec<u64>,
}

impl Schedule {
    /// Every check due at `now`.
    pub fn new(slots: Vec<Slot>, now: Duration) -> Self {
        let n = slots.len();
        Schedule {
            slots,
            next: vec![now; n],
            runs: vec![0; n],
        }
    }

    /// A schedule for `slots` that keeps the next run of every check `kept` maps to its index
    /// in `self` (an unchanged check after a reload); the others are due at `now`.
    pub fn carry_over(&self, slots: Vec<Slot>, kept: &[Option<usize>], now: Duration) -> Self {
        let mut s = Schedule::new(slots, now);
        for (i, old) in kept.iter().enumerate() {
            if let Some(o) = old
                && let (Some(next), Some(runs)) = (self.next.get(*o), self.runs.get(*o))
            {
                if let Some(n) = s.next.get_mut(i) {
                    *n = *next;
                }
                if let Some(r) = s.runs.get_mut(i) {
                    *r = *runs;
                }
            }
        }
        s
    }

    /// The number of checks.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no checks.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// When the next cycle is due; `None` without checks.
    pub fn next_due(&self) -> Option<Duration> {
        self.next.iter().min().copied()
    }

    /// The checks of the cycle at `now`, in config order: those due (within a tenth of their
    /// interval) and, transitively, the checks they depend on.
    pub fn due(&self, now: Duration) -> Vec<usize> {
        let mut take = vec![false; self.slots.len()];
        let mut work: Vec<usize> = Vec::new();
        for (i, (slot, next)) in self.slots.iter().zip(&self.next).enumerate() {
            if *next <= now + slot.interval / 10 {
                work.push(i);
            }
        }
        while let Some(i) = work.pop() {
            match take.get_mut(i) {
                Some(t) if !*t => *t = true,
                _ => continue,
            }
            if let Some(slot) = self.slots.get(i) {
                work.extend(slot.depends_on.iter().copied());
            }
        }
        take.iter()
            .enumerate()
            .filter_map(|(i, t)| t.then_some(i))
            .collect()
    }

    /// `idx` ran in the cycle that ended at `now`: its next run is an interval (± jitter) later.
    pub fn ran(&mut self, idx: usize, now: Duration) {
        let (Some(slot), Some(next), Some(runs)) = (
            self.slots.get(idx),
            self.next.get_mut(idx),
            self.runs.get_mut(idx),
        ) else {
            return;
        };
        *runs += 1;
        *next = now + jittered(slot.interval, &slot.name, *runs);
    }
}

/// `interval` moved by up to ±10 %, the same for the same check and run count (no random
/// generator: a hash of the name and the count).
pub fn jittered(interval: Duration, name: &str, run: u64) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    run.hash(&mut h);
    // -1000..=1000 thousandths of a tenth of the interval.
    let offset = i64::try_from(h.finish() % 2001).unwrap_or(1000) - 1000;
    let tenth = interval / 10;
    let step = tenth.mul_f64(offset.unsigned_abs() as f64 / 1000.0);
    if offset < 0 {
        interval.saturating_sub(step)
    } else {
        interval + step
    }
}
