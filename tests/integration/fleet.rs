//! Configs for real fleets: `include:` (files and globs, merged, with every problem at its own
//! file's position), `targets:` (one check per target, against a real nginx), paths relative
//! to the file that names them, and `validate` without the deploy job's secrets.

use crate::support::nginx::Nginx;
use crate::support::tls_server::{Pki, TlsServer};
use crate::support::{Workspace, code, json, result, stderr, stdout};

/// The names `list` prints for `env`, in order.
fn listed(ws: &Workspace, config: &str, env: &str) -> Vec<String> {
    let out = ws.run(&["list", "-c", config, "--env", env], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split('\t').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn include_merges_environments_checks_defaults_and_waivers() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "include: [teams/payments.yaml]\n\
         defaults: {timeout: 3s}\n\
         environments:\n  \
           prod:\n    \
             command_checks:\n      \
               - {name: root-check, command: [\"true\"]}\n",
    );
    ws.write(
        "teams/payments.yaml",
        "defaults: {retries: 1}\n\
         waivers:\n  \
           - {check: payments-down, reason: INC-1, expires: 2999-01-01}\n\
         checks:\n  \
           command_checks:\n    \
             - {name: shared, command: [\"true\"]}\n\
         environments:\n  \
           prod:\n    \
             command_checks:\n      \
               - {name: payments-up, command: [\"true\"]}\n      \
               - {name: payments-down, command: [\"false\"]}\n  \
           staging:\n    \
             command_checks:\n      \
               - {name: payments-staging, command: [\"true\"]}\n",
    );
    let v = ws.run(&["validate"], &[]);
    assert_eq!(code(&v), 0, "{}", stderr(&v));
    assert!(
        stdout(&v).contains("2 environments, 6 checks"),
        "{}",
        stdout(&v)
    );
    // Shared checks first, then the environment's own: the main config's, then the included
    // file's.
    assert_eq!(
        listed(&ws, "infracheck.yaml", "prod"),
        ["shared", "root-check", "payments-up", "payments-down"]
    );
    assert_eq!(
        listed(&ws, "infracheck.yaml", "staging"),
        ["shared", "payments-staging"]
    );
    let out = ws.run(&["--env", "prod", "--json", "r.json"], &[]);
    assert_eq!(
        code(&out),
        0,
        "the waiver from the included file applies: {}",
        stderr(&out)
    );
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "payments-down")["status"], "WAIVED");
    assert_eq!(result(&doc, "payments-up")["status"], "PASS");
    // Each check is located in the file that defines it.
    let up = result(&doc, "payments-up");
    assert_eq!(up["location"]["file"], "teams/payments.yaml", "{up}");
    assert_eq!(
        result(&doc, "root-check")["location"]["file"],
        "infracheck.yaml"
    );
}

#[test]
fn include_glob_reads_every_match_in_name_order_relative_to_the_including_file() {
    let ws = Workspace::new();
    ws.write(
        "ops/infracheck.yaml",
        "include: [\"teams/*.yaml\"]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    for (file, name) in [
        ("b.yaml", "from-b"),
        ("a.yaml", "from-a"),
        ("deeper/c.yaml", "from-c"),
    ] {
        ws.write(
            &format!("ops/teams/{file}"),
            &format!(
                "environments:\n  prod:\n    command_checks:\n      - {{name: {name}, command: [\"true\"]}}\n"
            ),
        );
    }
    ws.write("ops/teams/notes.txt", "not yaml: [");
    // Run from the parent: the glob is relative to ops/, not to the working directory.
    assert_eq!(
        listed(&ws, "ops/infracheck.yaml", "prod"),
        ["main", "from-a", "from-b"]
    );
    // A glob that matches nothing is an error at its entry (a typo must not pass silently).
    ws.write(
        "ops/empty.yaml",
        "include: [\"nothing/*.yaml\"]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    let out = ws.run(&["validate", "-c", "ops/empty.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: ops/empty.yaml:1:11: include[0]: `nothing/*.yaml` matches no file\n"
    );
}

#[test]
fn include_cycle_is_exit_2_naming_both_places() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "include: [a.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    ws.write("a.yaml", "include: [b.yaml]\n");
    ws.write("b.yaml", "include:\n  - a.yaml\n");
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: b.yaml:2:5: include[0]: include cycle: `a.yaml` is read already (already included at infracheck.yaml:1:11)\n"
    );
    // Back to the main config.
    ws.write("b.yaml", "include: [infracheck.yaml]\n");
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: b.yaml:1:11: include[0]: include cycle: `infracheck.yaml` is read already (it is the main config)\n"
    );
    // Not a cycle, but one file reached twice (its checks would be defined twice).
    ws.write("a.yaml", "include: [common.yaml]\n");
    ws.write("b.yaml", "include: [common.yaml]\n");
    ws.write("common.yaml", "vars: {a: b}\n");
    ws.write(
        "infracheck.yaml",
        "include: [a.yaml, b.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: b.yaml:1:11: include[0]: included twice: `common.yaml` is read already (already included at a.yaml:1:11)\n"
    );
}

