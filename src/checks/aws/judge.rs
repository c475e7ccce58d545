//! The verdicts of the AWS checks: facts the API calls observed in (caller identity, bucket
//! answer, instance states, DB instance fields, target health), an [`Outcome`] out. Pure: no
//! I/O, no clock; unit-tested without any endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use super::errors::{service_message, service_reason};
pub(crate) use super::facts::{BucketAnswer, Identity, Instance, TargetHealth};
use crate::checks::Thresholds;
use crate::checks::common::{add_problem, escape, latency_problem};
#[cfg(test)]
use crate::model::Status;
use crate::model::{Outcome, Reason, Text};
use crate::text;

/// How many instance ids or targets a message or metadata lists.
const MAX_NAMES: usize = 10;

/// RDS statuses in which the instance still serves (maintenance in progress): WARN.
const RDS_SERVING: &[&str] = &[
    "backing-up",
    "modifying",
    "maintenance",
    "upgrading",
    "storage-optimization",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "renaming",
    "resetting-master-credentials",
];

/// The caller identity against the expected `account` and `arn_contains`.
pub(crate) fn sts_verdict(
    id: &Identity,
    account: Option<&str>,
    arn_contains: Option<&str>,
) -> Outcome {
    let mut meta = BTreeMap::new();
    meta.insert("account".to_owned(), serde_json::json!(id.account));
    meta.insert("arn".to_owned(), serde_json::json!(id.arn));
    if let Some(u) = &id.user_id {
        meta.insert("user_id".to_owned(), serde_json::json!(u));
    }
    let shown_arn = escape(&id.arn, 200);
    let outcome = if let Some(want) = account
        && want != id.account
    {
        Outcome::fail(
            Reason::AwsExpect,
            text!(
                "credentials belong to account ",
                escape(&id.account, 20),
                ", expected {want} (",
                &shown_arn,
                ")"
            ),
        )
    } else if let Some(part) = arn_contains
        && !id.arn.contains(part)
    {
        Outcome::fail(
            Reason::AwsExpect,
            text!("caller ARN ", &shown_arn, " does not contain `{part}`"),
        )
    } else {
        Outcome::pass(text!(
            "credentials valid: ",
            shown_arn,
            " (account ",
            escape(&id.account, 20),
            ")"
        ))
    };
    outcome.with_metadata(meta)
}

/// The `s3:HeadBucket` answer for `bucket`.
pub(crate) fn bucket_verdict(bucket: &str, answer: &BucketAnswer) -> Outcome {
    let (status, region, code, message) = match answer {
        BucketAnswer::Found { region } => {
            let o = Outcome::pass(format!("bucket {bucket} exists and is reachable"))
                .with_meta("bucket", bucket);
            return match region {
                Some(r) => o.with_meta("bucket_region", r.as_str()),
                None => o,
            };
        }
        BucketAnswer::Refused {
            status,
            region,
            code,
            message,
        } => (*status, region, code.as_deref(), message.as_deref()),
    };
    let (reason, said) = match status {
        404 => (Reason::AwsNotFound, "bucket does not exist".into()),
        403 => (
            Reason::AwsAccessDenied,
            "access denied (the bucket exists but these credentials may not read it)".into(),
        ),
        301 => (
            Reason::AwsApi,
            format!(
                "the bucket is in another region ({}); set `region`",
                region.as_deref().unwrap_or("unknown")
            )
            .into(),
        ),
        400 => (
            Reason::AwsApi,
            "bad request (expired or malformed credentials, or a region mismatch; set `region`)"
                .into(),
        ),
        _ => (
            service_reason(code, status),
            service_message("error", code, message, status),
        ),
    };
    let o = Outcome::fail(
        reason,
        text!("s3:HeadBucket {bucket}: ", said, " (HTTP {status})"),
    )
    .with_meta("bucket", bucket)
    .with_meta("http_status", status);
    match region {
        Some(r) => o.with_meta("bucket_region", r.as_str()),
        None => o,
    }
}

