//! Redaction where the "every report" tests did not look: the HTML and TAP reports and stderr at
//! `-vvv`, against a real nginx that echoes the request's `Authorization` header into its error
//! body; and the ten well-known credential variables, tied to docs/secrets.md, masked in every
//! output although the config never names them.

use std::collections::BTreeSet;

use crate::support::nginx::Nginx;
use crate::support::{Workspace, code, read, stderr, stdout};

const REPORTS: [(&str, &str); 4] = [
    ("--html", "r.html"),
    ("--tap", "r.tap"),
    ("--json", "r.json"),
    ("--junit", "r.xml"),
];

/// Run `c.yaml` environment `t` at `-vvv` with the HTML, TAP, JSON and JUnit reports; returns
/// the exit code, stdout + stderr, and every report's text.
fn run_everywhere(ws: &Workspace, envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut args = vec!["-vvv", "-c", "c.yaml", "--env", "t"];
    for (flag, file) in REPORTS {
        args.extend([flag, file]);
    }
    let out = ws.run(&args, envs);
    let streams = format!("{}\n--- stderr ---\n{}", stdout(&out), stderr(&out));
    let reports: String = REPORTS
        .iter()
        .map(|(_, f)| read(&ws.path().join(f)))
        .collect::<Vec<_>>()
        .join("\n");
    (code(&out), streams, reports)
}

#[test]
fn a_secret_echoed_by_nginx_is_masked_in_html_tap_and_stderr_at_vvv() {
    let secret = "Nginx-Echo-Sentinel-0061";
    let nginx = Nginx::start(
        r#"location / { default_type text/plain; return 500 "denied for $http_authorization\n"; }"#,
    );
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    http_checks:\n      - {{name: echo, url: \"{}/\", headers: {{Authorization: \"Bearer ${{API_TOKEN}}\"}}}}\n",
            nginx.base()
        ),
    );
    let (c, streams, reports) = run_everywhere(&ws, &[("API_TOKEN", secret)]);
    assert_eq!(c, 1, "{streams}");
    for (what, text) in [("stdout/stderr", &streams), ("reports", &reports)] {
        assert!(!text.contains(secret), "{what}: {text}");
        // Also in another letter case, as some encoders print it.
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "{what}"
        );
    }
    // The echo reached the HTML and TAP reports, masked: nothing passes vacuously.
    for f in ["r.html", "r.tap"] {
        let text = read(&ws.path().join(f));
        assert!(text.contains("denied for ***"), "{f}: {text}");
    }
    // `-vvv` did log (tracing at trace level goes to stderr).
    assert!(
        streams.contains("TRACE") || streams.contains("DEBUG"),
        "{streams}"
    );
}

/// The backticked UPPER_CASE names of docs/secrets.md's "Well-known credentials" bullet.
fn documented_well_known() -> BTreeSet<String> {
    let doc = read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/secrets.md"));
    let start = doc
        .find("**Well-known credentials")
        .expect("docs/secrets.md names the well-known credentials");
    let rest = &doc[start..];
    let bullet = &rest[..rest[2..].find("\n- ").map_or(rest.len(), |i| i + 2)];
    bullet
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_ten_well_known_credentials_are_the_documented_ones_and_masked_everywhere() {
    let code_list: BTreeSet<String> = infracheck::reader::interpolate::WELL_KNOWN_SECRETS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let documented = documented_well_known();
    assert_eq!(
        code_list, documented,
        "docs/secrets.md and the code disagree"
    );
    assert_eq!(code_list.len(), 10, "{code_list:?}");

    // Each variable set to its own sentinel; a command prints them all, the config names none.
    let values: Vec<(String, String)> = code_list
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), format!("WellKnown-Sentinel-{i:02}-x7q")))
        .collect();
    let script: String = code_list
        .iter()
        .map(|n| format!("echo {n}=${n}; "))
        .collect::<String>()
        + "exit 1";
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            "environments:\n  t:\n    command_checks:\n      - {{name: printer, command: [\"sh\", \"-c\", {script:?}]}}\n"
        ),
    );
    let envs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (c, streams, reports) = run_everywhere(&ws, &envs);
    assert_eq!(c, 1, "{streams}");
    for (name, value) in &values {
        assert!(!streams.contains(value.as_str()), "{name}: {streams}");
        assert!(!reports.contains(value.as_str()), "{name}: {reports}");
    }
    // The command's output is in the reports, masked.
    let json = read(&ws.path().join("r.json"));
    assert!(json.contains("GITHUB_TOKEN=***"), "{json}");
    assert!(json.contains("AWS_SECRET_ACCESS_KEY=***"), "{json}");
}
