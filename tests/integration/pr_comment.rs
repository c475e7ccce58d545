//! `infracheck comment` and the action's `comment: true` against a fake of GitHub's REST API on
//! loopback (support/github_api.rs): the first run creates one comment, later runs update that
//! same comment (found by its hidden marker, also on a later page of comments), a 403 is a
//! warning and exit 0, a summary over GitHub's 65,536 characters is cut with a link to the run,
//! and the token never appears in any output.

use std::net::TcpListener;

use crate::support::ci::{root, run_cmd, text};
use crate::support::github_api::{GithubApi, OWNER, PR, REPO};
use crate::support::release::Job;
use crate::support::{Workspace, bin, code, sanitised_command, stderr, stdout};

const TOKEN: &str = "ghs_fakeTokenSentinel0123456789";

/// A workspace with a config whose one check passes (a held listener), its markdown report
/// (`summary.md`, from a real run) and a pull-request event.
struct Pr {
    ws: Workspace,
    _listener: TcpListener,
}

impl Pr {
    fn new() -> Pr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ws = Workspace::new();
        ws.write(
            "infracheck.yaml",
            &format!(
                "environments:\n  prod:\n    tcp_checks:\n      - {{name: db-port, host: 127.0.0.1, port: {port}}}\n  staging:\n    tcp_checks:\n      - {{name: db-port, host: 127.0.0.1, port: {port}}}\n"
            ),
        );
        ws.write(
            "event.json",
            &format!("{{\"action\":\"synchronize\",\"number\":{PR},\"pull_request\":{{\"number\":{PR}}}}}"),
        );
        let pr = Pr {
            ws,
            _listener: listener,
        };
        let out = pr
            .ws
            .run(&["run", "--env", "prod", "--markdown", "summary.md"], &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        pr
    }

    fn env(&self, api: &GithubApi) -> Vec<(String, String)> {
        vec![
            ("GITHUB_TOKEN".into(), TOKEN.into()),
            (
                "GITHUB_EVENT_PATH".into(),
                self.ws.path().join("event.json").display().to_string(),
            ),
            ("GITHUB_REPOSITORY".into(), format!("{OWNER}/{REPO}")),
            ("GITHUB_API_URL".into(), api.url()),
            ("GITHUB_SERVER_URL".into(), "https://github.example".into()),
            ("GITHUB_RUN_ID".into(), "4242".into()),
        ]
    }

    fn comment(&self, api: &GithubApi, env_name: &str, markdown: &str) -> std::process::Output {
        let envs = self.env(api);
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = self.ws.run(
            &["comment", "--env", env_name, "--markdown", markdown],
            &envs,
        );
        assert_no_token(&out);
        out
    }
}

fn assert_no_token(out: &std::process::Output) {
    let all = format!("{}{}", stdout(out), stderr(out));
    assert!(!all.contains(TOKEN), "the token leaked:\n{all}");
    assert!(
        !all.contains("fakeTokenSentinel"),
        "part of the token leaked:\n{all}"
    );
}

#[test]
fn the_first_run_creates_one_comment_and_later_runs_update_it() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    api.add("LGTM");
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("created comment"), "{}", stderr(&out));
    let comments = api.comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    let (id, body) = &comments[1];
    assert!(body.starts_with("<!-- infracheck:prod -->\n"), "{body}");
    let markdown = std::fs::read_to_string(pr.ws.path().join("summary.md")).unwrap();
    assert!(body.ends_with(&markdown), "the markdown report, whole");
    assert!(body.contains("db-port"));
    let reqs = api.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].target,
        format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments?per_page=100")
    );
    assert_eq!(reqs[1].method, "POST");
    assert_eq!(
        reqs[1].target,
        format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments")
    );
    assert!(
        reqs.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );

    // A later run: the same comment, updated, never a second one.
    std::fs::write(pr.ws.path().join("summary.md"), "## second run\n").unwrap();
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("updated comment {id}")),
        "{}",
        stderr(&out)
    );
    let comments = api.comments();
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert_eq!(
        comments[1],
        (*id, "<!-- infracheck:prod -->\n## second run\n".to_owned())
    );
    let last = api.requests().pop().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(
        last.target,
        format!("/repos/{OWNER}/{REPO}/issues/comments/{id}")
    );

    // Another environment has a comment of its own.
    let out = pr.comment(&api, "staging", "summary.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let comments = api.comments();
    assert_eq!(comments.len(), 3);
    assert!(comments[2].1.starts_with("<!-- infracheck:staging -->"));
}

