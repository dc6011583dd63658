//! Caches shared by all readers of one database: decoded blocks ([`BlockCache`]) and
//! open table files ([`TableCache`]). Both are concurrent and bounded; entries are
//! `Arc`s, so an evicted entry lives on while a reader still holds it.

mod table_cache;

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

pub(crate) use table_cache::{table_cache_capacity, TableCache};

use crate::table::Block;

/// Identifies a block: (table file number, block offset).
pub(crate) type BlockKey = (u64, u64);

#[derive(Clone)]
struct BlockWeighter;

impl Weighter<BlockKey, Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &BlockKey, block: &Arc<Block>) -> u64 {
        // Charge what the block takes from the allocator, and its bookkeeping.
        allocated_size(block.size()) + 64
    }
}

/// The bytes an allocator hands out for a request of `len` bytes, estimated as the
/// size classes of mimalloc and jemalloc: four classes per doubling above 128 bytes.
/// Blocks are cut just past `block_size`, so a 4 KiB block is typically 4.1 KB and
/// takes a 5 KiB slot: charging the request alone let a "64 MiB" cache hold about
/// 78 MiB. (RocksDB charges blocks by `malloc_usable_size` for the same reason.)
fn allocated_size(len: usize) -> u64 {
    let len = len.max(1) as u64;
    if len <= 128 {
        return len.next_multiple_of(16);
    }
    let step = (len.next_power_of_two() / 8).max(16);
    len.next_multiple_of(step)
}

/// An LRU-like (CLOCK-Pro) cache of uncompressed blocks, bounded in bytes.
///
/// Its capacity gives way to frozen memtables: while memtables wait for their flush,
/// the database lowers the cache's capacity by their size (see
/// [`BlockCache::make_room_for`]), as RocksDB's write buffer manager can charge
/// memtables to the block cache. So `memtable_size + block_cache_size` bounds the
/// memory of the active memtable, the frozen ones and the cached blocks together.
pub(crate) struct BlockCache {
    cache: Cache<BlockKey, Arc<Block>, BlockWeighter>,
    /// The configured capacity.
    full: u64,
    /// The capacity set last.
    current: std::sync::atomic::AtomicU64,
}

impl BlockCache {
    /// A cache that holds about `capacity_bytes` of blocks.
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        let estimated_items = (capacity_bytes / 4096).max(16);
        BlockCache {
            cache: Cache::with_weighter(estimated_items, capacity_bytes as u64, BlockWeighter),
            full: capacity_bytes as u64,
            current: std::sync::atomic::AtomicU64::new(capacity_bytes as u64),
        }
    }

    /// Shrinks the capacity by `charged` bytes held elsewhere (frozen memtables), down
    /// to an eighth of the configured size at the least, or restores it as they go.
    pub(crate) fn make_room_for(&self, charged: u64) {
        let capacity = self.full.saturating_sub(charged).max(self.full / 8);
        let previous = self
            .current
            .swap(capacity, std::sync::atomic::Ordering::Relaxed);
        if previous != capacity {
            self.cache.set_capacity(capacity);
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

#[cfg(test)]
mod tests {
    use super::allocated_size;

    #[test]
    fn blocks_are_charged_by_allocator_size_class() {
        assert_eq!(allocated_size(100), 112);
        assert_eq!(allocated_size(4096), 4096);
        // Just past 4 KiB, the next class is 5 KiB.
        assert_eq!(allocated_size(4_200), 5_120);
        assert_eq!(allocated_size(6_000), 6_144);
        for len in [1usize, 129, 1000, 4097, 70_000] {
            let charged = allocated_size(len);
            assert!(charged >= len as u64 && charged <= len as u64 * 5 / 4 + 16);
        }
    }
}
