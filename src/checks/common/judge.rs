//! The verdict side every kind shares: the latency thresholds judged once, the fold of
//! collected problems into one outcome, milliseconds for metadata and the soft deadline of
//! reads that should end before the engine's timeout does.

use std::time::Duration;

use crate::checks::Thresholds;
use crate::model::{Outcome, PhaseName, Phases, Reason, Status, Text, format_ms};
use crate::reader::ctx::format_duration;

/// One thing a check found wrong: its status (WARN or FAIL), reason code and message.
pub type Problem = (Status, Reason, String);

/// A [`Problem`] whose message quotes untrusted text with deferred cuts ([`Text`]).
pub type TextProblem = (Status, Reason, Text);

/// A plain problem as a [`TextProblem`].
pub fn text_problem((status, reason, message): Problem) -> TextProblem {
    (status, reason, message.into())
}

/// The latency verdict: FAIL over `fail_latency`, WARN over `warn_latency`, else `None`.
pub fn latency_problem(
    elapsed: Duration,
    thresholds: Thresholds,
    reason: Reason,
) -> Option<Problem> {
    let ms = elapsed.as_millis();
    if let Some(f) = thresholds.fail_latency
        && elapsed > f
    {
        return Some((
            Status::Fail,
            reason,
            format!("slow: {ms} ms > fail_latency {}", format_duration(f)),
        ));
    }
    if let Some(w) = thresholds.warn_latency
        && elapsed > w
    {
        return Some((
            Status::Warn,
            reason,
            format!("slow: {ms} ms > warn_latency {}", format_duration(w)),
        ));
    }
    None
}

/// The `warn` / `fail` thresholds of one phase (`phases: {ttfb: {warn: 300ms}}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseLimit {
    /// Slower than this is WARN.
    pub warn: Option<Duration>,
    /// Slower than this is FAIL.
    pub fail: Option<Duration>,
}

/// A check's thresholds per phase, in the order they are written.
pub type PhaseLimits = Vec<(PhaseName, PhaseLimit)>;

/// The phase verdicts: for each phase with a threshold that the check timed, FAIL over its
/// `fail`, else WARN over its `warn`, with the kind's latency `reason` and a message naming
/// the phase (`ttfb 412 ms > warn 300 ms`). A phase that did not happen is not judged.
pub fn phase_problems(phases: &Phases, limits: &PhaseLimits, reason: Reason) -> Vec<Problem> {
    limits
        .iter()
        .filter_map(|(name, limit)| {
            let took = phases.get(*name)?;
            let over = |l: Option<Duration>| l.filter(|l| took > *l);
            let (status, word, l) = match (over(limit.fail), over(limit.warn)) {
                (Some(f), _) => (Status::Fail, "fail", f),
                (None, Some(w)) => (Status::Warn, "warn", w),
                (None, None) => return None,
            };
            let message = format!(
                "{} {} > {word} {}",
                name.as_str(),
                format_ms(took),
                format_ms(l)
            );
            Some((status, reason, message))
        })
        .collect()
}

/// PASS with `{pass_message} in {ms} ms`, or WARN/FAIL with `reason` when `elapsed` crosses a
/// threshold ([`latency_problem`]).
pub fn latency_verdict(
    thresholds: Thresholds,
    elapsed: Duration,
    reason: Reason,
    pass_message: String,
) -> Outcome {
    let ok = format!("{pass_message} in {} ms", elapsed.as_millis());
    verdict(
        latency_problem(elapsed, thresholds, reason)
            .into_iter()
            .collect(),
        ok,
    )
}

/// Fold collected problems into one outcome: the worst status wins, its messages are joined
/// with `; ` and its first reason is reported. No problems is PASS with `ok_message`.
/// The messages are plain ([`Problem`]) or quote untrusted text ([`TextProblem`]).
pub fn verdict<M: Into<Text>>(
    problems: Vec<(Status, Reason, M)>,
    ok_message: impl Into<Text>,
) -> Outcome {
    let Some(worst) = problems
        .iter()
        .map(|(s, _, _)| *s)
        .max_by_key(|s| s.severity())
    else {
        return Outcome::pass(ok_message);
    };
    let mut first = None;
    let mut msgs = Vec::new();
    for (s, r, m) in problems {
        if s == worst {
            first.get_or_insert(r);
            msgs.push(m.into());
        }
    }
    let reason = first.unwrap_or(Reason::Internal);
    match worst {
        // Checks produce PASS, WARN and FAIL only; SKIP and WAIVED are decided by the run.
        Status::Fail | Status::Skip | Status::Waived => {
            Outcome::fail(reason, Text::join(msgs, "; "))
        }
        Status::Warn => Outcome::warn(reason, Text::join(msgs, "; ")),
        Status::Pass => Outcome::pass(ok_message),
    }
}

