//! `aws_checks`: STS caller identity, S3 bucket reachability, EC2 running-instance counts, RDS
//! instance availability and ELBv2 target health.
//!
//! Credentials and region come from the official `aws-config` chain (environment, profile,
//! SSO, web identity, ECS, IMDS), built on first use per (`region`, `profile`,
//! `endpoint_url`, `role_arn`) and shared by the run, so `validate` never touches AWS. STS and
//! S3 use the SDK crates; EC2, RDS and ELBv2 are signed Query API calls through reqwest,
//! `aws-sigv4` and `quick-xml` because `aws-sdk-ec2` alone costs minutes of compile time
//! (README, design notes). No credentials is a FAIL (`aws.credentials`), never a PASS.

use crate::spec::field::{Field, FieldType as T, opt, req};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use quick_xml::events::Event;

use super::util::{escape, millis, percent_decode, printable_url};
use super::{Phase, tls_util};
use crate::model::{Outcome, Reason};
use crate::spec::fields::Ctx;
use crate::spec::yaml::MapReader;

/// Keys an AWS check accepts besides the common ones.
pub const KEYS: &[&str] = &[
    "sts_identity",
    "s3_bucket",
    "ec2_instances",
    "rds_instance",
    "elb_target_group",
    "region",
    "profile",
    "endpoint_url",
    "role_arn",
];

/// Type and description of every key in [`KEYS`] (the config schema; tested to match).
pub const FIELDS: &[Field] = &[
    opt(
        "sts_identity",
        T::FlagOrObject(STS_FIELDS),
        "The credentials are valid (`true`, or expectations on the identity).",
    ),
    opt(
        "s3_bucket",
        T::String,
        "A bucket that must exist and be reachable.",
    ),
    opt(
        "ec2_instances",
        T::Object(EC2_FIELDS),
        "EC2 instances that must be running.",
    ),
    opt(
        "rds_instance",
        T::String,
        "A DB instance identifier that must be available.",
    ),
    opt(
        "elb_target_group",
        T::TextOrObject(ELB_FIELDS),
        "A target group (ARN, or `{arn, min_healthy}`) whose targets must be healthy.",
    ),
    opt("region", T::String, "AWS region."),
    opt("profile", T::String, "Shared-config profile."),
    opt(
        "endpoint_url",
        T::String,
        "Custom endpoint URL (e.g. a local emulator).",
    ),
    opt("role_arn", T::String, "Role to assume."),
];
const STS_KEYS: &[&str] = &["account", "arn_contains"];
const EC2_KEYS: &[&str] = &["tag", "instance_ids", "min_running"];
const ELB_KEYS: &[&str] = &["arn", "min_healthy"];
/// Schema fields of [`STS_KEYS`] (tested to match).
const STS_FIELDS: &[Field] = &[
    opt("account", T::String, "Expected account id."),
    opt(
        "arn_contains",
        T::String,
        "Text the caller ARN must contain.",
    ),
];
/// Schema fields of [`EC2_KEYS`] (tested to match).
const EC2_FIELDS: &[Field] = &[
    opt("tag", T::StringMap, "Tags the instances must have."),
    opt("instance_ids", T::StringList, "Instance ids."),
    opt("min_running", T::Integer, "Minimum running instances."),
];
/// Schema fields of [`ELB_KEYS`] (tested to match).
const ELB_FIELDS: &[Field] = &[
    req("arn", T::String, "Target group ARN."),
    opt("min_healthy", T::Integer, "Minimum healthy targets."),
];
/// How many instance ids a message or metadata lists.
const MAX_NAMES: usize = 10;
/// Largest EC2 response read (bytes); a bigger one is an `aws.api` failure, not an allocation.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Most `DescribeInstances` pages followed (1000 instances each).
const MAX_PAGES: usize = 50;
/// The RDS Query API version `DescribeDBInstances` is called with.
const RDS_API_VERSION: &str = "2014-10-31";
/// The ELBv2 Query API version `DescribeTargetHealth` is called with.
const ELB_API_VERSION: &str = "2015-12-01";
/// The EC2 Query API version `DescribeInstances` is called with.
const EC2_API_VERSION: &str = "2016-11-15";

/// What an AWS check looks at.
#[derive(Debug, Clone)]
pub enum Target {
    /// `sts:GetCallerIdentity`: the credentials are valid (and belong to the expected account).
    StsIdentity {
        /// Expected 12-digit account id.
        account: Option<String>,
        /// Text the caller ARN must contain (a role or user name).
        arn_contains: Option<String>,
    },
    /// `s3:HeadBucket`: the bucket exists and these credentials may reach it.
    S3Bucket(String),
    /// `rds:DescribeDBInstances` by identifier: the instance is `available`.
    RdsInstance(String),
    /// `elasticloadbalancing:DescribeTargetHealth`: enough registered targets are healthy.
    ElbTargetGroup {
        /// The target group ARN.
        arn: String,
        /// Healthy targets required (default: every registered target).
        min_healthy: Option<u64>,
    },
    /// `ec2:DescribeInstances` by tags and/or ids: at least `min_running` are running.
    Ec2Instances {
        /// Tag filters (`tag:Key` = value; EC2 wildcards `*` and `?` work).
        tags: Vec<(String, String)>,
        /// Instance ids.
        instance_ids: Vec<String>,
        /// Running instances required.
        min_running: u64,
    },
}

/// A validated AWS check.
#[derive(Debug, Clone)]
pub struct AwsSpec {
    /// The API call and its expectation.
    pub target: Target,
    /// Client settings (the key of the shared SDK configuration).
    pub client: ClientKey,
}

/// What selects one shared SDK configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientKey {
    /// Region (default: `AWS_REGION`, then the profile's region).
    pub region: Option<String>,
    /// Named profile (default: `AWS_PROFILE`, then `default`).
    pub profile: Option<String>,
    /// Endpoint override for every service (emulators, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// Role assumed with the chain's credentials.
    pub role_arn: Option<String>,
}

