//! Options for opening a database and for each write.
//!
//! All fields are public and every struct has `Default`, so callers write
//! `Options { memtable_size: 1 << 20, ..Default::default() }`. [`Options::validate`]
//! rejects combinations that cannot work with [`crate::Error::InvalidArgument`].

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{FileSystem, RealFileSystem};

/// The largest `memtable_size` accepted, as RocksDB caps its write buffer.
const MAX_MEMTABLE_SIZE: u64 = 64 << 30;
/// The most levels `num_levels` may ask for.
pub(crate) const MAX_NUM_LEVELS: usize = 32;
/// The most background threads `max_background_jobs` may ask for.
const MAX_BACKGROUND_JOBS: usize = 256;

/// How table blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Blocks are stored as they are.
    None,
    /// LZ4 block compression: fast, moderate ratio. The default.
    #[default]
    Lz4,
    /// Zstandard at level 3: slower, better ratio.
    Zstd,
}

/// How background compaction shapes the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompactionStyle {
    /// Levels 1 and deeper are each one sorted run, growing by a fixed multiplier. Low
    /// space and read amplification. The default.
    #[default]
    Leveled,
    /// Sorted runs of similar size are merged together. Lower write amplification for
    /// write-heavy work, at the cost of more space and more runs to read. With the
    /// default two background jobs one thread compacts, so a long full merge can let
    /// level 0 fill; three jobs let newer runs merge beside it.
    Tiered,
}

/// What `open` does when a log file ends in a damaged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalRecoveryMode {
    /// Replay stops at the first torn or corrupt record; everything before it is kept
    /// and the rest of that log, and any later logs, are dropped. The default.
    #[default]
    PointInTime,
    /// Any damaged record makes `open` fail with [`crate::Error::Corruption`].
    Strict,
}

