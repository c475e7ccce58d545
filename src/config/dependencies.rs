//! The rules across the checks of one environment: unique names, and `depends_on` entries
//! that name a check of the environment without forming a cycle.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::checks::CheckHeader;
use crate::checks::Dependency;
use crate::model::Location;
use crate::reader::error::Problem;
use crate::reader::source::Source;
use crate::reader::yaml::{self, Problems};

/// Every `depends_on` entry names a check of the same environment, and the dependencies form
/// no cycle (a check depending on itself included).
pub(super) fn check_dependencies(checks: &[CheckHeader], problems: &mut Problems) {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in checks.iter().enumerate() {
        index.entry(c.name.as_str()).or_insert(i);
    }
    let problem = |problems: &mut Problems, d: &Dependency, message: String| {
        problems.list.push(Problem {
            file: Source::from(Arc::clone(&d.location.file)),
            line: d.location.line,
            column: d.location.column,
            path: d.path.clone(),
            message,
        });
    };
    // Resolved edges: check -> (dependency index, entry).
    let mut edges: Vec<Vec<(usize, &Dependency)>> = vec![Vec::new(); checks.len()];
    for (i, c) in checks.iter().enumerate() {
        for d in &c.depends_on {
            match index.get(d.name.as_str()) {
                None => {
                    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
                    let hint = yaml::closest(&d.name, &names)
                        .map(|best| format!(" (did you mean `{best}`?)"))
                        .unwrap_or_default();
                    problem(
                        problems,
                        d,
                        format!(
                            "`{}` depends on unknown check `{}` (no check of this environment has that name){hint}",
                            c.name, d.name
                        ),
                    );
                }
                Some(&j) if j == i => problem(
                    problems,
                    d,
                    format!("dependency cycle: `{}` depends on itself", c.name),
                ),
                Some(&j) => {
                    if let Some(e) = edges.get_mut(i) {
                        e.push((j, d));
                    }
                }
            }
        }
    }
    // Iterative depth-first search in config order; a back edge closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; checks.len()];
    let name = |i: usize| checks.get(i).map_or("?", |c| c.name.as_str());
    for root in 0..checks.len() {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(m) = mark.get_mut(root) {
            *m = Mark::Open;
        }
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&(dep, entry)) = edges.get(node).and_then(|e| e.get(*next)) else {
                if let Some(m) = mark.get_mut(node) {
                    *m = Mark::Done;
                }
                stack.pop();
                continue;
            };
            *next += 1;
            match mark.get(dep).copied() {
                Some(Mark::New) => {
                    if let Some(m) = mark.get_mut(dep) {
                        *m = Mark::Open;
                    }
                    stack.push((dep, 0));
                }
                Some(Mark::Open) => {
                    let start = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                    let mut cycle: Vec<String> = stack
                        .iter()
                        .skip(start)
                        .map(|(n, _)| format!("`{}`", name(*n)))
                        .collect();
                    cycle.push(format!("`{}`", name(dep)));
                    problem(
                        problems,
                        entry,
                        format!("dependency cycle: {}", cycle.join(" -> ")),
                    );
                }
                _ => {}
            }
        }
    }
}

/// Every check name is used once; a repeat points at the first definition.
pub(super) fn check_unique_names(checks: &[CheckHeader], problems: &mut Problems) {
    let mut first: BTreeMap<&str, &Location> = BTreeMap::new();
    for c in checks {
        if let Some(prev) = first.get(c.name.as_str()) {
            // Both places are named: the file too when the first is in another one.
            let first_at = if prev.file == c.location.file {
                format!("line {}", prev.line)
            } else {
                format!("{}:{}:{}", prev.file, prev.line, prev.column)
            };
            problems.list.push(Problem {
                file: Source::from(Arc::clone(&c.location.file)),
                line: c.location.line,
                column: c.location.column,
                path: String::new(),
                message: format!(
                    "duplicate check name `{}` (first defined at {first_at})",
                    c.name
                ),
            });
        } else {
            first.insert(&c.name, &c.location);
        }
    }
}
