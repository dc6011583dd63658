//! A decoded block and a bidirectional cursor over it.
//!
//! Every length and offset read from the block is bounds-checked: a damaged block makes
//! the cursor invalid with an [`Error::Corruption`], never a panic or a wrong entry.

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;

use crate::coding::{get_varint_usize, read_u32_at};
use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::compare_internal;
use crate::table::restart_prefixes::RestartPrefixes;

/// Bytes in a CPU cache line.
const CACHE_LINE: usize = 64;
/// A seek in a block of at most this many restarts (a data block has about 5) and no
/// restart-key copy reads every restart entry before its binary search.
const TOUCH_RESTARTS_UP_TO: usize = 16;

/// An uncompressed, checksum-verified block.
pub(crate) struct Block {
    data: Vec<u8>,
    /// Offset of the restart array.
    restarts_at: usize,
    num_restarts: usize,
    /// The restart keys in a compact, searchable form, for blocks that stay in memory
    /// and are searched often (index blocks); see [`Block::with_restart_prefixes`].
    prefixes: Option<RestartPrefixes>,
}

impl Block {
    /// Validates the restart array of `data`; `Err` says what is wrong.
    pub(crate) fn new(data: Vec<u8>) -> Result<Self, String> {
        let n = data.len();
        let num_restarts = read_u32_at(&data, n.wrapping_sub(4))
            .filter(|_| n >= 4)
            .ok_or("block shorter than its restart count")? as usize;
        let max_restarts = (n - 4) / 4;
        if num_restarts == 0 || num_restarts > max_restarts {
            return Err(format!(
                "restart count {num_restarts} does not fit a {n}-byte block"
            ));
        }
        let restarts_at = n - 4 - num_restarts * 4;
        let block = Block {
            data,
            restarts_at,
            num_restarts,
            prefixes: None,
        };
        for i in 0..num_restarts {
            if block.restart(i) > restarts_at {
                return Err(format!("restart point {i} lies past the entries"));
            }
        }
        Ok(block)
    }

    fn restart(&self, i: usize) -> usize {
        read_u32_at(&self.data, self.restarts_at + i * 4).map_or(usize::MAX, |v| v as usize)
    }

    /// Restart points in the block.
    pub(crate) fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// The key stored whole at restart point `index` (an entry there shares nothing
    /// with the one before), or `None` if `index` is out of range or the entry is
    /// damaged.
    pub(crate) fn restart_key(&self, index: usize) -> Option<&[u8]> {
        if index >= self.num_restarts {
            return None;
        }
        let entries = &self.data[..self.restarts_at];
        let (key_start, value_start, _, _) = decode_entry(entries, self.restart(index), 0).ok()?;
        Some(&entries[key_start..value_start])
    }

    /// Keeps a compact copy of the restart keys, so that seeks search it rather than the
    /// entries. Worth it for a block searched many times over its life, as a table's
    /// index is: a seek in a large index then takes one or two cache misses where it
    /// took about twenty. A block whose restart keys do not decode keeps the plain search,
    /// which reports the damage.
    pub(crate) fn with_restart_prefixes(mut self) -> Self {
        let keys = (0..self.num_restarts).map(|i| self.restart_key(i));
        self.prefixes = RestartPrefixes::build(keys);
        self
    }

    /// Bytes held in memory.
    pub(crate) fn size(&self) -> usize {
        self.data.len() + self.prefixes.as_ref().map_or(0, RestartPrefixes::size)
    }
}

/// A cursor over the entries of a block, ordered by internal key.
pub(crate) struct BlockIter {
    block: Arc<Block>,
    /// Which file the block came from, for error messages.
    file: Arc<PathBuf>,
    block_offset: u64,
    /// Offset of the current entry; `restarts_at` when invalid.
    current: usize,
    /// Offset just past the current entry.
    next_offset: usize,
    restart_index: usize,
    key: Vec<u8>,
    value: (usize, usize),
    error: Option<Error>,
    /// The entries of one restart interval, decoded once for walking backward.
    back: BackwardCache,
}

/// Entries are prefix-compressed, so stepping back means decoding forward from a
/// restart point. `prev` decodes a whole restart interval once and keeps it here, so a
/// backward walk decodes each entry once rather than once per step back.
#[derive(Default)]
struct BackwardCache {
    /// The full keys of the interval's entries, one after another.
    keys: Vec<u8>,
    entries: Vec<CachedEntry>,
    /// Index in `entries` of the entry the cursor is on, if it came from here.
    at: Option<usize>,
}

