//! The scheduler against a simulated clock: a day of runs in milliseconds, exact times.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::clock::Clock;
use super::schedule::{Schedule, Slot, jittered};
use super::*;

/// Simulated time: it stands still while anything can make progress, then jumps to the
/// earliest time something sleeps until (see [`simulate`]).
#[derive(Clone, Default)]
struct SimClock {
    sim: Arc<Mutex<Sim>>,
}

#[derive(Default)]
struct Sim {
    now: Duration,
    sleepers: Vec<(Duration, Waker)>,
}

impl Clock for SimClock {
    fn now(&self) -> Duration {
        self.sim.lock().unwrap().now
    }

    fn sleep_until(&self, at: Duration) -> impl Future<Output = ()> + Send {
        let sim = Arc::clone(&self.sim);
        std::future::poll_fn(move |cx| {
            let mut s = sim.lock().unwrap();
            if s.now >= at {
                return Poll::Ready(());
            }
            s.sleepers.push((at, cx.waker().clone()));
            Poll::Pending
        })
    }
}

/// Set when anything is woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Run `fut` on `clock`, on this thread: poll it while something woke it; when it only waits
/// for the clock, move the clock to the earliest sleeper and wake those due. Bounded.
fn simulate<F: Future>(clock: &SimClock, fut: F) -> F::Output {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    for _ in 0..50_000_000u64 {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        if flag.0.load(Ordering::SeqCst) {
            continue;
        }
        let due = {
            let mut s = clock.sim.lock().unwrap();
            let at = s.sleepers.iter().map(|(at, _)| *at).min();
            let at = at.expect("the simulation waits for nothing: stuck");
            s.now = at;
            let (due, later) = std::mem::take(&mut s.sleepers)
                .into_iter()
                .partition::<Vec<_>, _>(|(t, _)| *t <= at);
            s.sleepers = later;
            assert!(s.sleepers.len() < 10_000, "sleepers pile up");
            due
        };
        for (_, w) in due {
            w.wake();
        }
    }
    panic!("the simulation did not end");
}

/// Records which check started and ended when; a run of check `i` takes `cost[i]` of
/// simulated time.
struct Recorder {
    clock: SimClock,
    cost: Vec<Duration>,
    starts: Vec<Vec<Duration>>,
    ends: Vec<Vec<Duration>>,
    in_flight: Vec<usize>,
    /// The most runs of one check in flight at once, and of all checks.
    peak_one: usize,
    peak_all: usize,
}

impl Recorder {
    fn new(clock: &SimClock, cost: &[Duration]) -> Self {
        let n = cost.len();
        Recorder {
            clock: clock.clone(),
            cost: cost.to_vec(),
            starts: vec![Vec::new(); n],
            ends: vec![Vec::new(); n],
            in_flight: vec![0; n],
            peak_one: 0,
            peak_all: 0,
        }
    }
}

impl Runner for Recorder {
    type Done = ();

    fn start(&mut self, idx: usize) -> impl Future<Output = ()> + 'static {
        let now = self.clock.now();
        self.starts[idx].push(now);
        self.in_flight[idx] += 1;
        self.peak_one = self.peak_one.max(self.in_flight[idx]);
        self.peak_all = self.peak_all.max(self.in_flight.iter().sum());
        let (clock, at) = (self.clock.clone(), now + self.cost[idx]);
        async move { clock.sleep_until(at).await }
    }

    fn record(&mut self, idx: usize, (): ()) {
        self.in_flight[idx] -= 1;
        self.ends[idx].push(self.clock.now());
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

fn never() -> futures::future::Shared<futures::future::BoxFuture<'static, ()>> {
    futures::future::pending::<()>().boxed().shared()
}

/// The start times the docs promise for a check alone that starts at `first` and takes
/// `cost` each run, before `until`: every `interval` (jittered) from its previous start; a due
/// time that passes while it runs is skipped, whole intervals at a time.
fn expected(s: &Slot, first: Duration, cost: Duration, until: Duration) -> Vec<Duration> {
    let mut starts = Vec::new();
    let mut at = first;
    while at < until {
        starts.push(at);
        let runs = starts.len() as u64;
        let mut due = at + jittered(s.interval, &s.name, runs);
        let end = at + cost;
        while due < end {
            due += s.interval;
        }
        at = due;
    }
    starts
}

