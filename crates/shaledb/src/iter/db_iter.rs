//! The user-facing iterator: hides sequence numbers, overwritten versions, tombstones
//! and writes newer than the snapshot, and honours the range bounds.
//!
//! [`Iter`] is double-ended: it builds one forward and one backward [`DbCursor`] on
//! demand over the same pinned sources, and stops when the two ends meet, so each
//! cursor only ever moves one way.

use std::ops::Bound;

use super::BoxedIterator;
use crate::error::{Error, Result};
use crate::key::{
    make_internal_key, parse_internal_key, user_key, SequenceNumber, ValueKind, KIND_FOR_SEEK,
    MAX_SEQUENCE,
};

/// Builds a fresh merged iterator over the pinned sources of one read view.
pub(crate) type SourceFactory = Box<dyn Fn() -> BoxedIterator + Send + Sync>;

/// One key-value pair as returned to users.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// A one-directional cursor over visible user entries.
pub(crate) struct DbCursor {
    inner: BoxedIterator,
    snapshot: SequenceNumber,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// Forward: the user key already decided (its older versions are skipped).
    skip: Option<Vec<u8>>,
    /// Forward: the cursor stopped on a visible entry that it lends (see
    /// [`DbCursor::step_forward`]); the next step first moves past its key.
    on_entry: bool,
    done: bool,
}

impl DbCursor {
    /// A cursor that walks ascending from the lower bound.
    pub(crate) fn forward(
        mut inner: BoxedIterator,
        snapshot: SequenceNumber,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        let mut skip = None;
        match &lower {
            Bound::Unbounded => inner.seek_to_first(),
            Bound::Included(k) => inner.seek(&make_internal_key(k, MAX_SEQUENCE, KIND_FOR_SEEK)),
            Bound::Excluded(k) => {
                inner.seek(&make_internal_key(k, MAX_SEQUENCE, KIND_FOR_SEEK));
                skip = Some(k.clone());
            }
        }
        DbCursor {
            inner,
            snapshot,
            lower,
            upper,
            skip,
            on_entry: false,
            done: false,
        }
    }

    /// A cursor that walks descending from the upper bound.
    pub(crate) fn backward(
        mut inner: BoxedIterator,
        snapshot: SequenceNumber,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        match &upper {
            Bound::Unbounded => inner.seek_to_last(),
            // The oldest possible version of `k` is its largest internal key.
            Bound::Included(k) | Bound::Excluded(k) => {
                inner.seek_for_prev(&make_internal_key(k, 0, ValueKind::Delete))
            }
        }
        DbCursor {
            inner,
            snapshot,
            lower,
            upper,
            skip: None,
            on_entry: false,
            done: false,
        }
    }

    /// Gives back the merged source, to be positioned again by a new cursor.
    pub(crate) fn into_inner(self) -> BoxedIterator {
        self.inner
    }

