//! The fjall adapter: one keyspace with one partition.
//!
//! Settings: the journal is written to the operating system on every write (fjall's
//! default, no fsync; fillsync persists it with `fdatasync` after each write), LZ4,
//! bloom filters at 10 bits per key, 4 KiB data and index blocks, a 64 MiB memtable
//! (and the keyspace's 64 MiB write-buffer cap), a 64 MiB block cache, one flush worker
//! and one compaction worker, leveled compaction, and otherwise fjall's defaults.
//!
//! fjall does not count the table bytes it writes nor estimate its live data, so write
//! amplification is only the process-wide figure (including the journal) and space
//! amplification only disk ÷ logical bytes.
//!
//! Concurrency: `Keyspace` and `PartitionHandle` are `Send + Sync` and take `&self`.
//! The peak level-0 count is an atomic updated by `stats`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use fjall::{
    AbstractTree, CompressionType, Config, Keyspace, PartitionCreateOptions, PartitionHandle,
    PersistMode,
};
use shaledb_bench::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

use super::{
    mib, setting, OrEngineError, BACKGROUND_JOBS, BLOCK_BYTES, BLOCK_CACHE_BYTES,
    BLOOM_BITS_PER_KEY, MEMTABLE_BYTES, WAL_NO_SYNC,
};

/// The partition every benchmark uses.
const PARTITION: &str = "bench";

/// fjall under benchmark.
pub struct FjallEngine {
    keyspace: Keyspace,
    partition: PartitionHandle,
    peak_l0_files: AtomicU64,
}

impl FjallEngine {
    fn persist_if(&self, sync: bool) -> Result<(), EngineError> {
        if sync {
            self.keyspace.persist(PersistMode::SyncData).engine_err()?;
        }
        Ok(())
    }

    /// Reads the level-0 segment count into the peak; returns the peak so far.
    fn note_level0(&self) -> u64 {
        // usize to u64 cannot truncate on any supported target.
        let n = self.partition.tree.level_segment_count(0).unwrap_or(0) as u64;
        self.peak_l0_files.fetch_max(n, Ordering::Relaxed).max(n)
    }
}

impl Engine for FjallEngine {
    fn name(&self) -> String {
        "fjall".into()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        self.partition.insert(key, value).engine_err()?;
        self.persist_if(sync)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.partition.get(key).engine_err()?.map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        self.partition.remove(key).engine_err()?;
        self.persist_if(sync)
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        let mut batch = self.keyspace.batch();
        if sync {
            batch = batch.durability(Some(PersistMode::SyncData));
        }
        for (key, value) in entries {
            batch.insert(&self.partition, key.as_slice(), value.as_slice());
        }
        batch.commit().engine_err()
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        let mut read = SeekRead::default();
        for item in self.partition.range(start..).take(n) {
            let (key, value) = item.engine_err()?;
            read.note(start, &key);
            std::hint::black_box((key, value));
        }
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
        let iter = self.partition.iter();
        let entries: Box<dyn Iterator<Item = fjall::Result<fjall::KvPair>>> = if reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        };
        let mut read = 0;
        for item in entries.take(limit) {
            let (key, value) = item.engine_err()?;
            visit(&key, &value);
            read += 1;
        }
        Ok(read)
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.partition.rotate_memtable_and_wait().engine_err()
    }

    fn compact_all(&self) -> Result<(), EngineError> {
        self.partition.major_compact().engine_err()
    }

    fn sample(&self) {
        self.note_level0();
    }

    fn stats(&self) -> EngineStats {
        let peak = self.note_level0();
        EngineStats {
            table_bytes_written: None,
            live_data_bytes: None,
            stall_micros: None,
            mapped_bytes_written: None,
            peak_l0_files: Some(peak),
            extra: vec![
                setting("segments", self.partition.segment_count().to_string()),
                setting("disk_space", self.partition.disk_space().to_string()),
                setting("journals", self.keyspace.journal_count().to_string()),
            ],
        }
    }
}

/// Opens [`FjallEngine`]s with the matched settings.
pub struct FjallFactory;

impl EngineFactory for FjallFactory {
    fn name(&self) -> String {
        "fjall".into()
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            setting(
                "library",
                format!(
                    "fjall {} (lsm-tree {})",
                    env!("PEER_VERSION_FJALL"),
                    env!("PEER_VERSION_LSM_TREE")
                ),
            ),
            setting("journal", WAL_NO_SYNC),
            setting("compression", "LZ4"),
            setting("bloom_bits_per_key", BLOOM_BITS_PER_KEY.to_string()),
            setting("block_size", format!("{} KiB", BLOCK_BYTES >> 10)),
            setting(
                "max_memtable_size",
                format!("{} (write buffer cap 64 MiB)", mib(MEMTABLE_BYTES)),
            ),
            setting(
                "cache_size",
                format!("{} (blocks and blobs)", mib(BLOCK_CACHE_BYTES)),
            ),
            setting("background", "1 flush worker + 1 compaction worker"),
            setting("compaction", "leveled (fjall's default)"),
        ]
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).engine_err()?;
        let keyspace = Config::new(dir)
            .cache_size(BLOCK_CACHE_BYTES)
            .max_write_buffer_size(MEMTABLE_BYTES)
            .flush_workers(1)
            .compaction_workers(BACKGROUND_JOBS as usize - 1)
            .open()
            .engine_err()?;
        // fjall takes the memtable and block sizes as u32 and the bloom bits as u8; the
        // matched values fit.
        let options = PartitionCreateOptions::default()
            .compression(CompressionType::Lz4)
            .bloom_filter_bits(Some(BLOOM_BITS_PER_KEY as u8))
            .block_size(BLOCK_BYTES as u32)
            .max_memtable_size(MEMTABLE_BYTES as u32);
        let partition = keyspace.open_partition(PARTITION, options).engine_err()?;
        Ok(Box::new(FjallEngine {
            keyspace,
            partition,
            peak_l0_files: AtomicU64::new(0),
        }))
    }
}
