//! `kubernetes_checks`: workload readiness (deployment, statefulset, daemonset), pods by label
//! selector (all Ready, restarts under a threshold) and node readiness, through the `kube`
//! client. Configuration comes from `$KUBECONFIG`, `~/.kube/config` or the in-cluster service
//! account; one client per `context` is built on first use and shared by the run.

use crate::reader::key_table::{Field, FieldType as T, opt, req};
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};

mod credentials;
mod judge;
mod reasons;

use super::common::{add_problem, escape, latency_problem, millis};
use super::{CheckDef, Kind, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;
use judge::{count, nodes, pods, workload};

/// The keys of `pods`.
const POD_FIELDS: &[Field] = &[
    req("selector", T::String, "Label selector."),
    opt("min_ready", T::Integer, "Minimum ready pods."),
    opt("max_restarts", T::Integer, "Maximum container restarts."),
];
/// The keys of `nodes`.
const NODE_FIELDS: &[Field] = &[
    opt(
        "selector",
        T::String,
        "Label selector (default: every node).",
    ),
    opt("min_ready", T::Integer, "Minimum ready nodes."),
];
/// How many not-ready names a message lists.
const MAX_NAMES: usize = 10;

/// What a Kubernetes check looks at.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Deployment by name.
    Deployment(String),
    /// A StatefulSet by name.
    StatefulSet(String),
    /// A DaemonSet by name.
    DaemonSet(String),
    /// Pods by label selector.
    Pods {
        /// Label selector (`app=worker,tier!=canary`).
        selector: String,
        /// Restarts above this (for any pod) is WARN.
        max_restarts: Option<u64>,
    },
    /// Nodes, optionally by label selector.
    Nodes {
        /// Label selector.
        selector: Option<String>,
    },
}

/// A validated Kubernetes check.
#[derive(Debug, Clone)]
pub struct KubernetesSpec {
    /// The object(s) checked.
    pub target: Target,
    /// Namespace (default: the context's namespace, else `default`).
    pub namespace: Option<String>,
    /// kubeconfig context (default: the current context, or in-cluster).
    pub context: Option<String>,
    /// Minimum ready replicas/pods/nodes; without it, all desired must be ready.
    pub min_ready: Option<u64>,
}

/// The kubernetes kind (see `src/checks/registry.rs`).
impl Kind for KubernetesSpec {
    const NAME: &'static str = "kubernetes";

