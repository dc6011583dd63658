//! [`RawIter`]: a cursor that lends each entry instead of returning owned copies, in
//! the manner of RocksDB's `DBRawIterator`. Scans through it allocate nothing per
//! entry: walking forward it lends the key and value straight from the table block or
//! memtable it sits on; walking backward (where the cursor has to move past a key's
//! older versions to find its newest) it copies them into buffers it reuses.
//!
//! It reads one fixed point in time, like [`super::Iter`]. It moves either way; a change
//! of direction re-seeks from the current key. Seeks reuse the merged sources (table
//! and level iterators) built by the first one.

use std::ops::Bound;

use super::db_iter::{DbCursor, SourceFactory};
use crate::error::{Error, Result};
use crate::key::SequenceNumber;

/// A seekable, bidirectional cursor over visible entries. Start it with a seek; it is
/// then valid until it runs off either end or meets an error (see
/// [`RawIter::status`]).
pub struct RawIter {
    factory: SourceFactory,
    snapshot: SequenceNumber,
    cursor: Option<DbCursor>,
    forward: bool,
    /// The current entry when walking backward (forward, the cursor lends it).
    key: Vec<u8>,
    value: Vec<u8>,
    valid: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for RawIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawIter")
            .field("snapshot", &self.snapshot)
            .field("valid", &self.valid)
            .finish_non_exhaustive()
    }
}

impl RawIter {
    pub(crate) fn new(factory: SourceFactory, snapshot: SequenceNumber) -> Self {
        RawIter {
            factory,
            snapshot,
            cursor: None,
            forward: true,
            key: Vec::new(),
            value: Vec::new(),
            valid: false,
            error: None,
        }
    }

    fn start(&mut self, forward: bool, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) {
        // Re-seek the merged sources already built (a seek repositions every child);
        // after an error, build them afresh.
        let inner = match self.cursor.take() {
            Some(cursor) if self.error.is_none() => cursor.into_inner(),
            _ => (self.factory)(),
        };
        self.forward = forward;
        self.error = None;
        self.cursor = Some(if forward {
            DbCursor::forward(inner, self.snapshot, lower, upper)
        } else {
            DbCursor::backward(inner, self.snapshot, lower, upper)
        });
        self.step();
    }

    fn step(&mut self) {
        let Some(cursor) = self.cursor.as_mut() else {
            self.valid = false;
            return;
        };
        let moved = if self.forward {
            cursor.step_forward()
        } else {
            cursor.advance_backward(&mut self.key, &mut self.value)
        };
        self.valid = match moved {
            Some(Ok(())) => true,
            Some(Err(e)) => {
                self.error = Some(e);
                false
            }
            None => false,
        };
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        self.start(true, Bound::Unbounded, Bound::Unbounded);
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        self.start(false, Bound::Unbounded, Bound::Unbounded);
    }

    /// Positions on the first entry whose key is at or after `key`.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        self.start(
            true,
            Bound::Included(key.as_ref().to_vec()),
            Bound::Unbounded,
        );
    }

    /// Positions on the last entry whose key is at or before `key`.
    pub fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        self.start(
            false,
            Bound::Unbounded,
            Bound::Included(key.as_ref().to_vec()),
        );
    }

    /// Moves to the next entry. Does nothing unless [`RawIter::valid`].
    pub fn next(&mut self) {
        if !self.valid {
            return;
        }
        if self.forward {
            self.step();
        } else {
            let from = self.key().to_vec();
            self.start(true, Bound::Excluded(from), Bound::Unbounded);
        }
    }

    /// Moves to the previous entry. Does nothing unless [`RawIter::valid`].
    pub fn prev(&mut self) {
        if !self.valid {
            return;
        }
        if self.forward {
            let from = self.key().to_vec();
            self.start(false, Bound::Unbounded, Bound::Excluded(from));
        } else {
            self.step();
        }
    }

    /// True if positioned on an entry.
    pub fn valid(&self) -> bool {
        self.valid
    }

    /// The current key; empty when not [`RawIter::valid`].
    pub fn key(&self) -> &[u8] {
        self.item().map_or(&[], |(k, _)| k)
    }

    /// The current value; empty when not [`RawIter::valid`].
    pub fn value(&self) -> &[u8] {
        self.item().map_or(&[], |(_, v)| v)
    }

    /// The current entry, if positioned on one.
    pub fn item(&self) -> Option<(&[u8], &[u8])> {
        if !self.valid {
            return None;
        }
        match &self.cursor {
            Some(cursor) if self.forward => Some(cursor.entry()),
            _ => Some((self.key.as_slice(), self.value.as_slice())),
        }
    }

    /// The error that stopped the cursor, if any.
    pub fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }
}
