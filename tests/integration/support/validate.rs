//! Validate report files against the official schemas copied into `tests/schemas/` (sources
//! and licences in `tests/schemas/README.md`). A missing validator fails the test: these checks
//! never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::require_bin;

/// The schema directory, inside the repository.
pub fn schemas() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas");
    assert!(
        dir.join("junit-10-extended.xsd").is_file()
            && dir.join("sarif-schema-2.1.0.json").is_file(),
        "the schemas are missing from {}",
        dir.display()
    );
    dir
}

/// `xmllint --noout --schema junit-10-extended.xsd <file>` must succeed.
pub fn junit(file: &Path) {
    let xmllint = require_bin("xmllint", &["/usr/bin/xmllint"], "libxml2-utils");
    let out = Command::new(xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(schemas().join("junit-10-extended.xsd"))
        .arg(file)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{} does not validate:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

const SARIF_CHECK: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1], encoding="utf-8"))
doc = json.load(open(sys.argv[2], encoding="utf-8"))
jsonschema.Draft7Validator.check_schema(schema)
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print("/".join(map(str, e.path)), e.message)
sys.exit(1 if errors else 0)
"#;

/// Python `jsonschema` against the OASIS SARIF 2.1.0 schema, plus GitHub's ingestion rules.
pub fn sarif(file: &Path) {
    // python3 from PATH: the interpreter `pip install jsonschema` installed into.
    let out = Command::new("python3")
        .arg("-c")
        .arg(SARIF_CHECK)
        .arg(schemas().join("sarif-schema-2.1.0.json"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required to validate SARIF: {e}"));
    assert!(
        out.status.success(),
        "{} does not validate (pip install jsonschema; scripts/test.sh does):\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // GitHub's SARIF ingestion rules (docs.github.com, "SARIF support for code scanning"): every result located, rules complete, no empty text.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("read sarif")).expect("json");
    for run in doc["runs"].as_array().expect("runs") {
        assert!(
            run["automationDetails"]["id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        for rule in run["tool"]["driver"]["rules"].as_array().expect("rules") {
            for key in ["shortDescription", "fullDescription", "help"] {
                let text = rule[key]["text"].as_str().unwrap_or("");
                assert!(!text.is_empty() && text.chars().count() <= 1024, "{rule}");
            }
            assert!(
                rule.get("properties")
                    .is_none_or(|p| p.get("security-severity").is_none())
            );
        }
        for result in run["results"].as_array().expect("results") {
            assert!(!result["message"]["text"].as_str().unwrap_or("").is_empty());
            let loc = &result["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().unwrap_or("");
            assert!(
                !uri.is_empty() && !uri.starts_with('/') && !uri.contains('\\'),
                "{result}"
            );
            assert!(
                loc["region"]["startLine"].as_u64().unwrap_or(0) >= 1,
                "{result}"
            );
            assert_ne!(result["level"], "none");
        }
    }
}

/// GitLab Code Quality: an array of issues with the required keys and unique fingerprints.
pub fn codequality(file: &Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(file).expect("read codequality");
    assert!(!bytes.starts_with(&[0xef, 0xbb, 0xbf]), "no BOM");
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("codequality JSON");
    let issues = doc.as_array().expect("an array").clone();
    let mut fingerprints = std::collections::BTreeSet::new();
    for i in &issues {
        for key in ["description", "check_name", "fingerprint", "severity"] {
            assert!(i[key].as_str().is_some_and(|s| !s.is_empty()), "{key}: {i}");
        }
        assert!(["minor", "major"].contains(&i["severity"].as_str().unwrap_or("")));
        assert!(
            i["location"]["path"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(i["location"]["lines"]["begin"].as_u64().unwrap_or(0) >= 1);
        assert!(fingerprints.insert(i["fingerprint"].as_str().unwrap_or("").to_owned()));
    }
    issues
}
