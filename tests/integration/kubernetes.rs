//! `kubernetes_checks` driving the real `kube` client against the in-process API stand-in:
//! deployments, statefulsets, daemonsets, pods by selector, nodes, and 403/404/unreachable.

use crate::support::Workspace;
use crate::support::kubeapi::{
    KubeApi, Routes, daemonset, deployment, list, node, pod, statefulset, status,
};
use crate::support::platform::{run_json, validate};

fn routes() -> Routes {
    let mut r = Routes::new();
    let apps = "/apis/apps/v1/namespaces/prod";
    r.insert(
        format!("{apps}/deployments/api"),
        (200, deployment("api", 3, 3)),
    );
    r.insert(
        format!("{apps}/deployments/degraded"),
        (200, deployment("degraded", 3, 1)),
    );
    r.insert(
        format!("{apps}/deployments/missing"),
        (
            404,
            status(404, "NotFound", "deployments.apps \"missing\" not found"),
        ),
    );
    r.insert(
        "/apis/apps/v1/namespaces/locked/deployments/api".to_owned(),
        (
            403,
            status(
                403,
                "Forbidden",
                "deployments.apps \"api\" is forbidden: User \"ci\" cannot get resource \"deployments\"",
            ),
        ),
    );
    r.insert(
        format!("{apps}/statefulsets/db"),
        (200, statefulset("db", 2, 2)),
    );
    r.insert(
        format!("{apps}/daemonsets/agent"),
        (200, daemonset("agent", 4, 3)),
    );
    r.insert(
        "/api/v1/namespaces/prod/pods?labelSelector=app=worker".to_owned(),
        (
            200,
            list(
                "PodList",
                vec![
                    pod("worker-a", true, 0),
                    pod("worker-b", true, 7),
                    pod("worker-c", true, 1),
                ],
            ),
        ),
    );
    r.insert(
        "/api/v1/namespaces/prod/pods?labelSelector=app=broken".to_owned(),
        (
            200,
            list(
                "PodList",
                vec![pod("broken-a", true, 0), pod("broken-b", false, 0)],
            ),
        ),
    );
    r.insert(
        "/api/v1/namespaces/prod/pods?labelSelector=app=none".to_owned(),
        (
            200,
            list::<k8s_openapi::api::core::v1::Pod>("PodList", vec![]),
        ),
    );
    r.insert(
        "/api/v1/nodes".to_owned(),
        (
            200,
            list(
                "NodeList",
                vec![node("n1", true), node("n2", true), node("n3", false)],
            ),
        ),
    );
    r
}

#[test]
fn workloads_pods_nodes_and_api_errors() {
    let api = KubeApi::start(routes());
    let ws = Workspace::new();
    let dead = crate::support::closed_port();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    let run = run_json(
        &ws,
        r#"environments:
  t:
    kubernetes_checks:
      - {name: api, deployment: api, namespace: prod, context: prod-cluster}
      - {name: api-current-context, deployment: api}
      - {name: degraded, deployment: degraded, namespace: prod}
      - {name: degraded-min, deployment: degraded, namespace: prod, min_ready: 1}
      - {name: missing, deployment: missing, namespace: prod}
      - {name: forbidden, deployment: api, namespace: locked}
      - {name: db, statefulset: db, namespace: prod}
      - {name: agent, daemonset: agent, namespace: prod}
      - {name: workers, pods: {selector: "app=worker", min_ready: 3, max_restarts: 5}, namespace: prod}
      - {name: workers-lenient, pods: {selector: "app=worker", max_restarts: 10}, namespace: prod}
      - {name: broken, pods: {selector: "app=broken"}, namespace: prod}
      - {name: no-pods, pods: {selector: "app=none"}, namespace: prod}
      - {name: nodes, nodes: {min_ready: 3}}
      - {name: nodes-two, nodes: {min_ready: 2}}
      - {name: unreachable, deployment: api, context: dead}
      - {name: no-such-context, deployment: api, context: nope}
"#,
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("api", "PASS", None);
    assert_eq!(r["kind"], "kubernetes");
    assert_eq!(r["metadata"]["available"], 3);
    run.expect("api-current-context", "PASS", None);
    let r = run.expect("degraded", "FAIL", Some("k8s.not_ready"));
    assert!(
        r["message"].as_str().unwrap().contains("1/3 available"),
        "{r}"
    );
    run.expect("degraded-min", "PASS", None);
    run.expect("missing", "FAIL", Some("k8s.not_found"));
    let r = run.expect("forbidden", "FAIL", Some("k8s.forbidden"));
    assert!(r["message"].as_str().unwrap().contains("forbidden"), "{r}");
    run.expect("db", "PASS", None);
    run.expect("agent", "FAIL", Some("k8s.not_ready"));
    let r = run.expect("workers", "WARN", Some("k8s.restarts"));
    assert!(
        r["message"].as_str().unwrap().contains("worker-b (7)"),
        "{r}"
    );
    assert_eq!(r["metadata"]["ready_pods"], 3);
    run.expect("workers-lenient", "PASS", None);
    let r = run.expect("broken", "FAIL", Some("k8s.not_ready"));
    assert!(r["message"].as_str().unwrap().contains("broken-b"), "{r}");
    run.expect("no-pods", "FAIL", Some("k8s.not_ready"));
    let r = run.expect("nodes", "FAIL", Some("k8s.not_ready"));
    assert!(r["message"].as_str().unwrap().contains("n3"), "{r}");
    run.expect("nodes-two", "PASS", None);
    run.expect("unreachable", "FAIL", Some("k8s.unreachable"));
    run.expect("no-such-context", "FAIL", Some("k8s.unreachable"));
    assert!(!run.raw.contains("k8s-token-sentinel-0011"));
    let seen = api.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|p| p == "/apis/apps/v1/namespaces/prod/deployments/api"),
        "{seen:?}"
    );
}

