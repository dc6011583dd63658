//! Compaction: choosing which tables to merge ([`picker`] for leveled, [`tiered`] for
//! size-tiered, [`manual`] for `Db::compact_range`) and merging them ([`job`]).
//!
//! A [`Compaction`] names its input tables at one level, the overlapping tables at the
//! output level, and the key range it writes. Running compactions never share an input
//! table or write overlapping ranges of one level below level 0 (level-0 tables may
//! overlap); the picker checks both against the [`Running`] set, under the database's
//! state lock.

pub(crate) mod job;
pub(crate) mod manual;
pub(crate) mod picker;
pub(crate) mod shadow;
pub(crate) mod splitter;
pub(crate) mod tiered;

use std::sync::Arc;

use crate::options::Options;
use crate::version::{FileMeta, Version};

/// The most level-0 tables one merge reads, whatever the table cache's size.
const MAX_LEVEL0_MERGE: usize = 64;

/// The most level-0 tables one merge takes. A merge holds each level-0 input open at
/// once (a deeper level's tables it opens one at a time), on top of the tables the
/// table cache keeps open, so a merge of every table of a level 0 that has grown large
/// (a bulk load with compactions off, say) would run out of file descriptors. Past
/// this many, level 0 is first merged into itself in batches ([`level0_batch`]).
pub(crate) fn level0_merge_limit(opts: &Options) -> usize {
    crate::cache::table_cache_capacity(opts.max_open_files).min(MAX_LEVEL0_MERGE)
}

/// When level 0 holds more tables than one merge may take: a merge of
/// [`level0_merge_limit`] adjacent level-0 tables into one level-0 table (one run, so
/// one table however large). Its sequence range lies within theirs, so level 0 stays
/// ordered newest first. Each merge leaves level 0 that many tables less one. The
/// adjacent tables holding the fewest bytes go first (the oldest on a tie), so a batch's
/// output is merged again only with others of its size: each byte is rewritten about
/// log(n) / log(limit) times, where always taking the oldest would take the growing
/// output into every batch. Not after an interrupted repair, when level-0 sequence
/// ranges overlap and level 0 only goes down whole.
pub(crate) fn level0_batch(version: &Arc<Version>, opts: &Options) -> Option<Compaction> {
    let level0 = version.files(0);
    let limit = level0_merge_limit(opts);
    if level0.len() <= limit || version.level0_seqs_overlap() {
        return None;
    }
    let bytes = |start: usize| -> u64 {
        level0[start..start + limit]
            .iter()
            .map(|f| f.file_size)
            .sum()
    };
    // `min_by_key` keeps the first of equals, and level 0 is newest first.
    let start = (0..=level0.len() - limit).rev().min_by_key(|&s| bytes(s))?;
    Some(Compaction::new(
        Arc::clone(version),
        vec![(0, level0[start..start + limit].to_vec())],
        0,
        u64::MAX,
    ))
}

/// One unit of compaction work.
#[derive(Debug, Clone)]
pub(crate) struct Compaction {
    /// The version the inputs were chosen from.
    pub version: Arc<Version>,
    /// Input tables by level, in each level's order (level 0 newest first).
    pub inputs: Vec<(usize, Vec<Arc<FileMeta>>)>,
    pub output_level: usize,
    /// Move the single input table to the output level without rewriting it.
    pub trivial_move: bool,
    /// User-key range covered (inclusive).
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    /// Cut output tables at this size.
    pub target_file_size: u64,
    /// Tables of the level below the output level that the output range overlaps;
    /// outputs are cut at their boundaries (see [`splitter`]). Empty unless
    /// [`Compaction::align_to_grandparents`] was called.
    pub grandparents: Vec<Arc<FileMeta>>,
}

impl Compaction {
    pub(crate) fn new(
        version: Arc<Version>,
        inputs: Vec<(usize, Vec<Arc<FileMeta>>)>,
        output_level: usize,
        target_file_size: u64,
    ) -> Self {
        let (smallest, largest) = user_key_range(inputs.iter().flat_map(|(_, files)| files.iter()));
        Compaction {
            version,
            inputs,
            output_level,
            trivial_move: false,
            smallest,
            largest,
            target_file_size,
            grandparents: Vec::new(),
        }
    }

    /// Cuts outputs at the boundaries of the tables below the output level, so each
    /// output overlaps as few of them as it can when it is compacted in turn.
    pub(crate) fn align_to_grandparents(&mut self) {
        let below = self.output_level + 1;
        if below < self.version.num_levels() {
            self.grandparents =
                self.version
                    .overlapping(below, Some(&self.smallest), Some(&self.largest));
        }
    }

    /// True if no table below the output level overlaps the compaction's key range, so
    /// nothing older than the compaction's inputs can exist for any key it writes.
    /// Level 0 never counts as bottommost: its tables overlap one another.
    pub(crate) fn is_bottommost(&self) -> bool {
        self.output_level > 0
            && (self.output_level + 1..self.version.num_levels()).all(|level| {
                self.version
                    .overlapping(level, Some(&self.smallest), Some(&self.largest))
                    .is_empty()
            })
    }

    pub(crate) fn input_files(&self) -> impl Iterator<Item = (usize, &Arc<FileMeta>)> {
        self.inputs
            .iter()
            .flat_map(|(level, files)| files.iter().map(move |f| (*level, f)))
    }

