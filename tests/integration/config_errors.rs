//! The invalid-config corpus: every file in tests/fixtures/invalid/*.yaml has a sibling
//! `.expected` holding the exact stderr; each exits 2. They run with `--require-env`, so an
//! unset variable is an error like the rest (without it `validate` notes it and goes on:
//! tests/integration/fleet.rs).

use crate::support::{code, run_in, stderr};

#[test]
fn invalid_config_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "corpus too small: {}", entries.len());
    let mut failures = Vec::new();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        let out = run_in(
            &dir,
            &["validate", "--require-env", "--config", &name],
            &[("INFRACHECK_TEST_SET", "value")],
        );
        if code(&out) != 2 {
            failures.push(format!("{name}: exit {} (want 2)", code(&out)));
        }
        if stderr(&out) != expected {
            failures.push(format!(
                "{name}: stderr differs\n--- got\n{}--- want\n{}",
                stderr(&out),
                expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