#[derive(Clone, Copy)]
struct CachedEntry {
    /// End of the entry's key in `BackwardCache::keys` (it starts where the previous
    /// entry's key ends).
    key_end: usize,
    offset: usize,
    next_offset: usize,
    value: (usize, usize),
}

impl BlockIter {
    pub(crate) fn new(block: Arc<Block>, file: Arc<PathBuf>, block_offset: u64) -> Self {
        let end = block.restarts_at;
        BlockIter {
            block,
            file,
            block_offset,
            current: end,
            next_offset: end,
            restart_index: 0,
            key: Vec::new(),
            value: (0, 0),
            error: None,
            back: BackwardCache::default(),
        }
    }

    /// Points this cursor at another block of the same file (unpositioned), keeping its
    /// buffers.
    pub(crate) fn reset_to(&mut self, block: Arc<Block>, block_offset: u64) {
        let end = block.restarts_at;
        self.block = block;
        self.block_offset = block_offset;
        self.current = end;
        self.next_offset = end;
        self.restart_index = 0;
        self.key.clear();
        self.value = (0, 0);
        self.error = None;
        self.back.at = None;
    }

    fn invalidate(&mut self) {
        self.current = self.block.restarts_at;
        self.next_offset = self.block.restarts_at;
    }

    fn corrupt(&mut self, detail: &str) {
        self.error = Some(Error::corruption(
            self.file.as_ref().clone(),
            self.block_offset,
            format!("damaged block entry: {detail}"),
        ));
        self.invalidate();
    }

    /// Decodes the entry at `next_offset` into the cursor. Returns false at the end of
    /// the entries or on damage (then `error` is set).
    fn parse_next(&mut self) -> bool {
        self.back.at = None;
        let offset = self.next_offset;
        let block = &*self.block;
        let end = block.restarts_at;
        if offset >= end {
            self.invalidate();
            return false;
        }
        let parsed = decode_entry(&block.data[..end], offset, self.key.len());
        let (key_start, value_start, value_end, shared) = match parsed {
            Ok(p) => p,
            Err(detail) => {
                self.corrupt(detail);
                return false;
            }
        };
        self.key.truncate(shared);
        self.key
            .extend_from_slice(&block.data[key_start..value_start]);
        self.value = (value_start, value_end);
        self.current = offset;
        self.next_offset = value_end;
        while self.restart_index + 1 < block.num_restarts
            && block.restart(self.restart_index + 1) <= self.current
        {
            self.restart_index += 1;
        }
        true
    }

    fn seek_to_restart(&mut self, index: usize) {
        self.key.clear();
        self.restart_index = index;
        self.next_offset = self.block.restart(index);
        self.current = self.block.restarts_at;
    }

    /// Reads one byte of every cache line of the entries from restart point `index` to
    /// the next, the ones a seek then decodes in turn. The reads do not depend on each
    /// other, so their cache misses overlap, where the decoding would take them one
    /// after another. seekrandom rose 4% and 7% in two sets of 6 interleaved runs at 1M
    /// keys (a block fresh from the cache is seldom in the CPU's); readrandom was level.
    fn touch_restart_interval(&self, index: usize) {
        let end = if index + 1 < self.block.num_restarts {
            self.block.restart(index + 1)
        } else {
            self.block.restarts_at
        };
        let start = self.block.restart(index);
        let lines = self.block.data.get(start..end).unwrap_or_default();
        let folded = lines
            .iter()
            .step_by(CACHE_LINE)
            .fold(0u8, |acc, &b| acc ^ b);
        std::hint::black_box(folded);
    }

    /// Reads the first byte of every restart entry, so that their cache misses overlap
    /// before the binary search takes them one after another.
    fn touch_restart_keys(&self) {
        let block = &*self.block;
        let folded = (0..block.num_restarts)
            .filter_map(|i| block.data.get(block.restart(i)))
            .fold(0u8, |acc, &b| acc ^ b);
        std::hint::black_box(folded);
    }
}

