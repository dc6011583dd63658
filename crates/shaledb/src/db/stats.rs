//! Counters for flushes, compactions, stalls and the log, and the properties built from
//! them (`Db::property`).
//!
//! Counters are relaxed atomics: they are reports, never inputs to a decision.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Db, DbCore};
use crate::compaction::{picker, tiered};
use crate::options::CompactionStyle;

/// The most levels statistics are kept for (`Options::validate` caps `num_levels`).
const MAX_LEVELS: usize = 32;

#[derive(Default)]
struct LevelCounters {
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    compactions: AtomicU64,
    moves: AtomicU64,
    micros: AtomicU64,
}

/// Engine-wide counters.
#[derive(Default)]
pub(crate) struct Stats {
    levels: [LevelCounters; MAX_LEVELS],
    pub flushes: AtomicU64,
    pub flush_bytes: AtomicU64,
    pub wal_bytes: AtomicU64,
    /// Log bytes stored through a memory map (not seen by `write(2)` accounting), in
    /// the logs closed so far; the open log's are added when the property is read.
    pub wal_mapped_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
    /// Bytes of keys and values (with their framing) handed to `write`.
    pub user_bytes_written: AtomicU64,
    pub slowdowns: AtomicU64,
    pub slowdown_micros: AtomicU64,
    pub stops: AtomicU64,
    pub stop_micros: AtomicU64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Stats {
    pub(crate) fn record_flush(&self, bytes: u64, took: Duration) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flush_bytes.fetch_add(bytes, Ordering::Relaxed);
        let l0 = &self.levels[0];
        l0.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        l0.micros.fetch_add(micros(took), Ordering::Relaxed);
    }

    pub(crate) fn record_compaction(
        &self,
        _start_level: usize,
        output_level: usize,
        read: u64,
        written: u64,
        took: Duration,
    ) {
        let l = &self.levels[output_level.min(MAX_LEVELS - 1)];
        l.bytes_read.fetch_add(read, Ordering::Relaxed);
        l.bytes_written.fetch_add(written, Ordering::Relaxed);
        l.compactions.fetch_add(1, Ordering::Relaxed);
        l.micros.fetch_add(micros(took), Ordering::Relaxed);
    }

    pub(crate) fn record_move(&self, from_level: usize) {
        self.levels[(from_level + 1).min(MAX_LEVELS - 1)]
            .moves
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_stall(&self, took: Duration, stopped: bool) {
        let (count, time) = if stopped {
            (&self.stops, &self.stop_micros)
        } else {
            (&self.slowdowns, &self.slowdown_micros)
        };
        count.fetch_add(1, Ordering::Relaxed);
        time.fetch_add(micros(took), Ordering::Relaxed);
    }

    /// Bytes written to tables by flushes and compactions.
    pub(crate) fn table_bytes_written(&self) -> u64 {
        self.levels
            .iter()
            .map(|l| l.bytes_written.load(Ordering::Relaxed))
            .sum()
    }
}

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

impl DbCore {
    /// Bytes of table data that is still live (see `live_data.rs`).
    fn live_data_size(&self) -> u64 {
        let version = self.current_super_version().version.clone();
        super::live_data::live_data_size(&version, &self.table_cache)
    }

    /// Entries less twice the tombstones (each cancels itself and, probably, one older
    /// entry), over the memtables and every table together, as RocksDB estimates it: a
    /// key deleted in a newer table no longer counts, even before a compaction has
    /// removed the two.
    fn estimate_num_keys(&self) -> u64 {
        let sv = self.current_super_version();
        let (mut entries, mut deletions) = (0u64, 0u64);
        for m in std::iter::once(&sv.mem).chain(sv.imms.iter()) {
            entries += m.len() as u64;
            deletions += m.deletions();
        }
        for (_, f) in sv.version.all_files() {
            entries += f.num_entries;
            deletions += f.num_deletions;
        }
        entries.saturating_sub(deletions.saturating_mul(2))
    }

