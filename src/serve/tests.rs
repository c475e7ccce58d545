//! The scheduler against a simulated clock: a day of cycles in milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::clock::Clock;
use super::schedule::{Schedule, Slot, jittered};
use super::*;

/// A clock that jumps to whatever time is slept until.
#[derive(Clone, Default)]
struct SimClock {
    now: Arc<Mutex<Duration>>,
}

impl Clock for SimClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap()
    }

    fn sleep_until(&self, at: Duration) -> impl Future<Output = ()> + Send {
        let mut now = self.now.lock().unwrap();
        if *now < at {
            *now = at;
        }
        std::future::ready(())
    }
}

/// Records which checks ran when; each cycle takes `cost` of simulated time.
struct Recorder {
    clock: SimClock,
    cost: Duration,
    runs: Vec<Vec<Duration>>,
    largest_batch: usize,
}

impl Runner for Recorder {
    fn run(&mut self, batch: &[usize]) -> impl Future<Output = ()> {
        let now = self.clock.now();
        for &i in batch {
            self.runs[i].push(now);
        }
        self.largest_batch = self.largest_batch.max(batch.len());
        *self.clock.now.lock().unwrap() = now + self.cost;
        std::future::ready(())
    }

    fn wake(&self) -> impl Future<Output = ()> {
        std::future::pending()
    }

    fn reload(&mut self, _: &Schedule, _: Duration) -> Option<Schedule> {
        None
    }
}

fn slot(name: &str, secs: u64, deps: &[usize]) -> Slot {
    Slot {
        name: name.to_owned(),
        interval: Duration::from_secs(secs),
        depends_on: deps.to_vec(),
    }
}

#[tokio::test]
async fn a_simulated_day_runs_every_check_on_its_interval() {
    let day = Duration::from_secs(24 * 3600);
    let slots = vec![
        slot("api", 60, &[]),
        slot("db", 300, &[]),
        slot("cache", 10, &[]),
        slot("edge", 60, &[1]),
    ];
    let clock = SimClock::default();
    let mut rec = Recorder {
        clock: clock.clone(),
        cost: Duration::from_millis(250),
        runs: vec![Vec::new(); slots.len()],
        largest_batch: 0,
    };
    let schedule = Schedule::new(slots.clone(), Duration::ZERO);
    let stop = futures::future::pending::<()>().boxed().shared();
    let cycles = drive(&clock, &mut rec, schedule, stop, Some(day)).await;
    assert!(
        clock.now() >= day - Duration::from_secs(60),
        "{:?}",
        clock.now()
    );
    assert!(cycles > 0);
    // Every check ran at once, then about once per interval (±10 % jitter, a tenth early at
    // most): between day / (1.1 × interval) and day / (0.8 × interval) times.
    for (i, s) in slots.iter().enumerate() {
        let runs = &rec.runs[i];
        assert_eq!(runs[0], Duration::ZERO, "{}", s.name);
        let n = runs.len() as f64;
        let per = day.as_secs_f64() / s.interval.as_secs_f64();
        // `db` also runs whenever `edge` (which depends on it) runs: checked below.
        if s.name == "db" {
            continue;
        }
        assert!(
            n >= per / 1.1 && n <= per / 0.8 + 1.0,
            "{}: {n} runs, {per}",
            s.name
        );
        for w in runs.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= s.interval.mul_f64(0.8), "{}: gap {gap:?}", s.name);
        }
    }
    // `edge` depends on `db`: `db` joins every cycle of `edge`.
    assert!(rec.runs[1].len() >= rec.runs[3].len());
    for t in &rec.runs[3] {
        assert!(rec.runs[1].contains(t), "db did not run with edge at {t:?}");
    }
    // The jitter keeps equal intervals apart: not every run of `api` and `edge` coincides.
    assert!(rec.runs[0] != rec.runs[3]);
    assert!(rec.largest_batch <= slots.len());
}

#[tokio::test]
async fn a_day_of_results_keeps_the_ring_bounded() {
    let plan = crate::config::load_str(
        "t.yaml",
        "environments:\n  p:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 9, interval: 1s}\n",
        None,
        &|_: &str| None::<String>,
    )
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(plan.checks[0].interval, Duration::from_secs(1));
    let mut state = state::State::new("p", "t.yaml", &plan.checks, 50);
    let clock = SimClock::default();
    struct Fake<'a> {
        state: &'a mut state::State,
        result: crate::model::CheckResult,
    }
    impl Runner for Fake<'_> {
        fn run(&mut self, batch: &[usize]) -> impl Future<Output = ()> {
            for &i in batch {
                self.state.record(i, self.result.clone(), 0.0);
            }
            std::future::ready(())
        }
        fn wake(&self) -> impl Future<Output = ()> {
            std::future::pending()
        }
        fn reload(&mut self, _: &Schedule, _: Duration) -> Option<Schedule> {
            None
        }
    }
    let mut result = crate::report::fixture::summary().results[0].clone();
    result.status = crate::model::Status::Fail;
    let mut fake = Fake {
        state: &mut state,
        result,
    };
    let schedule = Schedule::new(cycle::slots(&plan.checks), Duration::ZERO);
    let stop = futures::future::pending::<()>().boxed().shared();
    drive(
        &clock,
        &mut fake,
        schedule,
        stop,
        Some(Duration::from_secs(24 * 3600)),
    )
    .await;
    let t = &state.checks[0];
    assert!(t.runs > 70_000, "{}", t.runs);
    assert_eq!(t.runs, t.failures);
    assert_eq!(t.ring.len(), 50);
    assert!(state.ready());
}

