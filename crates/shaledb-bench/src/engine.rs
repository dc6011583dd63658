//! The engine interface: what a key-value store must offer to be benchmarked.
//!
//! The harness knows nothing about any particular store. An adapter implements
//! [`Engine`] over one store's handle, and an [`EngineFactory`] opens it in a directory;
//! the runner drops the engine and asks the factory again whenever a benchmark needs a
//! fresh database. ShaleDB's adapter lives in `shale.rs`; adapters for other stores
//! (RocksDB, fjall, sled, ...) live in the `bench/peers` crate beside it.
//!
//! Concurrency: an engine is shared by reference between the benchmark's threads
//! (`Send + Sync`); every method may be called from several threads at once.

use std::error::Error as StdError;
use std::path::Path;

use serde::Serialize;

/// An error from an engine, whatever its library's own error type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct EngineError(Box<dyn StdError + Send + Sync + 'static>);

impl EngineError {
    /// Wraps any error (or a message: `EngineError::new("...")` also takes a `String`).
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        EngineError(error.into())
    }

    /// The wrapped error, for callers that want to downcast it.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

/// Counters an engine may report; `None` where it cannot tell.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EngineStats {
    /// Bytes of table files written by flushes and compactions since the engine was
    /// opened (the numerator of write amplification, without the log).
    pub table_bytes_written: Option<u64>,
    /// Bytes on disk that hold live data, as the engine estimates it.
    pub live_data_bytes: Option<u64>,
    /// Microseconds writers spent slowed or stopped by the engine.
    pub stall_micros: Option<u64>,
    /// Bytes the engine stored into files through memory maps since it was opened,
    /// which the process's `write(2)` accounting does not count.
    pub mapped_bytes_written: Option<u64>,
    /// The most level-0 files seen at once (or the current count, for engines that only
    /// know that; the runner samples `stats` while a benchmark runs).
    pub peak_l0_files: Option<u64>,
    /// Anything else worth printing, as (name, value).
    #[serde(serialize_with = "crate::result::pairs_as_map")]
    pub extra: Vec<(String, String)>,
}

/// What one seek of seekrandom read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeekRead {
    /// Entries read from the seek position on.
    pub entries: usize,
    /// Whether the first entry was the key sought itself: db_bench's "found" for
    /// seekrandom.
    pub exact: bool,
}

impl SeekRead {
    /// Counts one entry read after a seek for `start`, the first one deciding `exact`.
    pub fn note(&mut self, start: &[u8], key: &[u8]) {
        self.exact |= self.entries == 0 && key == start;
        self.entries += 1;
    }
}

/// A key-value store under benchmark.
///
/// Only the required methods must be written; the provided ones fall back to simpler
/// operations (`write_batch` to a loop of `put`, `scan` to `scan_all`).
pub trait Engine: Send + Sync {
    /// The engine's name as printed in reports, e.g. `"shaledb"`.
    fn name(&self) -> String;

    /// Writes one entry; `sync` asks for it to be durable before returning.
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError>;

    /// Reads one entry.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// Deletes one entry.
    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError>;

    /// Writes several entries as one atomic batch where the engine can.
    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        for (key, value) in entries {
            self.put(key, value, sync)?;
        }
        Ok(())
    }

    /// Seeks to the first key `>= start` and reads up to `n` entries from there. The
    /// cursor steps only to reach an entry it then reads, so `n` entries cost one seek
    /// and `n - 1` steps on every engine (a Rust iterator's `take(n)` does exactly
    /// that; a cursor must not step past the last entry read).
    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError>;

    /// Reads every entry, ascending or (with `reverse`) descending, returning the count.
    fn scan_all(&self, reverse: bool) -> Result<usize, EngineError>;

    /// Reads up to `limit` entries from one end, calling `visit` on each, and returns
    /// the count. The harness times each `visit` call as one operation.
    ///
    /// The default calls [`Engine::scan_all`] and visits nothing, so the harness can
    /// report only the mean time per entry; adapters should override it.
    fn scan(
        &self,
        reverse: bool,
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, EngineError> {
        let _ = visit;
        Ok(self.scan_all(reverse)?.min(limit))
    }

    /// Writes buffered data out (memtable to tables). Default: nothing to do.
    fn flush(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Compacts the whole key space. Default: nothing to do.
    fn compact_all(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Waits until background flushes and compactions are done. Default: nothing to
    /// wait for (engines without background work, or without a way to ask).
    fn wait_for_compaction(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Notes what the harness tracks while a benchmark runs, every 100 ms beside the
    /// timed work: the count of level-0 files, for its peak. It must cost next to
    /// nothing, so it reads no more than that count. Default: nothing to note.
    fn sample(&self) {}

    /// The engine's counters. Default: none known.
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }

    /// The engine's own per-level report (RocksDB's `rocksdb.stats`, ShaleDB's
    /// `shaledb.stats`), taken when a writing benchmark ends and kept in the JSON
    /// output. Default: none.
    fn level_report(&self) -> Option<String> {
        None
    }
}

/// Opens an engine's database in a directory. The runner calls it once at the start
/// and again, after deleting the directory, for each benchmark that needs a fresh
/// database.
pub trait EngineFactory: Sync {
    /// Short name, used for the database's subdirectory and in reports.
    fn name(&self) -> String;

    /// The settings the engine is opened with, as (name, value), printed with the
    /// results so that runs on different engines can be compared.
    fn settings(&self) -> Vec<(String, String)>;

    /// Opens the database in `dir`, creating it (and `dir`) if missing.
    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError>;
}
