//! The strict reader over one mapping: keys are taken one by one and whatever is left is
//! reported as unknown, with the closest known key as a suggestion.

use super::{Key, Node, Problems, Value, is_extension_key, join};

/// Reads the keys of one mapping; whatever is not taken is reported as unknown by
/// [`MapReader::finish`].
pub struct MapReader<'a> {
    entries: &'a [(Key, Node)],
    taken: Vec<bool>,
    /// The mapping's own dotted path.
    pub path: String,
    /// The mapping node.
    pub node: &'a Node,
    /// Every key asked for with [`MapReader::take`], present or not: the keys a parser reads,
    /// for the test that they are all declared in the kind's `FIELDS`.
    #[cfg(test)]
    pub(crate) asked: Vec<String>,
}

impl<'a> MapReader<'a> {
    /// Start reading `node`, which must be a mapping; otherwise a problem is recorded and
    /// `None` returned.
    pub fn new(node: &'a Node, path: &str, problems: &mut Problems) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(MapReader {
                entries,
                taken: vec![false; entries.len()],
                path: path.to_owned(),
                node,
                #[cfg(test)]
                asked: Vec::new(),
            }),
            other => {
                problems.at(
                    node,
                    path,
                    format!("expected a mapping, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// Take a key's value (and its path) if present.
    pub fn take(&mut self, key: &str) -> Option<(&'a Node, String)> {
        #[cfg(test)]
        self.asked.push(key.to_owned());
        let entries = self.entries;
        for (i, (k, v)) in entries.iter().enumerate() {
            if k.name == key {
                if let Some(t) = self.taken.get_mut(i) {
                    *t = true;
                }
                return Some((v, join(&self.path, key)));
            }
        }
        None
    }

    /// The value of `key`, without taking it.
    pub fn peek(&self, key: &str) -> Option<&'a Node> {
        let entries = self.entries;
        entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// Whether the mapping has `key` (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }

    /// Every key/value not taken yet, in file order, marking them taken.
    pub fn take_rest(&mut self) -> Vec<(&'a Key, &'a Node)> {
        let entries = self.entries;
        let mut out = Vec::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            if let Some(t) = self.taken.get_mut(i)
                && !*t
            {
                *t = true;
                out.push((k, v));
            }
        }
        out
    }

    /// Report every key that was not taken as unknown, suggesting the closest known key. Keys
    /// starting with `x-` are extension keys (Compose's convention for holding anchors) and
    /// are ignored.
    pub fn finish(self, known: &[&str], problems: &mut Problems) {
        self.finish_with(|| known.to_vec(), problems);
    }

    /// [`MapReader::finish`] with the known keys listed only when a key is left over: a
    /// mapping read in full (the usual case) costs no list.
    pub fn finish_with<'k>(self, known: impl FnOnce() -> Vec<&'k str>, problems: &mut Problems) {
        let mut known = Some(known);
        let mut list: Vec<&str> = Vec::new();
        for ((k, _), taken) in self.entries.iter().zip(self.taken) {
            if !taken && !is_extension_key(&k.name) {
                if let Some(f) = known.take() {
                    list = f();
                }
                let mut message = format!("unknown key `{}`", k.name);
                if let Some(best) = closest(&k.name, &list) {
                    message.push_str(&format!(" (did you mean `{best}`?)"));
                }
                problems.at_key(k, &join(&self.path, &k.name), message);
            }
        }
    }
}

/// The known key closest to `name` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typo_fix() {
        assert_eq!(
            closest("expected_staus", &["expected_status", "url"]),
            Some("expected_status")
        );
        assert_eq!(closest("zzz", &["expected_status"]), None);
    }
}
