//! The size-tiered compaction picker (in the manner of RocksDB's universal compaction
//! and Cassandra's STCS).
//!
//! The tree is a list of sorted runs, newest first: each level-0 table is a run, and
//! each non-empty deeper level is one run, deeper levels holding older data. A run is
//! *held* while a running compaction has any of its tables. Nothing is picked until at
//! least `tiered_run_trigger` runs are free; then the picker merges a contiguous
//! stretch of free runs, trying in order:
//! 1. Space amplification: when the free runs but the oldest add up to more than
//!    `tiered_max_size_amplification_percent` of the oldest, all of them are merged into
//!    one run (only when no run from the first free one down is held).
//! 2. Size ratio: from each free run in turn, newest first, the next run joins while
//!    its size is at most the accumulated size times
//!    `(100 + tiered_size_ratio_percent) / 100`; the first stretch of at least
//!    `tiered_min_merge_width` runs is merged.
//! 3. Run count: if more than `tiered_run_trigger` runs are free, the newest free runs
//!    are merged to bring the count down.
//!
//! The output run goes to the level of the oldest input run. For level-0-only input it
//! goes to the empty level just above the next older run, or, when that run is in
//! level 0 or level 1, back to level 0 as one table. A merge that puts level-0 data
//! deeper therefore always holds every older level-0 run (they overlap and must stay
//! newer-above-older), while newer level-0 runs can merge among themselves as a long
//! merge of older runs proceeds.

use std::sync::Arc;

use super::{Compaction, Running};
use crate::options::Options;
use crate::version::{FileMeta, Version};

#[derive(Debug)]
struct Run {
    level: usize,
    files: Vec<Arc<FileMeta>>,
    size: u64,
    held: bool,
}

