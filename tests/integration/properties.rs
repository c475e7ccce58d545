//! Property tests (proptest, stable toolchain) over everything that parses untrusted text:
//! config parsing + validation + interpolation must never panic, and every error must carry a
//! location. The same entry points are the cargo-fuzz targets in `fuzz/`.

use proptest::prelude::*;

use infracheck::config;
use infracheck::config::interpolate::Interpolator;

const KEYS: &[&str] = &[
    "max_workers",
    "concurrency",
    "defaults",
    "vars",
    "secrets",
    "checks",
    "environments",
    "prod",
    "http_checks",
    "name",
    "url",
    "expected_status",
    "body_contains",
    "timeout",
    "retries",
    "retry_delay",
    "json",
    "path",
    "equals",
    "headers",
    "method",
    "warn_latency",
    "fail_latency",
    "follow_redirects",
    "max_redirects",
    "ca_file",
    "body_regex",
    "response_headers",
    "environments",
    "expected_staus",
];
const VALUES: &[&str] = &[
    "1",
    "0",
    "-1",
    "10s",
    "500ms",
    "2xx",
    "[200, 301]",
    "https://a.example.com/",
    "x",
    "${HOME}",
    "${NOPE}",
    "${vars.h}",
    "${X:-d}",
    "${",
    "$${x}",
    "true",
    "~",
    "{}",
    "[]",
    "\"\\u0000\"",
    "'::error::x'",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "&a",
    "*a",
    "!!binary x",
    "999999999999999999999",
    "1e400",
    "\"%0A\"",
    "(unclosed",
];

/// YAML-ish documents built from config keys and tricky values, nested by indentation.
fn yamlish() -> impl Strategy<Value = String> {
    let line = (
        0usize..4,
        0..KEYS.len(),
        0..VALUES.len(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(depth, k, v, dash, nested)| {
            let indent = "  ".repeat(depth);
            let dash = if dash { "- " } else { "" };
            let key = KEYS.get(k).copied().unwrap_or("x");
            let value = if nested {
                ""
            } else {
                VALUES.get(v).copied().unwrap_or("")
            };
            format!("{indent}{dash}{key}: {value}\n")
        });
    prop::collection::vec(line, 0..40).prop_map(|lines| lines.concat())
}

fn env(name: &str) -> Option<String> {
    (name == "HOME").then(|| "/root".to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn config_never_panics_on_structured_input(doc in yamlish()) {
        match config::load_str("p.yaml", &doc, None, &env) {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.is_empty());
                for line in text.lines() {
                    prop_assert!(line.starts_with("p.yaml"), "error without location: {line}");
                }
            }
        }
    }

    #[test]
    fn config_never_panics_on_arbitrary_text(doc in "\\PC{0,400}") {
        let _ = config::load_str("p.yaml", &doc, Some("prod"), &env);
    }

    #[test]
    fn interpolation_never_panics(s in "[$\\{\\}:\\-a-zA-Z_.]{0,60}") {
        let vars = std::collections::BTreeMap::from([("h".to_owned(), "v".to_owned())]);
        let i = Interpolator { env: &env, vars: &vars, declared_secrets: &[] };
        if let Ok(done) = i.apply(&s) {
            // Without any `$`, interpolation is the identity.
            if !s.contains('$') {
                prop_assert_eq!(done.text, s);
            }
        }
    }
}

mod reports {
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use proptest::prelude::*;

    use infracheck::report::{self, Context, RepoPaths, Reporter};
    use infracheck::result::{CheckResult, FailedAttempt, Location, Reason, Status, Summary};

