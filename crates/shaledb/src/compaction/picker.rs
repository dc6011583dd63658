//! The leveled compaction picker.
//!
//! Level targets are sized dynamically from the bottom up, as RocksDB's
//! `level_compaction_dynamic_level_bytes` does. The largest level sets the scale; each
//! level above it gets a `level_size_multiplier`-th of the one below. The base level,
//! the one level 0 compacts into, is the lowest-numbered level whose target is at most
//! `level_base_size` (and the first non-empty level, if that is higher up); the levels
//! above it stay empty. No target is set below `level_base_size`, so the base level
//! buffers up to that much before it pushes data down, and once the tree is large,
//! about 90% of the data sits in the last level, which keeps space amplification near
//! 1.1.
//!
//! Each level gets a score (level 0: file count over the trigger; deeper levels: bytes
//! over target); the highest score of at least 1 is compacted. Within a level, the
//! table that overlaps the fewest bytes of the next level goes first, which keeps write
//! amplification low.

use std::sync::Arc;

use super::{Compaction, Running};
use crate::options::Options;
use crate::version::Version;

/// Per-level target sizes and the base level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LevelTargets {
    pub base_level: usize,
    /// Target bytes per level; 0 for level 0 and for levels above the base level.
    pub targets: Vec<u64>,
}

/// Computes the dynamic level targets for `version`.
pub(crate) fn level_targets(version: &Version, opts: &Options) -> LevelTargets {
    let levels = version.num_levels();
    let last = levels - 1;
    let multiplier = opts.level_size_multiplier;
    let mut targets = vec![0u64; levels];
    let Some(first_non_empty) = (1..levels).find(|&l| version.level_bytes(l) > 0) else {
        // An empty tree: level 0 goes straight to the last level.
        targets[last] = opts.level_base_size;
        return LevelTargets {
            base_level: last,
            targets,
        };
    };
    let largest = (first_non_empty..levels)
        .map(|l| version.level_bytes(l))
        .max()
        .unwrap_or(0);
    // The target the first non-empty level would have below a full-size last level.
    let mut base_size = (first_non_empty..last).fold(largest, |size, _| size / multiplier);
    let base_max = opts.level_base_size;
    let base_min = base_max / multiplier;
    let mut base_level = first_non_empty;
    if base_size <= base_min {
        // Too little data for that level to be worth a target of its own scale: keep
        // it as the base (data never moves up) with the smallest base target.
        base_size = base_min.max(1);
    } else {
        while base_level > 1 && base_size > base_max {
            base_level -= 1;
            base_size /= multiplier;
        }
    }
    // No level's target goes below level_base_size: a small base level would make
    // level-0 compactions frequent and the level below score high, so data would be
    // rewritten often on its way down (RocksDB sets the same floor).
    let mut size = base_size;
    for target in &mut targets[base_level..] {
        *target = size.max(base_max);
        size = size.saturating_mul(multiplier);
    }
    targets[last] = targets[last].max(largest);
    LevelTargets {
        base_level,
        targets,
    }
}

/// The compaction score of every level (index = level); the last level scores 0.
pub(crate) fn level_scores(version: &Version, opts: &Options, running: &Running) -> Vec<f64> {
    let t = level_targets(version, opts);
    let last = version.num_levels() - 1;
    (0..version.num_levels())
        .map(|level| {
            if level == last {
                return 0.0;
            }
            let idle = version
                .files(level)
                .iter()
                .filter(|f| !running.files.contains(&f.number));
            if level == 0 {
                // Never more than one merge may take: a trigger above that would merge
                // level 0 into itself in batches (see `level0_batch`) and never down.
                let trigger = opts
                    .level0_compaction_trigger
                    .min(super::level0_merge_limit(opts));
                return idle.count() as f64 / trigger as f64;
            }
            let bytes: u64 = idle.map(|f| f.file_size).sum();
            if bytes == 0 {
                0.0
            } else if t.targets[level] == 0 {
                // A non-empty level above the base level drains downward.
                10.0
            } else {
                bytes as f64 / t.targets[level] as f64
            }
        })
        .collect()
}

/// Picks the most needed leveled compaction that does not conflict with running work.
pub(crate) fn pick(
    version: &Arc<Version>,
    opts: &Options,
    running: &Running,
) -> Option<Compaction> {
    let scores = level_scores(version, opts, running);
    let targets = level_targets(version, opts);
    let mut order: Vec<usize> = (0..scores.len()).filter(|&l| scores[l] >= 1.0).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    for level in order {
        let picked = if level == 0 {
            pick_level0(version, opts, running, targets.base_level)
        } else {
            pick_level(version, opts, running, level)
        };
        if picked.is_some() {
            return picked;
        }
    }
    None
}

fn pick_level0(
    version: &Arc<Version>,
    opts: &Options,
    running: &Running,
    base_level: usize,
) -> Option<Compaction> {
    let l0 = version.files(0);
    // Level 0 tables overlap and must move down oldest first: take all of them, and
    // none while another level-0 compaction runs.
    if l0.is_empty() || l0.iter().any(|f| running.files.contains(&f.number)) {
        return None;
    }
    if let Some(batch) = super::level0_batch(version, opts) {
        return (!running.conflicts(&batch)).then_some(batch);
    }
    let (smallest, largest) = super::user_key_range(l0.iter());
    let next = version.overlapping(base_level, Some(&smallest), Some(&largest));
    let mut inputs = vec![(0, l0.to_vec())];
    let single = l0.len() == 1 && next.is_empty();
    if !next.is_empty() {
        inputs.push((base_level, next));
    }
    let mut c = Compaction::new(
        Arc::clone(version),
        inputs,
        base_level,
        opts.target_file_size,
    );
    c.trivial_move = single;
    if running.conflicts(&c) {
        return None;
    }
    c.align_to_grandparents();
    Some(c)
}

