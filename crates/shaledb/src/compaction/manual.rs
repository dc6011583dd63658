//! The inputs of a manual compaction (`Db::compact_range`): every table that holds
//! keys of the range, merged into the last level.
//!
//! Going level by level (level 0 into level 1, level 1 into level 2, ...) rewrites the
//! upper levels' data once per level on its way down: six times for a level-0 table in
//! a seven-level tree. So the tables of levels 1 and deeper go down in one merge.
//!
//! Taking a table moves data below whatever older versions of its keys the levels
//! under it hold, so those must come too: the key range widens by each table taken,
//! and every deeper level contributes the tables that overlap the widened range. Tables
//! left in the upper levels hold only newer data than the output, so they may stay.
//! Below level 0 a level's tables do not overlap, so the range widens by at most one
//! table at each end per level.
//!
//! Level-0 tables overlap one another and are taken all together, as the picker does.
//! With random keys each spans nearly the whole key space, so widening by them would
//! turn a small range into the whole tree. For a bounded range, level 0 therefore first
//! goes down on its own, where an automatic compaction would take it (the base level
//! when leveled, a new run above the others when tiered; [`level0_inputs`]), and then
//! the range is merged from level 1 down ([`manual_inputs`]). For the whole key space
//! one merge takes everything.

use std::sync::Arc;

use crate::version::{FileMeta, Version};

/// Input tables by level, in each level's order (level 0 newest first).
pub(crate) type Inputs = Vec<(usize, Vec<Arc<FileMeta>>)>;

/// If a level-0 table holds keys of [`lo`, `hi`]: all of level 0 and the tables of
/// `output` it overlaps, for a merge into `output`.
pub(crate) fn level0_inputs(
    version: &Version,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    output: usize,
) -> Option<Inputs> {
    if version.overlapping(0, lo, hi).is_empty() {
        return None;
    }
    let level0 = version.files(0).to_vec();
    let (smallest, largest) = super::user_key_range(level0.iter());
    let below = version.overlapping(output, Some(&smallest), Some(&largest));
    let mut inputs = vec![(0, level0)];
    if !below.is_empty() {
        inputs.push((output, below));
    }
    Some(inputs)
}

/// Where level 0 goes in a tiered tree: a new run just above the newest deeper run (or
/// into level 1, merged, when that run is there), or the last level if there is none.
pub(crate) fn tiered_level0_output(version: &Version) -> usize {
    let last = version.num_levels() - 1;
    match (1..version.num_levels()).find(|&level| !version.files(level).is_empty()) {
        Some(1) => 1,
        Some(level) => level - 1,
        None => last,
    }
}

