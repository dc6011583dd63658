//! The version set: the current version, the file-number counter, the persisted
//! sequence number, and the manifest they are recorded in.
//!
//! Recovery reads `CURRENT`, replays the manifest it names, and then starts a fresh
//! manifest holding one snapshot edit, switched in atomically: written and synced,
//! `CURRENT.tmp` written and synced, renamed over `CURRENT`, then the directory synced.
//! Callers hold the database's version lock for every method.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use super::{FileMeta, ReleaseHook, Version, VersionEdit};
use crate::db::filename::{current_path, manifest_name, MAX_FOUND_NUMBER};
use crate::error::{Error, Result};
use crate::fs::{read_all, FileSystem};
use crate::key::{SequenceNumber, MAX_SEQUENCE};
use crate::wal::{Damage, LogReader, LogWriter, ReadOutcome};

/// A manifest that grows past this is replaced by a fresh snapshot.
const MANIFEST_ROLL_BYTES: u64 = 32 << 20;

pub(crate) struct VersionSet {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    current: Arc<Version>,
    /// Versions handed out earlier that may still be in use.
    older: Vec<Weak<Version>>,
    manifest: Option<LogWriter>,
    manifest_number: u64,
    next_file_number: u64,
    log_number: u64,
    last_sequence: SequenceNumber,
    /// Given to every version installed from now on.
    release: Option<ReleaseHook>,
}

/// What recovery found in the manifest.
pub(crate) struct Recovered {
    pub log_number: u64,
    pub last_sequence: SequenceNumber,
}

impl VersionSet {
    /// A version set for a new, empty database.
    pub(crate) fn new(dir: &Path, fs: Arc<dyn FileSystem>, num_levels: usize) -> Self {
        VersionSet {
            dir: dir.to_path_buf(),
            fs,
            current: Arc::new(Version::empty(num_levels)),
            older: Vec::new(),
            manifest: None,
            manifest_number: 0,
            next_file_number: 2,
            log_number: 0,
            last_sequence: 0,
            release: None,
        }
    }

    /// Has `hook` run whenever a version of this set is dropped, from the current one
    /// on.
    pub(crate) fn set_release_hook(&mut self, hook: ReleaseHook) {
        let mut current = (*self.current).clone();
        current.release = Some(hook.clone());
        self.current = Arc::new(current);
        self.release = Some(hook);
    }