    const FIELDS: &'static [Field] = &[
        opt(
            "deployment",
            T::String,
            "Deployment whose replicas must be ready.",
        ),
        opt(
            "statefulset",
            T::String,
            "StatefulSet whose replicas must be ready.",
        ),
        opt(
            "daemonset",
            T::String,
            "DaemonSet whose pods must be ready.",
        ),
        opt(
            "pods",
            T::Object(POD_FIELDS),
            "Pods selected by label that must be ready.",
        ),
        opt(
            "nodes",
            T::Object(NODE_FIELDS),
            "Nodes (optionally selected by label) that must be ready.",
        ),
        opt(
            "namespace",
            T::String,
            "Namespace (default: the context's).",
        ),
        opt(
            "context",
            T::String,
            "kubeconfig context (default: the current one).",
        ),
        opt(
            "min_ready",
            T::Integer,
            "Minimum ready replicas, pods or nodes.",
        ),
    ];

    /// The API request(s).
    const PHASES: &'static [PhaseName] = &[PhaseName::Request];
    const VALUES: &'static [&'static str] = &["k8s.ready", "k8s.restarts"];
    const LATENCY_REASON: Reason = Reason::K8sLatency;
    const EXPECT_REASON: Reason = Reason::K8sExpect;
    const REASONS: &'static [&'static [Reason]] = &[reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        // The client's credentials are secrets of every run that has a Kubernetes check.
        ctx.secrets.extend(credentials::secrets(ctx.interp.env));
        let namespace = match r.take("namespace") {
            Some((n, p)) => ctx.non_empty(n, &p),
            None => None,
        };
        let context = match r.take("context") {
            Some((n, p)) => ctx.non_empty(n, &p),
            None => None,
        };
        let mut min_ready = match r.take("min_ready") {
            Some((n, p)) => ctx.uint(n, &p, 1_000_000),
            None => None,
        };
        let mut targets: Vec<Target> = Vec::new();
        let mut ok = true;
        for key in ["deployment", "statefulset", "daemonset"] {
            if let Some((n, p)) = r.take(key) {
                match ctx.non_empty(n, &p) {
                    Some(name) => targets.push(match key {
                        "deployment" => Target::Deployment(name),
                        "statefulset" => Target::StatefulSet(name),
                        _ => Target::DaemonSet(name),
                    }),
                    None => ok = false,
                }
            }
        }
        if let Some((n, p)) = r.take("pods") {
            match MapReader::new(n, &p, ctx.problems) {
                Some(mut sub) => {
                    let selector = match sub.take("selector") {
                        Some((sn, sp)) => ctx.non_empty(sn, &sp),
                        None => {
                            ctx.problem(n, &p, "missing required key `selector`");
                            None
                        }
                    };
                    if let Some((mn, mp)) = sub.take("min_ready") {
                        min_ready = ctx.uint(mn, &mp, 1_000_000);
                    }
                    let max_restarts = match sub.take("max_restarts") {
                        Some((mn, mp)) => ctx.uint(mn, &mp, u64::from(u32::MAX)),
                        None => None,
                    };
                    sub.finish(super::common::field_keys!(POD_FIELDS), ctx.problems);
                    match selector {
                        Some(selector) => targets.push(Target::Pods {
                            selector,
                            max_restarts,
                        }),
                        None => ok = false,
                    }
                }
                None => ok = false,
            }
        }
        if let Some((n, p)) = r.take("nodes") {
            match MapReader::new(n, &p, ctx.problems) {
                Some(mut sub) => {
                    let selector = match sub.take("selector") {
                        Some((sn, sp)) => ctx.non_empty(sn, &sp),
                        None => None,
                    };
                    if let Some((mn, mp)) = sub.take("min_ready") {
                        min_ready = ctx.uint(mn, &mp, 1_000_000);
                    }
                    sub.finish(super::common::field_keys!(NODE_FIELDS), ctx.problems);
                    targets.push(Target::Nodes { selector });
                }
                None => ok = false,
            }
        }
        let target = ctx.exactly_one(
            r,
            targets,
            ok,
            &["deployment", "statefulset", "daemonset", "pods", "nodes"],
        )?;
        let ns = namespace.as_deref().unwrap_or("<current>");
        let mut printable = match &target {
            Target::Deployment(n) => format!("deployment/{n} in {ns}"),
            Target::StatefulSet(n) => format!("statefulset/{n} in {ns}"),
            Target::DaemonSet(n) => format!("daemonset/{n} in {ns}"),
            Target::Pods { selector, .. } => format!("pods {selector} in {ns}"),
            Target::Nodes { selector: Some(s) } => format!("nodes {s}"),
            Target::Nodes { selector: None } => "nodes".to_owned(),
        };
        if let Some(c) = &context {
            printable.push_str(&format!(" (context {c})"));
        }
        Some((
            KubernetesSpec {
                target,
                namespace,
                context,
                min_ready,
            },
            printable,
        ))
    }

    /// An API client with its own rate handling: not host-limited.
    fn host_key(&self) -> Option<String> {
        None
    }

    /// The client verifies the API server with the kubeconfig's own CA: nothing of ours to
    /// verify with, but the crypto library's random generator is seeded before the clock
    /// starts (the `insecure` trust prepares only that).
    fn tls_trust(&self) -> Option<crate::checks::common::tls::TlsTrust<'_>> {
        Some(crate::checks::common::tls::TlsTrust {
            ca_file: None,
            insecure: true,
        })
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        run(self, check.thresholds, &ctx.kube, phase).await
    }
}

/// One client per kubeconfig context, built on first use (reading the kubeconfig does not
/// touch the network; `validate` never builds one).
#[derive(Default)]
pub struct Clients {
    by_context: tokio::sync::Mutex<BTreeMap<Option<String>, kube::Client>>,
}

impl Clients {
    async fn get(&self, context: Option<&String>) -> Result<kube::Client, Outcome> {
        let key = context.cloned();
        let mut map = self.by_context.lock().await;
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let config = match &key {
            Some(name) => {
                let opts = kube::config::KubeConfigOptions {
                    context: Some(name.clone()),
                    ..Default::default()
                };
                kube::Config::from_kubeconfig(&opts).await.map_err(|e| {
                    Outcome::fail(
                        Reason::K8sUnreachable,
                        format!("cannot load kubeconfig context `{name}`: {e}"),
                    )
                })?
            }
            None => kube::Config::infer().await.map_err(|e| {
                Outcome::fail(
                    Reason::K8sUnreachable,
                    format!(
                        "no Kubernetes configuration found (set KUBECONFIG, create ~/.kube/config or run in a pod): {e}"
                    ),
                )
            })?,
        };
        let client = kube::Client::try_from(config).map_err(|e| {
            Outcome::fail(
                Reason::K8sUnreachable,
                format!("cannot build the Kubernetes client: {e}"),
            )
        })?;
        map.insert(key, client.clone());
        Ok(client)
    }
}

