//! The reason codes only `kubernetes` checks end with: rows of the reason table (see
//! `src/model/reason.rs`), named in the kind's `REASONS`.

crate::model::reasons! {
    /// The `kubernetes` kind's own reasons, in its `REASONS`.
    pub(super) const ROWS;
    K8sUnreachable = 650 => "k8s.unreachable", Error, "The Kubernetes API server could not be reached",
        "The API server did not answer (connection refused, DNS, TLS), or no kubeconfig / in-cluster configuration was found.";
    K8sForbidden = 660 => "k8s.forbidden", Failure, "The Kubernetes API denied the request",
        "The API answered 401 or 403: the credentials of the kubeconfig context may not read this resource.";
    K8sNotFound = 670 => "k8s.not_found", Failure, "The Kubernetes object does not exist",
        "The API answered 404 for the deployment, statefulset, daemonset or namespace.";
    K8sApi = 680 => "k8s.api", Error, "The Kubernetes API returned an unexpected error",
        "The API answered with an error status other than 401/403/404, or a body infracheck could not read.";
    K8sNotReady = 690 => "k8s.not_ready", Failure, "Kubernetes workload or nodes are not ready",
        "Fewer replicas/pods/nodes are ready or available than required (`min_ready`, or all desired).";
    K8sRestarts = 700 => "k8s.restarts", Failure, "Pods restarted more often than allowed",
        "A selected pod's container restart count is over `max_restarts` (WARN).";
    K8sLatency = 710 => "k8s.latency", Failure, "The Kubernetes API answered slowly",
        "The API call(s) of the check took longer than `warn_latency` (WARN) or `fail_latency` (FAIL).";
    K8sExpect = 720 => "k8s.expect", Failure, "A condition on the Kubernetes objects did not hold",
        "A condition of the check's `expect:` list did not hold (a `severity: warn` one is WARN); the message names the condition and the value seen.";
}
