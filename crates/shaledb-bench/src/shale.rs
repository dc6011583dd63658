//! The ShaleDB adapter: [`Engine`] over [`shaledb::Db`], and its factory.
//!
//! `ShaleFactory::matched()` opens ShaleDB with the settings the peers comparison
//! uses for every engine: write-ahead log on without a sync per write, LZ4, bloom
//! filters at 10 bits per key, 4 KiB blocks, a 64 MiB memtable and a 64 MiB block cache.
//!
//! Concurrency: `Db` is `Send + Sync` and all its calls take `&self`, so the adapter
//! adds no locking. The peak level-0 file count is kept in an atomic updated by `stats`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use shaledb::{Compression, Db, Options, WriteBatch, WriteOptions};

use crate::engine::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

impl From<shaledb::Error> for EngineError {
    fn from(e: shaledb::Error) -> Self {
        EngineError::new(e)
    }
}

/// ShaleDB under benchmark.
pub struct ShaleEngine {
    name: String,
    db: Db,
    peak_l0_files: AtomicU64,
}

impl ShaleEngine {
    /// Wraps an open database, reported as `shaledb`.
    pub fn new(db: Db) -> Self {
        ShaleEngine {
            name: "shaledb".to_string(),
            db,
            peak_l0_files: AtomicU64::new(0),
        }
    }

    /// The wrapped database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A numeric property, `None` if absent or not a number.
    fn number(&self, name: &str) -> Option<u64> {
        self.db.property(name)?.trim().parse().ok()
    }

    /// Reads the level-0 file count into the peak; returns the peak so far.
    fn note_level0(&self) -> Option<u64> {
        let n = self.number("shaledb.num-files-at-level0")?;
        Some(self.peak_l0_files.fetch_max(n, Ordering::Relaxed).max(n))
    }
}

fn write_options(sync: bool) -> WriteOptions {
    WriteOptions {
        sync,
        ..Default::default()
    }
}

