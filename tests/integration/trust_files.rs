//! Reports never destroy files: missing directories are created, regular files are replaced
//! atomically through an unpredictable temporary name, devices and FIFOs are written in place,
//! and a report path that names an input of the run is refused before any check runs.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::process::Command;

use crate::support::{Workspace, code, json, read, require_root, stderr, stdout};

/// A config whose one check really runs (it creates `ran`) and passes.
fn passing(ws: &Workspace) {
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    command_checks:\n      - {name: ok, command: [\"touch\", \"ran\"]}\n",
    );
}

#[test]
fn reports_into_missing_directories_create_them() {
    let ws = Workspace::new();
    passing(&ws);
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--json",
            "out/sub/r.json",
            "--junit",
            "out/j/r.xml",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json(&ws.path().join("out/sub/r.json"))["results"][0]["name"],
        "ok"
    );
    assert!(read(&ws.path().join("out/j/r.xml")).contains("<testsuites"));
    // `merge` writes its reports the same way.
    let out = ws.run(
        &["merge", "out/sub/r.json", "--markdown", "m/a/b/summary.md"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read(&ws.path().join("m/a/b/summary.md")).contains("ok"));
}

#[test]
fn a_report_into_a_fifo_is_written_in_place() {
    let ws = Workspace::new();
    passing(&ws);
    let fifo = ws.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            // Blocks until a writer opens the FIFO; ends when it closes it.
            std::fs::File::open(&fifo)
                .and_then(|mut f| f.read_to_string(&mut text))
                .map(|_| text)
        })
    };
    let out = ws.run(&["run", "--env", "t", "--json", "pipe"], &[]);
    // Should infracheck never have opened the FIFO, release the reader (bounded: this open
    // never blocks, and fails harmlessly when the reader is already gone).
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(0o4000) // O_NONBLOCK
        .open(&fifo);
    let text = reader
        .join()
        .expect("reader thread")
        .expect("read the FIFO");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON from the FIFO");
    assert_eq!(doc["results"][0]["name"], "ok");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn a_symlink_to_dev_stdout_stays_a_symlink_and_the_report_goes_to_stdout_as_root() {
    require_root("only root could replace the device file, the case guarded here");
    let ws = Workspace::new();
    passing(&ws);
    let link = ws.path().join("r.json");
    std::os::unix::fs::symlink("/dev/stdout", &link).unwrap();
    let out = ws.run(&["run", "--env", "t", "--json", "r.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/dev/stdout"));
    let out_text = stdout(&out);
    assert!(out_text.contains("PASS  ok"), "{out_text}");
    assert!(out_text.contains("\"schema_version\""), "{out_text}");
    // `-` is stdout too.
    let out = ws.run(&["run", "--env", "t", "--json", "-"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("\"schema_version\""));
    assert!(!ws.path().join("-").exists());
}

#[test]
fn dev_full_is_a_write_error_exit_3_and_stays_a_device_as_root() {
    require_root("only root could replace the device file, the case guarded here");
    let ws = Workspace::new();
    passing(&ws);
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--json",
            "/dev/full",
            "--junit",
            "j.xml",
        ],
        &[],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot write /dev/full: "), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("cannot render"), "{err}");
    assert!(
        std::fs::symlink_metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // The other report was still written; `/dev/null` swallows one without complaint.
    assert!(read(&ws.path().join("j.xml")).contains("<testsuites"));
    let out = ws.run(&["run", "--env", "t", "--json", "/dev/null"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn symlinks_planted_at_guessable_temp_names_are_never_followed() {
    let ws = Workspace::new();
    passing(&ws);
    let victim = ws.write("victim/secret.txt", "precious\n");
    ws.write("reports/r.json", "old report\n");
    // The names a `.NAME.PID.tmp` scheme would use for the next few hundred processes.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let mut names = vec![".r.json.tmp".to_owned(), "r.json.tmp".to_owned()];
    names.extend((last..last.saturating_add(400)).map(|pid| format!(".r.json.{pid}.tmp")));
    for name in &names {
        std::os::unix::fs::symlink(&victim, ws.path().join("reports").join(name)).unwrap();
    }
    let out = ws.run(&["run", "--env", "t", "--json", "reports/r.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read(&victim), "precious\n");
    let report = ws.path().join("reports/r.json");
    assert!(std::fs::symlink_metadata(&report).unwrap().is_file());
    assert_eq!(json(&report)["results"][0]["name"], "ok");
    // The planted links are still there, still pointing at the victim.
    for name in &names {
        let link = ws.path().join("reports").join(name);
        assert_eq!(std::fs::read_link(&link).unwrap(), victim);
    }
}

#[test]
fn a_report_over_the_config_exits_2_naming_both_and_leaves_it_alone() {
    let ws = Workspace::new();
    passing(&ws);
    let config = read(&ws.path().join("infracheck.yaml"));
    std::fs::create_dir(ws.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("infracheck.yaml", ws.path().join("alias.yaml")).unwrap();
    for (flag, path) in [
        ("--junit", "infracheck.yaml"),
        ("--sarif", "./sub/../infracheck.yaml"),
        ("--markdown", "alias.yaml"),
    ] {
        let out = ws.run(&["run", "--env", "t", flag, path], &[]);
        assert_eq!(code(&out), 2, "{flag} {path}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{flag} and the config file both name {path}")),
            "{err}"
        );
        assert_eq!(read(&ws.path().join("infracheck.yaml")), config);
        assert!(!ws.path().join("ran").exists(), "a check ran");
    }
    // The config given by another spelling is the same file.
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "-c",
            "alias.yaml",
            "--json",
            "infracheck.yaml",
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(read(&ws.path().join("infracheck.yaml")), config);
}

#[test]
fn a_report_over_github_files_or_the_baseline_exits_2() {
    let ws = Workspace::new();
    passing(&ws);
    let gh_output = ws.write("gh/output.txt", "existing=1\n");
    let gh_summary = ws.write("gh/summary.md", "# earlier step\n");
    let envs = [
        ("GITHUB_OUTPUT", gh_output.to_str().unwrap()),
        ("GITHUB_STEP_SUMMARY", gh_summary.to_str().unwrap()),
    ];
    let out = ws.run(
        &["run", "--env", "t", "--json", gh_output.to_str().unwrap()],
        &envs,
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--json and $GITHUB_OUTPUT both name"),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["run", "--env", "t", "--markdown", "gh/summary.md"], &envs);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--markdown and $GITHUB_STEP_SUMMARY both name gh/summary.md"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&gh_output), "existing=1\n");
    assert_eq!(read(&gh_summary), "# earlier step\n");
    assert!(!ws.path().join("ran").exists(), "a check ran");

    // A baseline is an input too, except for the `--json` it rolls forward into.
    let out = ws.run(&["run", "--env", "t", "--json", "base.json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::remove_file(ws.path().join("ran")).unwrap();
    let base = read(&ws.path().join("base.json"));
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--baseline",
            "base.json",
            "--sarif",
            "base.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--sarif and --baseline both name base.json"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&ws.path().join("base.json")), base);
    assert!(!ws.path().join("ran").exists(), "a check ran");
    let out = ws.run(
        &[
            "run",
            "--env",
            "t",
            "--baseline",
            "base.json",
            "--json",
            "base.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // `merge` refuses the same way.
    let out = ws.run(
        &[
            "merge",
            "base.json",
            "-c",
            "infracheck.yaml",
            "--junit",
            "infracheck.yaml",
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--junit and the config file both name"),
        "{}",
        stderr(&out)
    );
}
