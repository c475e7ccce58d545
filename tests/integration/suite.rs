//! The suite's own guarantees: every program a test starts sees the sanitised environment and
//! a `HOME` of this test process alone, empty.

use std::collections::BTreeSet;

use crate::support::{private_home, remove_homes_of_ended_processes, sanitised_command};

#[test]
fn a_started_program_sees_only_the_sanitised_environment() {
    let out = sanitised_command("env").output().expect("run env");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let names: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let mut expected = BTreeSet::from(["HOME", "NO_COLOR", "AWS_EC2_METADATA_DISABLED"]);
    for kept in ["PATH", "TMPDIR"] {
        if std::env::var_os(kept).is_some() {
            expected.insert(kept);
        }
    }
    assert_eq!(names, expected, "{text}");
    let home = format!("HOME={}", private_home().display());
    assert!(text.lines().any(|l| l == home), "{text}");
}

#[test]
fn home_belongs_to_this_test_process_and_stays_empty() {
    let home = private_home();
    assert!(
        home.ends_with(format!("infracheck-test-home-{}", std::process::id())),
        "{}",
        home.display()
    );
    // Nothing a test starts writes there (infracheck reads no user config, and tests that need
    // files in HOME give the program a HOME of their own).
    let entries: Vec<_> = std::fs::read_dir(home).expect("HOME exists").collect();
    assert!(entries.is_empty(), "{} holds {entries:?}", home.display());
}

#[test]
fn homes_of_ended_test_processes_are_removed_and_live_ones_kept() {
    let scratch = tempfile::tempdir().unwrap();
    // No process has this id (Linux ids stop at 2^22).
    let ended = scratch.path().join("infracheck-test-home-4294967295");
    let live = scratch
        .path()
        .join(format!("infracheck-test-home-{}", std::process::id()));
    let other = scratch.path().join("something-else");
    for dir in [&ended, &live, &other] {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
    }
    remove_homes_of_ended_processes(scratch.path());
    assert!(!ended.exists());
    assert!(live.join("sub").is_dir());
    assert!(other.join("sub").is_dir());
}
