//! `--prometheus PATH` on `run` and `merge`: the file is parsed by the reference Python client's
//! text parser (`prometheus_client`, installed by scripts/test.sh; a missing package fails the
//! test), and linted by Prometheus's own `promtool check metrics` (Debian's `prometheus`
//! package, installed by scripts/test.sh; missing, it fails the test), against an
//! `openssl s_server` for the certificate expiry and a closed port for a FAIL.

use std::path::Path;
use std::process::Command;

use time::{Duration, OffsetDateTime};

use crate::support::tls_server::{Pki, Signer, TlsServer};
use crate::support::{Workspace, code, stderr, stdout};

/// Parse a textfile with `prometheus_client.parser` and return every sample as
/// `[name, labels, value]`.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
samples = []
for family in text_string_to_metric_families(text):
    assert family.type == "gauge", (family.name, family.type)
    assert family.documentation, family.name
    for s in family.samples:
        samples.append([s.name, s.labels, s.value])
print(json.dumps(samples))
"#;

/// `promtool check metrics` accepts `text` (the exposition format and its naming lints).
pub(crate) fn promtool_accepts(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool (Debian's prometheus package; scripts/test.sh installs it): {e}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics refused the exposition:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn parse(file: &Path) -> Vec<(String, serde_json::Value, f64)> {
    promtool_accepts(&std::fs::read_to_string(file).unwrap_or_default());
    let out = Command::new("python3")
        .arg("-c")
        .arg(PARSE)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required to parse the metrics: {e}"));
    assert!(
        out.status.success(),
        "prometheus_client could not parse {} (pip install prometheus_client; scripts/test.sh does):\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    let doc: Vec<(String, serde_json::Value, f64)> =
        serde_json::from_slice(&out.stdout).expect("parser output");
    doc
}

pub(crate) fn value(
    samples: &[(String, serde_json::Value, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .map(|(_, _, v)| *v)
}

const ODD: &str = "odd \"quoted\" back\\slash\nsecond line";

#[test]
fn metrics_parse_with_escaping_and_certificate_expiry() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let not_after =
        OffsetDateTime::from_unix_timestamp(now.unix_timestamp() + 50 * 86_400).expect("not_after");
    let (c, k) = pki.leaf(
        "metrics",
        &["app.test", "127.0.0.1"],
        now - Duration::days(1),
        not_after,
        Signer::Ca,
    );
    let server = TlsServer::start(&c, &k, None, &[]);
    let closed_held = crate::support::closed_port();
    let closed = closed_held.port;
    let ca = pki.ca_file();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    http_checks:
      - {{name: site, url: "https://127.0.0.1:{p}/", ca_file: "{ca}"}}
    tls_checks:
      - {{name: cert, host: 127.0.0.1, port: {p}, server_name: app.test, ca_file: "{ca}"}}
    tcp_checks:
      - {{name: "odd \"quoted\" back\\slash\nsecond line", host: 127.0.0.1, port: {closed}}}
"#,
            p = server.port,
            ca = ca.display(),
        ),
    );
    let out = ws.run(
        &[
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--prometheus",
            "metrics.prom",
            "--json",
            "run.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let file = ws.path().join("metrics.prom");
    let samples = parse(&file);

    // One-hot status per check, with the odd name round-tripping through the escaping.
    let status = |check: &str, st: &str| {
        value(
            &samples,
            "infracheck_check_status",
            &[("environment", "t"), ("check", check), ("status", st)],
        )
    };
    assert_eq!(status("site", "pass"), Some(1.0), "{samples:?}");
    assert_eq!(status("site", "fail"), Some(0.0));
    assert_eq!(status("cert", "pass"), Some(1.0));
    assert_eq!(status(ODD, "fail"), Some(1.0), "{samples:?}");
    assert_eq!(status(ODD, "pass"), Some(0.0));
    let kinds: Vec<&str> = samples
        .iter()
        .filter(|(n, l, _)| n == "infracheck_check_attempts" && l["check"] == ODD)
        .filter_map(|(_, l, _)| l["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["tcp"]);

    // Certificate expiry from both the https check and the tls check; none for tcp.
    let expiry = |check: &str| {
        value(
            &samples,
            "infracheck_check_certificate_expiry_timestamp_seconds",
            &[("check", check)],
        )
    };
    let expected = not_after.unix_timestamp() as f64;
    assert_eq!(expiry("site"), Some(expected), "{samples:?}");
    assert_eq!(expiry("cert"), Some(expected));
    assert_eq!(expiry(ODD), None);

    // Run-level numbers.
    let count = |st: &str| value(&samples, "infracheck_checks", &[("status", st)]);
    assert_eq!(count("pass"), Some(2.0));
    assert_eq!(count("warn"), Some(0.0));
    assert_eq!(count("fail"), Some(1.0));
    assert_eq!(value(&samples, "infracheck_run_success", &[]), Some(0.0));
    let started = value(&samples, "infracheck_run_timestamp_seconds", &[]).expect("timestamp");
    assert!(
        (started - now.unix_timestamp() as f64).abs() < 3600.0,
        "{started}"
    );
    assert!(value(&samples, "infracheck_run_duration_seconds", &[]).is_some());
    assert_eq!(
        value(&samples, "infracheck_check_attempts", &[("check", "site")]),
        Some(1.0)
    );
    assert!(
        value(
            &samples,
            "infracheck_check_duration_seconds",
            &[("check", "cert")]
        )
        .is_some()
    );
    // Phases: the https check's new connection (no lookup: an IP literal), the tls check's
    // handshake, the refused tcp check's nothing but a connect attempt; each within the check.
    let phase = |check: &str, p: &str| {
        value(
            &samples,
            "infracheck_check_phase_seconds",
            &[("environment", "t"), ("check", check), ("phase", p)],
        )
    };
    for p in ["connect", "tls", "ttfb", "transfer"] {
        let v = phase("site", p).unwrap_or_else(|| panic!("site {p}: {samples:?}"));
        assert!(v >= 0.0, "{p} {v}");
    }
    assert_eq!(phase("site", "dns"), None, "an IP literal is not looked up");
    assert!(phase("cert", "handshake").is_some(), "{samples:?}");
    assert_eq!(phase(ODD, "banner"), None);
    for check in ["site", "cert"] {
        let total = value(
            &samples,
            "infracheck_check_duration_seconds",
            &[("check", check)],
        )
        .expect("duration");
        let sum: f64 = samples
            .iter()
            .filter(|(n, l, _)| n == "infracheck_check_phase_seconds" && l["check"] == check)
            .map(|(_, _, v)| v)
            .sum();
        // Microsecond rounding of each figure is the only slack.
        assert!(sum <= total + 1e-5, "{check}: {sum} > {total}");
    }
    // Written atomically: no temp file left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(ws.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // `merge` writes the same metrics from the JSON document (metadata included).
    let merged = ws.run(&["merge", "run.json", "--prometheus", "merged.prom"], &[]);
    assert_eq!(code(&merged), 1, "{}", stderr(&merged));
    let merged = parse(&ws.path().join("merged.prom"));
    let m_status = value(
        &merged,
        "infracheck_check_status",
        &[("check", ODD), ("status", "fail")],
    );
    assert_eq!(m_status, Some(1.0), "{merged:?}");
    assert_eq!(
        value(
            &merged,
            "infracheck_check_phase_seconds",
            &[("check", "cert"), ("phase", "handshake")]
        ),
        phase("cert", "handshake"),
        "the phases read back from the JSON document"
    );
    assert_eq!(
        value(
            &merged,
            "infracheck_check_certificate_expiry_timestamp_seconds",
            &[("check", "site")]
        ),
        Some(expected)
    );
}
