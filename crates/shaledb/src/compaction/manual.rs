//! The inputs of a manual compaction (`Db::compact_range`): every table that holds
//! keys of the range, from every level, merged in one pass into the last level.
//!
//! Going level by level instead (level 0 into level 1, level 1 into level 2, ...)
//! rewrites the upper levels' data once per level on its way down: six times for a
//! level-0 table in a seven-level tree, where one merge writes it once.
//!
//! Taking a table moves data below whatever older versions of its keys the levels
//! under it hold, so those must come too: the key range widens by each table taken,
//! and every deeper level contributes the tables that overlap the widened range. Tables
//! left in the upper levels hold only newer data than the output, so they may stay.
//! Level-0 tables overlap one another and are taken all together, as the picker does.

use std::sync::Arc;

use crate::version::{FileMeta, Version};

/// Inputs by level (level 0 newest first, as the version lists them) for compacting
/// the user keys in [`lo`, `hi`] (unbounded where `None`); empty if no table holds any.
pub(crate) fn manual_inputs(
    version: &Version,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
) -> Vec<(usize, Vec<Arc<FileMeta>>)> {
    let mut lo = lo.map(<[u8]>::to_vec);
    let mut hi = hi.map(<[u8]>::to_vec);
    let mut inputs = Vec::new();
    for level in 0..version.num_levels() {
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

    fn numbers(inputs: &[(usize, Vec<Arc<FileMeta>>)]) -> Vec<(usize, Vec<u64>)> {
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
        let got = manual_inputs(&v, Some(b"d"), Some(b"d"));
        assert_eq!(
            numbers(&got),
            vec![(2, vec![3]), (3, vec![4]), (4, vec![6, 7])]
        );
    }

    #[test]
    fn the_whole_range_takes_every_table() {
        let v = tree();
        let got = manual_inputs(&v, None, None);
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
        let got = manual_inputs(&v, Some(b"y"), None);
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
        assert!(manual_inputs(&v, Some(b"o"), Some(b"w")).is_empty());
    }

    #[test]
    fn a_range_only_the_last_level_holds_rewrites_it_alone() {
        let v = tree();
        let got = manual_inputs(&v, Some(b"y"), Some(b"y"));
        assert_eq!(numbers(&got), vec![(4, vec![8])]);
    }
}
