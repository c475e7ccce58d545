//! The scheduler's clock: time as a [`Duration`] since the clock started, and a sleep until a
//! point of that time. [`TokioClock`] is the real one; a test drives the scheduler with a
//! simulated clock that jumps, so a day of runs takes milliseconds.

use std::future::Future;
use std::time::Duration;

/// Where the scheduler reads the time and waits.
pub trait Clock {
    /// Time since the clock started.
    fn now(&self) -> Duration;
    /// Resolves once [`Clock::now`] is at least `at`.
    fn sleep_until(&self, at: Duration) -> impl Future<Output = ()> + Send;
}

/// The process's monotonic clock (tokio's, so tokio's paused time works too).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that starts now.
    pub fn start() -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, at: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(self.start + at)
    }
}