fn pick_level(
    version: &Arc<Version>,
    opts: &Options,
    running: &Running,
    level: usize,
) -> Option<Compaction> {
    let output_level = level + 1;
    let mut candidates: Vec<(f64, Compaction)> = version
        .files(level)
        .iter()
        .filter(|f| !running.files.contains(&f.number))
        .map(|f| {
            let next = version.overlapping(
                output_level,
                Some(f.smallest_user_key()),
                Some(f.largest_user_key()),
            );
            let overlap: u64 = next.iter().map(|n| n.file_size).sum();
            let ratio = overlap as f64 / f.file_size.max(1) as f64;
            let trivial = next.is_empty();
            let mut inputs = vec![(level, vec![Arc::clone(f)])];
            if !next.is_empty() {
                inputs.push((output_level, next));
            }
            let mut c = Compaction::new(
                Arc::clone(version),
                inputs,
                output_level,
                opts.target_file_size,
            );
            c.trivial_move = trivial;
            (ratio, c)
        })
        .collect();
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut c = candidates
        .into_iter()
        .map(|(_, c)| c)
        .find(|c| !running.conflicts(c))?;
    c.align_to_grandparents();
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compaction::tests::file;

    fn opts() -> Options {
        Options {
            level_base_size: 1000,
            level_size_multiplier: 10,
            num_levels: 4,
            ..Options::default()
        }
    }

    #[test]
    fn dynamic_targets_grow_from_the_bottom() {
        let mut v = Version::empty(4);
        v.levels[3].push(file(1, "a", "z", 50_000));
        let t = level_targets(&v, &opts());
        // The base level is the first whose natural target (500) is at most
        // level_base_size (1000); no target is below level_base_size.
        assert_eq!(t.targets, vec![0, 1_000, 5_000, 50_000]);
        assert_eq!(t.base_level, 1);
        let empty = level_targets(&Version::empty(4), &opts());
        assert_eq!(empty.base_level, 3);
    }

    #[test]
    fn base_level_moves_up_only_past_level_base_size() {
        // Below level_base_size the last level is the base level.
        let mut v = Version::empty(4);
        v.levels[3].push(file(1, "a", "z", 900));
        let t = level_targets(&v, &opts());
        assert_eq!((t.base_level, t.targets.clone()), (3, vec![0, 0, 0, 1_000]));
        // Past it, level 2 becomes the base level, its target floored at
        // level_base_size.
        let mut v = Version::empty(4);
        v.levels[3].push(file(1, "a", "z", 3_000));
        let t = level_targets(&v, &opts());
        assert_eq!((t.base_level, t.targets), (2, vec![0, 0, 1_000, 3_000]));
        // Past ten times it, level 1 is the base level.
        let mut v = Version::empty(4);
        v.levels[3].push(file(1, "a", "z", 30_000));
        let t = level_targets(&v, &opts());
        assert_eq!(
            (t.base_level, t.targets),
            (1, vec![0, 1_000, 3_000, 30_000])
        );
    }

    #[test]
    fn a_small_non_empty_level_stays_the_base_level() {
        // Level 2 holds data though the last level is small: level 2 stays the base
        // level rather than draining (data never moves up).
        let mut v = Version::empty(4);
        v.levels[2].push(file(1, "a", "m", 50));
        v.levels[3].push(file(2, "a", "z", 800));
        let t = level_targets(&v, &opts());
        assert_eq!((t.base_level, t.targets), (2, vec![0, 0, 1_000, 1_000]));
    }

    #[test]
    fn level0_goes_to_the_base_level_and_alone_moves_trivially() {
        let mut v = Version::empty(4);
        for n in 1..=4 {
            v.levels[0].push(file(n, "a", "c", 10));
        }
        let v = Arc::new(v);
        let c = pick(&v, &opts(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 3);
        assert_eq!(c.input_files().count(), 4);
        assert!(!c.trivial_move);
        let mut running = Running::default();
        running.register(&c);
        assert!(pick(&v, &opts(), &running).is_none());
    }

    #[test]
    fn leveled_compactions_know_the_tables_below_their_output_level() {
        // Level 0 goes into base level 2; level 3's tables that the range overlaps
        // are the grandparents, so outputs can be cut at their boundaries.
        let mut v = Version::empty(4);
        for n in 1..=4 {
            v.levels[0].push(file(n, "c", "k", 10));
        }
        v.levels[2].push(file(5, "a", "z", 1_000));
        v.levels[3].push(file(6, "a", "b", 2_000));
        v.levels[3].push(file(7, "d", "f", 2_000));
        v.levels[3].push(file(8, "g", "z", 2_000));
        let v = Arc::new(v);
        let c = pick(&v, &opts(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 2);
        let numbers: Vec<u64> = c.grandparents.iter().map(|f| f.number).collect();
        // The range is "a".."z" (level 2's table joins the inputs).
        assert_eq!(numbers, vec![6, 7, 8]);
        // A compaction into the last level has none.
        let mut v = Version::empty(4);
        for n in 1..=4 {
            v.levels[0].push(file(n, "c", "k", 10));
        }
        let c = pick(&Arc::new(v), &opts(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 3);
        assert!(c.grandparents.is_empty());
    }
}
