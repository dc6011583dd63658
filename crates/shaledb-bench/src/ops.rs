//! The body of each benchmark thread: the loops that call the engine.
//!
//! Every function runs on one thread, owns its generators and [`ThreadStats`], and
//! shares only the engine, the database's [`DbLifetime`] and the progress ticker.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{Engine, EngineError};
use crate::keys::{KeyBuf, RandomKeys, KEY_SIZE};
use crate::lifetime::DbLifetime;
use crate::progress::Ticker;
use crate::thread_stats::ThreadStats;
use crate::values::ValueGenerator;
use crate::workload::SEEK_NEXTS;

/// What every thread of a benchmark shares.
pub struct ThreadContext<'a> {
    /// The engine under benchmark.
    pub engine: &'a dyn Engine,
    /// The database's history.
    pub lifetime: &'a DbLifetime,
    /// Progress of this benchmark.
    pub ticker: &'a Ticker,
    /// Key numbers are drawn from `[0, num)`.
    pub num: u64,
    /// Seed of this thread's key generator.
    pub seed: u64,
}

/// KEY_SIZE as a byte count; 16 fits any integer type.
const KEY_BYTES: u64 = KEY_SIZE as u64;

/// Which keys a writer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrder {
    /// 0, 1, 2, ...
    Sequential,
    /// Uniformly random in `[0, num)`.
    Random,
}

/// How a writer writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteSpec {
    /// Which keys.
    pub order: KeyOrder,
    /// Entries to write.
    pub count: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// Entries per batch.
    pub batch_size: usize,
    /// Sync each write.
    pub sync: bool,
}

/// Writes `spec.count` entries (fillseq, fillrandom, overwrite, fillsync, fill100K).
pub fn write(ctx: &ThreadContext<'_>, spec: WriteSpec) -> Result<ThreadStats, EngineError> {
    let mut keys = RandomKeys::new(ctx.seed, ctx.num);
    let mut values = ValueGenerator::new(spec.value_size);
    let mut buf = KeyBuf::new();
    let mut next = |i: u64| match spec.order {
        KeyOrder::Sequential => i,
        KeyOrder::Random => keys.next_key(),
    };
    let entry_bytes = KEY_BYTES + spec.value_size as u64;
    let mut stats = ThreadStats::start();
    let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(spec.batch_size);
    let mut batch_keys: Vec<u64> = Vec::with_capacity(spec.batch_size);
    let mut i = 0;
    while i < spec.count {
        if spec.batch_size <= 1 {
            let k = next(i);
            let value = values.generate(spec.value_size);
            ctx.engine.put(buf.key(k), value, spec.sync)?;
            mark_present(ctx, k);
            stats.wrote(entry_bytes);
            stats.finished(1, entry_bytes, ctx.ticker);
            i += 1;
            continue;
        }
        batch.clear();
        batch_keys.clear();
        while batch.len() < spec.batch_size && i < spec.count {
            let k = next(i);
            batch.push((
                buf.key(k).to_vec(),
                values.generate(spec.value_size).to_vec(),
            ));
            batch_keys.push(k);
            i += 1;
        }
        ctx.engine.write_batch(&batch, spec.sync)?;
        batch_keys.iter().for_each(|&k| mark_present(ctx, k));
        let n = batch.len() as u64;
        stats.wrote(n * entry_bytes);
        stats.finished(n, n * entry_bytes, ctx.ticker);
    }
    stats.stop(ctx.ticker);
    ctx.lifetime
        .add_written(stats.user_bytes_written(), Some(spec.value_size));
    Ok(stats)
}

fn mark_present(ctx: &ThreadContext<'_>, k: u64) {
    if let Some(live) = ctx.lifetime.live() {
        live.insert(k);
    }
}

/// Writes random entries until `stop` is set (readwhilewriting's writer).
pub fn write_until(
    ctx: &ThreadContext<'_>,
    value_size: usize,
    stop: &AtomicBool,
) -> Result<ThreadStats, EngineError> {
    let mut keys = RandomKeys::new(ctx.seed, ctx.num);
    let mut values = ValueGenerator::new(value_size);
    let mut buf = KeyBuf::new();
    let entry_bytes = KEY_BYTES + value_size as u64;
    let mut stats = ThreadStats::start();
    while !stop.load(Ordering::Relaxed) {
        let k = keys.next_key();
        ctx.engine
            .put(buf.key(k), values.generate(value_size), false)?;
        mark_present(ctx, k);
        stats.wrote(entry_bytes);
        stats.finished_untimed(1, entry_bytes, ctx.ticker);
    }
    stats.stop(ctx.ticker);
    ctx.lifetime
        .add_written(stats.user_bytes_written(), Some(value_size));
    Ok(stats)
}

