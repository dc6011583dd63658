//! The RocksDB adapter (the `rocksdb` crate), compiled only with the `rocksdb` feature.
//!
//! Settings: WAL on (a sync per write only when asked), LZ4 on every level, a full
//! bloom filter at 10 bits per key, a whole-key bloom filter over each memtable (1% of
//! its size, as ShaleDB's), 4 KiB blocks, a 64 MiB write buffer (RocksDB's
//! default of 2 buffers, so one can flush while the other fills, like ShaleDB's one
//! immutable memtable), a 64 MiB LRU block cache, `max_background_jobs = 2`, and
//! everything else RocksDB's default (leveled compaction with dynamic level bytes,
//! level-0 triggers 4/20/36, 64 MiB target files, index and filter blocks held outside
//! the block cache).
//!
//! Statistics are on at the cheapest level that still counts tickers
//! (`ExceptHistogramOrTimers`), for the table bytes written by flushes and compactions
//! and the microseconds writers stalled.
//!
//! Concurrency: `DB` is `Send + Sync` and all calls used take `&self`. The peak level-0
//! count is an atomic updated by `stats`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rocksdb::statistics::{StatsLevel, Ticker};
use rocksdb::{
    BlockBasedOptions, Cache, DBCompactionStyle, DBCompressionType, Options,
    UniversalCompactOptions, WriteBatch, WriteOptions, DB,
};
use shaledb_bench::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

use super::{
    mib, setting, OrEngineError, BACKGROUND_JOBS, BLOCK_BYTES, BLOCK_CACHE_BYTES,
    BLOOM_BITS_PER_KEY, MEMTABLE_BLOOM_RATIO, MEMTABLE_BYTES, WAL_NO_SYNC,
};

/// RocksDB under benchmark.
pub struct RocksEngine {
    name: String,
    db: DB,
    /// The options the database was opened with; they share its statistics object.
    options: Options,
    unsynced: WriteOptions,
    synced: WriteOptions,
    peak_l0_files: AtomicU64,
}

impl RocksEngine {
    fn write_options(&self, sync: bool) -> &WriteOptions {
        if sync {
            &self.synced
        } else {
            &self.unsynced
        }
    }

    fn int_property(&self, name: &str) -> Option<u64> {
        self.db.property_int_value(name).ok().flatten()
    }

    /// Reads the level-0 file count into the peak; returns the peak so far.
    fn note_level0(&self) -> Option<u64> {
        let n = self.int_property("rocksdb.num-files-at-level0")?;
        Some(self.peak_l0_files.fetch_max(n, Ordering::Relaxed).max(n))
    }
}

impl Engine for RocksEngine {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        self.db
            .put_opt(key, value, self.write_options(sync))
            .engine_err()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.db.get_pinned(key).engine_err()?.map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        self.db
            .delete_opt(key, self.write_options(sync))
            .engine_err()
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            batch.put(key, value);
        }
        self.db
            .write_opt(batch, self.write_options(sync))
            .engine_err()
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        let mut iter = self.db.raw_iterator();
        iter.seek(start);
        let mut read = SeekRead::default();
        while let Some((key, value)) = iter.item() {
            read.note(start, key);
            std::hint::black_box((key, value));
            if read.entries == n {
                break;
            }
            iter.next();
        }
        iter.status().engine_err()?;
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
        let mut iter = self.db.raw_iterator();
        if reverse {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        let mut read = 0;
        while read < limit {
            match iter.item() {
                Some((key, value)) => visit(key, value),
                None => break,
            }
            read += 1;
            if reverse {
                iter.prev();
            } else {
                iter.next();
            }
        }
        iter.status().engine_err()?;
        Ok(read)
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.db.flush().engine_err()
    }

    fn compact_all(&self) -> Result<(), EngineError> {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    fn wait_for_compaction(&self) -> Result<(), EngineError> {
        self.db
            .wait_for_compact(&rocksdb::WaitForCompactOptions::default())
            .engine_err()
    }

    fn level_report(&self) -> Option<String> {
        let stats = self.db.property_value("rocksdb.stats").ok().flatten()?;
        // What the tables hold (data, index and filter bytes, entries), to compare
        // table size per entry with ShaleDB's `shaledb dump` properties.
        let tables = self
            .db
            .property_value("rocksdb.aggregated-table-properties")
            .ok()
            .flatten()
            .unwrap_or_default();
        Some(format!("{stats}\naggregated table properties: {tables}\n"))
    }

    fn sample(&self) {
        self.note_level0();
    }

    fn stats(&self) -> EngineStats {
        let peak = self.note_level0();
        let ticker = |t| self.options.get_ticker_count(t);
        let mut extra = Vec::new();
        for name in [
            "rocksdb.total-sst-files-size",
            "rocksdb.num-live-versions",
            "rocksdb.cur-size-all-mem-tables",
            "rocksdb.block-cache-usage",
        ] {
            if let Some(value) = self.int_property(name) {
                extra.push((name.to_string(), value.to_string()));
            }
        }
        EngineStats {
            table_bytes_written: Some(
                ticker(Ticker::FlushWriteBytes) + ticker(Ticker::CompactWriteBytes),
            ),
            live_data_bytes: self.int_property("rocksdb.estimate-live-data-size"),
            stall_micros: Some(ticker(Ticker::StallMicros)),
            mapped_bytes_written: None,
            peak_l0_files: peak,
            extra,
        }
    }
}