#[test]
fn the_marker_is_found_on_a_later_page_of_comments() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    api.state.lock().unwrap().page_size = 2;
    api.add("first");
    api.add("second <!-- infracheck:prod --> quoted, not ours");
    api.add("third");
    let ours = api.add("<!-- infracheck:prod -->\nold summary");
    api.add("fifth");
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("updated comment {ours}")),
        "{}",
        stderr(&out)
    );
    let comments = api.comments();
    assert_eq!(comments.len(), 5, "no second comment: {comments:?}");
    let body = &comments.iter().find(|(id, _)| *id == ours).unwrap().1;
    assert!(body.contains("db-port"), "{body}");
    let gets: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        gets,
        [
            format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments?per_page=100"),
            format!("/repos/{OWNER}/{REPO}/issues/{PR}/comments?per_page=100&page=2"),
        ],
        "the Link header's next page, and no further"
    );
    assert!(!api.requests().iter().any(|r| r.method == "POST"));

    // A next page on another host is refused: the token goes to the API alone.
    api.state.lock().unwrap().foreign_links = true;
    api.state
        .lock()
        .unwrap()
        .comments
        .retain(|(id, _)| *id != ours);
    let before = api.requests().len();
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the next page of comments is not on"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        api.requests().len(),
        before + 1,
        "one page read, nothing posted"
    );
}

#[test]
fn a_forbidden_comment_is_a_warning_and_other_failures_fail() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    api.state.lock().unwrap().forbid_writes = true;
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 0, "a fork's read-only token: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("::warning title=infracheck comment::"),
        "{err}"
    );
    assert!(
        err.contains("403") && err.contains("pull-requests: write"),
        "{err}"
    );
    assert!(api.comments().is_empty());

    api.state.lock().unwrap().fail_with = Some(500);
    let out = pr.comment(&api, "prod", "summary.md");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("::error title=infracheck comment::"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("500"), "{}", stderr(&out));

    // A wrong token (401) is an error too, and the token is not in it.
    let other = GithubApi::start("another-token");
    let out = pr.comment(&other, "prod", "summary.md");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
}

#[test]
fn a_summary_over_the_limit_is_cut_with_a_link_to_the_run() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    let mut md = String::from("## infracheck prod\n\n| check | status |\n|---|---|\n");
    let mut i = 0;
    while md.chars().count() < 70_000 {
        md.push_str(&format!("| check-{i} | ✅ PASS |\n"));
        i += 1;
    }
    pr.ws.write("big.md", &md);
    let out = pr.comment(&api, "prod", "big.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let comments = api.comments();
    assert_eq!(comments.len(), 1);
    let body = &comments[0].1;
    assert!(body.chars().count() <= 65_536, "{}", body.chars().count());
    assert!(
        body.chars().count() > 60_000,
        "cut near the limit, not far below"
    );
    assert!(body.starts_with("<!-- infracheck:prod -->\n## infracheck prod\n"));
    assert!(
        body.contains("(https://github.example/acme/shop/actions/runs/4242)"),
        "{}",
        &body[body.len() - 300..]
    );
    // Cut between rows.
    let before_note = body.rsplit_once("\n\n**Cut").unwrap().0;
    assert!(
        before_note.ends_with(" ✅ PASS |\n") || before_note.ends_with(" ✅ PASS |"),
        "{}",
        &before_note[before_note.len() - 80..]
    );
}

