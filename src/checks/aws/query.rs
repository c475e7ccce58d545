//! The signed Query API client of EC2, RDS and ELBv2: form bodies, the endpoint of a service,
//! SigV4 signing with the resolved credentials, and a POST whose answer is read up to a cap.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::errors::chain;
use crate::checks::common::{capped, escape};
use crate::model::{Outcome, Reason};

/// Largest Query API response read (bytes); a bigger one is an `aws.api` failure, not an
/// allocation.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// The RDS Query API version `DescribeDBInstances` is called with.
const RDS_API_VERSION: &str = "2014-10-31";
/// The ELBv2 Query API version `DescribeTargetHealth` is called with.
const ELB_API_VERSION: &str = "2015-12-01";
/// The EC2 Query API version `DescribeInstances` is called with.
const EC2_API_VERSION: &str = "2016-11-15";
/// The content type of every Query API request.
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// What one Query API call (EC2, RDS, ELBv2) needs.
pub(crate) struct QueryCall<'a> {
    /// The shared HTTP client.
    pub http: &'a reqwest::Client,
    /// The SDK configuration (for its endpoint override).
    pub config: &'a SdkConfig,
    /// The region the request is signed for.
    pub region: &'a str,
    /// The credentials the request is signed with.
    pub creds: &'a Credentials,
}

/// A Query API endpoint: the configured override, else the regional public endpoint.
pub(crate) fn endpoint(
    config: &SdkConfig,
    region: &str,
    prefix: &str,
) -> Result<url::Url, Outcome> {
    let text = match config.endpoint_url() {
        Some(u) => u.to_owned(),
        None if region.starts_with("cn-") => format!("https://{prefix}.{region}.amazonaws.com.cn/"),
        None => format!("https://{prefix}.{region}.amazonaws.com/"),
    };
    match url::Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(Outcome::fail(
            Reason::AwsApi,
            crate::text!(
                "invalid {prefix} endpoint URL `",
                escape(&text, 200),
                "` (check AWS_ENDPOINT_URL)"
            ),
        )),
    }
}

/// The form fields of one `DescribeInstances` page.
pub(crate) fn describe_form(
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

/// The form of `DescribeDBInstances` for one identifier.
pub(crate) fn rds_form(id: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeDBInstances")
        .append_pair("Version", RDS_API_VERSION)
        .append_pair("DBInstanceIdentifier", id)
        .finish()
}

/// The form of `DescribeTargetHealth` for one target group.
pub(crate) fn target_health_form(arn: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "DescribeTargetHealth")
        .append_pair("Version", ELB_API_VERSION)
        .append_pair("TargetGroupArn", arn)
        .finish()
}

/// The SigV4 headers of a POST of `body` to `url` for `service`.
fn signed_headers(
    call: &QueryCall<'_>,
    service: &str,
    url: &url::Url,
    body: &str,
) -> Result<Vec<(String, String)>, Outcome> {
    let cannot_sign = |e: &dyn std::fmt::Display| {
        Outcome::fail(
            Reason::Internal,
            format!("cannot sign the EC2 request: {e}"),
        )
    };
    let identity: Identity = call.creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(call.region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| cannot_sign(&e))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        [("content-type", CONTENT_TYPE)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .and_then(|req| sign(req, &params))
    .map_err(|e| cannot_sign(&e))?;
    let (instructions, _signature) = signable.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// POST one signed Query API request (EC2, RDS, ELBv2); returns the HTTP status and the body.
pub(crate) async fn post(
    call: &QueryCall<'_>,
    service: &str,
    what: &str,
    url: &url::Url,
    body: String,
) -> Result<(u16, String), Outcome> {
    let mut req = call
        .http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE);
    for (k, v) in signed_headers(call, service, url, &body)? {
        req = req.header(k, v);
    }
    let resp = req.body(body).send().await.map_err(|e| {
        Outcome::fail(
            Reason::AwsUnreachable,
            crate::text!("{what}: AWS endpoint unreachable: ", chain(&e)),
        )
    })?;
    let status = resp.status().as_u16();
    let bytes = read_capped(resp, what).await?;
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// The body of `resp`, at most [`MAX_BODY`] bytes (read through the shared capped reader).
async fn read_capped(resp: reqwest::Response, what: &str) -> Result<Vec<u8>, Outcome> {
    match capped::body(resp, MAX_BODY).await {
        Ok(body) if body.truncated() => Err(Outcome::fail(
            Reason::AwsApi,
            format!("{what}: response larger than {MAX_BODY} bytes"),
        )),
        Ok(body) => Ok(body.kept),
        Err(e) => Err(Outcome::fail(
            Reason::AwsUnreachable,
            crate::text!("{what}: reading the response failed: ", chain(&e)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes_filters_ids_and_token() {
        let f = describe_form(&[("Name".into(), "web server".into())], &[], Some("t/1"));
        assert_eq!(
            f,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=web+server&MaxResults=1000&NextToken=t%2F1"
        );
        let f = describe_form(&[], &["i-12345678".into()], None);
        assert!(f.ends_with("InstanceId.1=i-12345678"), "{f}");
        assert!(!f.contains("MaxResults"), "{f}");
    }

    #[test]
    fn rds_and_elb_forms() {
        assert_eq!(
            rds_form("orders-1"),
            "Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier=orders-1"
        );
        assert_eq!(
            target_health_form("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/w/0"),
            "Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3Aeu-west-1%3A1%3Atargetgroup%2Fw%2F0"
        );
    }

    #[test]
    fn public_and_overridden_endpoints() {
        let plain = SdkConfig::builder().build();
        let u = endpoint(&plain, "eu-west-1", "ec2").unwrap();
        assert_eq!(u.as_str(), "https://ec2.eu-west-1.amazonaws.com/");
        let u = endpoint(&plain, "cn-north-1", "rds").unwrap();
        assert_eq!(u.as_str(), "https://rds.cn-north-1.amazonaws.com.cn/");
        let local = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        let u = endpoint(&local, "eu-west-1", "ec2").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:5000/");
        let bad = SdkConfig::builder().endpoint_url("file:///x").build();
        let o = endpoint(&bad, "eu-west-1", "ec2").unwrap_err();
        assert_eq!(o.reason, Some(Reason::AwsApi));
    }
}