#[test]
fn a_missing_included_file_is_exit_2_at_its_entry() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "environments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\ninclude:\n  - teams/gone.yaml\n",
    );
    for args in [&["validate"][..], &["--env", "prod"][..]] {
        let out = ws.run(args, &[]);
        assert_eq!(code(&out), 2, "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(
                "error: infracheck.yaml:6:5: include[0]: cannot read included file teams/gone.yaml: "
            ),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn includes_are_bounded_in_depth_and_read_only_regular_files() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "include: [f1.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    // f1 -> f2 -> … -> f17: the 17th level is one too deep.
    for i in 1..=17 {
        ws.write(
            &format!("f{i}.yaml"),
            &format!("include: [f{}.yaml]\n", i + 1),
        );
    }
    ws.write("f18.yaml", "vars: {a: b}\n");
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: f16.yaml:1:11: include[0]: includes nest deeper than 16 files\n"
    );
    // A device is not read (it would never end).
    ws.write(
        "infracheck.yaml",
        "include: [/dev/zero]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: infracheck.yaml:1:11: include[0]: cannot read included file /dev/zero: not a regular file\n"
    );
}

#[test]
fn a_check_name_defined_in_two_files_names_both_places() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "include: [team.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: api, command: [\"true\"]}\n",
    );
    ws.write(
        "team.yaml",
        "environments:\n  prod:\n    command_checks:\n      - name: other\n        command: [\"true\"]\n      - name: api\n        command: [\"true\"]\n",
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: team.yaml:6:9: duplicate check name `api` (first defined at infracheck.yaml:5:10)\n"
    );
    // A value set in two files (not a list, not a mapping) names both places too.
    ws.write(
        "team.yaml",
        "max_workers: 4\nenvironments:\n  prod:\n    command_checks:\n      - {name: other, command: [\"true\"]}\n",
    );
    ws.write(
        "infracheck.yaml",
        "max_workers: 8\ninclude: [team.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: api, command: [\"true\"]}\n",
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: team.yaml:1:1: max_workers: `max_workers` is set in two files: here and at infracheck.yaml:1:1\n"
    );
}

