//! The verdict of an ICMP check: what the probe observed ([`Facts`]) against the spec's
//! `max_loss` and the check's latency thresholds. Pure, unit-tested without a network.

use std::net::IpAddr;
use std::time::Duration;

use super::IcmpSpec;
use crate::checks::Thresholds;
use crate::checks::common::{latency_problem, verdict};
use crate::model::{Outcome, Reason, Status};

/// What one probe observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The address pinged.
    pub addr: IpAddr,
    /// `datagram` (an unprivileged ping socket) or `raw`.
    pub socket: &'static str,
    /// Echo requests handed to the kernel (a request whose send failed counts as sent).
    pub sent: u16,
    /// Round-trip time of each reply received.
    pub rtts: Vec<Duration>,
    /// Why the host cannot be reached: a failed send or an ICMP unreachable error.
    pub unreachable: Option<String>,
}

impl Facts {
    /// Replies received.
    pub fn received(&self) -> usize {
        self.rtts.len()
    }

    /// Share of requests without a reply, in percent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 100.0;
        }
        let lost = usize::from(self.sent).saturating_sub(self.received());
        lost as f64 * 100.0 / f64::from(self.sent)
    }

    /// Average round trip, if any reply arrived.
    pub fn rtt_avg(&self) -> Option<Duration> {
        let n = u32::try_from(self.rtts.len()).ok().filter(|n| *n > 0)?;
        Some(self.rtts.iter().sum::<Duration>() / n)
    }
}

/// PASS, WARN or FAIL for the facts: `icmp.unreachable` when no reply came and the network
/// said why, `icmp.loss` over `max_loss`, `icmp.latency` on the average round trip.
pub fn judge(spec: &IcmpSpec, thresholds: Thresholds, facts: &Facts) -> Outcome {
    let addr = facts.addr;
    let (sent, received, loss) = (facts.sent, facts.received(), facts.loss_percent());
    let outcome = match (&facts.unreachable, received) {
        (Some(why), 0) => Outcome::fail(Reason::IcmpUnreachable, format!("{addr}: {why}")),
        _ => {
            let mut problems = Vec::new();
            if loss > f64::from(spec.max_loss) {
                problems.push((
                    Status::Fail,
                    Reason::IcmpLoss,
                    format!(
                        "{received}/{sent} echo replies from {addr} ({} loss > max_loss {}%)",
                        percent(loss),
                        spec.max_loss
                    ),
                ));
            }
            if let Some(avg) = facts.rtt_avg()
                && let Some((s, r, m)) = latency_problem(avg, thresholds, Reason::IcmpLatency)
            {
                problems.push((s, r, format!("average round trip {m}")));
            }
            let avg = facts.rtt_avg().map_or(String::new(), |a| {
                format!(", average round trip {} ms", round_ms(a))
            });
            verdict(
                problems,
                format!("{received}/{sent} echo replies from {addr}{avg}"),
            )
        }
    };
    with_metadata(outcome, facts)
}

fn with_metadata(outcome: Outcome, facts: &Facts) -> Outcome {
    let mut o = outcome
        .with_meta("remote_addr", facts.addr.to_string())
        .with_meta("socket", facts.socket)
        .with_meta("sent", facts.sent)
        .with_meta("received", facts.received())
        .with_meta("loss_percent", round(facts.loss_percent(), 1));
    if let Some(avg) = facts.rtt_avg() {
        let min = facts.rtts.iter().min().copied().unwrap_or(avg);
        let max = facts.rtts.iter().max().copied().unwrap_or(avg);
        o = o
            .with_meta("rtt_min_ms", round_ms(min))
            .with_meta("rtt_avg_ms", round_ms(avg))
            .with_meta("rtt_max_ms", round_ms(max));
    }
    o
}