/// The instances `DescribeInstances` found: every listed id exists and at least `min_running`
/// are running.
pub(crate) fn ec2_verdict(
    instances: &[Instance],
    instance_ids: &[String],
    min_running: u64,
) -> Outcome {
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut not_running: Vec<Text> = Vec::new();
    for i in instances {
        *states.entry(i.state.clone()).or_insert(0) += 1;
        if i.state != "running" {
            not_running.push(text!(escape(&i.id, 40), " (", escape(&i.state, 30), ")"));
        }
    }
    let total = u64::try_from(instances.len()).unwrap_or(u64::MAX);
    let running = states.get("running").copied().unwrap_or(0);
    let missing: Vec<&str> = instance_ids
        .iter()
        .filter(|id| !instances.iter().any(|i| &&i.id == id))
        .take(MAX_NAMES)
        .map(String::as_str)
        .collect();
    let mut meta = BTreeMap::new();
    meta.insert("instances".to_owned(), serde_json::json!(total));
    meta.insert("running".to_owned(), serde_json::json!(running));
    meta.insert("states".to_owned(), serde_json::json!(states));
    meta.insert("min_running".to_owned(), serde_json::json!(min_running));
    let listed: Vec<Text> = not_running.into_iter().take(MAX_NAMES).collect();
    let counts = Text::join(
        states.iter().map(|(s, n)| text!("{n} ", escape(s, 30))),
        ", ",
    );
    let summary = if total == 0 {
        "no matching instances".into()
    } else {
        text!("{running}/{total} instances running (", counts, ")")
    };
    let outcome = if !missing.is_empty() {
        Outcome::fail(
            Reason::AwsNotFound,
            text!("instances not found: ", missing.join(", "), "; ", summary),
        )
    } else if running < min_running {
        expect_failed(
            text!(summary, "; min_running {min_running}"),
            "not running",
            &listed,
        )
    } else {
        Outcome::pass(summary)
    };
    with_listed(outcome.with_metadata(meta), "not_running", listed)
}

/// An `aws.expect` failure: `message`, then `; <what>: <names>` when any are listed.
fn expect_failed(mut message: Text, what: &str, listed: &[Text]) -> Outcome {
    if !listed.is_empty() {
        message.push(text!("; {what}: ", Text::join(listed.to_vec(), ", ")));
    }
    Outcome::fail(Reason::AwsExpect, message)
}

/// `outcome` with the names it lists (at most [`MAX_NAMES`]) under `key`, when there are any.
fn with_listed(outcome: Outcome, key: &str, listed: Vec<Text>) -> Outcome {
    if listed.is_empty() {
        outcome
    } else {
        outcome.with_meta_text(key, listed)
    }
}

/// The fields of DB instance `id` (`None`: no such instance): `available` passes, a status in
/// which it still serves warns, any other fails.
pub(crate) fn rds_verdict(id: &str, db: Option<&BTreeMap<String, String>>) -> Outcome {
    let Some(db) = db else {
        return Outcome::fail(
            Reason::AwsNotFound,
            format!("rds:DescribeDBInstances {id}: no such DB instance"),
        );
    };
    let status = db
        .get("DBInstanceStatus")
        .map(String::as_str)
        .unwrap_or("unknown");
    let mut meta: BTreeMap<String, Text> = BTreeMap::new();
    for (leaf, key) in [
        ("DBInstanceStatus", "db_status"),
        ("Engine", "engine"),
        ("EngineVersion", "engine_version"),
        ("DBInstanceClass", "instance_class"),
        ("MultiAZ", "multi_az"),
        ("AvailabilityZone", "availability_zone"),
    ] {
        if let Some(v) = db.get(leaf) {
            meta.insert(key.to_owned(), escape(v, 100));
        }
    }
    let shown = escape(status, 60);
    let engine = db
        .get("Engine")
        .map(|e| text!(" (", escape(e, 40), ")"))
        .unwrap_or_default();
    let outcome = if status == "available" {
        Outcome::pass(text!("DB instance {id}", engine, " is available"))
    } else if RDS_SERVING.contains(&status) {
        Outcome::warn(
            Reason::AwsExpect,
            text!(
                "DB instance {id}",
                engine,
                " is `",
                shown,
                "` (serving, maintenance in progress)"
            ),
        )
    } else {
        Outcome::fail(
            Reason::AwsExpect,
            text!(
                "DB instance {id}",
                engine,
                " is `",
                shown,
                "`, not available"
            ),
        )
    };
    meta.into_iter()
        .fold(outcome, |o, (key, value)| o.with_meta_text(&key, value))
}

/// `id:port (state: reason)` of a target that is not healthy.
fn target_line(t: &TargetHealth) -> Text {
    let mut line = escape(&t.id, 80);
    if !t.port.is_empty() {
        line.push_str(":");
        line.push(escape(&t.port, 6));
    }
    line.push(text!(" (", escape(&t.state, 30)));
    if !t.reason.is_empty() {
        line.push(text!(": ", escape(&t.reason, 60)));
    }
    line.push_str(")");
    line
}

