//! The leveled compaction picker.
//!
//! Level targets are sized dynamically from the bottom up, as RocksDB's
//! `level_compaction_dynamic_level_bytes` does: the last level's target is the size of
//! the largest level (at least `level_base_size`), each level above is a `level_size_multiplier`-th of the one below, and levels
//! whose target would fall below `level_base_size` stay empty. Level 0 compacts into the
//! first non-empty-target level (the base level). This keeps about 90% of the data in
//! the last level, so space amplification stays near 1.1.
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
    let mut targets = vec![0u64; levels];
    let largest = (1..levels)
        .map(|l| version.level_bytes(l))
        .max()
        .unwrap_or(0);
    let mut current = largest.max(opts.level_base_size);
    targets[last] = current;
    let mut base_level = last;
    for level in (1..last).rev() {
        current /= opts.level_size_multiplier;
        if current < opts.level_base_size {
            break;
        }
        targets[level] = current;
        base_level = level;
    }
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
                return idle.count() as f64 / opts.level0_compaction_trigger as f64;
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
    (!running.conflicts(&c)).then_some(c)
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
    candidates
        .into_iter()
        .map(|(_, c)| c)
        .find(|c| !running.conflicts(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{make_internal_key, ValueKind};
    use crate::version::FileMeta;

    fn file(number: u64, lo: &str, hi: &str, size: u64) -> Arc<FileMeta> {
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
        assert_eq!(t.targets, vec![0, 0, 5_000, 50_000]);
        assert_eq!(t.base_level, 2);
        let empty = level_targets(&Version::empty(4), &opts());
        assert_eq!(empty.base_level, 3);
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
}