impl BlockIter {
    /// Positions on entry `i` of the backward cache.
    fn take_cached(&mut self, i: usize) {
        let e = self.back.entries[i];
        let key_start = i.checked_sub(1).map_or(0, |p| self.back.entries[p].key_end);
        self.key.clear();
        self.key
            .extend_from_slice(&self.back.keys[key_start..e.key_end]);
        self.value = e.value;
        self.current = e.offset;
        self.next_offset = e.next_offset;
        self.back.at = Some(i);
    }

    /// Steps back from the current entry: decodes the restart interval holding the
    /// entry before it into the backward cache, and positions on that entry.
    fn fill_backward_cache(&mut self) {
        let original = self.current;
        // Step back to the restart point before the current entry.
        while self.block.restart(self.restart_index) >= original {
            if self.restart_index == 0 {
                self.invalidate();
                return;
            }
            self.restart_index -= 1;
        }
        let restart_index = self.restart_index;
        self.seek_to_restart(restart_index);
        let mut back = std::mem::take(&mut self.back);
        back.keys.clear();
        back.entries.clear();
        // Set again below once the interval decoded cleanly; on damage it stays unset.
        back.at = None;
        while self.parse_next() {
            back.keys.extend_from_slice(&self.key);
            back.entries.push(CachedEntry {
                key_end: back.keys.len(),
                offset: self.current,
                next_offset: self.next_offset,
                value: self.value,
            });
            if self.next_offset >= original {
                break;
            }
        }
        self.back = back;
        if self.error.is_some() {
            return;
        }
        if self.next_offset != original || self.back.entries.is_empty() {
            self.corrupt("entries do not chain to the previous position");
            return;
        }
        // parse_next leaves the cursor on the last entry decoded; mark it as cached.
        self.restart_index = restart_index;
        self.back.at = Some(self.back.entries.len() - 1);
    }
}

/// Decodes the entry header at `offset` of `entries` (a block's entry area), given the
/// length of the previous key. Returns (key start, value start, value end, shared).
fn decode_entry(
    entries: &[u8],
    offset: usize,
    previous_key_len: usize,
) -> std::result::Result<(usize, usize, usize, usize), &'static str> {
    let end = entries.len();
    let (shared, unshared, value_len, key_start) = match entries.get(offset..offset + 3) {
        // The common case: all three lengths below 128, one byte each.
        Some(&[a, b, c]) if (a | b | c) < 0x80 => {
            (usize::from(a), usize::from(b), usize::from(c), offset + 3)
        }
        _ => {
            let mut cursor = &entries[offset..];
            let mut field = || get_varint_usize(&mut cursor);
            let (Some(shared), Some(unshared), Some(value_len)) = (field(), field(), field())
            else {
                return Err("bad entry header");
            };
            (shared, unshared, value_len, end - cursor.len())
        }
    };
    let value_start = key_start
        .checked_add(unshared)
        .ok_or("key length overflows")?;
    let value_end = match value_start.checked_add(value_len) {
        Some(v) if v <= end => v,
        _ => return Err("entry runs past the block"),
    };
    if shared > previous_key_len {
        return Err("shared prefix longer than the previous key");
    }
    Ok((key_start, value_start, value_end, shared))
}

impl InternalIterator for BlockIter {
    fn valid(&self) -> bool {
        self.current < self.block.restarts_at
    }

    fn seek_to_first(&mut self) {
        self.seek_to_restart(0);
        self.parse_next();
    }

    fn seek_to_last(&mut self) {
        self.seek_to_restart(self.block.num_restarts - 1);
        while self.parse_next() && self.next_offset < self.block.restarts_at {}
    }

