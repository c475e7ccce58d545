//! The verdict of `grpc_checks`, kept pure: what `Health/Check` answered (or the gRPC error
//! it returned) against `expected`, and the latency.

use std::collections::BTreeMap;
use std::time::Duration;

use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

use super::GrpcSpec;
use crate::checks::Thresholds;
use crate::checks::common::{TextProblem, escape, latency_problem, millis, text_problem, verdict};
use crate::model::{Outcome, Reason, Status, Text};
use crate::text;

/// What the health call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Observed {
    /// A response with this `ServingStatus` value (an unknown value stays a number).
    Serving(i32),
    /// A gRPC error status, with the server's message.
    Error(Code, String),
}

/// The canonical name of a gRPC status code (`NOT_FOUND`), as the gRPC docs spell it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The printable name of a `ServingStatus` value (`7` for one this version does not know).
fn status_name(value: i32) -> String {
    ServingStatus::try_from(value)
        .map_or_else(|_| value.to_string(), |s| s.as_str_name().to_owned())
}

/// The verdict: what was observed against `expected`, plus the latency thresholds.
pub(super) fn judge(
    spec: &GrpcSpec,
    observed: &Observed,
    elapsed: Duration,
    thresholds: Thresholds,
) -> Outcome {
    let what = if spec.service.is_empty() {
        "the server".into()
    } else {
        text!("service `", escape(&spec.service, 100), "`")
    };
    let want = spec.expected.as_str_name();
    let mut meta = BTreeMap::new();
    meta.insert("latency_ms".to_owned(), serde_json::json!(millis(elapsed)));
    // NOT_FOUND is how `Check` says SERVICE_UNKNOWN (only `Watch` sends the enum value).
    let status = match observed {
        Observed::Serving(v) => Some(*v),
        Observed::Error(Code::NotFound, _) => Some(ServingStatus::ServiceUnknown as i32),
        Observed::Error(..) => None,
    };
    if let Observed::Error(code, _) = observed {
        meta.insert("grpc_code".to_owned(), serde_json::json!(code_name(*code)));
    }
    let mut problems: Vec<TextProblem> = Vec::new();
    // `grpc.status` of `expect:` conditions: the serving status, or the gRPC error code.
    let mut facts = crate::model::Facts::new();
    facts.duration("latency", elapsed);
    match (status, observed) {
        (Some(v), _) => facts.value("grpc.status", status_name(v)),
        (None, Observed::Error(code, _)) => facts.value("grpc.status", code_name(*code)),
        (None, Observed::Serving(_)) => {}
    }
    match (status, observed) {
        (Some(v), _) => {
            let name = status_name(v);
            meta.insert("status".to_owned(), serde_json::json!(name));
            if v != spec.expected as i32 {
                let reason = match ServingStatus::try_from(v) {
                    Ok(ServingStatus::Serving) => Reason::GrpcStatus,
                    Ok(ServingStatus::NotServing) => Reason::GrpcNotServing,
                    Ok(ServingStatus::ServiceUnknown) => Reason::GrpcUnknownService,
                    Ok(ServingStatus::Unknown) | Err(_) => Reason::GrpcUnknown,
                };
                let detail = if matches!(observed, Observed::Error(Code::NotFound, _)) {
                    text!(&what, " is unknown to the health service (NOT_FOUND)")
                } else {
                    text!(&what, " is {name}")
                };
                problems.push((Status::Fail, reason, text!(detail, ", expected {want}")));
            }
        }
        (None, Observed::Error(Code::Unimplemented, _)) => problems.push((
            Status::Fail,
            Reason::GrpcUnimplemented,
            "the server has no health service: grpc.health.v1.Health/Check answered UNIMPLEMENTED"
                .into(),
        )),
        (None, Observed::Error(Code::DeadlineExceeded, m)) => problems.push((
            Status::Fail,
            Reason::Timeout,
            text!("Health/Check answered DEADLINE_EXCEEDED", server_message(m)),
        )),
        (None, Observed::Error(code, m)) => problems.push((
            Status::Fail,
            Reason::GrpcError,
            text!(
                format!("Health/Check answered {}", code_name(*code)),
                server_message(m)
            ),
        )),
        (None, Observed::Serving(_)) => {}
    }
    if let Some(p) = latency_problem(elapsed, thresholds, Reason::GrpcLatency) {
        problems.push(text_problem(p));
    }
    let ok = if spec.expected == ServingStatus::Serving {
        text!(what, format!(" is SERVING ({} ms)", elapsed.as_millis()))
    } else {
        text!(
            what,
            format!(" is {want}, as expected ({} ms)", elapsed.as_millis())
        )
    };
    verdict(problems, ok).with_metadata(meta).with_facts(facts)
}

