//! Merges several sorted sources into one, in one direction at a time.
//!
//! Forward (after `seek`/`seek_to_first`) it yields the smallest current key among the
//! children; backward (after `seek_for_prev`/`seek_to_last`) the largest. Among equal
//! keys (never produced by a correct tree, since sequence numbers are unique) the
//! child listed first wins. The child count is small (memtables, level-0 files, one
//! per deeper level), so a linear scan beats a heap's bookkeeping.

use std::cmp::Ordering;

use super::{BoxedIterator, InternalIterator};
use crate::error::{Error, Result};
use crate::key::compare_internal;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A merge of sorted children.
pub(crate) struct MergingIterator {
    children: Vec<BoxedIterator>,
    current: Option<usize>,
    direction: Direction,
    error: Option<Error>,
}

impl MergingIterator {
    pub(crate) fn new(children: Vec<BoxedIterator>) -> Self {
        MergingIterator {
            children,
            current: None,
            direction: Direction::Forward,
            error: None,
        }
    }

    /// Records the first child error; an errored merge is invalid.
    fn collect_errors(&mut self) {
        if self.error.is_some() {
            return;
        }
        for child in &self.children {
            if !child.valid() {
                if let Err(e) = child.status() {
                    self.error = Some(e);
                    return;
                }
            }
        }
    }

    fn pick(&mut self) {
        self.collect_errors();
        if self.error.is_some() {
            self.current = None;
            return;
        }
        let want = match self.direction {
            Direction::Forward => Ordering::Less,
            Direction::Backward => Ordering::Greater,
        };
        let mut best: Option<usize> = None;
        for (i, child) in self.children.iter().enumerate() {
            if !child.valid() {
                continue;
            }
            best = match best {
                Some(b) if compare_internal(child.key(), self.children[b].key()) != want => Some(b),
                _ => Some(i),
            };
        }
        self.current = best;
    }

    fn reset(&mut self, direction: Direction, f: impl Fn(&mut BoxedIterator)) {
        self.direction = direction;
        for child in &mut self.children {
            f(child);
        }
        self.pick();
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn seek_to_first(&mut self) {
        self.reset(Direction::Forward, |c| c.seek_to_first());
    }

    fn seek_to_last(&mut self) {
        self.reset(Direction::Backward, |c| c.seek_to_last());
    }

    fn seek(&mut self, target: &[u8]) {
        self.reset(Direction::Forward, |c| c.seek(target));
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.reset(Direction::Backward, |c| c.seek_for_prev(target));
    }

    fn next(&mut self) {
        debug_assert!(self.direction == Direction::Forward);
        if let Some(i) = self.current {
            self.children[i].next();
            self.pick();
        }
    }

    fn prev(&mut self) {
        debug_assert!(self.direction == Direction::Backward);
        if let Some(i) = self.current {
            self.children[i].prev();
            self.pick();
        }
    }

    fn key(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.children[i].key())
    }

    fn value(&self) -> &[u8] {
        self.current.map_or(&[], |i| self.children[i].value())
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            None => Ok(()),
            Some(e) => Err(e.duplicate()),
        }
    }
}