/// The registered targets of a group: at least `min_healthy` (default: all, at least one)
/// must be healthy.
pub(crate) fn target_verdict(targets: &[TargetHealth], min_healthy: Option<u64>) -> Outcome {
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut unhealthy: Vec<Text> = Vec::new();
    for t in targets {
        *states.entry(t.state.clone()).or_insert(0) += 1;
        if t.state != "healthy" {
            unhealthy.push(target_line(t));
        }
    }
    let total = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    let healthy = states.get("healthy").copied().unwrap_or(0);
    let need = min_healthy.unwrap_or(total).max(1);
    let listed: Vec<Text> = unhealthy.into_iter().take(MAX_NAMES).collect();
    let mut meta = BTreeMap::new();
    meta.insert("targets".to_owned(), serde_json::json!(total));
    meta.insert("healthy".to_owned(), serde_json::json!(healthy));
    meta.insert("states".to_owned(), serde_json::json!(states));
    let mut summary = Text::from(format!("{healthy}/{total} targets healthy"));
    let outcome = if total == 0 {
        Outcome::fail(
            Reason::AwsExpect,
            "no targets registered in the target group",
        )
    } else if healthy < need {
        if let Some(min) = min_healthy {
            summary.push_str(&format!(" (min_healthy {min})"));
        }
        expect_failed(summary, "not healthy", &listed)
    } else {
        Outcome::pass(summary)
    };
    with_listed(outcome.with_metadata(meta), "unhealthy", listed)
}

