//! The one iterator trait every source of entries implements, and the iterators that
//! compose sources: the merging iterator and the user-facing iterator.
//!
//! An [`InternalIterator`] walks encoded internal keys (see [`crate::key`]) in internal
//! order. It is positioned by a seek, then moved with `next` (after `seek`/
//! `seek_to_first`) or `prev` (after `seek_for_prev`/`seek_to_last`). The merging
//! iterator is built for one direction at a time, so no source ever has to switch
//! direction in place. When a source meets damaged data it becomes invalid and
//! [`InternalIterator::status`] returns the error; callers check `status` whenever
//! `valid` turns false.

mod db_iter;
mod merging;
mod raw_iter;

pub use db_iter::{Iter, KvPair};
pub(crate) use merging::MergingIterator;
pub use raw_iter::RawIter;

use crate::error::{Error, Result};

/// A cursor over internal keys in internal order.
pub(crate) trait InternalIterator: Send {
    /// True if positioned on an entry.
    fn valid(&self) -> bool;
    /// Positions on the first entry.
    fn seek_to_first(&mut self);
    /// Positions on the last entry.
    fn seek_to_last(&mut self);
    /// Positions on the first entry at or after `target` (an internal key).
    fn seek(&mut self, target: &[u8]);
    /// Positions on the last entry at or before `target` (an internal key).
    fn seek_for_prev(&mut self, target: &[u8]);
    /// Moves to the next entry. Requires `valid()`.
    fn next(&mut self);
    /// Moves to the previous entry. Requires `valid()`.
    fn prev(&mut self);
    /// The current internal key. Requires `valid()`.
    fn key(&self) -> &[u8];
    /// The current value. Requires `valid()`.
    fn value(&self) -> &[u8];
    /// The error that made the iterator invalid, if any.
    fn status(&self) -> Result<()>;
}

pub(crate) type BoxedIterator = Box<dyn InternalIterator>;
pub(crate) use db_iter::SourceFactory;

/// A source with no entries whose status is [`Error::Closed`]: what an iterator of a
/// closed database reads, so its first step reports the error.
pub(crate) struct ClosedSource;

impl InternalIterator for ClosedSource {
    fn valid(&self) -> bool {
        false
    }
    fn seek_to_first(&mut self) {}
    fn seek_to_last(&mut self) {}
    fn seek(&mut self, _target: &[u8]) {}
    fn seek_for_prev(&mut self, _target: &[u8]) {}
    fn next(&mut self) {}
    fn prev(&mut self) {}
    fn key(&self) -> &[u8] {
        &[]
    }
    fn value(&self) -> &[u8] {
        &[]
    }
    fn status(&self) -> Result<()> {
        Err(Error::Closed)
    }
}
