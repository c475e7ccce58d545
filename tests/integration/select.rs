//! Selection (`tags:`, `--tags`, `--exclude-tags`, `--only`, `--skip`) on `run` and `list`,
//! with `--shard` and `merge`; dependencies pulled in; a selection of nothing exits 2. The
//! checks are `command_checks` running `sh` (a real program, no network).

use std::collections::BTreeSet;

use crate::support::{Workspace, code, json, stderr, stdout};

/// `db` needs `net`; `api` needs `db`; `web` and `legacy-report` stand alone. `net` fails, so
/// `db` and `api` are SKIP when they run.
const CONFIG: &str = r#"environments:
  t:
    command_checks:
      - {name: net, command: ["sh", "-c", "exit 1"], tags: [infra]}
      - {name: db, command: ["true"], tags: [db, infra], depends_on: net}
      - {name: api, command: ["true"], tags: [api], depends_on: [db]}
      - {name: web, command: ["true"], tags: [web, slow]}
      - {name: legacy-report, command: ["true"]}
      - {name: cache, command: ["true"], tags: cache}
"#;

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("c.yaml", CONFIG);
    ws
}

fn args<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(extra).copied().collect()
}

/// The names `list` prints for `extra` options.
fn listed(ws: &Workspace, extra: &[&str]) -> Vec<String> {
    let out = ws.run(&args(&["list", "-c", "c.yaml", "--env", "t"], extra), &[]);
    assert_eq!(code(&out), 0, "{extra:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

/// Run with `extra` options and a JSON document; (exit code, document, text on stdout).
fn run(ws: &Workspace, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let out = ws.run(
        &args(
            &["run", "-c", "c.yaml", "--env", "t", "--json", "r.json"],
            extra,
        ),
        &[],
    );
    let doc = json(&ws.path().join("r.json"));
    (code(&out), doc, stdout(&out))
}

fn names(doc: &serde_json::Value) -> Vec<String> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn list_prints_tags_and_what_a_selection_would_run() {
    let ws = workspace();
    let out = ws.run(&["list", "-c", "c.yaml", "--env", "t"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let (first, rest) = text.split_once('\n').expect("lines");
    assert!(
        first.starts_with("net\tcommand\t") && first.ends_with("\tinfra"),
        "{first}"
    );
    assert_eq!(
        rest,
        "db\tcommand\ttrue\tdb,infra\n\
         api\tcommand\ttrue\tapi\n\
         web\tcommand\ttrue\tweb,slow\n\
         legacy-report\tcommand\ttrue\t-\n\
         cache\tcommand\ttrue\tcache\n"
    );
    // `--only api` pulls in `db` and, through it, `net`: the fifth column says by whom.
    let out = ws.run(
        &["list", "-c", "c.yaml", "--env", "t", "--only", "api"],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("net\t") && lines[0].ends_with("\tinfra\tpulled in by db"));
    assert!(lines[1].starts_with("db\t") && lines[1].ends_with("\tdb,infra\tpulled in by api"));
    assert!(lines[2].starts_with("api\t") && lines[2].ends_with("\tapi"));
}

#[test]
fn tags_exclude_tags_only_and_skip_select_by_tag_and_name_glob() {
    let ws = workspace();
    // Any of the tags (comma-separated and repeated), in config order.
    assert_eq!(listed(&ws, &["--tags", "web,cache"]), ["web", "cache"]);
    assert_eq!(
        listed(&ws, &["--tags", "web", "--tags", "cache"]),
        ["web", "cache"]
    );
    assert_eq!(
        listed(&ws, &["--exclude-tags", "slow,infra,api"]),
        ["legacy-report", "cache"]
    );
    assert_eq!(
        listed(&ws, &["--only", "legacy-*", "--only", "w?b"]),
        ["web", "legacy-report"]
    );
    assert_eq!(
        listed(&ws, &["--skip", "legacy-*", "--skip", "[nda]*"]),
        ["web", "cache"]
    );
    // Everything together: tags pick, the name glob narrows, exclusions leave out.
    assert_eq!(
        listed(
            &ws,
            &[
                "--tags",
                "web,cache,db",
                "--only",
                "*e*",
                "--exclude-tags",
                "slow"
            ]
        ),
        ["cache"]
    );
    // A run covers exactly what list shows, and every result carries its tags.
    let (status, doc, _) = run(&ws, &["--tags", "slow,cache"]);
    assert_eq!(status, 0, "{doc}");
    assert_eq!(names(&doc), ["web", "cache"]);
    assert_eq!(
        doc["results"][0]["tags"],
        serde_json::json!(["web", "slow"])
    );
    assert_eq!(doc["results"][1]["tags"], serde_json::json!(["cache"]));
    assert_eq!(
        doc["selection"]["tags"],
        serde_json::json!(["slow", "cache"])
    );
    assert_eq!(doc["selection"]["selected"], 2);
    assert_eq!(doc["selection"]["total_checks"], 6);
    assert_eq!(doc["summary"]["total"], 2);
    // Without a selection, tags are still reported and there is no `selection`.
    let (status, doc, _) = run(&ws, &[]);
    assert_eq!(status, 1);
    assert_eq!(names(&doc).len(), 6);
    assert!(doc.get("selection").is_none(), "{doc}");
    assert_eq!(
        doc["results"][1]["tags"],
        serde_json::json!(["db", "infra"])
    );
    assert!(doc["results"][4].get("tags").is_none());
}

#[test]
fn a_selection_of_nothing_exits_2_with_one_line_and_runs_nothing() {
    let ws = workspace();
    for sub in ["run", "list"] {
        for extra in [
            vec!["--tags", "nope"],
            vec!["--only", "x*"],
            vec!["--skip", "*"],
            vec!["--tags", "web", "--exclude-tags", "slow"],
        ] {
            let out = ws.run(
                &args(
                    &[sub, "-c", "c.yaml", "--env", "t", "--json", "r.json"],
                    &extra,
                )
                .into_iter()
                .filter(|a| sub == "run" || (*a != "--json" && *a != "r.json"))
                .collect::<Vec<_>>(),
                &[],
            );
            assert_eq!(code(&out), 2, "{sub} {extra:?}: {}", stderr(&out));
            assert_eq!(stdout(&out), "", "{sub} {extra:?}");
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with("error: no check of environment t matches "),
                "{err}"
            );
            assert!(
                err.contains("(6 checks; tags in use: api, cache, db, infra, slow, web)"),
                "{err}"
            );
            assert!(!ws.path().join("r.json").exists(), "no report of nothing");
        }
    }
    let out = ws.run(&["run", "-c", "c.yaml", "--env", "t", "--only", "a[b"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with("error: invalid --only pattern `a[b`: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_selected_checks_dependencies_run_and_the_reports_say_they_were_pulled_in() {
    let ws = workspace();
    let (status, doc, text) = run(&ws, &["--only", "api"]);
    // `net` fails, so `db` and then `api` are blocked: never green by leaving `net` out.
    assert_eq!(status, 1, "{doc}");
    assert_eq!(names(&doc), ["net", "db", "api"]);
    assert_eq!(doc["results"][0]["pulled_in_by"], serde_json::json!(["db"]));
    assert_eq!(
        doc["results"][1]["pulled_in_by"],
        serde_json::json!(["api"])
    );
    assert!(doc["results"][2].get("pulled_in_by").is_none());
    assert_eq!(doc["results"][2]["status"], "SKIP");
    assert_eq!(doc["selection"]["selected"], 1);
    assert_eq!(doc["selection"]["pulled_in"], 2);
    assert!(
        text.contains("selection --only 'api': 1 of 6 checks (2 more pulled in by depends_on)"),
        "{text}"
    );
    let net = text
        .lines()
        .find(|l| l.contains("  net "))
        .expect("net row");
    assert!(net.ends_with("— pulled in by db (depends_on)"), "{net}");
    // A skipped dependency still runs for the check that needs it.
    let (_, doc, _) = run(&ws, &["--tags", "db", "--skip", "net"]);
    assert_eq!(names(&doc), ["net", "db"]);
    assert_eq!(doc["results"][0]["pulled_in_by"], serde_json::json!(["db"]));
}

#[test]
fn selection_comes_before_sharding_and_merge_judges_the_same_selection() {
    let ws = workspace();
    // Picks api, web and cache; pulls in db and net, which the options left out.
    let select = ["--exclude-tags", "infra", "--skip", "legacy-*"];
    let (_, whole, _) = run(&ws, &select);
    let expected: BTreeSet<String> = names(&whole).into_iter().collect();
    assert_eq!(expected.len(), 5, "{whole}");
    let mut docs = Vec::new();
    let mut seen = BTreeSet::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let file = format!("s{k}.json");
        let out = ws.run(
            &args(
                &[
                    "run", "-c", "c.yaml", "--env", "t", "--shard", &shard, "--json", &file,
                ],
                &select,
            ),
            &[],
        );
        assert!([0, 1].contains(&code(&out)), "{}", stderr(&out));
        let doc = json(&ws.path().join(&file));
        // Each shard splits the selected checks, not the environment's.
        assert_eq!(doc["shard"]["total_checks"], 5, "{doc}");
        assert_eq!(doc["selection"], whole["selection"]);
        for n in names(&doc) {
            assert!(seen.insert(n.clone()), "{n} in two shards");
        }
        docs.push(file);
    }
    assert_eq!(seen, expected);
    let mut merge = vec!["merge", "--json", "m.json"];
    merge.extend(docs.iter().map(String::as_str));
    let out = ws.run(&merge, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let merged = json(&ws.path().join("m.json"));
    assert_eq!(names(&merged), names(&whole));
    assert_eq!(merged["selection"], whole["selection"]);
    assert_eq!(
        merged["results"][0]["pulled_in_by"],
        serde_json::json!(["db"])
    );
    assert_eq!(
        merged["results"][1]["pulled_in_by"],
        serde_json::json!(["api"])
    );
    assert!(
        stdout(&out).contains("selection --exclude-tags infra --skip 'legacy-*': 3 of 6 checks (2 more pulled in by depends_on)"),
        "{}",
        stdout(&out)
    );
    // `merge --config` expects the checks the shards' selection picks, not the whole
    // environment (legacy-report is planned but was not selected).
    let mut merge = vec!["merge", "--config", "c.yaml", "--json", "mc.json"];
    merge.extend(docs.iter().map(String::as_str));
    let out = ws.run(&merge, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(names(&json(&ws.path().join("mc.json"))), names(&whole));

    // A shard of another selection of as many checks does not merge into this run.
    let out = ws.run(
        &[
            "run",
            "-c",
            "c.yaml",
            "--env",
            "t",
            "--shard",
            "3/3",
            "--json",
            "other.json",
            "--exclude-tags",
            "infra",
            "--skip",
            "cache",
        ],
        &[],
    );
    assert!([0, 1].contains(&code(&out)), "{}", stderr(&out));
    let out = ws.run(
        &["merge", docs[0].as_str(), docs[1].as_str(), "other.json"],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("other.json: ")
            && err.contains("every shard of a run must select the same checks"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn tags_built_from_a_secret_are_masked_in_list_and_every_result() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "secrets: [TIER_TOKEN]\nenvironments:\n  t:\n    command_checks:\n      - {name: a, command: [\"true\"], tags: [\"tier-${TIER_TOKEN}\"]}\n      - {name: b, command: [\"true\"], tags: [plain], depends_on: a}\n",
    );
    let secret = "S3NT1NEL-tag-value";
    let env = [("TIER_TOKEN", secret)];
    let out = ws.run(&["list", "-c", "c.yaml", "--env", "t"], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("a\tcommand\ttrue\ttier-***\n"),
        "{}",
        stdout(&out)
    );
    let out = ws.run(
        &[
            "run", "-c", "c.yaml", "--env", "t", "--tags", "plain", "--json", "r.json",
        ],
        &env,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = std::fs::read_to_string(ws.path().join("r.json")).unwrap();
    assert!(
        !doc.contains(secret) && !stdout(&out).contains(secret) && !stderr(&out).contains(secret)
    );
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["results"][0]["tags"], serde_json::json!(["tier-***"]));
    // Nothing matched: the tags in use are listed, masked.
    let out = ws.run(&["run", "-c", "c.yaml", "--env", "t", "--tags", "x"], &env);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("tags in use: plain, tier-***)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(secret));
}
