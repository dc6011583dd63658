//! The sled 0.34 adapter: the default tree of one database.
//!
//! sled is a B+-tree over a log-structured page store, not an LSM tree, so most of the
//! matched settings have no counterpart. What can be set: a 64 MiB page cache. Writes
//! go to sled's log without an fsync; sled fsyncs it in the background every 500 ms (its
//! default), and fillsync calls `flush()` after each write, which on Linux syncs with
//! `sync_file_range` (no disk cache flush, no metadata), not `fsync`. Compression: none (sled
//! offers only zstd, behind a cargo feature that is off). sled reports neither table
//! bytes written nor live data nor stalls.
//!
//! Concurrency: `sled::Db` is `Send + Sync` and takes `&self`.

use std::path::Path;

use shaledb_bench::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

use super::{mib, setting, OrEngineError, BLOCK_CACHE_BYTES};

/// sled under benchmark.
pub struct SledEngine {
    db: sled::Db,
}

impl SledEngine {
    fn flush_if(&self, sync: bool) -> Result<(), EngineError> {
        if sync {
            self.db.flush().engine_err()?;
        }
        Ok(())
    }
}

impl Engine for SledEngine {
    fn name(&self) -> String {
        "sled".into()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        self.db.insert(key, value).engine_err()?;
        self.flush_if(sync)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.db.get(key).engine_err()?.map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        self.db.remove(key).engine_err()?;
        self.flush_if(sync)
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        let mut batch = sled::Batch::default();
        for (key, value) in entries {
            batch.insert(key.as_slice(), value.as_slice());
        }
        self.db.apply_batch(batch).engine_err()?;
        self.flush_if(sync)
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        let mut read = SeekRead::default();
        for item in self.db.range(start..).take(n) {
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
        let iter = self.db.iter();
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if reverse {
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
        self.db.flush().engine_err().map(drop)
    }

    fn stats(&self) -> EngineStats {
        let mut extra = Vec::new();
        if let Ok(bytes) = self.db.size_on_disk() {
            extra.push(setting("size_on_disk", bytes.to_string()));
        }
        EngineStats {
            extra,
            ..EngineStats::default()
        }
    }
}

/// Opens [`SledEngine`]s with the matched settings.
pub struct SledFactory;

impl EngineFactory for SledFactory {
    fn name(&self) -> String {
        "sled".into()
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            setting("library", format!("sled {}", env!("PEER_VERSION_SLED"))),
            setting(
                "log",
                "on, no fsync per write (sled fsyncs every 500 ms; fillsync: flush per write, \
                 which is sync_file_range on Linux)",
            ),
            setting(
                "compression",
                "none (sled has only zstd, behind a cargo feature)",
            ),
            setting("bloom_bits_per_key", "n/a (B+-tree)"),
            setting("block_size", "n/a (512 KiB log segments)"),
            setting("memtable", "n/a"),
            setting("cache_capacity", mib(BLOCK_CACHE_BYTES)),
            setting("background", "sled's own flusher thread"),
            setting("mode", "LowSpace (default)"),
        ]
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).engine_err()?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(BLOCK_CACHE_BYTES)
            .open()
            .engine_err()?;
        Ok(Box::new(SledEngine { db }))
    }
}