/// Options for opening a database.
#[derive(Clone)]
pub struct Options {
    /// Bytes of writes a memtable holds before it is frozen and flushed. Default 64 MiB;
    /// from 1 KiB to 64 GiB.
    pub memtable_size: usize,
    /// Target uncompressed size of a table data block. Default 4 KiB.
    pub block_size: usize,
    /// Bytes of uncompressed blocks the shared block cache keeps. Default 32 MiB;
    /// 0 disables the cache.
    pub block_cache_size: usize,
    /// Bloom filter bits per key; 0 turns filters off. Default 10 (about 1% false
    /// positives).
    pub bloom_bits_per_key: u32,
    /// Block compression. Default LZ4.
    pub compression: Compression,
    /// Size of each memtable's bloom filter over user keys, as a fraction of
    /// `memtable_size`; 0 turns it off. A point lookup of a key that a memtable does not
    /// hold then usually skips that memtable's skip-list search. The filter's memory
    /// counts toward `memtable_size`. Default 0.01: 640 KiB for a 64 MiB memtable, about
    /// 14 bits per key for entries of 16-byte keys and 100-byte values. As RocksDB's
    /// `memtable_prefix_bloom_size_ratio` with `memtable_whole_key_filtering`.
    pub memtable_bloom_ratio: f64,
    /// Create the database when the directory holds none. Default true.
    pub create_if_missing: bool,
    /// Fail to open if a database already exists. Default false.
    pub error_if_exists: bool,
    /// Verify every table's checksums when the database opens. Block checksums are
    /// always verified on read. Default false.
    pub paranoid_checks: bool,
    /// What to do with a damaged log at open. Default point-in-time.
    pub wal_recovery_mode: WalRecoveryMode,
    /// Write the write-ahead log through a memory map where the file system allows it
    /// safely (ext4, XFS and tmpfs on Linux; see [`FileSystem::create_log`]), so a write
    /// reaches the page cache with a copy rather than a system call. Durability is the
    /// same either way: an acknowledged write survives a process crash, and a synced
    /// one a power loss. Default true; false always uses `write(2)`.
    pub wal_mmap: bool,
    /// How many table files the table cache keeps open (less 10 for logs, the manifest
    /// and the lock). A compaction reads at most that many level-0 tables at once (and
    /// at most 64), merging a larger level 0 in batches first; an iterator opens every
    /// level-0 table it reads, and the tables it holds stay open while it lives.
    /// Default 1000.
    pub max_open_files: usize,
    /// Background threads for flushes and compactions. Default 2; from 1 to 256.
    pub max_background_jobs: usize,
    /// Memtables that may wait for a flush before writers stop. Default 1 (as RocksDB's
    /// `max_write_buffer_number = 2`: one active, one being flushed).
    pub max_immutable_memtables: usize,
    /// Compaction style. Default leveled.
    pub compaction: CompactionStyle,
    /// Never start compactions in the background; [`crate::Db::compact_range`] still
    /// works. Level-0 file counts then neither slow nor stop writers (as in RocksDB), so
    /// level 0 grows until a manual compaction: this suits bulk loads. Default false.
    pub disable_auto_compactions: bool,
    /// Level-0 file count that triggers a leveled compaction (tiered compaction counts
    /// sorted runs against `tiered_run_trigger` instead). Default 4.
    pub level0_compaction_trigger: usize,
    /// Level-0 file count at which writes are slowed. Default 20.
    pub level0_slowdown_writes_trigger: usize,
    /// Level-0 file count at which writes stop until compaction catches up. Default 36.
    pub level0_stop_writes_trigger: usize,
    /// Largest target of the base level, the level that level 0 compacts into. Levels
    /// are sized from the bottom up; the base level is the first whose target is at
    /// most this (see `compaction/picker.rs`). Default 256 MiB.
    pub level_base_size: u64,
    /// Growth factor between adjacent levels. Default 10.
    pub level_size_multiplier: u64,
    /// Compaction output files are cut at this size. Default 64 MiB.
    pub target_file_size: u64,
    /// Number of levels, level 0 included. Default 7.
    pub num_levels: usize,
    /// Tiered compaction: an older run joins a merge while its size is at most
    /// `100 + percent` percent of the newer runs' total so far (RocksDB's universal
    /// `size_ratio`). Default 1.
    pub tiered_size_ratio_percent: u64,
    /// Tiered compaction: the fewest runs a size-ratio merge takes (RocksDB's
    /// universal `min_merge_width`). Default 2.
    pub tiered_min_merge_width: usize,
    /// Tiered compaction: how many sorted runs (each level-0 table, each non-empty
    /// deeper level) may be free of running compactions before a merge starts, and the
    /// count the run-count rule brings them back under. RocksDB's universal compaction
    /// uses `level0_file_num_compaction_trigger` (4) for this; tiered keeps its own
    /// default of 8, which wrote about a third fewer table bytes than 4 with 10M random
    /// keys and half as many with 50M (see `docs/architecture.md`), at the cost of more
    /// runs for a read to check. A value above `level0_slowdown_writes_trigger` acts as
    /// that trigger, so merging starts before level 0 alone would slow writers.
    /// Default 8.
    pub tiered_run_trigger: usize,
    /// Tiered compaction: when all runs but the oldest add up to more than this
    /// percentage of the oldest, everything is merged into one run. It bounds space
    /// amplification near `1 + percent / 100` (as RocksDB's
    /// `max_size_amplification_percent`). Default 200.
    pub tiered_max_size_amplification_percent: u64,
    /// Where files are read and written. The real file system by default; tests put a
    /// fault-injecting one here.
    pub file_system: Arc<dyn FileSystem>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_size: 64 << 20,
            block_size: 4 << 10,
            block_cache_size: 32 << 20,
            bloom_bits_per_key: 10,
            compression: Compression::Lz4,
            memtable_bloom_ratio: 0.01,
            create_if_missing: true,
            error_if_exists: false,
            paranoid_checks: false,
            wal_recovery_mode: WalRecoveryMode::PointInTime,
            wal_mmap: true,
            max_open_files: 1000,
            max_background_jobs: 2,
            max_immutable_memtables: 1,
            compaction: CompactionStyle::Leveled,
            disable_auto_compactions: false,
            level0_compaction_trigger: 4,
            level0_slowdown_writes_trigger: 20,
            level0_stop_writes_trigger: 36,
            level_base_size: 256 << 20,
            level_size_multiplier: 10,
            target_file_size: 64 << 20,
            num_levels: 7,
            tiered_size_ratio_percent: 1,
            tiered_min_merge_width: 2,
            tiered_run_trigger: 8,
            tiered_max_size_amplification_percent: 200,
            file_system: Arc::new(RealFileSystem),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("memtable_size", &self.memtable_size)
            .field("block_size", &self.block_size)
            .field("block_cache_size", &self.block_cache_size)
            .field("bloom_bits_per_key", &self.bloom_bits_per_key)
            .field("compression", &self.compression)
            .field("memtable_bloom_ratio", &self.memtable_bloom_ratio)
            .field("create_if_missing", &self.create_if_missing)
            .field("error_if_exists", &self.error_if_exists)
            .field("paranoid_checks", &self.paranoid_checks)
            .field("wal_recovery_mode", &self.wal_recovery_mode)
            .field("wal_mmap", &self.wal_mmap)
            .field("max_open_files", &self.max_open_files)
            .field("max_background_jobs", &self.max_background_jobs)
            .field("max_immutable_memtables", &self.max_immutable_memtables)
            .field("compaction", &self.compaction)
            .field("disable_auto_compactions", &self.disable_auto_compactions)
            .field("level0_compaction_trigger", &self.level0_compaction_trigger)
            .field(
                "level0_slowdown_writes_trigger",
                &self.level0_slowdown_writes_trigger,
            )
            .field(
                "level0_stop_writes_trigger",
                &self.level0_stop_writes_trigger,
            )
            .field("level_base_size", &self.level_base_size)
            .field("level_size_multiplier", &self.level_size_multiplier)
            .field("target_file_size", &self.target_file_size)
            .field("num_levels", &self.num_levels)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// The free sorted runs that start a tiered merge (see `tiered_run_trigger`).
    pub(crate) fn effective_tiered_run_trigger(&self) -> usize {
        self.tiered_run_trigger
            .min(self.level0_slowdown_writes_trigger)
            .max(2)
    }

