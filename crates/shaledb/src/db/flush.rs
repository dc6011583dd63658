//! Flushes: writing a frozen memtable to a level-0 table.
//!
//! One flush runs at a time, oldest memtable first, so the log number recorded after
//! each flush only moves forward. A flush that fails leaves the memtable in place (its
//! writes are still in the log) and makes the database read-only.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::background::catching_panics;
use super::{filename, Db, DbCore};
use crate::compaction::shadow::ShadowFilter;
use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::{parse_internal_key, SequenceNumber};
use crate::memtable::Memtable;
use crate::table::TableBuilder;
use crate::version::{FileMeta, VersionEdit};

impl DbCore {
    /// Writes the entries of `iter` to a new table numbered `number`, leaving out the
    /// versions shadowed for every reader at or after `oldest_reader` (see
    /// [`ShadowFilter`]). Returns `None` when nothing is left to write (no file is left
    /// behind).
    pub(crate) fn write_table(
        &self,
        number: u64,
        iter: &mut dyn InternalIterator,
        oldest_reader: SequenceNumber,
    ) -> Result<Option<FileMeta>> {
        let (meta, status) = write_table(
            &*self.fs,
            &self.dir,
            &self.options,
            number,
            iter,
            Some(oldest_reader),
        )?;
        match status {
            Ok(()) => Ok(meta),
            Err(e) => {
                let _ = self.fs.remove(&filename::table_path(&self.dir, number));
                Err(e)
            }
        }
    }

    /// Flushes the oldest frozen memtable. Called by a background worker that has set
    /// `flush_running`.
    pub(crate) fn flush_oldest(&self) -> Result<()> {
        let (imm, number, next_log) = {
            let mut state = self.state.lock();
            let Some(imm) = state.imms.front().cloned() else {
                return Ok(());
            };
            let next_log = state
                .imms
                .get(1)
                .map_or(state.mem.log_number(), |m| m.log_number());
            let number = self.versions.lock().new_file_number();
            state.pending_outputs.insert(number);
            (imm, number, next_log)
        };
        let result = self.flush_memtable(&imm, number, next_log);
        let mut state = self.state.lock();
        // After a failure the table stays pending until the next open: the manifest
        // may list it although the edit failed (written, then a failed sync), and the
        // purge that follows a dropped version must not delete it. The error makes
        // the database read-only; the next open keeps or deletes the file as the
        // manifest says.
        if result.is_ok() {
            state.pending_outputs.remove(&number);
            if state.imms.front().is_some_and(|m| Arc::ptr_eq(m, &imm)) {
                state.imms.pop_front();
            }
            self.install_super_version(&state);
            self.delete_obsolete_files(&state);
        }
        drop(state);
        self.done_cv.notify_all();
        self.work_cv.notify_all();
        result
    }

    /// At close, once the writers and background workers have stopped: if a memtable
    /// holds writes made without the log, switches the active memtable and flushes
    /// them all, oldest first, so that a clean close keeps those writes (as RocksDB's
    /// close flushes when such writes are pending) and a reopen never finds a later
    /// logged write without an earlier unlogged one.
    pub(crate) fn flush_unlogged_at_close(&self) -> Result<()> {
        {
            let mut state = self.state.lock();
            let unlogged = std::iter::once(&state.mem)
                .chain(state.imms.iter())
                .any(|m| m.has_unlogged());
            if !unlogged {
                return Ok(());
            }
            self.check_bg_error()?;
            if !state.mem.is_empty() {
                // Appends the new log's first record: a file system that panics must
                // not take `close` with it, as in a flush.
                let switched =
                    catching_panics("a log switch at close", || self.switch_memtable(&mut state));
                if let Err(e) = switched {
                    drop(state);
                    self.set_bg_error(e.duplicate());
                    return Err(e);
                }
            }
        }
        while !self.state.lock().imms.is_empty() {
            if let Err(e) = catching_panics("a flush at close", || self.flush_oldest()) {
                self.set_bg_error(e.duplicate());
                return Err(e);
            }
        }
        Ok(())
    }

