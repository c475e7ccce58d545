//! `infracheck schema`: the printed JSON Schema is a valid draft-07 schema, the shipped
//! `infracheck.yaml` and `examples/demo.yaml` validate against it with Python `jsonschema`
//! (PyYAML reads the YAML; both installed by scripts/test.sh), and a typo key does not.

use std::path::Path;
use std::process::Command;

use crate::support::{Workspace, code, stderr, stdout};

/// Validate each YAML file against the schema; print one `file: path: message` line per error.
const VALIDATE: &str = r#"
import json, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1], encoding="utf-8"))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
bad = 0
for f in sys.argv[2:]:
    doc = yaml.safe_load(open(f, encoding="utf-8"))
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        bad += 1
        print(f"{f}: {'/'.join(map(str, e.path))}: {e.message}")
sys.exit(1 if bad else 0)
"#;

/// Run the validator: (success, its output).
fn validate(schema: &Path, files: &[&Path]) -> (bool, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(schema)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required to validate the schema: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("ModuleNotFoundError"),
        "pip install jsonschema pyyaml (scripts/test.sh does): {text}"
    );
    (out.status.success(), text)
}

fn write_schema(ws: &Workspace) -> std::path::PathBuf {
    let out = ws.run(&["schema"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let schema: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("schema is JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    ws.write("infracheck.schema.json", &stdout(&out))
}

#[test]
fn shipped_configs_validate_against_the_schema() {
    let ws = Workspace::new();
    let schema = write_schema(&ws);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = [
        root.join("infracheck.yaml"),
        root.join("examples/demo.yaml"),
    ];
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, text) = validate(&schema, &refs);
    assert!(ok, "{text}");
}

#[test]
fn typos_and_bad_values_fail_schema_validation() {
    let ws = Workspace::new();
    let schema = write_schema(&ws);
    let good = ws.write(
        "good.yaml",
        r#"max_workers: "${WORKERS}"
defaults: {timeout: 10s, retries: "${RETRIES}"}
checks:
  http_checks:
    - {name: home, url: "https://example.test/", expected_status: [200, 2xx], environments: [prod]}
environments:
  prod:
    vars: {host: db.test}
    tcp_checks:
      - {name: db, host: "${vars.host}", port: 5432, timeout: 2.5, tags: [db, "${TIER}"]}
      - {name: db2, host: "${vars.host}", port: 5432, tags: db}
    tls_checks:
      - {name: cert, host: example.test, warn_days: "${WARN_DAYS}", min_version: "1.2", expect: [cert.days_left > 14]}
      - {name: mtls, host: example.test, client_cert: pki/ci.pem, client_key: pki/ci.key}
    http_checks:
      - {name: via, url: "https://example.test/", proxy: "socks5h://u:${PROXY_PW}@proxy.test"}
      - {name: direct, url: "https://example.test/", proxy: none}
      - name: conditions
        url: "https://example.test/"
        expect:
          - status in [200, 204]
          - header.Content-Type contains json
          - body.$.items[?@.ok == true] exists
          - len(body.$.items) > 0
          - {assert: latency.ttfb < 300ms, severity: warn}
    redis_checks:
      - {name: r, url: "redis://r", expect: ["redis.info.redis_version >= 6.0"]}
    command_checks:
      - {name: c, command: [true], expect: ["stdout.$.a == 1", exit_code == 0]}
"#,
    );
    let (ok, text) = validate(&schema, &[&good]);
    assert!(ok, "{text}");

    let cases = [
        // The typo the validator rejects: a silently ignored key is a false PASS.
        (
            "check-key.yaml",
            "environments:\n  prod:\n    http_checks:\n      - {name: a, url: \"https://x.test/\", expected_staus: 200}\n",
            "expected_staus",
        ),
        (
            "top-key.yaml",
            "enviroments: {}\nenvironments:\n  prod: {}\n",
            "enviroments",
        ),
        (
            "env-key.yaml",
            "environments:\n  prod:\n    http_check: []\n",
            "http_check",
        ),
        (
            "defaults-key.yaml",
            "defaults: {timout: 1s}\nenvironments:\n  prod: {}\n",
            "timout",
        ),
        // `environments:` is only allowed on shared checks.
        (
            "env-filter.yaml",
            "environments:\n  prod:\n    tcp_checks:\n      - {name: a, host: h, port: 1, environments: [prod]}\n",
            "environments",
        ),
        (
            "missing-name.yaml",
            "environments:\n  prod:\n    tcp_checks:\n      - {host: h, port: 1}\n",
            "'name' is a required property",
        ),
        // A tag is a word: `--tags a,b` splits on commas.
        (
            "tag.yaml",
            "environments:\n  prod:\n    tcp_checks:\n      - {name: a, host: h, port: 1, tags: [ok, \"two words\"]}\n",
            "tcp_checks/0/tags: ['ok', 'two words']",
        ),
        // A condition on a value the kind does not observe, and one without an operator.
        (
            "condition-value.yaml",
            "environments:\n  prod:\n    redis_checks:\n      - {name: a, url: \"redis://r\", expect: [\"stdout == 1\"]}\n",
            "redis_checks/0/expect/0",
        ),
        (
            "condition-shape.yaml",
            "environments:\n  prod:\n    http_checks:\n      - {name: a, url: \"https://x.test/\", expect: [\"status==200\"]}\n",
            "http_checks/0/expect/0",
        ),
        (
            "bool.yaml",
            "environments:\n  prod:\n    http_checks:\n      - {name: a, url: \"https://x.test/\", insecure: [true]}\n",
            "insecure",
        ),
    ];
    for (file, yaml, needle) in cases {
        let path = ws.write(file, yaml);
        let (ok, text) = validate(&schema, &[&path]);
        assert!(!ok, "{file} should not validate");
        assert!(text.contains(needle), "{file}: {text}");
        // The validator agrees: the same file is a config error.
        let out = ws.run(&["validate", "-c", file], &[]);
        assert_eq!(code(&out), 2, "{file}: {}", stdout(&out));
    }
}

#[test]
fn an_included_file_validates_against_the_schema_with_its_keys_as_strict() {
    let ws = Workspace::new();
    let schema = write_schema(&ws);
    // The main config only includes; one file has only shared checks and defaults, another
    // only an environment.
    let main = ws.write(
        "infracheck.yaml",
        "include: [team/*.yaml]
",
    );
    let shared = ws.write(
        "team/shared.yaml",
        "defaults: {timeout: 5s}
checks:
  tcp_checks:
    - {name: db, host: db.test, port: 5432}
",
    );
    let envs = ws.write(
        "team/envs.yaml",
        "environments:
  prod: {}
",
    );
    let (ok, text) = validate(&schema, &[&main, &shared, &envs]);
    assert!(ok, "{text}");
    // The validator agrees: the merged config is valid.
    let out = ws.run(&["validate", "-c", "infracheck.yaml"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // An included file is held to the same keys and values as the main one.
    let cases = [
        (
            "team/typo.yaml",
            "checks:
  tcp_checks:
    - {name: a, host: h, port: 1, timout: 1s}
",
            "timout",
        ),
        (
            "team/top.yaml",
            "default: {timeout: 5s}
",
            "default",
        ),
        (
            "team/value.yaml",
            "defaults: {retries: [1]}
",
            "retries",
        ),
        (
            "team/empty.yaml",
            "{}
",
            "{}",
        ),
    ];
    for (file, yaml, needle) in cases {
        let path = ws.write(file, yaml);
        let (ok, text) = validate(&schema, &[&path]);
        assert!(!ok, "{file} should not validate");
        assert!(text.contains(needle), "{file}: {text}");
        std::fs::remove_file(&path).unwrap();
    }
    // A main config missing `environments` altogether is still refused by the validator.
    ws.write("lone.yaml", "checks:\n  tcp_checks: []\n");
    let out = ws.run(&["validate", "-c", "lone.yaml"], &[]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
}
