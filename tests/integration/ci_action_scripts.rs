//! The action's and the release's other scripts: shellcheck accepts them, `run.sh` turns the
//! inputs into one GitHub-mode invocation, `checksums.sh` verifies and records the assets, and
//! the action installs and runs the real binary end to end — a fake release on loopback, no
//! network.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::support::ci::{read, root, run_cmd, text};
use crate::support::file_server::FileServer;
use crate::support::release::{FakeRelease, Job, TARGETS, fake_binary, install, run_script};
use crate::support::{bin, sanitised_command};

#[test]
fn shellcheck_accepts_the_action_and_release_scripts() {
    let probe = Command::new("shellcheck").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "shellcheck is required by this test: install the Debian package `shellcheck` (scripts/test.sh does)"
    );
    let out = run_cmd(
        Command::new("shellcheck").current_dir(root()).args([
            "scripts/action/install.sh",
            "scripts/action/run.sh",
            "scripts/action/package.sh",
            "scripts/release/checksums.sh",
            "scripts/container.sh",
        ]),
        "shellcheck",
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn run_script_turns_inputs_into_one_github_mode_invocation() {
    let bins = tempfile::tempdir().unwrap();
    let fake = fake_binary(bins.path(), "9.8.7");
    let args_file = bins.path().join("args");
    let job = Job::new();
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_CONFIG", "ops/infracheck.yaml"),
            ("INPUT_FAIL_ON_WARN", "true"),
            ("INPUT_JUNIT", "out/junit.xml"),
            ("INPUT_SARIF", "out/r.sarif"),
            ("INPUT_JSON", ""),
            ("INPUT_MARKDOWN", "out/summary.md"),
            ("INPUT_HTML", "out/report.html"),
            ("INPUT_HISTORY", "cache/history.json"),
            ("INPUT_ARGS", "--concurrency 5  --deadline 2m"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "run",
            "--env",
            "prod",
            "--config",
            "ops/infracheck.yaml",
            "--github",
            "--fail-on-warn",
            "--history",
            "cache/history.json",
            "--junit",
            "out/junit.xml",
            "--sarif",
            "out/r.sarif",
            "--markdown",
            "out/summary.md",
            "--html",
            "out/report.html",
            "--concurrency",
            "5",
            "--deadline",
            "2m",
        ]
    );
    assert!(
        job.dir.path().join("out").is_dir(),
        "report directories are created"
    );
    assert_eq!(job.output("report_junit").as_deref(), Some("out/junit.xml"));
    assert_eq!(job.output("report_sarif").as_deref(), Some("out/r.sarif"));
    assert_eq!(
        job.output("report_json"),
        None,
        "an empty path skips that report"
    );
    assert_eq!(
        job.output("report_markdown").as_deref(),
        Some("out/summary.md")
    );
    assert_eq!(
        job.output("report_html").as_deref(),
        Some("out/report.html")
    );
    assert_eq!(job.output("status").as_deref(), Some("passed"));

    // Multi-line args keep spaces and are never evaluated by a shell.
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "staging"),
            ("INPUT_ARGS", "--deadline\n5m\n$(touch pwned) a b\n"),
            ("FAKE_EXIT", "1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "infracheck's exit code is the step's"
    );
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.ends_with("--deadline\n5m\n$(touch pwned) a b\n"),
        "{args}"
    );
    assert!(args.starts_with("run\n--env\nstaging\n--config\ninfracheck.yaml\n--github\n"));
    assert!(!job.dir.path().join("pwned").exists());

    // A baseline and `fail-on: new` become `--baseline PATH --fail-on new`.
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_BASELINE", "previous/infracheck.json"),
            ("INPUT_FAIL_ON", "new"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(
        args.starts_with(
            "run\n--env\nprod\n--config\ninfracheck.yaml\n--github\n--baseline\nprevious/infracheck.json\n--fail-on\nnew\n"
        ),
        "{args}"
    );

    // Bad inputs are usage errors.
    for (k, v, msg) in [
        ("INPUT_ENV", "", "the `env` input is required"),
        (
            "INPUT_FAIL_ON_WARN",
            "yes",
            "fail-on-warn must be true or false",
        ),
        ("INPUT_FAIL_ON", "sometimes", "fail-on must be any or new"),
        (
            "INPUT_FAIL_ON",
            "new",
            "fail-on: new needs the baseline input",
        ),
        (
            "INPUT_BASELINE",
            "a\nb.json",
            "the baseline path contains a line break",
        ),
        ("INPUT_FAIL", "maybe", "fail must be true or false"),
        ("INPUT_SUMMARY", "no", "summary must be true or false"),
        (
            "INPUT_ANNOTATIONS",
            "0",
            "annotations must be true or false",
        ),
    ] {
        let mut envs = vec![("INPUT_ENV", "prod")];
        envs.retain(|(ek, _)| *ek != k);
        envs.push((k, v));
        let out = run_script(&job, &fake, &args_file, &envs);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(msg),
            "{}",
            text(&out)
        );
    }
}