/// `warn_latency` and `fail_latency` judge the API call as for every other kind; a zero
/// threshold is crossed by any call, so no timing is assumed. A readiness failure stays the
/// verdict, and an API error is not judged for latency.
#[test]
fn latency_thresholds_judge_the_api_call() {
    let api = KubeApi::start(routes());
    let ws = Workspace::new();
    let dead = crate::support::closed_port();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    let run = run_json(
        &ws,
        r#"environments:
  t:
    kubernetes_checks:
      - {name: slow, deployment: api, namespace: prod, warn_latency: 0ms}
      - {name: too-slow, deployment: api, namespace: prod, fail_latency: 0ms}
      - {name: relaxed, deployment: api, namespace: prod, warn_latency: 1h}
      - {name: degraded, deployment: degraded, namespace: prod, warn_latency: 0ms}
      - {name: missing, deployment: missing, namespace: prod, warn_latency: 0ms}
"#,
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("slow", "WARN", Some("k8s.latency"));
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("> warn_latency 0ms"), "{r}");
    assert_eq!(r["metadata"]["available"], 3);
    assert!(r["metadata"]["latency_ms"].is_u64(), "{r}");
    let r = run.expect("too-slow", "FAIL", Some("k8s.latency"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("> fail_latency 0ms"),
        "{r}"
    );
    run.expect("relaxed", "PASS", None);
    run.expect("degraded", "FAIL", Some("k8s.not_ready"));
    let r = run.expect("missing", "FAIL", Some("k8s.not_found"));
    assert!(!r["message"].as_str().unwrap().contains("latency"), "{r}");
}

#[test]
fn no_kubeconfig_is_a_failure() {
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        "environments:\n  t:\n    kubernetes_checks:\n      - {name: api, deployment: api}\n",
        &[
            ("KUBECONFIG", "/nonexistent/kubeconfig"),
            ("HOME", ws.path().to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("api", "FAIL", Some("k8s.unreachable"));
}

#[test]
fn rejects_bad_kubernetes_config() {
    let ws = Workspace::new();
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    kubernetes_checks:
      - {name: a, deployment: api, pods: {selector: x}}
      - {name: b, namespace: prod}
      - {name: c, pods: {min_ready: 1}}
      - {name: d, nodes: {min_redy: 1}}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "set only one of",
        "missing what to check",
        "missing required key `selector`",
        "min_redy",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

/// The deploy gate's main use: wait for a rollout. The real `kube` client polls the API
/// stand-in; the deployment becomes available after infracheck's first round.
#[test]
fn deploy_gate_waits_for_a_rollout_to_finish() {
    let path = "/apis/apps/v1/namespaces/prod/deployments/web";
    let mut r = Routes::new();
    r.insert(path.to_owned(), (200, deployment("web", 3, 1)));
    let api = KubeApi::start(r);
    let ws = Workspace::new();
    let dead = crate::support::closed_port();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    kubernetes_checks:\n      - {name: web, deployment: web, namespace: prod}\n",
    );
    // The rollout finishes once infracheck has reported its first round.
    let (code, _, err) = crate::support::run_gate_acting_after_round_one(
        ws.path(),
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--until-healthy",
            "--deadline",
            "60s",
            "--interval",
            "50ms",
            "--json",
            "gate.json",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
        || api.set(path, (200, deployment("web", 3, 3))),
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("gate.json")).unwrap())
            .unwrap();
    let web = &doc["results"][0];
    assert_eq!(web["status"], "PASS", "{web}");
    let round = web["gate"]["healthy_round"]
        .as_u64()
        .expect("healthy_round");
    assert!(round >= 2, "{web}");
    assert_eq!(doc["gate"]["healthy"], true);
    let requests = api
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.starts_with(path))
        .count();
    assert_eq!(
        requests,
        usize::try_from(round).unwrap(),
        "one GET per round"
    );
}

#[test]
fn other_api_errors_and_a_node_selector() {
    let mut r = Routes::new();
    let apps = "/apis/apps/v1/namespaces/prod";
    r.insert(
        format!("{apps}/deployments/erroring"),
        (
            500,
            status(500, "InternalError", "etcdserver: request timed out"),
        ),
    );
    // A 200 whose body is no Deployment.
    r.insert(
        format!("{apps}/deployments/garbled"),
        (
            200,
            serde_json::json!({"kind": "Deployment", "spec": "not an object"}),
        ),
    );
    r.insert(
        "/api/v1/nodes?labelSelector=pool=gpu".to_owned(),
        (
            200,
            list("NodeList", vec![node("gpu-1", true), node("gpu-2", false)]),
        ),
    );
    r.insert(
        "/api/v1/nodes?labelSelector=pool=web".to_owned(),
        (
            200,
            list("NodeList", vec![node("web-1", true), node("web-2", true)]),
        ),
    );
    // Every node (no selector): one not ready. A check that ignored its selector would see it.
    r.insert(
        "/api/v1/nodes".to_owned(),
        (
            200,
            list("NodeList", vec![node("web-1", true), node("gpu-2", false)]),
        ),
    );
    let api = KubeApi::start(r);
    let dead = crate::support::closed_port();
    let ws = Workspace::new();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    let run = run_json(
        &ws,
        r#"environments:
  t:
    kubernetes_checks:
      - {name: erroring, deployment: erroring}
      - {name: garbled, deployment: garbled}
      - {name: gpu-pool, nodes: {selector: pool=gpu}}
      - {name: web-pool, nodes: {selector: pool=web}}
"#,
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let e = run.expect("erroring", "FAIL", Some("k8s.api"));
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("etcdserver: request timed out") && m.contains("500")),
        "{e}"
    );
    run.expect("garbled", "FAIL", Some("k8s.api"));
    let g = run.expect("gpu-pool", "FAIL", Some("k8s.not_ready"));
    assert_eq!(g["metadata"]["nodes"], 2, "{g}");
    assert_eq!(g["metadata"]["ready_nodes"], 1, "{g}");
    assert!(g.to_string().contains("gpu-2"), "{g}");
    let w = run.expect("web-pool", "PASS", None);
    assert_eq!(w["metadata"]["ready_nodes"], 2, "{w}");
    let seen = api.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|p| p.starts_with("/api/v1/nodes?") && p.contains("labelSelector=pool")),
        "the selector is sent as labelSelector: {seen:?}"
    );
}

