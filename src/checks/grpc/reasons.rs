//! The reason codes only `grpc` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `grpc` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    GrpcNotServing = 570 => "grpc.not_serving", Failure, "The gRPC service is not serving",
        "`grpc.health.v1.Health/Check` answered NOT_SERVING for the checked `service` (the whole server when `service` is empty).";
    GrpcUnknownService = 580 => "grpc.unknown_service", Failure, "The gRPC server does not know the service",
        "The health service answered SERVICE_UNKNOWN, or the gRPC status NOT_FOUND that servers return for a `service` they have no status for.";
    GrpcUnknown = 590 => "grpc.unknown", Failure, "The gRPC service's health is UNKNOWN",
        "The health service answered UNKNOWN (or a status value this version does not know): the server has not decided whether the service is healthy.";
    GrpcStatus = 600 => "grpc.status", Failure, "The gRPC serving status is not the expected one",
        "The health service answered SERVING where `expected` names another status (a negative check).";
    GrpcUnimplemented = 610 => "grpc.unimplemented", Failure, "The gRPC server has no health service",
        "The call answered the gRPC status UNIMPLEMENTED: the server does not register `grpc.health.v1.Health`.";
    GrpcError = 620 => "grpc.error", Failure, "The gRPC health call failed with an error status",
        "`Health/Check` answered a gRPC status other than OK, NOT_FOUND and UNIMPLEMENTED (UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE…); the message names it.";
    GrpcLatency = 630 => "grpc.latency", Failure, "The gRPC health check answered slowly",
        "Connecting and the health call took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    GrpcExpect = 640 => "grpc.expect", Failure, "A condition on the gRPC health answer did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
