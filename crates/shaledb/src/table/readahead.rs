//! Reading ahead of a cursor that walks a table's data blocks in order, as RocksDB's
//! iterators do on their own: once a cursor has loaded three blocks that follow one
//! another in the file (forward or backward), a block not in the cache is read with
//! its neighbours in one `pread`, 16 KiB at first and twice as much each time, up to
//! 256 KiB. Later blocks come from that buffer until the cursor leaves it.
//!
//! A scan of a table that is not in the block cache (a full scan after a flush, or a
//! compaction's input) then costs one system call per 256 KiB instead of one per
//! block. A cursor that seeks about (a point lookup, `seekrandom`) never meets the
//! condition and reads exactly the blocks it needs, with no buffer. Each block from the
//! buffer is verified and decompressed as a block read alone is.

use std::sync::Arc;

use super::block::Block;
use super::format::BlockHandle;
use super::reader::TableReader;
use crate::error::Result;

/// The first read ahead, in bytes.
const FIRST: usize = 16 << 10;
/// The largest read ahead, in bytes.
const MOST: usize = 256 << 10;
/// Blocks loaded in file order before reading ahead starts.
const SEQUENTIAL_BEFORE: u32 = 2;

/// One cursor's read-ahead state.
#[derive(Default)]
pub(crate) struct Readahead {
    /// Bytes of the file from `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
    /// The file range of the last block loaded.
    last: Option<(u64, u64)>,
    /// Blocks loaded in file order in a row, and in which direction.
    run: u32,
    forward: bool,
    /// The next read's size.
    next_size: usize,
}

impl Readahead {
    /// The data block at `handle`, through the cache, the buffer or the file.
    pub(crate) fn data_block(
        &mut self,
        table: &TableReader,
        handle: BlockHandle,
        fill_cache: bool,
    ) -> Result<Arc<Block>> {
        let len = table.stored_len(handle)?;
        let (start, end) = (handle.offset, handle.offset + len as u64);
        self.observe(start, end);
        if let Some(block) = table.cached_block(handle) {
            return Ok(block);
        }
        if self.run < SEQUENTIAL_BEFORE {
            return table.read_data_block(handle, fill_cache);
        }
        if !self.holds(start, end) {
            self.fill(table, start, end)?;
        }
        // `holds` is true after a fill: it reads at least the block.
        let from = usize::try_from(start - self.buf_at).unwrap_or(usize::MAX);
        match self.buf.get(from..from + len) {
            Some(stored) => table.data_block_from(handle, stored, fill_cache),
            None => table.read_data_block(handle, fill_cache),
        }
    }

    /// Counts blocks loaded in file order.
    fn observe(&mut self, start: u64, end: u64) {
        let (forward, backward) = match self.last {
            Some((last_start, last_end)) => (start == last_end, end == last_start),
            None => (false, false),
        };
        if (forward && self.forward) || (backward && !self.forward) {
            self.run = self.run.saturating_add(1);
        } else if forward || backward {
            self.run = 1;
            self.forward = forward;
            self.next_size = FIRST;
        } else {
            self.run = 0;
            self.next_size = FIRST;
        }
        self.last = Some((start, end));
    }

    fn holds(&self, start: u64, end: u64) -> bool {
        start >= self.buf_at && end <= self.buf_at + self.buf.len() as u64
    }

    /// Reads the block at `start..end` and as much beyond it, in the cursor's
    /// direction, as the read-ahead size allows within the table's data.
    fn fill(&mut self, table: &TableReader, start: u64, end: u64) -> Result<()> {
        let size = self.next_size.clamp(FIRST, MOST) as u64;
        self.next_size = (self.next_size * 2).clamp(FIRST, MOST);
        let (from, to) = if self.forward {
            (start, table.data_end().min(start + size).max(end))
        } else {
            (end.saturating_sub(size).min(start), end)
        };
        // Both ends lie within the table, whose size is a usize on this machine.
        let len = usize::try_from(to - from).unwrap_or(usize::MAX);
        self.buf.clear();
        self.buf.resize(len, 0);
        self.buf_at = from;
        if let Err(e) = table.read_at(&mut self.buf, from) {
            self.buf.clear();
            return Err(e);
        }
        Ok(())
    }
}