fn api_error(e: &kube::Error, what: &str) -> Outcome {
    match e {
        kube::Error::Api(status) => {
            let reason = match status.code {
                401 | 403 => Reason::K8sForbidden,
                404 => Reason::K8sNotFound,
                _ => Reason::K8sApi,
            };
            let msg = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            Outcome::fail(
                reason,
                crate::text!("{what}: ", escape(&msg, 300), format!(" ({})", status.code)),
            )
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            let text = super::common::error_chain(e);
            Outcome::fail(
                Reason::K8sUnreachable,
                crate::text!("{what}: API server unreachable: ", escape(&text, 300)),
            )
        }
        other => Outcome::fail(
            Reason::K8sApi,
            crate::text!("{what}: ", escape(&other.to_string(), 300)),
        ),
    }
}

/// Run one attempt.
pub async fn run(
    spec: &KubernetesSpec,
    thresholds: Thresholds,
    clients: &Clients,
    phase: &Phase,
) -> Outcome {
    let start = std::time::Instant::now();
    phase.set("loading the Kubernetes configuration");
    // Reading the kubeconfig and building the client (its TLS configuration) is preparation,
    // once per context: outside the check's clock.
    let client = match phase
        .outside_clock(clients.get(spec.context.as_ref()))
        .await
    {
        Ok(c) => c,
        Err(o) => return o,
    };
    let ns = spec
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    phase.set("waiting for the Kubernetes API");
    let asked = std::time::Instant::now();
    // `Err`: the API call itself failed; its outcome is final. `Ok`: the readiness verdict,
    // then judged for latency too.
    let judged: Result<Outcome, Outcome> = match &spec.target {
        Target::Deployment(name) => {
            let api: Api<Deployment> = Api::namespaced(client, &ns);
            match api.get(name).await {
                Err(e) => Err(api_error(&e, &format!("deployment {ns}/{name}"))),
                Ok(d) => Ok({
                    let desired = count(d.spec.as_ref().and_then(|s| s.replicas).or(Some(1)));
                    let st = d.status.unwrap_or_default();
                    workload(
                        "deployment",
                        name,
                        desired,
                        count(st.ready_replicas),
                        count(st.available_replicas),
                        spec.min_ready,
                    )
                }),
            }
        }
        Target::StatefulSet(name) => {
            let api: Api<StatefulSet> = Api::namespaced(client, &ns);
            match api.get(name).await {
                Err(e) => Err(api_error(&e, &format!("statefulset {ns}/{name}"))),
                Ok(d) => Ok({
                    let desired = count(d.spec.as_ref().and_then(|s| s.replicas).or(Some(1)));
                    let st = d.status.unwrap_or_default();
                    workload(
                        "statefulset",
                        name,
                        desired,
                        count(st.ready_replicas),
                        count(st.available_replicas.or(st.ready_replicas)),
                        spec.min_ready,
                    )
                }),
            }
        }
        Target::DaemonSet(name) => {
            let api: Api<DaemonSet> = Api::namespaced(client, &ns);
            match api.get(name).await {
                Err(e) => Err(api_error(&e, &format!("daemonset {ns}/{name}"))),
                Ok(d) => Ok({
                    let st = d.status.unwrap_or_default();
                    workload(
                        "daemonset",
                        name,
                        count(Some(st.desired_number_scheduled)),
                        count(Some(st.number_ready)),
                        count(st.number_available),
                        spec.min_ready,
                    )
                }),
            }
        }
        Target::Pods {
            selector,
            max_restarts,
        } => {
            let api: Api<Pod> = Api::namespaced(client, &ns);
            match api.list(&ListParams::default().labels(selector)).await {
                Err(e) => Err(api_error(&e, &format!("pods {selector} in {ns}"))),
                Ok(list) => Ok(pods(
                    &list.items,
                    selector,
                    &ns,
                    spec.min_ready,
                    *max_restarts,
                )),
            }
        }
        Target::Nodes { selector } => {
            let api: Api<Node> = Api::all(client);
            let mut lp = ListParams::default();
            if let Some(s) = selector {
                lp = lp.labels(s);
            }
            match api.list(&lp).await {
                Err(e) => Err(api_error(&e, "nodes")),
                Ok(list) => Ok(nodes(&list.items, spec.min_ready)),
            }
        }
    };
    phase.lap(crate::model::PhaseName::Request, asked);
    let elapsed = phase.clocked(start);
    let outcome = match judged {
        Ok(o) => add_problem(o, latency_problem(elapsed, thresholds, Reason::K8sLatency)),
        Err(o) => o,
    };
    outcome
        .with_meta("namespace", ns)
        .with_meta("latency_ms", millis(elapsed))
}
