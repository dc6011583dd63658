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

/// An uncompressed, checksum-verified block.
pub(crate) struct Block {
    data: Vec<u8>,
    /// Offset of the restart array.
    restarts_at: usize,
    num_restarts: usize,
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

    /// Bytes held in memory.
    pub(crate) fn size(&self) -> usize {
        self.data.len()
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
        }
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
        let offset = self.next_offset;
        let end = self.block.restarts_at;
        if offset >= end {
            self.invalidate();
            return false;
        }
        let block = Arc::clone(&self.block);
        let mut cursor = &block.data[offset..end];
        let header = (|| {
            let shared = get_varint_usize(&mut cursor)?;
            let unshared = get_varint_usize(&mut cursor)?;
            let value_len = get_varint_usize(&mut cursor)?;
            Some((shared, unshared, value_len))
        })();
        let Some((shared, unshared, value_len)) = header else {
            self.corrupt("bad entry header");
            return false;
        };
        let key_start = end - cursor.len();
        let Some(value_start) = key_start.checked_add(unshared) else {
            self.corrupt("key length overflows");
            return false;
        };
        let value_end = match value_start.checked_add(value_len) {
            Some(v) if v <= end => v,
            _ => {
                self.corrupt("entry runs past the block");
                return false;
            }
        };
        if shared > self.key.len() {
            self.corrupt("shared prefix longer than the previous key");
            return false;
        }
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

    /// The key stored whole at restart point `index`, or `None` on damage.
    fn restart_key(&self, index: usize) -> Option<&[u8]> {
        let start = self.block.restart(index);
        let end = self.block.restarts_at;
        let mut cursor = self.block.data.get(start..end)?;
        let shared = get_varint_usize(&mut cursor)?;
        let unshared = get_varint_usize(&mut cursor)?;
        let _value_len = get_varint_usize(&mut cursor)?;
        if shared != 0 {
            return None;
        }
        cursor.get(..unshared)
    }
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
        // Binary search for the last restart point whose key is < target.
        let (mut lo, mut hi) = (0usize, self.block.num_restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match self.restart_key(mid) {
                Some(k) if compare_internal(k, target) == Ordering::Less => lo = mid,
                Some(_) => hi = mid - 1,
                None => {
                    self.corrupt("bad restart entry");
                    return;
                }
            }
        }
        self.seek_to_restart(lo);
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
        let original = self.current;
        // Step back to the restart point before the current entry, then scan forward to
        // the entry just before it.
        while self.block.restart(self.restart_index) >= original {
            if self.restart_index == 0 {
                self.invalidate();
                return;
            }
            self.restart_index -= 1;
        }
        self.seek_to_restart(self.restart_index);
        while self.parse_next() && self.next_offset < original {}
        if self.error.is_none() && self.next_offset != original {
            self.corrupt("entries do not chain to the previous position");
        }
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