#[test]
fn bad_input_is_a_usage_error_and_no_pull_request_is_a_notice() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    pr.ws.write("push.json", "{\"ref\":\"refs/heads/main\"}");
    let mut envs = pr.env(&api);
    envs.retain(|(k, _)| k != "GITHUB_EVENT_PATH");
    envs.push((
        "GITHUB_EVENT_PATH".into(),
        pr.ws.path().join("push.json").display().to_string(),
    ));
    let as_refs = |e: &[(String, String)]| -> Vec<(String, String)> { e.to_vec() };
    let run = |envs: &[(String, String)], markdown: &str| {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = pr
            .ws
            .run(&["comment", "--env", "prod", "--markdown", markdown], &envs);
        assert_no_token(&out);
        out
    };
    let out = run(&as_refs(&envs), "summary.md");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("::notice title=infracheck comment::"),
        "{}",
        stderr(&out)
    );
    assert!(api.requests().is_empty());

    let base = pr.env(&api);
    for (var, value, msg) in [
        ("GITHUB_TOKEN", "", "GITHUB_TOKEN is not set"),
        (
            "GITHUB_REPOSITORY",
            "acme",
            "GITHUB_REPOSITORY `acme` is not `owner/repo`",
        ),
        (
            "GITHUB_API_URL",
            "http://api.github.com",
            "GITHUB_API_URL `http://api.github.com` must be an https URL",
        ),
    ] {
        let mut e = base.clone();
        e.retain(|(k, _)| k != var);
        e.push((var.into(), value.into()));
        let out = run(&e, "summary.md");
        assert_eq!(code(&out), 2, "{var}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(msg), "{err}");
    }
    let out = run(&base, "missing.md");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read --markdown missing.md"),
        "{}",
        stderr(&out)
    );
    assert!(api.requests().is_empty());
}

/// The action's `comment: true`: run.sh runs infracheck, then posts its markdown report, with
/// the `github-token` input; a second run of the step updates the same comment; a 403 leaves
/// the step green.
#[test]
fn the_action_comments_on_the_pull_request_with_comment_true() {
    let pr = Pr::new();
    let api = GithubApi::start(TOKEN);
    let job = Job::new();
    std::fs::copy(
        pr.ws.path().join("infracheck.yaml"),
        job.dir.path().join("infracheck.yaml"),
    )
    .unwrap();
    let step = |inputs: &[(&str, &str)]| {
        let mut cmd = sanitised_command("bash");
        cmd.arg(root().join("scripts/action/run.sh"))
            .current_dir(job.dir.path())
            .env("INFRACHECK_BIN", bin())
            .env("INPUT_ENV", "prod")
            .env("INPUT_COMMENT", "true")
            .env("INPUT_GITHUB_TOKEN", TOKEN);
        for (k, v) in pr.env(&api) {
            if k != "GITHUB_TOKEN" {
                cmd.env(k, v);
            }
        }
        for (k, v) in inputs {
            cmd.env(k, v);
        }
        job.env(&mut cmd);
        let out = run_cmd(&mut cmd, "run.sh");
        assert_no_token(&out);
        out
    };
    let out = step(&[("INPUT_MARKDOWN", "results/summary.md")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let comments = api.comments();
    assert_eq!(comments.len(), 1, "{}", text(&out));
    assert!(comments[0].1.starts_with("<!-- infracheck:prod -->\n"));
    assert!(comments[0].1.contains("db-port"));
    // Without a markdown path the step writes one of its own; the same comment is updated.
    let out = step(&[("INPUT_MARKDOWN", "")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = api.comments();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, comments[0].0);
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        1
    );
    // A fork: a warning, the step green.
    api.state.lock().unwrap().forbid_writes = true;
    let out = step(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("::warning title=infracheck comment::"));
    // An outage fails a step that would otherwise be green.
    api.state.lock().unwrap().fail_with = Some(502);
    let out = step(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(
        job.output("exit_code").as_deref(),
        Some("0"),
        "infracheck's own exit code"
    );
}