/// Gets `count` random keys (readrandom, readwhilewriting's readers), or with
/// `missing` keys that are never written (readmissing).
pub fn read_random(
    ctx: &ThreadContext<'_>,
    count: u64,
    missing: bool,
) -> Result<ThreadStats, EngineError> {
    let mut keys = RandomKeys::new(ctx.seed, ctx.num);
    let mut buf = KeyBuf::new();
    let mut stats = ThreadStats::start();
    for _ in 0..count {
        let k = keys.next_key();
        let key = if missing {
            buf.missing_key(k)
        } else {
            buf.key(k)
        };
        let key_len = key.len() as u64;
        let bytes = match ctx.engine.get(key)? {
            Some(value) => {
                stats.found();
                key_len + value.len() as u64
            }
            None => 0,
        };
        stats.finished(1, bytes, ctx.ticker);
    }
    stats.stop(ctx.ticker);
    Ok(stats)
}

/// Reads up to `count` entries from one end (readseq, readreverse).
pub fn read_sequential(
    ctx: &ThreadContext<'_>,
    count: u64,
    reverse: bool,
    value_size: usize,
) -> Result<ThreadStats, EngineError> {
    let mut stats = ThreadStats::start();
    let mut visited = 0u64;
    let limit = usize::try_from(count).unwrap_or(usize::MAX);
    let read = ctx.engine.scan(reverse, limit, &mut |key, value| {
        visited += 1;
        stats.finished(1, (key.len() + value.len()) as u64, ctx.ticker);
    })? as u64;
    if visited == 0 && read > 0 {
        // The engine reported only a count: assume values of the size written.
        stats.finished_untimed(read, read * (KEY_BYTES + value_size as u64), ctx.ticker);
    }
    stats.stop(ctx.ticker);
    Ok(stats)
}

/// Seeks to `count` random keys, reading [`SEEK_NEXTS`] entries after each
/// (seekrandom). Bytes are estimated from the value size written.
pub fn seek_random(
    ctx: &ThreadContext<'_>,
    count: u64,
    value_size: usize,
) -> Result<ThreadStats, EngineError> {
    let mut keys = RandomKeys::new(ctx.seed, ctx.num);
    let mut buf = KeyBuf::new();
    let mut stats = ThreadStats::start();
    for _ in 0..count {
        let read = ctx
            .engine
            .seek_and_read(buf.key(keys.next_key()), SEEK_NEXTS)?;
        if read.exact {
            stats.found();
        }
        let bytes = read.entries as u64 * (KEY_BYTES + value_size as u64);
        stats.finished(1, bytes, ctx.ticker);
    }
    stats.stop(ctx.ticker);
    Ok(stats)
}

/// Deletes `count` random keys (deleterandom).
pub fn delete_random(ctx: &ThreadContext<'_>, count: u64) -> Result<ThreadStats, EngineError> {
    let mut keys = RandomKeys::new(ctx.seed, ctx.num);
    let mut buf = KeyBuf::new();
    let mut stats = ThreadStats::start();
    for _ in 0..count {
        let k = keys.next_key();
        ctx.engine.delete(buf.key(k), false)?;
        if let Some(live) = ctx.lifetime.live() {
            live.remove(k);
        }
        stats.wrote(KEY_BYTES);
        stats.finished(1, 0, ctx.ticker);
    }
    stats.stop(ctx.ticker);
    ctx.lifetime.add_written(stats.user_bytes_written(), None);
    Ok(stats)
}

/// One full compaction (compact).
pub fn compact(ctx: &ThreadContext<'_>) -> Result<ThreadStats, EngineError> {
    once(ctx, |engine| engine.compact_all())
}

/// Waits for the engine's background work to finish, timed as one operation.
pub fn wait_for_compaction(ctx: &ThreadContext<'_>) -> Result<ThreadStats, EngineError> {
    once(ctx, |engine| engine.wait_for_compaction())
}

fn once(
    ctx: &ThreadContext<'_>,
    op: impl FnOnce(&dyn Engine) -> Result<(), EngineError>,
) -> Result<ThreadStats, EngineError> {
    let mut stats = ThreadStats::start();
    op(ctx.engine)?;
    stats.finished(1, 0, ctx.ticker);
    stats.stop(ctx.ticker);
    Ok(stats)
}