/// With `comment: true` the token reaches `infracheck comment` as `GITHUB_TOKEN` and never the
/// run (whose config reads the environment) nor any command line; the comment posts the
/// markdown report the run wrote.
#[test]
fn run_script_gives_the_token_to_the_comment_alone() {
    let bins = tempfile::tempdir().unwrap();
    let fake = bins.path().join("fake-infracheck");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         printf '%s\\n' \"$@\" >>\"$FAKE_ARGS\"\n\
         env >\"$FAKE_ARGS.$1.env\"\n\
         if [ \"$1\" = run ]; then\n\
           while [ $# -gt 0 ]; do [ \"$1\" = --markdown ] && printf '## report\\n' >\"$2\"; shift; done\n\
           printf 'status=passed\\n' >>\"$GITHUB_OUTPUT\"\n\
         fi\n",
    )
    .unwrap();
    crate::support::release::make_executable(&fake);
    let args_file = bins.path().join("args");
    let job = Job::new();
    let token = "ghs_actionTokenSentinel42";
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_COMMENT", "true"),
            ("INPUT_GITHUB_TOKEN", token),
            ("INPUT_MARKDOWN", ""),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(token), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(!args.contains(token), "{args}");
    let comment_args: Vec<&str> = args.lines().skip_while(|l| *l != "comment").collect();
    assert_eq!(
        comment_args[..4],
        ["comment", "--env", "prod", "--markdown"],
        "{args}"
    );
    let md = comment_args[4];
    assert!(
        Path::new(md).starts_with(job.temp()),
        "without a markdown input the report goes to RUNNER_TEMP: {md}"
    );
    let env_of =
        |cmd: &str| std::fs::read_to_string(format!("{}.{cmd}.env", args_file.display())).unwrap();
    assert!(
        !env_of("run").contains(token),
        "the run never sees the token"
    );
    assert!(
        env_of("comment")
            .lines()
            .any(|l| l == format!("GITHUB_TOKEN={token}")),
        "{}",
        env_of("comment")
    );
    assert!(!env_of("comment").contains("INPUT_GITHUB_TOKEN"));

    // No token: a usage error before anything runs.
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[("INPUT_ENV", "prod"), ("INPUT_COMMENT", "true")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("comment: true needs the github-token input")
    );
}