    fn stats_report(&self) -> String {
        let sv = self.current_super_version();
        let version = &sv.version;
        let scores = {
            let state = self.state.lock();
            match self.options.compaction {
                CompactionStyle::Leveled => {
                    picker::level_scores(version, &self.options, &state.running)
                }
                CompactionStyle::Tiered => tiered::scores(version, &self.options, &state.running),
            }
        };
        let flushed = self.stats.flush_bytes.load(Ordering::Relaxed);
        let mut out = String::new();
        let style = match self.options.compaction {
            CompactionStyle::Leveled => "leveled",
            CompactionStyle::Tiered => "tiered",
        };
        let _ = writeln!(out, "** Compaction Stats ({style}) **");
        let _ = writeln!(
            out,
            "{:<6} {:>7} {:>10} {:>6} {:>10} {:>10} {:>6} {:>6} {:>9}",
            "Level",
            "Files",
            "Size(MB)",
            "Score",
            "Read(GB)",
            "Write(GB)",
            "W-Amp",
            "Comp",
            "Comp(s)"
        );
        let mut totals = (0usize, 0u64, 0u64, 0u64, 0u64, 0u64);
        for level in 0..version.num_levels() {
            let c = &self.stats.levels[level.min(MAX_LEVELS - 1)];
            let files = version.files(level).len();
            let size = version.level_bytes(level);
            let read = c.bytes_read.load(Ordering::Relaxed);
            let written = c.bytes_written.load(Ordering::Relaxed);
            let comps = c.compactions.load(Ordering::Relaxed);
            let us = c.micros.load(Ordering::Relaxed);
            // Per-level write amplification: bytes written into the level per byte read
            // from the level above (for level 0, per byte flushed).
            let wamp = if level == 0 {
                // Above 1 when tiered merges write back into level 0.
                if flushed > 0 {
                    written as f64 / flushed as f64
                } else {
                    0.0
                }
            } else if read > 0 {
                written as f64 / read as f64
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "L{:<5} {:>7} {:>10.1} {:>6.2} {:>10.3} {:>10.3} {:>6.2} {:>6} {:>9.2}",
                level,
                files,
                size as f64 / MIB,
                scores.get(level).copied().unwrap_or(0.0),
                read as f64 / GIB,
                written as f64 / GIB,
                wamp,
                comps,
                us as f64 / 1e6
            );
            totals = (
                totals.0 + files,
                totals.1 + size,
                totals.2 + read,
                totals.3 + written,
                totals.4 + comps,
                totals.5 + us,
            );
        }
        let total_wamp = if flushed > 0 {
            totals.3 as f64 / flushed as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "{:<6} {:>7} {:>10.1} {:>6} {:>10.3} {:>10.3} {:>6.2} {:>6} {:>9.2}",
            "Sum",
            totals.0,
            totals.1 as f64 / MIB,
            "",
            totals.2 as f64 / GIB,
            totals.3 as f64 / GIB,
            total_wamp,
            totals.4,
            totals.5 as f64 / 1e6
        );
        let user = self.stats.user_bytes_written.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "Write amplification (table bytes written / user bytes written): {:.2}",
            if user > 0 {
                self.stats.table_bytes_written() as f64 / user as f64
            } else {
                0.0
            }
        );
        let _ = writeln!(
            out,
            "User writes: {:.3} GB; log: {:.3} GB in {} syncs; flushes: {} ({:.3} GB)",
            user as f64 / GIB,
            self.stats.wal_bytes.load(Ordering::Relaxed) as f64 / GIB,
            self.stats.wal_syncs.load(Ordering::Relaxed),
            self.stats.flushes.load(Ordering::Relaxed),
            flushed as f64 / GIB
        );
        let _ = writeln!(
            out,
            "Stalls: {} slowdowns ({:.3} s), {} stops ({:.3} s)",
            self.stats.slowdowns.load(Ordering::Relaxed),
            self.stats.slowdown_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.stats.stops.load(Ordering::Relaxed),
            self.stats.stop_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "Memtables: active {} bytes, {} waiting for flush; last sequence {}",
            sv.mem.approximate_bytes(),
            sv.imms.len(),
            self.visible_sequence()
        );
        out
    }