impl Engine for ShaleEngine {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        if sync {
            let mut batch = WriteBatch::new();
            batch.put(key, value);
            self.db.write_opt(batch, &write_options(true))?;
        } else {
            self.db.put(key, value)?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.db.get(key)?)
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        if sync {
            let mut batch = WriteBatch::new();
            batch.delete(key);
            self.db.write_opt(batch, &write_options(true))?;
        } else {
            self.db.delete(key)?;
        }
        Ok(())
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        let mut batch = WriteBatch::new();
        for (key, value) in entries {
            batch.put(key, value);
        }
        self.db.write_opt(batch, &write_options(sync))?;
        Ok(())
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        // The raw cursor lends each entry, as the RocksDB adapter's raw iterator does.
        let mut it = self.db.raw_iter();
        it.seek(start);
        let mut read = SeekRead::default();
        while let Some((key, value)) = it.item() {
            read.note(start, key);
            std::hint::black_box((key, value));
            if read.entries == n {
                break;
            }
            it.next();
        }
        it.status()?;
        Ok(read)
    }

    fn scan_all(&self, reverse: bool) -> Result<usize, EngineError> {
        self.scan(reverse, usize::MAX, &mut |_, _| {})
    }

    fn scan(
        &self,
        reverse: bool,
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, EngineError> {
        let mut it = self.db.raw_iter();
        if reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        let mut read = 0;
        while read < limit {
            match it.item() {
                Some((key, value)) => visit(key, value),
                None => break,
            }
            read += 1;
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status()?;
        Ok(read)
    }

    fn flush(&self) -> Result<(), EngineError> {
        Ok(self.db.flush()?)
    }

    fn compact_all(&self) -> Result<(), EngineError> {
        Ok(self.db.compact_range::<&[u8], _>(..)?)
    }

    fn wait_for_compaction(&self) -> Result<(), EngineError> {
        Ok(self.db.wait_for_compactions()?)
    }

    fn level_report(&self) -> Option<String> {
        self.db.property("shaledb.stats")
    }

    fn sample(&self) {
        self.note_level0();
    }

    fn stats(&self) -> EngineStats {
        let peak = self.note_level0();
        let mut extra = Vec::new();
        for name in [
            "shaledb.user-bytes-written",
            "shaledb.stall-count",
            "shaledb.num-files-total",
        ] {
            if let Some(value) = self.db.property(name) {
                extra.push((name.to_string(), value));
            }
        }
        EngineStats {
            table_bytes_written: self.number("shaledb.bytes-written"),
            live_data_bytes: self.number("shaledb.live-data-size"),
            stall_micros: self.number("shaledb.stall-micros"),
            mapped_bytes_written: self.number("shaledb.wal-mapped-bytes"),
            peak_l0_files: peak,
            extra,
        }
    }
}

/// Opens [`ShaleEngine`]s with fixed options.
#[derive(Debug, Clone)]
pub struct ShaleFactory {
    name: String,
    options: Options,
}

impl ShaleFactory {
    /// A factory named `shaledb` that opens every database with `options`.
    pub fn new(options: Options) -> Self {
        ShaleFactory {
            name: "shaledb".to_string(),
            options,
        }
    }

    /// The same factory under another name (the report's engine name and the
    /// database's subdirectory), so that two configurations can run side by side.
    pub fn named(self, name: impl Into<String>) -> Self {
        ShaleFactory {
            name: name.into(),
            ..self
        }
    }

    /// The settings of the peers comparison: LZ4, bloom 10 bits per key, a memtable
    /// bloom filter of 1% of the memtable, 4 KiB blocks, 64 MiB memtable, 64 MiB block
    /// cache; everything else ShaleDB's default.
    pub fn matched() -> Self {
        ShaleFactory::new(Options {
            compression: Compression::Lz4,
            bloom_bits_per_key: 10,
            memtable_bloom_ratio: 0.01,
            block_size: 4 << 10,
            memtable_size: 64 << 20,
            block_cache_size: 64 << 20,
            ..Default::default()
        })
    }

    /// The options databases are opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }
}

impl EngineFactory for ShaleFactory {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn settings(&self) -> Vec<(String, String)> {
        let o = &self.options;
        // Exact, in the largest unit that divides the size.
        let mib = |n: u64| match n {
            _ if n > 0 && n.is_multiple_of(1 << 20) => format!("{} MiB", n >> 20),
            _ if n > 0 && n.is_multiple_of(1 << 10) => format!("{} KiB", n >> 10),
            _ => format!("{n} bytes"),
        };
        let mut settings = vec![
            (
                "wal".into(),
                "on, no sync per write (except fillsync)".into(),
            ),
            ("compression".into(), format!("{:?}", o.compression)),
            (
                "bloom_bits_per_key".into(),
                o.bloom_bits_per_key.to_string(),
            ),
            (
                "memtable_bloom_ratio".into(),
                o.memtable_bloom_ratio.to_string(),
            ),
            ("block_size".into(), format!("{} KiB", o.block_size >> 10)),
            ("memtable_size".into(), mib(o.memtable_size as u64)),
            ("block_cache_size".into(), mib(o.block_cache_size as u64)),
            ("compaction".into(), format!("{:?}", o.compaction)),
            (
                "max_background_jobs".into(),
                o.max_background_jobs.to_string(),
            ),
            ("target_file_size".into(), mib(o.target_file_size)),
            ("level_base_size".into(), mib(o.level_base_size)),
            (
                "level0_compaction_trigger".into(),
                o.level0_compaction_trigger.to_string(),
            ),
        ];
        if o.compaction == shaledb::CompactionStyle::Tiered {
            settings.extend([
                (
                    "tiered_run_trigger".into(),
                    o.tiered_run_trigger.to_string(),
                ),
                (
                    "tiered_size_ratio_percent".into(),
                    o.tiered_size_ratio_percent.to_string(),
                ),
                (
                    "tiered_min_merge_width".into(),
                    o.tiered_min_merge_width.to_string(),
                ),
                (
                    "tiered_max_size_amplification_percent".into(),
                    o.tiered_max_size_amplification_percent.to_string(),
                ),
            ]);
        }
        settings
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).map_err(EngineError::new)?;
        let db = Db::open(dir, self.options.clone())?;
        Ok(Box::new(ShaleEngine {
            name: self.name.clone(),
            ..ShaleEngine::new(db)
        }))
    }
}
