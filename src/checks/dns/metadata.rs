//! The JSON metadata of a DNS result: per resolver its rcode, answer, TTL, transport and
//! latency (or its error) and whether it agrees; overall the query, the agreement count and the
//! first agreeing answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::facts::{Answer, Fact, QueryError, Verdict};
use super::records::display_name;
use super::resolver::Resolver;
use super::spec::{DnsSpec, rcode_name};
use crate::checks::common;

/// The metadata of a result, from the same facts and verdicts the outcome was judged on.
pub(super) fn metadata(
    spec: &DnsSpec,
    resolvers: &[Resolver],
    facts: &[Fact],
    verdicts: &[Verdict],
) -> BTreeMap<String, Value> {
    let mut per = Map::new();
    for ((r, fact), v) in resolvers.iter().zip(facts).zip(verdicts) {
        per.insert(r.to_string(), Value::Object(resolver_entry(fact, v)));
    }
    let agreed: Option<&Answer> = facts
        .iter()
        .zip(verdicts)
        .find_map(|(f, v)| f.as_ref().ok().filter(|_| v.is_ok()));
    let mut meta = BTreeMap::new();
    meta.insert("resolvers".to_owned(), Value::Object(per));
    meta.insert(
        "query".to_owned(),
        json!(format!(
            "{} {}",
            display_name(&spec.query_name),
            spec.query_type
        )),
    );
    let agree = verdicts.iter().filter(|v| v.is_ok()).count();
    meta.insert("agree".to_owned(), json!(agree));
    meta.insert("resolver_count".to_owned(), json!(resolvers.len()));
    if let Some(a) = agreed {
        meta.insert("rcode".to_owned(), json!(rcode_name(a.rcode)));
        meta.insert(
            "answer".to_owned(),
            json!(a.values.iter().collect::<Vec<_>>()),
        );
        if let Some(t) = a.ttls.iter().min() {
            meta.insert("ttl".to_owned(), json!(t));
        }
    }
    meta
}

/// One resolver's entry under `resolvers`.
fn resolver_entry(fact: &Fact, verdict: &Verdict) -> Map<String, Value> {
    let mut m = Map::new();
    match fact {
        Ok(a) => {
            m.insert("rcode".to_owned(), json!(rcode_name(a.rcode)));
            m.insert(
                "answer".to_owned(),
                json!(a.values.iter().collect::<Vec<_>>()),
            );
            if let Some(t) = a.ttls.iter().min() {
                m.insert("ttl".to_owned(), json!(t));
            }
            m.insert("transport".to_owned(), json!(a.transport));
            m.insert("latency_ms".to_owned(), json!(common::millis(a.latency)));
        }
        Err(QueryError::Timeout(_)) => {
            m.insert("error".to_owned(), json!("timeout"));
        }
        Err(QueryError::Io(e)) => {
            m.insert("error".to_owned(), json!(e.to_string()));
        }
        Err(
            QueryError::Malformed(e)
            | QueryError::Tls(_, e)
            | QueryError::Resolve(e)
            | QueryError::Transport(e),
        ) => {
            m.insert("error".to_owned(), json!(e));
        }
    }
    m.insert("agrees".to_owned(), json!(verdict.is_ok()));
    m
}