    fn flush_memtable(&self, imm: &Arc<Memtable>, number: u64, next_log: u64) -> Result<()> {
        let start = std::time::Instant::now();
        let mut iter = imm.iter();
        // As RocksDB's flush does, keep only what a reader can still see: a key
        // overwritten within one memtable is written once unless a snapshot needs the
        // older version. A snapshot taken from now on reads at or above every entry here.
        let meta = self.write_table(number, &mut iter, self.smallest_snapshot())?;
        let mut edit = VersionEdit {
            log_number: Some(next_log),
            ..VersionEdit::default()
        };
        let bytes = meta.as_ref().map_or(0, |m| m.file_size);
        if let Some(meta) = meta {
            edit.added.push((0, meta));
        }
        {
            let mut versions = self.versions.lock();
            versions.set_last_sequence(self.last_sequence.load(Ordering::Acquire));
            versions.log_and_apply(edit)?;
        }
        tracing::info!(
            table = number,
            bytes,
            micros = start.elapsed().as_micros() as u64,
            "flush done"
        );
        self.stats.record_flush(bytes, start.elapsed());
        Ok(())
    }
}

/// Writes the entries of `iter` to table `number` in `dir` until it ends or fails,
/// leaving out, with `oldest_reader`, the versions no reader at or after that sequence
/// number can see. Returns the table (`None` if there was nothing to write, and then
/// no file is left) and how the iterator ended, so a salvage can keep what was read
/// before damage.
pub(crate) fn write_table(
    fs: &dyn crate::fs::FileSystem,
    dir: &std::path::Path,
    options: &crate::options::Options,
    number: u64,
    iter: &mut dyn InternalIterator,
    oldest_reader: Option<SequenceNumber>,
) -> Result<(Option<FileMeta>, Result<()>)> {
    let path = filename::table_path(dir, number);
    let built = (|| -> Result<(Option<FileMeta>, Result<()>)> {
        let mut builder = TableBuilder::new(
            fs.create(&path)?,
            number,
            options.block_size,
            options.compression,
            options.bloom_bits_per_key,
        );
        let mut versions = oldest_reader.map(ShadowFilter::new);
        iter.seek_to_first();
        while iter.valid() {
            let shadowed = match versions.as_mut() {
                None => false,
                Some(versions) => {
                    let parsed = parse_internal_key(iter.key()).ok_or_else(|| {
                        Error::corruption(&path, 0, "undecodable internal key in a memtable")
                    })?;
                    versions.observe(parsed.user_key, parsed.seq).shadowed
                }
            };
            if !shadowed {
                builder.add(iter.key(), iter.value())?;
            }
            iter.next();
        }
        let status = iter.status();
        if builder.num_entries() == 0 {
            return Ok((None, status));
        }
        let summary = builder.finish()?;
        // The new name must be durable before a manifest edit refers to it.
        fs.sync_dir(dir)?;
        Ok((Some(meta_from_summary(number, summary)), status))
    })();
    if !matches!(built, Ok((Some(_), _))) {
        let _ = fs.remove(&path);
    }
    built
}

/// The manifest record for a freshly written table.
pub(crate) fn meta_from_summary(number: u64, summary: crate::table::TableSummary) -> FileMeta {
    FileMeta {
        number,
        file_size: summary.file_size,
        smallest: summary.smallest,
        largest: summary.largest,
        smallest_seq: summary.properties.smallest_seq,
        largest_seq: summary.properties.largest_seq,
        num_entries: summary.properties.num_entries,
        num_deletions: summary.properties.num_deletions,
    }
}

impl Db {
    /// Writes the active memtable to a table and waits until it and every older frozen
    /// memtable are durable in tables. Memtables frozen after it are not waited for, so
    /// writers that keep filling new ones do not hold the call up.
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        let core = self.core();
        core.switch_for_flush()?;
        let mut state = core.state.lock();
        // Memtables are numbered by their logs, in order: every one frozen before the
        // switch is numbered below the memtable active after it.
        let target = state.mem.log_number();
        loop {
            core.check_bg_error()?;
            if core.shutting_down.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            if state.imms.front().is_none_or(|m| m.log_number() >= target) {
                return Ok(());
            }
            core.work_cv.notify_all();
            core.done_cv.wait(&mut state);
        }
    }
}
