//! Caches shared by all readers of one database: decoded blocks ([`BlockCache`]) and
//! open table files ([`TableCache`]). Both are concurrent and bounded; entries are
//! `Arc`s, so an evicted entry lives on while a reader still holds it.

mod table_cache;

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

pub(crate) use table_cache::TableCache;

use crate::table::Block;

/// Identifies a block: (table file number, block offset).
pub(crate) type BlockKey = (u64, u64);

#[derive(Clone)]
struct BlockWeighter;

impl Weighter<BlockKey, Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &BlockKey, block: &Arc<Block>) -> u64 {
        // Charge for the block and its bookkeeping.
        block.size() as u64 + 64
    }
}

/// An LRU-like (CLOCK-Pro) cache of uncompressed blocks, bounded in bytes.
pub(crate) struct BlockCache {
    cache: Cache<BlockKey, Arc<Block>, BlockWeighter>,
}

impl BlockCache {
    /// A cache that holds about `capacity_bytes` of blocks.
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        let estimated_items = (capacity_bytes / 4096).max(16);
        BlockCache {
            cache: Cache::with_weighter(estimated_items, capacity_bytes as u64, BlockWeighter),
        }
    }

    pub(crate) fn get(&self, key: &BlockKey) -> Option<Arc<Block>> {
        self.cache.get(key)
    }

    pub(crate) fn insert(&self, key: BlockKey, block: Arc<Block>) {
        self.cache.insert(key, block);
    }

    /// Bytes of blocks held.
    pub(crate) fn usage(&self) -> u64 {
        self.cache.weight()
    }
}
