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

/// `run` reads the config on a thread of its own when the runtime has workers and on the
/// main thread with `--threads 1` (src/app/run.rs `load_plan`): both report a bad config the
/// same way (one line at file:line:column, exit 2) and both run a good one.
#[test]
fn run_reads_the_config_alike_with_and_without_workers() {
    let ws = crate::support::Workspace::new();
    ws.write(
        "bad.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: a, command: [\"true\"], timeout: 5 parsecs}\n",
    );
    ws.write(
        "good.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: a, command: [\"true\"]}\n      - {name: b, command: [\"true\"]}\n",
    );
    let mut errors = Vec::new();
    for threads in [None, Some("1"), Some("2")] {
        let with = |config: &str| {
            let mut args = vec!["run", "-c", config, "--env", "t", "-q"];
            if let Some(n) = threads {
                args.extend(["--threads", n]);
            }
            ws.run(&args, &[])
        };
        let bad = with("bad.yaml");
        assert_eq!(code(&bad), 2, "threads {threads:?}: {}", stderr(&bad));
        assert!(
            stderr(&bad).starts_with("error: bad.yaml:4:47: ") && stderr(&bad).lines().count() == 1,
            "threads {threads:?}: {}",
            stderr(&bad)
        );
        errors.push(stderr(&bad));
        let good = with("good.yaml");
        assert_eq!(code(&good), 0, "threads {threads:?}: {}", stderr(&good));
    }
    errors.dedup();
    assert_eq!(errors.len(), 1, "{errors:?}");
}
