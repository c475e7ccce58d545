//! The command line a newcomer types: `init`, and global options before or after the
//! subcommand.

use crate::support::{Workspace, code, read, stderr, stdout};

fn passing_config(ws: &Workspace, name: &str) -> std::net::TcpListener {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    ws.write(
        name,
        &format!("environments:\n  t:\n    tcp_checks:\n      - {{name: up, host: 127.0.0.1, port: {port}}}\n"),
    );
    l
}

#[test]
fn global_options_work_before_and_after_the_subcommand() {
    let ws = Workspace::new();
    let _held = passing_config(&ws, "infracheck.yaml");
    let _other = passing_config(&ws, "other.yaml");
    for args in [
        &["-v", "validate"][..],
        &["validate", "-v"],
        &["-q", "list", "--env", "t"],
        &["list", "-q", "--env", "t"],
        &["--color", "never", "validate"],
        &["validate", "--color", "never"],
        &["--config", "other.yaml", "validate", "--env", "t"],
        &["validate", "--config", "other.yaml", "--env", "t"],
        &["-c", "other.yaml", "list", "--env", "t"],
        &["-q", "run", "--env", "t"],
        &["run", "-q", "--env", "t"],
        &["-q", "--env", "t"],
    ] {
        let o = ws.run(args, &[]);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    }
    // `--config` before the subcommand is the file it reads.
    let o = ws.run(&["--config", "missing.yaml", "validate"], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.yaml"), "{}", stderr(&o));
    // -q before `run` means quiet: no log lines, only the report.
    let o = ws.run(&["-q", "run", "--env", "t"], &[]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // A `run` option before another subcommand is a usage error that says where it belongs.
    let o = ws.run(&["--env", "t", "validate"], &[]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--env must come after `validate`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn init_writes_a_starter_that_validates_and_prints_each_ci_snippet() {
    let ws = Workspace::new();
    let o = ws.run(&["init"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let config = read(&ws.path().join("infracheck.yaml"));
    assert!(config.starts_with("# yaml-language-server: $schema=./infracheck.schema.json\n"));
    for kind in [
        "http_checks",
        "tcp_checks",
        "tls_checks",
        "dns_checks",
        "command_checks",
    ] {
        assert!(config.contains(kind), "{kind} in the starter");
    }
    let schema: serde_json::Value =
        serde_json::from_str(&read(&ws.path().join("infracheck.schema.json"))).unwrap();
    assert!(schema["definitions"].is_object());
    assert!(
        stderr(&o).contains("wrote infracheck.yaml"),
        "{}",
        stderr(&o)
    );
    let v = ws.run(&["validate"], &[]);
    assert_eq!(code(&v), 0, "the starter validates: {}", stderr(&v));

    // Never overwritten, whatever is there: plain `init` refuses (exit 2); `init --ci` keeps
    // the file, says so and still prints its snippet (exit 0).
    std::fs::write(ws.path().join("infracheck.yaml"), "mine\n").unwrap();
    let again = ws.run(&["init"], &[]);
    assert_eq!(code(&again), 2);
    assert!(
        stderr(&again).contains("infracheck.yaml already exists: not overwriting it"),
        "{}",
        stderr(&again)
    );
    assert_eq!(read(&ws.path().join("infracheck.yaml")), "mine\n");
    assert!(stdout(&again).is_empty());
    let with_ci = ws.run(&["init", "--ci", "github"], &[]);
    assert_eq!(code(&with_ci), 0, "{}", stderr(&with_ci));
    assert!(
        stderr(&with_ci)
            .contains("infracheck.yaml already exists: left unchanged, nothing written"),
        "{}",
        stderr(&with_ci)
    );
    assert_eq!(read(&ws.path().join("infracheck.yaml")), "mine\n");
    assert!(stdout(&with_ci).contains("uses: OWNER/infracheck@"));

    for (ci, file, needle) in [
        (
            "github",
            "docs/ci/github-workflow.yml",
            ".github/workflows/infracheck.yml",
        ),
        ("gitlab", "docs/ci/gitlab-ci.yml", ".gitlab-ci.yml"),
        ("jenkins", "docs/ci/Jenkinsfile", "Jenkinsfile"),
    ] {
        let o = ws.run(
            &[
                "init",
                "--ci",
                ci,
                "--config",
                &format!("{ci}/infracheck.yaml"),
            ],
            &[],
        );
        assert_eq!(code(&o), 0, "{ci}: {}", stderr(&o));
        let shipped =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                .unwrap();
        assert!(stdout(&o).contains(&shipped), "{ci}: the shipped snippet");
        assert!(stdout(&o).contains(needle), "{ci}");
        assert!(ws.path().join(ci).join("infracheck.yaml").is_file());
    }
}
