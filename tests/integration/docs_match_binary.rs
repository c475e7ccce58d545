//! The docs match the binary: every flag of every command's `--help` is in docs/cli.md and
//! every flag docs/cli.md lists exists; every `$GITHUB_OUTPUT` key the binary writes is in
//! docs/reports.md's table (and nothing else is), is an output of action.yml and is named in
//! docs/github-action.md.

use std::collections::{BTreeMap, BTreeSet};

use crate::ci_action_contract::written_output_keys;
use crate::support::ci::{keys, parse_yaml, read, req, root, run_cmd, str_of, text};
use crate::support::infracheck_command;

/// The page that documents every flag.
const CLI_PAGE: &str = "docs/cli.md";
/// Its section of the options every command takes.
const EVERY_COMMAND: &str = "Every command";
/// The key the action's run step adds to those of the binary.
const ACTION_KEYS: [&str; 1] = ["exit_code"];

fn help(args: &[&str]) -> String {
    let out = run_cmd(
        infracheck_command(&root()).args(args).arg("--help"),
        "infracheck --help",
    );
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A word that is a flag: `-e` or `--env`.
fn as_flag(word: &str) -> Option<String> {
    let w = word.trim_matches(|c| c == '`' || c == ',');
    let ok = match w.strip_prefix("--") {
        Some(long) => {
            !long.is_empty()
                && long.starts_with(|c: char| c.is_ascii_lowercase())
                && long
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        None => {
            w.len() == 2 && w.starts_with('-') && w[1..].chars().all(|c| c.is_ascii_alphanumeric())
        }
    };
    ok.then(|| w.to_owned())
}

/// The flags of a `--help` text: the heads of its option lines (`  -e, --env <ENV>`).
fn help_flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.len() == line.len() || !trimmed.starts_with('-') {
            continue;
        }
        let head = trimmed.split("  ").next().unwrap_or("");
        for word in head.split(", ") {
            // `--verbose...` is a flag that may repeat.
            let word = word.split([' ', '<', '=', '[']).next().unwrap_or("");
            if let Some(f) = as_flag(word.trim_end_matches("...")) {
                flags.insert(f);
            }
        }
    }
    flags
}

/// The commands of the top-level help (`Commands:`), without clap's `help`.
fn commands(top: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in top.lines() {
        if line == "Commands:" {
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                break;
            }
            let name = line.split_whitespace().next().unwrap_or("").to_owned();
            if name != "help" {
                out.push(name);
            }
        }
    }
    assert!(
        out.len() >= 5,
        "commands of the top-level help: {out:?}\n{top}"
    );
    out
}

/// The flags docs/cli.md lists per `## ` section: every flag in the first column of its tables.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let page = read(CLI_PAGE);
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            let name = h.replace('`', "").trim().to_owned();
            assert!(
                sections.insert(name.clone(), BTreeSet::new()).is_none(),
                "{CLI_PAGE}: section `{name}` twice"
            );
            current = Some(name);
            continue;
        }
        let (Some(section), Some(row)) = (&current, line.strip_prefix('|')) else {
            continue;
        };
        let row = row.replace("\\|", "/");
        let first = row.split('|').next().unwrap_or("");
        let flags = sections.get_mut(section).unwrap();
        for word in first.split_whitespace() {
            if let Some(f) = as_flag(word) {
                flags.insert(f);
            }
        }
    }
    sections
}

#[test]
fn every_flag_of_every_command_is_documented_and_every_documented_flag_exists() {
    let docs = documented();
    let every = docs
        .get(EVERY_COMMAND)
        .unwrap_or_else(|| panic!("{CLI_PAGE} has no `## {EVERY_COMMAND}` section"));
    assert!(
        every.contains("--quiet") && every.contains("--help"),
        "{every:?}"
    );
    let top = help(&[]);
    let mut problems = Vec::new();
    let mut sections_seen: BTreeSet<String> =
        [EVERY_COMMAND.to_owned(), "infracheck help".to_owned()].into();
    let mut check = |label: String, args: &[&str], own: &[&str]| {
        let actual = help_flags(&help(args));
        let mut expected = every.clone();
        for section in own {
            sections_seen.insert((*section).to_owned());
            match docs.get(*section) {
                Some(f) => expected.extend(f.iter().cloned()),
                None => problems.push(format!("{CLI_PAGE} has no `## {section}` section")),
            }
        }
        for f in actual.difference(&expected) {
            problems.push(format!(
                "`{label}` accepts {f}, which {CLI_PAGE} does not document"
            ));
        }
        for f in expected.difference(&actual) {
            problems.push(format!(
                "{CLI_PAGE} documents {f} for `{label}`, which it does not accept"
            ));
        }
    };
    // `infracheck [OPTIONS]` is `run` plus --version.
    check(
        "infracheck".to_owned(),
        &[],
        &["infracheck", "infracheck run"],
    );
    let names = commands(&top);
    for name in &names {
        let section = format!("infracheck {name}");
        check(section.clone(), &[name.as_str()], &[section.as_str()]);
    }
    for section in docs.keys() {
        if !sections_seen.contains(section) {
            problems.push(format!(
                "{CLI_PAGE} has a section `{section}` that is no command of the binary"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(names.iter().any(|n| n == "comment"), "{names:?}");
}

/// The keys of docs/reports.md's `$GITHUB_OUTPUT` table.
fn reports_page_keys() -> BTreeSet<String> {
    let page = read("docs/reports.md");
    let start = page
        .find("### `$GITHUB_OUTPUT` keys")
        .expect("docs/reports.md has a `### `$GITHUB_OUTPUT` keys` section");
    let section = &page[start..];
    let end = section[4..].find("\n#").map_or(section.len(), |e| e + 4);
    let mut keys = BTreeSet::new();
    for line in section[..end].lines() {
        let Some(row) = line.strip_prefix("| `") else {
            continue;
        };
        if let Some((key, _)) = row.split_once('`') {
            keys.insert(key.to_owned());
        }
    }
    keys
}

#[test]
fn every_github_output_key_is_documented_and_exposed_by_the_action() {
    let mut written = written_output_keys();
    assert!(written.len() >= 20, "{written:?}");
    written.extend(ACTION_KEYS.iter().map(|k| (*k).to_owned()));
    let documented = reports_page_keys();
    let undocumented: Vec<&String> = written.difference(&documented).collect();
    let invented: Vec<&String> = documented.difference(&written).collect();
    assert!(
        undocumented.is_empty() && invented.is_empty(),
        "docs/reports.md misses {undocumented:?} and lists keys never written: {invented:?}"
    );

    // action.yml exposes each key as an output, and docs/github-action.md names that output.
    let action = parse_yaml(&read("action.yml"), "action.yml");
    let outputs = req(&action, "outputs", "action.yml");
    let by_key: BTreeMap<String, String> = keys(outputs)
        .into_iter()
        .filter_map(|name| {
            let value = str_of(req(req(outputs, &name, "outputs"), "value", &name), &name);
            let key = value
                .strip_prefix("${{ steps.run.outputs.")?
                .strip_suffix(" }}")?
                .to_owned();
            Some((key, name))
        })
        .collect();
    let page = read("docs/github-action.md");
    for key in &written {
        let name = by_key
            .get(key)
            .unwrap_or_else(|| panic!("action.yml exposes no output for `{key}`"));
        assert!(
            page.contains(&format!("`{name}`")),
            "docs/github-action.md does not name the output `{name}`"
        );
    }
}
