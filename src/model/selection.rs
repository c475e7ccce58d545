//! The part of an environment a run covered when it was asked to run only some checks
//! (`--tags`, `--exclude-tags`, `--only`, `--skip`): the [`SelectionRun`] every report reads,
//! and its one-line description.

use serde::{Deserialize, Serialize};

/// What the selection options asked for and what they picked. Carried in the JSON document so
/// that `merge` judges the same selection every shard ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionRun {
    /// `--tags`: a check with any of these tags is selected.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `--exclude-tags`: a check with any of these tags is left out.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    /// `--only`: a check whose name matches any of these globs is selected.
    #[serde(default)]
    pub only: Vec<String>,
    /// `--skip`: a check whose name matches any of these globs is left out.
    #[serde(default)]
    pub skip: Vec<String>,
    /// Checks in the whole environment.
    pub total_checks: usize,
    /// Checks the options picked.
    pub selected: usize,
    /// Checks run only because a selected check depends on them (`depends_on`).
    pub pulled_in: usize,
}

impl SelectionRun {
    /// The options as given: `--tags db,cache --skip 'legacy-*'`.
    pub fn options(&self) -> String {
        let mut parts = Vec::new();
        for (flag, values, joined) in [
            ("--tags", &self.tags, true),
            ("--exclude-tags", &self.exclude_tags, true),
            ("--only", &self.only, false),
            ("--skip", &self.skip, false),
        ] {
            if values.is_empty() {
                continue;
            }
            if joined {
                parts.push(format!("{flag} {}", values.join(",")));
            } else {
                parts.extend(values.iter().map(|v| format!("{flag} '{v}'")));
            }
        }
        parts.join(" ")
    }
}

/// `selection --tags db: 3 of 10 checks (1 more pulled in by depends_on)`.
pub fn selection_line(s: &SelectionRun) -> String {
    let mut line = format!(
        "selection {}: {} of {} checks",
        s.options(),
        s.selected,
        s.total_checks
    );
    if s.pulled_in > 0 {
        line.push_str(&format!(" ({} more pulled in by depends_on)", s.pulled_in));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_option_as_given() {
        let s = SelectionRun {
            tags: vec!["db".into(), "cache".into()],
            exclude_tags: vec!["slow".into()],
            only: vec!["api-*".into()],
            skip: vec!["legacy-*".into(), "x".into()],
            total_checks: 10,
            selected: 3,
            pulled_in: 1,
        };
        assert_eq!(
            selection_line(&s),
            "selection --tags db,cache --exclude-tags slow --only 'api-*' --skip 'legacy-*' --skip 'x': 3 of 10 checks (1 more pulled in by depends_on)"
        );
        let plain = SelectionRun {
            only: vec!["a".into()],
            total_checks: 2,
            selected: 1,
            ..SelectionRun::default()
        };
        assert_eq!(
            selection_line(&plain),
            "selection --only 'a': 1 of 2 checks"
        );
    }
}