#[test]
fn an_error_inside_an_included_file_points_at_its_own_position() {
    let ws = Workspace::new();
    ws.write(
        "main.yaml",
        "include: [teams/web.yaml]\nenvironments:\n  prod:\n    command_checks:\n      - {name: main, command: [\"true\"]}\n",
    );
    ws.write(
        "teams/web.yaml",
        "# the web team's checks\nenvironments:\n  prod:\n    http_checks:\n      - name: web\n        url: http://127.0.0.1:1/\n        expected_staus: 200\n",
    );
    let out = ws.run(&["validate", "-c", "main.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: teams/web.yaml:7:9: environments.prod.http_checks[0].expected_staus: unknown key `expected_staus` (did you mean `expected_status`?)\n"
    );
    // Invalid YAML in an included file: its own file and position.
    ws.write("teams/web.yaml", "environments: [\n");
    let out = ws.run(&["validate", "-c", "main.yaml"], &[]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.starts_with("error: teams/web.yaml:"), "{err}");
    assert!(err.contains(": invalid YAML: "), "{err}");
}

#[test]
fn targets_expand_strings_and_maps_and_run_against_nginx() {
    let nginx = Nginx::start(
        "location = /api { return 200 \"api ok\"; }\n\
         location = /web { return 200 \"web ok\"; }\n\
         location = /gone { return 404; }\n",
    );
    let ws = Workspace::new();
    let base = nginx.base();
    ws.write(
        "infracheck.yaml",
        &format!(
            "environments:\n  prod:\n    http_checks:\n      \
               - name: path {{{{target}}}}\n        \
                 targets: [api, web]\n        \
                 url: {base}/{{{{target}}}}\n        \
                 body_contains: \"{{{{target}}}} ok\"\n      \
               - name: status\n        \
                 targets:\n          \
                   - {{path: api, code: 200}}\n          \
                   - {{path: gone, code: 404}}\n        \
                 url: \"{base}/{{{{ target.path }}}}\"\n        \
                 expected_status: \"{{{{target.code}}}}\"\n"
        ),
    );
    assert_eq!(
        listed(&ws, "infracheck.yaml", "prod"),
        [
            "path api",
            "path web",
            "status [path=api, code=200]",
            "status [path=gone, code=404]"
        ]
    );
    let list = ws.run(&["list", "--env", "prod"], &[]);
    assert!(
        stdout(&list).contains(&format!("path web\thttp\t{base}/web\t-\n")),
        "{}",
        stdout(&list)
    );
    let out = ws.run(&["--env", "prod", "--json", "r.json"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        assert_eq!(r["status"], "PASS", "{r}");
        // Every expanded check is located at its template.
        assert_eq!(r["location"]["file"], "infracheck.yaml", "{r}");
    }
    assert_eq!(result(&doc, "path web")["location"]["line"], 4);
    assert_eq!(
        result(&doc, "status [path=gone, code=404]")["location"]["line"],
        8
    );
}

#[test]
fn expanded_names_must_be_unique_and_target_keys_known() {
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        "environments:\n  prod:\n    command_checks:\n      \
           - name: \"echo {{target.host}}\"\n        \
             targets: [{host: a, port: 1}, {host: b, port: 2}, {host: a, port: 3}]\n        \
             command: [echo, \"{{target.host}}\"]\n",
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: c.yaml:4:15: environments.prod.command_checks[0].name: targets 1 and 3 both give the name `echo a`\n"
    );
    // An unknown key is an error at the line that uses it.
    ws.write(
        "c.yaml",
        "environments:\n  prod:\n    command_checks:\n      \
           - name: \"echo {{target.host}}\"\n        \
             targets: [{host: a}]\n        \
             command: [echo, \"{{target.hots}}\"]\n",
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: c.yaml:6:25: environments.prod.command_checks[0].command[1]: `{{target.hots}}`: target `host=a` has no key `hots` (keys: host)\n"
    );
    // A reference in a check without `targets:` is refused, not sent as written.
    ws.write(
        "c.yaml",
        "environments:\n  prod:\n    command_checks:\n      - {name: x, command: [echo, \"{{target}}\"]}\n",
    );
    let out = ws.run(&["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`{{target}}` is replaced only in a check with `targets:`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn relative_paths_are_read_from_the_configs_directory_whatever_the_working_directory() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf_days("leaf", 90);
    let server = TlsServer::start(&cert, &key, None, &[]);
    let ws = Workspace::new();
    let ca = std::fs::read_to_string(pki.ca_file()).unwrap();
    ws.write("ops/staging/srv/ca.pem", &ca);
    std::fs::create_dir_all(ws.path().join("ops/staging/scripts")).unwrap();
    ws.write(
        "ops/staging/infracheck.yaml",
        &format!(
            "environments:\n  staging:\n    tls_checks:\n      \
               - {{name: cert, host: 127.0.0.1, port: {}, server_name: app.test, ca_file: srv/ca.pem}}\n    \
             command_checks:\n      \
               - {{name: here, command: [sh, -c, pwd], cwd: scripts, stdout_contains: ops/staging/scripts}}\n",
            server.port
        ),
    );
    // From the parent of ops/: the CA and the working directory are found beside the config.
    let out = ws.run(
        &[
            "-c",
            "ops/staging/infracheck.yaml",
            "--env",
            "staging",
            "--json",
            "r.json",
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc = json(&ws.path().join("r.json"));
    assert_eq!(result(&doc, "cert")["status"], "PASS");
    assert_eq!(result(&doc, "here")["status"], "PASS");
    // And from the config's own directory, the same.
    let dir = ws.path().join("ops/staging");
    let out = crate::support::run_in(&dir, &["--env", "staging"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn validate_without_secrets_notes_unset_variables_and_exits_0() {
    let ws = Workspace::new();
    ws.write(
        "infracheck.yaml",
        "vars: {auth: \"Bearer ${PROD_TOKEN}\"}\n\
         environments:\n  \
           prod:\n    \
             http_checks:\n      \
               - name: api\n        \
                 url: https://api.example.test/\n        \
                 headers: {Authorization: \"${vars.auth}\"}\n      \
               - name: db-port\n        \
                 url: \"https://db.example.test:${DB_PORT}/\"\n",
    );
    let out = ws.run(&["validate"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err,
        "note: infracheck.yaml:1:14: vars.auth: environment variable `PROD_TOKEN` is not set: validated without this value (`run` needs it, or a default: `${PROD_TOKEN:-default}`)\n\
         note: infracheck.yaml:9:14: environments.prod.http_checks[1].url: environment variable `DB_PORT` is not set: validated without this value (`run` needs it, or a default: `${DB_PORT:-default}`)\n"
    );
    assert!(
        stdout(&out).contains("OK (1 environment"),
        "{}",
        stdout(&out)
    );
    // Every other problem stays an error, also with unset variables around.
    ws.write(
        "bad.yaml",
        "environments:\n  prod:\n    http_checks:\n      - {name: api, url: \"https://${HOST}/\", timeout: soon}\n",
    );
    let out = ws.run(&["validate", "-c", "bad.yaml"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "error: bad.yaml:4:55: environments.prod.http_checks[0].timeout: invalid duration"
        ),
        "{}",
        stderr(&out)
    );
    // --require-env and a run refuse, naming the variable.
    let out = ws.run(&["validate", "--require-env"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "error: infracheck.yaml:1:14: vars.auth: environment variable `PROD_TOKEN` is not set"
        ),
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["--env", "prod"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`PROD_TOKEN` is not set"),
        "{}",
        stderr(&out)
    );
    // With the secrets set, nothing to note.
    let out = ws.run(
        &["validate"],
        &[("PROD_TOKEN", "s3cr3t-value"), ("DB_PORT", "5432")],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(stderr(&out), "");
}
