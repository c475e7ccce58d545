use super::running::blocked_result;
use super::slots::{Blocked, HostSlots};
use super::*;
use crate::checks::TEST_PANIC_NAME;
use crate::testing::plan_checks;

/// The dependency graph of `checks`, as the plan carries it.
fn graph_of(checks: &[Arc<CheckDef>]) -> Dependencies {
    let defs: Vec<CheckDef> = checks.iter().map(|c| CheckDef::clone(c)).collect();
    Dependencies::of_checks(&defs)
}

/// Each check shared, as the engine takes them.
fn shared(checks: Vec<CheckDef>) -> Vec<Arc<CheckDef>> {
    checks.into_iter().map(Arc::new).collect()
}

/// A loopback port that refuses connections for as long as this value lives: a TCP socket
/// bound to it but not listening, so no parallel test can take the port meanwhile (a dropped
/// listener would release it). A check against it fails at once with `connect.refused`. The
/// integration suite's `support::closed_port` is the same helper.
struct ClosedPort {
    port: u16,
    _sock: socket2::Socket,
}

fn closed_port() -> ClosedPort {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    sock.bind(&any.into()).unwrap();
    let port = sock.local_addr().unwrap().as_socket().unwrap().port();
    ClosedPort { port, _sock: sock }
}

fn chain() -> Vec<Arc<CheckDef>> {
    let yaml = "environments:\n  t:\n    tcp_checks:\n      - {name: c, host: 127.0.0.1, port: 1, depends_on: b}\n      - {name: a, host: 127.0.0.1, port: 2}\n      - {name: b, host: 127.0.0.1, port: 3, depends_on: [a]}\n      - {name: d, host: 127.0.0.1, port: 4, depends_on: [a]}\n";
    shared(plan_checks(yaml))
}

#[test]
fn dependents_wait_and_are_released_in_order() {
    let checks = chain();
    let mut slots = HostSlots::new(&checks, &graph_of(&checks), Some(10));
    // Only `a` (index 1) may start; `c` is passed over although it comes first.
    assert_eq!(slots.next_runnable(), Some(1));
    assert_eq!(slots.next_runnable(), None);
    assert!(slots.finished(1, true).is_empty());
    assert_eq!(slots.next_runnable(), Some(2));
    assert_eq!(slots.next_runnable(), Some(3));
    assert_eq!(slots.next_runnable(), None);
    assert!(slots.finished(2, true).is_empty());
    assert_eq!(slots.next_runnable(), Some(0));
    assert_eq!(slots.next_runnable(), None);
}

#[test]
fn a_failed_dependency_blocks_its_dependents_transitively_once() {
    let checks = chain();
    let mut slots = HostSlots::new(&checks, &graph_of(&checks), Some(10));
    assert_eq!(slots.next_runnable(), Some(1));
    let blocked = slots.finished(1, false);
    assert_eq!(
        blocked,
        [
            Blocked {
                check: 2,
                by: 1,
                root: 1
            },
            Blocked {
                check: 3,
                by: 1,
                root: 1
            },
            Blocked {
                check: 0,
                by: 2,
                root: 1
            },
        ]
    );
    assert_eq!(slots.next_runnable(), None);
    // The names come from the results that are in (the definitions may be gone by then).
    let mut names: Vec<Option<String>> = vec![None; checks.len()];
    names[1] = Some(checks[1].name.clone());
    let first = blocked_result(&checks[2], &names, &blocked[0]);
    assert_eq!(first.message, "blocked by a");
    names[2] = Some(first.name.clone());
    let skipped = blocked_result(&checks[0], &names, &blocked[2]);
    assert_eq!(skipped.status, Status::Skip);
    assert_eq!(skipped.reason, Some(Reason::Blocked));
    assert_eq!(skipped.message, "blocked by b (root cause: a)");
    assert_eq!(skipped.attempts, 0);
}

