//! The memtable: recent writes in a concurrent skip list, ordered by internal key.
//!
//! Concurrency: one writer at a time (the group-commit leader) inserts; any number of
//! readers and iterators run at the same time without locks. A memtable is frozen
//! (made immutable) when it passes the size budget, then flushed to a table by a
//! background job and dropped once no reader holds it.

mod entry;
mod iter;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;

pub(crate) use entry::MemEntry;
pub(crate) use iter::MemtableIterator;

use crate::key::{make_internal_key, parse_internal_key, SequenceNumber, ValueKind};

/// Bytes charged per entry for the skip-list node (its tower, reference count and
/// the allocator's rounding), on top of [`MemEntry::footprint`].
const NODE_OVERHEAD: usize = 48;

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
    map: SkipMap<MemEntry, ()>,
    approximate_bytes: AtomicUsize,
    /// The write-ahead log that holds this memtable's writes.
    log_number: u64,
    /// Largest sequence number inserted.
    largest_seq: AtomicU64,
}

impl Memtable {
    pub(crate) fn new(log_number: u64) -> Self {
        Memtable {
            map: SkipMap::new(),
            approximate_bytes: AtomicUsize::new(0),
            log_number,
            largest_seq: AtomicU64::new(0),
        }
    }

    /// The log number whose records this memtable holds.
    pub(crate) fn log_number(&self) -> u64 {
        self.log_number
    }

    /// Inserts one entry. Called by one writer at a time.
    pub(crate) fn add(&self, seq: SequenceNumber, kind: ValueKind, key: &[u8], value: &[u8]) {
        let entry = MemEntry::new(key, seq, kind, value);
        self.approximate_bytes
            .fetch_add(entry.footprint() + NODE_OVERHEAD, Ordering::Relaxed);
        self.largest_seq.fetch_max(seq, Ordering::Relaxed);
        self.map.insert(entry, ());
    }

    /// Finds the newest version of `key` visible at `snapshot`.
    pub(crate) fn get(&self, key: &[u8], snapshot: SequenceNumber) -> Lookup {
        let target = MemEntry::target(&make_internal_key(key, snapshot, crate::key::KIND_FOR_SEEK));
        let Some(entry) = self.map.lower_bound(std::ops::Bound::Included(&target)) else {
            return Lookup::NotFound;
        };
        let found = entry.key();
        match parse_internal_key(found.key()) {
            Some(parsed) if parsed.user_key == key => match parsed.kind {
                ValueKind::Put => Lookup::Found(found.value().to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::NotFound,
        }
    }

    /// Approximate memory used, in bytes.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.approximate_bytes.load(Ordering::Relaxed)
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// An iterator over all entries; it keeps the memtable alive.
    pub(crate) fn iter(self: &Arc<Self>) -> MemtableIterator {
        MemtableIterator::new(Arc::clone(self))
    }

    pub(crate) fn map(&self) -> &SkipMap<MemEntry, ()> {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iter::InternalIterator;

    #[test]
    fn get_sees_the_newest_version_at_or_below_the_snapshot() {
        let mem = Memtable::new(1);
        mem.add(1, ValueKind::Put, b"k", b"v1");
        mem.add(2, ValueKind::Put, b"k", b"v2");
        mem.add(3, ValueKind::Delete, b"k", b"");
        mem.add(4, ValueKind::Put, b"k2", b"x");
        assert_eq!(mem.get(b"k", 1), Lookup::Found(b"v1".to_vec()));
        assert_eq!(mem.get(b"k", 2), Lookup::Found(b"v2".to_vec()));
        assert_eq!(mem.get(b"k", 3), Lookup::Deleted);
        assert_eq!(mem.get(b"k", 0), Lookup::NotFound);
        assert_eq!(mem.get(b"j", 9), Lookup::NotFound);
        assert_eq!(mem.get(b"k2", 3), Lookup::NotFound);
    }

    #[test]
    fn iterator_walks_both_ways() {
        let mem = Arc::new(Memtable::new(1));
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
