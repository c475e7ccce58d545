//! The bodies of the fuzz targets, shared by `fuzz_targets/*.rs` (libFuzzer) and by the
//! integration test that replays `fuzz/corpus/<target>/` under an ordinary `cargo test`
//! (`tests/integration/fuzz_corpus.rs`): one definition, so the replay runs exactly what the
//! fuzzer runs. Each function panics when the property it guards breaks.

#![allow(
    dead_code,
    reason = "each fuzz target binary calls one of these functions"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use infracheck::model::{CheckResult, Location, Reason, Status, Summary};
use infracheck::report::{self, Context, RepoPaths, Reporter};

/// A fuzz target's body: panics when its property breaks.
pub type Target = fn(&[u8]);

/// The fuzz targets by corpus directory name, for the replay.
pub const TARGETS: [(&str, Target); 2] = [("config", config), ("reports", reports)];

/// Config parsing + validation + interpolation must never panic, whatever the bytes, and every
/// error line names the file.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = |name: &str| (name == "HOME").then(|| "/root".to_owned());
        if let Err(e) = infracheck::config::load_str("fuzz.yaml", text, None, &env) {
            let msg = e.to_string();
            assert!(msg.lines().all(|l| l.starts_with("fuzz.yaml")), "{msg}");
        }
    }
}

/// Any string in any result field must give well-formed JSON/SARIF/Code Quality, JUnit XML
/// that parses, markdown without raw HTML, and annotations that cannot forge a command. The
/// input is the fields separated by U+001F.
pub fn reports(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}');
    let mut next = || parts.next().unwrap_or("").to_owned();
    let env = next();
    let mut results = Vec::new();
    for (i, status) in [Status::Fail, Status::Warn, Status::Pass]
        .into_iter()
        .enumerate()
    {
        let mut metadata = BTreeMap::new();
        metadata.insert("body_excerpt".to_owned(), serde_json::Value::String(next()));
        // The fuzz input is read in the order of the fields: name, target, message, detail.
        let (name, target, message) = (format!("{}-{i}", next()), next(), next());
        let location = Location {
            file: "infracheck.yaml".into(),
            line: i + 1,
            column: 1,
        };
        let reason = (status != Status::Pass).then_some(Reason::HttpStatus);
        results.push(CheckResult {
            detail: Some(Box::new(next().into())),
            duration: Duration::from_millis(5),
            attempts: 1,
            metadata: metadata.into(),
            ..CheckResult::new(name, "http", target, location, status, reason, message)
        });
    }
    let summary = Summary {
        environment: env,
        config_path: "infracheck.yaml".to_owned(),
        started_at: time::OffsetDateTime::UNIX_EPOCH,
        duration: Duration::from_millis(5),
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
    };
    let mut summary = summary;
    summary.judgement =
        infracheck::policy::Policy::new(false, Default::default(), false).judge(&summary);
    let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
    let cx = Context {
        summary: &summary,
        paths: &paths,
        written: &[],
    };
    for r in [
        &report::json::Json as &dyn Reporter,
        &report::sarif::Sarif,
        &report::codequality::CodeQuality,
    ] {
        let bytes = r.render(&cx).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
    }
    let xml = report::junit::Junit.render(&cx).unwrap();
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            quick_xml::events::Event::Eof => break,
            _ => buf.clear(),
        }
    }
    let md = report::markdown::Markdown.render(&cx).unwrap();
    assert!(!String::from_utf8_lossy(&md).contains("<script"));
    let ann = report::github::Annotations.render(&cx).unwrap();
    for line in String::from_utf8_lossy(&ann).split(['\n', '\r']) {
        let t = line.trim_start();
        assert!(!t.contains("##["));
        assert!(
            t.is_empty()
                || t.starts_with("::error ")
                || t.starts_with("::warning ")
                || t.starts_with("::notice")
        );
    }
}
