//! The reason codes only `aws` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `aws` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    AwsCredentials = 730 => "aws.credentials", Error, "No usable AWS credentials",
        "The credential chain (environment, profile, SSO, web identity, container, IMDS) found no credentials, or AWS rejected them as invalid or expired; also used when no region is set. The message says what to set.";
    AwsAccessDenied = 740 => "aws.access_denied", Failure, "AWS denied the request",
        "The credentials are valid but may not perform the call (AccessDenied, UnauthorizedOperation, HTTP 403).";
    AwsNotFound = 750 => "aws.not_found", Failure, "The AWS resource does not exist",
        "The S3 bucket or an EC2 instance id was not found (NoSuchBucket, HTTP 404, InvalidInstanceID.NotFound).";
    AwsExpect = 760 => "aws.expect", Failure, "The AWS resource did not meet the expectation",
        "The caller account differs from `account`, the ARN lacks `arn_contains`, or fewer EC2 instances run than `min_running`; or a condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN).";
    AwsApi = 770 => "aws.api", Error, "The AWS API returned an unexpected error",
        "An error other than credentials, access or not-found (throttling, a bucket in another region, an unreadable answer).";
    AwsUnreachable = 780 => "aws.unreachable", Error, "The AWS endpoint could not be reached",
        "Connecting to the AWS (or `endpoint_url`) endpoint failed or timed out inside the SDK.";
    AwsLatency = 790 => "aws.latency", Failure, "The AWS API answered slowly",
        "The API call(s) of the check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
}
