//! The rusty-leveldb adapter (a Rust port of LevelDB).
//!
//! Settings: the log is written to the operating system on every write without an fsync,
//! Snappy compression (rusty-leveldb has only Snappy or
//! none, no LZ4), bloom filters at 10 bits per key, 4 KiB blocks, a 64 MiB write buffer,
//! a 64 MiB block cache, 2 MiB tables (LevelDB's default). rusty-leveldb has no
//! background threads: flushes and compactions run inside the write that triggers them.
//! It reports no counters.
//!
//! Synced writes: rusty-leveldb's `write(batch, sync: true)` only flushes its buffer to
//! the operating system and never calls fsync, so for fillsync the adapter calls
//! `fdatasync` on the current log file (the highest-numbered `NNNNNN.log`) after each
//! synced write, which is what LevelDB's synced write does.
//!
//! Concurrency: `rusty_leveldb::DB` takes `&mut self` for everything, reads included,
//! so the adapter holds it in a `Mutex` and every operation, reads too, is serialised.
//! Iterators are created and dropped while the lock is held; a synced write syncs the
//! log under the same lock, so the log cannot be switched in between.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};

use rusty_leveldb::compressor::SnappyCompressor;
use rusty_leveldb::{BloomPolicy, CompressorId, LdbIterator, Options, WriteBatch, DB};
use shaledb_bench::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

use super::{
    mib, setting, OrEngineError, BLOCK_BYTES, BLOCK_CACHE_BYTES, BLOOM_BITS_PER_KEY,
    MEMTABLE_BYTES, WAL_NO_SYNC,
};

/// The database and the log file handle used to sync it, under one lock.
struct Locked {
    db: DB,
    /// The log file last synced, by path, kept open while it stays the current one.
    log: Option<(PathBuf, File)>,
}

impl Locked {
    /// `fdatasync`s the current log file of the database in `dir`.
    fn sync_log(&mut self, dir: &Path) -> Result<(), EngineError> {
        let current = current_log(dir).engine_err()?.ok_or_else(|| {
            EngineError::new(format!("rusty-leveldb: no log file in {}", dir.display()))
        })?;
        let file = match &self.log {
            Some((path, file)) if *path == current => file,
            _ => {
                let file = File::open(&current).engine_err()?;
                &self.log.insert((current, file)).1
            }
        };
        file.sync_data().engine_err()
    }
}

/// The highest-numbered `NNNNNN.log` in `dir`.
fn current_log(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut newest: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            if newest.as_ref().is_none_or(|(n, _)| number > *n) {
                newest = Some((number, path));
            }
        }
    }
    Ok(newest.map(|(_, path)| path))
}

/// rusty-leveldb under benchmark.
pub struct LevelDbEngine {
    locked: Mutex<Locked>,
    dir: PathBuf,
}

impl LevelDbEngine {
    fn lock(&self) -> Result<MutexGuard<'_, Locked>, EngineError> {
        self.locked
            .lock()
            .map_err(|_| EngineError::new("rusty-leveldb: a thread panicked holding the lock"))
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), EngineError> {
        let mut locked = self.lock()?;
        locked.db.write(batch, sync).engine_err()?;
        if sync {
            locked.sync_log(&self.dir)?;
        }
        Ok(())
    }
}

