//! The first pipeline is green on the first try: `init --ci github|gitlab|jenkins` prints its
//! snippet (also after an earlier `init`), and the snippet's infracheck invocation, run in a shell
//! with a fake CI environment against the starter config, passes. The starter's one check is
//! pointed at a loopback nginx. The download step needs the network and is not run: the built
//! binary stands in for the downloaded one (on PATH for GitLab, `bin/infracheck` for Jenkins,
//! `INFRACHECK_BIN` for the Action's run script).

use std::path::Path;
use std::process::Output;

use crate::support::ci::{get, parse_yaml, read as read_repo, req, root, str_of, text};
use crate::support::nginx::Nginx;
use crate::support::release::Job;
use crate::support::{Workspace, bin, code, json, read, result, sanitised_command, stderr, stdout};

/// `init --ci CI` in `ws`, twice: the first writes the starter, the second writes nothing,
/// says so on stderr, exits 0 and prints the same snippet. Returns the snippet.
fn init_twice(ws: &Workspace, ci: &str) -> String {
    let first = ws.run(&["init", "--ci", ci], &[]);
    assert_eq!(code(&first), 0, "{ci}: {}", stderr(&first));
    let starter = read(&ws.path().join("infracheck.yaml"));
    let again = ws.run(&["init", "--ci", ci], &[]);
    assert_eq!(code(&again), 0, "{ci}: {}", stderr(&again));
    assert!(
        stderr(&again).contains("infracheck.yaml already exists: left unchanged, nothing written"),
        "{ci}: {}",
        stderr(&again)
    );
    assert!(!stderr(&again).contains("wrote "), "{}", stderr(&again));
    assert_eq!(read(&ws.path().join("infracheck.yaml")), starter);
    assert_eq!(stdout(&again), stdout(&first), "{ci}: the same snippet");
    let snippet = stdout(&first);
    assert!(
        !snippet.contains("replace-with"),
        "{ci}: a placeholder: {snippet}"
    );
    snippet
}

/// Point the starter's `homepage` check at `nginx` (the only edit a test needs: a loopback
/// server in place of the example URL).
fn point_starter_at(ws: &Workspace, nginx: &Nginx) {
    let path = ws.path().join("infracheck.yaml");
    let starter = read(&path);
    let example = "url: https://www.${vars.domain}/";
    assert!(starter.contains(example), "{starter}");
    std::fs::write(
        &path,
        starter.replace(example, &format!("url: {}/", nginx.base())),
    )
    .unwrap();
}

fn nginx() -> Nginx {
    Nginx::start("location = / { return 200 'welcome'; }")
}

/// The homepage check passed, in the JSON report the snippet asked for.
fn assert_green(out: &Output, report: &Path) {
    assert_eq!(code(out), 0, "{}", text(out));
    let doc = json(report);
    assert_eq!(result(&doc, "homepage")["status"], "PASS", "{doc}");
    assert_eq!(doc["status"], "passed", "{doc}");
}

/// A directory holding `infracheck`, a link to the built binary, for PATH.
fn bin_dir(ws: &Workspace, rel: &str) -> std::path::PathBuf {
    let dir = ws.path().join(rel);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(bin(), dir.join("infracheck")).unwrap();
    dir
}

#[test]
fn the_gitlab_snippet_runs_green_against_the_starter() {
    let ng = nginx();
    let ws = Workspace::new();
    let snippet = init_twice(&ws, "gitlab");
    point_starter_at(&ws, &ng);
    let doc = parse_yaml(&snippet, "the gitlab snippet");
    let job = req(&doc, "infracheck", "gitlab snippet");
    let vars = req(job, "variables", "the infracheck job");
    let script: Vec<&str> = req(job, "script", "the infracheck job")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| str_of(l, "a script line"))
        .collect();
    let bins = bin_dir(&ws, "stand-in");
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap());
    let mut cmd = sanitised_command("sh");
    cmd.current_dir(ws.path())
        .args(["-eu", "-c", &script.join("\n")])
        .env("PATH", path)
        .env("CI", "true")
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_DIR", ws.path())
        .env("CI_JOB_NAME", "infracheck");
    for (k, v) in vars.as_mapping().unwrap() {
        cmd.env(str_of(k, "a variable"), str_of(v, "a variable's value"));
    }
    let out = cmd.output().unwrap();
    assert_green(&out, &ws.path().join("reports/infracheck.json"));
    let junit = read(&ws.path().join("reports/junit.xml"));
    assert!(junit.contains("homepage"), "{junit}");
    assert!(ws.path().join("reports/codequality.json").is_file());
}