    fn seek(&mut self, target: &[u8]) {
        // Binary search for the last restart point whose key is < target (or the first,
        // if none is). Restarts before `lo` and after `hi` are known not to be it.
        let (mut lo, mut hi) = (0usize, self.block.num_restarts - 1);
        if let Some(prefixes) = &self.block.prefixes {
            // Keys of restarts before `a` are below the target, from `b` on above it.
            let (a, b) = prefixes.narrow(target);
            (lo, hi) = (a.saturating_sub(1), b.saturating_sub(1));
        } else if self.block.num_restarts <= TOUCH_RESTARTS_UP_TO {
            self.touch_restart_keys();
        }
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match self.block.restart_key(mid) {
                Some(k) if compare_internal(k, target) == Ordering::Less => lo = mid,
                Some(_) => hi = mid - 1,
                None => {
                    self.corrupt("bad restart entry");
                    return;
                }
            }
        }
        self.seek_to_restart(lo);
        self.touch_restart_interval(lo);
        while self.parse_next() {
            if compare_internal(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.error.is_some() {
            return;
        }
        if !self.valid() {
            self.seek_to_last();
        } else if compare_internal(&self.key, target) == Ordering::Greater {
            self.prev();
        }
    }

    fn next(&mut self) {
        self.parse_next();
    }

    fn prev(&mut self) {
        if let Some(i) = self.back.at {
            if i > 0 && self.back.entries[i].offset == self.current {
                self.take_cached(i - 1);
                return;
            }
        }
        self.fill_backward_cache();
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> &[u8] {
        &self.block.data[self.value.0..self.value.1]
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
    use crate::table::block_builder::BlockBuilder;

    /// A cursor step, applied to the block cursor and to a sorted `Vec` model.
    #[derive(Debug, Clone)]
    enum Step {
        Seek(u16),
        SeekForPrev(u16),
        First,
        Last,
        Next,
        Prev,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => (0u16..600).prop_map(Step::Seek),
            1 => (0u16..600).prop_map(Step::SeekForPrev),
            1 => Just(Step::First),
            1 => Just(Step::Last),
            4 => Just(Step::Next),
            4 => Just(Step::Prev),
        ]
    }

    fn key(n: u16) -> Vec<u8> {
        make_internal_key(format!("key{n:05}").as_bytes(), 7, ValueKind::Put)
    }

    proptest! {
        /// Damage behind the checksum (a bug, or a fuzzer's resealed block) gives errors
        /// or wrong positions, never a panic or an endless walk, with or without the
        /// restart-key copy.
        #[test]
        fn damaged_blocks_are_walked_without_panicking(
            keys in prop::collection::btree_set(0u16..600, 1..80),
            interval in 1usize..20,
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        ) {
            let mut builder = BlockBuilder::new(interval);
            for &k in &keys {
                builder.add(&key(k), format!("v{k}").as_bytes());
            }
            let mut data = builder.finish();
            for (at, mask) in flips {
                let i = at.index(data.len());
                data[i] ^= mask;
            }
            crate::fuzzing::decode_block(&data);
        }

        #[test]
        fn cursor_matches_a_sorted_vec(
            keys in prop::collection::btree_set(0u16..600, 1..120),
            interval in 1usize..20,
            prefixed in any::<bool>(),
            steps in prop::collection::vec(step(), 1..80),
        ) {
            let model: Vec<u16> = keys.into_iter().collect();
            let mut builder = BlockBuilder::new(interval);
            for &k in &model {
                builder.add(&key(k), format!("v{k}").as_bytes());
            }
            let mut block = Block::new(builder.finish()).unwrap();
            if prefixed {
                block = block.with_restart_prefixes();
                prop_assert!(block.prefixes.is_some());
            }
            let mut it = BlockIter::new(Arc::new(block), Arc::new(PathBuf::from("t")), 0);
            // Position in the model, if valid.
            let mut at: Option<usize> = None;
            for s in steps {
                match s {
                    Step::Seek(t) => {
                        it.seek(&key(t));
                        let i = model.partition_point(|&k| k < t);
                        at = (i < model.len()).then_some(i);
                    }
                    Step::SeekForPrev(t) => {
                        it.seek_for_prev(&key(t));
                        at = model.partition_point(|&k| k <= t).checked_sub(1);
                    }
                    Step::First => {
                        it.seek_to_first();
                        at = Some(0);
                    }
                    Step::Last => {
                        it.seek_to_last();
                        at = Some(model.len() - 1);
                    }
                    Step::Next if at.is_some() => {
                        it.next();
                        at = at.map(|i| i + 1).filter(|&i| i < model.len());
                    }
                    Step::Prev if at.is_some() => {
                        it.prev();
                        at = at.and_then(|i| i.checked_sub(1));
                    }
                    Step::Next | Step::Prev => continue,
                }
                prop_assert!(it.status().is_ok());
                match at {
                    None => prop_assert!(!it.valid()),
                    Some(i) => {
                        prop_assert!(it.valid());
                        let expected = key(model[i]);
                        prop_assert_eq!(it.key(), expected.as_slice());
                        let value = format!("v{}", model[i]);
                        prop_assert_eq!(it.value(), value.as_bytes());
                    }
                }
            }
        }
    }
}
