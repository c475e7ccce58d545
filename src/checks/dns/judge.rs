//! The verdict of a DNS check, from the facts alone: what each resolver answered (rcode,
//! records, TTLs, latency) or why it did not, in; PASS, WARN or FAIL with a reason code and a
//! message naming each disagreeing resolver, out. No I/O: [`super::run`] gathers the facts.

use std::collections::BTreeSet;

use hickory_resolver::proto::op::ResponseCode;

use super::facts::{Fact, QueryError, Verdict};
use super::metadata::metadata;
use super::records::display_name;
use super::resolver::Resolver;
use super::spec::{DnsSpec, MatchMode, rcode_name};
use crate::checks::Thresholds;
use crate::checks::common;
use crate::model::{Outcome, Reason};
use crate::reader::ctx::format_duration;

/// The check's outcome, with its metadata, from what each of `resolvers` did (`facts`, in
/// the same order).
/// The latency `thresholds` judge the slowest answer when every resolver agrees.
pub(super) fn judge(
    spec: &DnsSpec,
    thresholds: Thresholds,
    resolvers: &[Resolver],
    facts: &[Fact],
) -> Outcome {
    let mut verdicts: Vec<Verdict> = facts.iter().map(|f| resolver_verdict(spec, f)).collect();
    if spec.expected.is_none() {
        require_agreement(facts, &mut verdicts);
    }
    let meta = metadata(spec, resolvers, facts, &verdicts);
    fold(spec, thresholds, resolvers, facts, verdicts).with_metadata(meta)
}

/// Whether one resolver's answer satisfies the check on its own (rcode, records, TTLs).
pub(super) fn resolver_verdict(spec: &DnsSpec, fact: &Fact) -> Verdict {
    let a = fact.as_ref().map_err(failure)?;
    let want = spec.expect_rcode.unwrap_or(ResponseCode::NoError);
    if a.rcode != want {
        let got = rcode_name(a.rcode);
        return Err(
            if want == ResponseCode::NoError && a.rcode == ResponseCode::NXDomain {
                (Reason::DnsNxdomain, "answered NXDOMAIN".to_owned())
            } else {
                (
                    Reason::DnsRcode,
                    format!("answered {got} (expected {})", rcode_name(want)),
                )
            },
        );
    }
    if want != ResponseCode::NoError {
        return Ok(());
    }
    match &spec.expected {
        None if a.values.is_empty() => {
            return Err((
                Reason::DnsMismatch,
                format!("answered no {} records", spec.query_type),
            ));
        }
        None => {}
        Some(e) => {
            let ok = match spec.match_mode {
                MatchMode::Exact => &a.values == e,
                MatchMode::Contains => e.is_subset(&a.values),
            };
            if !ok {
                return Err((Reason::DnsMismatch, format!("answered {}", list(&a.values))));
            }
        }
    }
    ttl_verdict(spec, &a.ttls)
}

/// The TTL bounds: the smallest TTL against `min_ttl`, the largest against `max_ttl`.
fn ttl_verdict(spec: &DnsSpec, ttls: &[u32]) -> Verdict {
    if let (Some(lo), Some(t)) = (spec.min_ttl, ttls.iter().min())
        && *t < lo
    {
        return Err((Reason::DnsTtl, format!("answered TTL {t} < min_ttl {lo}")));
    }
    if let (Some(hi), Some(t)) = (spec.max_ttl, ttls.iter().max())
        && *t > hi
    {
        return Err((Reason::DnsTtl, format!("answered TTL {t} > max_ttl {hi}")));
    }
    Ok(())
}

/// The reason and message of a resolver that gave no answer.
fn failure(e: &QueryError) -> (Reason, String) {
    match e {
        QueryError::Timeout(d) => (
            Reason::DnsTimeout,
            format!("did not answer within {}", format_duration(*d)),
        ),
        QueryError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            (Reason::ConnectRefused, format!("refused the query ({e})"))
        }
        QueryError::Io(e) => (Reason::ConnectError, format!("could not be queried ({e})")),
        QueryError::Malformed(m) => (
            Reason::ConnectError,
            format!("sent an invalid DNS message ({m})"),
        ),
        QueryError::Tls(reason, m) => (*reason, m.clone()),
        QueryError::Resolve(m) => (Reason::DnsResolve, m.clone()),
        QueryError::Transport(m) => (Reason::ConnectError, format!("could not be queried ({m})")),
    }
}

