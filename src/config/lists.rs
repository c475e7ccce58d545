//! The `<kind>_checks` lists of one mapping, read item by item: the lists an environment
//! owns are taken out of the tree ([`OwnLists`]) and each check's node is dropped once its
//! definition is built ([`ListAt::read_item`]).

use super::checks::{ReadChecks, read_check};
use super::defaults::Defaults;
use super::targets;
use crate::checks::{KindEntry, REGISTRY};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{Node, Value};

/// The items of a mapping's `<kind>_checks` lists, taken out of the tree (an empty list left in
/// place): read by value, each check's node is dropped as soon as its definition is built,
/// instead of the whole tree living beside the whole plan.
#[derive(Debug, Default)]
pub(super) struct OwnLists(Vec<(&'static str, Vec<Node>)>);

impl OwnLists {
    /// Take the items of every `<kind>_checks` list of the mapping `node` (the first key of
    /// each name, the one [`MapReader::take`] reads).
    pub(super) fn take_from(node: &mut Node) -> Self {
        let mut own = Vec::new();
        let Value::Map(entries) = &mut node.value else {
            return OwnLists(own);
        };
        for kind in REGISTRY {
            if let Some((_, list)) = entries.iter_mut().find(|(k, _)| k.name == kind.list_key)
                && let Value::Seq(items) = &mut list.value
            {
                own.push((kind.list_key, std::mem::take(items)));
            }
        }
        OwnLists(own)
    }

    /// The items taken from the list `key`, if any.
    pub(super) fn take(&mut self, key: &str) -> Option<Vec<Node>> {
        let at = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// One `<kind>_checks` list being read.
pub(super) struct ListAt<'l> {
    pub(super) kind: &'l KindEntry,
    pub(super) path: &'l str,
    pub(super) defaults: Defaults,
    pub(super) shared: Option<(&'l str, &'l [&'l str])>,
}

impl ListAt<'_> {
    /// One exact allocation per list, not a doubling growth that leaves up to half unused.
    pub(super) fn reserve(&self, len: usize, read: &mut ReadChecks) {
        read.checks.reserve_exact(len);
        read.headers.reserve_exact(len);
    }

    /// Read the list's item `i`.
    pub(super) fn read_item(
        &self,
        i: usize,
        item: &Node,
        ctx: &mut Ctx<'_>,
        read: &mut ReadChecks,
    ) {
        let ReadChecks {
            checks: out,
            headers,
        } = read;
        let (kind, defaults, shared) = (self.kind, self.defaults, self.shared);
        let path = item_path(self.path, i);
        // A check with `targets:` stands for one check per target.
        match targets::expand(item, &path, ctx.problems) {
            None => {
                if let Some(check) = read_check(kind, item, &path, ctx, defaults, shared, headers) {
                    out.push(check);
                }
            }
            Some(copies) => {
                out.reserve(copies.len());
                for copy in &copies {
                    if let Some(check) =
                        read_check(kind, copy, &path, ctx, defaults, shared, headers)
                    {
                        out.push(check);
                    }
                }
            }
        }
    }
}

/// `PATH[I]`, in one allocation sized up front (once per check).
fn item_path(path: &str, i: usize) -> String {
    use std::fmt::Write as _;
    // `usize::MAX` has 20 digits; the brackets are 2 more.
    let mut out = String::with_capacity(path.len() + 22);
    let _ = write!(out, "{path}[{i}]");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn item_paths_are_written_as_format_writes_them() {
        for (path, i) in [
            ("a.b", 0),
            ("x", 7),
            ("environments.e.http_checks", 9_999),
            ("", usize::MAX),
        ] {
            assert_eq!(super::item_path(path, i), format!("{path}[{i}]"));
        }
    }
}
