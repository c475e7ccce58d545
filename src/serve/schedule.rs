//! When each check runs, each on its own: every check is due at once when `serve` starts (so
//! `/readyz` turns ready as soon as each has a result), then every `interval` from the start of
//! its previous run, moved by a jitter of up to ±10 % so checks with one interval do not stay
//! aligned. A check is never run twice at once: a run still in flight when the check is due
//! again makes it skip that due time (and any other that passes meanwhile); the check runs
//! next at the first due time after the run ended, a whole number of intervals later.
//!
//! A check that `depends_on` others waits for each of them to have a result (their first run
//! ended); from then on it runs on its own interval and is judged on their latest results (see
//! [`super::live`]).
//!
//! Pure: the times come from a [`Clock`](super::clock::Clock) the caller reads, so a test
//! runs a simulated day. Its size is fixed by the number of checks: nothing grows with uptime.

use std::collections::HashMap;
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

/// A run in flight: its token, and whether its result still belongs to the check (a reload
/// that changed the check keeps the run, so the new definition waits for it, but drops its
/// result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flight {
    token: u64,
    keep: bool,
}

/// Per check: when it is next due, how many runs it started, whether one is in flight and
/// whether one ended.
#[derive(Debug, Clone)]
pub struct Schedule {
    slots: Vec<Slot>,
    /// Per check: when it is next due.
    next: Vec<Duration>,
    /// Per check: how many runs it started (seeds the next jitter).
    runs: Vec<u64>,
    /// Per check: its run in flight.
    flight: Vec<Option<Flight>>,
    /// Per check: whether a run of it ended (its dependents may start).
    done: Vec<bool>,
    /// The token of the next run started.
    token: u64,
}

impl Schedule {
    /// Every check due at `now`.
    pub fn new(slots: Vec<Slot>, now: Duration) -> Self {
        let n = slots.len();
        Schedule {
            slots,
            next: vec![now; n],
            runs: vec![0; n],
            flight: vec![None; n],
            done: vec![false; n],
            token: 0,
        }
    }

    /// A schedule for `slots` that keeps the next run, the run count and the result of every
    /// check `kept` maps to its index in `self` (an unchanged check after a reload); the others
    /// are due at `now`. A run in flight stays with the check of the same name, changed or not
    /// (so a check never runs twice at once); the result of a changed check's run is dropped.
    pub fn carry_over(&self, slots: Vec<Slot>, kept: &[Option<usize>], now: Duration) -> Self {
        let mut s = Schedule::new(slots, now);
        s.token = self.token;
        let by_name: HashMap<&str, usize> = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| (slot.name.as_str(), i))
            .collect();
        for (i, slot) in s.slots.iter().enumerate() {
            let old = kept.get(i).copied().flatten();
            if let Some(o) = old {
                set(&mut s.next, i, self.next.get(o).copied().unwrap_or(now));
                set(&mut s.runs, i, self.runs.get(o).copied().unwrap_or(0));
                set(&mut s.done, i, self.done.get(o).copied().unwrap_or(false));
            }
            let flying = by_name
                .get(slot.name.as_str())
                .and_then(|&o| self.flight.get(o).copied().flatten());
            let flight = flying.map(|f| Flight {
                token: f.token,
                keep: f.keep && old.is_some(),
            });
            set(&mut s.flight, i, flight);
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

    /// Whether check `idx` may start when due: not in flight, and every check it depends on
    /// has a result.
    fn idle(&self, idx: usize) -> bool {
        let free = matches!(self.flight.get(idx), Some(None));
        free && self.slots.get(idx).is_some_and(|s| {
            s.depends_on
                .iter()
                .all(|&d| d == idx || self.done.get(d).copied().unwrap_or(true))
        })
    }

    /// When the next idle check is due; `None` when none is (every check in flight or waiting
    /// for a dependency's first result: only the end of a run changes that).
    pub fn next_due(&self) -> Option<Duration> {
        (0..self.len())
            .filter(|&i| self.idle(i))
            .filter_map(|i| self.next.get(i).copied())
            .min()
    }

    /// The idle checks due at `now`, in config order.
    pub fn due(&self, now: Duration) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.idle(i) && self.next.get(i).is_some_and(|n| *n <= now))
            .collect()
    }

    /// Whether check `idx` has a run in flight.
    pub fn in_flight(&self, idx: usize) -> bool {
        matches!(self.flight.get(idx), Some(Some(_)))
    }

    /// Check `idx` starts at `now`: its next run is due an interval (± jitter) later. Returns
    /// the run's token, for [`Schedule::ended`].
    pub fn start(&mut self, idx: usize, now: Duration) -> u64 {
        let token = self.token;
        self.token = self.token.wrapping_add(1);
        if let (Some(slot), Some(next), Some(runs), Some(flight)) = (
            self.slots.get(idx),
            self.next.get_mut(idx),
            self.runs.get_mut(idx),
            self.flight.get_mut(idx),
        ) {
            *runs += 1;
            *next = now + jittered(slot.interval, &slot.name, *runs);
            *flight = Some(Flight { token, keep: true });
        }
        token
    }

    /// The run `token` ended at `now`: the index of its check when its result is to be
    /// recorded (`None`: the check was removed or changed by a reload since). A due time that
    /// passed while it ran is skipped.
    pub fn ended(&mut self, token: u64, now: Duration) -> Option<usize> {
        let idx = self
            .flight
            .iter()
            .position(|f| f.is_some_and(|f| f.token == token))?;
        let keep = self.flight.get_mut(idx)?.take()?.keep;
        let (slot, next) = (self.slots.get(idx)?, self.next.get_mut(idx)?);
        // A changed check's first run is due at the reload: it starts at once.
        if keep && *next < now && !slot.interval.is_zero() {
            let behind = (now - *next).as_nanos();
            let step = slot.interval.as_nanos();
            let skipped = u32::try_from(behind.div_ceil(step)).unwrap_or(u32::MAX);
            *next = next.saturating_add(slot.interval.saturating_mul(skipped));
        }
        if keep && let Some(d) = self.done.get_mut(idx) {
            *d = true;
        }
        keep.then_some(idx)
    }
}

fn set<T>(v: &mut [T], i: usize, value: T) {
    if let Some(x) = v.get_mut(i) {
        *x = value;
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
