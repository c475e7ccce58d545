//! Sharding (`--shard K/N`): which checks a shard runs, chosen by a stable hash of the check
//! name so that adding or removing a check never moves the others to another shard.
//!
//! The hash is FNV-1a 64 (<http://www.isthe.com/chongo/tech/comp/fnv/>), implemented here
//! because std's `DefaultHasher` is not guaranteed to stay the same between Rust releases: a
//! shard assignment must not change when infracheck is rebuilt.

use std::fmt;
use std::str::FromStr;

pub use crate::model::ShardRun;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// Largest shard count accepted (a CI matrix is far smaller).
pub const MAX_SHARDS: u32 = 10_000;

/// One shard of `count`: `index` is 1-based, as in `--shard 2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub index: u32,
    /// How many shards the checks are split into.
    pub count: u32,
}

impl Shard {
    /// The 1-based shard a check name belongs to among `count` shards.
    pub fn of(name: &str, count: u32) -> u32 {
        let count = u64::from(count.max(1));
        // The remainder is below `count`, which fits in u32.
        u32::try_from(fnv1a64(name.as_bytes()) % count)
            .unwrap_or(0)
            .saturating_add(1)
    }

    /// Whether the check called `name` runs in this shard.
    pub fn contains(&self, name: &str) -> bool {
        Shard::of(name, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid shard `{s}` (use K/N with 1 <= K <= N, e.g. `2/4`)");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "invalid shard `{s}`: the shard count must be between 1 and {MAX_SHARDS}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "invalid shard `{s}`: the shard number must be between 1 and {count} (shards are numbered from 1)"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// Keep the checks of `shard` (all of them without one), returning them with what the run
/// covers.
pub fn select<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    shard: Option<Shard>,
) -> (Vec<T>, Option<ShardRun>) {
    let Some(shard) = shard else {
        return (items, None);
    };
    let total_checks = items.len();
    let mut positions = Vec::new();
    let mut kept = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if shard.contains(name(&item)) {
            positions.push(i);
            kept.push(item);
        }
    }
    let run = ShardRun {
        index: shard.index,
        count: shard.count,
        total_checks,
        positions,
    };
    (kept, Some(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
        for bad in [
            "", "2", "0/4", "5/4", "a/4", "1/0", "-1/4", "1/4/2", "1/99999",
        ] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_name_lands_in_exactly_one_shard() {
        for count in 1..=7 {
            for i in 0..200 {
                let name = format!("check-{i}");
                let hits = (1..=count)
                    .filter(|&index| Shard { index, count }.contains(&name))
                    .count();
                assert_eq!(hits, 1, "{name} in {count} shards");
            }
        }
    }

    #[test]
    fn select_records_positions() {
        let names: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
        let shard = Shard { index: 2, count: 3 };
        let (kept, run) = select(names.clone(), |s| s.as_str(), Some(shard));
        let run = run.unwrap();
        assert_eq!(run.total_checks, 50);
        assert_eq!(run.positions.len(), kept.len());
        for (p, k) in run.positions.iter().zip(&kept) {
            assert_eq!(&names[*p], k);
            assert!(shard.contains(k));
        }
    }
}