/// Inputs, from `first_level` down, for merging the user keys in [`lo`, `hi`]
/// (unbounded where `None`) into the last level; empty if no table holds any.
pub(crate) fn manual_inputs(
    version: &Version,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    first_level: usize,
) -> Inputs {
    let mut lo = lo.map(<[u8]>::to_vec);
    let mut hi = hi.map(<[u8]>::to_vec);
    let mut inputs = Vec::new();
    for level in first_level..version.num_levels() {
        let mut files = version.overlapping(level, lo.as_deref(), hi.as_deref());
        if files.is_empty() {
            continue;
        }
        if level == 0 {
            files = version.files(0).to_vec();
        }
        for f in &files {
            if let Some(l) = lo.as_mut() {
                if f.smallest_user_key() < l.as_slice() {
                    *l = f.smallest_user_key().to_vec();
                }
            }
            if let Some(h) = hi.as_mut() {
                if f.largest_user_key() > h.as_slice() {
                    *h = f.largest_user_key().to_vec();
                }
            }
        }
        inputs.push((level, files));
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compaction::tests::file;

    fn numbers(inputs: &Inputs) -> Vec<(usize, Vec<u64>)> {
        inputs
            .iter()
            .map(|(l, fs)| (*l, fs.iter().map(|f| f.number).collect()))
            .collect()
    }

    fn tree() -> Version {
        let mut v = Version::empty(5);
        v.levels[1].push(file(1, "a", "c", 10));
        v.levels[1].push(file(2, "m", "n", 10));
        v.levels[2].push(file(3, "b", "f", 10));
        v.levels[3].push(file(4, "a", "b", 10));
        v.levels[3].push(file(5, "g", "h", 10));
        v.levels[4].push(file(6, "a", "e", 10));
        v.levels[4].push(file(7, "f", "k", 10));
        v.levels[4].push(file(8, "x", "z", 10));
        v
    }

    #[test]
    fn deeper_levels_follow_the_range_the_taken_tables_widen() {
        let v = tree();
        // "d".."d" is only in 2's "b".."f" and 6's "a".."e"; "b".."f" then pulls in 4's
        // "a".."b" in level 3, and "a".."f" both of level 4's first tables. Level 1's
        // "a".."c" sits above and holds only newer data: it stays.
        let got = manual_inputs(&v, Some(b"d"), Some(b"d"), 0);
        assert_eq!(
            numbers(&got),
            vec![(2, vec![3]), (3, vec![4]), (4, vec![6, 7])]
        );
    }

    #[test]
    fn the_whole_range_takes_every_table() {
        let v = tree();
        let got = manual_inputs(&v, None, None, 0);
        assert_eq!(
            numbers(&got),
            vec![
                (1, vec![1, 2]),
                (2, vec![3]),
                (3, vec![4, 5]),
                (4, vec![6, 7, 8])
            ]
        );
    }

    #[test]
    fn one_level_zero_table_in_range_takes_them_all() {
        let mut v = tree();
        v.levels[0].push(file(10, "y", "y", 10));
        v.levels[0].push(file(9, "a", "b", 10));
        let got = manual_inputs(&v, Some(b"y"), None, 0);
        // Level 0's "a".."b" comes too, which widens the range to "a".. and so takes
        // every deeper table from "a" on.
        assert_eq!(
            numbers(&got),
            vec![
                (0, vec![10, 9]),
                (1, vec![1, 2]),
                (2, vec![3]),
                (3, vec![4, 5]),
                (4, vec![6, 7, 8])
            ]
        );
    }

    #[test]
    fn a_range_no_table_holds_takes_nothing() {
        let v = tree();
        assert!(manual_inputs(&v, Some(b"o"), Some(b"w"), 0).is_empty());
    }

    #[test]
    fn a_range_only_the_last_level_holds_rewrites_it_alone() {
        let v = tree();
        let got = manual_inputs(&v, Some(b"y"), Some(b"y"), 0);
        assert_eq!(numbers(&got), vec![(4, vec![8])]);
    }

    #[test]
    fn level0_goes_down_whole_with_what_it_overlaps_in_the_output_level() {
        let mut v = tree();
        v.levels[0].push(file(10, "b", "c", 10));
        v.levels[0].push(file(9, "m", "m", 10));
        assert!(level0_inputs(&v, Some(b"x"), Some(b"z"), 1).is_none());
        let inputs = level0_inputs(&v, Some(b"m"), Some(b"m"), 1).unwrap();
        // Level 0 spans "b".."m": level 1's "a".."c" and "m".."n" both overlap it.
        assert_eq!(numbers(&inputs), vec![(0, vec![10, 9]), (1, vec![1, 2])]);
        // Below level 1 a bounded range then widens by whole tables only.
        let got = manual_inputs(&v, Some(b"m"), Some(b"m"), 1);
        assert_eq!(numbers(&got), vec![(1, vec![2])]);
    }

    #[test]
    fn tiered_level0_makes_a_new_run_above_the_newest_deeper_one() {
        let mut v = Version::empty(5);
        assert_eq!(tiered_level0_output(&v), 4);
        v.levels[3].push(file(1, "a", "b", 10));
        assert_eq!(tiered_level0_output(&v), 2);
        v.levels[1].push(file(2, "a", "b", 10));
        assert_eq!(tiered_level0_output(&v), 1);
    }
}