#[test]
fn run_script_passes_selection_summary_and_annotation_inputs_and_reports_the_exit_code() {
    let bins = tempfile::tempdir().unwrap();
    let fake = fake_binary(bins.path(), "9.8.7");
    let args_file = bins.path().join("args");
    let job = Job::new();
    let out = run_script(
        &job,
        &fake,
        &args_file,
        &[
            ("INPUT_ENV", "prod"),
            ("INPUT_SUMMARY", "false"),
            ("INPUT_ANNOTATIONS", "FALSE"),
            ("INPUT_TAGS", "db,cache"),
            ("INPUT_ONLY", " api-* \r\n\n{web,edge}-1\n"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "run",
            "--env",
            "prod",
            "--config",
            "infracheck.yaml",
            "--github",
            "--no-step-summary",
            "--no-annotations",
            "--tags",
            "db,cache",
            "--only",
            "api-*",
            "--only",
            "{web,edge}-1",
        ]
    );
    assert_eq!(job.output("exit_code").as_deref(), Some("0"));

    // `fail: false` turns 1 (checks failed) into a green step; the output keeps the 1.
    for (fail, code, step) in [
        ("true", "1", 1),
        ("", "1", 1),
        ("false", "1", 0),
        ("false", "2", 2),
        ("false", "3", 3),
        ("False", "0", 0),
    ] {
        let job = Job::new();
        let out = run_script(
            &job,
            &fake,
            &args_file,
            &[
                ("INPUT_ENV", "prod"),
                ("INPUT_FAIL", fail),
                ("FAKE_EXIT", code),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(step),
            "fail={fail} exit={code}: {}",
            text(&out)
        );
        assert_eq!(job.output("exit_code").as_deref(), Some(code), "{fail}");
        let args = std::fs::read_to_string(&args_file).unwrap();
        assert!(
            !args.contains("--no-step-summary") && !args.contains("--no-annotations"),
            "summary and annotations are on by default: {args}"
        );
    }
}

#[test]
fn release_checksums_script_verifies_assets_and_records_them_for_the_action() {
    let bins = tempfile::tempdir().unwrap();
    let fake = fake_binary(bins.path(), "1.2.3");
    let repo = tempfile::tempdir().unwrap();
    let dist = repo.path().join("dist");
    for (_, _, target) in TARGETS {
        let out = run_cmd(
            Command::new("bash")
                .arg(root().join("scripts/action/package.sh"))
                .args(["v1.2.3", target])
                .arg(&fake)
                .arg(&dist),
            "package.sh",
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    std::fs::create_dir_all(repo.path().join("checksums")).unwrap();
    std::fs::write(repo.path().join("checksums/LATEST"), "1.10.0\n").unwrap();
    let checksums = |version: &str| {
        run_cmd(
            Command::new("bash")
                .arg(root().join("scripts/release/checksums.sh"))
                .arg(version)
                .arg(&dist)
                .arg(repo.path()),
            "checksums.sh",
        )
    };
    let out = checksums("v1.2.3");
    assert!(out.status.success(), "{}", text(&out));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 5, "{sums}");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/v1.2.3.sha256")).unwrap(),
        sums
    );
    // 1.10.0 is newer than 1.2.3 (numeric, not text, order).
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/LATEST")).unwrap(),
        "1.10.0\n"
    );
    std::fs::write(repo.path().join("checksums/LATEST"), "1.2.2\n").unwrap();
    let out = checksums("1.2.3");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(repo.path().join("checksums/LATEST")).unwrap(),
        "1.2.3\n"
    );

    // The action installs from exactly these files.
    for line in sums.lines() {
        let (sum, asset) = line.split_once("  ").unwrap();
        assert_eq!(sum.len(), 64);
        assert!(asset.starts_with("infracheck-v1.2.3-"), "{asset}");
    }

    // An asset that changed after its .sha256 was written stops the release.
    let zip = dist.join("infracheck-v1.2.3-x86_64-pc-windows-msvc.zip");
    let mut f = std::fs::OpenOptions::new().append(true).open(&zip).unwrap();
    f.write_all(b"tampered").unwrap();
    drop(f);
    let out = checksums("1.2.3");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// The whole action path with the real binary

/// Package the binary under test as a release, install it with install.sh and run it with
/// run.sh against a loopback site: the outputs infracheck writes in GitHub mode and the report
/// paths the action adds end up in $GITHUB_OUTPUT, and the reports exist.
#[test]
fn the_action_installs_and_runs_the_real_binary_end_to_end() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("health.json"), "{\"status\":\"ok\"}").unwrap();
    std::fs::write(site.path().join("index.html"), "fixture site").unwrap();
    let server = FileServer::start(site.path());
    let rel = FakeRelease::for_targets(
        "0.0.0-test",
        Path::new(bin()),
        &["x86_64-unknown-linux-musl"],
    );
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = job.output("bin").unwrap();

    let config = job.dir.path().join("infracheck.yaml");
    std::fs::write(
        &config,
        read("tests/fixtures/action/infracheck.yaml")
            .replace("127.0.0.1:8765", &format!("127.0.0.1:{}", server.port)),
    )
    .unwrap();
    // run.sh with the installed binary, as the action's run step calls it, plus `inputs`.
    let run_action = |inputs: &[(&str, &str)]| {
        let mut cmd = sanitised_command("bash");
        cmd.arg(rel.action().join("scripts/action/run.sh"))
            .current_dir(job.dir.path())
            .env("INFRACHECK_BIN", &installed)
            .env("INPUT_ENV", "ci")
            .env("INPUT_CONFIG", "infracheck.yaml")
            .env("GITHUB_STEP_SUMMARY", job.dir.path().join("summary"));
        for (k, v) in inputs {
            cmd.env(k, v);
        }
        job.env(&mut cmd);
        run_cmd(&mut cmd, "run.sh")
    };
    let out = run_action(&[
        ("INPUT_JUNIT", "results/junit.xml"),
        ("INPUT_SARIF", "results/infracheck.sarif"),
        ("INPUT_JSON", "results/infracheck.json"),
        ("INPUT_MARKDOWN", "results/summary.md"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (k, v) in [
        ("passed", "2"),
        ("warned", "1"),
        ("failed", "0"),
        ("total", "3"),
        ("status", "warned"),
        ("report_junit", "results/junit.xml"),
        ("report_sarif", "results/infracheck.sarif"),
        ("report_json", "results/infracheck.json"),
        ("report_markdown", "results/summary.md"),
    ] {
        assert_eq!(
            job.output(k).as_deref(),
            Some(v),
            "{k}\n{}",
            job.output_file()
        );
    }
    for f in [
        "junit.xml",
        "infracheck.sarif",
        "infracheck.json",
        "summary.md",
    ] {
        let p = job.dir.path().join("results").join(f);
        assert!(
            p.is_file() && std::fs::metadata(&p).unwrap().len() > 0,
            "{f} written"
        );
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::warning file=infracheck.yaml,line="),
        "a WARN becomes an annotation at its line:\n{}",
        text(&out)
    );

    // The next run compares with this one's JSON report: nothing is new.
    let out = run_action(&[
        ("INPUT_JSON", "results/again.json"),
        ("INPUT_BASELINE", "results/infracheck.json"),
        ("INPUT_FAIL_ON", "new"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (k, v) in [
        ("new_failures", "0"),
        ("still_failing", "0"),
        ("recovered", "0"),
    ] {
        assert_eq!(
            job.output(k).as_deref(),
            Some(v),
            "{k}\n{}",
            job.output_file()
        );
    }
    let summary = std::fs::read_to_string(job.dir.path().join("summary")).unwrap();
    assert!(summary.contains("### Changes since baseline"), "{summary}");
}

/// The action's inputs that shape a run, with the real binary (the installation is the test
/// above's): `fail: false`, `summary`, `annotations`, the default HTML report, `tags` and
/// `only`, and the `exit_code` output.
#[test]
fn the_action_inputs_shape_a_real_run() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("health.json"), "{\"status\":\"ok\"}").unwrap();
    std::fs::write(site.path().join("index.html"), "fixture site").unwrap();
    let server = FileServer::start(site.path());
    let a = crate::support::ci::parse_yaml(&read("action.yml"), "action.yml");
    let html_default = crate::support::ci::get(
        crate::support::ci::req(
            crate::support::ci::req(&a, "inputs", "action"),
            "html",
            "inputs",
        ),
        "default",
    )
    .and_then(|d| d.as_str())
    .unwrap()
    .to_owned();
    assert!(!html_default.is_empty(), "the HTML report is on by default");

    let run_action = |env: &str, inputs: &[(&str, &str)]| {
        let job = Job::new();
        std::fs::write(
            job.dir.path().join("infracheck.yaml"),
            read("tests/fixtures/action/infracheck.yaml")
                .replace("127.0.0.1:8765", &format!("127.0.0.1:{}", server.port)),
        )
        .unwrap();
        let summary = job.dir.path().join("summary");
        std::fs::write(&summary, "").unwrap();
        let mut cmd = sanitised_command("bash");
        cmd.arg(root().join("scripts/action/run.sh"))
            .current_dir(job.dir.path())
            .env("INFRACHECK_BIN", bin())
            .env("INPUT_ENV", env)
            .env("INPUT_HTML", &html_default)
            .env("GITHUB_STEP_SUMMARY", &summary);
        for (k, v) in inputs {
            cmd.env(k, v);
        }
        job.env(&mut cmd);
        let out = run_cmd(&mut cmd, "run.sh");
        let summary = std::fs::read_to_string(&summary).unwrap();
        (job, out, summary)
    };

    // A failing check with `fail: false`: reported, annotated, the step green.
    let (job, out, summary) = run_action("broken", &[("INPUT_FAIL", "false")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(job.output("exit_code").as_deref(), Some("1"));
    assert_eq!(job.output("status").as_deref(), Some("failed"));
    assert_eq!(job.output("failed").as_deref(), Some("1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::error file=infracheck.yaml,line="),
        "{}",
        text(&out)
    );
    assert!(summary.contains("missing-page"), "{summary}");
    assert_eq!(
        job.output("report_html").as_deref(),
        Some(html_default.as_str())
    );
    let html = std::fs::read_to_string(job.dir.path().join(&html_default)).unwrap();
    assert!(html.contains("missing-page"));

    // The same with the defaults: the step fails with infracheck's 1.
    let (job, out, _) = run_action("broken", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(job.output("exit_code").as_deref(), Some("1"));

    // No summary and no annotations: the step summary stays empty, stderr has no workflow
    // commands; the outputs and reports are still there.
    let (job, out, summary) = run_action(
        "ci",
        &[("INPUT_SUMMARY", "false"), ("INPUT_ANNOTATIONS", "false")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(summary, "", "summary: false");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for command in ["::error", "::warning", "::notice"] {
        assert!(!stderr.contains(command), "annotations: false\n{stderr}");
    }
    assert_eq!(job.output("status").as_deref(), Some("warned"));
    assert_eq!(job.output("exit_code").as_deref(), Some("0"));
    assert!(job.dir.path().join(&html_default).is_file());
    // With the defaults both are there.
    let (_, out, summary) = run_action("ci", &[]);
    assert!(summary.contains("health-mentions-cache"), "{summary}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("::warning file=infracheck.yaml"));

    // `tags` and `only` select the checks.
    let (job, out, _) = run_action("ci", &[("INPUT_TAGS", "health")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        job.output("total").as_deref(),
        Some("2"),
        "{}",
        job.output_file()
    );
    let (job, out, _) = run_action("ci", &[("INPUT_ONLY", "home*\nhealth")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        job.output("total").as_deref(),
        Some("2"),
        "{}",
        job.output_file()
    );
    assert_eq!(job.output("warned").as_deref(), Some("0"));
    let (job, out, _) = run_action("ci", &[("INPUT_ONLY", "nothing-*")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a selection of nothing: {}",
        text(&out)
    );
    assert_eq!(job.output("exit_code").as_deref(), Some("2"));
}
