//! An immutable snapshot of the live tables, level by level.
//!
//! Level 0 holds tables flushed from memtables; their key ranges may overlap, and they
//! are ordered newest first. Every deeper level is one sorted run: tables ordered by key
//! with no overlap.

use std::cmp::Ordering;
use std::sync::Arc;

use super::{FileMeta, LevelIterator};
use crate::cache::TableCache;
use crate::error::{Error, Result};
use crate::iter::BoxedIterator;
use crate::key::{
    compare_internal, make_internal_key, parse_internal_key, SequenceNumber, ValueKind,
    KIND_FOR_SEEK,
};
use crate::memtable::Lookup;

/// The tables of every level at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) levels: Vec<Vec<Arc<FileMeta>>>,
}

impl Version {
    pub(crate) fn empty(num_levels: usize) -> Self {
        Version {
            levels: vec![Vec::new(); num_levels],
        }
    }

    pub(crate) fn num_levels(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn files(&self, level: usize) -> &[Arc<FileMeta>] {
        self.levels.get(level).map_or(&[], |l| l.as_slice())
    }

    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.files(level).iter().map(|f| f.file_size).sum()
    }

    pub(crate) fn all_files(&self) -> impl Iterator<Item = (usize, &Arc<FileMeta>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, files)| files.iter().map(move |f| (l, f)))
    }

    /// Puts each level in its canonical order.
    pub(crate) fn sort_levels(&mut self) {
        if let Some(l0) = self.levels.first_mut() {
            l0.sort_by(|a, b| {
                b.largest_seq
                    .cmp(&a.largest_seq)
                    .then(b.number.cmp(&a.number))
            });
        }
        for level in self.levels.iter_mut().skip(1) {
            level.sort_by(|a, b| compare_internal(&a.smallest, &b.smallest));
        }
    }

    /// Checks that levels 1 and deeper are sorted with no overlap.
    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        for (level, files) in self.levels.iter().enumerate().skip(1) {
            for pair in files.windows(2) {
                if pair[0].largest_user_key() >= pair[1].smallest_user_key() {
                    return Err(format!(
                        "level {level}: table {} overlaps or follows table {}",
                        pair[0].number, pair[1].number
                    ));
                }
            }
        }
        Ok(())
    }

    /// Index of the first table in a sorted level whose largest key is >= `key`.
    fn find_file(files: &[Arc<FileMeta>], internal_key: &[u8]) -> usize {
        files.partition_point(|f| compare_internal(&f.largest, internal_key) == Ordering::Less)
    }

    /// Looks `key` up in the tables, newest data first; `hash` is its
    /// [`crate::table::key_hash`], for the tables' filters.
    pub(crate) fn get(
        &self,
        key: &[u8],
        hash: u64,
        snapshot: SequenceNumber,
        tables: &TableCache,
    ) -> Result<Lookup> {
        let lookup = make_internal_key(key, snapshot, KIND_FOR_SEEK);
        for file in self.files(0) {
            if file.smallest_user_key() <= key && key <= file.largest_user_key() {
                if let Some(found) = Self::get_in_file(file, &lookup, hash, tables)? {
                    return Ok(found);
                }
            }
        }
        for files in self.levels.iter().skip(1) {
            let i = Self::find_file(files, &lookup);
            if let Some(file) = files.get(i) {
                if file.smallest_user_key() <= key {
                    if let Some(found) = Self::get_in_file(file, &lookup, hash, tables)? {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(Lookup::NotFound)
    }

    fn get_in_file(
        file: &FileMeta,
        lookup: &[u8],
        hash: u64,
        tables: &TableCache,
    ) -> Result<Option<Lookup>> {
        let table = tables.get(file.number, file.file_size)?;
        let Some((found_key, value)) = table.get(lookup, hash)? else {
            return Ok(None);
        };
        let parsed = parse_internal_key(&found_key).ok_or_else(|| {
            Error::corruption(table.path().as_ref().clone(), 0, "undecodable internal key")
        })?;
        Ok(Some(match parsed.kind {
            ValueKind::Put => Lookup::Found(value),
            ValueKind::Delete => Lookup::Deleted,
        }))
    }

    /// Cursors over every table: one per level-0 table, one per deeper level.
    pub(crate) fn add_iterators(&self, tables: &Arc<TableCache>, out: &mut Vec<BoxedIterator>) {
        for file in self.files(0) {
            out.push(Box::new(LevelIterator::new(
                vec![Arc::clone(file)],
                Arc::clone(tables),
            )));
        }
        for files in self.levels.iter().skip(1) {
            if !files.is_empty() {
                out.push(Box::new(LevelIterator::new(
                    files.clone(),
                    Arc::clone(tables),
                )));
            }
        }
    }

    /// Tables at `level` whose user-key range intersects [`lo`, `hi`].
    pub(crate) fn overlapping(
        &self,
        level: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> Vec<Arc<FileMeta>> {
        self.files(level)
            .iter()
            .filter(|f| f.overlaps(lo, hi))
            .cloned()
            .collect()
    }

    /// Total bytes of all tables.
    pub(crate) fn total_bytes(&self) -> u64 {
        (0..self.levels.len()).map(|l| self.level_bytes(l)).sum()
    }
}
