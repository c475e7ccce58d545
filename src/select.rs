//! Selection (`--tags`, `--exclude-tags`, `--only`, `--skip`): which checks of an environment a
//! run covers. A check is picked when it has one of `--tags` (any of them; every check without
//! `--tags`) and its name matches one of the `--only` globs (every name without `--only`), and
//! it has none of `--exclude-tags` and its name matches none of the `--skip` globs. The checks a
//! picked check depends on (`depends_on`, transitively) run too, even when the options left them
//! out: a dependent must never run as if its dependency had passed. They are "pulled in", and
//! every report says so. A selection that picks nothing is an error, never an empty green run.
//!
//! Selection comes before sharding (`--shard K/N` splits the selected checks), and the run's
//! JSON document records it so that `merge` judges the same selection every shard ran.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use globset::{Glob, GlobMatcher};

use crate::checks::CheckDef;
use crate::model::{CheckResult, SelectionRun};

/// The most tags an error message lists.
const TAGS_SHOWN: usize = 12;

/// Why a selection cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A `--only` or `--skip` value is not a glob.
    #[error("invalid {flag} pattern `{pattern}`: {message}")]
    Glob {
        /// `--only` or `--skip`.
        flag: &'static str,
        /// The value as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A `--tags` or `--exclude-tags` value is empty or holds a space.
    #[error("invalid {flag} value `{tag}`: a tag is a word without spaces (comma-separated)")]
    Tag {
        /// `--tags` or `--exclude-tags`.
        flag: &'static str,
        /// The value as given.
        tag: String,
    },
    /// No check of the environment is picked.
    #[error("no check of environment {environment} matches {options} ({total} checks{known})")]
    NothingMatched {
        /// The environment.
        environment: String,
        /// The options as given.
        options: String,
        /// Checks in the environment.
        total: usize,
        /// `; tags in use: a, b`, or nothing when no check has tags.
        known: String,
    },
}

/// The selection options, checked: globs compiled, tags non-empty.
#[derive(Debug, Clone)]
pub struct Selection {
    tags: Vec<String>,
    exclude_tags: Vec<String>,
    only: Vec<(String, GlobMatcher)>,
    skip: Vec<(String, GlobMatcher)>,
}

/// The checks a selection picked, with the dependencies it pulled in.
#[derive(Debug)]
pub struct Selected {
    /// The checks to run, in config order.
    pub checks: Vec<CheckDef>,
    /// Their positions among the checks the selection was applied to (ascending): the plan's
    /// dependency graph is kept to these.
    pub positions: Vec<usize>,
    /// What the reports say about the selection.
    pub run: SelectionRun,
    /// For each pulled-in check: the checks of the run whose `depends_on` names it.
    pulled_in_by: BTreeMap<String, Vec<String>>,
}

impl Selection {
    /// The selection of the options; `None` when none is given (the whole environment).
    pub fn new(
        tags: &[String],
        exclude_tags: &[String],
        only: &[String],
        skip: &[String],
    ) -> Result<Option<Self>, SelectError> {
        if tags.is_empty() && exclude_tags.is_empty() && only.is_empty() && skip.is_empty() {
            return Ok(None);
        }
        Ok(Some(Selection {
            tags: checked_tags("--tags", tags)?,
            exclude_tags: checked_tags("--exclude-tags", exclude_tags)?,
            only: globs("--only", only)?,
            skip: globs("--skip", skip)?,
        }))
    }

    /// Whether the options pick the check called `name` with `tags`.
    pub fn picks(&self, name: &str, tags: &[String]) -> bool {
        let has = |wanted: &[String]| tags.iter().any(|t| wanted.contains(t));
        (self.tags.is_empty() || has(&self.tags))
            && (self.only.is_empty() || self.only.iter().any(|(_, g)| g.is_match(name)))
            && !has(&self.exclude_tags)
            && !self.skip.iter().any(|(_, g)| g.is_match(name))
    }