/// An API server (or a proxy in front of it) that echoes the request's `Authorization` header
/// in its error: the kubeconfig's token is a secret of the run, masked in every format and on
/// stderr, although the config never names it.
#[test]
fn an_api_error_echoing_the_bearer_token_is_masked_everywhere() {
    let token = "k8s-token-sentinel-0011";
    let mut r = Routes::new();
    r.insert(
        "/apis/apps/v1/namespaces/prod/deployments/api".to_owned(),
        (
            401,
            status(
                401,
                "Unauthorized",
                &format!("token rejected: Authorization: Bearer {token}"),
            ),
        ),
    );
    let api = KubeApi::start(r);
    let dead = crate::support::closed_port();
    let ws = Workspace::new();
    let kubeconfig = ws.write("kubeconfig", &api.kubeconfig(dead.port));
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    kubernetes_checks:\n      - {name: api, deployment: api, namespace: prod}\n",
    );
    let out = ws.run(
        &[
            "-vvv",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--json",
            "r.json",
            "--junit",
            "r.xml",
            "--html",
            "r.html",
            "--tap",
            "r.tap",
            "--sarif",
            "r.sarif",
            "--markdown",
            "r.md",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(
        crate::support::code(&out),
        1,
        "{}",
        crate::support::stderr(&out)
    );
    let doc = crate::support::json(&ws.path().join("r.json"));
    let api_result = crate::support::result(&doc, "api");
    assert_eq!(api_result["reason"], "k8s.forbidden", "{api_result}");
    let message = api_result["message"].as_str().unwrap();
    assert!(message.contains("Bearer ***"), "{message}");
    let mut everything = format!(
        "{}{}",
        crate::support::stdout(&out),
        crate::support::stderr(&out)
    );
    for f in ["r.json", "r.xml", "r.html", "r.tap", "r.sarif", "r.md"] {
        everything.push_str(&crate::support::read(&ws.path().join(f)));
    }
    assert!(!everything.contains(token), "{everything}");
    // The error did reach the reports, masked: the test would pass vacuously otherwise.
    assert!(everything.contains("token rejected"), "{everything}");
}