/// The `sh '…'` line of the Jenkinsfile's `infracheck` stage.
fn jenkins_invocation(snippet: &str) -> String {
    let stage = snippet
        .split("stage('infracheck')")
        .nth(1)
        .expect("a stage('infracheck')");
    let line = stage
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("sh '"))
        .expect("an sh step");
    line.strip_suffix('\'')
        .expect("a one-line sh step")
        .to_owned()
}

#[test]
fn the_jenkins_snippet_runs_green_against_the_starter() {
    let ng = nginx();
    let ws = Workspace::new();
    let snippet = init_twice(&ws, "jenkins");
    point_starter_at(&ws, &ng);
    bin_dir(&ws, "bin");
    let mut cmd = sanitised_command("sh");
    cmd.current_dir(ws.path())
        .args(["-eu", "-c", &jenkins_invocation(&snippet)])
        .env("JENKINS_URL", "http://127.0.0.1:9/")
        .env("BUILD_NUMBER", "1")
        .env("WORKSPACE", ws.path());
    // The `environment { K = 'V' }` block.
    for l in snippet.lines().map(str::trim) {
        if let Some((k, v)) = l.split_once(" = '")
            && k.starts_with("INFRACHECK_")
        {
            cmd.env(k, v.split('\'').next().unwrap());
        }
    }
    let out = cmd.output().unwrap();
    assert_green(&out, &ws.path().join("reports/infracheck.json"));
    assert!(read(&ws.path().join("reports/junit.xml")).contains("homepage"));
}

#[test]
fn the_github_snippet_runs_green_against_the_starter() {
    let ng = nginx();
    let ws = Workspace::new();
    let snippet = init_twice(&ws, "github");
    point_starter_at(&ws, &ng);
    let doc = parse_yaml(&snippet, "the github snippet");
    let steps = req(
        req(req(&doc, "jobs", "workflow"), "infracheck", "jobs"),
        "steps",
        "job",
    );
    let step = steps
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            get(s, "uses").is_some_and(|u| u.as_str().is_some_and(|u| u.contains("/infracheck@")))
        })
        .expect("the infracheck step");
    // The Action's inputs: its defaults (action.yml), then the snippet's `with:`, as the runner
    // passes them to scripts/action/run.sh (INPUT_<NAME>).
    let action = parse_yaml(&read_repo("action.yml"), "action.yml");
    let mut inputs = std::collections::BTreeMap::new();
    for (k, v) in req(&action, "inputs", "action.yml").as_mapping().unwrap() {
        if let Some(d) = get(v, "default") {
            inputs.insert(
                str_of(k, "input").to_owned(),
                str_of(d, "default").to_owned(),
            );
        }
    }
    for (k, v) in req(step, "with", "the infracheck step")
        .as_mapping()
        .unwrap()
    {
        inputs.insert(str_of(k, "input").to_owned(), str_of(v, "with").to_owned());
    }
    let job = Job::new();
    let summary = job.dir.path().join("summary");
    let mut cmd = sanitised_command("bash");
    cmd.arg(root().join("scripts/action/run.sh"))
        .current_dir(ws.path())
        .env("INFRACHECK_BIN", bin())
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", ws.path())
        .env("GITHUB_STEP_SUMMARY", &summary);
    job.env(&mut cmd);
    for (k, v) in &inputs {
        cmd.env(format!("INPUT_{}", k.to_uppercase().replace('-', "_")), v);
    }
    let out = cmd.output().unwrap();
    let report = ws.path().join(&inputs["json"]);
    assert_green(&out, &report);
    assert_eq!(
        job.output("status").as_deref(),
        Some("passed"),
        "{}",
        job.output_file()
    );
    assert!(read(&summary).contains("homepage"));
}
