//! deploy/kubernetes/: every manifest of a built-in kind passes `kubernetes-validate --strict`
//! (the Kubernetes OpenAPI schemas, offline; installed by scripts/test.sh), the ConfigMap's
//! config passes `infracheck validate`, the StatefulSet shards by its ordinal over as many
//! shards as it has replicas, and the ServiceMonitor (a CRD the validator has no schema for)
//! selects the Service's pods on its named port.

use std::process::Command;

use crate::support::Workspace;
use crate::support::ci::{get, parse_yaml, read, req, root, str_of};

const DIR: &str = "deploy/kubernetes";

#[test]
fn manifests_pass_the_kubernetes_schemas() {
    let validator = crate::support::require_bin(
        "kubernetes-validate",
        &["/usr/local/bin/kubernetes-validate"],
        "kubernetes-validate (pip)",
    );
    let files = [
        "configmap.yaml",
        "deployment.yaml",
        "statefulset.yaml",
        "service.yaml",
    ];
    let out = Command::new(validator)
        .arg("--strict")
        .args(files.iter().map(|f| root().join(DIR).join(f)))
        .output()
        .expect("kubernetes-validate runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for f in files {
        assert!(text.contains(&format!("{f} passed")), "{f}: {text}");
    }
    assert!(!text.contains("ERROR") && !text.contains("WARN"), "{text}");
}

#[test]
fn the_configmap_config_validates_and_the_statefulset_shards_by_ordinal() {
    let cm = parse_yaml(&read(&format!("{DIR}/configmap.yaml")), "configmap");
    let config = str_of(
        req(req(&cm, "data", "configmap"), "infracheck.yaml", "data"),
        "config",
    );
    let ws = Workspace::new();
    ws.write("infracheck.yaml", config);
    let out = ws.run(&["validate", "--config", "infracheck.yaml"], &[]);
    assert_eq!(
        crate::support::code(&out),
        0,
        "{}",
        crate::support::stderr(&out)
    );

    let sts = parse_yaml(&read(&format!("{DIR}/statefulset.yaml")), "statefulset");
    let spec = req(&sts, "spec", "statefulset");
    let replicas = req(spec, "replicas", "spec")
        .as_integer()
        .expect("replicas");
    let container = &req(
        req(req(spec, "template", "spec"), "spec", "template"),
        "containers",
        "pod",
    )[0];
    let shards = container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .find(|e| get(e, "name").and_then(|n| n.as_str()) == Some("SHARDS"))
        .and_then(|e| get(e, "value"))
        .and_then(|v| v.as_str())
        .expect("SHARDS");
    assert_eq!(shards, replicas.to_string());
    let args = str_of(&container["args"][0], "args");
    assert!(
        args.contains("--shard=\"$(( ${POD_NAME##*-} + 1 ))/${SHARDS}\""),
        "{args}"
    );
    assert!(args.starts_with("exec infracheck serve "), "{args}");
    // The shell arithmetic gives 1…N for pods 0…N-1.
    for ordinal in 0..replicas {
        let out = Command::new("sh")
            .arg("-c")
            .arg("echo \"$(( ${POD_NAME##*-} + 1 ))/${SHARDS}\"")
            .env("POD_NAME", format!("infracheck-shard-{ordinal}"))
            .env("SHARDS", shards)
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{}/{replicas}", ordinal + 1)
        );
    }
}

#[test]
fn the_service_monitor_scrapes_the_service() {
    let sm = parse_yaml(
        &read(&format!("{DIR}/servicemonitor.yaml")),
        "servicemonitor",
    );
    assert_eq!(
        str_of(req(&sm, "apiVersion", "sm"), "apiVersion"),
        "monitoring.coreos.com/v1"
    );
    assert_eq!(str_of(req(&sm, "kind", "sm"), "kind"), "ServiceMonitor");
    let spec = req(&sm, "spec", "sm");
    let wanted = req(req(spec, "selector", "spec"), "matchLabels", "selector");
    let endpoint = &req(spec, "endpoints", "spec")[0];
    assert_eq!(str_of(req(endpoint, "port", "endpoint"), "port"), "http");
    assert_eq!(
        str_of(req(endpoint, "path", "endpoint"), "path"),
        "/metrics"
    );
    let services = read(&format!("{DIR}/service.yaml"));
    let first = services.split("\n---\n").next().unwrap();
    let svc = parse_yaml(first, "service");
    let labels = req(req(&svc, "metadata", "service"), "labels", "metadata");
    for (k, v) in wanted.as_mapping().expect("matchLabels") {
        assert_eq!(labels.as_mapping_get(k.as_str().unwrap()), Some(v));
    }
    let port = &req(req(&svc, "spec", "service"), "ports", "spec")[0];
    assert_eq!(str_of(req(port, "name", "port"), "name"), "http");
}
