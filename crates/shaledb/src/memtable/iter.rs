//! A cursor over a memtable as an [`InternalIterator`]. It keeps the memtable's entries
//! alive and lends each one in place, so stepping copies nothing.

use super::skiplist::Cursor;
use crate::error::Result;
use crate::iter::InternalIterator;

/// A cursor over one memtable's entries.
pub(crate) struct MemtableIterator {
    cursor: Cursor,
}

impl MemtableIterator {
    pub(super) fn new(cursor: Cursor) -> Self {
        MemtableIterator { cursor }
    }
}

impl InternalIterator for MemtableIterator {
    fn valid(&self) -> bool {
        self.cursor.valid()
    }

    fn seek_to_first(&mut self) {
        self.cursor.seek_to_first();
    }

    fn seek_to_last(&mut self) {
        self.cursor.seek_to_last();
    }

    fn seek(&mut self, target: &[u8]) {
        self.cursor.seek(target);
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.cursor.seek_for_prev(target);
    }

    fn next(&mut self) {
        self.cursor.next();
    }

    fn prev(&mut self) {
        self.cursor.prev();
    }

    fn key(&self) -> &[u8] {
        self.cursor.key()
    }

    fn value(&self) -> &[u8] {
        self.cursor.value()
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}