fn one_host(n: usize) -> Vec<Arc<CheckDef>> {
    let mut yaml = "environments:\n  t:\n    tcp_checks:\n".to_owned();
    for i in 0..n {
        yaml.push_str(&format!(
            "      - {{name: c{i}, host: API.example.com., port: 443}}\n"
        ));
    }
    shared(plan_checks(&yaml))
}

#[test]
fn without_a_per_host_limit_every_check_of_one_host_may_start() {
    let checks = one_host(30);
    let mut slots = HostSlots::new(&checks, &graph_of(&checks), None);
    for i in 0..30 {
        assert_eq!(slots.next_runnable(), Some(i));
    }
    assert_eq!(slots.next_runnable(), None);
    assert_eq!(slots.held_back(), None);
}

#[test]
fn a_per_host_limit_queues_the_rest_and_records_the_host_once() {
    let checks = one_host(4);
    let mut slots = HostSlots::new(&checks, &graph_of(&checks), Some(2));
    assert_eq!(slots.next_runnable(), Some(0));
    assert_eq!(slots.next_runnable(), Some(1));
    assert_eq!(slots.held_back(), None, "nothing waited yet");
    assert_eq!(slots.next_runnable(), None);
    let held = HeldBack {
        host: "api.example.com:443".to_owned(),
        limit: 2,
    };
    assert_eq!(slots.held_back(), Some(held.clone()));
    assert!(slots.finished(0, true).is_empty());
    assert_eq!(slots.next_runnable(), Some(2));
    assert_eq!(slots.held_back(), Some(held));
}

/// Takes every result, coalescing them for a minute (longer than the run): each batch's size.
#[derive(Default)]
struct Batches {
    open: usize,
    batches: Vec<usize>,
    seen: Vec<usize>,
}

impl Deliver for &mut Batches {
    fn result(&mut self, idx: usize, _: &CheckResult) {
        self.open += 1;
        self.seen.push(idx);
    }

    fn batch_end(&mut self) {
        self.batches.push(std::mem::take(&mut self.open));
    }

    fn coalesce(&self) -> Option<Duration> {
        Some(Duration::from_secs(60))
    }
}

#[tokio::test]
async fn coalesced_results_all_come_once_together_when_the_run_ends() {
    let closed = closed_port();
    let port = closed.port;
    let mut yaml = "environments:\n  t:\n    tcp_checks:\n".to_owned();
    for i in 0..5 {
        yaml.push_str(&format!(
            "      - {{name: c{i}, host: 127.0.0.1, port: {port}}}\n"
        ));
    }
    let defs = plan_checks(&yaml);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let mut got = Batches::default();
    let finished = tokio::time::timeout(
        Duration::from_secs(30),
        run(
            shared(defs),
            &Dependencies::default(),
            ctx,
            2,
            None,
            std::future::pending(),
            &mut got,
        ),
    )
    .await
    .expect("a coalescing run ends when its checks do, not when the batch is due");
    assert_eq!(finished.results.len(), 5);
    assert!(finished.results.iter().all(|r| r.status == Status::Fail));
    got.seen.sort_unstable();
    assert_eq!(got.seen, [0, 1, 2, 3, 4], "each result once");
    // Fewer than a full batch, never due: all five go together when the engine ends.
    assert_eq!(got.batches, [5]);
}

/// Takes every result at once with a coalescing time that never passes: only a full batch of
/// the engine's (64 results) or the engine's end sends the results it held.
#[derive(Default)]
struct FullBatches {
    open: usize,
    batches: Vec<usize>,
}

impl Deliver for &mut FullBatches {
    fn result(&mut self, _: usize, _: &CheckResult) {
        self.open += 1;
    }

    fn batch_end(&mut self) {
        self.batches.push(std::mem::take(&mut self.open));
    }