    /// Replays the manifest named by `CURRENT`.
    pub(crate) fn recover(&mut self) -> Result<Recovered> {
        let current = current_path(&self.dir);
        let text = read_all(self.fs.as_ref(), &current)?;
        let (name, number) = crate::db::filename::parse_current(&text)
            .ok_or_else(|| Error::corruption(&current, 0, "CURRENT does not name a manifest"))?;
        let path = self.dir.join(name);
        self.manifest_number = number;
        let bytes = read_all(self.fs.as_ref(), &path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::corruption(&path, 0, "the manifest named by CURRENT is missing")
            } else {
                Error::Io(e)
            }
        })?;
        let mut version = Version::empty(self.current.num_levels());
        let mut log_number = 0;
        let mut next_file = None;
        let mut last_sequence = 0;
        let mut reader = LogReader::new(&bytes);
        let mut records = 0usize;
        loop {
            match reader.read_record() {
                ReadOutcome::Record { offset, data } => {
                    let edit = VersionEdit::decode(&data)
                        .map_err(|d| Error::corruption(&path, offset, d))?;
                    check_levels_fit(&edit, version.num_levels())?;
                    apply(&mut version, &edit).map_err(|d| Error::corruption(&path, offset, d))?;
                    log_number = edit.log_number.unwrap_or(log_number);
                    next_file = edit.next_file_number.or(next_file);
                    last_sequence = edit.last_sequence.unwrap_or(last_sequence);
                    records += 1;
                }
                ReadOutcome::Eof => break,
                ReadOutcome::Damaged {
                    offset,
                    damage,
                    reason,
                } => {
                    // Each edit is synced before it takes effect, so a truncated last
                    // record is an edit that never took effect. Corrupt bytes are not.
                    if damage == Damage::Corrupt || records == 0 {
                        return Err(Error::corruption(&path, offset, reason));
                    }
                    tracing::warn!(manifest = %path.display(), offset, reason, "dropping torn manifest tail");
                    break;
                }
            }
        }
        let next_file = next_file
            .ok_or_else(|| Error::corruption(&path, 0, "manifest has no next file number"))?;
        let max_used = version
            .all_files()
            .map(|(_, f)| f.number)
            .max()
            .unwrap_or(0);
        if next_file <= max_used || next_file <= log_number {
            return Err(Error::corruption(
                &path,
                0,
                "next file number is already in use",
            ));
        }
        if next_file > MAX_FOUND_NUMBER {
            return Err(Error::corruption(
                &path,
                0,
                format!("next file number {next_file} is out of range"),
            ));
        }
        let newest_seq = version
            .all_files()
            .map(|(_, f)| f.largest_seq.max(f.smallest_seq))
            .fold(last_sequence, u64::max);
        if newest_seq > MAX_SEQUENCE {
            return Err(Error::corruption(
                &path,
                0,
                format!("sequence number {newest_seq} is out of range"),
            ));
        }
        version.sort_levels();
        version
            .check_invariants()
            .map_err(|d| Error::corruption(&path, 0, d))?;
        version.release = self.release.clone();
        self.current = Arc::new(version);
        self.next_file_number = next_file;
        self.log_number = log_number;
        // Every edit that adds a table also records a last sequence at least as high,
        // so this is the manifest's own figure; a manifest that lists a newer table
        // anyway (written by another tool) must not make new writes sort below it.
        self.last_sequence = newest_seq;
        Ok(Recovered {
            log_number,
            last_sequence: newest_seq,
        })
    }

    /// Writes a new manifest holding `version` and `log_number` and points `CURRENT` at
    /// it; the version is the caller's to install once this succeeds. The old manifest
    /// becomes obsolete.
    fn write_manifest_of(&mut self, version: &Version, log_number: u64) -> Result<()> {
        let number = self.new_file_number();
        let name = manifest_name(number);
        let path = self.dir.join(&name);
        let mut writer = LogWriter::new(self.fs.create(&path)?);
        let snapshot = VersionEdit {
            log_number: Some(log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            deleted: Vec::new(),
            added: version
                .all_files()
                .map(|(level, f)| (level, f.as_ref().clone()))
                .collect(),
        };
        writer.add_record(&snapshot.encode())?;
        writer.sync()?;
        self.set_current(&name)?;
        self.manifest = Some(writer);
        self.manifest_number = number;
        Ok(())
    }

    fn set_current(&self, manifest: &str) -> Result<()> {
        let tmp = self.dir.join("CURRENT.tmp");
        let mut file = self.fs.create(&tmp)?;
        file.append(format!("{manifest}\n").as_bytes())?;
        file.sync()?;
        drop(file);
        self.fs.rename(&tmp, &current_path(&self.dir))?;
        self.fs.sync_dir(&self.dir)?;
        Ok(())
    }

    /// Records `edit` in the manifest (synced) and installs the resulting version.
    pub(crate) fn log_and_apply(&mut self, mut edit: VersionEdit) -> Result<()> {
        if let Some(n) = edit.log_number {
            debug_assert!(n >= self.log_number);
        }
        edit.next_file_number = Some(self.next_file_number);
        edit.last_sequence = Some(self.last_sequence);
        let mut version = (*self.current).clone();
        apply(&mut version, &edit).map_err(Error::Internal)?;
        version.sort_levels();
        // Cheap (linear in the number of tables), and a broken level must never reach
        // the manifest.
        version.check_invariants().map_err(Error::Internal)?;
        let roll = self
            .manifest
            .as_ref()
            .is_none_or(|m| m.len() > MANIFEST_ROLL_BYTES);
        // Memory never runs ahead of the disk: the new version is installed only once
        // the manifest holds it, so a failure, or a panic that a background worker
        // catches, leaves the version that purges go by no newer than the one an open
        // would read (a purge by a newer one could delete a log whose memtable's table
        // the manifest does not list yet).
        let log_number = edit.log_number.unwrap_or(self.log_number);
        if roll {
            // The snapshot holds the edit; the old manifest stays CURRENT until the new
            // one is complete.
            self.write_manifest_of(&version, log_number)?;
        } else {
            // Taken out while it is written, so that after an error or a panic part way
            // through a record, which may leave the file ending in a partial record,
            // nothing is appended to it: the next edit starts a fresh manifest.
            let Some(mut manifest) = self.manifest.take() else {
                return Err(Error::Closed);
            };
            manifest
                .add_record(&edit.encode())
                .and_then(|()| manifest.sync())?;
            self.manifest = Some(manifest);
        }
        self.log_number = log_number;
        let old = std::mem::replace(&mut self.current, Arc::new(version));
        self.older.push(Arc::downgrade(&old));
        Ok(())
    }

    pub(crate) fn current(&self) -> Arc<Version> {
        Arc::clone(&self.current)
    }

    /// Makes sure the counter hands out no number up to `number`, which a file in the
    /// directory already has (at most [`crate::db::filename::MAX_FOUND_NUMBER`]).
    pub(crate) fn skip_file_numbers_through(&mut self, number: u64) {
        self.next_file_number = self.next_file_number.max(number.saturating_add(1));
    }

    pub(crate) fn new_file_number(&mut self) -> u64 {
        let n = self.next_file_number;
        self.next_file_number += 1;
        n
    }

    pub(crate) fn log_number(&self) -> u64 {
        self.log_number
    }

    pub(crate) fn manifest_number(&self) -> u64 {
        self.manifest_number
    }

    pub(crate) fn set_last_sequence(&mut self, seq: SequenceNumber) {
        self.last_sequence = self.last_sequence.max(seq);
    }

    #[cfg(test)]
    pub(crate) fn next_file_number(&self) -> u64 {
        self.next_file_number
    }

    /// Numbers of every table in the current version and in any older version still
    /// in use by a reader.
    pub(crate) fn live_tables(&mut self) -> std::collections::HashSet<u64> {
        self.live_table_sizes().into_keys().collect()
    }

    /// Bytes of every table in the current version and in any older version still in
    /// use by a reader (an iterator or snapshot read that began before a compaction
    /// keeps its inputs on disk), each table counted once.
    pub(crate) fn live_table_bytes(&mut self) -> u64 {
        self.live_table_sizes().into_values().sum()
    }

    /// The size of every table `live_tables` names, by number.
    fn live_table_sizes(&mut self) -> std::collections::HashMap<u64, u64> {
        self.older.retain(|w| w.strong_count() > 0);
        let mut live: std::collections::HashMap<u64, u64> = self
            .current
            .all_files()
            .map(|(_, f)| (f.number, f.file_size))
            .collect();
        for v in self.older.iter().filter_map(Weak::upgrade) {
            live.extend(v.all_files().map(|(_, f)| (f.number, f.file_size)));
        }
        live
    }
}

