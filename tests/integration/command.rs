//! `command_checks` end to end: exit codes, output assertions, shell opt-in, env/cwd, capped
//! and escaped output, secrets, the process group killed on timeout, and a check that ends when
//! its command exits although a background child holds the output pipes.

use crate::support::Workspace;
use crate::support::platform::{run_json, validate};

#[test]
fn exit_codes_output_shell_env_and_cwd() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("sub")).unwrap();
    let run = run_json(
        &ws,
        r#"environments:
  t:
    command_checks:
      - {name: ok, command: ["sh", "-c", "echo migrations are up to date"], expect_exit: 0, stdout_contains: "up to date"}
      - {name: exit-3-expected, command: ["sh", "-c", "exit 3"], expect_exit: [0, 3]}
      - {name: exit-wrong, command: ["sh", "-c", "echo boom >&2; exit 2"]}
      - {name: stdout-missing, command: ["echo", "pending migrations"], stdout_contains: "up to date"}
      - {name: stdout-regex, command: ["echo", "version 1.2.3"], stdout_regex: 'version \d+\.\d+'}
      - {name: stdout-forbidden, command: ["echo", "ERROR here"], stdout_not_contains: ERROR}
      - {name: stderr, command: ["sh", "-c", "echo warn-line >&2"], stderr_contains: warn-line}
      - {name: shell, command: "echo a b c | wc -w", shell: true, stdout_regex: '^\s*3\s*$'}
      - {name: no-shell-by-default, command: ["echo", "$HOME | x"], stdout_contains: "$HOME | x"}
      - {name: env-and-cwd, command: ["sh", "-c", "echo $GREETING; pwd"], env: {GREETING: hello-env}, cwd: sub, stdout_regex: '(?s)hello-env.*/sub'}
      - {name: missing-program, command: ["/nonexistent/infracheck-test-program"]}
      - {name: missing-cwd, command: ["true"], cwd: /nonexistent/dir}
      - {name: slow-warn, command: ["true"], warn_latency: 0ms}
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    for ok in [
        "ok",
        "exit-3-expected",
        "stdout-regex",
        "stderr",
        "shell",
        "no-shell-by-default",
        "env-and-cwd",
    ] {
        run.expect(ok, "PASS", None);
    }
    let r = run.expect("ok", "PASS", None);
    assert_eq!(r["metadata"]["exit_code"], 0);
    assert_eq!(r["kind"], "command");
    let r = run.expect("exit-wrong", "FAIL", Some("command.exit"));
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("exit code 2, expected 0"), "{msg}");
    assert!(msg.contains("boom"), "{msg}");
    assert_eq!(r["metadata"]["stderr_excerpt"], "boom\\n");
    run.expect("stdout-missing", "FAIL", Some("command.output"));
    run.expect("stdout-forbidden", "FAIL", Some("command.output"));
    let r = run.expect("missing-program", "FAIL", Some("command.spawn"));
    assert!(r["message"].as_str().unwrap().contains("not found"), "{r}");
    let r = run.expect("missing-cwd", "FAIL", Some("command.spawn"));
    assert!(
        r["message"].as_str().unwrap().contains("/nonexistent/dir"),
        "{r}"
    );
    run.expect("slow-warn", "WARN", Some("command.latency"));
}

#[test]
fn output_is_capped_and_escaped_and_secrets_are_masked() {
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        r#"secrets: [DEPLOY_TOKEN]
environments:
  t:
    command_checks:
      - name: noisy
        command: ["sh", "-c", "printf '\\033[31mred\\033[0m\\n'; yes line | head -c 200000; exit 1"]
        max_output_bytes: 1000
      - name: leaky
        command: ["sh", "-c", "echo token=$DEPLOY_TOKEN; echo pw=$DB_PASSWORD; exit 4"]
        env: {DB_PASSWORD: env-sentinel-0001, DEPLOY_TOKEN: "${DEPLOY_TOKEN}"}
"#,
        &[("DEPLOY_TOKEN", "declared-sentinel-0002")],
    );
    assert_eq!(run.code, 1);
    let r = run.expect("noisy", "FAIL", Some("command.exit"));
    let m = &r["metadata"];
    assert_eq!(m["stdout_bytes"], 200_013, "{r}");
    assert_eq!(m["output_truncated"], true);
    let ex = m["stdout_excerpt"].as_str().unwrap();
    assert!(ex.starts_with("\\u{1b}[31mred"), "{ex}");
    assert!(!ex.contains('\u{1b}'));
    assert!(ex.chars().count() <= 501, "{}", ex.len());
    run.expect("leaky", "FAIL", Some("command.exit"));
    assert!(!run.raw.contains("env-sentinel-0001"), "{}", run.raw);
    assert!(!run.raw.contains("declared-sentinel-0002"), "{}", run.raw);
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let ws = Workspace::new();
    let pidfile = ws.path().join("grandchild.pid");
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    command_checks:
      - name: hangs
        command: ["sh", "-c", "sleep 300 & echo $! > {}; wait"]
        timeout: 1s