/// Milliseconds with microsecond precision (loopback round trips are well under 1 ms).
fn round_ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1000.0, 3)
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn percent(v: f64) -> String {
    format!("{}%", round(v, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::icmp::IpFamily;

    /// A spec and the check's latency thresholds.
    fn spec(max_loss: u8, warn: Option<u64>, fail: Option<u64>) -> (IcmpSpec, Thresholds) {
        let spec = IcmpSpec {
            host: "h".into(),
            count: 4,
            interval: Duration::from_millis(200),
            max_loss,
            ip: IpFamily::Any,
        };
        let thresholds = Thresholds {
            warn_latency: warn.map(Duration::from_millis),
            fail_latency: fail.map(Duration::from_millis),
        };
        (spec, thresholds)
    }

    fn judge((spec, thresholds): &(IcmpSpec, Thresholds), facts: &Facts) -> Outcome {
        super::judge(spec, *thresholds, facts)
    }

    fn facts(sent: u16, rtts_ms: &[u64], unreachable: Option<&str>) -> Facts {
        Facts {
            addr: "192.0.2.1".parse().unwrap(),
            socket: "raw",
            sent,
            rtts: rtts_ms.iter().map(|m| Duration::from_millis(*m)).collect(),
            unreachable: unreachable.map(str::to_owned),
        }
    }

    #[test]
    fn every_reply_passes_with_its_round_trips() {
        let o = judge(&spec(0, None, None), &facts(4, &[1, 2, 3, 6], None));
        assert_eq!(o.status, Status::Pass, "{o:?}");
        assert_eq!(
            o.message,
            "4/4 echo replies from 192.0.2.1, average round trip 3 ms"
        );
        assert_eq!(o.metadata["sent"], 4);
        assert_eq!(o.metadata["received"], 4);
        assert_eq!(o.metadata["loss_percent"], 0.0);
        assert_eq!(o.metadata["rtt_min_ms"], 1.0);
        assert_eq!(o.metadata["rtt_avg_ms"], 3.0);
        assert_eq!(o.metadata["rtt_max_ms"], 6.0);
    }

    #[test]
    fn loss_over_max_loss_fails_and_within_it_passes() {
        let lossy = facts(4, &[1, 1, 1], None);
        let o = judge(&spec(0, None, None), &lossy);
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason, Some(Reason::IcmpLoss));
        assert_eq!(
            o.message,
            "3/4 echo replies from 192.0.2.1 (25% loss > max_loss 0%)"
        );
        assert_eq!(o.metadata["loss_percent"], 25.0);
        assert_eq!(judge(&spec(25, None, None), &lossy).status, Status::Pass);
        assert_eq!(judge(&spec(24, None, None), &lossy).status, Status::Fail);
        // No reply at all, without an unreachable error: plain loss, no round trips.
        let silent = judge(&spec(50, None, None), &facts(3, &[], None));
        assert_eq!(silent.reason, Some(Reason::IcmpLoss), "{silent:?}");
        assert!(!silent.metadata.contains_key("rtt_avg_ms"));
        assert_eq!(
            judge(&spec(100, None, None), &facts(3, &[], None)).status,
            Status::Pass
        );
    }

    #[test]
    fn the_average_round_trip_is_judged_against_the_thresholds() {
        let slow = facts(3, &[10, 20, 90], None);
        let warn = judge(&spec(0, Some(30), Some(100)), &slow);
        assert_eq!(warn.status, Status::Warn, "{warn:?}");
        assert_eq!(warn.reason, Some(Reason::IcmpLatency));
        assert!(
            warn.message.starts_with("average round trip slow: 40 ms"),
            "{}",
            warn.message
        );
        let fail = judge(&spec(0, Some(10), Some(39)), &slow);
        assert_eq!(fail.status, Status::Fail);
        assert_eq!(fail.reason, Some(Reason::IcmpLatency));
        // The maximum (90 ms) is over 50 ms but the average is not: PASS.
        assert_eq!(judge(&spec(0, None, Some(50)), &slow).status, Status::Pass);
    }

    #[test]
    fn unreachable_wins_only_when_nothing_came_back() {
        let o = judge(
            &spec(100, None, None),
            &facts(1, &[], Some("Network is unreachable")),
        );
        assert_eq!(o.status, Status::Fail);
        assert_eq!(o.reason, Some(Reason::IcmpUnreachable));
        assert_eq!(o.message, "192.0.2.1: Network is unreachable");
        assert_eq!(o.metadata["received"], 0);
        let some = judge(&spec(0, None, None), &facts(3, &[1, 1], Some("x")));
        assert_eq!(some.reason, Some(Reason::IcmpLoss), "{some:?}");
    }
}