    /// The checks of `environment` the selection picks, plus the checks they depend on; an
    /// error when it picks none.
    pub fn apply(&self, checks: Vec<CheckDef>, environment: &str) -> Result<Selected, SelectError> {
        let total_checks = checks.len();
        let picked: HashSet<&str> = checks
            .iter()
            .filter(|c| self.picks(&c.name, &c.tags))
            .map(|c| c.name.as_str())
            .collect();
        if picked.is_empty() {
            return Err(SelectError::NothingMatched {
                environment: environment.to_owned(),
                options: self.run(0, 0, 0).options(),
                total: total_checks,
                known: known_tags(&checks),
            });
        }
        let by_name: HashMap<&str, &CheckDef> =
            checks.iter().map(|c| (c.name.as_str(), c)).collect();
        // Every check a picked one depends on, transitively (names are unique: validated).
        let mut keep = picked.clone();
        let mut stack: Vec<&CheckDef> = checks
            .iter()
            .filter(|c| picked.contains(c.name.as_str()))
            .collect();
        while let Some(c) = stack.pop() {
            for d in &c.depends_on {
                if let Some(dep) = by_name.get(d.name.as_str())
                    && keep.insert(dep.name.as_str())
                {
                    stack.push(dep);
                }
            }
        }
        let mut pulled_in_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in checks.iter().filter(|c| keep.contains(c.name.as_str())) {
            let mut named = BTreeSet::new();
            for d in &c.depends_on {
                let dep = d.name.as_str();
                if by_name.contains_key(dep)
                    && !picked.contains(dep)
                    && dep != c.name
                    && named.insert(dep)
                {
                    pulled_in_by
                        .entry(d.name.clone())
                        .or_default()
                        .push(c.name.clone());
                }
            }
        }
        let run = self.run(total_checks, picked.len(), keep.len() - picked.len());
        let flags: Vec<bool> = checks
            .iter()
            .map(|c| keep.contains(c.name.as_str()))
            .collect();
        let positions = (0..flags.len())
            .filter(|&i| flags.get(i).copied().unwrap_or(false))
            .collect();
        let checks = checks
            .into_iter()
            .zip(flags)
            .filter_map(|(c, k)| k.then_some(c))
            .collect();
        Ok(Selected {
            checks,
            positions,
            run,
            pulled_in_by,
        })
    }

    fn run(&self, total_checks: usize, selected: usize, pulled_in: usize) -> SelectionRun {
        let patterns = |v: &[(String, GlobMatcher)]| v.iter().map(|(p, _)| p.clone()).collect();
        SelectionRun {
            tags: self.tags.clone(),
            exclude_tags: self.exclude_tags.clone(),
            only: patterns(&self.only),
            skip: patterns(&self.skip),
            total_checks,
            selected,
            pulled_in,
        }
    }
}

impl Selected {
    /// The checks of the run whose `depends_on` pulled in the check called `name` (empty for
    /// a check the options picked).
    pub fn pulled_in_by(&self, name: &str) -> &[String] {
        self.pulled_in_by.get(name).map_or(&[], Vec::as_slice)
    }

    /// Mark the results of pulled-in checks with the checks that pulled them in.
    pub fn annotate(&self, results: &mut [CheckResult]) {
        for r in results {
            if let Some(by) = self.pulled_in_by.get(&r.name) {
                r.pulled_in_by = by.as_slice().into();
            }
        }
    }
}

fn checked_tags(flag: &'static str, values: &[String]) -> Result<Vec<String>, SelectError> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let tag = v.trim();
        if tag.is_empty() || tag.contains(char::is_whitespace) {
            return Err(SelectError::Tag {
                flag,
                tag: v.clone(),
            });
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

fn globs(flag: &'static str, values: &[String]) -> Result<Vec<(String, GlobMatcher)>, SelectError> {
    values
        .iter()
        .map(|p| match Glob::new(p) {
            Ok(g) => Ok((p.clone(), g.compile_matcher())),
            Err(e) => Err(SelectError::Glob {
                flag,
                pattern: p.clone(),
                message: e.kind().to_string(),
            }),
        })
        .collect()
}

/// `; tags in use: a, b, …` for the nothing-matched error, or nothing when no check has tags.
fn known_tags(checks: &[CheckDef]) -> String {
    let all: BTreeSet<&str> = checks
        .iter()
        .flat_map(|c| c.tags.iter().map(String::as_str))
        .collect();
    if all.is_empty() {
        return "; no check has tags".to_owned();
    }
    let shown: Vec<&str> = all.iter().take(TAGS_SHOWN).copied().collect();
    let more = all.len() - shown.len();
    format!(
        "; tags in use: {}{}",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

#[cfg(test)]
mod tests;