fn sorted_runs(version: &Version, running: &Running) -> Vec<Run> {
    let held = |files: &[Arc<FileMeta>]| files.iter().any(|f| running.files.contains(&f.number));
    let mut runs: Vec<Run> = version
        .files(0)
        .iter()
        .map(|f| Run {
            level: 0,
            files: vec![Arc::clone(f)],
            size: f.file_size,
            held: held(std::slice::from_ref(f)),
        })
        .collect();
    for level in 1..version.num_levels() {
        let files = version.files(level);
        if !files.is_empty() {
            runs.push(Run {
                level,
                files: files.to_vec(),
                size: version.level_bytes(level),
                held: held(files),
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
    let runs = sorted_runs(version, running);
    if version.level0_seqs_overlap() {
        // After an interrupted repair any level-0 table may hold a key's newest
        // version, so level 0 cannot be split into runs: merge it whole, now.
        let level0 = runs.iter().take_while(|r| r.level == 0).count();
        if level0 < 2 || runs[..level0].iter().any(|r| r.held) {
            return None;
        }
        let c = compaction_for(version, &runs, 0, level0 - 1, opts);
        return (!running.conflicts(&c)).then_some(c);
    }
    // Level 0 past what one merge may read goes down in batches first; no window
    // takes more of its runs than that.
    if let Some(batch) = super::level0_batch(version, opts) {
        if !running.conflicts(&batch) {
            return Some(batch);
        }
    }
    let limit = super::level0_merge_limit(opts);
    let free = runs.iter().filter(|r| !r.held).count();
    if free < opts.effective_tiered_run_trigger() {
        return None;
    }
    let windows: Vec<(usize, usize)> = space_amp_window(&runs, opts)
        .into_iter()
        .chain(ratio_windows(&runs, opts))
        .chain(run_count_window(&runs, opts, free))
        .collect();
    windows
        .into_iter()
        .filter(|&(start, end)| runs[start..=end].iter().filter(|r| r.level == 0).count() <= limit)
        .map(|(start, end)| compaction_for(version, &runs, start, end, opts))
        .find(|c| !running.conflicts(c))
}

/// Scores for `shaledb.stats`, as RocksDB reports universal compaction: level 0's is
/// the whole tree's, free sorted runs over the run trigger (a merge is due at 1 or
/// more); deeper levels score 0.
pub(crate) fn scores(version: &Version, opts: &Options, running: &Running) -> Vec<f64> {
    let free = sorted_runs(version, running)
        .iter()
        .filter(|r| !r.held)
        .count();
    let mut scores = vec![0.0; version.num_levels()];
    scores[0] = free as f64 / opts.effective_tiered_run_trigger() as f64;
    scores
}

/// The compaction merging `runs[start..=end]`.
fn compaction_for(
    version: &Arc<Version>,
    runs: &[Run],
    start: usize,
    end: usize,
    opts: &Options,
) -> Compaction {
    debug_assert!(start < end && runs[start..=end].iter().all(|r| !r.held));
    let output_level = if runs[end].level > 0 {
        runs[end].level
    } else {
        match runs.get(end + 1) {
            None => version.num_levels() - 1,
            Some(older) => older.level.saturating_sub(1),
        }
    };
    let mut inputs: Vec<(usize, Vec<Arc<FileMeta>>)> = Vec::new();
    for run in &runs[start..=end] {
        match inputs.last_mut() {
            Some((level, files)) if *level == run.level => files.extend(run.files.iter().cloned()),
            _ => inputs.push((run.level, run.files.clone())),
        }
    }
    // A level-0 output is one run, so one table however large.
    let target_file_size = if output_level == 0 {
        u64::MAX
    } else {
        opts.target_file_size
    };
    Compaction::new(Arc::clone(version), inputs, output_level, target_file_size)
}

fn space_amp_window(runs: &[Run], opts: &Options) -> Option<(usize, usize)> {
    let start = runs.iter().position(|r| !r.held)?;
    let last = runs.len() - 1;
    if start >= last || runs[start..].iter().any(|r| r.held) {
        return None;
    }
    let newer: u64 = runs[start..last].iter().map(|r| r.size).sum();
    let limit =
        u128::from(opts.tiered_max_size_amplification_percent) * u128::from(runs[last].size.max(1));
    (u128::from(newer) * 100 > limit).then_some((start, last))
}

fn ratio_windows<'a>(
    runs: &'a [Run],
    opts: &'a Options,
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let factor = 100 + u128::from(opts.tiered_size_ratio_percent);
    (0..runs.len())
        .filter(|&start| !runs[start].held)
        .filter_map(move |start| {
            let mut total = u128::from(runs[start].size);
            let mut end = start;
            while let Some(next) = runs.get(end + 1) {
                if next.held || u128::from(next.size) * 100 > total * factor {
                    break;
                }
                total += u128::from(next.size);
                end += 1;
            }
            (end + 1 - start >= opts.tiered_min_merge_width).then_some((start, end))
        })
}

fn run_count_window(runs: &[Run], opts: &Options, free: usize) -> Option<(usize, usize)> {
    let trigger = opts.effective_tiered_run_trigger();
    if free <= trigger {
        return None;
    }
    let want = (free - trigger + 1).max(opts.tiered_min_merge_width);
    // The newest stretch of at least two free runs.
    (0..runs.len())
        .filter(|&start| !runs[start].held && (start == 0 || runs[start - 1].held))
        .find_map(|start| {
            let stretch = runs[start..].iter().take_while(|r| !r.held).count();
            (stretch >= 2).then(|| (start, start + want.min(stretch) - 1))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    /// A table of `size` bytes over the whole key space, written at sequence `number`.
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

    /// A version with level-0 tables of `l0` sizes (newest first) and one table at each
    /// `(level, size)` of `deeper`. Table numbers count down from 100 in that order.
    fn version(l0: &[u64], deeper: &[(usize, u64)]) -> Arc<Version> {
        let mut v = Version::empty(7);
        let mut number = 100;
        for &size in l0 {
            v.levels[0].push(file(number, size));
            number -= 1;
        }
        for &(level, size) in deeper {
            v.levels[level].push(file(number, size));
            number -= 1;
        }
        v.sort_levels();
        Arc::new(v)
    }

    /// Merging once four runs are free, runs up to twice the size of the newer ones
    /// joining, at least four at a time.
    fn options() -> Options {
        Options {
            tiered_run_trigger: 4,
            tiered_size_ratio_percent: 100,
            tiered_min_merge_width: 4,
            ..Options::default()
        }
    }

    fn numbers(c: &Compaction) -> Vec<u64> {
        c.input_files().map(|(_, f)| f.number).collect()
    }

    fn hold(running: &mut Running, v: &Arc<Version>, level: usize, numbers: &[u64]) {
        let files = v
            .files(level)
            .iter()
            .filter(|f| numbers.contains(&f.number))
            .cloned()
            .collect();
        running.register(&Compaction::new(
            Arc::clone(v),
            vec![(level, files)],
            6,
            1 << 20,
        ));
    }

    #[test]
    fn similar_level0_runs_merge_above_the_oldest_run() {
        let v = version(&[100, 100, 100, 100], &[(6, 10_000)]);
        let c = pick(&v, &options(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 5);
        assert_eq!(numbers(&c), [100, 99, 98, 97]);
        assert_eq!(c.target_file_size, options().target_file_size);
    }

    #[test]
    fn nothing_is_picked_below_the_trigger_count() {
        // Three runs, the newer ones far above the space limit: still below the trigger.
        let v = version(&[500, 500], &[(6, 10)]);
        assert!(pick(&v, &options(), &Running::default()).is_none());
        assert_eq!(
            scores(&v, &options(), &Running::default()),
            [0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        // Held runs do not count.
        let mut running = Running::default();
        hold(&mut running, &v, 6, &[98]);
        assert_eq!(scores(&v, &options(), &running)[0], 0.5);
    }

    #[test]
    fn level0_tables_with_overlapping_sequence_ranges_merge_whole() {
        let mut v = Version::empty(7);
        // Table 2 holds sequence numbers 1..=10 and table 1 holds 5..=5.
        v.levels[0].push(file(1, 10));
        let wide = FileMeta {
            smallest_seq: 1,
            largest_seq: 10,
            ..FileMeta::clone(&file(2, 10_000))
        };
        v.levels[0].push(Arc::new(wide));
        v.levels[6].push(file(3, 1_000_000));
        v.sort_levels();
        let v = Arc::new(v);
        assert!(v.level0_seqs_overlap());
        // Two runs of very different sizes, below the trigger: merged all the same.
        let c = pick(&v, &options(), &Running::default()).unwrap();
        assert_eq!(numbers(&c), [2, 1]);
        assert_eq!(c.output_level, 5);
    }

    #[test]
    fn a_run_trigger_above_the_slowdown_trigger_acts_as_it() {
        let opts = Options {
            tiered_run_trigger: 50,
            level0_slowdown_writes_trigger: 6,
            level0_stop_writes_trigger: 8,
            ..options()
        };
        // Five runs wait; six start a merge of the level-0 tables.
        let v = version(&[10; 4], &[(6, 1_000_000)]);
        assert!(pick(&v, &opts, &Running::default()).is_none());
        let v = version(&[10; 5], &[(6, 1_000_000)]);
        let c = pick(&v, &opts, &Running::default()).unwrap();
        assert_eq!(c.input_files().count(), 5);
    }

    #[test]
    fn space_amplification_forces_a_full_merge() {
        let v = version(&[500], &[(4, 50), (5, 100), (6, 200)]);
        let c = pick(&v, &options(), &Running::default()).unwrap();
        assert_eq!(c.output_level, 6);
        assert_eq!(c.input_files().count(), 4);
        // A looser limit leaves the same tree alone (650 / 200 is 325%), when the size
        // ratio rule cannot merge it either.
        let loose = Options {
            tiered_max_size_amplification_percent: 400,
            tiered_min_merge_width: 5,
            ..options()
        };
        assert!(pick(&v, &loose, &Running::default()).is_none());
    }

    #[test]
    fn newer_level0_runs_merge_into_level0_while_a_full_merge_holds_the_older() {
        // Tables 96..=93 and the last level are being merged; 100..=97 arrived since.
        let v = version(&[10, 10, 10, 10, 100, 100, 100, 100], &[(6, 1_000)]);
        let mut running = Running::default();
        hold(&mut running, &v, 0, &[96, 95, 94, 93]);
        hold(&mut running, &v, 6, &[92]);
        let c = pick(&v, &options(), &running).unwrap();
        assert_eq!(numbers(&c), [100, 99, 98, 97]);
        assert_eq!(c.output_level, 0, "older level-0 runs are held");
        assert_eq!(
            c.target_file_size,
            u64::MAX,
            "a level-0 output is one table"
        );
        // Two merges into level 0 do not conflict through their output ranges.
        running.register(&c);
        let later = vec![file(200, 10), file(201, 10)];
        let into_level0 = Compaction::new(Arc::clone(&v), vec![(0, later)], 0, u64::MAX);
        assert!(!running.conflicts(&into_level0));
    }

    #[test]
    fn a_window_ending_in_level0_goes_below_only_when_no_older_level0_run_remains() {
        // A large older level-0 table stops the size-ratio stretch: the merge stays in
        // level 0, above it.
        let opts = Options {
            tiered_min_merge_width: 2,
            tiered_run_trigger: 3,
            ..options()
        };
        let v = version(&[10, 10, 1_000], &[(6, 100_000)]);
        let c = pick(&v, &opts, &Running::default()).unwrap();
        assert_eq!(numbers(&c), [100, 99]);
        assert_eq!(c.output_level, 0);
        // Without it, the output goes to the empty level above the oldest run.
        let v = version(&[10, 10], &[(6, 100_000)]);
        let c = pick(&v, &opts, &Running::default()).unwrap();
        assert_eq!(c.output_level, 5);
        // Level 1 holds the next run: the output can only stay in level 0.
        let v = version(&[10, 10], &[(1, 1_000), (6, 100_000)]);
        let c = pick(&v, &opts, &Running::default()).unwrap();
        assert_eq!((numbers(&c), c.output_level), (vec![100, 99], 0));
    }

    #[test]
    fn the_run_count_rule_skips_held_runs() {
        let opts = Options {
            tiered_min_merge_width: 2,
            // No size-ratio stretch forms: each run is far larger than the newer ones.
            tiered_size_ratio_percent: 0,
            tiered_max_size_amplification_percent: u64::MAX,
            ..options()
        };
        let v = version(
            &[1, 10, 100, 1_000],
            &[(3, 10_000), (4, 100_000), (6, 10_000_000)],
        );
        let mut running = Running::default();
        // The newest table is being merged elsewhere: six runs are free.
        hold(&mut running, &v, 0, &[100]);
        let c = pick(&v, &opts, &running).unwrap();
        assert_eq!(numbers(&c), [99, 98, 97]);
        assert_eq!(c.output_level, 2);
    }
}