#[test]
fn a_slow_check_does_not_hold_back_a_fast_one() {
    // `slow` takes 95 s a run (9 of `fast`'s intervals), `fast` 1 s.
    let slots = vec![slot("fast", 10, &[]), slot("slow", 30, &[])];
    let cost = [Duration::from_secs(1), Duration::from_secs(95)];
    let until = Duration::from_secs(600);
    let clock = SimClock::default();
    let mut rec = Recorder::new(&clock, &cost);
    let schedule = Schedule::new(slots.clone(), Duration::ZERO);
    let started = simulate(
        &clock,
        drive(&clock, &mut rec, schedule, never(), Some(until)),
    );
    // `fast` started on its own interval, exactly, while `slow` was in flight.
    let fast = expected(&slots[0], Duration::ZERO, cost[0], until);
    assert_eq!(rec.starts[0], fast);
    let during_slow = fast.iter().filter(|t| **t < cost[1]).count();
    assert!(during_slow >= 9, "{during_slow}");
    // `slow` never ran twice at once: its due times that passed in flight were skipped.
    let slow = expected(&slots[1], Duration::ZERO, cost[1], until);
    assert_eq!(rec.starts[1], slow);
    // Due at about 30 s, 60 s and 90 s while in flight (ended at 95 s): next at about 120 s.
    let first_due = jittered(slots[1].interval, "slow", 1);
    assert_eq!(rec.starts[1][1], first_due + Duration::from_secs(90));
    for (s, e) in rec.starts[1].iter().skip(1).zip(&rec.ends[1]) {
        assert!(
            s >= e,
            "slow started at {s:?} before its run ended at {e:?}"
        );
    }
    assert_eq!(rec.peak_one, 1);
    assert_eq!(started as usize, fast.len() + slow.len());
}

#[test]
fn a_dependent_waits_for_its_dependencys_first_result_then_runs_on_its_own() {
    // `edge` depends on `db`, whose first run takes 5 s.
    let slots = vec![slot("db", 300, &[]), slot("edge", 60, &[0])];
    let cost = [Duration::from_secs(5), Duration::from_secs(1)];
    let until = Duration::from_secs(3600);
    let clock = SimClock::default();
    let mut rec = Recorder::new(&clock, &cost);
    let schedule = Schedule::new(slots.clone(), Duration::ZERO);
    simulate(
        &clock,
        drive(&clock, &mut rec, schedule, never(), Some(until)),
    );
    assert_eq!(
        rec.starts[0],
        expected(&slots[0], Duration::ZERO, cost[0], until)
    );
    // Its first run starts when `db`'s first ends, then every minute: not with `db`.
    let edge = expected(&slots[1], cost[0], cost[1], until);
    assert_eq!(rec.starts[1], edge);
    assert!(
        edge.len() > 4 * rec.starts[0].len(),
        "{} {}",
        edge.len(),
        rec.starts[0].len()
    );
}

#[test]
fn a_simulated_day_stays_bounded() {
    let day = Duration::from_secs(24 * 3600);
    let slots = vec![
        slot("api", 1, &[]),
        slot("stuck", 1, &[]),
        slot("db", 300, &[]),
        slot("edge", 60, &[2]),
    ];
    let s = Duration::from_secs;
    let cost = [
        Duration::from_millis(250),
        s(95),
        s(2),
        Duration::from_millis(10),
    ];
    let clock = SimClock::default();
    let mut rec = Recorder::new(&clock, &cost);
    let schedule = Schedule::new(slots.clone(), Duration::ZERO);
    let started = simulate(
        &clock,
        drive(&clock, &mut rec, schedule, never(), Some(day)),
    );
    assert!(clock.now() >= day);
    let firsts = [Duration::ZERO, Duration::ZERO, Duration::ZERO, cost[2]];
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(
            rec.starts[i],
            expected(slot, firsts[i], cost[i], day),
            "{}",
            slot.name
        );
    }
    assert!(rec.starts[0].len() > 78_000, "{}", rec.starts[0].len());
    // At most one run of a check in flight, so never more runs than checks.
    assert_eq!(rec.peak_one, 1);
    assert!(rec.peak_all <= slots.len());
    assert_eq!(
        started as usize,
        rec.starts.iter().map(Vec::len).sum::<usize>()
    );
}