    /// Hostile fragments mixed with arbitrary text.
    fn hostile() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "\n::add-mask::x",
            "::set-output name=a::b",
            "##[error]forged",
            "\r\n::error::x",
            "</details><script>alert(1)</script>",
            "|",
            "%0A::warning::x",
            "a:b,c",
            "]]>",
            "<![CDATA[",
            "&amp;",
            "\u{0}",
            "\u{1b}[31m",
            "\u{feff}",
            "\u{2028}",
            "`",
            "*_~",
            "\u{fffe}",
            "\"'",
            "<!--",
            "\\",
            "\t",
        ]);
        prop::collection::vec(
            prop_oneof![
                pieces.prop_map(str::to_owned),
                "\\PC{0,12}",
                any::<String>()
            ],
            0..6,
        )
        .prop_map(|v| v.concat())
    }

    fn result(
        i: usize,
        name: String,
        message: String,
        excerpt: String,
        status: Status,
    ) -> CheckResult {
        let reason = match status {
            Status::Pass => None,
            Status::Warn => Some(Reason::HttpLatency),
            Status::Fail | Status::Waived => Some(if i.is_multiple_of(2) {
                Reason::HttpStatus
            } else {
                Reason::Timeout
            }),
            Status::Skip => Some(Reason::Blocked),
        };
        let mut metadata = BTreeMap::new();
        metadata.insert(
            "body_excerpt".to_owned(),
            serde_json::Value::String(excerpt),
        );
        CheckResult {
            name,
            kind: "http",
            target: message.clone(),
            status,
            reason,
            message: message.clone(),
            duration: Duration::from_millis(12),
            attempts: 2,
            flaky: status == Status::Pass,
            failed_attempts: vec![FailedAttempt {
                reason: Reason::ConnectReset,
                message,
                duration: Duration::from_millis(3),
            }],
            metadata,
            location: Location {
                file: "infracheck.yaml".to_owned(),
                line: i + 1,
                column: 1,
            },
            baseline: None,
            gate: None,
        }
    }

    fn reporters() -> Vec<(&'static str, Box<dyn Reporter>)> {
        vec![
            ("json", Box::new(report::json::Json)),
            ("junit", Box::new(report::junit::Junit)),
            ("sarif", Box::new(report::sarif::Sarif)),
            ("markdown", Box::new(report::markdown::Markdown)),
            ("codequality", Box::new(report::codequality::CodeQuality)),
            ("annotations", Box::new(report::github::Annotations)),
            ("prometheus", Box::new(report::prometheus::Prometheus)),
            ("tap", Box::new(report::tap::Tap)),
            (
                "text",
                Box::new(report::text::Text {
                    style: report::text::Style { color: false },
                }),
            ),
            ("outputs", Box::new(report::github::Outputs)),
        ]
    }

    /// One line of the Prometheus text format: a comment, or `name{label="value",…} number`
    /// where label values hold only the escapes `\\`, `\"` and `\n`.
    fn check_prometheus_line(line: &str) -> Result<(), String> {
        if line.starts_with("# HELP infracheck_") || line.starts_with("# TYPE infracheck_") {
            return Ok(());
        }
        let (name, rest) = line.split_once('{').ok_or(format!("no labels: {line:?}"))?;
        if !name.starts_with("infracheck_")
            || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            return Err(format!("bad metric name: {line:?}"));
        }
        let mut chars = rest.chars();
        loop {
            let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
            if label.is_empty() || !label.chars().all(|c| c.is_ascii_lowercase()) {
                return Err(format!("bad label name {label:?}: {line:?}"));
            }
            if chars.next() != Some('"') {
                return Err(format!("unquoted value: {line:?}"));
            }
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('\\' | '"' | 'n') => {}
                        other => return Err(format!("bad escape {other:?}: {line:?}")),
                    },
                    Some('"') => break,
                    Some(_) => {}
                    None => return Err(format!("unterminated value: {line:?}")),
                }
            }
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                other => return Err(format!("unexpected {other:?}: {line:?}")),
            }
        }
        let value: String = chars.collect();
        let value = value
            .strip_prefix(' ')
            .ok_or(format!("no value: {line:?}"))?;
        value
            .parse::<f64>()
            .map(|_| ())
            .map_err(|e| format!("{e}: {line:?}"))
    }

    fn check_xml(bytes: &[u8]) -> Result<(), String> {
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut buf = Vec::new();
        for _ in 0..100_000 {
            match reader.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Eof) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            buf.clear();
        }
        Err("too many events".to_owned())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

        #[test]
        fn every_format_stays_well_formed_and_unforgeable(
            env in hostile(),
            rows in prop::collection::vec((hostile(), hostile(), hostile(), 0u8..5), 1..5),
            compared in prop::option::of((hostile(), hostile())),
        ) {
            use infracheck::baseline::{BaselineSummary, Change, ResultChange, CertCountdown};
            use infracheck::gate::{CheckGate, GateSummary};
            let gated = compared.is_some();
            let results: Vec<CheckResult> = rows
                .into_iter()
                .enumerate()
                .map(|(i, (name, message, excerpt, s))| {
                    let status = [Status::Pass, Status::Warn, Status::Fail, Status::Skip, Status::Waived][usize::from(s)];
                    let mut r = result(i, format!("{name}-{i}"), message, excerpt.clone(), status);
                    if gated {
                        // Baseline and gate fields hold text from an earlier document: hostile too.
                        r.baseline = Some(ResultChange {
                            change: [Change::New, Change::Still, Change::Recovered, Change::Unchanged][i % 4],
                            previous_status: Some(Status::Pass),
                            previous_duration: Some(Duration::from_millis(1)),
                            latency_ratio: Some(40.0),
                            latency_regression: true,
                            certificate: Some(CertCountdown {
                                days_left: 3,
                                not_after: excerpt.clone(),
                                previous_days_left: Some(30),
                                previous_not_after: Some(excerpt),
                                renewed: false,
                            }),
                        });
                        r.gate = Some(CheckGate {
                            rounds: 3,
                            healthy_round: Some(2),
                            healthy_after: Some(Duration::from_millis(1500)),
                            healthy_at: None,
                            accepted: false,
                        });
                    }
                    r
                })
                .collect();
            let baseline = compared.map(|(path, removed)| BaselineSummary {
                path,
                started_at: "1970-01-01T00:00:00Z".to_owned(),
                new: 1,
                still: 1,
                recovered: 1,
                unchanged: 1,
                not_in_baseline: 0,
                removed: vec![removed],
                latency_regressions: 1,
                latency_factor: 2.0,
                latency_min_increase: Duration::from_millis(100),
            });
            let gate = gated.then(|| GateSummary {
                interval: Duration::from_secs(5),
                deadline: Duration::from_secs(300),
                rounds: 3,
                healthy: true,
                healthy_after: Some(Duration::from_millis(1500)),
            });
            let summary = Summary {
                environment: env,
                config_path: "infracheck.yaml".to_owned(),
                started_at: time::OffsetDateTime::UNIX_EPOCH,
                duration: Duration::from_millis(40),
                results,
                fail_on_warn: false,
                interrupted: None,
                shard: None,
                fail_on: Default::default(),
                baseline,
                gate,
            };
            let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
            let cx = Context { summary: &summary, paths: &paths, written: &[] };
            for (name, reporter) in reporters() {
                let bytes = reporter.render(&cx).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                let text = String::from_utf8_lossy(&bytes);
                match name {
                    "json" | "sarif" | "codequality" => {
                        prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(), "{name}: invalid JSON");
                    }
                    "junit" => {
                        prop_assert!(check_xml(&bytes).is_ok(), "junit: {:?}", check_xml(&bytes));
                    }
                    "markdown" => {
                        prop_assert!(!text.contains("<script"), "markdown lets HTML through");
                        prop_assert!(!text.contains("##["), "markdown: legacy command");
                    }
                    "text" => {
                        // One line per result plus the header and summary lines: nothing a
                        // hostile name, message or baseline path adds can start a new line.
                        for line in text.lines() {
                            prop_assert!(!line.trim_start().starts_with("::"), "text: command line {line:?}");
                            prop_assert!(!line.contains("##["), "text: legacy command {line:?}");
                        }
                    }
                    "tap" => {
                        // Every line is TAP's own: the version, the plan, a test point, a
                        // diagnostics line or the closing comment; one test point per result.
                        let mut points = 0;
                        for line in text.split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']) {
                            prop_assert!(!line.trim_start().starts_with("::"), "tap: command line {line:?}");
                            prop_assert!(!line.contains("##["), "tap: legacy command {line:?}");
                            let known = line.is_empty() || line == "TAP version 14" || line.starts_with("1..")
                                || line.starts_with("ok ") || line.starts_with("not ok ")
                                || line.starts_with("  ") || line.starts_with("# infracheck ");
                            prop_assert!(known, "tap: forged line {line:?}");
                            if line.starts_with("ok ") || line.starts_with("not ok ") {
                                points += 1;
                            }
                        }
                        prop_assert_eq!(points, summary.results.len(), "tap: one test point per result");
                    }
                    "prometheus" => {
                        for line in text.lines() {
                            let checked = check_prometheus_line(line);
                            prop_assert!(checked.is_ok(), "prometheus: {:?}", checked);
                        }
                    }
                    _ => {}
                }
                // Annotations are printed to the CI log: every line must be infracheck's own
                // command. (Report files are not parsed for commands by the runner.)
                if name == "annotations" {
                    for line in text.split(['\n', '\r']) {
                        let t = line.trim_start();
                        prop_assert!(!t.contains("##["), "legacy command in {line:?}");
                        prop_assert!(
                            t.is_empty() || t.starts_with("::error ") || t.starts_with("::warning ")
                                || t.starts_with("::notice"),
                            "annotations: forged line {line:?}"
                        );
                    }
                }
            }
        }
    }
}
