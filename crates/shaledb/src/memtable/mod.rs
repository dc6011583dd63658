//! The memtable: recent writes in a skip list, ordered by internal key.
//!
//! Concurrency: one writer at a time (the group-commit leader) inserts; any number of
//! readers and iterators run at the same time without locks. A memtable is frozen
//! (made immutable) when it passes the size budget, then flushed to a table by a
//! background job and dropped once no reader holds it.

// The arena skip list and its arena are the one place in the crate that uses
// `unsafe`: nodes live in arena chunks and are reached through raw pointers (see the
// skip list's module comment for the rules that make this sound, and for the memory and
// time it saves).
#[allow(unsafe_code)]
mod arena;
mod filter;
mod iter;
#[allow(unsafe_code)]
mod skiplist;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use filter::MemtableFilter;
pub(crate) use iter::MemtableIterator;
use skiplist::SkipList;

use crate::key::{make_internal_key, pack_trailer, parse_internal_key, SequenceNumber, ValueKind};
use crate::table::key_hash;

/// The result of looking a key up in one source.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is a value.
    Found(Vec<u8>),
    /// The newest visible version is a tombstone.
    Deleted,
    /// This source has no visible version; look in older sources.
    NotFound,
}

/// A sorted in-memory table of recent writes.
pub(crate) struct Memtable {
    list: Arc<SkipList>,
    /// A bloom filter over the user keys, when the options ask for one.
    filter: Option<MemtableFilter>,
    /// The write-ahead log that holds this memtable's writes.
    log_number: u64,
    /// Largest sequence number inserted.
    largest_seq: AtomicU64,
    /// Tombstones inserted.
    deletions: AtomicU64,
    /// Whether it holds writes made without the write-ahead log, which only a flush
    /// makes durable.
    unlogged: AtomicBool,
}

impl Memtable {
    /// An empty memtable for the writes of log `log_number`, with a bloom filter of
    /// about `filter_bytes` bytes (none for 0; see `Options::memtable_bloom_ratio`).
    pub(crate) fn new(log_number: u64, filter_bytes: usize) -> Self {
        Memtable {
            list: Arc::new(SkipList::new()),
            filter: (filter_bytes > 0).then(|| MemtableFilter::with_bytes(filter_bytes)),
            log_number,
            largest_seq: AtomicU64::new(0),
            deletions: AtomicU64::new(0),
            unlogged: AtomicBool::new(false),
        }
    }

    /// The log number whose records this memtable holds.
    pub(crate) fn log_number(&self) -> u64 {
        self.log_number
    }

