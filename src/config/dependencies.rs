//! The rules across the checks of one environment: unique names, and `depends_on` entries
//! that name a check of the environment without forming a cycle; and the plan's dependency
//! graph, [`Dependencies`]: the names resolved to check positions here, once, for the engine
//! and the deploy gate.

use std::collections::HashMap;
use std::sync::Arc;

use super::checks::CheckHeader;
use crate::checks::{CheckDef, Dependency};
use crate::model::Location;
use crate::reader::error::Problem;
use crate::reader::source::Source;
use crate::reader::yaml::{self, Problems};

/// The `depends_on` graph of a list of checks, by position in that list: what the engine
/// orders the checks by and the deploy gate reruns with them. A dependency outside the list
/// (under `--shard`, a check of another shard) is not in it: the check runs as if it had none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Per check: the positions of the checks it depends on, ascending, without repeats and
    /// without itself.
    of: Vec<Vec<usize>>,
}

impl Dependencies {
    /// The graph of `checks`, their `depends_on` names resolved to positions in `checks`.
    pub fn of_checks(checks: &[CheckDef]) -> Self {
        let named: Vec<(&str, &[Dependency])> = checks
            .iter()
            .map(|c| (c.name.as_str(), c.depends_on.as_slice()))
            .collect();
        let resolved = resolve(&named);
        Dependencies {
            of: resolved
                .edges
                .into_iter()
                .map(|edges| {
                    let mut deps: Vec<usize> = edges.into_iter().map(|(j, _)| j).collect();
                    deps.sort_unstable();
                    deps.dedup();
                    deps
                })
                .collect(),
        }
    }

    /// How many checks the graph is of.
    pub fn len(&self) -> usize {
        self.of.len()
    }

    /// Whether the graph is of no checks.
    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }

    /// The positions of the checks the check at `i` depends on, ascending (none for a
    /// position outside the graph).
    pub fn of(&self, i: usize) -> &[usize] {
        self.of.get(i).map_or(&[], Vec::as_slice)
    }

    /// Per check: the positions of the checks that depend on it, ascending.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut dependents = vec![Vec::new(); self.of.len()];
        for (i, deps) in self.of.iter().enumerate() {
            for &j in deps {
                if let Some(d) = dependents.get_mut(j) {
                    d.push(i);
                }
            }
        }
        dependents
    }

    /// The graph of the checks at `positions` (positions in this graph, in the order of the
    /// new list): a dependency on a check left out is dropped.
    pub fn within(&self, positions: &[usize]) -> Self {
        let mut new_position: Vec<Option<usize>> = vec![None; self.of.len()];
        for (k, &p) in positions.iter().enumerate() {
            if let Some(slot) = new_position.get_mut(p) {
                *slot = Some(k);
            }
        }
        let of = positions
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let mut deps: Vec<usize> = self
                    .of(p)
                    .iter()
                    .filter_map(|&j| new_position.get(j).copied().flatten())
                    .filter(|&j| j != k)
                    .collect();
                deps.sort_unstable();
                deps.dedup();
                deps
            })
            .collect();
        Dependencies { of }
    }
}