/// Parse the AWS keys of a check; returns the spec and its printable target.
pub fn parse(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    _thresholds: super::Thresholds,
) -> Option<(AwsSpec, String)> {
    // The credentials the SDK reads from the environment are secrets for every run
    // (`config::interpolate::WELL_KNOWN_SECRETS`), whatever prints them.
    let mut ok = true;
    let region = match r.take("region") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(s) if valid_region(&s) => Some(s),
            Some(s) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid AWS region `{s}` (expected a region code such as `eu-west-1`)"
                    ),
                );
                ok = false;
                None
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let profile = take_non_empty(r, ctx, "profile", &mut ok);
    let endpoint_url = match r.take("endpoint_url") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(s) => match url::Url::parse(&s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    // A password in the endpoint (a proxy's) may echo in error messages.
                    if let Some(pw) = u.password() {
                        ctx.secrets.push(pw.to_owned());
                        ctx.secrets.push(percent_decode(pw));
                    }
                    Some(s)
                }
                Ok(u) => {
                    ctx.problem(
                        n,
                        &p,
                        format!(
                            "unsupported endpoint URL `{}` (expected http:// or https:// with a host)",
                            printable_url(&u)
                        ),
                    );
                    ok = false;
                    None
                }
                Err(e) => {
                    ctx.problem(n, &p, format!("invalid endpoint URL: {e}"));
                    ok = false;
                    None
                }
            },
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let role_arn = match r.take("role_arn") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(s) if s.starts_with("arn:") && s.contains(":role/") => Some(s),
            Some(s) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid role ARN `{s}` (expected arn:aws:iam::123456789012:role/name)"
                    ),
                );
                ok = false;
                None
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };

    let mut targets: Vec<Target> = Vec::new();
    if let Some((n, p)) = r.take("sts_identity") {
        match parse_sts(n, &p, ctx) {
            Some(t) => targets.push(t),
            None => ok = false,
        }
    }
    if let Some((n, p)) = r.take("s3_bucket") {
        match ctx.non_empty(n, &p) {
            Some(b) if valid_bucket(&b) => targets.push(Target::S3Bucket(b)),
            Some(b) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid S3 bucket name `{b}` (3-255 letters, digits, `.`, `-` or `_`; no `s3://` prefix or key)"
                    ),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some((n, p)) = r.take("rds_instance") {
        match ctx.non_empty(n, &p) {
            Some(id) if valid_rds_id(&id) => targets.push(Target::RdsInstance(id)),
            Some(id) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid DB instance identifier `{id}` (1-63 letters, digits or `-`, starting with a letter)"
                    ),
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    if let Some((n, p)) = r.take("elb_target_group") {
        match parse_elb(n, &p, ctx) {
            Some(t) => targets.push(t),
            None => ok = false,
        }
    }
    if let Some((n, p)) = r.take("ec2_instances") {
        match parse_ec2(n, &p, ctx) {
            Some(t) => targets.push(t),
            None => ok = false,
        }
    }
    let target = ctx.exactly_one(
        r,
        targets,
        ok,
        &[
            "sts_identity",
            "s3_bucket",
            "ec2_instances",
            "rds_instance",
            "elb_target_group",
        ],
    )?;
    let mut printable = match &target {
        Target::StsIdentity { account, .. } => match account {
            Some(a) => format!("sts identity (account {a})"),
            None => "sts identity".to_owned(),
        },
        Target::S3Bucket(b) => format!("s3://{b}"),
        Target::RdsInstance(id) => format!("rds instance {id}"),
        Target::ElbTargetGroup { arn, .. } => format!("target group {arn}"),
        Target::Ec2Instances {
            tags, instance_ids, ..
        } => {
            let mut parts: Vec<String> = tags.iter().map(|(k, v)| format!("tag:{k}={v}")).collect();
            parts.extend(instance_ids.iter().cloned());
            format!("ec2 instances {}", parts.join(","))
        }
    };
    if let Some(r) = &region {
        printable.push_str(&format!(" in {r}"));
    }
    if let Some(p) = &profile {
        printable.push_str(&format!(" (profile {p})"));
    }
    if let Some(role) = &role_arn {
        printable.push_str(&format!(" as {role}"));
    }
    if let Some(u) = endpoint_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    {
        printable.push_str(&format!(" via {}", printable_url(&u)));
    }
    Some((
        AwsSpec {
            target,
            client: ClientKey {
                region,
                profile,
                endpoint_url,
                role_arn,
            },
        },
        printable,
    ))
}

fn take_non_empty(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    key: &str,
    ok: &mut bool,
) -> Option<String> {
    let (n, p) = r.take(key)?;
    let v = ctx.non_empty(n, &p);
    if v.is_none() {
        *ok = false;
    }
    v
}

fn parse_sts(node: &crate::spec::yaml::Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    // `sts_identity: {}` and `sts_identity: true` both mean "credentials are valid".
    match &node.value {
        crate::spec::yaml::Value::Null | crate::spec::yaml::Value::Bool(true) => {
            return Some(Target::StsIdentity {
                account: None,
                arn_contains: None,
            });
        }
        _ => {}
    }
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let account = match sub.take("account") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => Some(a),
            Some(a) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid AWS account id `{a}` (12 digits; quote it so YAML keeps leading zeros)"
                    ),
                );
                ok = false;
                None
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let arn_contains = take_non_empty(&mut sub, ctx, "arn_contains", &mut ok);
    sub.finish(STS_KEYS, ctx.problems);
    ok.then_some(Target::StsIdentity {
        account,
        arn_contains,
    })
}

fn parse_elb(node: &crate::spec::yaml::Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let valid = |arn: &str| arn.starts_with("arn:") && arn.contains(":targetgroup/");
    let bad_arn = "invalid target group ARN (expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)";
    // A bare ARN is accepted for `{arn: …}`.
    if !matches!(node.value, crate::spec::yaml::Value::Map(_)) {
        let arn = ctx.non_empty(node, path)?;
        if !valid(&arn) {
            ctx.problem(node, path, format!("{bad_arn}: `{arn}`"));
            return None;
        }
        return Some(Target::ElbTargetGroup {
            arn,
            min_healthy: None,
        });
    }
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let arn = match sub.take("arn") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(a) if valid(&a) => Some(a),
            Some(a) => {
                ctx.problem(n, &p, format!("{bad_arn}: `{a}`"));
                None
            }
            None => None,
        },
        None => {
            ctx.problem(node, path, "missing required key `arn`");
            None
        }
    };
    let min_healthy = match sub.take("min_healthy") {
        Some((n, p)) => {
            let m = ctx.uint(n, &p, 100_000);
            ok &= m.is_some();
            m
        }
        None => None,
    };
    sub.finish(ELB_KEYS, ctx.problems);
    let arn = arn?;
    ok.then_some(Target::ElbTargetGroup { arn, min_healthy })
}