    fn finish<T>(&mut self) -> Option<Result<T>> {
        self.done = true;
        match self.inner.status() {
            Ok(()) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn corrupt_key<T>(&mut self) -> Option<Result<T>> {
        self.done = true;
        Some(Err(Error::corruption(
            "<iterator>",
            0,
            "undecodable internal key",
        )))
    }

    fn above_upper(&self, user_key: &[u8]) -> bool {
        match &self.upper {
            Bound::Unbounded => false,
            Bound::Included(u) => user_key > u.as_slice(),
            Bound::Excluded(u) => user_key >= u.as_slice(),
        }
    }

    fn below_lower(&self, user_key: &[u8]) -> bool {
        match &self.lower {
            Bound::Unbounded => false,
            Bound::Included(l) => user_key < l.as_slice(),
            Bound::Excluded(l) => user_key <= l.as_slice(),
        }
    }

    /// The next visible entry in ascending order, as owned key and value.
    pub(crate) fn next_forward(&mut self) -> Option<Result<KvPair>> {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        self.advance_forward(&mut key, &mut value)
            .map(|r| r.map(|()| (key, value)))
    }

    /// The next visible entry in descending order, as owned key and value.
    pub(crate) fn next_backward(&mut self) -> Option<Result<KvPair>> {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        self.advance_backward(&mut key, &mut value)
            .map(|r| r.map(|()| (key, value)))
    }

    /// Copies the next visible entry in ascending order into `key` and `value`
    /// (reusing their allocations); `None` at the end.
    pub(crate) fn advance_forward(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Option<Result<()>> {
        let moved = self.step_forward();
        if let Some(Ok(())) = moved {
            let (k, v) = self.entry();
            key.clear();
            key.extend_from_slice(k);
            value.clear();
            value.extend_from_slice(v);
        }
        moved
    }

    /// Moves to the next visible entry in ascending order and stays on it: until the
    /// next move, [`DbCursor::entry`] lends its key and value without a copy. `None` at
    /// the end.
    pub(crate) fn step_forward(&mut self) -> Option<Result<()>> {
        if self.on_entry {
            // Leave the entry lent last time, and mark its older versions as decided.
            self.on_entry = false;
            decide(&mut self.skip, user_key(self.inner.key()));
            self.inner.next();
        }
        while !self.done {
            if !self.inner.valid() {
                return self.finish();
            }
            let Some(parsed) = parse_internal_key(self.inner.key()) else {
                return self.corrupt_key();
            };
            // The bound first: entries past it end the scan whether or not the
            // snapshot sees them (there may be many, written after the snapshot).
            if self.above_upper(parsed.user_key) {
                return self.finish();
            }
            if parsed.seq > self.snapshot {
                self.inner.next();
                continue;
            }
            if self.skip.as_deref() == Some(parsed.user_key) {
                self.inner.next();
                continue;
            }
            if parsed.kind == ValueKind::Put {
                self.on_entry = true;
                return Some(Ok(()));
            }
            // A tombstone decides its key: skip the older versions below it.
            decide(&mut self.skip, parsed.user_key);
            self.inner.next();
        }
        None
    }

    /// The user key and value of the entry [`DbCursor::step_forward`] stopped on.
    pub(crate) fn entry(&self) -> (&[u8], &[u8]) {
        (user_key(self.inner.key()), self.inner.value())
    }

    /// Copies the next visible entry in descending order into `key` and `value`
    /// (reusing their allocations); `None` at the end.
    pub(crate) fn advance_backward(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Option<Result<()>> {
        while !self.done {
            if !self.inner.valid() {
                return self.finish();
            }
            let Some(parsed) = parse_internal_key(self.inner.key()) else {
                return self.corrupt_key();
            };
            if self.below_lower(parsed.user_key) {
                return self.finish();
            }
            if self.above_upper(parsed.user_key) {
                self.inner.prev();
                continue;
            }
            // Walking backward meets a key's versions oldest first; the last visible
            // one seen is the newest.
            key.clear();
            key.extend_from_slice(parsed.user_key);
            let mut newest: Option<ValueKind> = None;
            while self.inner.valid() {
                let Some(p) = parse_internal_key(self.inner.key()) else {
                    return self.corrupt_key();
                };
                if p.user_key != key.as_slice() {
                    break;
                }
                if p.seq <= self.snapshot {
                    newest = Some(p.kind);
                    value.clear();
                    value.extend_from_slice(self.inner.value());
                }
                self.inner.prev();
            }
            if let Err(e) = self.inner.status() {
                self.done = true;
                return Some(Err(e));
            }
            if newest == Some(ValueKind::Put) {
                return Some(Ok(()));
            }
        }
        None
    }
}

/// Records `user_key` as decided, so a forward cursor skips its older versions. The
/// buffer of the previous key is reused rather than one allocated per entry.
fn decide(skip: &mut Option<Vec<u8>>, user_key: &[u8]) {
    let skip = skip.get_or_insert_with(Vec::new);
    skip.clear();
    skip.extend_from_slice(user_key);
}

/// An iterator over a key range at a fixed point in time, ascending with `next` and
/// descending with `next_back`. Items are `Result<(key, value)>`; after an error the
/// iterator ends.
pub struct Iter {
    factory: SourceFactory,
    snapshot: SequenceNumber,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    front: Option<DbCursor>,
    back: Option<DbCursor>,
    /// Last key returned from the front, and from the back: the ends must not cross.
    front_key: Option<Vec<u8>>,
    back_key: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for Iter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("snapshot", &self.snapshot)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Iter {
    pub(crate) fn new(
        factory: SourceFactory,
        snapshot: SequenceNumber,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        Iter {
            factory,
            snapshot,
            lower,
            upper,
            front: None,
            back: None,
            front_key: None,
            back_key: None,
            done: false,
        }
    }

    /// Ends the iteration for good if `item` is an error.
    fn check(&mut self, item: Option<Result<KvPair>>) -> Option<Result<KvPair>> {
        match item {
            None => {
                self.done = true;
                None
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(kv)) => Some(Ok(kv)),
        }
    }
}

impl Iterator for Iter {
    type Item = Result<KvPair>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let cursor = self.front.get_or_insert_with(|| {
            DbCursor::forward(
                (self.factory)(),
                self.snapshot,
                self.lower.clone(),
                self.upper.clone(),
            )
        });
        let item = cursor.next_forward();
        match self.check(item)? {
            Ok((k, v)) => {
                if self.back_key.as_ref().is_some_and(|b| k >= *b) {
                    self.done = true;
                    return None;
                }
                set_reusing(&mut self.front_key, &k);
                Some(Ok((k, v)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let cursor = self.back.get_or_insert_with(|| {
            DbCursor::backward(
                (self.factory)(),
                self.snapshot,
                self.lower.clone(),
                self.upper.clone(),
            )
        });
        let item = cursor.next_backward();
        match self.check(item)? {
            Ok((k, v)) => {
                if self.front_key.as_ref().is_some_and(|f| k <= *f) {
                    self.done = true;
                    return None;
                }
                set_reusing(&mut self.back_key, &k);
                Some(Ok((k, v)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl std::iter::FusedIterator for Iter {}

/// Stores a copy of `key` in `slot`, reusing its allocation.
fn set_reusing(slot: &mut Option<Vec<u8>>, key: &[u8]) {
    let buf = slot.get_or_insert_with(Vec::new);
    buf.clear();
    buf.extend_from_slice(key);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::iter::InternalIterator;
    use crate::memtable::Memtable;

    /// Passes every call through, counting the steps taken.
    struct Counting {
        inner: BoxedIterator,
        steps: Arc<AtomicUsize>,
    }

    impl InternalIterator for Counting {
        fn valid(&self) -> bool {
            self.inner.valid()
        }
        fn seek_to_first(&mut self) {
            self.inner.seek_to_first();
        }
        fn seek_to_last(&mut self) {
            self.inner.seek_to_last();
        }
        fn seek(&mut self, target: &[u8]) {
            self.inner.seek(target);
        }
        fn seek_for_prev(&mut self, target: &[u8]) {
            self.inner.seek_for_prev(target);
        }
        fn next(&mut self) {
            self.steps.fetch_add(1, Ordering::Relaxed);
            self.inner.next();
        }
        fn prev(&mut self) {
            self.steps.fetch_add(1, Ordering::Relaxed);
            self.inner.prev();
        }
        fn key(&self) -> &[u8] {
            self.inner.key()
        }
        fn value(&self) -> &[u8] {
            self.inner.value()
        }
        fn status(&self) -> Result<()> {
            self.inner.status()
        }
    }

    /// Entries written after the snapshot and past the bound end a scan as soon as it
    /// meets them, not after it has walked them all.
    #[test]
    fn a_bounded_scan_stops_at_its_bound_before_entries_the_snapshot_cannot_see() {
        let mem = Arc::new(Memtable::new(1, 0));
        mem.add(1, ValueKind::Put, b"a", b"1");
        mem.add(2, ValueKind::Put, b"z", b"9");
        for i in 0..1000u64 {
            mem.add(3 + i, ValueKind::Put, format!("b{i:04}").as_bytes(), b"x");
        }
        let snapshot = 2;
        let cursor = |forward: bool| {
            let steps = Arc::new(AtomicUsize::new(0));
            let inner = Box::new(Counting {
                inner: Box::new(mem.iter()),
                steps: Arc::clone(&steps),
            });
            let cursor = if forward {
                let upper = Bound::Included(b"a".to_vec());
                DbCursor::forward(inner, snapshot, Bound::Unbounded, upper)
            } else {
                let lower = Bound::Included(b"z".to_vec());
                DbCursor::backward(inner, snapshot, lower, Bound::Unbounded)
            };
            (cursor, steps)
        };

        let (mut forward, steps) = cursor(true);
        let first = forward.next_forward().expect("an entry").expect("no error");
        assert_eq!(first, (b"a".to_vec(), b"1".to_vec()));
        assert!(forward.next_forward().is_none());
        assert!(steps.load(Ordering::Relaxed) <= 2, "walked past the bound");

        let (mut backward, steps) = cursor(false);
        let last = backward
            .next_backward()
            .expect("an entry")
            .expect("no error");
        assert_eq!(last, (b"z".to_vec(), b"9".to_vec()));
        assert!(backward.next_backward().is_none());
        assert!(steps.load(Ordering::Relaxed) <= 2, "walked past the bound");
    }
}
