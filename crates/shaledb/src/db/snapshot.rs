//! Snapshots: a fixed, point-in-time read view.
//!
//! A snapshot registers its sequence number with the database; compaction keeps every
//! version that a registered sequence number can see. Dropping the snapshot releases it.

use std::ops::RangeBounds;
use std::sync::Arc;

use super::DbCore;
use crate::error::Result;
use crate::iter::Iter;
use crate::key::SequenceNumber;

/// A consistent view of the database as of the moment it was taken. Writes, flushes and
/// compactions after that moment do not change what it reads.
pub struct Snapshot {
    core: Arc<DbCore>,
    seq: SequenceNumber,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("sequence", &self.seq)
            .finish()
    }
}

impl Snapshot {
    pub(crate) fn new(core: Arc<DbCore>) -> Self {
        let seq = {
            // Read the sequence under the snapshot lock so compaction, which reads the
            // oldest snapshot under the same lock, never misses this one.
            let mut snaps = core.snapshots.lock();
            let seq = core
                .last_sequence
                .load(std::sync::atomic::Ordering::Acquire);
            *snaps.entry(seq).or_insert(0) += 1;
            seq
        };
        Snapshot { core, seq }
    }

    /// The sequence number this snapshot reads at.
    pub fn sequence(&self) -> SequenceNumber {
        self.seq
    }

    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.core.get_at(key.as_ref(), self.seq)
    }

    /// Entries in `range` as of the snapshot.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        self.core
            .iter_at(super::read::owned_bounds(&range), self.seq)
    }

    /// A raw cursor as of the snapshot (see [`crate::Db::raw_iter`]).
    pub fn raw_iter(&self) -> crate::iter::RawIter {
        self.core.raw_iter_at(self.seq)
    }

    /// Every entry as of the snapshot.
    pub fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// Entries whose key starts with `prefix`, as of the snapshot.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        self.core
            .iter_at(super::read::prefix_bounds(prefix.as_ref()), self.seq)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut snaps = self.core.snapshots.lock();
        if let Some(count) = snaps.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                snaps.remove(&self.seq);
            }
        }
    }
}

impl super::Db {
    /// Takes a snapshot of the current state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(Arc::clone(self.core()))
    }
}