    fn coalesce(&self) -> Option<Duration> {
        Some(Duration::from_secs(600))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_results_reaches_a_caller_on_another_thread_whole() {
    // The engine's task runs on a worker, this test's future on the thread that awaits it: a
    // batch sent result by result was taken in pieces as they came.
    let closed = closed_port();
    let port = closed.port;
    let mut yaml = "environments:\n  t:\n    tcp_checks:\n".to_owned();
    for i in 0..150 {
        yaml.push_str(&format!(
            "      - {{name: c{i}, host: 127.0.0.1, port: {port}}}\n"
        ));
    }
    let defs = plan_checks(&yaml);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let mut got = FullBatches::default();
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        run(
            shared(defs),
            &Dependencies::default(),
            ctx,
            20,
            None,
            std::future::pending(),
            &mut got,
        ),
    )
    .await
    .expect("the run ends");
    assert_eq!(finished.results.len(), 150);
    assert_eq!(got.batches.iter().sum::<usize>(), 150, "{:?}", got.batches);
    // Two full batches and the 22 left at the end, taken in one turn or more, never a part.
    let (last, full) = got.batches.split_last().unwrap();
    assert!(
        full.iter().all(|&n| n > 0 && n % 64 == 0) && (last % 64 == 0 || last % 64 == 22),
        "batches as taken in: {:?}",
        got.batches
    );
}

#[tokio::test]
async fn a_panicking_check_is_an_internal_fail_and_the_run_goes_on() {
    let closed = closed_port();
    let port = closed.port;
    let yaml = format!(
        "environments:\n  t:\n    http_checks:\n      - {{name: {TEST_PANIC_NAME}, url: \"http://127.0.0.1:{port}/\"}}\n      - {{name: after, url: \"http://127.0.0.1:{port}/\"}}\n"
    );
    let defs = plan_checks(&yaml);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let checks = shared(defs);
    let Finished {
        results,
        interrupted,
        held_back,
    } = run(
        checks,
        &Dependencies::default(),
        ctx,
        4,
        Some(4),
        std::future::pending(),
        |_: usize, _: &CheckResult| {},
    )
    .await;
    assert!(interrupted.is_none());
    assert!(
        held_back.is_none(),
        "two checks never wait for a limit of 4"
    );
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].name, TEST_PANIC_NAME);
    assert_eq!(results[0].status, Status::Fail);
    assert_eq!(results[0].reason, Some(Reason::Internal));
    assert!(
        results[0].message.contains("injected test panic"),
        "{}",
        results[0].message
    );
    assert_eq!(results[1].status, Status::Fail);
    assert_eq!(results[1].reason, Some(Reason::ConnectRefused));
}

#[tokio::test]
async fn a_definition_is_freed_once_its_result_is_in() {
    let closed = closed_port();
    let port = closed.port;
    let yaml = format!(
        "environments:\n  t:\n    tcp_checks:\n      - {{name: a, host: 127.0.0.1, port: {port}}}\n      - {{name: b, host: 127.0.0.1, port: {port}}}\n      - {{name: c, host: 127.0.0.1, port: {port}}}\n"
    );
    let defs = plan_checks(&yaml);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let checks = shared(defs);
    let weak: Vec<std::sync::Weak<CheckDef>> = checks.iter().map(Arc::downgrade).collect();
    let mut alive_at_last = Vec::new();
    let graph = graph_of(&checks);
    let Finished { results, .. } = run(
        checks,
        &graph,
        ctx,
        1,
        None,
        std::future::pending(),
        |k: usize, _: &CheckResult| {
            if k == 2 {
                alive_at_last = weak.iter().map(|w| w.upgrade().is_some()).collect();
            }
        },
    )
    .await;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].name, "a");
    // One at a time: when the last result comes in, the first two definitions are gone and
    // only the last one's is still held.
    assert_eq!(alive_at_last, [false, false, true]);
    assert!(weak.iter().all(|w| w.upgrade().is_none()));
}

