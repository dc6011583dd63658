//! The read path: point lookups and iterators.
//!
//! A read without a snapshot pins the super version first and reads the visible
//! sequence number second. The pinned tables never change, so a compaction that
//! installs meanwhile (and may drop versions older than its own start) cannot take
//! away a version this read needs; and every batch at or below that sequence number
//! that is not in the pinned memtables is in none of them, so views stay whole.
//! A [`super::Snapshot`] registers its sequence number instead, which compaction
//! honours, so it reads through the current super version.

use std::ops::{Bound, RangeBounds};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Db, DbCore, SuperVersion};
use crate::error::{Error, Result};
use crate::iter::{BoxedIterator, Iter, MergingIterator, RawIter};
use crate::key::SequenceNumber;
use crate::memtable::Lookup;
use crate::table::key_hash;

/// Copies a range's bounds into owned keys.
pub(crate) fn owned_bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(
    range: &R,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let own = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(range.start_bound()), own(range.end_bound()))
}

/// The bounds of all keys starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    // The smallest key above every key with the prefix: drop trailing 0xff bytes, then
    // increment the last byte. A prefix of only 0xff bytes has no upper bound.
    let mut upper = prefix.to_vec();
    while upper.last() == Some(&0xff) {
        upper.pop();
    }
    let end = match upper.last_mut() {
        Some(last) => {
            *last += 1;
            Bound::Excluded(upper)
        }
        None => Bound::Unbounded,
    };
    (Bound::Included(prefix.to_vec()), end)
}

impl DbCore {
    /// The newest value of `key` at or below `seq`.
    pub(crate) fn get_at(&self, key: &[u8], seq: SequenceNumber) -> Result<Option<Vec<u8>>> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.get_in(&self.current_super_version(), key, seq)
    }

    /// The newest value of `key` now: pins the sources, then reads the sequence.
    pub(crate) fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let sv = self.current_super_version();
        let seq = self.visible_sequence();
        self.get_in(&sv, key, seq)
    }

    fn get_in(
        &self,
        sv: &SuperVersion,
        key: &[u8],
        seq: SequenceNumber,
    ) -> Result<Option<Vec<u8>>> {
        // One hash serves every memtable's filter and every table's.
        let hash = key_hash(key);
        for mem in std::iter::once(&sv.mem).chain(sv.imms.iter()) {
            match mem.get(key, hash, seq) {
                Lookup::Found(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::NotFound => {}
            }
        }
        match sv.version.get(key, hash, seq, &self.table_cache)? {
            Lookup::Found(v) => Ok(Some(v)),
            Lookup::Deleted | Lookup::NotFound => Ok(None),
        }
    }

    /// An iterator over `bounds` at `seq`, pinning the current sources.
    pub(crate) fn iter_at(
        &self,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        seq: SequenceNumber,
    ) -> Iter {
        self.iter_in(self.current_super_version(), bounds, seq)
    }

    /// An iterator over the current state: pins the sources, then reads the sequence.
    pub(crate) fn iter_latest(&self, bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> Iter {
        let sv = self.current_super_version();
        let seq = self.visible_sequence();
        self.iter_in(sv, bounds, seq)
    }

    fn iter_in(
        &self,
        sv: Arc<SuperVersion>,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        seq: SequenceNumber,
    ) -> Iter {
        Iter::new(self.source_factory(sv), seq, bounds.0, bounds.1)
    }

    /// A raw cursor over the current state (pins the sources, then reads the sequence).
    pub(crate) fn raw_iter_latest(&self) -> RawIter {
        let sv = self.current_super_version();
        let seq = self.visible_sequence();
        RawIter::new(self.source_factory(sv), seq)
    }

    /// A raw cursor at a registered snapshot's sequence number.
    pub(crate) fn raw_iter_at(&self, seq: SequenceNumber) -> RawIter {
        RawIter::new(self.source_factory(self.current_super_version()), seq)
    }

    /// Builds merged cursors over the pinned sources of `sv`; once the database is
    /// closed, cursors whose first step reports [`Error::Closed`].
    fn source_factory(&self, sv: Arc<SuperVersion>) -> crate::iter::SourceFactory {
        if self.shutting_down.load(Ordering::Acquire) {
            return Box::new(|| -> BoxedIterator { Box::new(crate::iter::ClosedSource) });
        }
        let tables = Arc::clone(&self.table_cache);
        Box::new(move || -> BoxedIterator {
            let mut children: Vec<BoxedIterator> = Vec::with_capacity(sv.imms.len() + 8);
            children.push(Box::new(sv.mem.iter()));
            for imm in &sv.imms {
                children.push(Box::new(imm.iter()));
            }
            sv.version.add_iterators(&tables, &mut children);
            Box::new(MergingIterator::new(children))
        })
    }

    pub(crate) fn visible_sequence(&self) -> SequenceNumber {
        self.last_sequence.load(Ordering::Acquire)
    }
}

impl Db {
    /// The current value of `key`, or `None` if it is absent or deleted.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        let core = self.core();
        core.get_latest(key.as_ref())
    }

    /// True if `key` has a value.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Entries with keys in `range`, ascending; `.rev()` walks descending. The iterator
    /// reads a fixed point-in-time view taken when it is created.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let core = self.core();
        core.iter_latest(owned_bounds(&range))
    }

    /// Every entry, ascending (`.rev()` for descending).
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// A raw cursor over the current state: seek, then step either way, reading each
    /// entry by reference without allocating (as RocksDB's raw iterator).
    pub fn raw_iter(&self) -> RawIter {
        self.core().raw_iter_latest()
    }

    /// Entries whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let core = self.core();
        core.iter_latest(prefix_bounds(prefix.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bound_carries_past_0xff() {
        assert_eq!(prefix_bounds(b"ab").1, Bound::Excluded(b"ac".to_vec()));
        assert_eq!(
            prefix_bounds(b"a\xff\xff").1,
            Bound::Excluded(b"b".to_vec())
        );
        assert_eq!(prefix_bounds(b"\xff").1, Bound::Unbounded);
        assert_eq!(prefix_bounds(b"").1, Bound::Unbounded);
    }
}
