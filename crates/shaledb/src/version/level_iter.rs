//! A cursor over a sorted run of tables: it opens each table only when the cursor
//! reaches it, so scanning a level keeps at most one of its files busy.

use std::cmp::Ordering;
use std::sync::Arc;

use super::FileMeta;
use crate::cache::TableCache;
use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::compare_internal;
use crate::table::TableIterator;

/// A cursor over tables sorted by key with no overlap (or a single table).
pub(crate) struct LevelIterator {
    files: Vec<Arc<FileMeta>>,
    tables: Arc<TableCache>,
    index: usize,
    current: Option<TableIterator>,
    error: Option<Error>,
    fill_cache: bool,
}

impl LevelIterator {
    pub(crate) fn new(files: Vec<Arc<FileMeta>>, tables: Arc<TableCache>) -> Self {
        LevelIterator {
            files,
            tables,
            index: 0,
            current: None,
            error: None,
            fill_cache: true,
        }
    }

    /// Reads without adding blocks to the cache (for compactions).
    pub(crate) fn without_cache_fill(mut self) -> Self {
        self.fill_cache = false;
        self
    }

    /// Positions on table `index` for a seek: keeps the table already open when it is
    /// that one (a reused cursor seeking within the same file), else opens it.
    fn open_for_seek(&mut self, index: usize) -> bool {
        if self.index == index && self.current.is_some() {
            return true;
        }
        self.open(index)
    }

    /// Opens table `index`; false (with `error` set on failure) if there is none.
    fn open(&mut self, index: usize) -> bool {
        self.current = None;
        self.index = index;
        let Some(file) = self.files.get(index) else {
            return false;
        };
        match self.tables.get(file.number, file.file_size) {
            Ok(table) => {
                self.current = Some(if self.fill_cache {
                    table.iter()
                } else {
                    table.iter_without_cache_fill()
                });
                true
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    fn current_status(&self) -> Option<Error> {
        self.current.as_ref().and_then(|c| c.status().err())
    }

    fn skip_forward(&mut self) {
        while self.error.is_none() {
            match &self.current {
                Some(c) if c.valid() => return,
                Some(_) => {
                    if let Some(e) = self.current_status() {
                        self.error = Some(e);
                        return;
                    }
                }
                None => return,
            }
            if !self.open(self.index + 1) {
                return;
            }
            if let Some(c) = &mut self.current {
                c.seek_to_first();
            }
        }
    }

    fn skip_backward(&mut self) {
        while self.error.is_none() {
            match &self.current {
                Some(c) if c.valid() => return,
                Some(_) => {
                    if let Some(e) = self.current_status() {
                        self.error = Some(e);
                        return;
                    }
                }
                None => return,
            }
            if self.index == 0 {
                self.current = None;
                return;
            }
            if !self.open(self.index - 1) {
                return;
            }
            if let Some(c) = &mut self.current {
                c.seek_to_last();
            }
        }
    }
}

impl InternalIterator for LevelIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && self.current.as_ref().is_some_and(|c| c.valid())
    }

    fn seek_to_first(&mut self) {
        self.error = None;
        if self.open_for_seek(0) {
            if let Some(c) = &mut self.current {
                c.seek_to_first();
            }
        }
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        self.error = None;
        if !self.files.is_empty() && self.open_for_seek(self.files.len() - 1) {
            if let Some(c) = &mut self.current {
                c.seek_to_last();
            }
        }
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        self.error = None;
        let i = self
            .files
            .partition_point(|f| compare_internal(&f.largest, target) == Ordering::Less);
        if self.open_for_seek(i) {
            if let Some(c) = &mut self.current {
                c.seek(target);
            }
        }
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.error = None;
        // The last table whose smallest key is <= target.
        let i = self
            .files
            .partition_point(|f| compare_internal(&f.smallest, target) != Ordering::Greater);
        if i == 0 {
            self.current = None;
            return;
        }
        if self.open_for_seek(i - 1) {
            if let Some(c) = &mut self.current {
                c.seek_for_prev(target);
            }
        }
        self.skip_backward();
    }

    fn next(&mut self) {
        if let Some(c) = &mut self.current {
            c.next();
        }
        self.skip_forward();
    }

    fn prev(&mut self) {
        if let Some(c) = &mut self.current {
            c.prev();
        }
        self.skip_backward();
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |c| c.value())
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }
}