#[test]
fn retry_delay_doubles_and_is_capped_at_a_minute() {
    let s = Duration::from_secs;
    let waits: Vec<Duration> = (1..=8).map(|a| retry_delay(s(1), a)).collect();
    assert_eq!(waits, [s(1), s(2), s(4), s(8), s(16), s(32), s(60), s(60)]);
    assert_eq!(retry_delay(s(20), 1), s(20));
    assert_eq!(retry_delay(s(20), 2), s(40));
    assert_eq!(retry_delay(s(20), 3), s(60));
    assert_eq!(
        retry_delay(s(90), 1),
        s(60),
        "a retry_delay above the cap is capped too"
    );
    assert_eq!(
        retry_delay(Duration::from_millis(250), 3),
        Duration::from_secs(1)
    );
    // No overflow however many attempts.
    assert_eq!(retry_delay(s(1), u32::MAX), s(60));
    assert_eq!(retry_delay(Duration::MAX, 5), s(60));
    assert_eq!(retry_delay(Duration::ZERO, 5), Duration::ZERO);
}

/// The start-up boundary: a TLS check connects while the TLS preparation is still under way,
/// waits for it between its connect and its handshake, and that wait is in neither its
/// duration nor its phases (the wait is held for a second; a failed loopback handshake takes
/// far less: a generous bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_check_connects_before_the_preparation_and_its_wait_is_off_its_clock() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let yaml = format!(
        "environments:\n  t:\n    tls_checks:\n      - {{name: t, host: 127.0.0.1, port: {port}, server_name: app.test, timeout: 30s}}\n"
    );
    let defs = plan_checks(&yaml);
    let mut ctx = RunContext::new(&defs).unwrap();
    let (held, release) = crate::checks::common::tls::Prepared::held();
    ctx.tls = held;
    let ctx = Arc::new(ctx);
    let check = Arc::new(defs.into_iter().next().unwrap());
    let task = tokio::spawn(async move { run_with_retries(&check, &ctx).await });
    // The check connects although the preparation is not done.
    let (sock, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let held_for = Duration::from_secs(1);
    tokio::time::sleep(held_for).await;
    // No TLS server: the handshake that follows the preparation fails at once.
    drop(sock);
    release.send(true).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Status::Fail, "{}", r.message);
    assert_eq!(r.attempts, 1);
    let names: Vec<_> = r.phases.iter().map(|(p, _)| p).collect();
    assert_eq!(
        names,
        [
            crate::model::PhaseName::Connect,
            crate::model::PhaseName::Handshake
        ]
    );
    assert!(
        r.phases.sum() <= r.duration,
        "{:?} > {:?}",
        r.phases,
        r.duration
    );
    assert!(
        r.duration < held_for,
        "the wait for the preparation is inside the check's clock: {:?}",
        r.duration
    );
}

/// A wait outside the clock makes room in the attempt's timeout; other waits do not.
#[tokio::test]
async fn a_wait_outside_the_clock_extends_the_timeout() {
    let limit = Duration::from_millis(100);
    let wait = || tokio::time::sleep(Duration::from_millis(500));
    let phase = Phase::default();
    let outside = within(limit, &phase, async {
        phase.outside_clock(wait()).await;
    })
    .await;
    assert!(outside.is_some(), "a wait outside the clock timed out");
    assert!(phase.outside() >= Duration::from_millis(500));
    let phase = Phase::default();
    assert!(within(limit, &phase, wait()).await.is_none());
}