    pub(crate) fn input_bytes(&self) -> u64 {
        self.input_files().map(|(_, f)| f.file_size).sum()
    }

    /// The level the work is charged to in statistics: the shallowest input level.
    pub(crate) fn start_level(&self) -> usize {
        self.inputs.iter().map(|(l, _)| *l).min().unwrap_or(0)
    }
}

/// The smallest and largest user keys of a set of tables (empty for no tables).
pub(crate) fn user_key_range<'a>(
    files: impl Iterator<Item = &'a Arc<FileMeta>> + Clone,
) -> (Vec<u8>, Vec<u8>) {
    let smallest = files.clone().map(|f| f.smallest_user_key()).min();
    let largest = files.map(|f| f.largest_user_key()).max();
    (
        smallest.unwrap_or_default().to_vec(),
        largest.unwrap_or_default().to_vec(),
    )
}

/// What running compactions hold: input tables and output ranges.
#[derive(Debug, Default)]
pub(crate) struct Running {
    pub files: std::collections::HashSet<u64>,
    /// (output level, smallest, largest) of each running compaction.
    pub outputs: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl Running {
    /// True if `c` shares an input, or an output range in a level other than level 0,
    /// with running work. Level-0 tables may overlap, so two compactions may each
    /// write one there (tiered merges of disjoint level-0 runs).
    pub(crate) fn conflicts(&self, c: &Compaction) -> bool {
        c.input_files().any(|(_, f)| self.files.contains(&f.number))
            || self.outputs.iter().any(|(level, lo, hi)| {
                *level == c.output_level
                    && c.output_level > 0
                    && !(c.largest < *lo || c.smallest > *hi)
            })
    }

    pub(crate) fn register(&mut self, c: &Compaction) {
        self.files.extend(c.input_files().map(|(_, f)| f.number));
        self.outputs
            .push((c.output_level, c.smallest.clone(), c.largest.clone()));
    }

    pub(crate) fn release(&mut self, c: &Compaction) {
        for (_, f) in c.input_files() {
            self.files.remove(&f.number);
        }
        if let Some(i) = self.outputs.iter().position(|(level, lo, hi)| {
            *level == c.output_level && *lo == c.smallest && *hi == c.largest
        }) {
            self.outputs.swap_remove(i);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    /// A table of `size` bytes holding user keys `lo` to `hi`, for picker tests.
    pub(crate) fn file(number: u64, lo: &str, hi: &str, size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            file_size: size,
            smallest: make_internal_key(lo.as_bytes(), 1, ValueKind::Put),
            largest: make_internal_key(hi.as_bytes(), 1, ValueKind::Put),
            smallest_seq: 1,
            largest_seq: number,
            num_entries: 1,
            num_deletions: 0,
        })
    }

    #[test]
    fn bottommost_only_where_nothing_below_overlaps_the_key_range() {
        let mut v = Version::empty(4);
        v.levels[1].push(file(1, "c", "f", 100));
        v.levels[3].push(file(2, "m", "p", 100));
        let v = Arc::new(v);
        let compaction = |level: usize, files: Vec<Arc<FileMeta>>, output: usize| {
            Compaction::new(Arc::clone(&v), vec![(level, files)], output, 1 << 20)
        };
        // Level 1's "c".."f" into level 2: level 3 holds only "m".."p".
        assert!(compaction(1, vec![file(1, "c", "f", 100)], 2).is_bottommost());
        // "c".."n" into level 2 overlaps level 3's table.
        assert!(!compaction(1, vec![file(3, "c", "n", 100)], 2).is_bottommost());
        // The last level is always bottommost; level 0 never is.
        assert!(compaction(3, vec![file(2, "m", "p", 100)], 3).is_bottommost());
        assert!(!compaction(0, vec![file(4, "x", "y", 100)], 0).is_bottommost());
    }

    #[test]
    fn level0_batches_take_the_smallest_adjacent_tables_the_oldest_on_a_tie() {
        let opts = Options {
            max_open_files: 16,
            ..Options::default()
        };
        let limit = level0_merge_limit(&opts);
        assert_eq!(limit, 6);
        let level0 = |sizes: &[u64]| {
            let mut v = Version::empty(4);
            // Newest first: the highest numbers (and sequence numbers) come first.
            let n = sizes.len() as u64;
            for (i, &size) in sizes.iter().enumerate() {
                v.levels[0].push(file(n - i as u64, "a", "z", size));
            }
            Arc::new(v)
        };
        let batch = |v: &Arc<Version>| -> Vec<u64> {
            level0_batch(v, &opts).map_or_else(Vec::new, |c| {
                assert_eq!(c.output_level, 0);
                c.inputs[0].1.iter().map(|f| f.number).collect()
            })
        };
        // Within the limit: nothing to do.
        assert!(batch(&level0(&[10; 6])).is_empty());
        // All equal: the oldest six.
        assert_eq!(batch(&level0(&[10; 9])), vec![6, 5, 4, 3, 2, 1]);
        // A large output of an earlier batch at the bottom is left out.
        assert_eq!(
            batch(&level0(&[10, 10, 10, 10, 10, 10, 10, 1_000])),
            vec![7, 6, 5, 4, 3, 2]
        );
    }
}