/// Positions `iter` on the last entry. rusty-leveldb's iterator cannot seek to the end,
/// so this finds the last key one byte at a time: `seek(p)` lands on an entry exactly
/// when `p` is at most the last key, so the largest such next byte is the last key's.
/// That costs at most 9 seeks per byte of the key.
fn seek_to_last(iter: &mut impl LdbIterator) {
    let mut prefix: Vec<u8> = Vec::new();
    loop {
        iter.seek(&prefix);
        let Some((key, _)) = iter.current() else {
            return; // empty database
        };
        if key.as_ref() == prefix.as_slice() {
            // `prefix` exists; the last key is it, unless a longer one follows.
            prefix.push(0);
            iter.seek(&prefix);
            prefix.pop();
            if !iter.valid() {
                iter.seek(&prefix);
                return;
            }
        }
        // The largest byte b with prefix + [b] <= the last key.
        let (mut low, mut high) = (0u16, 255u16);
        while low < high {
            let mid = (low + high).div_ceil(2);
            prefix.push(mid as u8); // mid <= 255
            iter.seek(&prefix);
            prefix.pop();
            if iter.valid() {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        prefix.push(low as u8); // low <= 255
    }
}

impl Engine for LevelDbEngine {
    fn name(&self) -> String {
        "leveldb".into()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        if sync {
            let mut batch = WriteBatch::default();
            batch.put(key, value);
            self.write(batch, true)
        } else {
            self.lock()?.db.put(key, value).engine_err()
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.lock()?.db.get(key).map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        let mut batch = WriteBatch::default();
        batch.delete(key);
        self.write(batch, sync)
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        let mut batch = WriteBatch::default();
        for (key, value) in entries {
            batch.put(key, value);
        }
        self.write(batch, sync)
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        let mut locked = self.lock()?;
        let mut iter = locked.db.new_iter().engine_err()?;
        iter.seek(start);
        let mut read = SeekRead::default();
        while let Some(entry) = iter.current() {
            read.note(start, &entry.0);
            std::hint::black_box(entry);
            if read.entries == n {
                break;
            }
            iter.advance();
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
        let mut locked = self.lock()?;
        let mut iter = locked.db.new_iter().engine_err()?;
        if reverse {
            seek_to_last(&mut iter);
        } else {
            iter.seek_to_first();
        }
        let mut read = 0;
        while read < limit {
            let Some((key, value)) = iter.current() else {
                break;
            };
            visit(&key, &value);
            read += 1;
            if reverse {
                iter.prev();
            } else {
                iter.advance();
            }
        }
        Ok(read)
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.lock()?.db.flush().engine_err()
    }

    fn compact_all(&self) -> Result<(), EngineError> {
        // Every benchmark key sorts below a run of 0xff bytes.
        self.lock()?.db.compact_range(&[], &[0xff; 64]).engine_err()
    }

    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

/// Opens [`LevelDbEngine`]s with the matched settings.
pub struct LevelDbFactory;

impl EngineFactory for LevelDbFactory {
    fn name(&self) -> String {
        "leveldb".into()
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            setting(
                "library",
                format!("rusty-leveldb {}", env!("PEER_VERSION_RUSTY_LEVELDB")),
            ),
            setting(
                "log",
                format!("{WAL_NO_SYNC}; rusty-leveldb's sync does not fsync, so the adapter fdatasyncs the log"),
            ),
            setting(
                "compression",
                "Snappy (rusty-leveldb has only Snappy or none)",
            ),
            setting("bloom_bits_per_key", BLOOM_BITS_PER_KEY.to_string()),
            setting("block_size", format!("{} KiB", BLOCK_BYTES >> 10)),
            setting("write_buffer_size", mib(MEMTABLE_BYTES)),
            setting("block_cache", mib(BLOCK_CACHE_BYTES)),
            setting("max_file_size", "2 MiB (LevelDB's default)"),
            setting(
                "background",
                "none: flushes and compactions run in the writing thread",
            ),
            setting("concurrency", "one Mutex around the database (&mut API)"),
        ]
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).engine_err()?;
        let options = Options {
            create_if_missing: true,
            write_buffer_size: MEMTABLE_BYTES as usize,
            block_cache_capacity_bytes: BLOCK_CACHE_BYTES as usize,
            block_size: BLOCK_BYTES as usize,
            compressor: SnappyCompressor::ID,
            filter_policy: Rc::new(Box::new(BloomPolicy::new(BLOOM_BITS_PER_KEY))),
            ..Options::default()
        };
        let db = DB::open(dir, options).engine_err()?;
        Ok(Box::new(LevelDbEngine {
            locked: Mutex::new(Locked { db, log: None }),
            dir: dir.to_path_buf(),
        }))
    }
}