/// `depends_on` entries resolved against the names of a list of checks.
struct Resolved<'a> {
    /// Per check: (position of the check depended on, the entry), itself excluded.
    edges: Vec<Vec<(usize, &'a Dependency)>>,
    /// (check, entry) naming no check of the list.
    unknown: Vec<(usize, &'a Dependency)>,
    /// (check, entry) naming the check itself.
    itself: Vec<(usize, &'a Dependency)>,
}

/// The one name → position resolution of `depends_on`: `checks` are (name, entries) in config
/// order; a repeated name resolves to its first check.
fn resolve<'a>(checks: &[(&'a str, &'a [Dependency])]) -> Resolved<'a> {
    let mut resolved = Resolved {
        edges: vec![Vec::new(); checks.len()],
        unknown: Vec::new(),
        itself: Vec::new(),
    };
    // Most configs have no `depends_on` at all: no index of every name then.
    if checks.iter().all(|(_, entries)| entries.is_empty()) {
        return resolved;
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(checks.len());
    for (i, (name, _)) in checks.iter().enumerate() {
        index.entry(name).or_insert(i);
    }
    for (i, (_, entries)) in checks.iter().enumerate() {
        for d in *entries {
            match index.get(d.name.as_str()) {
                None => resolved.unknown.push((i, d)),
                Some(&j) if j == i => resolved.itself.push((i, d)),
                Some(&j) => {
                    if let Some(e) = resolved.edges.get_mut(i) {
                        e.push((j, d));
                    }
                }
            }
        }
    }
    resolved
}

/// A problem at the `depends_on` entry `d`.
fn problem_at(problems: &mut Problems, d: &Dependency, message: String) {
    problems.list.push(Problem {
        file: Source::from(Arc::clone(&d.location.file)),
        line: d.location.line,
        column: d.location.column,
        path: d.path.clone(),
        message,
    });
}

/// Every `depends_on` entry names a check of the same environment, and the dependencies form
/// no cycle (a check depending on itself included).
pub(super) fn check_dependencies(checks: &[CheckHeader], problems: &mut Problems) {
    let named: Vec<(&str, &[Dependency])> = checks
        .iter()
        .map(|c| (c.name.as_str(), c.depends_on.as_slice()))
        .collect();
    let resolved = resolve(&named);
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    let name = |i: usize| names.get(i).copied().unwrap_or("?");
    for &(i, d) in &resolved.unknown {
        let hint = yaml::closest(&d.name, &names)
            .map(|best| format!(" (did you mean `{best}`?)"))
            .unwrap_or_default();
        problem_at(
            problems,
            d,
            format!(
                "`{}` depends on unknown check `{}` (no check of this environment has that name){hint}",
                name(i),
                d.name
            ),
        );
    }
    for &(i, d) in &resolved.itself {
        problem_at(
            problems,
            d,
            format!("dependency cycle: `{}` depends on itself", name(i)),
        );
    }
    report_cycles(&resolved.edges, &names, problems);
}

/// Report each cycle of `edges` (per check: the checks it depends on, with the entry) once, at
/// the entry that closes it: an iterative depth-first search in config order, where a back
/// edge closes a cycle.
fn report_cycles(edges: &[Vec<(usize, &Dependency)>], names: &[&str], problems: &mut Problems) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let name = |i: usize| names.get(i).copied().unwrap_or("?");
    // One stack for every search (most checks depend on nothing: no allocation for them).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..edges.len() {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        stack.clear();
        stack.push((root, 0));
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
                    problem_at(
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
    let mut first: HashMap<&str, &Location> = HashMap::with_capacity(checks.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(of: &[&[usize]]) -> Dependencies {
        Dependencies {
            of: of.iter().map(|d| d.to_vec()).collect(),
        }
    }

    #[test]
    fn a_plan_resolves_its_dependencies_to_positions_once() {
        let yaml = "environments:\n  t:\n    tcp_checks:\n      - {name: c, host: 127.0.0.1, port: 1, depends_on: [b, a, b]}\n      - {name: a, host: 127.0.0.1, port: 2}\n      - {name: b, host: 127.0.0.1, port: 3, depends_on: a}\n";
        let plan = crate::config::load_str("t.yaml", yaml, None, &|_: &str| None::<String>)
            .unwrap()
            .remove(0);
        assert_eq!(plan.dependencies, graph(&[&[1, 2], &[], &[1]]));
        assert_eq!(
            plan.dependencies.dependents(),
            [vec![], vec![0, 2], vec![0]]
        );
    }

    #[test]
    fn within_keeps_the_edges_among_the_kept_checks() {
        let g = graph(&[&[], &[0], &[0, 1], &[2]]);
        // Check 0 left out (another shard): its dependents run as if they had no such dependency.
        assert_eq!(g.within(&[1, 2, 3]), graph(&[&[], &[0], &[1]]));
        assert_eq!(g.within(&[3, 2]), graph(&[&[1], &[]]));
        assert_eq!(g.within(&[]), graph(&[]));
        // A position outside the graph has no dependencies and is depended on by nothing.
        assert_eq!(g.within(&[9, 2]), graph(&[&[], &[]]));
        assert_eq!(g.of(9), &[] as &[usize]);
    }
}
