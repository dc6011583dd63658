//! Merges several sorted sources into one, in one direction at a time.
//!
//! Forward (after `seek`/`seek_to_first`) it yields the smallest current key among the
//! children; backward (after `seek_for_prev`/`seek_to_last`) the largest. Equal keys
//! come forward in the order the children are listed, and backward in the reverse
//! order, so a backward walk meets exactly the forward sequence reversed. (A correct
//! tree holds each internal key once, but sequence numbers zeroed at the bottom level
//! can meet again in level 0 after a repair; the newest source is listed first.)
//!
//! The valid children sit in a binary heap keyed on their current entry. The heap also
//! remembers which of the top's two heap children comes first, so while the same source
//! stays in front, as it does over long runs of a scan (most of the data sits in one
//! level), a step costs a single key comparison. A linear pick over every child, which
//! this replaced, paid a comparison and several dynamic calls per child per step.

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
    /// Indices of the valid children, a binary heap whose top (`heap[0]`) is the entry
    /// to yield next in the current direction.
    heap: Vec<usize>,
    /// Which of `heap[1]` and `heap[2]` yields first (1 or 2), once known. It holds
    /// while the top stays on top, so a step usually costs a single comparison.
    runner_up: Option<usize>,
    direction: Direction,
    error: Option<Error>,
}

impl MergingIterator {
    pub(crate) fn new(children: Vec<BoxedIterator>) -> Self {
        let heap = Vec::with_capacity(children.len());
        MergingIterator {
            children,
            heap,
            runner_up: None,
            direction: Direction::Forward,
            error: None,
        }
    }