#[test]
fn a_day_of_results_keeps_the_ring_bounded() {
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
        type Done = ();
        fn start(&mut self, _: usize) -> impl Future<Output = ()> + 'static {
            std::future::ready(())
        }
        fn record(&mut self, idx: usize, (): ()) {
            self.state.record(idx, self.result.clone(), 0.0);
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
    let schedule = Schedule::new(live::slots(&plan.checks), Duration::ZERO);
    let day = Duration::from_secs(24 * 3600);
    simulate(
        &clock,
        drive(&clock, &mut fake, schedule, never(), Some(day)),
    );
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

#[tokio::test]
async fn a_dependent_is_judged_on_its_dependencys_latest_result_as_run_judges_it() {
    let plan = crate::config::load_str(
        "t.yaml",
        "environments:\n  p:\n    command_checks:\n      - {name: a, command: ['false']}\n      - {name: b, command: ['true'], depends_on: [a]}\n      - {name: c, command: ['true'], depends_on: [b]}\n",
        None,
        &|_: &str| None::<String>,
    )
    .unwrap()
    .pop()
    .unwrap();
    // The one-shot run: `a` fails, `b` and `c` are blocked.
    let checks: Vec<Arc<crate::checks::CheckDef>> =
        plan.checks.iter().cloned().map(Arc::new).collect();
    let ctx = Arc::new(crate::checks::RunContext::new(&plan.checks).unwrap());
    let once = crate::engine::run(
        checks,
        &plan.dependencies,
        ctx,
        4,
        None,
        futures::future::pending(),
        |_: usize, _: &crate::model::CheckResult| {},
    )
    .await
    .results;
    assert_eq!(once[0].status, crate::model::Status::Fail);
    let state = state::State::new("p", "t.yaml", &plan.checks, 10);
    let loader: Loader = Box::new(|| Err("no reload here".to_owned()));
    let shared = Arc::new(Shared::new(state, Redactor::new(&[]), None, loader));
    let opts = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        keep: 10,
        shutdown_timeout: Duration::from_secs(1),
        external_url: None,
    };
    let stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> =
        Box::pin(futures::future::pending());
    let clock = clock::TokioClock::start();
    let mut live = Live::new(plan, Arc::clone(&shared), &opts, stop.shared(), clock).unwrap();
    // `serve` judges each on the latest result of its dependency: the same verdict.
    live.record(0, Some(once[0].clone()));
    let b = live.start(1).await.unwrap();
    live.record(1, Some(b.clone()));
    let c = live.start(2).await.unwrap();
    for (got, want) in [(&b, &once[1]), (&c, &once[2])] {
        assert_eq!(got.status, crate::model::Status::Skip);
        assert_eq!(got.reason, Some(crate::model::Reason::Blocked));
        assert_eq!(got.message, want.message);
        assert_eq!(got.metadata, want.metadata);
    }
    assert_eq!(c.message, "blocked by b (root cause: a)");
    assert_eq!(
        shared.state().checks[1].latest.as_ref().unwrap().message,
        b.message
    );
    // Once `a` passes, `b` runs.
    let mut passed = once[0].clone();
    passed.status = crate::model::Status::Pass;
    passed.reason = None;
    live.record(0, Some(passed));
    let b = live.start(1).await.unwrap();
    assert_eq!(b.status, crate::model::Status::Pass, "{}", b.message);
    assert_eq!(b.attempts, 1);
}

#[test]
fn a_reload_keeps_a_run_in_flight_with_its_check_and_drops_a_changed_checks_result() {
    let s = Duration::from_secs;
    let mut old = Schedule::new(vec![slot("a", 10, &[]), slot("b", 10, &[])], s(0));
    let ta = old.start(0, s(0));
    let tb = old.start(1, s(0));
    // `a` unchanged moves to index 1, `b` changed stays at 0, `c` is new.
    let slots = vec![slot("b", 10, &[]), slot("a", 10, &[]), slot("c", 10, &[])];
    let mut new = old.carry_over(slots, &[None, Some(0), None], s(3));
    // Neither runs twice at once: only `c` is due.
    assert_eq!(new.due(s(3)), vec![2]);
    assert!(new.in_flight(0) && new.in_flight(1));
    // `a`'s result is kept (at its new index), the changed `b`'s dropped; `b` runs at once.
    assert_eq!(new.ended(ta, s(4)), Some(1));
    assert_eq!(new.ended(tb, s(5)), None);
    assert_eq!(new.due(s(5)), vec![0, 2]);
    assert_eq!(new.next_due(), Some(s(3)));
    // `a` keeps its schedule: next due an interval (jittered) after its start at 0.
    assert_eq!(new.due(jittered(s(10), "a", 1)), vec![0, 1, 2]);
}