"#,
            pidfile.display()
        ),
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("hangs", "FAIL", Some("timeout"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("waiting for the command to exit"),
        "{r}"
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = pid.trim();
    // The background `sleep` was in the check's process group: it must be gone (or a zombie
    // waiting for its new parent to reap it), not still sleeping.
    // SIGKILL was sent to the group before infracheck exited; the kernel may need a moment to
    // finish tearing the process down, so wait (bounded) for it to disappear or become a zombie.
    let alive = |state: &str| {
        state
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    while alive(&state) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    }
    assert!(
        !alive(&state),
        "grandchild {pid} survived the timeout: {state}"
    );
}

/// A marker unique to this test process and `tag`, used as `sleep`'s argument
/// (`sleep 300.<digits>` still sleeps about 300 s) so the process can be found in /proc.
fn sleep_marker(tag: u32) -> String {
    format!("300.{}{tag:03}", std::process::id())
}

/// Pids of live (not zombie) `sleep <marker>` processes.
fn live_sleeps(marker: &str) -> Vec<String> {
    let want = format!("sleep\0{marker}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !cmdline.ends_with(want.as_bytes()) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']));
        if !zombie {
            found.push(pid);
        }
    }
    found
}

/// SIGKILL went to the group before infracheck exited; the kernel may need a moment to finish
/// tearing the process down, so wait (bounded) for it to be gone.
fn assert_no_sleep_left(marker: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut left = live_sleeps(marker);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        left = live_sleeps(marker);
    }
    assert!(
        left.is_empty(),
        "`sleep {marker}` outlived the check: {left:?}"
    );
}

#[test]
fn a_check_ends_when_its_command_does_and_takes_background_children_with_it() {
    let ws = Workspace::new();
    let held = sleep_marker(1);
    let late = sleep_marker(2);
    // `held`: the background sleep inherits stdout and would keep the pipe open for 300 s.
    // `late-writer`: 100,000 bytes and a last line written just before exiting, while a
    // background sleep holds the pipe: all of it is still read.
    // `after-exit`: a background child that prints once its parent has exited (and been
    // reaped), then ends: what it prints is captured too.
    let run = run_json(
        &ws,
        &format!(
            r#"environments:
  t:
    command_checks:
      - name: held
        command: "sleep {held} & echo started"
        shell: true
        stdout_contains: started
        timeout: 30s
      - name: late-writer
        command: "sleep {late} & yes x | head -c 100000; echo END-OF-OUTPUT"
        shell: true
        stdout_contains: END-OF-OUTPUT
        max_output_bytes: 200000
        timeout: 30s
      - name: after-exit
        command: "p=$$; (i=0; while kill -0 $p 2>/dev/null && [ $i -lt 1000000 ]; do i=$((i+1)); done; echo printed-after-exit) & echo parent-done"
        shell: true
        stdout_contains: [parent-done, printed-after-exit]
        timeout: 30s
"#
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    let r = run.expect("held", "PASS", None);
    assert_eq!(r["metadata"]["exit_code"], 0, "{r}");
    assert_eq!(r["metadata"]["output_held_open"], true, "{r}");
    let r = run.expect("late-writer", "PASS", None);
    assert_eq!(r["metadata"]["stdout_bytes"], 100_000 + 14, "{r}");
    let r = run.expect("after-exit", "PASS", None);
    assert!(r["metadata"]["output_held_open"].is_null(), "{r}");
    assert_no_sleep_left(&held);
    assert_no_sleep_left(&late);
}

#[test]
fn invalid_command_configs_are_rejected() {
    let ws = Workspace::new();
    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    command_checks:
      - {name: a, command: "./bin/check --strict"}
      - {name: b, command: []}
      - {name: c, command: ["x"], expect_exit: 300}
      - {name: d, command: ["x"], stdout_regex: "("}
      - {name: e, command: ["a", "b"], shell: true}
      - {name: f, command: ["x"], stdout_contain: typo}
      - {name: g}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "set `shell: true`",
        "must name a program",
        "300 is too large",
        "invalid regex",
        "one string run by `sh -c`",
        "stdout_contain",
        "missing required key `command`",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn stderr_regex_matches_stderr_only() {
    let ws = Workspace::new();
    let run = run_json(
        &ws,
        r#"environments:
  t:
    command_checks:
      - {name: match, command: ["sh", "-c", "echo 'disk 93% used' >&2"], stderr_regex: 'disk 9\d% used'}
      - {name: mismatch, command: ["sh", "-c", "echo 'disk 42% used' >&2"], stderr_regex: 'disk 9\d% used'}
      - {name: only-on-stdout, command: ["sh", "-c", "echo 'disk 93% used'"], stderr_regex: 'disk 9\d% used'}
      - {name: anchored-multiline, command: ["sh", "-c", "printf 'a\nready\n' >&2"], stderr_regex: '(?m)^ready$'}
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    run.expect("match", "PASS", None);
    run.expect("anchored-multiline", "PASS", None);
    let r = run.expect("mismatch", "FAIL", Some("command.output"));
    assert!(
        r["metadata"]["stderr_excerpt"]
            .as_str()
            .is_some_and(|s| s.contains("disk 42% used")),
        "{r}"
    );
    run.expect("only-on-stdout", "FAIL", Some("command.output"));
}