/// Without `expected`, resolvers with a good answer must still agree with each other: the
/// largest group of equal answers (the first resolver's on a tie) is the reference, and a good
/// answer that differs from it becomes a propagation failure.
pub(super) fn require_agreement(facts: &[Fact], verdicts: &mut [Verdict]) {
    let mut groups: Vec<(&BTreeSet<String>, usize)> = Vec::new();
    for (fact, v) in facts.iter().zip(verdicts.iter()) {
        if let (Ok(a), Ok(())) = (fact, v) {
            match groups.iter_mut().find(|(vals, _)| *vals == &a.values) {
                Some(g) => g.1 += 1,
                None => groups.push((&a.values, 1)),
            }
        }
    }
    let mut best: Option<(&BTreeSet<String>, usize)> = None;
    for g in &groups {
        if best.is_none_or(|b| g.1 > b.1) {
            best = Some(*g);
        }
    }
    let Some((reference, _)) = best else {
        return;
    };
    let reference = reference.clone();
    for (fact, v) in facts.iter().zip(verdicts.iter_mut()) {
        if let (Ok(a), Ok(())) = (fact, &v)
            && a.values != reference
        {
            *v = Err((
                Reason::DnsPropagation,
                format!(
                    "answered {} (others answered {})",
                    list(&a.values),
                    list(&reference)
                ),
            ));
        }
    }
}

/// The check's outcome from the per-resolver verdicts: every resolver passing is PASS (or a
/// latency WARN/FAIL on the slowest); one resolver is its own verdict; several are WARN when
/// at least `min_agree` pass, else FAIL.
fn fold(
    spec: &DnsSpec,
    thresholds: Thresholds,
    resolvers: &[Resolver],
    facts: &[Fact],
    verdicts: Vec<Verdict>,
) -> Outcome {
    let total = resolvers.len();
    let agree = verdicts.iter().filter(|v| v.is_ok()).count();
    if agree == total {
        return all_agree(spec, thresholds, resolvers, facts);
    }
    let disagreeing: Vec<String> = resolvers
        .iter()
        .zip(&verdicts)
        .filter_map(|(r, v)| v.as_ref().err().map(|(_, m)| named(r, m)))
        .collect();
    let expected_note = match &spec.expected {
        Some(e) if !disagreeing.is_empty() => {
            let how = match spec.match_mode {
                MatchMode::Exact => "expected",
                MatchMode::Contains => "expected to contain",
            };
            format!("; {how} {}", list(e))
        }
        _ => String::new(),
    };
    let needed = spec.min_agree.unwrap_or(total).clamp(1, total.max(1));
    if total == 1 {
        return match verdicts.into_iter().next() {
            Some(Err((reason, msg))) => {
                let r = resolvers
                    .first()
                    .map(|r| named(r, &msg))
                    .unwrap_or_default();
                Outcome::fail(reason, format!("{r}{expected_note}"))
            }
            _ => Outcome::fail(Reason::Internal, "no resolver verdict"),
        };
    }
    if agree >= needed {
        return Outcome::warn(
            Reason::DnsPropagation,
            format!(
                "{agree}/{total} resolvers agree (min_agree {needed}): {}{expected_note}",
                disagreeing.join("; ")
            ),
        );
    }
    let reasons: BTreeSet<Reason> = verdicts
        .iter()
        .filter_map(|v| v.as_ref().err().map(|(r, _)| *r))
        .collect();
    let reason = match (agree, reasons.iter().next()) {
        (0, Some(r)) if reasons.len() == 1 => *r,
        _ => Reason::DnsPropagation,
    };
    let quorum = if spec.min_agree.is_some() {
        format!(" (min_agree {needed})")
    } else {
        String::new()
    };
    Outcome::fail(
        reason,
        format!(
            "{agree}/{total} resolvers agree{quorum}: {}{expected_note}",
            disagreeing.join("; ")
        ),
    )
}

/// Every resolver passed: PASS naming the answer, unless the slowest crossed a latency
/// threshold.
fn all_agree(
    spec: &DnsSpec,
    thresholds: Thresholds,
    resolvers: &[Resolver],
    facts: &[Fact],
) -> Outcome {
    let total = resolvers.len();
    let what = match facts.first() {
        Some(Ok(a)) if a.rcode != ResponseCode::NoError => rcode_name(a.rcode),
        Some(Ok(a)) => list(&a.values),
        _ => String::new(),
    };
    let from = if total == 1 {
        resolvers
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    } else {
        format!("all {total} resolvers")
    };
    let slowest = facts
        .iter()
        .filter_map(|f| f.as_ref().ok().map(|a| a.latency))
        .max()
        .unwrap_or_default();
    let ok = format!(
        "{} {} = {what} from {from} in {} ms",
        display_name(&spec.query_name),
        spec.query_type,
        slowest.as_millis()
    );
    let problems = common::latency_problem(slowest, thresholds, Reason::DnsLatency);
    common::verdict(problems.into_iter().collect(), ok)
}

