//! A variable set to bytes that are not UTF-8 is said to be so, at the line that uses it; it is
//! neither "not set" nor silently replaced by its default.

use std::os::unix::ffi::OsStrExt;

use crate::support::{Workspace, code, infracheck_command, stderr};

#[test]
fn a_variable_that_is_not_utf8_is_named_at_its_line() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: \"${RAW_HOST}\", port: 1}\n      - {name: b, host: \"${RAW_HOST:-localhost}\", port: 1}\n",
    );
    for sub in [
        &["validate", "-c", "c.yaml"][..],
        &["run", "-c", "c.yaml", "--env", "t"],
    ] {
        let out = infracheck_command(ws.path())
            .args(sub)
            .env(
                "RAW_HOST",
                std::ffi::OsStr::from_bytes(b"db\xff\xfe.internal"),
            )
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{sub:?}: {err}");
        for line in [4, 5] {
            assert!(
                err.contains(&format!("c.yaml:{line}:"))
                    && err.contains("environment variable `RAW_HOST` is not valid UTF-8"),
                "{sub:?}, line {line}: {err}"
            );
        }
        assert!(!err.contains("not set"), "{err}");
    }
}