/// Opens [`RocksEngine`]s with the matched settings.
pub struct RocksFactory {
    /// Universal compaction (RocksDB's size-tiered style, with its default options)
    /// instead of leveled.
    pub universal: bool,
}

impl RocksFactory {
    fn options(&self) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_size(BLOCK_BYTES as usize);
        table.set_bloom_filter(f64::from(BLOOM_BITS_PER_KEY), false);
        table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES as usize));

        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_write_buffer_size(MEMTABLE_BYTES as usize);
        options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
        options.set_memtable_whole_key_filtering(true);
        options.set_max_background_jobs(BACKGROUND_JOBS as i32);
        options.set_block_based_table_factory(&table);
        options.enable_statistics();
        options.set_statistics_level(StatsLevel::ExceptHistogramOrTimers);
        if self.universal {
            options.set_compaction_style(DBCompactionStyle::Universal);
            options.set_universal_compaction_options(&UniversalCompactOptions::default());
        }
        options
    }
}

impl EngineFactory for RocksFactory {
    fn name(&self) -> String {
        if self.universal {
            super::ROCKSDB_UNIVERSAL.into()
        } else {
            super::ROCKSDB.into()
        }
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            setting(
                "library",
                format!(
                    "rocksdb {} (RocksDB {})",
                    env!("PEER_VERSION_ROCKSDB"),
                    env!("PEER_VERSION_LIBROCKSDB_SYS")
                        .split_once('+')
                        .map_or("?", |(_, v)| v)
                ),
            ),
            setting("wal", WAL_NO_SYNC),
            setting("compression", "LZ4, every level"),
            setting(
                "bloom_bits_per_key",
                format!("{BLOOM_BITS_PER_KEY} (full filter)"),
            ),
            setting(
                "memtable_bloom",
                format!("whole keys, memtable_prefix_bloom_size_ratio {MEMTABLE_BLOOM_RATIO}"),
            ),
            setting("block_size", format!("{} KiB", BLOCK_BYTES >> 10)),
            setting(
                "write_buffer_size",
                format!("{} (max_write_buffer_number 2)", mib(MEMTABLE_BYTES)),
            ),
            setting("block_cache", format!("{} LRU", mib(BLOCK_CACHE_BYTES))),
            setting("max_background_jobs", BACKGROUND_JOBS.to_string()),
            setting(
                "compaction",
                if self.universal {
                    "universal: size_ratio 1, min_merge_width 2, \
                     max_size_amplification_percent 200; L0 triggers 4/20/36"
                } else {
                    "leveled, dynamic level bytes; L0 triggers 4/20/36"
                },
            ),
            setting("statistics", "tickers only (ExceptHistogramOrTimers)"),
        ]
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).engine_err()?;
        let options = self.options();
        let db = DB::open(&options, dir).engine_err()?;
        let mut synced = WriteOptions::default();
        synced.set_sync(true);
        Ok(Box::new(RocksEngine {
            name: self.name(),
            db,
            options,
            unsynced: WriteOptions::default(),
            synced,
            peak_l0_files: AtomicU64::new(0),
        }))
    }
}
