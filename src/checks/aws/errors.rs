//! AWS errors as outcomes: an error code and HTTP status as a reason (`aws.credentials`,
//! `aws.access_denied`, `aws.not_found`, `aws.api`), SDK errors, Query API error answers and
//! error chains on one line.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use super::xml::parse_query_error;
use crate::checks::common::escape;
use crate::model::{Outcome, Reason, Text};
use crate::text;

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
/// Error codes that mean the credentials are valid but may not make the call.
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Forbidden",
    "AllAccessDisabled",
];

/// A service error (code, HTTP status) as a reason.
pub(crate) fn service_reason(code: Option<&str>, status: u16) -> Reason {
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

/// `what: message (code), HTTP status`, with whichever parts the answer had.
pub(crate) fn service_message(
    what: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
) -> Text {
    let mut m = Text::from(format!("{what}: "));
    match (code, message) {
        (Some(c), Some(msg)) if !msg.is_empty() => {
            m.push(text!(escape(msg, 300), " (", escape(c, 80), ")"));
        }
        (Some(c), _) => m.push(escape(c, 80)),
        (None, Some(msg)) if !msg.is_empty() => m.push(escape(msg, 300)),
        _ => m.push_str(&format!("HTTP {status}")),
    }
    if code.is_some() || message.is_some_and(|s| !s.is_empty()) {
        m.push_str(&format!(", HTTP {status}"));
    }
    m
}

/// A Query API error answer (`<Error><Code>…`) as an outcome.
pub(crate) fn query_error(what: &str, status: u16, body: &str) -> Outcome {
    let (code, message) = parse_query_error(body).unwrap_or_default();
    let code = (!code.is_empty()).then_some(code.as_str());
    let message = (!message.is_empty()).then_some(message.as_str());
    Outcome::fail(
        service_reason(code, status),
        service_message(what, code, message, status),
    )
    .with_meta("http_status", status)
}

/// An SDK error (STS, S3) as an outcome.
pub(crate) fn sdk_error<E>(
    e: &SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
    what: &str,
) -> Outcome
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
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            // The innermost cause on the report line, the whole chain in `detail`.
            let text = chain(e);
            Outcome::fail(
                Reason::AwsUnreachable,
                format!(
                    "{what}: AWS endpoint unreachable: {}",
                    crate::checks::common::short_message(Reason::AwsUnreachable, &text)
                ),
            )
            .with_detail(text!("{what}: AWS endpoint unreachable: ", text))
        }
        SdkError::ConstructionFailure(_) => {
            // Identity resolution fails here when credentials vanish between our check and the
            // call; keep it a credentials problem when the text says so.
            let text = chain(e);
            let reason = if text.contains("credentials") || text.contains("identity") {
                Reason::AwsCredentials
            } else {
                Reason::AwsApi
            };
            Outcome::fail(reason, text!("{what}: ", text))
        }
        other => {
            let status = other.raw_response().map(|r| r.status().as_u16());
            let mut o = Outcome::fail(Reason::AwsApi, text!("{what}: ", chain(other)));
            if let Some(s) = status {
                o = o.with_meta("http_status", s);
            }
            o
        }
    }
}

/// An error and its sources on one line, without repeating a source already in the text.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> Text {
    let text = crate::checks::common::error_chain(e);
    // The SDK's messages span lines (one per provider tried); a report line must not.
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    escape(&one_line, 600)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text as a report shows it: the deferred cuts carried out.
    fn shown(text: &str) -> String {
        crate::redact::Redactor::default().text(text)
    }

    #[test]
    fn codes_and_statuses_to_reasons() {
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
        assert_eq!(
            service_reason(Some("NoSuchBucket"), 400),
            Reason::AwsNotFound
        );
        assert_eq!(service_reason(None, 401), Reason::AwsCredentials);
        assert_eq!(service_reason(None, 500), Reason::AwsApi);
    }

    #[test]
    fn query_error_answers() {
        let xml = r#"<Response><Errors><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></Errors></Response>"#;
        let o = query_error("ec2:DescribeInstances", 400, xml);
        assert_eq!(o.reason, Some(Reason::AwsApi));
        assert_eq!(
            shown(&o.message),
            "ec2:DescribeInstances: Rate exceeded (Throttling), HTTP 400"
        );
        assert_eq!(o.metadata["http_status"], 400);
        let o = query_error("ec2:DescribeInstances", 503, "<html>");
        assert_eq!(o.message, "ec2:DescribeInstances: HTTP 503");
    }
}
