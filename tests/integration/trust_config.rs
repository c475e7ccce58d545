//! Never green by accident, and a bounded config parser: a run that selects no checks, a
//! second YAML document, alias bombs and deep nesting are all refused with exit 2 and a
//! position, never a crash.

use std::ffi::OsStr;
use std::process::Output;

use crate::support::{Workspace, code, infracheck_command_via, json, stderr};

/// A check that really runs and passes.
const PASSING: &str = "    command_checks:\n      - {name: ok, command: [\"true\"]}\n";

fn assert_no_checks(out: &Output) {
    assert_eq!(code(out), 2, "{}", stderr(out));
    assert!(
        stderr(out).contains("environment t has no checks"),
        "{}",
        stderr(out)
    );
}

/// `run --env t` and `validate --env t` both refuse the config.
fn assert_run_and_validate_refuse(ws: &Workspace) {
    assert_no_checks(&ws.run(&["run", "--env", "t"], &[]));
    assert_no_checks(&ws.run(&["validate", "--env", "t"], &[]));
    assert_no_checks(&ws.run(&["validate"], &[]));
}

#[test]
fn an_empty_environment_exits_2() {
    let ws = Workspace::new();
    ws.write("infracheck.yaml", "environments: {t: {}}\n");
    assert_run_and_validate_refuse(&ws);
    let out = ws.run(&["run", "--env", "t", "--json", "r.json"], &[]);
    assert_no_checks(&out);
    assert!(!ws.path().join("r.json").exists(), "no report of nothing");
}

#[test]
fn empty_check_lists_exit_2() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    tcp_checks: []\n    http_checks:\n    command_checks: []\n",
    );
    assert_run_and_validate_refuse(&ws);
}

#[test]
fn shared_checks_all_filtered_out_exit_2() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "checks:\n  command_checks:\n    - {name: only-u, command: [\"true\"], environments: [u]}\nenvironments:\n  t: {}\n  u: {}\n",
    );
    assert_no_checks(&ws.run(&["run", "--env", "t"], &[]));
    assert_no_checks(&ws.run(&["validate", "--env", "t"], &[]));
    // The environment the shared check is for really runs it.
    let out = ws.run(&["run", "--env", "u", "--json", "u.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json(&ws.path().join("u.json"))["results"][0]["name"],
        "only-u"
    );
    assert_eq!(code(&ws.run(&["validate", "--env", "u"], &[])), 0);
}

#[test]
fn a_second_yaml_document_exits_2_naming_its_line() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        &format!("environments:\n  t:\n{PASSING}---\nenvironments:\n  t: {{}}\n"),
    );
    for args in [
        &["validate"][..],
        &["validate", "--env", "t"],
        &["run", "--env", "t"],
    ] {
        let out = ws.run(args, &[]);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("infracheck.yaml:5:1: a second YAML document"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn an_empty_shard_writes_its_document_and_says_so() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        &format!("environments:\n  t:\n{PASSING}"),
    );
    let mut empty = Vec::new();
    for k in 1..=2 {
        let file = format!("s{k}.json");
        let shard = format!("{k}/2");
        let out = ws.run(
            &["run", "--env", "t", "--shard", &shard, "--json", &file],
            &[],
        );
        assert_eq!(code(&out), 0, "shard {shard}: {}", stderr(&out));
        let doc = json(&ws.path().join(&file));
        if doc["results"].as_array().is_some_and(Vec::is_empty) {
            assert!(
                stderr(&out).contains(&format!(
                    "notice: shard {shard} of environment t has no checks"
                )),
                "{}",
                stderr(&out)
            );
            empty.push(file);
        } else {
            assert!(!stderr(&out).contains("notice"), "{}", stderr(&out));
        }
    }
    assert_eq!(empty.len(), 1, "one check, two shards: one shard is empty");
    // Together the shards hold the check: the merge passes.
    let out = ws.run(&["merge", "s1.json", "s2.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn merge_of_documents_without_checks_exits_2() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        &format!("environments:\n  t:\n{PASSING}"),
    );
    let mut docs = Vec::new();
    for k in 1..=2 {
        let file = format!("s{k}.json");
        let shard = format!("{k}/2");
        let out = ws.run(
            &["run", "--env", "t", "--shard", &shard, "--json", &file],
            &[],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        docs.push(json(&ws.path().join(&file)));
    }
    let empty = docs
        .into_iter()
        .find(|d| d["results"].as_array().is_some_and(Vec::is_empty))
        .expect("an empty shard");
    // Two documents of a run whose shards are all empty.
    for k in 1..=2 {
        let mut d = empty.clone();
        d["shard"]["index"] = k.into();
        d["shard"]["total_checks"] = 0.into();
        ws.write(&format!("e{k}.json"), &d.to_string());
    }
    let out = ws.run(&["merge", "e1.json", "e2.json", "--json", "m.json"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("environment t has no checks"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path().join("m.json").exists());
}

/// `infracheck validate -c file` with its address space capped at about 400 MB.
fn validate_limited(ws: &Workspace, file: &str) -> Output {
    let script = "ulimit -v 400000 && exec \"$0\" validate -c \"$1\"";
    // `sh -c SCRIPT BIN FILE`: the script runs infracheck as `$0` with the file as `$1`.
    let sh: [&OsStr; 3] = ["sh".as_ref(), "-c".as_ref(), script.as_ref()];
    let out = infracheck_command_via(ws.path(), &sh)
        .arg(file)
        .output()
        .expect("run sh");
    assert!(
        out.status.code().is_some(),
        "killed by a signal: {:?} {}",
        out.status,
        stderr(&out)
    );
    out
}

#[test]
fn billion_laughs_exits_2_with_a_position_under_a_memory_limit() {
    let ws = Workspace::new();
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=8 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(bomb.len() < 700, "a small file: {}", bomb.len());
    ws.write("bomb.yaml", &bomb);
    let out = validate_limited(&ws, "bomb.yaml");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // Level 5 (111,111 nodes per alias) crosses the 1,000,000-node budget at its 8th alias.
    assert!(
        stderr(&out).contains("bomb.yaml:6:45: aliases expand to more than 1000000 nodes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn deep_block_nesting_exits_2_with_a_position_under_a_memory_limit() {
    let ws = Workspace::new();
    ws.write("deep.yaml", &("- ".repeat(20_000) + "x\n"));
    let out = validate_limited(&ws, "deep.yaml");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // The 257th `- ` opens level 257.
    assert!(
        stderr(&out).contains("deep.yaml:1:513: nesting too deep: more than 256 levels"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn deep_flow_nesting_exits_2_with_a_position_under_a_memory_limit() {
    let ws = Workspace::new();
    ws.write(
        "deep.yaml",
        &format!(
            "environments:\n  t: {{tcp_checks: {}{}}}\n",
            "[".repeat(20_000),
            "]".repeat(20_000)
        ),
    );
    let out = validate_limited(&ws, "deep.yaml");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // `{` is the first flow level, the `[`s from column 19 the next: the 255th `[` (column
    // 273) opens the 256th flow level, one more than the YAML scanner counts.
    assert!(
        stderr(&out).contains("deep.yaml:2:273: nesting too deep: more than 255 levels of flow"),
        "{}",
        stderr(&out)
    );
}