/// Add one more problem (a latency verdict, say) to a finished outcome, folded as
/// [`verdict`] does: the outcome's own problem comes first; its detail and metadata stay.
pub fn add_problem<M: Into<Text>>(outcome: Outcome, extra: Option<(Status, Reason, M)>) -> Outcome {
    let Some((extra_status, extra_reason, extra_message)) = extra else {
        return outcome;
    };
    let Outcome {
        status,
        reason,
        message,
        detail,
        metadata,
        texts,
        phases,
        observed,
    } = outcome;
    let mut problems: Vec<TextProblem> = Vec::new();
    if status != Status::Pass {
        problems.push((status, reason.unwrap_or(Reason::Internal), message.clone()));
    }
    problems.push((extra_status, extra_reason, extra_message.into()));
    let mut folded = verdict(problems, message);
    folded.detail = detail;
    folded.phases = phases;
    folded.observed = observed;
    folded.texts = texts;
    folded.with_metadata(metadata)
}

/// Milliseconds as a JSON-friendly integer (the model's one definition).
pub use crate::model::millis;

/// The part of a check's `timeout` a read may wait before giving up by itself: a tenth less
/// (at most 500 ms less), so a partial answer is reported with what arrived rather than as a
/// bare timeout from the engine.
pub fn soft_deadline(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_millis(500)))
}

