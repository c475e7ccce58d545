//! `aws_checks`: STS caller identity, S3 bucket reachability, EC2 running-instance counts, RDS
//! instance availability and ELBv2 target health.
//!
//! Credentials and region come from the official `aws-config` chain (environment, profile,
//! SSO, web identity, ECS, IMDS), built on first use per (`region`, `profile`,
//! `endpoint_url`, `role_arn`) and shared by the run, so `validate` never touches AWS. STS and
//! S3 use the SDK crates; EC2, RDS and ELBv2 are signed Query API calls through reqwest,
//! `aws-sigv4` and `quick-xml` because `aws-sdk-ec2` alone costs minutes of compile time
//! (`docs/design.md`). No credentials is a FAIL (`aws.credentials`), never a PASS.
//!
//! One file per job: `spec` reads the config keys, `clients` loads and caches the SDK
//! configuration and credentials, `query` signs and sends Query API calls, `xml` reads their
//! answers, `errors` turns AWS errors into outcomes, `judge` turns observed facts into a verdict
//! (pure) and `run` gathers the facts of each target.

mod clients;
mod errors;
mod facts;
mod judge;
mod query;
mod reasons;
mod run;
mod spec;
mod xml;

pub use clients::Clients;
pub use run::run;

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