    /// Inserts one entry. Called by one writer at a time.
    pub(crate) fn add(&self, seq: SequenceNumber, kind: ValueKind, key: &[u8], value: &[u8]) {
        // The filter learns the key before the entry is linked (see `filter`).
        if let Some(filter) = &self.filter {
            filter.insert(key_hash(key));
        }
        let trailer = pack_trailer(seq, kind).to_le_bytes();
        self.list.insert([key, &trailer], value);
        self.largest_seq.fetch_max(seq, Ordering::Relaxed);
        if kind == ValueKind::Delete {
            self.deletions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Finds the newest version of `key` visible at `snapshot`; `hash` is the key's
    /// [`key_hash`].
    pub(crate) fn get(&self, key: &[u8], hash: u64, snapshot: SequenceNumber) -> Lookup {
        if let Some(filter) = &self.filter {
            if !filter.may_contain(hash) {
                return Lookup::NotFound;
            }
        }
        let target = make_internal_key(key, snapshot, crate::key::KIND_FOR_SEEK);
        let Some((found, value)) = self.list.first_at_or_after(&target) else {
            return Lookup::NotFound;
        };
        match parse_internal_key(found) {
            Some(parsed) if parsed.user_key == key => match parsed.kind {
                ValueKind::Put => Lookup::Found(value.to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::NotFound,
        }
    }

    /// Approximate memory used, in bytes: the entries as stored (key, value, the
    /// skip-list tower and header) and the filter. This is what the flush trigger
    /// compares with `memtable_size`.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.list.used_bytes() + self.filter.as_ref().map_or(0, MemtableFilter::bytes)
    }

    /// Memory held, in bytes (the arena's chunks).
    #[cfg(test)]
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.list.allocated_bytes()
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Records that writes about to be inserted are in no log.
    pub(crate) fn mark_unlogged(&self) {
        self.unlogged.store(true, Ordering::Relaxed);
    }

    /// Whether any write in it is in no log (see [`Memtable::mark_unlogged`]).
    pub(crate) fn has_unlogged(&self) -> bool {
        self.unlogged.load(Ordering::Relaxed)
    }

    /// Number of tombstones among the entries.
    pub(crate) fn deletions(&self) -> u64 {
        self.deletions.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An iterator over all entries; it keeps the memtable alive.
    pub(crate) fn iter(self: &Arc<Self>) -> MemtableIterator {
        MemtableIterator::new(self.cursor())
    }

    /// A cursor over the entries; it keeps them alive, not the rest of the memtable.
    fn cursor(&self) -> skiplist::Cursor {
        skiplist::Cursor::new(Arc::clone(&self.list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iter::InternalIterator;

    fn get(mem: &Memtable, key: &[u8], snapshot: SequenceNumber) -> Lookup {
        mem.get(key, key_hash(key), snapshot)
    }

    #[test]
    fn get_sees_the_newest_version_at_or_below_the_snapshot() {
        // Without a filter, with one, and with a one-block filter that most absent keys
        // pass.
        for filter_bytes in [0, 1, 4096] {
            let mem = Memtable::new(1, filter_bytes);
            mem.add(1, ValueKind::Put, b"k", b"v1");
            mem.add(2, ValueKind::Put, b"k", b"v2");
            mem.add(3, ValueKind::Delete, b"k", b"");
            mem.add(4, ValueKind::Put, b"k2", b"x");
            assert_eq!(get(&mem, b"k", 1), Lookup::Found(b"v1".to_vec()));
            assert_eq!(get(&mem, b"k", 2), Lookup::Found(b"v2".to_vec()));
            assert_eq!(get(&mem, b"k", 3), Lookup::Deleted);
            assert_eq!(get(&mem, b"k", 0), Lookup::NotFound);
            assert_eq!(get(&mem, b"j", 9), Lookup::NotFound);
            assert_eq!(get(&mem, b"k2", 3), Lookup::NotFound);
            assert_eq!(get(&mem, b"k2", 4), Lookup::Found(b"x".to_vec()));
        }
    }

    #[test]
    fn the_filter_counts_toward_the_memtable_size() {
        let plain = Memtable::new(1, 0);
        let filtered = Memtable::new(1, 64 << 10);
        assert_eq!(plain.approximate_bytes(), 0);
        assert_eq!(filtered.approximate_bytes(), 64 << 10);
        for mem in [&plain, &filtered] {
            mem.add(1, ValueKind::Put, b"key", b"value");
        }
        assert_eq!(
            filtered.approximate_bytes() - plain.approximate_bytes(),
            64 << 10
        );
    }

    #[test]
    fn the_filter_skips_absent_keys_and_never_hides_present_ones() {
        let mem = Memtable::new(1, 64 << 10);
        for i in 0..20_000u64 {
            mem.add(i + 1, ValueKind::Put, format!("k{i}").as_bytes(), b"v");
        }
        for i in 0..20_000u64 {
            let key = format!("k{i}");
            assert_eq!(
                get(&mem, key.as_bytes(), crate::key::MAX_SEQUENCE),
                Lookup::Found(b"v".to_vec())
            );
        }
        let filter = mem.filter.as_ref().expect("a filter");
        let passed = (20_000..40_000u64)
            .filter(|i| filter.may_contain(key_hash(format!("k{i}").as_bytes())))
            .count();
        // 26 bits per key: well under 1% pass.
        assert!(passed < 200, "{passed} of 20000 absent keys passed");
    }

    #[test]
    /// A 4-byte header and no padding (see `skiplist`): 128 bytes a node plus a tower
    /// of 2 pointers on average, so 144. RocksDB's takes about 148 (64 MiB over the
    /// 453,500 entries its flushes held in the 10M-key peers run).
    fn an_entry_of_db_bench_shape_costs_under_147_bytes() {
        let mem = Memtable::new(1, 0);
        let n = 100_000u64;
        for i in 0..n {
            let key = format!("{:016}", i.wrapping_mul(7919) % n);
            mem.add(i + 1, ValueKind::Put, key.as_bytes(), &[b'v'; 100]);
        }
        let per_entry = mem.approximate_bytes() as f64 / n as f64;
        assert!(per_entry < 147.0, "{per_entry} bytes per entry");
        // The arena holds little beyond what is charged.
        assert!(mem.allocated_bytes() < mem.approximate_bytes() + (2 << 20));
    }

    #[test]
    fn iterator_walks_both_ways() {
        let mem = Arc::new(Memtable::new(1, 0));
        for (i, k) in [b"b", b"a", b"c"].iter().enumerate() {
            mem.add(i as u64 + 1, ValueKind::Put, *k, b"v");
        }
        let mut it = mem.iter();
        it.seek_to_first();
        let mut fwd = Vec::new();
        while it.valid() {
            fwd.push(crate::key::user_key(it.key()).to_vec());
            it.next();
        }
        assert_eq!(fwd, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        it.seek_to_last();
        let mut bwd = Vec::new();
        while it.valid() {
            bwd.push(crate::key::user_key(it.key()).to_vec());
            it.prev();
        }
        assert_eq!(bwd, vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    }
}
