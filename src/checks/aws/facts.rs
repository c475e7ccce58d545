//! What an AWS check gathers from the APIs: the caller identity, the bucket's answer, instance
//! states and target health. The clients and [`super::xml`] produce them; [`super::judge`]
//! turns them into a verdict.

/// What `sts:GetCallerIdentity` answered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The account id of the credentials.
    pub account: String,
    /// The caller ARN (user, role or assumed-role session).
    pub arn: String,
    /// The unique id of the caller, when given.
    pub user_id: Option<String>,
}

/// What `s3:HeadBucket` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BucketAnswer {
    /// A success: the bucket exists and may be read.
    Found {
        /// The bucket's region, when the answer named it.
        region: Option<String>,
    },
    /// An error status (HEAD answers carry no body: the status is the whole story).
    Refused {
        /// The HTTP status.
        status: u16,
        /// `x-amz-bucket-region`, when present.
        region: Option<String>,
        /// The error code the SDK read, if any.
        code: Option<String>,
        /// The error message the SDK read, if any.
        message: Option<String>,
    },
}

/// One instance of a `DescribeInstances` answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// The instance id.
    pub id: String,
    /// Its state name (`running`, `stopped`, …).
    pub state: String,
}

/// One registered target and its health.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TargetHealth {
    /// The target id (instance id, IP address or Lambda ARN).
    pub id: String,
    /// Its port, when given.
    pub port: String,
    /// Its health state (`healthy`, `unhealthy`, `unused`, …).
    pub state: String,
    /// The reason code of a state other than `healthy`, when given.
    pub reason: String,
}
