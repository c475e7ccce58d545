//! Property tests (proptest, stable toolchain) over everything that parses untrusted text:
//! config parsing + validation + interpolation must never panic, and every error must carry a
//! location. The same entry points are the cargo-fuzz targets in `fuzz/`.

use proptest::prelude::*;

use infracheck::config;
use infracheck::reader::interpolate::Interpolator;

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

/// Every line of a config error starts `file:LINE:COLUMN: ` with a line inside the document
/// (or just past its end) and a column of at least 1.
fn located(file: &str, doc: &str, error: &str) -> Result<(), String> {
    if error.is_empty() {
        return Err("empty error".to_owned());
    }
    let last_line = doc.lines().count() + 1;
    for line in error.lines() {
        let rest = line
            .strip_prefix(file)
            .and_then(|r| r.strip_prefix(':'))
            .ok_or(format!("error line without `{file}:`: {line:?}"))?;
        let mut parts = rest.splitn(3, ':');
        let (l, c, tail) = (parts.next(), parts.next(), parts.next());
        let number = |s: Option<&str>| s.and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        let (l, c) = (number(l), number(c));
        if l == 0 || l > last_line || c == 0 || !tail.is_some_and(|t| t.starts_with(' ')) {
            return Err(format!("error line without `{file}:L:C: `: {line:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn config_never_panics_on_structured_input(doc in yamlish()) {
        if let Err(e) = config::load_str("p.yaml", &doc, None, &env) {
            let checked = located("p.yaml", &doc, &e.to_string());
            prop_assert!(checked.is_ok(), "{:?}\n--- config ---\n{}", checked, doc);
        }
    }

    #[test]
    fn config_never_panics_on_arbitrary_text(doc in "\\PC{0,400}") {
        let _ = config::load_str("p.yaml", &doc, Some("prod"), &env);
        if let Err(e) = config::load_str("p.yaml", &doc, None, &env) {
            let checked = located("p.yaml", &doc, &e.to_string());
            prop_assert!(checked.is_ok(), "{:?}\n--- config ---\n{}", checked, doc);
        }
    }

    /// `$${` is the escape of `${`: escaping any text and interpolating it gives the text back,
    /// and nothing was read from a variable.
    #[test]
    fn escaped_text_interpolates_back_to_itself(s in "([$\\{\\}:\\-]|\\PC){0,60}") {
        let vars = std::collections::BTreeMap::from([("h".to_owned(), "v".to_owned())]);
        let used = std::cell::RefCell::new(Vec::new());
        let i = Interpolator { env: &env, vars: &vars, declared_secrets: &[], pending: &[], used: &used };
        let escaped = s.replace("${", "$${");
        let done = i.apply(&escaped);
        prop_assert!(done.is_ok(), "{:?} -> {:?}", escaped, done);
        let done = done.unwrap_or_default();
        prop_assert_eq!(&done.text, &s);
        prop_assert!(done.secrets.is_empty() && done.env_values.is_empty());
    }

    /// A variable's value is substituted verbatim, once, and never interpolated again.
    #[test]
    fn values_are_substituted_verbatim(
        before in "[a-z /:]{0,10}",
        value in "([$\\{\\}]|\\PC){0,30}",
        after in "[a-z /:]{0,10}",
    ) {
        let vars = std::collections::BTreeMap::from([("h".to_owned(), value.clone())]);
        let used = std::cell::RefCell::new(Vec::new());
        let i = Interpolator { env: &env, vars: &vars, declared_secrets: &[], pending: &[], used: &used };
        let done = i.apply(&format!("{before}${{vars.h}}{after}"));
        prop_assert!(done.is_ok(), "{:?}", done);
        prop_assert_eq!(done.unwrap_or_default().text, format!("{before}{value}{after}"));
    }

    #[test]
    fn interpolation_never_panics(s in "[$\\{\\}:\\-a-zA-Z_.]{0,60}") {
        let vars = std::collections::BTreeMap::from([("h".to_owned(), "v".to_owned())]);
        let used = std::cell::RefCell::new(Vec::new());
        let i = Interpolator { env: &env, vars: &vars, declared_secrets: &[], pending: &[], used: &used };
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

    use infracheck::model::{CheckResult, FailedAttempt, Location, Reason, Status, Summary};
    use infracheck::report::{self, Context, RepoPaths, Reporter};

    use crate::support::forged::forged_line;

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
            // Control characters a writer might strip after its `::` guard ran.
            "\u{1b}[1G::add-mask::forged",
            "\n\u{1b}[1G::add-mask::forged",
            "\n\u{0}::error::forged",
            "\n\u{8}::warning::forged",
            "\r\u{7}::add-mask::forged",
            "\n\u{1b}]0;title\u{7}::error::forged",
            "\n\u{1b}[2K\u{1b}[1G::notice::forged",
            "\n\u{9b}1G::add-mask::forged",
            "#\u{0}#[error]forged",
            "#\u{7}#[warning]forged",
            "#\u{1b}#[error]forged",
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
        let location = Location {
            file: "infracheck.yaml".into(),
            line: i + 1,
            column: 1,
        };
        let first = CheckResult::new(
            name,
            "http",
            message.clone(),
            location,
            status,
            reason,
            message.clone(),
        );
        CheckResult {
            duration: Duration::from_millis(12),
            attempts: 2,
            flaky: status == Status::Pass,
            failed_attempts: vec![FailedAttempt {
                reason: Reason::ConnectReset,
                message: message.into(),
                duration: Duration::from_millis(3),
            }]
            .into(),
            metadata: metadata.into(),
            ..first
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
            (
                "html",
                Box::new(report::html::Html {
                    commit: Some("<b>c</b>".to_owned()),
                }),
            ),
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

    /// Every `<details>` is closed, no `</details>` closes what was not opened.
    fn details_balanced(markdown: &str) -> Result<(), String> {
        let mut depth = 0usize;
        let mut rest = markdown;
        while let Some(at) = rest.find("details>") {
            let before = rest.get(..at).unwrap_or("");
            if before.ends_with("</") {
                depth = depth
                    .checked_sub(1)
                    .ok_or("`</details>` without `<details>`")?;
            } else if before.ends_with('<') {
                depth += 1;
            }
            rest = rest.get(at + "details>".len()..).unwrap_or("");
        }
        if depth == 0 {
            Ok(())
        } else {
            Err(format!("{depth} `<details>` left open"))
        }
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
                        r.baseline = Some(Box::new(ResultChange {
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
                        }));
                        r.gate = Some(Box::new(CheckGate {
                            rounds: 3,
                            healthy_round: Some(2),
                            healthy_after: Some(Duration::from_millis(1500)),
                            healthy_at: None,
                            accepted: false,
                        }));
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
                selection: None,
                fail_on: Default::default(),
                baseline,
                gate,
                history: None,
                judgement: infracheck::model::Judgement::UNJUDGED,
            };
            let summary = judged(summary);
            let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
            let cx = Context { summary: &summary, paths: &paths, written: &[] };
            for (name, reporter) in reporters() {
                let bytes = reporter.render(&cx).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                let text = String::from_utf8_lossy(&bytes);
                // Every format a CI step may print to its log: no line a runner would take for
                // a workflow command, even behind control characters (annotations are
                // commands by design and are checked below).
                if matches!(name, "json" | "sarif" | "codequality" | "junit" | "prometheus" | "text" | "tap") {
                    let forged = forged_line(&text);
                    prop_assert!(forged.is_none(), "{}: forged line {:?}", name, forged);
                }
                match name {
                    "json" | "sarif" | "codequality" => {
                        prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(), "{name}: invalid JSON");
                    }
                    "junit" => {
                        prop_assert!(check_xml(&bytes).is_ok(), "junit: {:?}", check_xml(&bytes));
                    }
                    "html" => {
                        // Our own script block is the only one; untrusted text never opens a tag.
                        prop_assert_eq!(text.matches("<script").count(), 1, "html lets a script through");
                        prop_assert!(!text.contains("<b>c") && !text.contains("<img"), "html lets a tag through");
                        prop_assert!(!text.contains("##["), "html: legacy command");
                    }
                    "markdown" => {
                        prop_assert!(!text.contains("<script"), "markdown lets HTML through");
                        prop_assert!(!text.contains("##["), "markdown: legacy command");
                        let balanced = details_balanced(&text);
                        prop_assert!(balanced.is_ok(), "markdown: {:?}", balanced);
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

    /// A summary of `rows` (name, status index) with plain messages, for the round trips.
    fn summary_of(rows: &[(String, Status)], message: &dyn Fn(usize) -> String) -> Summary {
        let results = rows
            .iter()
            .enumerate()
            .map(|(i, (name, status))| result(i, name.clone(), message(i), message(i), *status))
            .collect();
        judged(Summary {
            environment: "prod".to_owned(),
            config_path: "infracheck.yaml".to_owned(),
            started_at: time::OffsetDateTime::UNIX_EPOCH,
            duration: Duration::from_millis(40),
            results,
            fail_on_warn: false,
            interrupted: None,
            shard: None,
            selection: None,
            fail_on: Default::default(),
            baseline: None,
            gate: None,
            history: None,
            judgement: infracheck::model::Judgement::UNJUDGED,
        })
    }

    /// `s` with its verdict decided once, as a run stores it.
    fn judged(mut s: Summary) -> Summary {
        s.judgement =
            infracheck::policy::Policy::new(s.fail_on_warn, s.fail_on, s.baseline.is_some())
                .judge(&s);
        s
    }

    const STATUSES: [Status; 5] = [
        Status::Pass,
        Status::Warn,
        Status::Fail,
        Status::Skip,
        Status::Waived,
    ];

    /// Check names: printable text with the characters formats escape, each made unique by a
    /// `~c<i>~` suffix no generated text contains.
    fn named_rows() -> impl Strategy<Value = Vec<(String, Status)>> {
        prop::collection::vec(("[a-zA-Z0-9 <>&|*_.:/'-]{1,12}", 0usize..5), 1..6).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (n, s))| (format!("{n}~c{i}~"), STATUSES[s]))
                .collect()
        })
    }

    fn render(name: &str, summary: &Summary, written: &[report::Written]) -> Vec<u8> {
        let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
        let cx = Context {
            summary,
            paths: &paths,
            written,
        };
        let reporter = reporters()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no reporter {name}"));
        reporter
            .render(&cx)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A JUnit testcase: its name and its child elements with their `type` attribute.
    type JunitCase = (String, Vec<(String, Option<String>)>);

    /// The testcases of a JUnit document.
    fn junit_cases(bytes: &[u8]) -> Vec<JunitCase> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_reader(bytes);
        let mut buf = Vec::new();
        let mut cases: Vec<JunitCase> = Vec::new();
        let mut in_case = false;
        for _ in 0..100_000 {
            let event = reader.read_event_into(&mut buf).expect("junit parses");
            match event {
                Event::Eof => break,
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    let attr = |key: &str| {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == key.as_bytes())
                            .map(|a| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .expect("attribute")
                                    .into_owned()
                            })
                    };
                    if tag == "testcase" {
                        cases.push((attr("name").unwrap_or_default(), Vec::new()));
                        in_case = matches!(event, Event::Start(_));
                    } else if in_case && let Some(case) = cases.last_mut() {
                        case.1.push((tag, attr("type")));
                    }
                }
                Event::End(ref e) if e.name().as_ref() == b"testcase" => in_case = false,
                _ => {}
            }
            buf.clear();
        }
        cases
    }

    /// The outputs in a `$GITHUB_OUTPUT` file, parsed as the runner does: `key=value` lines and
    /// `key<<DELIMITER` … `DELIMITER` blocks.
    fn parse_outputs(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next() {
            if line.is_empty() {
                continue;
            }
            if let Some((key, delimiter)) = line.split_once("<<") {
                let mut value = Vec::new();
                loop {
                    match lines.next() {
                        Some(l) if l == delimiter => break,
                        Some(l) => value.push(l),
                        None => return Err(format!("`{key}`: no closing {delimiter:?}")),
                    }
                }
                out.push((key.to_owned(), value.join("\n")));
            } else if let Some((key, value)) = line.split_once('=') {
                out.push((key.to_owned(), value.to_owned()));
            } else {
                return Err(format!("not an output line: {line:?}"));
            }
        }
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

        /// Every check comes back out of every format with its name, status and reason, once:
        /// all checks in JSON, JUnit and Prometheus; the FAIL and WARN ones (and only those)
        /// as error/warning annotations, plus the WAIVED ones in SARIF and Code Quality.
        #[test]
        fn every_check_round_trips_through_every_format(rows in named_rows()) {
            let summary = summary_of(&rows, &|i| format!("message {i}"));
            let code = |r: &CheckResult| r.reason.map(|x| x.code().to_owned());
            let loud = |s: Status| matches!(s, Status::Fail | Status::Warn);

            let doc: serde_json::Value = serde_json::from_slice(&render("json", &summary, &[])).expect("json");
            // A name that starts a line with `::` carries an invisible word joiner where a CI
            // log would read it (see `text::neutralise_commands`): compare what a reader sees.
            let visible = |b: Vec<u8>| String::from_utf8(b).expect("utf-8").replace('\u{2060}', "");
            let cases = junit_cases(visible(render("junit", &summary, &[])).as_bytes());
            let sarif: serde_json::Value = serde_json::from_slice(&render("sarif", &summary, &[])).expect("sarif");
            let cq: serde_json::Value = serde_json::from_slice(&render("codequality", &summary, &[])).expect("cq");
            let prom = visible(render("prometheus", &summary, &[]));
            let annotations = visible(render("annotations", &summary, &[]));
            let json_results = doc["results"].as_array().cloned().unwrap_or_default();
            let sarif_results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
            let issues = cq.as_array().cloned().unwrap_or_default();
            prop_assert_eq!(json_results.len(), rows.len());
            prop_assert_eq!(cases.len(), rows.len());

            for r in &summary.results {
                let name = r.name.as_str();
                let status = serde_json::to_value(r.status).expect("status");
                // JSON: the whole result.
                let mine: Vec<_> = json_results.iter().filter(|j| j["name"] == name).collect();
                prop_assert_eq!(mine.len(), 1, "json: {}", name);
                prop_assert_eq!(&mine[0]["status"], &status, "json: {}", name);
                prop_assert_eq!(mine[0]["reason"].as_str().map(str::to_owned), code(r), "json: {}", name);
                // JUnit: one testcase; a FAIL carries a <failure> or <error> typed with the reason.
                let mine: Vec<_> = cases.iter().filter(|c| c.0 == name).collect();
                prop_assert_eq!(mine.len(), 1, "junit: {}", name);
                // (A failure of the check's assertion, or an error reaching the target.)
                let failure = mine[0].1.iter().find(|(tag, _)| tag == "failure" || tag == "error");
                if r.status == Status::Fail {
                    prop_assert_eq!(failure.and_then(|f| f.1.clone()), code(r), "junit: {}", name);
                } else {
                    prop_assert!(failure.is_none(), "junit: {} {:?} has a failure", name, r.status);
                }
                if r.status == Status::Skip {
                    prop_assert!(mine[0].1.iter().any(|(tag, _)| tag == "skipped"), "junit: {}", name);
                }
                // Prometheus: exactly one status series is 1, the check's own status.
                let label = format!("check=\"{name}\"");
                let ones: Vec<&str> = prom
                    .lines()
                    .filter(|l| l.starts_with("infracheck_check_status{") && l.contains(&label) && l.ends_with(" 1"))
                    .collect();
                prop_assert_eq!(ones.len(), 1, "prometheus: {} {:?}", name, ones);
                let want = format!("status=\"{}\"", status.as_str().unwrap_or("").to_lowercase());
                prop_assert!(ones[0].contains(&want), "prometheus: {} {:?}", name, ones);
                // SARIF, Code Quality, annotations: FAIL and WARN only, once each, with the reason.
                let expected = usize::from(loud(r.status));
                let prefix = format!("{name}: ");
                let mine: Vec<_> = sarif_results
                    .iter()
                    .filter(|x| x["message"]["text"].as_str().is_some_and(|t| t.starts_with(&prefix)))
                    .collect();
                // SARIF and Code Quality also keep a waived failure.
                let kept = usize::from(loud(r.status) || r.status == Status::Waived);
                prop_assert_eq!(mine.len(), kept, "sarif: {}", name);
                if let (Some(x), Some(c)) = (mine.first(), code(r)) {
                    prop_assert_eq!(x["ruleId"].as_str().unwrap_or(""), c.replace('.', "/"), "sarif: {}", name);
                }
                let tagged = format!("{name} [{}]", code(r).unwrap_or_default());
                let mine: Vec<_> = issues
                    .iter()
                    .filter(|x| x["description"].as_str().is_some_and(|t| t.starts_with(&tagged)))
                    .collect();
                prop_assert_eq!(mine.len(), kept, "codequality: {}", name);
                // The title is a command property: escaped as actions/toolkit does.
                let escaped = tagged
                    .replace('%', "%25")
                    .replace('\r', "%0D")
                    .replace('\n', "%0A")
                    .replace(':', "%3A")
                    .replace(',', "%2C");
                let title = format!("title={escaped}::");
                let level = if r.status == Status::Fail { "::error " } else { "::warning " };
                let lines = annotations.lines().filter(|l| l.starts_with(level) && l.contains(&title)).count();
                prop_assert_eq!(lines, expected, "annotations: {}", name);
            }
        }

        /// A secret, once redacted, reaches no format: wherever it was in a result, in no
        /// spelling a format could give it (escaped, upper-cased, percent-encoded).
        #[test]
        fn a_redacted_secret_reaches_no_format(
            rows in prop::collection::vec((hostile(), hostile(), 0usize..5, 0usize..4), 1..5),
        ) {
            const SECRET: &str = "Sentinel-Secret-93f1";
            let with_secret = |text: &str, at: usize| {
                let cut = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
                format!("{}{SECRET}{}", &text[..cut], &text[cut..])
            };
            let mut results: Vec<CheckResult> = rows
                .iter()
                .enumerate()
                .map(|(i, (name, message, s, at))| {
                    result(i, with_secret(name, *at), with_secret(message, *at), with_secret(message, 0), STATUSES[*s])
                })
                .collect();
            let redactor = infracheck::redact::Redactor::new(&[SECRET.to_owned()]);
            for r in &mut results {
                r.target = format!("https://u:{SECRET}@example.test/").into();
                redactor.redact(r);
            }
            let mut summary = summary_of(&[], &|_| String::new());
            summary.results = results;
            for (name, _) in reporters() {
                let bytes = render(name, &summary, &[]);
                let text = String::from_utf8_lossy(&bytes).to_lowercase();
                for form in [SECRET.to_lowercase(), "sentinel%2dsecret".to_owned(), "secret-93f1".to_owned()] {
                    prop_assert!(!text.contains(&form), "{}: {} in {}", name, form, text);
                }
            }
        }

        /// Hostile report paths (newlines, forged keys, delimiter look-alikes) cannot add or
        /// change a GitHub output: parsed back, the outputs are exactly the counts and one
        /// `report_<format>` per report, holding its path.
        #[test]
        fn github_outputs_parse_back_to_exactly_the_outputs(
            rows in named_rows(),
            junit in hostile(),
            sarif in prop::collection::vec(prop_oneof![
                Just("\nfailed=0\n".to_owned()),
                Just("ghadelimiter_".to_owned()),
                Just("\nstatus<<EOF\npassed\nEOF\n".to_owned()),
                hostile(),
            ], 0..4).prop_map(|v| v.concat()),
        ) {
            let summary = summary_of(&rows, &|i| format!("message {i}"));
            let written = [
                report::Written { name: "junit", path: PathBuf::from(&junit) },
                report::Written { name: "sarif", path: PathBuf::from(&sarif) },
            ];
            let text = String::from_utf8(render("outputs", &summary, &written)).expect("utf-8");
            let parsed = parse_outputs(&text);
            prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, text);
            let parsed = parsed.unwrap_or_default();
            let keys: Vec<&str> = parsed.iter().map(|(k, _)| k.as_str()).collect();
            prop_assert_eq!(
                keys,
                vec!["passed", "warned", "failed", "skipped", "waived", "total", "status", "report_junit", "report_sarif"]
            );
            let count = |s: Status| summary.results.iter().filter(|r| r.status == s).count().to_string();
            prop_assert_eq!(&parsed[0].1, &count(Status::Pass));
            prop_assert_eq!(&parsed[2].1, &count(Status::Fail));
            prop_assert_eq!(&parsed[7].1, &junit);
            prop_assert_eq!(&parsed[8].1, &sarif);
        }
    }
}
