//! Sharing settings the usual YAML way: merge keys (`<<: *a`, `<<: [*a, *b]`) and `x-`
//! extension keys holding the anchors, at the top level, in environments and in checks.

use crate::support::{Workspace, code, stderr, stdout};

#[test]
fn merge_keys_and_extension_keys_share_settings() {
    let ws = Workspace::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    ws.write(
        "infracheck.yaml",
        &format!(
            "x-common: &common {{host: 127.0.0.1, port: {port}, timeout: 7s}}\n\
             x-retry: &retry {{retries: 2, timeout: 9s}}\n\
             environments:\n  \
               x-shared-env: &env {{vars: {{a: b}}}}\n  \
               prod:\n    \
                 <<: *env\n    \
                 x-note: anchors may live in an environment too\n    \
                 tcp_checks:\n      \
                   - name: one\n        \
                     <<: *common\n      \
                   - name: two\n        \
                     <<: [*common, *retry]\n        \
                     x-owner: team-a\n      \
                   - name: three\n        \
                     <<: [*retry, *common]\n        \
                     timeout: 3s\n"
        ),
    );
    let v = ws.run(&["validate"], &[]);
    assert_eq!(code(&v), 0, "{}", stderr(&v));
    // `x-shared-env` is not an environment.
    let list = ws.run(&["list", "--env", "prod"], &[]);
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let listed = stdout(&list);
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    let o = ws.run(&["--env", "x-shared-env"], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    // The merged values are the ones used: earlier mappings win, the check's own keys win.
    let o = ws.run(&["--env", "prod", "--json", "r.json"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let schema = ws.run(&["schema"], &[]);
    assert_eq!(code(&schema), 0);
    let doc = crate::support::json(&ws.path().join("r.json"));
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["status"], "PASS", "{r}");
        assert_eq!(r["target"], format!("127.0.0.1:{port}"), "{r}");
    }
    drop(l);
}

#[test]
fn a_merge_key_on_a_scalar_is_a_located_error() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "environments:\n  prod:\n    tcp_checks:\n      - name: one\n        <<: 5\n        host: 127.0.0.1\n        port: 1\n",
    );
    let o = ws.run(&["validate"], &[]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "error: infracheck.yaml:5:9: environments.prod.tcp_checks[0].<<: a merge key `<<` takes a mapping or a list of mappings, found an integer\n"
    );
}