    /// Bytes of each memtable's bloom filter (0: none).
    pub(crate) fn memtable_filter_bytes(&self) -> usize {
        // The ratio is validated to lie in [0, 0.25], so this cannot overflow.
        (self.memtable_size as f64 * self.memtable_bloom_ratio) as usize
    }

    /// Checks that the options can work together.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::InvalidArgument(msg.to_string()));
        if self.memtable_size < 1024 {
            return bad("memtable_size must be at least 1 KiB");
        }
        if self.block_size < 64 || self.block_size > (64 << 20) {
            return bad("block_size must be between 64 bytes and 64 MiB");
        }
        if self.bloom_bits_per_key > 64 {
            return bad("bloom_bits_per_key must be at most 64");
        }
        if !(0.0..=0.25).contains(&self.memtable_bloom_ratio) {
            return bad("memtable_bloom_ratio must be between 0 and 0.25");
        }
        if self.max_open_files < 16 {
            return bad("max_open_files must be at least 16");
        }
        if self.max_background_jobs == 0 {
            return bad("max_background_jobs must be at least 1");
        }
        if self.max_immutable_memtables == 0 {
            return bad("max_immutable_memtables must be at least 1");
        }
        if self.num_levels < 2 || self.num_levels > MAX_NUM_LEVELS {
            return Err(Error::InvalidArgument(format!(
                "num_levels must be between 2 and {MAX_NUM_LEVELS}"
            )));
        }
        if self.level0_compaction_trigger == 0
            || self.level0_slowdown_writes_trigger < self.level0_compaction_trigger
            || self.level0_stop_writes_trigger < self.level0_slowdown_writes_trigger
        {
            return bad("level-0 triggers must satisfy 0 < compaction <= slowdown <= stop");
        }
        if self.level_size_multiplier < 2 {
            return bad("level_size_multiplier must be at least 2");
        }
        if self.target_file_size < 1024 || self.level_base_size < 1024 {
            return bad("target_file_size and level_base_size must be at least 1 KiB");
        }
        if self.tiered_min_merge_width < 2 {
            return bad("tiered_min_merge_width must be at least 2");
        }
        if self.tiered_run_trigger < 2 {
            return bad("tiered_run_trigger must be at least 2");
        }
        // A tiered merge may wait for one run more than the trigger; writes that stop
        // before level 0 can hold that many would wait for a merge that never comes.
        // Without automatic compactions the level-0 count stops no writer.
        if self.compaction == CompactionStyle::Tiered
            && !self.disable_auto_compactions
            && self.level0_stop_writes_trigger <= self.effective_tiered_run_trigger()
        {
            return Err(Error::InvalidArgument(format!(
                "with tiered compaction, level0_stop_writes_trigger ({}) must exceed the \
                 run trigger, the smaller of tiered_run_trigger and \
                 level0_slowdown_writes_trigger but at least 2 (here {})",
                self.level0_stop_writes_trigger,
                self.effective_tiered_run_trigger()
            )));
        }
        if self.max_background_jobs > MAX_BACKGROUND_JOBS {
            return Err(Error::InvalidArgument(format!(
                "max_background_jobs must be at most {MAX_BACKGROUND_JOBS}"
            )));
        }
        if self.memtable_size as u64 > MAX_MEMTABLE_SIZE {
            return bad("memtable_size must be at most 64 GiB");
        }
        Ok(())
    }
}

/// Options for one write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Fsync the log before the write returns, so it survives a power loss. Without it
    /// an acknowledged write survives a process crash but may be lost with the machine.
    /// An empty batch written with `sync` makes every earlier write durable. Setting it
    /// together with `disable_wal` is an [`crate::Error::InvalidArgument`].
    pub sync: bool,
    /// Skip the write-ahead log: faster, but the write is lost in any crash until the
    /// memtable is flushed. A clean close flushes it.
    pub disable_wal: bool,
}