fn parse_ec2(node: &crate::spec::yaml::Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let mut tags = Vec::new();
    if let Some((n, p)) = sub.take("tag") {
        match ctx.string_map(n, &p) {
            Some(map) if map.is_empty() => {
                ctx.problem(n, &p, "must have at least one `Key: value` pair");
                ok = false;
            }
            Some(map) => {
                for (k, v, _) in map {
                    if k.trim().is_empty() {
                        ctx.problem(n, &p, "tag keys must not be empty");
                        ok = false;
                    }
                    tags.push((k, v));
                }
            }
            None => ok = false,
        }
    }
    let mut instance_ids = Vec::new();
    if let Some((n, p)) = sub.take("instance_ids") {
        match ctx.string_list(n, &p) {
            Some(ids) => {
                for id in ids {
                    if valid_instance_id(&id) {
                        instance_ids.push(id);
                    } else {
                        ctx.problem(
                            n,
                            &p,
                            format!("invalid instance id `{id}` (expected i- and hex digits)"),
                        );
                        ok = false;
                    }
                }
            }
            None => ok = false,
        }
    }
    let min_running = match sub.take("min_running") {
        Some((n, p)) => match ctx.uint(n, &p, 100_000) {
            Some(m) => Some(m),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let before = ctx.problems.list.len();
    sub.finish(EC2_KEYS, ctx.problems);
    // An unknown key (`tags:`) already explains a missing selector.
    ok &= ctx.problems.list.len() == before;
    if ok && tags.is_empty() && instance_ids.is_empty() {
        ctx.problem(
            node,
            path,
            "select instances with `tag` and/or `instance_ids`",
        );
        return None;
    }
    if !ok {
        return None;
    }
    let default_min = u64::try_from(instance_ids.len()).unwrap_or(u64::MAX).max(1);
    Some(Target::Ec2Instances {
        tags,
        instance_ids,
        min_running: min_running.unwrap_or(default_min),
    })
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-2`, …
fn valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

fn valid_bucket(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn valid_rds_id(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Shared SDK configurations, one per [`ClientKey`], built on first use with their resolved
/// credentials, and the HTTP client of the EC2 Query API calls.
#[derive(Default)]
pub struct Clients {
    configs: tokio::sync::Mutex<BTreeMap<ClientKey, Result<Resolved, Outcome>>>,
    http: tokio::sync::OnceCell<reqwest::Client>,
}

/// A loaded configuration whose credentials were resolved once.
#[derive(Clone)]
struct Resolved {
    /// The SDK configuration, with the resolved credentials as its (static) provider.
    config: SdkConfig,
    /// The region every call of this configuration goes to.
    region: String,
    /// The credentials, for signing EC2 Query API calls.
    creds: Credentials,
}

impl Resolved {
    /// Whether temporary credentials expire within a minute (then they are resolved again).
    fn expiring(&self) -> bool {
        self.creds.expiry().is_some_and(|t| {
            t.duration_since(SystemTime::now())
                .map_or(true, |left| left < Duration::from_secs(60))
        })
    }
}

impl Clients {
    /// The configuration and credentials for `key`: loaded and resolved on first use, under the
    /// lock, so concurrent checks share one resolution (and one error).
    async fn get(&self, key: &ClientKey, phase: &Phase) -> Result<Resolved, Outcome> {
        let mut map = self.configs.lock().await;
        if let Some(entry) = map.get(key)
            && !entry.as_ref().is_ok_and(Resolved::expiring)
        {
            return entry.clone();
        }
        phase.set("loading the AWS configuration");
        let entry = resolve(key, phase).await;
        map.insert(key.clone(), entry.clone());
        entry
    }

    async fn http(&self) -> Result<reqwest::Client, Outcome> {
        self.http
            .get_or_try_init(|| async {
                let tls = tls_util::client_config(None, false, rustls::DEFAULT_VERSIONS)
                    .map_err(|e| Outcome::fail(Reason::Internal, e))?;
                reqwest::Client::builder()
                    .use_preconfigured_tls(tls)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("infracheck/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| {
                        Outcome::fail(Reason::Internal, format!("cannot build HTTP client: {e}"))
                    })
            })
            .await
            .cloned()
    }
}

const CREDENTIALS_HINT: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or `profile`, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, or run where instance or container credentials are available";

/// Load the configuration through the standard chain and resolve its credentials now, so "no
/// credentials" and "no region" are FAILs that say what to set.
async fn resolve(key: &ClientKey, phase: &Phase) -> Result<Resolved, Outcome> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = &key.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(p) = &key.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &key.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let mut config = loader.load().await;
    let Some(region) = config.region().map(|r| r.as_ref().to_owned()) else {
        return Err(Outcome::fail(
            Reason::AwsCredentials,
            "no AWS region: set `region` in the check, AWS_REGION, or `region` in the profile",
        ));
    };
    if let Some(role) = &key.role_arn {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("infracheck")
            .configure(&config)
            .build()
            .await;
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    phase.set("resolving AWS credentials");
    let Some(provider) = config.credentials_provider() else {
        return Err(Outcome::fail(
            Reason::AwsCredentials,
            format!("no AWS credentials provider is configured: {CREDENTIALS_HINT}"),
        ));
    };
    let creds = provider.provide_credentials().await.map_err(|e| {
        let what = match (&e, &key.role_arn) {
            (CredentialsError::CredentialsNotLoaded(_), _) => "no AWS credentials found",
            (_, Some(_)) => "assuming the role failed",
            _ => "no usable AWS credentials",
        };
        let text = chain(&e);
        // A provider that calls an endpoint (AssumeRole, SSO) and cannot reach it: the
        // credentials may be fine, the network is not.
        if text.contains("dispatch failure: io error") || text.contains("dispatch failure: timeout")
        {
            return Outcome::fail(
                Reason::AwsUnreachable,
                format!("{what}: AWS endpoint unreachable ({text})"),
            );
        }
        Outcome::fail(
            Reason::AwsCredentials,
            format!("{what} ({text}): {CREDENTIALS_HINT}"),
        )
    })?;
    // The SDK clients sign with exactly these credentials: one resolution (one AssumeRole) per
    // configuration and run.
    let config = config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds.clone()))
        .build();
    Ok(Resolved {
        config,
        region,
        creds,
    })
}

/// An error and its sources on one line, without repeating a source already in the text.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    // The SDK's messages span lines (one per provider tried); a report line must not.
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&one_line, 600)
}

/// Error codes that mean the credentials themselves are wrong (not the permission).
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "AuthFailure",
    "InvalidAccessKeyId",
    "InvalidToken",
    "TokenRefreshRequired",
    "IncompleteSignature",
    "MissingAuthenticationToken",
];
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Forbidden",
    "AllAccessDisabled",
];

/// A service error (code, message, HTTP status) as a reason.
fn service_reason(code: Option<&str>, status: u16) -> Reason {
    match code {
        Some(c) if CREDENTIAL_CODES.contains(&c) => Reason::AwsCredentials,
        Some(c) if DENIED_CODES.contains(&c) => Reason::AwsAccessDenied,
        Some(c) if c.contains("NotFound") || c.starts_with("NoSuch") => Reason::AwsNotFound,
        _ => match status {
            401 => Reason::AwsCredentials,
            403 => Reason::AwsAccessDenied,
            404 => Reason::AwsNotFound,
            _ => Reason::AwsApi,
        },
    }
}

fn service_message(what: &str, code: Option<&str>, message: Option<&str>, status: u16) -> String {
    let mut m = format!("{what}: ");
    match (code, message) {
        (Some(c), Some(msg)) if !msg.is_empty() => {
            m.push_str(&format!("{} ({})", escape(msg, 300), escape(c, 80)));
        }
        (Some(c), _) => m.push_str(&escape(c, 80)),
        (None, Some(msg)) if !msg.is_empty() => m.push_str(&escape(msg, 300)),
        _ => m.push_str(&format!("HTTP {status}")),
    }
    if code.is_some() || message.is_some_and(|s| !s.is_empty()) {
        m.push_str(&format!(", HTTP {status}"));
    }
    m
}

/// Map an SDK error to a reason and a message.
fn sdk_error<E>(e: &SdkError<E, aws_sdk_sts::config::http::HttpResponse>, what: &str) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let err = se.err();
            Outcome::fail(
                service_reason(err.code(), status),
                service_message(what, err.code(), err.message(), status),
            )
            .with_meta("http_status", status)
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Outcome::fail(
            Reason::AwsUnreachable,
            format!("{what}: AWS endpoint unreachable: {}", chain(e)),
        ),
        SdkError::ConstructionFailure(_) => {
            // Identity resolution fails here when credentials vanish between our check and the
            // call; keep it a credentials problem when the text says so.
            let text = chain(e);
            let reason = if text.contains("credentials") || text.contains("identity") {
                Reason::AwsCredentials
            } else {
                Reason::AwsApi
            };
            Outcome::fail(reason, format!("{what}: {text}"))
        }
        other => {
            let status = other.raw_response().map(|r| r.status().as_u16());
            let mut o = Outcome::fail(Reason::AwsApi, format!("{what}: {}", chain(other)));
            if let Some(s) = status {
                o = o.with_meta("http_status", s);
            }
            o
        }
    }
}

/// Run one attempt.
pub async fn run(spec: &AwsSpec, clients: &Clients, phase: &Phase) -> Outcome {
    let start = Instant::now();
    let Resolved {
        config,
        region,
        creds,
    } = match clients.get(&spec.client, phase).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    phase.set("waiting for the AWS API");
    let outcome = match &spec.target {
        Target::StsIdentity {
            account,
            arn_contains,
        } => sts_identity(&config, account.as_deref(), arn_contains.as_deref()).await,
        Target::S3Bucket(bucket) => s3_bucket(&config, bucket).await,
        Target::Ec2Instances {
            tags,
            instance_ids,
            min_running,
        } => {
            let http = match clients.http().await {
                Ok(h) => h,
                Err(o) => return o,
            };
            let call = QueryCall {
                http: &http,
                config: &config,
                region: &region,
                creds: &creds,
            };
            ec2_instances(&call, tags, instance_ids, *min_running).await
        }
        Target::ElbTargetGroup { arn, min_healthy } => {
            let http = match clients.http().await {
                Ok(h) => h,
                Err(o) => return o,
            };
            let call = QueryCall {
                http: &http,
                config: &config,
                region: &region,
                creds: &creds,
            };
            target_health(&call, arn, *min_healthy).await
        }
        Target::RdsInstance(id) => {
            let http = match clients.http().await {
                Ok(h) => h,
                Err(o) => return o,
            };
            let call = QueryCall {
                http: &http,
                config: &config,
                region: &region,
                creds: &creds,
            };
            rds_instance(&call, id).await
        }
    };
    outcome
        .with_meta("region", region)
        .with_meta("latency_ms", millis(start.elapsed()))
}

async fn sts_identity(
    config: &SdkConfig,
    account: Option<&str>,
    arn_contains: Option<&str>,
) -> Outcome {
    let client = aws_sdk_sts::Client::new(config);
    let out = match client.get_caller_identity().send().await {
        Ok(o) => o,
        Err(e) => return sdk_error(&e, "sts:GetCallerIdentity"),
    };
    let got_account = out.account().unwrap_or_default().to_owned();
    let arn = out.arn().unwrap_or_default().to_owned();
    let mut meta = BTreeMap::new();
    meta.insert("account".to_owned(), serde_json::json!(got_account));
    meta.insert("arn".to_owned(), serde_json::json!(arn));
    if let Some(u) = out.user_id() {
        meta.insert("user_id".to_owned(), serde_json::json!(u));
    }
    let shown_arn = escape(&arn, 200);
    let outcome = if let Some(want) = account
        && want != got_account
    {
        Outcome::fail(
            Reason::AwsExpect,
            format!(
                "credentials belong to account {}, expected {want} ({shown_arn})",
                escape(&got_account, 20)
            ),
        )
    } else if let Some(part) = arn_contains
        && !arn.contains(part)
    {
        Outcome::fail(
            Reason::AwsExpect,
            format!("caller ARN {shown_arn} does not contain `{part}`"),
        )
    } else {
        Outcome::pass(format!(
            "credentials valid: {shown_arn} (account {})",
            escape(&got_account, 20)
        ))
    };
    outcome.with_metadata(meta)
}

async fn s3_bucket(config: &SdkConfig, bucket: &str) -> Outcome {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() {
        // Emulators and VPC endpoints serve buckets by path, not by virtual host name.
        builder = builder.force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(builder.build());
    let what = format!("s3:HeadBucket {bucket}");
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => {
            let mut o = Outcome::pass(format!("bucket {bucket} exists and is reachable"))
                .with_meta("bucket", bucket);
            if let Some(r) = out.bucket_region() {
                o = o.with_meta("bucket_region", r);
            }
            o
        }
        Err(SdkError::ServiceError(se)) => {
            // HEAD answers carry no error body: the status is the whole story.
            let raw = se.raw();
            let status = raw.status().as_u16();
            let bucket_region = raw.headers().get("x-amz-bucket-region").map(str::to_owned);
            let (reason, text) = match status {
                404 => (Reason::AwsNotFound, "bucket does not exist".to_owned()),
                403 => (
                    Reason::AwsAccessDenied,
                    "access denied (the bucket exists but these credentials may not read it)"
                        .to_owned(),
                ),
                301 => (
                    Reason::AwsApi,
                    format!(
                        "the bucket is in another region ({}); set `region`",
                        bucket_region.as_deref().unwrap_or("unknown")
                    ),
                ),
                400 => (
                    Reason::AwsApi,
                    "bad request (expired or malformed credentials, or a region mismatch; set `region`)"
                        .to_owned(),
                ),
                _ => {
                    let err = se.err();
                    (
                        service_reason(err.code(), status),
                        service_message("error", err.code(), err.message(), status),
                    )
                }
            };
            let mut o = Outcome::fail(reason, format!("{what}: {text} (HTTP {status})"))
                .with_meta("bucket", bucket)
                .with_meta("http_status", status);
            if let Some(r) = bucket_region {
                o = o.with_meta("bucket_region", r);
            }
            o
        }
        Err(e) => sdk_error(&e, &what).with_meta("bucket", bucket),
    }
}

/// What one Query API call (EC2, RDS, ELBv2) needs.
struct QueryCall<'a> {
    http: &'a reqwest::Client,
    config: &'a SdkConfig,
    region: &'a str,
    creds: &'a Credentials,
}

/// A Query API endpoint: the configured override, else the regional public endpoint.
fn query_endpoint(config: &SdkConfig, region: &str, prefix: &str) -> Result<url::Url, Outcome> {
    let text = match config.endpoint_url() {
        Some(u) => u.to_owned(),
        None if region.starts_with("cn-") => format!("https://{prefix}.{region}.amazonaws.com.cn/"),
        None => format!("https://{prefix}.{region}.amazonaws.com/"),
    };
    match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(Outcome::fail(
            Reason::AwsApi,
            format!(
                "invalid {prefix} endpoint URL `{}` (check AWS_ENDPOINT_URL)",
                escape(&text, 200)
            ),
        )),
    }
}

/// The form fields of one `DescribeInstances` page.
fn describe_form(
    tags: &[(String, String)],
    instance_ids: &[String],
    next_token: Option<&str>,
) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "DescribeInstances");
    form.append_pair("Version", EC2_API_VERSION);
    for (i, (k, v)) in tags.iter().enumerate() {
        let n = i + 1;
        form.append_pair(&format!("Filter.{n}.Name"), &format!("tag:{k}"));
        form.append_pair(&format!("Filter.{n}.Value.1"), v);
    }
    for (i, id) in instance_ids.iter().enumerate() {
        form.append_pair(&format!("InstanceId.{}", i + 1), id);
    }
    if instance_ids.is_empty() {
        // MaxResults cannot be combined with InstanceId.
        form.append_pair("MaxResults", "1000");
    }
    if let Some(t) = next_token {
        form.append_pair("NextToken", t);
    }
    form.finish()
}

/// POST one signed Query API request (EC2, RDS, ELBv2); returns the HTTP status and the body.
async fn query_post(
    call: &QueryCall<'_>,
    service: &str,
    what: &str,
    url: &url::Url,
    body: String,
) -> Result<(u16, String), Outcome> {
    const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
    let identity: Identity = call.creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(call.region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| {
            Outcome::fail(
                Reason::Internal,
                format!("cannot sign the EC2 request: {e}"),
            )
        })?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        [("content-type", CONTENT_TYPE)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .and_then(|req| sign(req, &params))
    .map_err(|e| {
        Outcome::fail(
            Reason::Internal,
            format!("cannot sign the EC2 request: {e}"),
        )
    })?;
    let (instructions, _signature) = signable.into_parts();
    let mut req = call
        .http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE);
    for (k, v) in instructions.headers() {
        req = req.header(k, v);
    }
    let mut resp = req.body(body).send().await.map_err(|e| {
        Outcome::fail(
            Reason::AwsUnreachable,
            format!("{what}: AWS endpoint unreachable: {}", chain(&e)),
        )
    })?;
    let status = resp.status().as_u16();
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len().saturating_add(chunk.len()) > MAX_BODY {
                    return Err(Outcome::fail(
                        Reason::AwsApi,
                        format!("{what}: response larger than {MAX_BODY} bytes"),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(Outcome::fail(
                    Reason::AwsUnreachable,
                    format!("{what}: reading the response failed: {}", chain(&e)),
                ));
            }
        }
    }
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

async fn ec2_instances(
    call: &QueryCall<'_>,
    tags: &[(String, String)],
    instance_ids: &[String],
    min_running: u64,
) -> Outcome {
    let url = match query_endpoint(call.config, call.region, "ec2") {
        Ok(u) => u,
        Err(o) => return o,
    };
    let what = "ec2:DescribeInstances";
    let mut instances: Vec<Instance> = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let body = describe_form(tags, instance_ids, next_token.as_deref());
        let (status, text) = match query_post(call, "ec2", what, &url, body).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        if status != 200 {
            return query_error(what, status, &text);
        }
        let page = match parse_describe(&text) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::fail(
                    Reason::AwsApi,
                    format!("{what}: unreadable response: {}", escape(&e, 200)),
                );
            }
        };
        instances.extend(page.instances);
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            break;
        }
    }
    if next_token.is_some() {
        return Outcome::fail(
            Reason::AwsApi,
            format!(
                "{what}: more than {MAX_PAGES} pages of instances; select fewer with `tag` or `instance_ids`"
            ),
        );
    }
    ec2_verdict(&instances, instance_ids, min_running)
}

/// A Query API error answer (`<Error><Code>…`) as an outcome.
fn query_error(what: &str, status: u16, body: &str) -> Outcome {
    let (code, message) = parse_query_error(body).unwrap_or_default();
    let code = (!code.is_empty()).then_some(code.as_str());
    let message = (!message.is_empty()).then_some(message.as_str());
    Outcome::fail(
        service_reason(code, status),
        service_message(what, code, message, status),
    )
    .with_meta("http_status", status)
}

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

async fn rds_instance(call: &QueryCall<'_>, id: &str) -> Outcome {
    let url = match query_endpoint(call.config, call.region, "rds") {
        Ok(u) => u,
        Err(o) => return o,
    };
    let what = format!("rds:DescribeDBInstances {id}");
    // Built before the await: the serializer is not `Send`.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeDBInstances")
        .append_pair("Version", RDS_API_VERSION)
        .append_pair("DBInstanceIdentifier", id)
        .finish();
    let (status, text) = match query_post(call, "rds", &what, &url, body).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    if status != 200 {
        return query_error(&what, status, &text);
    }
    let db = match parse_rds(&text) {
        Ok(Some(db)) => db,
        Ok(None) => {
            return Outcome::fail(Reason::AwsNotFound, format!("{what}: no such DB instance"));
        }
        Err(e) => {
            return Outcome::fail(
                Reason::AwsApi,
                format!("{what}: unreadable response: {}", escape(&e, 200)),
            );
        }
    };
    rds_verdict(id, &db)
}

fn rds_verdict(id: &str, db: &BTreeMap<String, String>) -> Outcome {
    let status = db
        .get("DBInstanceStatus")
        .map(String::as_str)
        .unwrap_or("unknown");
    let mut meta = BTreeMap::new();
    for (leaf, key) in [
        ("DBInstanceStatus", "db_status"),
        ("Engine", "engine"),
        ("EngineVersion", "engine_version"),
        ("DBInstanceClass", "instance_class"),
        ("MultiAZ", "multi_az"),
        ("AvailabilityZone", "availability_zone"),
    ] {
        if let Some(v) = db.get(leaf) {
            meta.insert(key.to_owned(), serde_json::json!(escape(v, 100)));
        }
    }
    let shown = escape(status, 60);
    let engine = db
        .get("Engine")
        .map(|e| format!(" ({})", escape(e, 40)))
        .unwrap_or_default();
    let outcome = if status == "available" {
        Outcome::pass(format!("DB instance {id}{engine} is available"))
    } else if RDS_SERVING.contains(&status) {
        Outcome::warn(
            Reason::AwsExpect,
            format!("DB instance {id}{engine} is `{shown}` (serving, maintenance in progress)"),
        )
    } else {
        Outcome::fail(
            Reason::AwsExpect,
            format!("DB instance {id}{engine} is `{shown}`, not available"),
        )
    };
    outcome.with_metadata(meta)
}

/// The fields of the first `DBInstance` of a `DescribeDBInstancesResponse`, or `None`.
fn parse_rds(xml: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut count = 0usize;
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeDBInstancesResponse",
        [_, result, list, db, leaf]
            if result == "DescribeDBInstancesResult"
                && list == "DBInstances"
                && db == "DBInstance"
                && count == 0 =>
        {
            fields.insert(leaf.clone(), text.to_owned());
        }
        [_, result, list, db]
            if result == "DescribeDBInstancesResult"
                && list == "DBInstances"
                && db == "DBInstance" =>
        {
            count += 1;
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeDBInstancesResponse".to_owned());
    }
    Ok((count > 0).then_some(fields))
}

/// One registered target and its health.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct TargetHealth {
    id: String,
    port: String,
    state: String,
    reason: String,
}

async fn target_health(call: &QueryCall<'_>, arn: &str, min_healthy: Option<u64>) -> Outcome {
    let url = match query_endpoint(call.config, call.region, "elasticloadbalancing") {
        Ok(u) => u,
        Err(o) => return o,
    };
    let what = "elasticloadbalancing:DescribeTargetHealth";
    // Built before the await: the serializer is not `Send`.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeTargetHealth")
        .append_pair("Version", ELB_API_VERSION)
        .append_pair("TargetGroupArn", arn)
        .finish();
    let (status, text) = match query_post(call, "elasticloadbalancing", what, &url, body).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    if status != 200 {
        return query_error(what, status, &text);
    }
    match parse_target_health(&text) {
        Ok(targets) => target_verdict(&targets, min_healthy),
        Err(e) => Outcome::fail(
            Reason::AwsApi,
            format!("{what}: unreadable response: {}", escape(&e, 200)),
        ),
    }
}

fn target_verdict(targets: &[TargetHealth], min_healthy: Option<u64>) -> Outcome {
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut unhealthy: Vec<String> = Vec::new();
    for t in targets {
        *states.entry(t.state.clone()).or_insert(0) += 1;
        if t.state != "healthy" {
            let mut line = escape(&t.id, 80);
            if !t.port.is_empty() {
                line.push(':');
                line.push_str(&escape(&t.port, 6));
            }
            line.push_str(&format!(" ({}", escape(&t.state, 30)));
            if !t.reason.is_empty() {
                line.push_str(&format!(": {}", escape(&t.reason, 60)));
            }
            line.push(')');
            unhealthy.push(line);
        }
    }
    let total = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    let healthy = states.get("healthy").copied().unwrap_or(0);
    let need = min_healthy.unwrap_or(total).max(1);
    let mut meta = BTreeMap::new();
    meta.insert("targets".to_owned(), serde_json::json!(total));
    meta.insert("healthy".to_owned(), serde_json::json!(healthy));
    meta.insert("states".to_owned(), serde_json::json!(states));
    if !unhealthy.is_empty() {
        meta.insert(
            "unhealthy".to_owned(),
            serde_json::json!(unhealthy.iter().take(MAX_NAMES).collect::<Vec<_>>()),
        );
    }
    let summary = format!("{healthy}/{total} targets healthy");
    let outcome = if total == 0 {
        Outcome::fail(
            Reason::AwsExpect,
            "no targets registered in the target group",
        )
    } else if healthy < need {
        let mut m = summary;
        if let Some(min) = min_healthy {
            m.push_str(&format!(" (min_healthy {min})"));
        }
        let list: Vec<&str> = unhealthy
            .iter()
            .take(MAX_NAMES)
            .map(String::as_str)
            .collect();
        if !list.is_empty() {
            m.push_str(&format!("; not healthy: {}", list.join(", ")));
        }
        Outcome::fail(Reason::AwsExpect, m)
    } else {
        Outcome::pass(summary)
    };
    outcome.with_metadata(meta)
}

/// Parse a `DescribeTargetHealthResponse`.
fn parse_target_health(xml: &str) -> Result<Vec<TargetHealth>, String> {
    let mut out = Vec::new();
    let mut current = TargetHealth::default();
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeTargetHealthResponse",
        [_, _, list, member, group, leaf]
            if list == "TargetHealthDescriptions" && member == "member" =>
        {
            match (group.as_str(), leaf.as_str()) {
                ("Target", "Id") => current.id = text.to_owned(),
                ("Target", "Port") => current.port = text.to_owned(),
                ("TargetHealth", "State") => current.state = text.to_owned(),
                ("TargetHealth", "Reason") => current.reason = text.to_owned(),
                _ => {}
            }
        }
        [_, _, list, member] if list == "TargetHealthDescriptions" && member == "member" => {
            out.push(std::mem::take(&mut current));
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeTargetHealthResponse".to_owned());
    }
    Ok(out)
}

fn ec2_verdict(instances: &[Instance], instance_ids: &[String], min_running: u64) -> Outcome {
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut not_running: Vec<String> = Vec::new();
    for i in instances {
        *states.entry(i.state.clone()).or_insert(0) += 1;
        if i.state != "running" {
            not_running.push(format!("{} ({})", escape(&i.id, 40), escape(&i.state, 30)));
        }
    }
    let total = u64::try_from(instances.len()).unwrap_or(u64::MAX);
    let running = states.get("running").copied().unwrap_or(0);
    let missing: Vec<&String> = instance_ids
        .iter()
        .filter(|id| !instances.iter().any(|i| &&i.id == id))
        .collect();
    let mut meta = BTreeMap::new();
    meta.insert("instances".to_owned(), serde_json::json!(total));
    meta.insert("running".to_owned(), serde_json::json!(running));
    meta.insert("states".to_owned(), serde_json::json!(states));
    meta.insert("min_running".to_owned(), serde_json::json!(min_running));
    if !not_running.is_empty() {
        meta.insert(
            "not_running".to_owned(),
            serde_json::json!(not_running.iter().take(MAX_NAMES).collect::<Vec<_>>()),
        );
    }
    let counts = states
        .iter()
        .map(|(s, n)| format!("{n} {}", escape(s, 30)))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = if total == 0 {
        "no matching instances".to_owned()
    } else {
        format!("{running}/{total} instances running ({counts})")
    };
    let outcome = if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().take(MAX_NAMES).map(|s| s.as_str()).collect();
        Outcome::fail(
            Reason::AwsNotFound,
            format!("instances not found: {}; {summary}", list.join(", ")),
        )
    } else if running < min_running {
        let mut m = format!("{summary}; min_running {min_running}");
        if !not_running.is_empty() {
            let list: Vec<&str> = not_running
                .iter()
                .take(MAX_NAMES)
                .map(String::as_str)
                .collect();
            m.push_str(&format!("; not running: {}", list.join(", ")));
        }
        Outcome::fail(Reason::AwsExpect, m)
    } else {
        Outcome::pass(summary)
    };
    outcome.with_metadata(meta)
}

/// One instance of a `DescribeInstances` answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Instance {
    id: String,
    state: String,
}

/// One `DescribeInstances` page.
#[derive(Debug, Default, PartialEq, Eq)]
struct Page {
    instances: Vec<Instance>,
    next_token: Option<String>,
}

/// Walk an XML document, calling `on_end(path, text)` at every closing element with the local
/// names from the root and the element's own text.
fn walk_xml(xml: &str, mut on_end: impl FnMut(&[String], &str)) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if stack.len() > 64 {
                    return Err("XML nested too deeply".to_owned());
                }
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
            }
            Ok(Event::Empty(e)) => {
                stack.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                on_end(&stack, "");
                stack.pop();
                text.clear();
            }
            Ok(Event::Text(t)) => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Ok(Event::CData(t)) => {
                text.push_str(&t.decode().map_err(|e| e.to_string())?);
            }
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "lt" => text.push('<'),
                        "gt" => text.push('>'),
                        "amp" => text.push('&'),
                        "quot" => text.push('"'),
                        "apos" => text.push('\''),
                        _ => {}
                    }
                }
            }
            Ok(Event::End(_)) => {
                on_end(&stack, text.trim());
                stack.pop();
                text.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "invalid XML at byte {}: {e}",
                    reader.buffer_position()
                ));
            }
        }
    }
    Ok(())
}

/// Parse a `DescribeInstancesResponse`.
fn parse_describe(xml: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut current = Instance::default();
    let mut root_seen = false;
    walk_xml(xml, |path, text| match path {
        [root] => root_seen = root == "DescribeInstancesResponse",
        [_, t] if t == "nextToken" => page.next_token = Some(text.to_owned()),
        [_, rs, _, set, _, id]
            if rs == "reservationSet" && set == "instancesSet" && id == "instanceId" =>
        {
            current.id = text.to_owned();
        }
        [_, rs, _, set, _, st, name]
            if rs == "reservationSet"
                && set == "instancesSet"
                && st == "instanceState"
                && name == "name" =>
        {
            current.state = text.to_owned();
        }
        [_, rs, _, set, item]
            if rs == "reservationSet" && set == "instancesSet" && item == "item" =>
        {
            page.instances.push(std::mem::take(&mut current));
        }
        _ => {}
    })?;
    if !root_seen {
        return Err("not a DescribeInstancesResponse".to_owned());
    }
    Ok(page)
}

/// The first `<Error><Code>` and `<Message>` of an EC2 error response.
fn parse_query_error(xml: &str) -> Option<(String, String)> {
    let mut code: Option<String> = None;
    let mut message: Option<String> = None;
    walk_xml(xml, |path, text| {
        if let [.., e, leaf] = path
            && e == "Error"
        {
            if leaf == "Code" && code.is_none() {
                code = Some(text.to_owned());
            } else if leaf == "Message" && message.is_none() {
                message = Some(text.to_owned());
            }
        }
    })
    .ok()?;
    code.map(|c| (c, message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text as a report shows it: the deferred cuts carried out.
    fn shown(v: impl std::fmt::Display) -> String {
        let text = v.to_string();
        crate::redact::Redactor::default().text(text.trim_matches('"'))
    }

    #[test]
    fn nested_schema_fields_match_their_keys() {
        let keys = |f: &[Field]| f.iter().map(|f| f.key).collect::<Vec<_>>();
        assert_eq!(keys(STS_FIELDS), STS_KEYS);
        assert_eq!(keys(EC2_FIELDS), EC2_KEYS);
        assert_eq!(keys(ELB_FIELDS), ELB_KEYS);
    }

    #[test]
    fn regions() {
        for ok in [
            "eu-west-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-2",
            "us-isob-east-1",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "eu-west",
            "EU-WEST-1",
            "eu_west_1",
            "europe-1",
            "eu--1",
            "",
            "eu-west-123",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn instance_ids_and_buckets() {
        assert!(valid_instance_id("i-0123456789abcdef0"));
        assert!(valid_instance_id("i-12345678"));
        assert!(!valid_instance_id("i-xyz"));
        assert!(!valid_instance_id("0123456789"));
        assert!(valid_bucket("my-artifacts"));
        assert!(!valid_bucket("s3://my-artifacts"));
        assert!(!valid_bucket("ab"));
    }

    #[test]
    fn form_encodes_filters_ids_and_token() {
        let f = describe_form(&[("Name".into(), "web server".into())], &[], Some("t/1"));
        assert_eq!(
            f,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=web+server&MaxResults=1000&NextToken=t%2F1"
        );
        let f = describe_form(&[], &["i-12345678".into()], None);
        assert!(f.ends_with("InstanceId.1=i-12345678"), "{f}");
    }

    const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1</reservationId>
      <instancesSet>
        <item>
          <instanceId>i-00000001</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <tagSet><item><key>Name</key><value>web</value></item></tagSet>
          <groupSet><item><groupId>sg-1</groupId></item></groupSet>
        </item>
        <item>
          <instanceId>i-00000002</instanceId>
          <instanceState><code>80</code><name>stopped</name></instanceState>
          <stateReason><code>x</code><message>a &amp; b</message></stateReason>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>abc</nextToken>
</DescribeInstancesResponse>"#;

    #[test]
    fn parses_describe_instances() {
        let page = parse_describe(DESCRIBE).unwrap();
        assert_eq!(
            page.instances,
            vec![
                Instance {
                    id: "i-00000001".into(),
                    state: "running".into()
                },
                Instance {
                    id: "i-00000002".into(),
                    state: "stopped".into()
                },
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("abc"));
        assert!(parse_describe("<Other/>").is_err());
        assert!(parse_describe("<a><b></a>").is_err());
        assert!(parse_describe("").is_err());
    }

    #[test]
    fn parses_errors() {
        let xml = r#"<?xml version="1.0"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized &lt;x&gt;</Message></Error></Errors><RequestID>1</RequestID></Response>"#;
        assert_eq!(
            parse_query_error(xml),
            Some((
                "UnauthorizedOperation".into(),
                "You are not authorized <x>".into()
            ))
        );
        assert_eq!(parse_query_error("not xml <"), None);
        assert_eq!(
            service_reason(Some("UnauthorizedOperation"), 403),
            Reason::AwsAccessDenied
        );
        assert_eq!(
            service_reason(Some("AuthFailure"), 401),
            Reason::AwsCredentials
        );
        assert_eq!(
            service_reason(Some("InvalidInstanceID.NotFound"), 400),
            Reason::AwsNotFound
        );
        assert_eq!(service_reason(None, 500), Reason::AwsApi);
    }

    #[test]
    fn parses_rds() {
        let xml = r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult><DBInstances><DBInstance>
    <DBInstanceIdentifier>orders</DBInstanceIdentifier><DBInstanceStatus>stopped</DBInstanceStatus>
    <Engine>postgres</Engine><MultiAZ>false</MultiAZ>
    <VpcSecurityGroups><VpcSecurityGroupMembership><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>
  </DBInstance></DBInstances></DescribeDBInstancesResult>
</DescribeDBInstancesResponse>"#;
        let db = parse_rds(xml).unwrap().unwrap();
        assert_eq!(db["DBInstanceStatus"], "stopped");
        let o = rds_verdict("orders", &db);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert_eq!(shown(&o.metadata["engine"]), "postgres");
        let empty = "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances/></DescribeDBInstancesResult></DescribeDBInstancesResponse>";
        assert_eq!(parse_rds(empty).unwrap(), None);
        assert!(valid_rds_id("orders-db-1"));
        assert!(!valid_rds_id("1orders"));
        assert!(!valid_rds_id("orders_db"));
    }

    #[test]
    fn parses_target_health() {
        let xml = r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult><TargetHealthDescriptions>
    <member><Target><Id>i-1</Id><Port>80</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>
    <member><Target><Id>i-2</Id><Port>80</Port></Target><HealthCheckPort>80</HealthCheckPort>
      <TargetHealth><State>unhealthy</State><Reason>Target.Timeout</Reason></TargetHealth></member>
  </TargetHealthDescriptions></DescribeTargetHealthResult>
</DescribeTargetHealthResponse>"#;
        let t = parse_target_health(xml).unwrap();
        assert_eq!(t.len(), 2);
        let o = target_verdict(&t, None);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("i-2:80 (unhealthy: Target.Timeout)"),
            "{}",
            o.message
        );
        assert_eq!(
            target_verdict(&t, Some(1)).status,
            crate::model::Status::Pass
        );
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
        assert_eq!(o.status, crate::model::Status::Pass, "{}", o.message);
        assert_eq!(
            o.metadata["states"],
            serde_json::json!({"running": 2, "stopped": 1})
        );
        let o = ec2_verdict(&list, &[], 3);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
        assert!(
            shown(&o.message).contains("not running: i-3 (stopped)"),
            "{}",
            o.message
        );
        let o = ec2_verdict(&list, &["i-9".into()], 1);
        assert_eq!(o.reason, Some(Reason::AwsNotFound));
        let o = ec2_verdict(&[], &[], 1);
        assert_eq!(o.reason, Some(Reason::AwsExpect));
    }
}