/// An answered check's outcome with the latency verdict of its API calls folded in: slower than
/// `fail_latency` / `warn_latency` adds `aws.latency`; the worse status wins and equal ones
/// join their messages, the expectation first (the same fold as the other kinds).
pub(crate) fn with_latency(outcome: Outcome, elapsed: Duration, thresholds: Thresholds) -> Outcome {
    add_problem(
        outcome,
        latency_problem(elapsed, thresholds, Reason::AwsLatency),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text as a report shows it: the deferred cuts carried out.
    fn shown(t: &Text) -> String {
        crate::redact::Redactor::default().fold(t)
    }

    /// A text fact as a report shows it.
    fn shown_fact(o: &Outcome, key: &str) -> String {
        match o.texts.as_ref().and_then(|t| t.get(key)) {
            Some(crate::model::TextValue::One(t)) => shown(t),
            other => format!("{other:?}"),
        }
    }

    fn identity() -> Identity {
        Identity {
            account: "123456789012".into(),
            arn: "arn:aws:sts::123456789012:assumed-role/ci-reader/infracheck".into(),
            user_id: Some("AROA:infracheck".into()),
        }
    }

    #[test]
    fn sts_verdicts() {
        let id = identity();
        let o = sts_verdict(&id, Some("123456789012"), Some("ci-reader"));
        assert_eq!(o.status, Status::Pass, "{}", o.message.as_str());
        assert_eq!(o.metadata["user_id"], "AROA:infracheck");
        let o = sts_verdict(&id, Some("999999999999"), None);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("account 123456789012, expected 999999999999"),
            "{}",
            o.message.as_str()
        );
        let o = sts_verdict(&id, None, Some("user/admin"));
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("does not contain `user/admin`"),
            "{}",
            o.message.as_str()
        );
    }

    #[test]
    fn bucket_verdicts() {
        let found = BucketAnswer::Found {
            region: Some("eu-west-1".into()),
        };
        let o = bucket_verdict("b-1", &found);
        assert_eq!(o.status, Status::Pass);
        assert_eq!(o.metadata["bucket_region"], "eu-west-1");
        let refused = |status: u16| BucketAnswer::Refused {
            status,
            region: Some("us-east-2".into()),
            code: None,
            message: None,
        };
        let o = bucket_verdict("b-1", &refused(404));
        assert_eq!(o.reason, Some(Reason::AwsNotFound));
        assert_eq!(
            o.message,
            "s3:HeadBucket b-1: bucket does not exist (HTTP 404)"
        );
        assert_eq!(o.metadata["http_status"], 404);
        assert_eq!(
            bucket_verdict("b-1", &refused(403)).reason,
            Some(Reason::AwsAccessDenied)
        );
        let o = bucket_verdict("b-1", &refused(301));
        assert_eq!(o.reason, Some(Reason::AwsApi));
        assert!(
            o.message.contains("another region (us-east-2)"),
            "{}",
            o.message.as_str()
        );
        assert_eq!(
            bucket_verdict("b-1", &refused(500)).reason,
            Some(Reason::AwsApi)
        );
    }

    #[test]
    fn rds_verdicts() {
        let db = |status: &str| {
            BTreeMap::from([
                ("DBInstanceStatus".to_owned(), status.to_owned()),
                ("Engine".to_owned(), "postgres".to_owned()),
            ])
        };
        let o = rds_verdict("orders", Some(&db("available")));
        assert_eq!(o.status, Status::Pass);
        assert_eq!(
            shown(&o.message),
            "DB instance orders (postgres) is available"
        );
        let o = rds_verdict("orders", Some(&db("backing-up")));
        assert_eq!(o.status, Status::Warn);
        let o = rds_verdict("orders", Some(&db("stopped")));
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert_eq!(o.status, Status::Fail);
        assert_eq!(shown_fact(&o, "engine"), "postgres");
        let o = rds_verdict("nope", None);
        assert_eq!(o.reason, Some(Reason::AwsNotFound));
        assert_eq!(
            o.message,
            "rds:DescribeDBInstances nope: no such DB instance"
        );
    }

    #[test]
    fn target_verdicts() {
        let t = |id: &str, state: &str, reason: &str| TargetHealth {
            id: id.into(),
            port: "80".into(),
            state: state.into(),
            reason: reason.into(),
        };
        let list = [
            t("i-1", "healthy", ""),
            t("i-2", "unhealthy", "Target.Timeout"),
        ];
        let o = target_verdict(&list, None);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("i-2:80 (unhealthy: Target.Timeout)"),
            "{}",
            o.message.as_str()
        );
        assert_eq!(target_verdict(&list, Some(1)).status, Status::Pass);
        assert_eq!(target_verdict(&[], Some(0)).reason, Some(Reason::AwsExpect));
    }

    #[test]
    fn ec2_verdicts() {
        let inst = |id: &str, st: &str| Instance {
            id: id.into(),
            state: st.into(),
        };
        let list = vec![
            inst("i-1", "running"),
            inst("i-2", "running"),
            inst("i-3", "stopped"),
        ];
        let o = ec2_verdict(&list, &[], 2);
        assert_eq!(o.status, Status::Pass, "{}", o.message.as_str());
        assert_eq!(
            o.metadata["states"],
            serde_json::json!({"running": 2, "stopped": 1})
        );
        let o = ec2_verdict(&list, &[], 3);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("not running: i-3 (stopped)"),
            "{}",
            o.message.as_str()
        );
        let o = ec2_verdict(&list, &["i-9".into()], 1);
        assert_eq!(o.reason, Some(Reason::AwsNotFound));
        let o = ec2_verdict(&[], &[], 1);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
    }

    #[test]
    fn latency_folds_into_the_verdict() {
        let ms = Duration::from_millis;
        let limits = |warn: u64, fail: u64| Thresholds {
            warn_latency: Some(ms(warn)),
            fail_latency: Some(ms(fail)),
        };
        let pass = || Outcome::pass("ok").with_meta("region", "eu-west-1");
        // Under both thresholds: unchanged.
        let o = with_latency(pass(), ms(5), limits(10, 20));
        assert_eq!((o.status, o.message.as_str()), (Status::Pass, "ok"));
        // Over warn_latency: WARN with the latency reason, metadata kept.
        let o = with_latency(pass(), ms(15), limits(10, 20));
        assert_eq!(o.status, Status::Warn);
        assert_eq!(o.reason, Some(Reason::AwsLatency));
        assert_eq!(o.message, "slow: 15 ms > warn_latency 10ms");
        assert_eq!(o.metadata["region"], "eu-west-1");
        // Over fail_latency: FAIL.
        let o = with_latency(pass(), ms(25), limits(10, 20));
        assert_eq!(
            (o.status, o.reason),
            (Status::Fail, Some(Reason::AwsLatency))
        );
        // A failed expectation stays first; a WARN for latency does not hide it.
        let failed = || Outcome::fail(Reason::AwsExpect, "1/2 targets healthy");
        let o = with_latency(failed(), ms(15), limits(10, 20));
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert_eq!(o.message, "1/2 targets healthy");
        let o = with_latency(failed(), ms(25), limits(10, 20));
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert_eq!(
            o.message,
            "1/2 targets healthy; slow: 25 ms > fail_latency 20ms"
        );
        // No thresholds: never judged.
        let none = Thresholds {
            warn_latency: None,
            fail_latency: None,
        };
        assert_eq!(with_latency(pass(), ms(60_000), none).status, Status::Pass);
    }
}