/// Applies an edit to a version; `Err` if it names tables that do not exist.
fn apply(version: &mut Version, edit: &VersionEdit) -> Result<(), String> {
    let levels = version.levels.len();
    for &(level, number) in &edit.deleted {
        let files = version
            .levels
            .get_mut(level)
            .ok_or_else(|| format!("edit deletes from level {level} of {levels}"))?;
        let before = files.len();
        files.retain(|f| f.number != number);
        if files.len() == before {
            return Err(format!(
                "edit deletes table {number}, absent from level {level}"
            ));
        }
    }
    for (level, meta) in &edit.added {
        let files = version
            .levels
            .get_mut(*level)
            .ok_or_else(|| format!("edit adds to level {level} of {levels}"))?;
        files.push(Arc::new(FileMeta::clone(meta)));
    }
    Ok(())
}

/// A checksummed edit that adds a table below the configured levels (but within the
/// most any database may have) comes from a database created with more levels: the
/// options are wrong, not the manifest.
fn check_levels_fit(edit: &VersionEdit, num_levels: usize) -> Result<()> {
    match edit.added.iter().map(|(level, _)| *level).max() {
        Some(level) if level >= num_levels && level < crate::options::MAX_NUM_LEVELS => {
            Err(Error::InvalidArgument(format!(
                "the database has tables at level {level}, but num_levels is {num_levels}; \
                 open it with num_levels of at least {}",
                level + 1
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFileSystem;
    use crate::key::{make_internal_key, ValueKind};

    fn meta(number: u64, lo: &[u8], hi: &[u8]) -> FileMeta {
        FileMeta {
            number,
            file_size: 100 + number,
            smallest: make_internal_key(lo, 1, ValueKind::Put),
            largest: make_internal_key(hi, 2, ValueKind::Put),
            smallest_seq: 1,
            largest_seq: number,
            num_entries: 2,
            num_deletions: 0,
        }
    }

    #[test]
    fn manifest_replay_restores_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(RealFileSystem);
        let mut set = VersionSet::new(dir.path(), Arc::clone(&fs), 4);
        // The first edit starts the manifest.
        set.log_and_apply(VersionEdit::default()).unwrap();
        let a = set.new_file_number();
        let b = set.new_file_number();
        let log = set.new_file_number();
        set.set_last_sequence(77);
        set.log_and_apply(VersionEdit {
            log_number: Some(log),
            added: vec![(0, meta(a, b"a", b"m")), (1, meta(b, b"c", b"d"))],
            ..VersionEdit::default()
        })
        .unwrap();
        set.log_and_apply(VersionEdit {
            deleted: vec![(0, a)],
            ..VersionEdit::default()
        })
        .unwrap();

        let mut again = VersionSet::new(dir.path(), fs, 4);
        let recovered = again.recover().unwrap();
        assert_eq!(recovered.log_number, log);
        assert_eq!(recovered.last_sequence, 77);
        let v = again.current();
        assert!(v.files(0).is_empty());
        assert_eq!(v.files(1).len(), 1);
        assert_eq!(*v.files(1)[0], meta(b, b"c", b"d"));
        assert!(again.next_file_number() > b);
    }

    /// Found by review: recovery took the manifest's last sequence number even when a
    /// table it lists holds newer ones (a manifest written by another tool), so new
    /// writes would have sorted below that table's entries and read as older.
    #[test]
    fn recovery_never_sets_the_last_sequence_below_a_listed_table() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(RealFileSystem);
        let mut set = VersionSet::new(dir.path(), Arc::clone(&fs), 4);
        set.log_and_apply(VersionEdit::default()).unwrap();
        set.set_last_sequence(5);
        let number = set.new_file_number();
        let table = FileMeta {
            largest_seq: 1_000,
            ..meta(number, b"a", b"b")
        };
        set.log_and_apply(VersionEdit {
            added: vec![(1, table)],
            ..VersionEdit::default()
        })
        .unwrap();
        let mut again = VersionSet::new(dir.path(), fs, 4);
        assert_eq!(again.recover().unwrap().last_sequence, 1_000);
    }

    #[test]
    fn edits_decode_what_they_encode_and_reject_garbage() {
        let edit = VersionEdit {
            log_number: Some(3),
            next_file_number: Some(10),
            last_sequence: Some(1 << 40),
            deleted: vec![(2, 5)],
            added: vec![(1, meta(6, b"", b"\xff\xff"))],
        };
        assert_eq!(VersionEdit::decode(&edit.encode()).unwrap(), edit);
        let bytes = edit.encode();
        for cut in 1..bytes.len() {
            // A cut either fails or decodes to something different: never panics.
            let _ = VersionEdit::decode(&bytes[..cut]);
        }
        assert!(VersionEdit::decode(&[99, 1]).is_err());
    }

    /// Found by review: a panic part way through a manifest write (a file system that
    /// panics; background workers catch it) left the new version installed in memory
    /// on a manifest roll, and on an append a writer that the next edit appended to
    /// after a partial record. Purges go by the version in memory, so a purge by one
    /// the disk did not hold could delete a log whose data no listed table held.
    #[test]
    fn a_panic_while_the_manifest_is_written_leaves_memory_no_newer_than_the_disk() {
        use crate::fs::{FaultInjectionFs, FaultKind};
        let dir = tempfile::tempdir().unwrap();
        let faults = FaultInjectionFs::new();
        let fs: Arc<dyn FileSystem> = Arc::new(faults.clone());
        let mut set = VersionSet::new(dir.path(), Arc::clone(&fs), 4);
        set.log_and_apply(VersionEdit::default()).unwrap();
        let first = set.new_file_number();
        set.log_and_apply(VersionEdit {
            added: vec![(1, meta(first, b"a", b"b"))],
            ..VersionEdit::default()
        })
        .unwrap();
        // The first panic cuts an append to the manifest after a record's header; the
        // second hits the roll to a fresh manifest that the next edit then makes.
        for appends_first in [1, 0] {
            let before = set.current();
            let (table, log) = (set.new_file_number(), set.new_file_number());
            faults.fail(FaultKind::PanicOnWrite, appends_first, 1);
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                set.log_and_apply(VersionEdit {
                    log_number: Some(log),
                    added: vec![(0, meta(table, b"c", b"d"))],
                    ..VersionEdit::default()
                })
            }));
            assert!(panicked.is_err(), "the write should have panicked");
            faults.clear_faults();
            assert!(
                Arc::ptr_eq(&set.current(), &before),
                "a version the disk lacks was installed"
            );
            assert!(set.log_number() < log);
        }
        // The next edit starts a fresh manifest, and what it says is what memory says.
        let last = set.new_file_number();
        set.log_and_apply(VersionEdit {
            added: vec![(2, meta(last, b"e", b"f"))],
            ..VersionEdit::default()
        })
        .unwrap();
        let mut again = VersionSet::new(dir.path(), fs, 4);
        again.recover().unwrap();
        assert_eq!(again.log_number(), set.log_number());
        let files = |v: Arc<Version>| -> Vec<(usize, u64)> {
            v.all_files().map(|(level, f)| (level, f.number)).collect()
        };
        assert_eq!(files(again.current()), files(set.current()));
        assert_eq!(files(set.current()), vec![(1, first), (2, last)]);
    }
}
