//! Which checks may start: the per-host slots and the `depends_on` waits (see the engine's
//! module doc for the rules).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::HeldBack;
use crate::checks::CheckDef;
use crate::config::Dependencies;

/// A check that will not run because a dependency did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Blocked {
    /// The check that is skipped.
    pub(super) check: usize,
    /// Its dependency that did not pass.
    pub(super) by: usize,
    /// The check that failed first along the chain (equal to `by` for a direct dependency).
    pub(super) root: usize,
}

/// Which checks may start, honouring dependencies and the per-host limit. Checks come out in
/// config order, except that a check whose host is saturated is passed over (and queued for its
/// host) so that the checks behind it still start, and a check waiting for its dependencies is
/// passed over until the last of them finishes.
pub(super) struct HostSlots {
    /// Each check's host, as an index into `in_flight`/`queued`; `None` = not host-limited
    /// (every check when no per-host limit is set).
    host_of: Vec<Option<usize>>,
    /// The host keys, by index.
    host_names: Vec<String>,
    /// The first host that held a check back (see [`HeldBack`]).
    first_held: Option<usize>,
    /// Checks in flight per host.
    in_flight: Vec<usize>,
    /// Checks passed over because their host was saturated, per host, in config order.
    queued: Vec<VecDeque<usize>>,
    /// Checks whose host slot is already taken, ready for a global slot (config order).
    ready: VecDeque<usize>,
    /// The next check not yet looked at.
    next: usize,
    per_host: usize,
    /// Per check: how many of its dependencies have not finished yet.
    waiting_on: Vec<usize>,
    /// Per check: the checks that depend on it.
    dependents: Vec<Vec<usize>>,
    /// Checks whose dependencies all passed after they were passed over, in release order.
    released: VecDeque<usize>,
    /// Checks that will not run (a dependency did not pass).
    skipped: Vec<bool>,
}

impl HostSlots {
    /// Slots for `checks`, whose `depends_on` graph is `dependencies`; `per_host` `None` means
    /// no per-host limit.
    pub(super) fn new(
        checks: &[Arc<CheckDef>],
        dependencies: &Dependencies,
        per_host: Option<usize>,
    ) -> Self {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut host_names = Vec::new();
        let host_of = checks
            .iter()
            .map(|c| {
                let key = per_host.and_then(|_| c.host_key())?;
                let next_id = ids.len();
                Some(*ids.entry(key).or_insert_with_key(|k| {
                    host_names.push(k.clone());
                    next_id
                }))
            })
            .collect();
        let (waiting_on, dependents) = waits(checks.len(), dependencies);
        HostSlots {
            host_of,
            host_names,
            first_held: None,
            in_flight: vec![0; ids.len()],
            queued: vec![VecDeque::new(); ids.len()],
            ready: VecDeque::new(),
            next: 0,
            per_host: per_host.unwrap_or(usize::MAX).max(1),
            waiting_on,
            dependents,
            released: VecDeque::new(),
            skipped: vec![false; checks.len()],
        }
    }

    /// The next check that may start now (its host slot, if any, is taken for it). Only asked
    /// while a global slot is free: a check queued here is held back by its host's limit alone.
    pub(super) fn next_runnable(&mut self) -> Option<usize> {
        if let Some(idx) = self.ready.pop_front() {
            return Some(idx);
        }
        loop {
            let idx = if let Some(idx) = self.released.pop_front() {
                idx
            } else if self.next < self.host_of.len() {
                let idx = self.next;
                self.next += 1;
                // Passed over for now: `finished` releases it when its dependencies are done.
                if self.waiting_on.get(idx).is_some_and(|w| *w > 0)
                    || self.skipped.get(idx).copied().unwrap_or(false)
                {
                    continue;
                }
                idx
            } else {
                return None;
            };
            let host = self.host_of.get(idx).copied()?;
            let Some(h) = host else { return Some(idx) };
            match (self.in_flight.get_mut(h), self.queued.get_mut(h)) {
                (Some(n), _) if *n < self.per_host => {
                    *n += 1;
                    return Some(idx);
                }
                (Some(_), Some(q)) => {
                    q.push_back(idx);
                    self.first_held.get_or_insert(h);
                }
                _ => return Some(idx),
            }
        }
    }

    /// The checks that depend on `idx`.
    pub(super) fn dependents_of(&self, idx: usize) -> &[usize] {
        self.dependents.get(idx).map_or(&[], Vec::as_slice)
    }

    /// How many of `idx`'s dependencies have not finished yet.
    pub(super) fn waiting_on(&self, idx: usize) -> usize {
        self.waiting_on.get(idx).copied().unwrap_or(0)
    }

    /// The first host whose limit held a check back while a global slot was free.
    pub(super) fn held_back(&self) -> Option<HeldBack> {
        let h = self.first_held?;
        Some(HeldBack {
            host: self.host_names.get(h)?.clone(),
            limit: self.per_host,
        })
    }

    /// `idx` finished (`passed`: PASS or WARN): its host slot goes to the host's next queued
    /// check, if any, and its dependents are released (passed) or blocked (not passed). Returns
    /// every check that is now blocked, transitively, each exactly once.
    pub(super) fn finished(&mut self, idx: usize, passed: bool) -> Vec<Blocked> {
        if let Some(Some(h)) = self.host_of.get(idx).copied() {
            if let Some(next) = self.queued.get_mut(h).and_then(VecDeque::pop_front) {
                // The slot passes straight on: the host's count does not change.
                self.ready.push_back(next);
            } else if let Some(n) = self.in_flight.get_mut(h) {
                *n = n.saturating_sub(1);
            }
        }
        let dependents = self.dependents.get(idx).cloned().unwrap_or_default();
        if passed {
            for d in dependents {
                let Some(w) = self.waiting_on.get_mut(d) else {
                    continue;
                };
                *w = w.saturating_sub(1);
                // Released only once it was passed over; before that, the scan finds it.
                if *w == 0 && d < self.next && !self.skipped.get(d).copied().unwrap_or(true) {
                    self.released.push_back(d);
                }
            }
            return Vec::new();
        }
        let mut blocked = Vec::new();
        let mut work: VecDeque<(usize, usize, usize)> =
            dependents.into_iter().map(|d| (d, idx, idx)).collect();
        while let Some((check, by, root)) = work.pop_front() {
            match self.skipped.get_mut(check) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            blocked.push(Blocked { check, by, root });
            if let Some(next) = self.dependents.get(check) {
                work.extend(next.iter().map(|&d| (d, check, root)));
            }
        }
        blocked
    }
}

/// Per check of `n`: how many checks it waits for, and the checks that wait for it. A
/// dependency outside the `n` checks is none (the graph is of these checks: the engine never
/// trusts it to be).
fn waits(n: usize, dependencies: &Dependencies) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut waiting_on = vec![0; n];
    let mut dependents = vec![Vec::new(); n];
    for (i, waiting) in waiting_on.iter_mut().enumerate() {
        for &j in dependencies.of(i) {
            if j != i
                && let Some(d) = dependents.get_mut(j)
            {
                *waiting += 1;
                d.push(i);
            }
        }
    }
    (waiting_on, dependents)
}
