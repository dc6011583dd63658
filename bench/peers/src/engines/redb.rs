//! The redb adapter: one table of byte-string keys and values in one database file.
//!
//! redb is a copy-on-write B-tree without a log, so the matched settings map loosely.
//! Every write is its own write transaction (a batch is one transaction), committed
//! with `Durability::None` (no fsync), or `Durability::Immediate` for a synced write.
//! redb frees pages only at a durable commit, so with `None` alone its file grows with
//! every commit; the adapter therefore makes a write durable once a second (`DURABLE_EVERY`),
//! as a log-structured engine would flush its log. Also set: a 64 MiB page cache. Not
//! available: compression, bloom filters, memtables, background work (pages are 4 KiB).
//! redb reports neither table bytes written nor live data nor stalls.
//!
//! Concurrency: `Database` is `Send + Sync`; write transactions are serialised by redb
//! itself; reads each open a read transaction.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redb::{
    Database, Durability, ReadOnlyTable, ReadableTable, StorageError, Table, TableDefinition,
};
use shaledb_bench::{Engine, EngineError, EngineFactory, EngineStats, SeekRead};

use super::{mib, setting, OrEngineError, BLOCK_CACHE_BYTES};

/// The table every benchmark uses.
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// How often an unsynced write is committed durably anyway, so that redb can free pages.
const DURABLE_EVERY: Duration = Duration::from_secs(1);

/// redb under benchmark.
pub struct RedbEngine {
    db: Database,
    opened: Instant,
    /// Milliseconds after `opened` of the last durable commit.
    last_durable_ms: AtomicU64,
}

impl RedbEngine {
    /// Runs `body` in one write transaction and commits it.
    fn write<F>(&self, sync: bool, body: F) -> Result<(), EngineError>
    where
        F: FnOnce(&mut Table<'_, &'static [u8], &'static [u8]>) -> Result<(), StorageError>,
    {
        let mut txn = self.db.begin_write().engine_err()?;
        txn.set_durability(if self.durable_due(sync) {
            Durability::Immediate
        } else {
            Durability::None
        });
        {
            let mut table = txn.open_table(TABLE).engine_err()?;
            body(&mut table).engine_err()?;
        }
        txn.commit().engine_err()
    }

    /// True if this commit should be durable: asked for, or `DURABLE_EVERY` has passed.
    fn durable_due(&self, sync: bool) -> bool {
        // Milliseconds since opening fit in u64 for 584 million years.
        let now = self.opened.elapsed().as_millis() as u64;
        let last = self.last_durable_ms.load(Ordering::Relaxed);
        let due = sync || now.saturating_sub(last) >= DURABLE_EVERY.as_millis() as u64;
        if due {
            self.last_durable_ms.store(now, Ordering::Relaxed);
        }
        due
    }

    /// Opens the table in a fresh read transaction.
    fn read_table(&self) -> Result<ReadOnlyTable<&'static [u8], &'static [u8]>, EngineError> {
        let txn = self.db.begin_read().engine_err()?;
        txn.open_table(TABLE).engine_err()
    }
}

impl Engine for RedbEngine {
    fn name(&self) -> String {
        "redb".into()
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        self.write(sync, |table| table.insert(key, value).map(drop))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let table = self.read_table()?;
        let value = table.get(key).engine_err()?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn delete(&self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        self.write(sync, |table| table.remove(key).map(drop))
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Vec<u8>)], sync: bool) -> Result<(), EngineError> {
        self.write(sync, |table| {
            for (key, value) in entries {
                table.insert(key.as_slice(), value.as_slice())?;
            }
            Ok(())
        })
    }

    fn seek_and_read(&self, start: &[u8], n: usize) -> Result<SeekRead, EngineError> {
        let table = self.read_table()?;
        let mut read = SeekRead::default();
        for item in table.range(start..).engine_err()?.take(n) {
            let (key, value) = item.engine_err()?;
            read.note(start, key.value());
            std::hint::black_box((key.value(), value.value()));
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
        let table = self.read_table()?;
        let range = table.iter().engine_err()?;
        let entries: Box<dyn Iterator<Item = _>> = if reverse {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut read = 0;
        for item in entries.take(limit) {
            let (key, value) = item.engine_err()?;
            visit(key.value(), value.value());
            read += 1;
        }
        Ok(read)
    }

    fn flush(&self) -> Result<(), EngineError> {
        self.write(true, |_| Ok(()))
    }

    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

/// Opens [`RedbEngine`]s with the matched settings.
pub struct RedbFactory;

impl EngineFactory for RedbFactory {
    fn name(&self) -> String {
        "redb".into()
    }

    fn settings(&self) -> Vec<(String, String)> {
        vec![
            setting("library", format!("redb {}", env!("PEER_VERSION_REDB"))),
            setting(
                "durability",
                "one transaction per write, Durability::None (fillsync: Immediate); \
                 a durable commit at most once a second so pages can be freed",
            ),
            setting("compression", "none (redb has none)"),
            setting("bloom_bits_per_key", "n/a (B-tree)"),
            setting("page_size", "4 KiB"),
            setting("memtable", "n/a"),
            setting("cache_size", mib(BLOCK_CACHE_BYTES)),
            setting("background", "none"),
        ]
    }

    fn open(&self, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
        std::fs::create_dir_all(dir).engine_err()?;
        let db = Database::builder()
            .set_cache_size(BLOCK_CACHE_BYTES as usize)
            .create(dir.join("bench.redb"))
            .engine_err()?;
        // Create the table, so that readers find it even before the first write.
        let txn = db.begin_write().engine_err()?;
        txn.open_table(TABLE).engine_err()?;
        txn.commit().engine_err()?;
        Ok(Box::new(RedbEngine {
            db,
            opened: Instant::now(),
            last_durable_ms: AtomicU64::new(0),
        }))
    }
}
