//! One fixed run summary that every reporter's snapshot test renders: every status, both
//! failure classes, a rerun, a flaky pass, a body excerpt and text that needs escaping.
//! Durations and the timestamp are fixed so snapshots are stable.

use std::time::Duration;

use crate::model::{CheckResult, FailedAttempt, Location, PhaseName, Reason, Status, Summary};

#[expect(
    clippy::too_many_arguments,
    reason = "a table of fixture rows reads best flat"
)]
fn result(
    name: &str,
    kind: &'static str,
    target: &str,
    status: Status,
    reason: Option<Reason>,
    message: &str,
    ms: u64,
    line: usize,
) -> CheckResult {
    CheckResult {
        duration: Duration::from_millis(ms),
        attempts: 1,
        ..CheckResult::new(
            name.to_owned(),
            kind,
            target.to_owned(),
            Location {
                file: "infracheck.yaml".into(),
                line,
                column: 9,
            },
            status,
            reason,
            message.to_owned(),
        )
    }
}

/// The fixture run: environment `prod`, eight checks (every status).
pub(crate) fn summary() -> Summary {
    let mut flaky = result(
        "homepage",
        "http",
        "https://example.com/",
        Status::Pass,
        None,
        "200 OK in 120 ms",
        1300,
        5,
    );
    flaky.attempts = 2;
    flaky.flaky = true;
    flaky.failed_attempts = vec![FailedAttempt {
        reason: Reason::Timeout,
        message: "timed out after 1s waiting for the response headers".into(),
        duration: Duration::from_millis(1000),
    }]
    .into();

    let mut api = result(
        "api-ready",
        "http",
        "https://api.example.com/ready",
        Status::Fail,
        Some(Reason::HttpStatus),
        "expected status 200, got 503",
        300,
        12,
    );
    api.attempts = 2;
    api.tags = ["api".to_owned(), "smoke".to_owned()].into();
    api.failed_attempts = vec![FailedAttempt {
        reason: Reason::HttpStatus,
        message: "expected status 200, got 502".into(),
        duration: Duration::from_millis(100),
    }]
    .into();
    api.metadata
        .insert("status_code".to_owned(), serde_json::json!(503));
    api.metadata.insert(
        "body_excerpt".to_owned(),
        serde_json::json!("maintenance <b>&</b> | `tick`\n##[error]forged"),
    );

    let mut db = result(
        "db-port",
        "tcp",
        "db.internal:5432",
        Status::Fail,
        Some(Reason::ConnectRefused),
        "connection refused",
        2,
        18,
    );

    // A loopback refusal: under a millisecond, its lookup timed.
    db.duration = Duration::from_micros(700);
    db.phases.add(PhaseName::Dns, Duration::from_micros(412));

    let mut login = result(
        "login",
        "http",
        "https://example.com/login",
        Status::Warn,
        Some(Reason::HttpBody),
        "body does not contain \"Sign in\"",
        80,
        22,
    );

    // A new https connection, after waiting for a slot.
    for (p, us) in [
        (PhaseName::Dns, 52),
        (PhaseName::Connect, 118),
        (PhaseName::Tls, 2_500),
        (PhaseName::Ttfb, 70_000),
        (PhaseName::Transfer, 400),
    ] {
        login.phases.add(p, Duration::from_micros(us));
    }
    login.queued = Some(Duration::from_micros(3_250));

    let search = result(
        "search | v2",
        "http",
        "https://example.com/search?q=<x>",
        Status::Warn,
        Some(Reason::HttpLatency),
        "slow: 2100 ms > warn_latency 2000 ms <script>alert(1)</script>",
        2100,
        26,
    );

    let cert = result(
        "cert",
        "tls",
        "example.com:443",
        Status::Pass,
        None,
        "certificate valid for 80 days",
        45,
        30,
    );

    let mut orders = result(
        "orders",
        "http",
        "https://example.com/orders",
        Status::Skip,
        Some(Reason::Blocked),
        "blocked by db-port",
        0,
        34,
    );
    orders.attempts = 0;

    let payments = result(
        "payments-api",
        "http",
        "https://pay.example.com/",
        Status::Waived,
        Some(Reason::HttpStatus),
        "expected status 200, got 503; waived until 2026-12-31: vendor outage, ticket 42 (sre)",
        90,
        38,
    );

    judged(Summary {
        environment: "prod".to_owned(),
        config_path: "infracheck.yaml".to_owned(),
        started_at: time::macros::datetime!(2026-01-01 10:00:00 UTC),
        duration: Duration::from_millis(2345),
        results: vec![flaky, api, db, login, search, cert, orders, payments],
        fail_on_warn: false,
        interrupted: None,
        shard: None,
        selection: None,
        fail_on: Default::default(),
        baseline: None,
        gate: None,
        history: None,
        judgement: crate::model::Judgement::UNJUDGED,
    })
}

/// `s` with its verdict decided under the policy it records (`--fail-on-warn`, `--fail-on`,
/// a compared baseline), as a run stores it: a test that changes results judges again.
pub(crate) fn judged(mut s: Summary) -> Summary {
    s.judgement =
        crate::policy::Policy::new(s.fail_on_warn, s.fail_on, s.baseline.is_some()).judge(&s);
    s
}

/// The fixture run recorded after nine earlier runs in a `--history` file: `homepage` grows
/// slower and failed twice (newly flaky: it passes now), `api-ready` failed twice and fails
/// now, `removed-check` left the config and the other checks are new.
pub(crate) fn summary_with_history() -> Summary {
    use crate::history::{History, Run, RunCheck};
    let mut s = summary();
    let mut h = History::empty();
    for i in 0..9u64 {
        let check = |name: &str, status: &str, ms: u64| RunCheck {
            name: name.to_owned(),
            status: status.to_owned(),
            reason: None,
            latency_ms: ms,
        };
        h.runs.push(Run {
            started_at: format!("2024-05-0{}T06:00:00Z", i + 1),
            environment: "prod".to_owned(),
            checks: vec![
                check(
                    "homepage",
                    if i == 2 || i == 5 { "FAIL" } else { "PASS" },
                    100 + 50 * i,
                ),
                check("api-ready", if i % 4 == 1 { "FAIL" } else { "PASS" }, 40),
                check("login", "PASS", 700),
                check("search", "PASS", 300),
                check("removed-check", "PASS", 5),
            ],
        });
    }
    h.record(&mut s, "infracheck-history.json", 10);
    s
}

/// What `reporter` renders for `summary` with `paths` (no report written before it).
pub(crate) fn rendered(
    reporter: &dyn super::Reporter,
    summary: &Summary,
    paths: &super::RepoPaths,
) -> Vec<u8> {
    let cx = super::Context {
        summary,
        paths,
        written: &[],
    };
    reporter.render(&cx).unwrap()
}

/// Paths for a config in the repository's root, `/repo`.
pub(crate) fn repo_root() -> super::RepoPaths {
    super::RepoPaths::new("/repo".into(), "/repo".into())
}