/// `: <message>` for a server's status message (untrusted: escaped and cut), or nothing.
fn server_message(m: &str) -> Text {
    if m.trim().is_empty() {
        Text::new()
    } else {
        text!(": ", escape(m.trim(), 300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn spec(service: &str, expected: ServingStatus) -> GrpcSpec {
        GrpcSpec {
            host: "127.0.0.1".into(),
            port: 50051,
            service: service.into(),
            tls: None,
            headers: HeaderMap::new(),
            expected,
        }
    }

    /// The verdict with a `warn_latency` of 500ms.
    fn judge(spec: &GrpcSpec, observed: &Observed, elapsed: Duration) -> Outcome {
        let thresholds = Thresholds {
            warn_latency: Some(Duration::from_millis(500)),
            fail_latency: None,
        };
        super::judge(spec, observed, elapsed, thresholds)
    }

    fn reason(o: &Outcome) -> Option<&'static str> {
        o.reason.map(Reason::code)
    }

    /// A message as reports show it: the redactor carries out the cuts checks only mark.
    fn shown(message: &str) -> String {
        crate::redact::Redactor::default().text(message)
    }

    #[test]
    fn serving_statuses_against_expected() {
        let ms = Duration::from_millis(3);
        let s = spec("svc", ServingStatus::Serving);
        let ok = judge(&s, &Observed::Serving(1), ms);
        assert_eq!(ok.status, Status::Pass);
        assert_eq!(ok.metadata["status"], "SERVING");
        assert!(
            shown(&ok.message).contains("service `svc` is SERVING"),
            "{}",
            ok.message
        );
        let cases = [
            (Observed::Serving(2), "grpc.not_serving", "NOT_SERVING"),
            (Observed::Serving(0), "grpc.unknown", "UNKNOWN"),
            (
                Observed::Serving(3),
                "grpc.unknown_service",
                "SERVICE_UNKNOWN",
            ),
            (Observed::Serving(9), "grpc.unknown", "9"),
            (
                Observed::Error(Code::NotFound, "unknown service".into()),
                "grpc.unknown_service",
                "SERVICE_UNKNOWN",
            ),
        ];
        for (obs, code, name) in cases {
            let o = judge(&s, &obs, ms);
            assert_eq!(o.status, Status::Fail, "{obs:?}");
            assert_eq!(reason(&o), Some(code), "{obs:?}");
            assert_eq!(o.metadata["status"], name, "{obs:?}");
            assert!(
                shown(&o.message).ends_with("expected SERVING"),
                "{}",
                o.message
            );
        }
        let neg = spec("", ServingStatus::NotServing);
        let o = judge(&neg, &Observed::Serving(2), ms);
        assert_eq!(o.status, Status::Pass);
        assert!(shown(&o.message).starts_with("the server is NOT_SERVING, as expected"));
        let o = judge(&neg, &Observed::Serving(1), ms);
        assert_eq!(reason(&o), Some("grpc.status"));
        let gone = spec("x", ServingStatus::ServiceUnknown);
        let o = judge(&gone, &Observed::Error(Code::NotFound, String::new()), ms);
        assert_eq!(o.status, Status::Pass, "{}", o.message);
    }

    #[test]
    fn error_statuses_and_latency() {
        let s = spec("", ServingStatus::Serving);
        let ms = Duration::from_millis(3);
        let o = judge(&s, &Observed::Error(Code::Unimplemented, String::new()), ms);
        assert_eq!(reason(&o), Some("grpc.unimplemented"));
        assert_eq!(o.metadata["grpc_code"], "UNIMPLEMENTED");
        assert!(!o.metadata.contains_key("status"));
        let o = judge(
            &s,
            &Observed::Error(Code::Unauthenticated, "bad\ntoken".into()),
            ms,
        );
        assert_eq!(reason(&o), Some("grpc.error"));
        assert_eq!(
            shown(&o.message),
            "Health/Check answered UNAUTHENTICATED: bad\\ntoken"
        );
        let o = judge(
            &s,
            &Observed::Error(Code::DeadlineExceeded, String::new()),
            ms,
        );
        assert_eq!(reason(&o), Some("timeout"));
        let o = judge(&s, &Observed::Serving(1), Duration::from_millis(900));
        assert_eq!(o.status, Status::Warn);
        assert_eq!(reason(&o), Some("grpc.latency"));
        assert_eq!(o.metadata["latency_ms"], 900);
    }
}
