//! The last leaks and forged lines, each reproduced against a real run and checked in every
//! output (every report format, `--output json`, `list`, stdout and stderr at `-vvv`, the
//! GitHub step summary and outputs): a secret cut by the capture limit leaves no prefix in
//! the command's message; control characters cannot unmask a workflow command; a variable
//! listed under `secrets:` is masked wherever its value appears; a secret in a host name is
//! masked after a URL parser lower-cased it.

use std::ffi::OsStr;
use std::process::Output;

use crate::support::{
    Workspace, infracheck_command_via, json, read, require_bin, result, run_in, stderr, stdout,
};

/// The report files [`every_output`] asks for.
const FILES: &[(&str, &str)] = &[
    ("--json", "r.json"),
    ("--junit", "r.xml"),
    ("--sarif", "r.sarif"),
    ("--markdown", "r.md"),
    ("--codequality", "r.cq.json"),
    ("--prometheus", "r.prom"),
    ("--html", "r.html"),
    ("--tap", "r.tap"),
];

/// Every output of `c.yaml`'s environment `t`: a run at `-vvv` with every report format in
/// GitHub mode (step summary and outputs files), a run with `--output json`, and `list`.
/// `offline`: each run in a network namespace of its own (host names are never looked up).
fn every_output(ws: &Workspace, envs: &[(&str, &str)], offline: bool) -> Vec<(String, String)> {
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_OUTPUT", "outputs.txt"),
    ];
    env.extend_from_slice(envs);
    let mut report_run = vec!["-c", "c.yaml", "--env", "t", "-vvv"];
    for (flag, file) in FILES {
        report_run.extend([*flag, *file]);
    }
    let mut outputs = Vec::new();
    for args in [
        report_run,
        vec!["-c", "c.yaml", "--env", "t", "-vvv", "--output", "json"],
        vec!["list", "-c", "c.yaml", "--env", "t"],
    ] {
        let out = run(ws, &args, &env, offline);
        let what = args.join(" ");
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{what}: {}",
            stderr(&out)
        );
        outputs.push((format!("stdout of {what}"), stdout(&out)));
        outputs.push((format!("stderr of {what}"), stderr(&out)));
    }
    for f in FILES
        .iter()
        .map(|(_, f)| *f)
        .chain(["summary.md", "outputs.txt"])
    {
        outputs.push((f.to_owned(), read(&ws.path().join(f))));
    }
    outputs
}

/// Run infracheck in `ws`, in a network namespace of its own when `offline` (see
/// `support::run_offline`).
fn run(ws: &Workspace, args: &[&str], envs: &[(&str, &str)], offline: bool) -> Output {
    if !offline {
        return run_in(ws.path(), args, envs);
    }
    let unshare = require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let wrapper: [&OsStr; 2] = [unshare.as_os_str(), "-n".as_ref()];
    let mut cmd = infracheck_command_via(ws.path(), &wrapper);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run infracheck under unshare");
    assert!(
        !stderr(&out).starts_with("unshare:"),
        "`unshare -n` failed (it needs CAP_SYS_ADMIN: run the tests as root): {}",
        stderr(&out)
    );
    out
}

/// The AWS documentation's example secret key: its first ten characters are the prefix the
/// issue saw leak.
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn a_secret_cut_by_the_capture_limit_leaves_no_prefix_in_the_message() {
    // `key=` and then the secret on stderr; the capture keeps 4 + k bytes, so the captured
    // output ends with the secret's first k characters (k = 10 is `wJalrXUtnF`).
    let mut checks = String::new();
    for k in [3usize, 6, 10, 20, 39] {
        checks.push_str(&format!(
            "      - {{name: cut-{k}, command: [sh, -c, 'printf \"key=%s\" \"$AWS_SECRET_ACCESS_KEY\" >&2; exit 1'], max_output_bytes: {}}}\n",
            4 + k
        ));
    }
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!("environments:\n  t:\n    command_checks:\n{checks}"),
    );
    let outputs = every_output(&ws, &[("AWS_SECRET_ACCESS_KEY", AWS_SECRET)], false);
    let doc = json(&ws.path().join("r.json"));
    for k in [3usize, 6, 10, 20, 39] {
        let r = result(&doc, &format!("cut-{k}"));
        assert_eq!(
            r["message"], "exit code 1, expected 0 (last output: key=***)",
            "{r}"
        );
        assert_eq!(r["metadata"]["stderr_excerpt"], "key=***", "{r}");
    }
    for (what, text) in &outputs {
        for k in 3..AWS_SECRET.len() {
            let prefix = &AWS_SECRET[..k];
            assert!(
                !text.contains(prefix),
                "`{prefix}` leaked in {what}:\n{text}"
            );
        }
    }
}