    pub(crate) fn property(&self, name: &str) -> Option<String> {
        if self.shutting_down.load(Ordering::Acquire) {
            return None;
        }
        let version = self.current_super_version().version.clone();
        let stats = &self.stats;
        let value = match name {
            "shaledb.stats" => return Some(self.stats_report()),
            "shaledb.total-sst-size" => self.versions.lock().live_table_bytes(),
            "shaledb.live-sst-size" => version.total_bytes(),
            "shaledb.estimate-num-keys" => self.estimate_num_keys(),
            "shaledb.live-data-size" => self.live_data_size(),
            "shaledb.num-immutable-mem-table" => self.current_super_version().imms.len() as u64,
            "shaledb.cur-size-active-mem-table" => {
                self.current_super_version().mem.approximate_bytes() as u64
            }
            "shaledb.block-cache-usage" => self.table_cache.block_cache().map_or(0, |c| c.usage()),
            "shaledb.last-sequence" => self.visible_sequence(),
            "shaledb.bytes-written" => stats.table_bytes_written(),
            "shaledb.user-bytes-written" => stats.user_bytes_written.load(Ordering::Relaxed),
            "shaledb.flush-bytes" => stats.flush_bytes.load(Ordering::Relaxed),
            "shaledb.wal-mapped-bytes" => {
                let open_log = self.wal.lock().as_ref().map_or(0, |w| w.mapped_bytes());
                stats.wal_mapped_bytes.load(Ordering::Relaxed) + open_log
            }
            "shaledb.stall-micros" => {
                stats.slowdown_micros.load(Ordering::Relaxed)
                    + stats.stop_micros.load(Ordering::Relaxed)
            }
            "shaledb.stall-count" => {
                stats.slowdowns.load(Ordering::Relaxed) + stats.stops.load(Ordering::Relaxed)
            }
            "shaledb.num-files-total" => version.all_files().count() as u64,
            _ => {
                let level = name.strip_prefix("shaledb.num-files-at-level")?;
                // Digits only: `parse` alone would also take "+1".
                if level.is_empty() || !level.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let level: usize = level.parse().ok()?;
                if level >= version.num_levels() {
                    return None;
                }
                version.files(level).len() as u64
            }
        };
        Some(value.to_string())
    }
}

impl Db {
    /// A named property of the database, or `None` for an unknown name.
    ///
    /// `shaledb.stats` is a human-readable report (levels table, write amplification,
    /// stalls). Numeric properties are plain decimal numbers:
    /// `shaledb.num-files-at-level<N>`, `shaledb.total-sst-size`,
    /// `shaledb.live-sst-size`, `shaledb.estimate-num-keys`, `shaledb.live-data-size`,
    /// `shaledb.num-immutable-mem-table`, `shaledb.cur-size-active-mem-table`,
    /// `shaledb.block-cache-usage`, `shaledb.last-sequence`, `shaledb.bytes-written`
    /// (table bytes written by flushes and compactions), `shaledb.user-bytes-written`,
    /// `shaledb.flush-bytes`, `shaledb.wal-mapped-bytes` (log bytes stored through a
    /// memory map, which `write(2)` accounting such as `/proc/self/io` does not see),
    /// `shaledb.stall-micros`, `shaledb.stall-count`, `shaledb.num-files-total`.
    ///
    /// As RocksDB's `total-sst-files-size` and `live-sst-files-size`,
    /// `shaledb.total-sst-size` counts the tables of every version still in use (an
    /// iterator keeps the inputs of a later compaction on disk until it is dropped),
    /// and `shaledb.live-sst-size` only those of the current version.
    ///
    /// `shaledb.estimate-num-keys` is, as RocksDB's, the entries of the memtables and
    /// tables less twice their tombstones: exact after a full compaction, and an
    /// overcount while overwritten versions wait for one.
    pub fn property(&self, name: &str) -> Option<String> {
        self.core().property(name)
    }
}
