//! A tiny in-process stand-in for the Kubernetes API server: real REST paths, real object
//! JSON (serialised from k8s-openapi types) and real `Status` errors, over plain HTTP on a
//! loopback port, so the real `kube` client can be driven without a cluster.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetStatus, Deployment, DeploymentSpec, DeploymentStatus, StatefulSet,
    StatefulSetSpec, StatefulSetStatus,
};
use k8s_openapi::api::core::v1::{
    ContainerStatus, Node, NodeCondition, NodeStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Routes: path (with query) -> (status code, JSON body).
pub type Routes = BTreeMap<String, (u16, serde_json::Value)>;

/// The fake API server; stops when dropped.
pub struct KubeApi {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Every request path seen (for asserting the client used the real paths).
    pub seen: Arc<std::sync::Mutex<Vec<String>>>,
    /// The routes, changeable while the server runs (a rollout finishing).
    routes: Arc<std::sync::Mutex<Routes>>,
}

impl KubeApi {
    pub fn start(routes: Routes) -> KubeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let routes = Arc::new(std::sync::Mutex::new(routes));
        let (stop2, seen2, routes2) = (stop.clone(), seen.clone(), routes.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    serve(s, &routes2, &seen2);
                }
            }
        });
        KubeApi {
            port,
            stop,
            thread: Some(thread),
            seen,
            routes,
        }
    }

    /// Answer `path` with `response` from now on.
    pub fn set(&self, path: &str, response: (u16, serde_json::Value)) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), response);
    }

    /// A kubeconfig with context `prod-cluster` (namespace prod, the current one) and
    /// `dead` (a port nobody listens on).
    pub fn kubeconfig(&self, dead_port: u16) -> String {
        format!(
            r#"apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {{server: "http://127.0.0.1:{p}"}}
- name: dead
  cluster: {{server: "http://127.0.0.1:{dead_port}"}}
users:
- name: u
  user: {{token: k8s-token-sentinel-0011}}
contexts:
- name: prod-cluster
  context: {{cluster: fake, user: u, namespace: prod}}
- name: dead
  context: {{cluster: dead, user: u, namespace: prod}}
current-context: prod-cluster
"#,
            p = self.port
        )
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    routes: &std::sync::Mutex<Routes>,
    seen: &std::sync::Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    let _ = reader.read_exact(&mut body);
    seen.lock().unwrap().push(path.clone());
    let path = route_key(&path);
    let (code, json) = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| (404, status(404, "NotFound", &format!("no route {path}"))));
    let text = json.to_string();
    let reason = match code {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

/// The route of a request: its path, plus `?labelSelector=<decoded>` when it has one (other
/// query parameters such as `resourceVersion` are ignored).
fn route_key(target: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let selector = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("labelSelector="))
        .map(decode);
    match selector {
        Some(s) => format!("{path}?labelSelector={s}"),
        None => path.to_owned(),
    }
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Kubernetes `Status` error object.
pub fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}

fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: ns.map(str::to_owned),
        ..Default::default()
    }
}

pub fn deployment(name: &str, desired: i32, available: i32) -> serde_json::Value {
    let d = Deployment {
        metadata: meta(name, Some("prod")),
        spec: Some(DeploymentSpec {
            replicas: Some(desired),
            ..Default::default()
        }),
        status: Some(DeploymentStatus {
            replicas: Some(desired),
            ready_replicas: Some(available),
            available_replicas: Some(available),
            updated_replicas: Some(desired),
            ..Default::default()
        }),
    };
    serde_json::to_value(d).unwrap()
}

pub fn statefulset(name: &str, desired: i32, ready: i32) -> serde_json::Value {
    let s = StatefulSet {
        metadata: meta(name, Some("prod")),
        spec: Some(StatefulSetSpec {
            replicas: Some(desired),
            ..Default::default()
        }),
        status: Some(StatefulSetStatus {
            replicas: desired,
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            ..Default::default()
        }),
    };
    serde_json::to_value(s).unwrap()
}

pub fn daemonset(name: &str, desired: i32, available: i32) -> serde_json::Value {
    let d = DaemonSet {
        metadata: meta(name, Some("prod")),
        spec: None,
        status: Some(DaemonSetStatus {
            desired_number_scheduled: desired,
            number_ready: available,
            number_available: Some(available),
            current_number_scheduled: desired,
            number_misscheduled: 0,
            ..Default::default()
        }),
    };
    serde_json::to_value(d).unwrap()
}

pub fn pod(name: &str, ready: bool, restarts: i32) -> Pod {
    Pod {
        metadata: meta(name, Some("prod")),
        spec: None,
        status: Some(PodStatus {
            phase: Some(if ready { "Running" } else { "Pending" }.to_owned()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".to_owned(),
                status: if ready { "True" } else { "False" }.to_owned(),
                ..Default::default()
            }]),
            container_statuses: Some(vec![ContainerStatus {
                name: "main".to_owned(),
                ready,
                restart_count: restarts,
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

pub fn node(name: &str, ready: bool) -> Node {
    Node {
        metadata: meta(name, None),
        spec: None,
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".to_owned(),
                status: if ready { "True" } else { "Unknown" }.to_owned(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

/// A `PodList`/`NodeList` document.
pub fn list<T: serde::Serialize>(kind: &str, items: Vec<T>) -> serde_json::Value {
    serde_json::json!({
        "kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
        "items": items.into_iter().map(|i| serde_json::to_value(i).unwrap()).collect::<Vec<_>>()
    })
}
