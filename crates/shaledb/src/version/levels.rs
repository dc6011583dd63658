//! An immutable snapshot of the live tables, level by level.
//!
//! Level 0 holds tables flushed from memtables; their key ranges may overlap, and they
//! are ordered newest first. Every deeper level is one sorted run: tables ordered by key
//! with no overlap.

use std::cmp::Ordering;
use std::sync::Arc;

use super::ReleaseHook;
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
    /// Whether two level-0 tables' sequence ranges overlap, so that the newest table
    /// holding a key need not hold its newest version. Flushes and tiered merges never
    /// make such tables; repair lists every table it finds in level 0, and its full
    /// compaction removes them, but a database opened after a repair interrupted
    /// before that compaction ended has them. Set by [`Version::sort_levels`].
    level0_seqs_overlap: bool,
    /// Run when this version is dropped (versions a database hands out carry one).
    pub(crate) release: Option<ReleaseHook>,
}

impl Drop for Version {
    fn drop(&mut self) {
        if let Some(hook) = &self.release {
            hook.fire();
        }
    }
}

impl Version {
    pub(crate) fn empty(num_levels: usize) -> Self {
        Version {
            levels: vec![Vec::new(); num_levels],
            level0_seqs_overlap: false,
            release: None,
        }
    }

    pub(crate) fn num_levels(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn files(&self, level: usize) -> &[Arc<FileMeta>] {
        self.levels.get(level).map_or(&[], |l| l.as_slice())
    }

    /// Whether level-0 tables' sequence ranges overlap (see the field).
    pub(crate) fn level0_seqs_overlap(&self) -> bool {
        self.level0_seqs_overlap
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
            // Newest first: each table's range must lie above the next one's.
            self.level0_seqs_overlap = l0
                .windows(2)
                .any(|pair| pair[1].largest_seq >= pair[0].smallest_seq);
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
        let level0 = self
            .files(0)
            .iter()
            .filter(|f| f.smallest_user_key() <= key && key <= f.largest_user_key());
        if self.level0_seqs_overlap {
            // Every level-0 table may hold the newest version: ask them all.
            let mut newest: Option<(SequenceNumber, Lookup)> = None;
            for file in level0 {
                if let Some((seq, found)) = Self::get_in_file(file, &lookup, hash, tables)? {
                    if newest.as_ref().is_none_or(|(best, _)| seq > *best) {
                        newest = Some((seq, found));
                    }
                }
            }
            if let Some((_, found)) = newest {
                return Ok(found);
            }
        } else {
            // Newest table first: the first version found is the newest.
            for file in level0 {
                if let Some((_, found)) = Self::get_in_file(file, &lookup, hash, tables)? {
                    return Ok(found);
                }
            }
        }
        for files in self.levels.iter().skip(1) {
            let i = Self::find_file(files, &lookup);
            if let Some(file) = files.get(i) {
                if file.smallest_user_key() <= key {
                    if let Some((_, found)) = Self::get_in_file(file, &lookup, hash, tables)? {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(Lookup::NotFound)
    }

    /// The newest version of the key `lookup` seeks in `file`, with its sequence number.
    fn get_in_file(
        file: &FileMeta,
        lookup: &[u8],
        hash: u64,
        tables: &TableCache,
    ) -> Result<Option<(SequenceNumber, Lookup)>> {
        let table = tables.get(file.number, file.file_size)?;
        let Some((found_key, value)) = table.get(lookup, hash)? else {
            return Ok(None);
        };
        let parsed = parse_internal_key(&found_key).ok_or_else(|| {
            Error::corruption(table.path().as_ref().clone(), 0, "undecodable internal key")
        })?;
        Ok(Some((
            parsed.seq,
            match parsed.kind {
                ValueKind::Put => Lookup::Found(value),
                ValueKind::Delete => Lookup::Deleted,
            },
        )))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{filename, flush_meta};
    use crate::fs::{FileSystem, RealFileSystem};
    use crate::options::Compression;
    use crate::table::{key_hash, TableBuilder};

    /// Writes table `number` holding `(user key, sequence, value)` entries, in order.
    fn table(dir: &std::path::Path, number: u64, entries: &[(&str, u64, &str)]) -> Arc<FileMeta> {
        let file = RealFileSystem
            .create(&filename::table_path(dir, number))
            .unwrap();
        let mut builder = TableBuilder::new(file, number, 4096, Compression::None, 10);
        for (key, seq, value) in entries {
            builder
                .add(
                    &make_internal_key(key.as_bytes(), *seq, ValueKind::Put),
                    value.as_bytes(),
                )
                .unwrap();
        }
        Arc::new(flush_meta(number, builder.finish().unwrap()))
    }

    fn get(v: &Version, tables: &TableCache, key: &str) -> Option<Vec<u8>> {
        match v
            .get(
                key.as_bytes(),
                key_hash(key.as_bytes()),
                u64::MAX >> 8,
                tables,
            )
            .unwrap()
        {
            Lookup::Found(value) => Some(value.to_vec()),
            _ => None,
        }
    }

    /// Level-0 tables whose sequence ranges overlap (a repair's, before its compaction
    /// ends) are all asked, and the newest version wins, wherever it lies.
    #[test]
    fn overlapping_level0_sequence_ranges_return_the_newest_version() {
        let dir = tempfile::tempdir().unwrap();
        // An old version of "k" beside newer data (as a deep table merged from above).
        let wide = table(dir.path(), 1, &[("a", 900, "a-new"), ("k", 10, "k-old")]);
        let narrow = table(dir.path(), 2, &[("k", 500, "k-new")]);
        let mut v = Version::empty(7);
        v.levels[0] = vec![Arc::clone(&narrow), Arc::clone(&wide)];
        v.sort_levels();
        assert_eq!(v.files(0)[0].number, 1, "the wider range sorts first");
        assert!(v.level0_seqs_overlap);
        let tables = TableCache::new(dir.path(), Arc::new(RealFileSystem), None, 100);
        assert_eq!(get(&v, &tables, "k").as_deref(), Some(&b"k-new"[..]));
        assert_eq!(get(&v, &tables, "a").as_deref(), Some(&b"a-new"[..]));
        // Disjoint ranges keep the fast path.
        let older = table(dir.path(), 3, &[("k", 5, "k-older")]);
        let mut v = Version::empty(7);
        v.levels[0] = vec![older, narrow];
        v.sort_levels();
        assert!(!v.level0_seqs_overlap);
        assert_eq!(get(&v, &tables, "k").as_deref(), Some(&b"k-new"[..]));
    }
}