/// The certificate days-left verdict: FAIL under `fail_days`, WARN under `warn_days`.
/// `what` names the certificate and `date` (` on 2030-01-01T00:00:00Z`, or empty) follows the
/// days in the message.
pub fn days_problem(
    left: i64,
    warn_days: Option<i64>,
    fail_days: Option<i64>,
    what: &str,
    date: &str,
) -> Option<Problem> {
    if let Some(f) = fail_days
        && left < f
    {
        return Some((
            Status::Fail,
            Reason::TlsExpiring,
            format!("{what} expires in {left} days{date} (fail_days {f})"),
        ));
    }
    if let Some(w) = warn_days
        && left < w
    {
        return Some((
            Status::Warn,
            Reason::TlsExpiring,
            format!("{what} expires in {left} days{date} (warn_days {w})"),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(warn: Option<u64>, fail: Option<u64>) -> Thresholds {
        Thresholds {
            warn_latency: warn.map(Duration::from_millis),
            fail_latency: fail.map(Duration::from_millis),
        }
    }

    #[test]
    fn latency_is_judged_against_both_thresholds() {
        let t = limits(Some(100), Some(300));
        let ms = Duration::from_millis;
        assert_eq!(latency_problem(ms(100), t, Reason::TcpLatency), None);
        let (s, r, m) = latency_problem(ms(150), t, Reason::TcpLatency).unwrap();
        assert_eq!((s, r), (Status::Warn, Reason::TcpLatency));
        assert_eq!(m, "slow: 150 ms > warn_latency 100ms");
        let (s, _, m) = latency_problem(ms(301), t, Reason::TcpLatency).unwrap();
        assert_eq!(s, Status::Fail);
        assert_eq!(m, "slow: 301 ms > fail_latency 300ms");
        assert_eq!(
            latency_problem(ms(9_999), limits(None, None), Reason::TcpLatency),
            None
        );
        let zero = limits(Some(0), None);
        assert_eq!(
            latency_problem(ms(1), zero, Reason::HttpLatency).map(|p| p.0),
            Some(Status::Warn)
        );
    }

    #[test]
    fn each_phase_threshold_gives_its_status_reason_and_message() {
        let ms = Duration::from_millis;
        let mut phases = Phases::new();
        phases.add(PhaseName::Connect, ms(3));
        phases.add(PhaseName::Ttfb, Duration::from_micros(412_300));
        let limits = vec![
            (
                PhaseName::Ttfb,
                PhaseLimit {
                    warn: Some(ms(300)),
                    fail: None,
                },
            ),
            (
                PhaseName::Connect,
                PhaseLimit {
                    warn: None,
                    fail: Some(ms(1)),
                },
            ),
            // Not timed (no TLS): not judged.
            (
                PhaseName::Tls,
                PhaseLimit {
                    warn: Some(Duration::ZERO),
                    fail: Some(Duration::ZERO),
                },
            ),
        ];
        let problems = phase_problems(&phases, &limits, Reason::HttpLatency);
        assert_eq!(
            problems,
            vec![
                (
                    Status::Warn,
                    Reason::HttpLatency,
                    "ttfb 412 ms > warn 300 ms".to_owned()
                ),
                (
                    Status::Fail,
                    Reason::HttpLatency,
                    "connect 3 ms > fail 1 ms".to_owned()
                ),
            ]
        );
        // Under both, or exactly at one: no problem.
        let at = vec![(
            PhaseName::Connect,
            PhaseLimit {
                warn: Some(ms(3)),
                fail: Some(ms(5)),
            },
        )];
        assert!(phase_problems(&phases, &at, Reason::TcpLatency).is_empty());
        // Sub-millisecond figures keep their decimals.
        let mut quick = Phases::new();
        quick.add(PhaseName::Dns, Duration::from_micros(420));
        let tight = vec![(
            PhaseName::Dns,
            PhaseLimit {
                warn: Some(Duration::from_micros(100)),
                fail: None,
            },
        )];
        let p = phase_problems(&quick, &tight, Reason::TcpLatency);
        assert_eq!(p[0].2, "dns 0.4 ms > warn 0.1 ms");
    }

    #[test]
    fn latency_verdict_passes_with_the_time() {
        let o = latency_verdict(
            limits(None, None),
            Duration::from_millis(7),
            Reason::TcpLatency,
            "connected".into(),
        );
        assert_eq!(o.status, Status::Pass);
        assert_eq!(o.message, "connected in 7 ms");
        let o = latency_verdict(
            limits(Some(1), None),
            Duration::from_millis(7),
            Reason::TcpLatency,
            "x".into(),
        );
        assert_eq!(
            (o.status, o.reason),
            (Status::Warn, Some(Reason::TcpLatency))
        );
    }

    #[test]
    fn the_worst_problems_make_the_outcome() {
        let o = verdict(Vec::<Problem>::new(), "fine");
        assert_eq!((o.status, o.message.as_str()), (Status::Pass, "fine"));
        let o = verdict(
            vec![
                (Status::Warn, Reason::HttpBody, "w"),
                (Status::Fail, Reason::HttpStatus, "a"),
                (Status::Fail, Reason::HttpHeader, "b"),
            ],
            "fine",
        );
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason, Some(Reason::HttpStatus));
        assert_eq!(o.message, "a; b");
    }

    #[test]
    fn an_added_problem_joins_the_fold() {
        let slow = || Some((Status::Warn, Reason::HttpLatency, "slow".to_owned()));
        let o = add_problem(Outcome::pass("3/3 ready").with_meta("n", 3), slow());
        assert_eq!(
            (o.status, o.reason),
            (Status::Warn, Some(Reason::HttpLatency))
        );
        assert_eq!(o.message, "slow");
        assert_eq!(o.metadata["n"], 3);
        let o = add_problem(Outcome::warn(Reason::RedisRole, "restarts"), slow());
        assert_eq!(
            (o.reason, o.message.as_str()),
            (Some(Reason::RedisRole), "restarts; slow")
        );
        let o = add_problem(Outcome::fail(Reason::RedisKey, "1/3"), slow());
        assert_eq!((o.status, o.message.as_str()), (Status::Fail, "1/3"));
        assert_eq!(
            add_problem(Outcome::pass("ok"), None::<Problem>).message,
            "ok"
        );
    }

    #[test]
    fn soft_deadline_leaves_a_margin() {
        assert_eq!(
            soft_deadline(Duration::from_secs(10)),
            Duration::from_millis(9_500)
        );
        assert_eq!(
            soft_deadline(Duration::from_secs(1)),
            Duration::from_millis(900)
        );
    }

    #[test]
    fn days_left_against_thresholds() {
        assert_eq!(days_problem(40, Some(30), Some(7), "certificate", ""), None);
        let (s, r, m) = days_problem(20, Some(30), Some(7), "certificate", "").unwrap();
        assert_eq!((s, r), (Status::Warn, Reason::TlsExpiring));
        assert_eq!(m, "certificate expires in 20 days (warn_days 30)");
        let (s, _, m) = days_problem(3, Some(30), Some(7), "certificate", " on D").unwrap();
        assert_eq!(s, Status::Fail);
        assert_eq!(m, "certificate expires in 3 days on D (fail_days 7)");
    }
}
