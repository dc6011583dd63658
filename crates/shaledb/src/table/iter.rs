//! A two-level cursor over a table: the index block picks the data block, which is read
//! through the block cache when the cursor enters it.

use std::sync::Arc;

use super::block::BlockIter;
use super::readahead::Readahead;
use super::reader::TableReader;
use crate::error::{Error, Result};
use crate::iter::InternalIterator;

/// A cursor over every entry of one table; it keeps the table open.
pub(crate) struct TableIterator {
    table: Arc<TableReader>,
    index: BlockIter,
    data: Option<BlockIter>,
    error: Option<Error>,
    fill_cache: bool,
    readahead: Readahead,
}

impl TableIterator {
    pub(super) fn new(table: Arc<TableReader>, fill_cache: bool) -> Self {
        let index = BlockIter::new(Arc::clone(table.index_block()), Arc::clone(table.path()), 0);
        TableIterator {
            table,
            index,
            data: None,
            error: None,
            fill_cache,
            readahead: Readahead::default(),
        }
    }

    /// Loads the data block the index cursor points at. The data cursor's buffers are
    /// kept from block to block.
    fn load_block(&mut self) -> bool {
        if !self.index.valid() {
            self.data = None;
            if let Err(e) = self.index.status() {
                self.error = Some(e);
            }
            return false;
        }
        let (table, readahead) = (&self.table, &mut self.readahead);
        let loaded = table
            .decode_handle(self.index.value())
            .and_then(|h| Ok((h, readahead.data_block(table, h, self.fill_cache)?)));
        match loaded {
            Ok((handle, block)) => {
                match &mut self.data {
                    Some(d) => d.reset_to(block, handle.offset),
                    None => {
                        self.data = Some(BlockIter::new(
                            block,
                            Arc::clone(self.table.path()),
                            handle.offset,
                        ));
                    }
                }
                true
            }
            Err(e) => {
                self.data = None;
                self.error = Some(e);
                false
            }
        }
    }

    /// After the data cursor ran off its block's end, moves on through later blocks.
    fn skip_forward(&mut self) {
        while self.error.is_none() {
            match &self.data {
                Some(d) if d.valid() => return,
                Some(d) => {
                    if let Err(e) = d.status() {
                        self.error = Some(e);
                        self.data = None;
                        return;
                    }
                }
                None => return,
            }
            self.index.next();
            if !self.load_block() {
                return;
            }
            if let Some(d) = &mut self.data {
                d.seek_to_first();
            }
        }
    }

    /// After the data cursor ran off its block's start, moves back through earlier blocks.
    fn skip_backward(&mut self) {
        while self.error.is_none() {
            match &self.data {
                Some(d) if d.valid() => return,
                Some(d) => {
                    if let Err(e) = d.status() {
                        self.error = Some(e);
                        self.data = None;
                        return;
                    }
                }
                None => return,
            }
            self.index.prev();
            if !self.load_block() {
                return;
            }
            if let Some(d) = &mut self.data {
                d.seek_to_last();
            }
        }
    }

    fn reset(&mut self) {
        self.error = None;
    }
}

impl InternalIterator for TableIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn seek_to_first(&mut self) {
        self.reset();
        self.index.seek_to_first();
        if self.load_block() {
            if let Some(d) = &mut self.data {
                d.seek_to_first();
            }
        }
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        self.reset();
        self.index.seek_to_last();
        if self.load_block() {
            if let Some(d) = &mut self.data {
                d.seek_to_last();
            }
        }
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        self.reset();
        self.index.seek(target);
        if self.load_block() {
            if let Some(d) = &mut self.data {
                d.seek(target);
            }
        }
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.reset();
        // The block holding the last entry <= target is the first block whose last key
        // is >= target, or the table's last block.
        self.index.seek(target);
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.error = Some(e);
                self.data = None;
                return;
            }
            self.index.seek_to_last();
        }
        if self.load_block() {
            if let Some(d) = &mut self.data {
                d.seek_for_prev(target);
            }
        }
        self.skip_backward();
    }

    fn next(&mut self) {
        if let Some(d) = &mut self.data {
            d.next();
        }
        self.skip_forward();
    }

    fn prev(&mut self) {
        if let Some(d) = &mut self.data {
            d.prev();
        }
        self.skip_backward();
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.value())
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }
}
