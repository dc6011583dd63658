//! The size-tiered compaction picker (in the manner of RocksDB's universal compaction
//! and Cassandra's STCS).
//!
//! The tree is a list of sorted runs, newest first: each level-0 table is a run, and
//! each non-empty deeper level is one run, deeper levels holding older data. The picker
//! merges adjacent runs of similar size:
//! 1. Space amplification: when all runs but the oldest add up to more than twice the
//!    oldest, everything is merged into one run.
//! 2. Size ratio: starting from the newest run, the next run joins while its size is at
//!    most the accumulated size times `(100 + tiered_size_ratio_percent) / 100`; at
//!    least `tiered_min_merge_width` runs make a merge.
//! 3. Run count: if there are still more runs than `level0_compaction_trigger`, the
//!    newest runs are merged to bring the count down.
//!
//! A merge that holds a level-0 run holds every older level-0 run too (they overlap and
//! must stay newer-above-older). The output run goes to the level of the oldest input
//! run, or for level-0-only input, to the empty level just above the next older run.

use std::sync::Arc;

use super::{Compaction, Running};
use crate::options::Options;
use crate::version::{FileMeta, Version};

/// Space amplification (percent of the oldest run) that triggers a full merge.
const MAX_SIZE_AMPLIFICATION_PERCENT: u64 = 200;

#[derive(Debug)]
struct Run {
    level: usize,
    files: Vec<Arc<FileMeta>>,
    size: u64,
}

fn sorted_runs(version: &Version) -> Vec<Run> {
    let mut runs: Vec<Run> = version
        .files(0)
        .iter()
        .map(|f| Run {
            level: 0,
            files: vec![Arc::clone(f)],
            size: f.file_size,
        })
        .collect();
    for level in 1..version.num_levels() {
        let files = version.files(level);
        if !files.is_empty() {
            runs.push(Run {
                level,
                files: files.to_vec(),
                size: version.level_bytes(level),
            });
        }
    }
    runs
}

/// Picks a tiered compaction, if one is due and does not conflict with running work.
pub(crate) fn pick(
    version: &Arc<Version>,
    opts: &Options,
    running: &Running,
) -> Option<Compaction> {
    let runs = sorted_runs(version);
    let l0_runs = runs.iter().take_while(|r| r.level == 0).count();
    if runs.len() < 2 {
        return None;
    }
    let last = runs.len() - 1;
    let window = space_amp_window(&runs)
        .or_else(|| ratio_window(&runs, opts, l0_runs))
        .or_else(|| {
            (runs.len() > opts.level0_compaction_trigger).then(|| {
                let width = (runs.len() - opts.level0_compaction_trigger + 1)
                    .max(opts.tiered_min_merge_width)
                    .min(runs.len());
                (0, width - 1)
            })
        })?;
    let (start, mut end) = window;
    if start < l0_runs {
        end = end.max(l0_runs - 1);
    }
    // Where the output run lives.
    let output_level = loop {
        if runs[end].level > 0 {
            break runs[end].level;
        }
        match runs.get(end + 1) {
            None => break version.num_levels() - 1,
            Some(older) if older.level > 1 => break older.level - 1,
            Some(_) => end += 1,
        }
    };
    debug_assert!(end <= last);
    let mut inputs: Vec<(usize, Vec<Arc<FileMeta>>)> = Vec::new();
    for run in &runs[start..=end] {
        match inputs.last_mut() {
            Some((level, files)) if *level == run.level => files.extend(run.files.iter().cloned()),
            _ => inputs.push((run.level, run.files.clone())),
        }
    }
    if inputs.iter().map(|(_, f)| f.len()).sum::<usize>() < 2 && runs[start].level == output_level {
        return None;
    }
    let c = Compaction::new(
        Arc::clone(version),
        inputs,
        output_level,
        opts.target_file_size,
    );
    (!running.conflicts(&c)).then_some(c)
}

fn space_amp_window(runs: &[Run]) -> Option<(usize, usize)> {
    let last = runs.len() - 1;
    let newer: u64 = runs[..last].iter().map(|r| r.size).sum();
    (newer * 100 > MAX_SIZE_AMPLIFICATION_PERCENT * runs[last].size.max(1)).then_some((0, last))
}

fn ratio_window(runs: &[Run], opts: &Options, l0_runs: usize) -> Option<(usize, usize)> {
    // Start at the newest run, or at any run below level 0.
    let starts = std::iter::once(0).chain(l0_runs.max(1)..runs.len());
    for start in starts {
        let mut total = runs[start].size;
        let mut end = start;
        while end + 1 < runs.len() {
            let next = runs[end + 1].size;
            if next * 100 > total * (100 + opts.tiered_size_ratio_percent) {
                break;
            }
            total += next;
            end += 1;
        }
        if end + 1 - start >= opts.tiered_min_merge_width {
            return Some((start, end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    fn file(number: u64, size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            file_size: size,
            smallest: make_internal_key(b"a", 1, ValueKind::Put),
            largest: make_internal_key(b"z", 1, ValueKind::Put),
            smallest_seq: number,
            largest_seq: number,
            num_entries: 1,
            num_deletions: 0,
        })
    }

    #[test]
    fn similar_level0_runs_merge_above_the_oldest_run() {
        let mut v = Version::empty(7);
        for n in 1..=4 {
            v.levels[0].push(file(n, 100));
        }
        v.levels[6].push(file(9, 10_000));
        v.sort_levels();
        let c = pick(&Arc::new(v), &Options::default(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 5);
        assert_eq!(c.input_files().count(), 4);
    }

    #[test]
    fn space_amplification_forces_a_full_merge() {
        let mut v = Version::empty(7);
        v.levels[0].push(file(1, 500));
        v.levels[5].push(file(2, 100));
        v.levels[6].push(file(3, 200));
        let c = pick(&Arc::new(v), &Options::default(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 6);
        assert_eq!(c.input_files().count(), 3);
    }
}
