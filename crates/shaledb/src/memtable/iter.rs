//! An owning cursor over a memtable. It keeps the memtable alive through an `Arc` and
//! holds a skip-list entry borrowed from it (a self-referential pair built with
//! `self_cell`), so stepping is O(1) and copies nothing.

use std::ops::Bound;
use std::sync::Arc;

use crossbeam_skiplist::map::Entry;

use super::{MemEntry, Memtable};
use crate::error::Result;
use crate::iter::InternalIterator;

type Position<'a> = Option<Entry<'a, MemEntry, ()>>;

self_cell::self_cell!(
    struct Cursor {
        owner: Arc<Memtable>,
        #[covariant]
        dependent: Position,
    }
);

/// A cursor over one memtable's entries.
pub(crate) struct MemtableIterator {
    cursor: Cursor,
}

impl MemtableIterator {
    pub(super) fn new(mem: Arc<Memtable>) -> Self {
        MemtableIterator {
            cursor: Cursor::new(mem, |_| None),
        }
    }

    fn reposition(&mut self, f: impl for<'a> FnOnce(&'a Memtable) -> Position<'a>) {
        let mem = Arc::clone(self.cursor.borrow_owner());
        self.cursor = Cursor::new(mem, |m| f(m));
    }
}

impl InternalIterator for MemtableIterator {
    fn valid(&self) -> bool {
        self.cursor.borrow_dependent().is_some()
    }

    fn seek_to_first(&mut self) {
        self.reposition(|m| m.map().front());
    }

    fn seek_to_last(&mut self) {
        self.reposition(|m| m.map().back());
    }

    fn seek(&mut self, target: &[u8]) {
        let target = MemEntry::target(target);
        self.reposition(|m| m.map().lower_bound(Bound::Included(&target)));
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        let target = MemEntry::target(target);
        self.reposition(|m| m.map().upper_bound(Bound::Included(&target)));
    }

    fn next(&mut self) {
        self.cursor.with_dependent_mut(|_, pos| {
            *pos = pos.as_ref().and_then(|e| e.next());
        });
    }

    fn prev(&mut self) {
        self.cursor.with_dependent_mut(|_, pos| {
            *pos = pos.as_ref().and_then(|e| e.prev());
        });
    }

    fn key(&self) -> &[u8] {
        match self.cursor.borrow_dependent() {
            Some(e) => e.key().key(),
            None => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match self.cursor.borrow_dependent() {
            Some(e) => e.key().value(),
            None => &[],
        }
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}
