//! [`RawIter`]: a cursor that lends each entry instead of returning owned copies, in
//! the manner of RocksDB's `DBRawIterator`. Scans through it allocate nothing per
//! entry: the key and value are copied into buffers the cursor reuses.
//!
//! It reads one fixed point in time, like [`super::Iter`]. It moves either way; a change
//! of direction re-seeks from the current key.

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
        let inner = (self.factory)();
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
            cursor.advance_forward(&mut self.key, &mut self.value)
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
            let from = std::mem::take(&mut self.key);
            self.start(true, Bound::Excluded(from), Bound::Unbounded);
        }
    }

    /// Moves to the previous entry. Does nothing unless [`RawIter::valid`].
    pub fn prev(&mut self) {
        if !self.valid {
            return;
        }
        if self.forward {
            let from = std::mem::take(&mut self.key);
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
        if self.valid {
            &self.key
        } else {
            &[]
        }
    }

    /// The current value; empty when not [`RawIter::valid`].
    pub fn value(&self) -> &[u8] {
        if self.valid {
            &self.value
        } else {
            &[]
        }
    }

    /// The current entry, if positioned on one.
    pub fn item(&self) -> Option<(&[u8], &[u8])> {
        self.valid
            .then_some((self.key.as_slice(), self.value.as_slice()))
    }

    /// The error that stopped the cursor, if any.
    pub fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }
}
