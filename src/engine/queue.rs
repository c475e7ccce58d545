//! The wait of each check before it starts (its `queued_ms`).

use std::time::{Duration, Instant};

/// When each check could have started, to tell the time it then waited for a slot
/// (`concurrency`) or its host's (`per_host_concurrency`): its `queued_ms`. A check can start
/// once its dependencies are done (at once when it has none); one that starts in the same
/// scheduling round did not wait, one that starts in a later round waited for a slot. The
/// wait is measured here, before the check's task runs, so it is never inside its latency.
pub(super) struct Queue {
    /// The scheduling round (one per pass of the start loop).
    round: u64,
    /// Per check: the round and instant it became able to start.
    since: Vec<(u64, Instant)>,
}

impl Queue {
    pub(super) fn new(n: usize) -> Self {
        Queue {
            round: 0,
            since: vec![(1, Instant::now()); n],
        }
    }

    pub(super) fn next_round(&mut self) {
        self.round += 1;
    }

    /// `idx`'s last dependency finished: it can start from the next round on.
    pub(super) fn eligible(&mut self, idx: usize) {
        if let Some(s) = self.since.get_mut(idx) {
            *s = (self.round + 1, Instant::now());
        }
    }

    /// How long `idx`, starting `now`, waited for a slot; `None` when it did not.
    pub(super) fn waited(&self, idx: usize, now: Instant) -> Option<Duration> {
        let (round, since) = self.since.get(idx).copied()?;
        (self.round > round).then(|| now.saturating_duration_since(since))
    }
}