/// `10.0.0.2:53 answered NXDOMAIN`, or for a failure that is a sentence of its own
/// `tls://127.0.0.1:853#dns.test: TLS handshake failed: certificate name mismatch`: the resolver
/// (and so its transport) always comes first.
pub(super) fn named(resolver: &Resolver, message: &str) -> String {
    if message.starts_with(|c: char| c.is_ascii_uppercase()) {
        format!("{resolver}: {message}")
    } else {
        format!("{resolver} {message}")
    }
}

/// `[a, b]`, or `no records`.
pub(super) fn list(values: &BTreeSet<String>) -> String {
    if values.is_empty() {
        return "no records".to_owned();
    }
    let v: Vec<&str> = values.iter().map(String::as_str).collect();
    format!("[{}]", v.join(", "))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::facts::Answer;
    use super::*;
    use crate::model::Status;
    use hickory_resolver::proto::rr::{Name, RecordType};

    fn spec(expected: Option<&[&str]>) -> DnsSpec {
        DnsSpec {
            query_name: Name::from_ascii("example.com.").unwrap(),
            query_type: RecordType::A,
            expected: expected.map(|e| e.iter().map(|v| (*v).to_owned()).collect()),
            match_mode: MatchMode::Exact,
            resolvers: Vec::new(),
            expect_rcode: None,
            min_ttl: None,
            max_ttl: None,
            min_agree: None,
            recursion_desired: true,
            ca_file: None,
            insecure: false,
            client: None,
        }
    }

    /// The verdict without latency thresholds.
    fn judge(spec: &DnsSpec, resolvers: &[Resolver], facts: &[Fact]) -> Outcome {
        super::judge(spec, Thresholds::default(), resolvers, facts)
    }

    fn resolvers(n: u8) -> Vec<Resolver> {
        (1..=n)
            .map(|i| Resolver::Plain(([10, 0, 0, i], 53).into()))
            .collect()
    }

    fn answer(rcode: ResponseCode, values: &[&str], ttl: u32, ms: u64) -> Fact {
        Ok(Answer {
            rcode,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            ttls: vec![ttl; values.len()],
            transport: "udp",
            latency: Duration::from_millis(ms),
        })
    }

    fn ok(values: &[&str]) -> Fact {
        answer(ResponseCode::NoError, values, 300, 5)
    }

    #[test]
    fn expected_records_match_exactly_or_by_containment() {
        let s = spec(Some(&["192.0.2.1"]));
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1"])]);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            o.message,
            "example.com A = [192.0.2.1] from 10.0.0.1:53 in 5 ms"
        );
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1", "192.0.2.2"])]);
        assert_eq!(o.reason, Some(Reason::DnsMismatch));
        assert_eq!(
            o.message,
            "10.0.0.1:53 answered [192.0.2.1, 192.0.2.2]; expected [192.0.2.1]"
        );
        let mut s = s;
        s.match_mode = MatchMode::Contains;
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1", "192.0.2.2"])]);
        assert_eq!(o.status, Status::Pass);
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.2"])]);
        assert_eq!(o.reason, Some(Reason::DnsMismatch));
        assert!(o.message.ends_with("; expected to contain [192.0.2.1]"));
    }

    #[test]
    fn an_empty_answer_fails_without_expected() {
        let o = judge(&spec(None), &resolvers(1), &[ok(&[])]);
        assert_eq!(o.reason, Some(Reason::DnsMismatch));
        assert_eq!(o.message, "10.0.0.1:53 answered no A records");
    }

    #[test]
    fn nxdomain_fails_unless_expected() {
        let nx = || answer(ResponseCode::NXDomain, &[], 0, 3);
        let o = judge(&spec(None), &resolvers(1), &[nx()]);
        assert_eq!(
            (o.status, o.reason),
            (Status::Fail, Some(Reason::DnsNxdomain))
        );
        assert_eq!(o.message, "10.0.0.1:53 answered NXDOMAIN");

        let mut s = spec(None);
        s.expect_rcode = Some(ResponseCode::NXDomain);
        let o = judge(&s, &resolvers(1), &[nx()]);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            o.message,
            "example.com A = NXDOMAIN from 10.0.0.1:53 in 3 ms"
        );
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1"])]);
        assert_eq!(o.reason, Some(Reason::DnsRcode));
        assert_eq!(
            o.message,
            "10.0.0.1:53 answered NOERROR (expected NXDOMAIN)"
        );
    }

    #[test]
    fn ttl_bounds() {
        let mut s = spec(None);
        s.min_ttl = Some(600);
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1"])]);
        assert_eq!(o.reason, Some(Reason::DnsTtl));
        assert_eq!(o.message, "10.0.0.1:53 answered TTL 300 < min_ttl 600");
        s.min_ttl = None;
        s.max_ttl = Some(60);
        let o = judge(&s, &resolvers(1), &[ok(&["192.0.2.1"])]);
        assert_eq!(o.message, "10.0.0.1:53 answered TTL 300 > max_ttl 60");
    }

    #[test]
    fn resolvers_must_agree_without_expected() {
        let facts = [ok(&["192.0.2.1"]), ok(&["192.0.2.9"]), ok(&["192.0.2.1"])];
        let o = judge(&spec(None), &resolvers(3), &facts);
        assert_eq!(
            (o.status, o.reason),
            (Status::Fail, Some(Reason::DnsPropagation))
        );
        assert_eq!(
            o.message,
            "2/3 resolvers agree: 10.0.0.2:53 answered [192.0.2.9] (others answered [192.0.2.1])"
        );
        assert_eq!(o.metadata["agree"], 2);
        assert_eq!(o.metadata["answer"], serde_json::json!(["192.0.2.1"]));
        assert_eq!(o.metadata["resolvers"]["10.0.0.2:53"]["agrees"], false);

        let mut s = spec(None);
        s.min_agree = Some(2);
        let o = judge(&s, &resolvers(3), &facts);
        assert_eq!(
            (o.status, o.reason),
            (Status::Warn, Some(Reason::DnsPropagation))
        );
        assert!(o.message.starts_with("2/3 resolvers agree (min_agree 2): "));

        // On a tie the first resolver's answer is the reference.
        let mut verdicts = vec![Ok(()), Ok(())];
        require_agreement(&[ok(&["a"]), ok(&["b"])], &mut verdicts);
        assert!(verdicts[0].is_ok());
        assert_eq!(
            verdicts[1],
            Err((
                Reason::DnsPropagation,
                "answered [b] (others answered [a])".to_owned()
            ))
        );
    }

    #[test]
    fn all_resolvers_failing_alike_keep_their_reason() {
        let timeout = || Err(QueryError::Timeout(Duration::from_secs(2)));
        let o = judge(&spec(None), &resolvers(2), &[timeout(), timeout()]);
        assert_eq!(o.reason, Some(Reason::DnsTimeout));
        assert_eq!(
            o.message,
            "0/2 resolvers agree: 10.0.0.1:53 did not answer within 2s; 10.0.0.2:53 did not answer within 2s"
        );
        assert_eq!(o.metadata["resolvers"]["10.0.0.1:53"]["error"], "timeout");
        let refused = Err(QueryError::Io(std::io::ErrorKind::ConnectionRefused.into()));
        let o = judge(&spec(None), &resolvers(2), &[timeout(), refused]);
        assert_eq!(o.reason, Some(Reason::DnsPropagation));
        let tls = Err(QueryError::Tls(
            Reason::TlsNameMismatch,
            "TLS handshake failed: certificate name mismatch".to_owned(),
        ));
        let dot = vec![Resolver::Tls {
            addr: ([127, 0, 0, 1], 8853).into(),
            server_name: Some("dns.test".to_owned()),
        }];
        let o = judge(&spec(None), &dot, &[tls]);
        assert_eq!(o.reason, Some(Reason::TlsNameMismatch));
        assert_eq!(
            o.message,
            "tls://127.0.0.1:8853#dns.test: TLS handshake failed: certificate name mismatch"
        );
    }

    #[test]
    fn the_slowest_resolver_is_judged_on_latency() {
        let s = spec(None);
        let mut thresholds = Thresholds {
            warn_latency: Some(Duration::from_millis(40)),
            fail_latency: None,
        };
        let facts = [
            answer(ResponseCode::NoError, &["192.0.2.1"], 300, 10),
            answer(ResponseCode::NoError, &["192.0.2.1"], 300, 50),
        ];
        let o = super::judge(&s, thresholds, &resolvers(2), &facts);
        assert_eq!(
            (o.status, o.reason),
            (Status::Warn, Some(Reason::DnsLatency))
        );
        assert_eq!(o.message, "slow: 50 ms > warn_latency 40ms");
        thresholds.fail_latency = Some(Duration::from_millis(45));
        let o = super::judge(&s, thresholds, &resolvers(2), &facts);
        assert_eq!(
            (o.status, o.reason),
            (Status::Fail, Some(Reason::DnsLatency))
        );
        thresholds = Thresholds {
            warn_latency: Some(Duration::from_millis(60)),
            fail_latency: None,
        };
        let o = super::judge(&s, thresholds, &resolvers(2), &facts);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            o.message,
            "example.com A = [192.0.2.1] from all 2 resolvers in 50 ms"
        );
        assert_eq!(o.metadata["resolvers"]["10.0.0.2:53"]["latency_ms"], 50);
    }
}