/// Many more checks than one batch, on a multi-threaded runtime (the caller on the test's own
/// thread, the engine's loop and the checks on two workers, as under `block_on`): the paced
/// starts (each batch after a yield) never stall, every check runs once and has its result,
/// and a stop still ends a run whose batches are being paced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_batches_start_every_check_on_many_threads() {
    let closed = closed_port();
    let port = closed.port;
    let n = START_BATCH * 5 + 3;
    let mut yaml = "environments:\n  t:\n    tcp_checks:\n".to_owned();
    for i in 0..n {
        yaml.push_str(&format!(
            "      - {{name: c{i}, host: 127.0.0.1, port: {port}}}\n"
        ));
    }
    let defs = plan_checks(&yaml);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let mut seen = vec![0u32; n];
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        run(
            shared(defs.clone()),
            &Dependencies::default(),
            Arc::clone(&ctx),
            n,
            None,
            std::future::pending(),
            |k: usize, _: &CheckResult| {
                seen[k] += 1;
            },
        ),
    )
    .await
    .expect("the paced run ended");
    assert!(finished.interrupted.is_none());
    assert_eq!(finished.results.len(), n);
    assert!(seen.iter().all(|&s| s == 1), "{seen:?}");
    // Each ran once, against the closed port; with a slot for every check, none waited for
    // one (a later batch waits for the pacing of the starts, not for a slot: no `queued_ms`).
    for r in &finished.results {
        assert_eq!((r.status, r.attempts), (Status::Fail, 1), "{r:?}");
        assert_eq!(r.queued, None, "{r:?}");
        assert!(r.reason.is_some_and(|x| x != Reason::Internal), "{r:?}");
    }
    // A stop that is already due ends the run between batches: no check is left without a
    // result, and none hangs.
    let stopped = tokio::time::timeout(
        Duration::from_secs(60),
        run(
            shared(defs),
            &Dependencies::default(),
            ctx,
            n,
            None,
            std::future::ready(Interruption::Sigterm),
            |_: usize, _: &CheckResult| {},
        ),
    )
    .await
    .expect("the stopped run ended");
    assert_eq!(stopped.interrupted, Some(Interruption::Sigterm));
    assert_eq!(stopped.results.len(), n);
}

/// A keep-alive HTTP/1.1 server on loopback: every request on a connection is answered
/// `200 ok` on the same connection. For each connection the client closes, the number of
/// requests it carried is sent on the channel.
fn keep_alive_server() -> (u16, std::sync::mpsc::Receiver<usize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut served = 0usize;
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        served += 1;
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(ok).is_err() {
                            break;
                        }
                    }
                }
                let _ = tx.send(served);
            });
        }
    });
    (port, rx)
}

fn http_checks(port: u16, n: usize) -> Vec<CheckDef> {
    let mut yaml = "environments:\n  t:\n    http_checks:\n".to_owned();
    for i in 0..n {
        yaml.push_str(&format!(
            "      - {{name: c{i}, url: \"http://127.0.0.1:{port}/\"}}\n"
        ));
    }
    plan_checks(&yaml)
}

async fn run_all(defs: Vec<CheckDef>, ctx: &Arc<RunContext>) -> Finished {
    run(
        shared(defs),
        &Dependencies::default(),
        Arc::clone(ctx),
        1,
        None,
        std::future::pending(),
        |_: usize, _: &CheckResult| {},
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_last_run_a_connection_given_back_after_the_last_start_is_closed() {
    let (port, closed) = keep_alive_server();
    let defs = http_checks(port, 3);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    ctx.last_run();
    let finished = run_all(defs, &ctx).await;
    assert!(finished.results.iter().all(|r| r.status == Status::Pass));
    assert_eq!(ctx.http.idle_connections(), 0, "nothing kept after the run");
    // The server sees every connection closed, while the context (and its pool) still lives:
    // the three requests, one at a time, on connections the client closed.
    let mut requests = 0;
    while requests < 3 {
        requests += closed
            .recv_timeout(Duration::from_secs(30))
            .expect("every connection of the last run is closed by the client");
    }
    assert_eq!(requests, 3);
    drop(ctx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_is_not_the_last_keeps_its_connection_pooled() {
    let (port, _closed) = keep_alive_server();
    let defs = http_checks(port, 3);
    let ctx = Arc::new(RunContext::new(&defs).unwrap());
    let finished = run_all(defs, &ctx).await;
    assert!(finished.results.iter().all(|r| r.status == Status::Pass));
    // The last check's connection may go back from a task of its own, once it is ready for
    // the next request: wait for it (bounded).
    tokio::time::timeout(Duration::from_secs(30), async {
        while ctx.http.idle_connections() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the last connection is given back");
    assert_eq!(ctx.http.idle_connections(), 1, "kept for the next run");
    // Told that every check started, or that the run ended, a context not marked as the last
    // run keeps it too (`serve` and the gate's rounds send again).
    ctx.close_idle();
    ctx.run_ended();
    assert_eq!(ctx.http.idle_connections(), 1);
}
