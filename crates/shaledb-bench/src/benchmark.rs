//! Running one benchmark: its threads, a sampler of the engine's counters, and the
//! merged [`WorkloadResult`].
//!
//! Threads are scoped, so they borrow the engine; each gets its own key seed (the
//! run's base seed plus the number of threads started before it, as db_bench does).
//! For readwhilewriting one extra writer thread runs until the readers finish and is
//! left out of the counted operations. A sampler thread calls `Engine::stats` every
//! 100 ms so that adapters can track peaks such as level-0 file counts.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crate::amplification;
use crate::config::BenchConfig;
use crate::engine::{Engine, EngineError};
use crate::error::BenchError;
use crate::lifetime::DbLifetime;
use crate::ops::{self, KeyOrder, ThreadContext, WriteSpec};
use crate::progress::Progress;
use crate::result::WorkloadResult;
use crate::thread_stats::{Merged, ThreadStats};
use crate::workload::Workload;

/// How often the sampler asks the engine for its counters.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What a benchmark runs against.
pub struct BenchmarkEnv<'a> {
    /// The engine.
    pub engine: &'a dyn Engine,
    /// The run's options.
    pub config: &'a BenchConfig,
    /// The database's history.
    pub lifetime: &'a DbLifetime,
    /// The database's directory, for space amplification.
    pub db_dir: &'a Path,
    /// Progress display.
    pub progress: Progress,
    /// Threads started so far in the run (seeds are base seed + this).
    pub threads_started: &'a mut u64,
}

/// The work of one counted thread.
fn thread_body(
    workload: Workload,
    ctx: &ThreadContext<'_>,
    config: &BenchConfig,
    count: u64,
) -> Result<ThreadStats, EngineError> {
    let value_size = workload.value_size(config.value_size);
    let write = |order, sync| WriteSpec {
        order,
        count,
        value_size,
        batch_size: config.batch_size,
        sync,
    };
    match workload {
        Workload::FillSeq => ops::write(ctx, write(KeyOrder::Sequential, false)),
        Workload::FillRandom | Workload::Overwrite | Workload::Fill100K => {
            ops::write(ctx, write(KeyOrder::Random, false))
        }
        Workload::FillSync => ops::write(
            ctx,
            WriteSpec {
                batch_size: 1,
                ..write(KeyOrder::Random, true)
            },
        ),
        Workload::ReadRandom | Workload::ReadWhileWriting => ops::read_random(ctx, count, false),
        Workload::ReadMissing => ops::read_random(ctx, count, true),
        Workload::ReadSeq => ops::read_sequential(ctx, count, false, value_size),
        Workload::ReadReverse => ops::read_sequential(ctx, count, true, value_size),
        Workload::SeekRandom => ops::seek_random(ctx, count, value_size),
        Workload::DeleteRandom => ops::delete_random(ctx, count),
        Workload::Compact => ops::compact(ctx),
        Workload::WaitForCompaction => ops::wait_for_compaction(ctx),
    }
}

type Joined = thread::Result<Result<ThreadStats, EngineError>>;

/// Collects the threads' stats, or the first failure.
fn collect(workload: Workload, joined: Vec<Joined>) -> Result<Vec<ThreadStats>, BenchError> {
    joined
        .into_iter()
        .map(|j| match j {
            Ok(Ok(stats)) => Ok(stats),
            Ok(Err(source)) => Err(BenchError::Engine { workload, source }),
            Err(_) => Err(BenchError::ThreadPanicked(workload)),
        })
        .collect()
}

/// Runs `workload` and returns its result (the caller prints it).
pub fn run_benchmark(
    workload: Workload,
    env: &mut BenchmarkEnv<'_>,
) -> Result<WorkloadResult, BenchError> {
    let config = env.config;
    let threads = if matches!(workload, Workload::Compact | Workload::WaitForCompaction) {
        1
    } else {
        config.threads
    };
    let per_thread = workload.ops_per_thread(config.num, config.reads());
    let ticker = env
        .progress
        .start(workload.name(), per_thread.saturating_mul(threads as u64));
    let mut next_seed = || {
        let seed = config.seed.wrapping_add(*env.threads_started);
        *env.threads_started += 1;
        seed
    };
    let seeds: Vec<u64> = (0..threads).map(|_| next_seed()).collect();
    let writer_seed = (workload == Workload::ReadWhileWriting).then(&mut next_seed);
    // The writer's puts are not counted, so they do not move the bar.
    let writer_ticker = Progress::hidden().start(workload.name(), 0);
    let (engine, lifetime) = (env.engine, env.lifetime);
    let context = |seed| ThreadContext {
        engine,
        lifetime,
        ticker: &ticker,
        num: config.num,
        seed,
    };
    let stop_writer = AtomicBool::new(false);
    let stop_sampler = AtomicBool::new(false);

    let (readers, writer) = thread::scope(|s| {
        let sampler = s.spawn(|| {
            while !stop_sampler.load(Ordering::Relaxed) {
                thread::park_timeout(SAMPLE_EVERY);
                engine.sample();
            }
        });
        let writer = writer_seed.map(|seed| {
            let ctx = ThreadContext {
                ticker: &writer_ticker,
                ..context(seed)
            };
            let stop = &stop_writer;
            s.spawn(move || ops::write_until(&ctx, config.value_size, stop))
        });
        let handles: Vec<_> = seeds
            .iter()
            .map(|&seed| {
                let ctx = context(seed);
                s.spawn(move || thread_body(workload, &ctx, config, per_thread))
            })
            .collect();
        let readers: Vec<Joined> = handles.into_iter().map(|h| h.join()).collect();
        stop_writer.store(true, Ordering::Relaxed);
        let writer: Option<Joined> = writer.map(|h| h.join());
        stop_sampler.store(true, Ordering::Relaxed);
        sampler.thread().unpark();
        // The sampler only calls `stats`; a panic there is the adapter's bug, and the
        // sample it would have taken is not needed.
        let _ = sampler.join();
        (readers, writer)
    });
    ticker.finish();

    let stats = collect(workload, readers)?;
    let writer_ops = match writer {
        Some(joined) => collect(workload, vec![joined])?
            .first()
            .map(ThreadStats::ops),
        None => None,
    };
    let merged = Merged::merge(&stats);
    let engine_stats = engine.stats();
    let amplification = workload
        .writes()
        .then(|| amplification::measure(&engine_stats, lifetime, env.db_dir));
    let level_report = workload.writes().then(|| engine.level_report()).flatten();
    let reads_something = matches!(
        workload,
        Workload::ReadRandom
            | Workload::ReadMissing
            | Workload::SeekRandom
            | Workload::ReadWhileWriting
    );
    let found = reads_something.then_some(merged.found);
    let message = found.map_or_else(String::new, |f| format!("({f} of {} found)", merged.ops));
    Ok(WorkloadResult {
        name: workload,
        threads,
        ops: merged.ops,
        elapsed_secs: merged.wall_secs,
        thread_secs: merged.thread_secs,
        micros_per_op: merged.micros_per_op(),
        ops_per_sec: merged.ops_per_sec(),
        bytes: merged.bytes,
        mb_per_sec: merged.mb_per_sec(),
        found,
        message,
        writer_ops,
        latency_micros: merged.hist.percentiles(),
        amplification,
        engine_stats,
        level_report,
    })
}
