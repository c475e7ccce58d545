//! One attempt of an AWS check: resolve the shared configuration, make the target's API
//! call(s), time them and hand the answer to [`super::judge`]. A target's function returns
//! `Ok` with the judged verdict when AWS answered about the resource, `Err` when the call
//! itself failed (unreachable, credentials, another API error): only an answer is judged
//! for latency.

use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use super::clients::Resolved;
use super::errors::{query_error, sdk_error};
use super::judge::{self, BucketAnswer, Identity};
use super::query::{self, QueryCall};
use super::{AwsSpec, Clients, Target, xml};
use crate::checks::common::{escape, millis};
use crate::checks::{Phase, Thresholds};
use crate::model::{Outcome, Reason};

/// Most `DescribeInstances` pages followed (1000 instances each).
const MAX_PAGES: usize = 50;

/// The verdict of a call AWS answered, or the outcome of a call that failed.
type Answer = Result<Outcome, Outcome>;

/// Run one attempt.
pub async fn run(
    spec: &AwsSpec,
    thresholds: Thresholds,
    clients: &Clients,
    phase: &Phase,
) -> Outcome {
    let Resolved {
        config,
        region,
        creds,
    } = match clients.get(&spec.client, phase).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    // The Query API client is built before the clock starts: only the calls are timed.
    let http = match &spec.target {
        Target::StsIdentity { .. } | Target::S3Bucket(_) => None,
        _ => match clients.http().await {
            Ok(h) => Some(h),
            Err(o) => return o,
        },
    };
    phase.set("waiting for the AWS API");
    let start = Instant::now();
    let answer = match (&spec.target, &http) {
        (
            Target::StsIdentity {
                account,
                arn_contains,
            },
            _,
        ) => sts_identity(&config, account.as_deref(), arn_contains.as_deref()).await,
        (Target::S3Bucket(bucket), _) => s3_bucket(&config, bucket).await,
        (target, Some(http)) => {
            let call = QueryCall {
                http,
                config: &config,
                region: &region,
                creds: &creds,
            };
            query_target(&call, target).await
        }
        (_, None) => Err(Outcome::fail(Reason::Internal, "no HTTP client")),
    };
    let elapsed = start.elapsed();
    phase.record(crate::model::PhaseName::Request, elapsed);
    let outcome = match answer {
        Ok(judged) => judge::with_latency(judged, elapsed, thresholds),
        Err(failed) => failed,
    };
    outcome
        .with_meta("region", region)
        .with_meta("latency_ms", millis(elapsed))
}

/// The Query API targets (EC2, RDS, ELBv2).
async fn query_target(call: &QueryCall<'_>, target: &Target) -> Answer {
    match target {
        Target::Ec2Instances {
            tags,
            instance_ids,
            min_running,
        } => {
            let instances = ec2_instances(call, tags, instance_ids).await?;
            Ok(judge::ec2_verdict(&instances, instance_ids, *min_running))
        }
        Target::RdsInstance(id) => rds_instance(call, id).await,
        Target::ElbTargetGroup { arn, min_healthy } => target_health(call, arn, *min_healthy).await,
        Target::StsIdentity { .. } | Target::S3Bucket(_) => {
            Err(Outcome::fail(Reason::Internal, "not a Query API target"))
        }
    }
}

/// `sts:GetCallerIdentity`.
async fn sts_identity(
    config: &SdkConfig,
    account: Option<&str>,
    arn_contains: Option<&str>,
) -> Answer {
    let client = aws_sdk_sts::Client::new(config);
    let out = match client.get_caller_identity().send().await {
        Ok(o) => o,
        Err(e) => return Err(sdk_error(&e, "sts:GetCallerIdentity")),
    };
    let id = Identity {
        account: out.account().unwrap_or_default().to_owned(),
        arn: out.arn().unwrap_or_default().to_owned(),
        user_id: out.user_id().map(str::to_owned),
    };
    Ok(judge::sts_verdict(&id, account, arn_contains))
}

/// `s3:HeadBucket`.
async fn s3_bucket(config: &SdkConfig, bucket: &str) -> Answer {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        // Emulators and VPC endpoints serve buckets by path, not by virtual host name.
        builder = builder.force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(builder.build());
    let answer = match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => BucketAnswer::Found {
            region: out.bucket_region().map(str::to_owned),
        },
        Err(SdkError::ServiceError(se)) => {
            let raw = se.raw();
            let err = se.err();
            BucketAnswer::Refused {
                status: raw.status().as_u16(),
                region: raw.headers().get("x-amz-bucket-region").map(str::to_owned),
                code: err.code().map(str::to_owned),
                message: err.message().map(str::to_owned),
            }
        }
        Err(e) => {
            let what = format!("s3:HeadBucket {bucket}");
            return Err(sdk_error(&e, &what).with_meta("bucket", bucket));
        }
    };
    Ok(judge::bucket_verdict(bucket, &answer))
}

/// `ec2:DescribeInstances`, every page: the instances matching the tags and ids.
async fn ec2_instances(
    call: &QueryCall<'_>,
    tags: &[(String, String)],
    instance_ids: &[String],
) -> Result<Vec<judge::Instance>, Outcome> {
    let url = query::endpoint(call.config, call.region, "ec2")?;
    let what = "ec2:DescribeInstances";
    let mut instances = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let body = query::describe_form(tags, instance_ids, next_token.as_deref());
        let (status, text) = query::post(call, "ec2", what, &url, body).await?;
        if status != 200 {
            return Err(query_error(what, status, &text));
        }
        let page = xml::parse_describe(&text).map_err(|e| unreadable(what, &e))?;
        instances.extend(page.instances);
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            return Ok(instances);
        }
    }
    Err(Outcome::fail(
        Reason::AwsApi,
        format!(
            "{what}: more than {MAX_PAGES} pages of instances; select fewer with `tag` or `instance_ids`"
        ),
    ))
}

/// `rds:DescribeDBInstances` of one identifier.
async fn rds_instance(call: &QueryCall<'_>, id: &str) -> Answer {
    let url = query::endpoint(call.config, call.region, "rds")?;
    let what = format!("rds:DescribeDBInstances {id}");
    let (status, text) = query::post(call, "rds", &what, &url, query::rds_form(id)).await?;
    if status != 200 {
        return Err(query_error(&what, status, &text));
    }
    let db = xml::parse_rds(&text).map_err(|e| unreadable(&what, &e))?;
    Ok(judge::rds_verdict(id, db.as_ref()))
}

/// `elasticloadbalancing:DescribeTargetHealth` of one target group.
async fn target_health(call: &QueryCall<'_>, arn: &str, min_healthy: Option<u64>) -> Answer {
    let url = query::endpoint(call.config, call.region, "elasticloadbalancing")?;
    let what = "elasticloadbalancing:DescribeTargetHealth";
    let body = query::target_health_form(arn);
    let (status, text) = query::post(call, "elasticloadbalancing", what, &url, body).await?;
    if status != 200 {
        return Err(query_error(what, status, &text));
    }
    let targets = xml::parse_target_health(&text).map_err(|e| unreadable(what, &e))?;
    Ok(judge::target_verdict(&targets, min_healthy))
}

/// An answer that is not the XML expected.
fn unreadable(what: &str, e: &str) -> Outcome {
    Outcome::fail(
        Reason::AwsApi,
        crate::text!("{what}: unreadable response: ", escape(e, 200)),
    )
}