#[test]
fn jitter_stays_within_a_tenth() {
    let i = Duration::from_secs(60);
    let mut seen = std::collections::HashSet::new();
    for run in 0..1000 {
        let j = jittered(i, "x", run);
        assert!(
            j >= Duration::from_secs(54) && j <= Duration::from_secs(66),
            "{j:?}"
        );
        seen.insert(j);
    }
    assert!(seen.len() > 100);
}

#[test]
fn reload_keeps_the_history_of_unchanged_checks() {
    let load = |yaml: &str| {
        crate::config::load_str("t.yaml", yaml, None, &|_: &str| None::<String>)
            .unwrap()
            .pop()
            .unwrap()
    };
    let a = load(
        "environments:\n  p:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 9}\n      - {name: b, host: 127.0.0.1, port: 10}\n",
    );
    let mut state = state::State::new("p", "t.yaml", &a.checks, 10);
    let r = crate::report::fixture::summary().results[0].clone();
    state.record(0, r.clone(), 1.0);
    state.record(1, r, 1.0);
    // `a` moves down a line and is otherwise unchanged; `b` changes its port; `c` is new.
    let b = load(
        "environments:\n  p:\n    tcp_checks:\n      - {name: c, host: 127.0.0.1, port: 11}\n      - {name: a, host: 127.0.0.1, port: 9}\n      - {name: b, host: 127.0.0.1, port: 12}\n",
    );
    let kept = state.reload(&b.checks);
    assert_eq!(kept, vec![None, Some(0), None]);
    assert_eq!(state.checks[1].runs, 1);
    assert_eq!(state.checks[2].runs, 0);
    assert!(!state.ready());
}

#[test]
fn alerts_fire_after_n_resend_and_recover() {
    use super::alerts::{Event, Tracker};
    use crate::model::Status::{Fail, Pass};
    let cfg = crate::config::Alerts {
        webhooks: Vec::new(),
        after: 2,
        resend_every: Some(Duration::from_secs(60)),
    };
    let mut t = Tracker::default();
    let s = Duration::from_secs;
    assert_eq!(t.observe(Fail, s(0), &cfg), None);
    assert_eq!(t.observe(Fail, s(10), &cfg), Some(Event::Firing));
    assert_eq!(t.observe(Fail, s(20), &cfg), None);
    assert_eq!(t.observe(Fail, s(70), &cfg), Some(Event::Resend));
    assert_eq!(t.observe(Pass, s(80), &cfg), Some(Event::Recovered));
    assert_eq!(t.observe(Pass, s(90), &cfg), None);
    assert_eq!(t.observe(Fail, s(100), &cfg), None);
}

#[test]
fn interval_and_alerts_are_read_strictly() {
    let load = |yaml: &str| {
        crate::config::load_str("t.yaml", yaml, None, &|v: &str| {
            (v == "HOOK").then(|| "hook-header-value-123".to_owned())
        })
    };
    let plan = load(
        "defaults: {interval: 5m}\nalerts:\n  after: 3\n  resend_every: 1h\n  webhooks:\n    - {url: 'https://h.example/x', format: slack, headers: {X-T: '${HOOK}'}}\nenvironments:\n  p:\n    defaults: {interval: 2m}\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 9}\n      - {name: b, host: 127.0.0.1, port: 9, interval: 10s}\n",
    )
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(plan.checks[0].interval, Duration::from_secs(120));
    assert_eq!(plan.checks[1].interval, Duration::from_secs(10));
    let alerts = plan.alerts.unwrap();
    assert_eq!(alerts.after, 3);
    assert_eq!(alerts.resend_every, Some(Duration::from_secs(3600)));
    assert_eq!(
        alerts.webhooks[0].format,
        crate::config::WebhookFormat::Slack
    );
    // Header values and the URL are secrets.
    assert!(plan.secrets.iter().any(|s| s == "hook-header-value-123"));
    assert!(plan.secrets.iter().any(|s| s == "https://h.example/x"));
    let plain =
        load("environments:\n  p:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 9}\n")
            .unwrap();
    assert_eq!(plain[0].checks[0].interval, Duration::from_secs(60));
    assert!(plain[0].alerts.is_none());
    for (yaml, want) in [
        ("interval: 50ms", "must be at least 100ms"),
        ("interval: soon", "duration"),
        ("intervall: 1s", "intervall"),
    ] {
        let err = load(&format!(
            "environments:\n  p:\n    tcp_checks:\n      - {{name: a, host: 127.0.0.1, port: 9, {yaml}}}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains(want), "{yaml}: {err}");
        assert!(err.starts_with("t.yaml:4:"), "{err}");
    }
    for (alerts, want) in [
        ("{after: 0, webhooks: [{url: 'http://x'}]}", "at least 1"),
        ("{webhooks: []}", "at least one webhook"),
        ("{webhooks: [{url: 'ftp://x'}]}", "http:// or https://"),
        (
            "{webhooks: [{url: 'http://x', format: xml}]}",
            "`json` or `slack`",
        ),
        ("{webhooks: [{url: 'http://x', retries: 3}]}", "retries"),
        ("{after: 2}", "missing required key `webhooks`"),
    ] {
        let err = load(&format!(
            "alerts: {alerts}\nenvironments:\n  p:\n    tcp_checks:\n      - {{name: a, host: 127.0.0.1, port: 9}}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains(want), "{alerts}: {err}");
    }
}
