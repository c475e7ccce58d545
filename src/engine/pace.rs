//! Pacing of the starts: the engine starts the next batch of checks only once the runtime has
//! polled every check it started before.
//!
//! Why: starting a thousand checks at once would hand the runtime a thousand starts (building
//! a request, opening a connection) in one go, and the wake-up of a check whose response is
//! already in would queue behind all of them, inside its clock (BENCHMARKS.md, "True numbers
//! III"). Yielding between batches is not enough when the engine's loop and the checks do not
//! share a thread's queue; waiting until each started check has had its first poll (where it
//! builds its request and opens its connection, the CPU a start costs) keeps at most one batch
//! of starts ahead of the responses, with one thread or many.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Counts the started checks the runtime has polled, and wakes the engine when they all were.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// Checks started so far (written by the engine only).
    started: AtomicUsize,
    /// Checks whose task has been polled once.
    polled: Reached,
    /// Checks whose task's first poll has returned (it took what it takes from the pools
    /// without awaiting anything first).
    returned: Reached,
}

/// A count of started checks that passed a point, and the engine's wake-up once all did.
#[derive(Debug, Default)]
struct Reached {
    count: AtomicUsize,
    notify: Notify,
}

impl Reached {
    /// One more check passed the point: the last one of those started wakes the engine.
    fn add(&self, started: &AtomicUsize) {
        let count = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if count >= started.load(Ordering::Acquire) {
            // A permit is kept when the engine is not waiting yet: no wake-up is lost.
            self.notify.notify_one();
        }
    }

    /// Resolves once every check started so far passed the point.
    async fn all(&self, started: &AtomicUsize) {
        // Each turn either returns or waits for a notification, which comes when the last
        // started check passes; a stale permit costs one more turn.
        loop {
            let notified = self.notify.notified();
            if self.count.load(Ordering::Acquire) >= started.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Pace {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Pace::default())
    }

    /// The engine started one more check.
    pub(super) fn start(&self) {
        self.started.fetch_add(1, Ordering::AcqRel);
    }

    /// A started check's task runs for the first time.
    pub(super) fn polled(&self) {
        self.polled.add(&self.started);
    }

    /// A started check's task's first poll returned.
    pub(super) fn returned(&self) {
        self.returned.add(&self.started);
    }

    /// Resolves once every check started so far has been polled. A task that never runs (the
    /// runtime shut down) leaves this pending; the engine always awaits it beside its stop.
    pub(super) async fn caught_up(&self) {
        self.polled.all(&self.started).await;
    }

    /// Resolves once the first poll of every check started so far has returned (as
    /// [`Pace::caught_up`], later).
    pub(super) async fn settled(&self) {
        self.returned.all(&self.started).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caught_up_waits_for_the_first_poll_of_every_started_task() {
        let pace = Pace::new();
        // Nothing started: caught up at once.
        pace.caught_up().await;
        for _ in 0..3 {
            pace.start();
        }
        let p = Arc::clone(&pace);
        let waiter = tokio::spawn(async move { p.caught_up().await });
        pace.polled();
        pace.polled();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "two of three polled: still waiting");
        pace.polled();
        tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
            .await
            .unwrap()
            .unwrap();
        // Settled only once the first poll of each returned.
        let p = Arc::clone(&pace);
        let settled = tokio::spawn(async move { p.settled().await });
        pace.returned();
        pace.returned();
        tokio::task::yield_now().await;
        assert!(
            !settled.is_finished(),
            "two of three returned: still waiting"
        );
        pace.returned();
        tokio::time::timeout(std::time::Duration::from_secs(30), settled)
            .await
            .unwrap()
            .unwrap();
    }
}
