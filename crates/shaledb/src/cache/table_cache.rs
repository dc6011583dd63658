//! Open table readers, bounded by `max_open_files`, opened lazily on first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use quick_cache::sync::Cache;

use super::BlockCache;
use crate::error::Result;
use crate::fs::FileSystem;
use crate::table::TableReader;

/// How many tables the cache keeps open for a `max_open_files`: a few descriptors are
/// left for logs, the manifest and the lock.
pub(crate) fn table_cache_capacity(max_open_files: usize) -> usize {
    max_open_files.saturating_sub(10).max(6)
}

/// Opens tables on demand and keeps the most recently used ones open.
pub(crate) struct TableCache {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    block_cache: Option<Arc<BlockCache>>,
    tables: Cache<u64, Arc<TableReader>>,
}

impl TableCache {
    pub(crate) fn new(
        dir: &Path,
        fs: Arc<dyn FileSystem>,
        block_cache: Option<Arc<BlockCache>>,
        max_open_files: usize,
    ) -> Self {
        TableCache {
            dir: dir.to_path_buf(),
            fs,
            block_cache,
            tables: Cache::new(table_cache_capacity(max_open_files)),
        }
    }

    /// The reader for table `number` of `file_size` bytes, opening it if needed.
    pub(crate) fn get(&self, number: u64, file_size: u64) -> Result<Arc<TableReader>> {
        self.tables.get_or_insert_with(&number, || {
            let path = crate::db::filename::table_path(&self.dir, number);
            let file = self.fs.open(&path)?;
            let reader =
                TableReader::open(file, path, number, file_size, self.block_cache.clone())?;
            Ok(Arc::new(reader))
        })
    }

    /// Forgets a deleted table.
    pub(crate) fn evict(&self, number: u64) {
        self.tables.remove(&number);
    }

    pub(crate) fn block_cache(&self) -> Option<&Arc<BlockCache>> {
        self.block_cache.as_ref()
    }
}