    /// True if child `a` yields before child `b` in the current direction.
    fn before(&self, a: usize, b: usize) -> bool {
        let order = compare_internal(self.children[a].key(), self.children[b].key());
        match (order, self.direction) {
            (Ordering::Less, Direction::Forward) | (Ordering::Greater, Direction::Backward) => true,
            (Ordering::Equal, Direction::Forward) => a < b,
            (Ordering::Equal, Direction::Backward) => a > b,
            _ => false,
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                return;
            }
            let right = left + 1;
            let child = if right < len && self.before(self.heap[right], self.heap[left]) {
                right
            } else {
                left
            };
            if !self.before(self.heap[child], self.heap[pos]) {
                return;
            }
            self.heap.swap(pos, child);
            pos = child;
        }
    }

    /// Takes child `i` out of play after it ran off its end, keeping its error.
    fn note_exhausted(&mut self, i: usize) {
        if self.error.is_none() {
            if let Err(e) = self.children[i].status() {
                self.error = Some(e);
            }
        }
    }

    fn reset(&mut self, direction: Direction, f: impl Fn(&mut BoxedIterator)) {
        self.direction = direction;
        self.error = None;
        self.heap.clear();
        self.runner_up = None;
        for i in 0..self.children.len() {
            f(&mut self.children[i]);
            if self.children[i].valid() {
                self.heap.push(i);
            } else {
                self.note_exhausted(i);
            }
        }
        for pos in (0..self.heap.len() / 2).rev() {
            self.sift_down(pos);
        }
    }

    /// Moves the top child one step with `step`, then restores the heap.
    fn advance_top(&mut self, step: impl Fn(&mut BoxedIterator)) {
        let Some(&top) = self.heap.first() else {
            return;
        };
        step(&mut self.children[top]);
        if !self.children[top].valid() {
            self.note_exhausted(top);
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
            self.runner_up = None;
            self.sift_down(0);
            return;
        }
        let len = self.heap.len();
        if len < 2 {
            return;
        }
        let runner_up = match self.runner_up {
            Some(r) => r,
            None => {
                let r = if len > 2 && self.before(self.heap[2], self.heap[1]) {
                    2
                } else {
                    1
                };
                self.runner_up = Some(r);
                r
            }
        };
        if self.before(self.heap[runner_up], top) {
            self.heap.swap(0, runner_up);
            self.runner_up = None;
            self.sift_down(runner_up);
        }
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && !self.heap.is_empty()
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
        self.advance_top(|c| c.next());
    }

    fn prev(&mut self) {
        debug_assert!(self.direction == Direction::Backward);
        self.advance_top(|c| c.prev());
    }

    fn key(&self) -> &[u8] {
        match self.heap.first() {
            Some(&i) if self.error.is_none() => self.children[i].key(),
            _ => &[],
        }
    }

    fn value(&self) -> &[u8] {
        match self.heap.first() {
            Some(&i) if self.error.is_none() => self.children[i].value(),
            _ => &[],
        }
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            None => Ok(()),
            Some(e) => Err(e.duplicate()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::key::{make_internal_key, ValueKind};

    /// A sorted in-memory source, optionally failing when it runs off its end.
    struct VecIter {
        entries: Vec<(Vec<u8>, Vec<u8>)>,
        pos: Option<usize>,
        fail_at_end: bool,
    }

    impl VecIter {
        fn boxed(mut entries: Vec<(Vec<u8>, Vec<u8>)>, fail_at_end: bool) -> BoxedIterator {
            entries.sort_by(|a, b| compare_internal(&a.0, &b.0));
            Box::new(VecIter {
                entries,
                pos: None,
                fail_at_end,
            })
        }
    }

    impl InternalIterator for VecIter {
        fn valid(&self) -> bool {
            self.pos.is_some()
        }
        fn seek_to_first(&mut self) {
            self.pos = (!self.entries.is_empty()).then_some(0);
        }
        fn seek_to_last(&mut self) {
            self.pos = self.entries.len().checked_sub(1);
        }
        fn seek(&mut self, target: &[u8]) {
            let i = self
                .entries
                .partition_point(|e| compare_internal(&e.0, target) == Ordering::Less);
            self.pos = (i < self.entries.len()).then_some(i);
        }
        fn seek_for_prev(&mut self, target: &[u8]) {
            let i = self
                .entries
                .partition_point(|e| compare_internal(&e.0, target) != Ordering::Greater);
            self.pos = i.checked_sub(1);
        }
        fn next(&mut self) {
            self.pos = self.pos.map(|p| p + 1).filter(|&p| p < self.entries.len());
        }
        fn prev(&mut self) {
            self.pos = self.pos.and_then(|p| p.checked_sub(1));
        }
        fn key(&self) -> &[u8] {
            &self.entries[self.pos.unwrap()].0
        }
        fn value(&self) -> &[u8] {
            &self.entries[self.pos.unwrap()].1
        }
        fn status(&self) -> Result<()> {
            if self.fail_at_end && self.pos.is_none() {
                Err(Error::corruption("test", 0, "failed at end"))
            } else {
                Ok(())
            }
        }
    }

    fn ikey(user: u8, seq: u64) -> Vec<u8> {
        make_internal_key(&[user], seq, ValueKind::Put)
    }

    /// Children built from (child, user key) pairs; sequence numbers are unique.
    fn build(spread: &[(usize, u8)], children: usize) -> (MergingIterator, Vec<Vec<u8>>) {
        let mut per_child = vec![Vec::new(); children];
        let mut all = Vec::new();
        for (seq, &(child, user)) in spread.iter().enumerate() {
            let k = ikey(user, seq as u64 + 1);
            per_child[child % children].push((k.clone(), vec![user]));
            all.push(k);
        }
        all.sort_by(|a, b| compare_internal(a, b));
        let kids = per_child
            .into_iter()
            .map(|e| VecIter::boxed(e, false))
            .collect();
        (MergingIterator::new(kids), all)
    }

    fn collect(m: &mut MergingIterator, forward: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while m.valid() {
            out.push(m.key().to_vec());
            if forward {
                m.next();
            } else {
                m.prev();
            }
        }
        out
    }

    proptest! {
        #[test]
        fn merges_like_a_sort(
            spread in prop::collection::vec((0usize..6, 0u8..40), 0..200),
            children in 1usize..6,
            target in 0u8..42,
        ) {
            let (mut m, all) = build(&spread, children);
            m.seek_to_first();
            prop_assert_eq!(collect(&mut m, true), all.clone());
            m.seek_to_last();
            let mut rev = all.clone();
            rev.reverse();
            prop_assert_eq!(collect(&mut m, false), rev);

            let t = make_internal_key(&[target], MAX_SEQ_FOR_TEST, ValueKind::Put);
            m.seek(&t);
            let from: Vec<_> = all
                .iter()
                .filter(|k| compare_internal(k, &t) != Ordering::Less)
                .cloned()
                .collect();
            prop_assert_eq!(collect(&mut m, true), from);
            m.seek_for_prev(&t);
            let mut upto: Vec<_> = all
                .iter()
                .filter(|k| compare_internal(k, &t) != Ordering::Greater)
                .cloned()
                .collect();
            upto.reverse();
            prop_assert_eq!(collect(&mut m, false), upto);
            prop_assert!(m.status().is_ok());
        }
    }

    const MAX_SEQ_FOR_TEST: u64 = crate::key::MAX_SEQUENCE;

    /// Equal internal keys (zeroed sequence numbers meeting after a repair) come
    /// forward in child order and backward in the reverse order, so that a cursor that
    /// keeps the first version forward and the last one backward picks the same child.
    #[test]
    fn equal_keys_walk_backward_in_reverse_child_order() {
        let children = (0..3u8)
            .map(|c| {
                let entries = vec![(ikey(5, 0), vec![c]), (ikey(7, 0), vec![c])];
                VecIter::boxed(entries, false)
            })
            .collect();
        let mut m = MergingIterator::new(children);
        let values = |m: &mut MergingIterator, forward: bool| {
            let mut out = Vec::new();
            while m.valid() {
                out.push((m.key()[0], m.value()[0]));
                if forward {
                    m.next();
                } else {
                    m.prev();
                }
            }
            out
        };
        m.seek_to_first();
        let forward = values(&mut m, true);
        assert_eq!(forward, [(5, 0), (5, 1), (5, 2), (7, 0), (7, 1), (7, 2)]);
        m.seek_to_last();
        let mut backward = values(&mut m, false);
        backward.reverse();
        assert_eq!(backward, forward);
        m.seek_for_prev(&ikey(5, 0));
        assert_eq!(values(&mut m, false), [(5, 2), (5, 1), (5, 0)]);
    }

    #[test]
    fn a_child_error_ends_the_merge_with_that_error() {
        let good = VecIter::boxed((0..10).map(|i| (ikey(i * 2, 1), vec![])).collect(), false);
        let bad = VecIter::boxed(vec![(ikey(3, 2), vec![])], true);
        let mut m = MergingIterator::new(vec![good, bad]);
        m.seek_to_first();
        let mut seen = 0;
        while m.valid() {
            seen += 1;
            m.next();
        }
        // 0 and 2 from the good child, 3 from the bad one; then the bad one fails.
        assert_eq!(seen, 3);
        assert!(m.status().is_err());
        assert!(m.key().is_empty());
        // A new seek starts clean only if no child is failing there.
        m.seek(&ikey(10, crate::key::MAX_SEQUENCE));
        assert!(
            m.status().is_err(),
            "the bad child is exhausted and failing"
        );
    }
}
