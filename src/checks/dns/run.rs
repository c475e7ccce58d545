//! One attempt of a DNS check: pick the resolvers, send the query to all of them at once,
//! collect what each did and hand the facts to [`super::judge`].

use std::time::Duration;

use super::client::{Ready, Trust, ask, build_query};
use super::judge::judge;
use super::resolver::Resolver;
use super::spec::DnsSpec;
use crate::checks::{Phase, RunContext};
use crate::model::{Outcome, Reason};

/// Run one attempt.
pub async fn run(spec: &DnsSpec, ctx: &RunContext, timeout: Duration, phase: &Phase) -> Outcome {
    let resolvers: Vec<Resolver> = if spec.resolvers.is_empty() {
        match ctx.dns_system.get() {
            Ok(r) => r.into_iter().map(Resolver::Plain).collect(),
            Err(e) => return Outcome::fail(Reason::DnsResolve, e),
        }
    } else {
        spec.resolvers.clone()
    };
    let trust = Trust {
        ca_file: spec.ca_file.as_deref(),
        insecure: spec.insecure,
        client: spec.client.as_ref(),
    };
    let budget = budget(timeout);
    let query = match build_query(spec) {
        Ok(q) => q,
        Err(e) => return Outcome::fail(Reason::Internal, e),
    };
    // Each encrypted resolver connects first, then waits for the TLS preparation (one wait,
    // shared, outside the clock), then builds its TLS config and handshakes.
    let ready: Ready<'_> = futures::FutureExt::shared(Box::pin(async {
        ctx.tls_ready(phase).await;
    }) as _);
    phase.set("waiting for the DNS resolvers");
    let outside = phase.outside();
    let asked = std::time::Instant::now();
    let facts = futures::future::join_all(
        resolvers
            .iter()
            .map(|r| ask(r, &query, spec.query_type, (trust, &ready), budget)),
    )
    .await;
    let waited = phase.outside().saturating_sub(outside);
    phase.record(
        crate::model::PhaseName::Query,
        asked.elapsed().saturating_sub(waited),
    );
    judge(spec, &resolvers, &facts).with_facts(observed(&facts))
}

/// The values of `expect:` conditions: `dns.answers`, the records every resolver that
/// answered returned (sorted, each once); `dns.ttl`, their lowest TTL; `latency`, the slowest
/// answer. Nothing when no resolver answered.
fn observed(facts: &[super::facts::Fact]) -> crate::model::Facts {
    let mut out = crate::model::Facts::new();
    let answers: Vec<&super::facts::Answer> =
        facts.iter().filter_map(|f| f.as_ref().ok()).collect();
    if answers.is_empty() {
        return out;
    }
    let values: std::collections::BTreeSet<&String> =
        answers.iter().flat_map(|a| a.values.iter()).collect();
    out.value(
        "dns.answers",
        values.into_iter().cloned().collect::<Vec<String>>(),
    );
    if let Some(ttl) = answers.iter().flat_map(|a| a.ttls.iter()).min() {
        out.value("dns.ttl", *ttl);
    }
    if let Some(slowest) = answers.iter().map(|a| a.latency).max() {
        out.duration("latency", slowest);
    }
    out
}

/// Give up on silent resolvers a little before the engine's timeout, so the answers of the
/// others are still compared and the silent ones are named.
fn budget(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 10).min(Duration::from_millis(500)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_before_the_timeout() {
        assert_eq!(budget(Duration::from_secs(2)), Duration::from_millis(1800));
        assert_eq!(budget(Duration::from_secs(10)), Duration::from_millis(9500));
        assert_eq!(budget(Duration::ZERO), Duration::ZERO);
    }
}
