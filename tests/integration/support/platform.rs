//! Helpers shared by the platform-check tests (command, databases, Redis, Kubernetes, AWS):
//! run a config and read the JSON results by check name.

use std::process::Output;

use super::{Workspace, code, stderr, stdout};

/// The results of one JSON run, with the exit code and the raw output (for leak checks).
pub struct Run {
    pub code: i32,
    pub results: Vec<serde_json::Value>,
    pub raw: String,
}

impl Run {
    /// The result of the check `name`; panics with the whole output when it is missing.
    pub fn get(&self, name: &str) -> &serde_json::Value {
        self.results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no result `{name}` in {}", self.raw))
    }

    /// Assert status (and reason, when given) of the check `name`.
    pub fn expect(&self, name: &str, status: &str, reason: Option<&str>) -> &serde_json::Value {
        let r = self.get(name);
        assert_eq!(r["status"], status, "{name}: {r:#}");
        match reason {
            Some(want) => assert_eq!(r["reason"], want, "{name}: {r:#}"),
            None => assert!(r["reason"].is_null(), "{name}: {r:#}"),
        }
        r
    }
}

/// Write `config` as `c.yaml`, run environment `t` with JSON output and parse it.
pub fn run_json(ws: &Workspace, config: &str, envs: &[(&str, &str)]) -> Run {
    ws.write("c.yaml", config);
    let out: Output = ws.run(&["-c", "c.yaml", "--env", "t", "--output", "json"], envs);
    let raw = format!("{}\n--- stderr ---\n{}", stdout(&out), stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("output is not JSON ({e}): {raw}"));
    Run {
        code: code(&out),
        results: doc["results"].as_array().cloned().unwrap_or_default(),
        raw,
    }
}

/// Run `infracheck validate` on `config`; returns (exit code, stdout + stderr).
pub fn validate(ws: &Workspace, config: &str, envs: &[(&str, &str)]) -> (i32, String) {
    ws.write("c.yaml", config);
    let out = ws.run(&["validate", "-c", "c.yaml"], envs);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}
