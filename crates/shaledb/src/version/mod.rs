//! Versions: which tables are live, at which level, and the manifest that records them.
//!
//! A [`Version`] is an immutable snapshot of the table set. Readers and iterators hold
//! an `Arc<Version>`, so tables they use are never deleted under them. The
//! [`VersionSet`] applies [`VersionEdit`]s: it appends each edit to the manifest, syncs
//! it, and only then installs the new version. It is guarded by the database's version
//! lock; all its methods assume the caller holds it.

mod edit;
mod level_iter;
mod levels;
mod release;
mod version_set;

pub(crate) use edit::VersionEdit;
pub(crate) use level_iter::LevelIterator;
pub(crate) use levels::Version;
pub(crate) use release::ReleaseHook;
pub(crate) use version_set::VersionSet;

use crate::key::{user_key, SequenceNumber};

/// What the manifest records about one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileMeta {
    pub number: u64,
    pub file_size: u64,
    /// Smallest and largest internal keys in the table.
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub smallest_seq: SequenceNumber,
    pub largest_seq: SequenceNumber,
    pub num_entries: u64,
    pub num_deletions: u64,
}

impl FileMeta {
    pub(crate) fn smallest_user_key(&self) -> &[u8] {
        user_key(&self.smallest)
    }

    pub(crate) fn largest_user_key(&self) -> &[u8] {
        user_key(&self.largest)
    }

    /// True if the table's user-key range intersects [`lo`, `hi`] (None = unbounded).
    pub(crate) fn overlaps(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> bool {
        let below = hi.is_some_and(|hi| self.smallest_user_key() > hi);
        let above = lo.is_some_and(|lo| self.largest_user_key() < lo);
        !(below || above)
    }
}
