//! The docs against the registries, both ways: every key of every kind is in its section of
//! `docs/checks.md` and every key those sections document is a key of the kind; every common
//! check key is in `docs/configuration.md` ("Common check keys") and nothing else is; every
//! reason code of the registry's table (`reasons()`) is a row of `docs/results.md` with its class,
//! and no row names a code that does not exist (in a build with every optional kind); every kind has a row of the phases table there that names
//! each of its phases and gives no other.

use std::collections::{BTreeMap, BTreeSet};

use super::REGISTRY;
use crate::model::ReasonClass;

const CHECKS_MD: &str = include_str!("../../docs/checks.md");
const CONFIGURATION_MD: &str = include_str!("../../docs/configuration.md");
const RESULTS_MD: &str = include_str!("../../docs/results.md");

/// The sections of a page: each `## ` heading and the text up to the next one.
fn sections(page: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            out.push((heading, String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The words in backticks of `text`.
fn ticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The cells of the rows of every table in `text` whose header's first cell is `first`.
fn table_rows<'t>(text: &'t str, first: &str) -> Vec<Vec<&'t str>> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let Some(row) = line.trim().strip_prefix('|') else {
            inside = false;
            continue;
        };
        let cells: Vec<&str> = row
            .trim_end_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.first().is_some_and(|c| c.starts_with("---")) {
            continue;
        }
        if !inside {
            inside = cells.first() == Some(&first);
            continue;
        }
        rows.push(cells);
    }
    rows
}

/// The keys the `| key | …` tables of `section` document (`a` / `b` rows name two).
fn documented_keys(section: &str) -> BTreeSet<String> {
    table_rows(section, "key")
        .iter()
        .filter_map(|row| row.first())
        .flat_map(|cell| ticked(cell))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_key_of_every_kind_is_documented_in_its_section_and_nothing_else() {
    let sections = sections(CHECKS_MD);
    for entry in REGISTRY {
        let heading = format!("`{}`", entry.list_key);
        let section: String = sections
            .iter()
            .filter(|(h, _)| h.contains(&heading))
            .map(|(_, body)| body.as_str())
            .collect();
        assert!(
            !section.is_empty(),
            "docs/checks.md has no section {heading}"
        );
        let documented = documented_keys(&section);
        let keys: BTreeSet<String> = entry.fields.iter().map(|f| f.key.to_owned()).collect();
        let missing: Vec<&String> = keys.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "docs/checks.md, section {heading}: keys of the kind not documented: {missing:?}"
        );
        let unknown: Vec<&String> = documented.difference(&keys).collect();
        assert!(
            unknown.is_empty(),
            "docs/checks.md, section {heading}: documented keys the kind does not take: {unknown:?}"
        );
    }
}

#[test]
fn every_common_check_key_is_documented_and_nothing_else() {
    // The common keys, as the validator and the schema take them: a kind's check definition
    // less the kind's own keys.
    let schema = crate::config::schema::json_schema();
    let mut common = BTreeSet::new();
    for entry in REGISTRY {
        let def = &schema["definitions"][format!("{}_check_shared", entry.kind)]["properties"];
        let props = def
            .as_object()
            .map(|m| m.keys().cloned())
            .into_iter()
            .flatten();
        common.extend(props.filter(|k| entry.fields.iter().all(|f| f.key != k)));
    }
    assert!(common.contains("name") && common.contains("environments"));
    let (_, section) = sections(CONFIGURATION_MD)
        .into_iter()
        .find(|(h, _)| *h == "Common check keys")
        .unwrap_or_default();
    // The first paragraph lists the keys; the next ones speak of reasons and `defaults`.
    let listing = section
        .trim_start()
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let documented: BTreeSet<String> = ticked(listing)
        .into_iter()
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = common.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md, Common check keys: not documented: {missing:?}"
    );
    let unknown: Vec<&String> = documented.difference(&common).collect();
    assert!(
        unknown.is_empty(),
        "docs/configuration.md, Common check keys: not a common key: {unknown:?}"
    );
}

#[test]
fn every_reason_code_is_documented_with_its_class_and_nothing_else() {
    let mut documented: BTreeMap<String, String> = BTreeMap::new();
    for row in table_rows(RESULTS_MD, "code") {
        let (Some(codes), Some(classes)) = (row.first(), row.get(1)) else {
            continue;
        };
        let codes = ticked(codes);
        // One class for the row, or one per code (`error / failure / failure`).
        let classes: Vec<&str> = classes.split('/').map(str::trim).collect();
        for (i, code) in codes.iter().enumerate() {
            let class = if classes.len() == codes.len() {
                classes.get(i)
            } else {
                classes.first()
            };
            let class = class.copied().unwrap_or_default().to_owned();
            assert!(
                documented.insert((*code).to_owned(), class).is_none(),
                "docs/results.md lists `{code}` twice"
            );
        }
    }
    for reason in super::reasons() {
        let class = match reason.class() {
            ReasonClass::Failure => "failure",
            ReasonClass::Error => "error",
        };
        assert_eq!(
            documented.remove(reason.code()).as_deref(),
            Some(class),
            "docs/results.md: the row of `{reason}` (class {class})"
        );
    }
    assert!(
        documented.is_empty() || !super::registry::EVERY_KIND,
        "docs/results.md documents codes that do not exist: {documented:?}"
    );
}

#[test]
fn every_kind_s_phases_are_its_row_of_the_phases_table() {
    // Per kind: the phase names its row gives (outside the parentheses that explain them),
    // and every name in backticks the row mentions.
    let mut rows: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for row in table_rows(RESULTS_MD, "kind") {
        let (Some(kinds), Some(phases)) = (row.first(), row.get(1)) else {
            continue;
        };
        let mut names = String::new();
        let mut depth = 0usize;
        for c in phases.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => names.push(c),
                _ => {}
            }
        }
        let set = |text: &str| -> BTreeSet<String> {
            ticked(text).into_iter().map(str::to_owned).collect()
        };
        for kind in ticked(kinds) {
            rows.insert(kind.to_owned(), (set(&names), set(phases)));
        }
    }
    for entry in REGISTRY {
        let want: BTreeSet<String> = entry.phases.iter().map(|p| p.as_str().to_owned()).collect();
        let Some((given, mentioned)) = rows.remove(entry.kind) else {
            panic!("docs/results.md, Phases: no row for `{}`", entry.kind);
        };
        let unknown: Vec<&String> = given.difference(&want).collect();
        assert!(
            unknown.is_empty(),
            "docs/results.md, Phases: `{}` times no {unknown:?}",
            entry.kind
        );
        let missing: Vec<&String> = want.difference(&mentioned).collect();
        assert!(
            missing.is_empty(),
            "docs/results.md, Phases: the row of `{}` does not name {missing:?}",
            entry.kind
        );
    }
    if super::registry::EVERY_KIND {
        assert!(
            rows.is_empty(),
            "docs/results.md, Phases: no such kind: {rows:?}"
        );
    }
}
