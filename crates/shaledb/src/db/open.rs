//! Opening a database: locking, manifest recovery, log replay, and the first flush.
//!
//! Replay reads every log at or above the manifest's log number, oldest first, into a
//! memtable, which is written to a level-0 table before the database accepts writes; a
//! fresh log and a fresh manifest are then started and the old ones deleted. A torn or
//! corrupt record ends the replay (point-in-time mode) or fails the open (strict mode).
//!
//! A read-only open ([`Mode::ReadOnly`]) takes a shared lock and writes nothing: the
//! logs are replayed into a memtable that stays in memory, and no log, manifest edit,
//! purge or background thread follows.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};

use super::background::spawn_workers;
use super::{filename, DbCore, State, SuperVersion, Wal};
use crate::batch::DecodedBatch;
use crate::cache::{BlockCache, TableCache};
use crate::error::{Error, Result};
use crate::fs::read_all;
use crate::key::SequenceNumber;
use crate::memtable::Memtable;
use crate::options::{Options, WalRecoveryMode};
use crate::version::{ReleaseHook, VersionEdit, VersionSet};
use crate::wal::{LogLink, LogReader, ReadOutcome, WalRecord};

/// How [`open`] opens a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Recovers, then takes writes (`Db::open`).
    ReadWrite,
    /// Changes nothing on disk (`Db::open_read_only`).
    ReadOnly,
}

pub(crate) fn open(
    dir: &Path,
    options: Options,
    mode: Mode,
) -> Result<(Arc<DbCore>, Vec<JoinHandle<()>>)> {
    options.validate()?;
    let read_only = mode == Mode::ReadOnly;
    let fs = Arc::clone(&options.file_system);
    if !fs.exists(dir) {
        if read_only {
            return Err(Error::InvalidArgument(format!(
                "no database at {}: the directory does not exist",
                dir.display()
            )));
        }
        if !options.create_if_missing {
            return Err(Error::InvalidArgument(format!(
                "{} does not exist and create_if_missing is false",
                dir.display()
            )));
        }
        create_dir_durably(fs.as_ref(), dir)?;
    }
    if read_only && !fs.exists(&filename::current_path(dir)) {
        // Checked before the lock, whose file a read-only open would otherwise leave
        // in a directory that holds no database.
        super::orphaned::refuse_if_data_without_current(fs.as_ref(), dir)?;
        return Err(Error::InvalidArgument(format!(
            "no database at {}",
            dir.display()
        )));
    }
    let lock_path = filename::lock_path(dir);
    let locked = if read_only {
        fs.lock_shared(&lock_path)
    } else {
        fs.lock(&lock_path)
    };
    let lock = locked.map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::Locked {
            path: lock_path.clone(),
        },
        _ => Error::Io(e),
    })?;
    let exists = fs.exists(&filename::current_path(dir));
    if exists && options.error_if_exists && !read_only {
        return Err(Error::InvalidArgument(format!(
            "a database already exists at {}",
            dir.display()
        )));
    }
    if !exists {
        super::orphaned::refuse_if_data_without_current(fs.as_ref(), dir)?;
    }
    if !exists && (read_only || !options.create_if_missing) {
        return Err(Error::InvalidArgument(format!(
            "no database at {} and create_if_missing is false",
            dir.display()
        )));
    }

    let block_cache =
        (options.block_cache_size > 0).then(|| Arc::new(BlockCache::new(options.block_cache_size)));
    let table_cache = Arc::new(TableCache::new(
        dir,
        Arc::clone(&fs),
        block_cache,
        options.max_open_files,
    ));
    let mut versions = VersionSet::new(dir, Arc::clone(&fs), options.num_levels);
    let mut last_sequence = 0;
    let mut min_log = 0;
    if exists {
        let recovered = versions.recover()?;
        last_sequence = recovered.last_sequence;
        min_log = recovered.log_number;
    }
    let names = fs.list(dir)?;
    if exists {
        check_manifest_is_current(dir, &names, &versions, min_log)?;
    }
    let mut logs: Vec<u64> = names
        .iter()
        .filter_map(|n| match filename::parse(n) {
            Some(filename::FileKind::Log(n)) if n >= min_log => Some(n),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let max_number_seen = filename::largest_number(dir, &names)?;
    versions.skip_file_numbers_through(max_number_seen);

    let new_log = versions.new_file_number();
    // A dropped version wakes the background threads to delete the tables it alone
    // held (see `version/release.rs`).
    let work_cv = Arc::new(Condvar::new());
    let purge_requested = Arc::new(AtomicBool::new(false));
    versions.set_release_hook(ReleaseHook::new({
        let (work_cv, purge_requested) = (Arc::clone(&work_cv), Arc::clone(&purge_requested));
        move || {
            purge_requested.store(true, Ordering::Release);
            work_cv.notify_all();
        }
    }));
    let mem = Arc::new(Memtable::new(new_log, options.memtable_filter_bytes()));
    let core = Arc::new(DbCore {
        dir: dir.to_path_buf(),
        fs: Arc::clone(&fs),
        table_cache,
        writers: Mutex::new(VecDeque::new()),
        writers_cv: Condvar::new(),
        wal: Mutex::new(None),
        state: Mutex::new(State {
            mem: Arc::clone(&mem),
            imms: VecDeque::new(),
            flush_running: false,
            compactions_running: 0,
            running: Default::default(),
            pending_outputs: HashSet::new(),
            manual_pending: 0,
            manual_running: false,
        }),
        work_cv,
        purge_requested,
        done_cv: Condvar::new(),
        super_version: RwLock::new(Arc::new(SuperVersion {
            mem,
            imms: Vec::new(),
            version: versions.current(),
        })),
        versions: Mutex::new(versions),
        last_sequence: AtomicU64::new(last_sequence),
        snapshots: Mutex::new(BTreeMap::new()),
        bg_error: Mutex::new(None),
        shutting_down: AtomicBool::new(false),
        stats: Default::default(),
        lock: Mutex::new(Some(lock)),
        read_only,
        options,
    });

    let (max_seq, damaged_log) = core.replay_logs(&logs, min_log)?;
    core.last_sequence.fetch_max(max_seq, Ordering::AcqRel);
    if read_only {
        if core.options.paranoid_checks {
            core.verify_tables()?;
        }
        return Ok((core, Vec::new()));
    }

    if let Some(first_damaged) = damaged_log {
        let damaged = logs.iter().copied().filter(|&n| n >= first_damaged);
        keep_damaged_logs(fs.as_ref(), dir, damaged)?;
    }
    // Start the new log, then record that every older log is obsolete.
    let path = filename::log_path(dir, new_log);
    let file = core.create_log_file(&path)?;
    fs.sync_dir(dir)?;
    *core.wal.lock() = Some(Wal::new(new_log, file));
    {
        let mut versions = core.versions.lock();
        versions.set_last_sequence(core.last_sequence.load(Ordering::Acquire));
        versions.log_and_apply(VersionEdit {
            log_number: Some(new_log),
            ..VersionEdit::default()
        })?;
    }
    {
        let state = core.state.lock();
        core.install_super_version(&state);
        core.delete_obsolete_files(&state);
    }
    if core.options.paranoid_checks {
        core.verify_tables()?;
    }
    let workers = spawn_workers(&core)?;
    core.work_cv.notify_all();
    Ok((core, workers))
}

/// Keeps the logs replay could not use, for inspection or repair: copies in `lost/`,
/// made durable before the edit that makes the logs obsolete, so that no crash lets the
/// purge that follows delete the only copy. The originals go with that purge. A copy
/// that fails (a full disk) is only warned about: the open does not fail for it.
fn keep_damaged_logs(
    fs: &dyn crate::fs::FileSystem,
    dir: &Path,
    numbers: impl Iterator<Item = u64>,
) -> Result<()> {
    let lost = dir.join("lost");
    fs.create_dir_all(&lost)?;
    for number in numbers {
        let from = filename::log_path(dir, number);
        let to = lost.join(format!("{number:06}.log"));
        let copied = read_all(fs, &from).and_then(|bytes| {
            let mut file = fs.create(&to)?;
            file.append(&bytes)?;
            file.sync()
        });
        if let Err(e) = copied {
            tracing::warn!(log = %from.display(), error = %e, "could not keep a damaged log in lost/");
            let _ = fs.remove(&to);
        }
    }
    // The copies' names live in lost/, and lost/ itself may be new in the directory.
    fs.sync_dir(&lost)?;
    fs.sync_dir(dir)?;
    Ok(())
}

/// Creates `dir` and any missing parents, and syncs the directory above each one it
/// created, so that a power loss after the first synced write cannot take the new
/// directories, and the database with them. A parent the process may not read (write
/// and search permission only) cannot be synced; that is only warned about.
fn create_dir_durably(fs: &dyn crate::fs::FileSystem, dir: &Path) -> Result<()> {
    let created: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !fs.exists(a))
        .collect();
    fs.create_dir_all(dir)?;
    for new_dir in created {
        let parent = match new_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match fs.sync_dir(parent) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::warn!(dir = %parent.display(), error = %e, "cannot sync the directory holding the new database directory");
            }
            result => result?,
        }
    }
    Ok(())
}

/// A manifest that lost its last edits (a truncated file) would silently describe an
/// older tree whose logs are gone. The log it names and every table it lists must
/// exist; otherwise it is stale, and opening it would serve old data.
fn check_manifest_is_current(
    dir: &Path,
    names: &[String],
    versions: &VersionSet,
    log_number: u64,
) -> Result<()> {
    let present: HashSet<Option<filename::FileKind>> =
        names.iter().map(|n| filename::parse(n)).collect();
    let manifest = dir.join(filename::manifest_name(versions.manifest_number()));
    if !present.contains(&Some(filename::FileKind::Log(log_number))) {
        return Err(Error::corruption(
            &manifest,
            0,
            format!("the manifest names log {log_number}, which is missing: the manifest is stale or truncated"),
        ));
    }
    for (_, f) in versions.current().all_files() {
        if !present.contains(&Some(filename::FileKind::Table(f.number))) {
            return Err(Error::corruption(
                &manifest,
                0,
                format!("table {} listed in the manifest is missing", f.number),
            ));
        }
    }
    Ok(())
}

impl DbCore {
    /// Replays `logs` (sorted; every log at or above the manifest's `min_log`) into
    /// level-0 tables. Returns the largest sequence seen and, if replay stopped at
    /// damage, the number of the damaged log. In strict mode damage fails the open
    /// before anything is written: the logs are checked in full first.
    fn replay_logs(&self, logs: &[u64], min_log: u64) -> Result<(SequenceNumber, Option<u64>)> {
        let strict = self.options.wal_recovery_mode == WalRecoveryMode::Strict;
        if strict {
            if let Some(damage) = self.walk_logs(logs, min_log, |_, _, _| Ok(()))? {
                return Err(damage.into_error());
            }
        }
        let mut max_seq = self.last_sequence.load(Ordering::Acquire);
        // Memtables are flushed in sequence order, so every batch at or below the newest
        // flushed sequence number is already in a table (a log can outlive its flush,
        // for example after a crash during recovery); replay skips those.
        let flushed_seq = self
            .versions
            .lock()
            .current()
            .all_files()
            .map(|(_, f)| f.largest_seq)
            .max()
            .unwrap_or(0);
        // Read-only, the replayed writes stay in the active memtable, however large.
        let mut mem = if self.read_only {
            Arc::clone(&self.state.lock().mem)
        } else {
            Arc::new(Memtable::new(0, 0))
        };
        let damage = self.walk_logs(logs, min_log, |path, offset, batch| {
            // Decoding checked that the batch's numbers are in range.
            if let Some(end) = batch.last_sequence() {
                if end > flushed_seq {
                    super::write::insert_decoded(&mem, batch)
                        .map_err(|d| Error::corruption(path, offset, d))?;
                }
                max_seq = max_seq.max(end);
            }
            if !self.read_only && mem.approximate_bytes() >= self.options.memtable_size {
                self.flush_recovered(&mem, max_seq)?;
                mem = Arc::new(Memtable::new(0, 0));
            }
            Ok(())
        })?;
        let damaged_log = match damage {
            // The logs were checked, but changed since (another process wrote them).
            Some(damage) if strict => return Err(damage.into_error()),
            Some(damage) => {
                tracing::warn!(log = %damage.path.display(), offset = damage.offset, reason = %damage.reason, "log replay stops at a damaged record");
                Some(damage.number)
            }
            None => None,
        };
        if !self.read_only {
            self.flush_recovered(&mem, max_seq)?;
        }
        Ok((max_seq, damaged_log))
    }

    /// Reads the records of `logs` in order, handing each intact batch to `batch` (with
    /// the log's path and the record's offset), up to the end or to the first damaged
    /// record, which it returns: a torn or corrupt record, or a link to a log that lost
    /// its tail.
    fn walk_logs(
        &self,
        logs: &[u64],
        min_log: u64,
        mut batch: impl FnMut(&Path, u64, &DecodedBatch<'_>) -> Result<()>,
    ) -> Result<Option<LogDamage>> {
        // Where each log read so far ends: the end of its last intact record.
        let mut replayed: HashMap<u64, u64> = HashMap::new();
        for &number in logs {
            let path = filename::log_path(&self.dir, number);
            let bytes = read_all(self.fs.as_ref(), &path)?;
            let mut reader = LogReader::new(&bytes);
            loop {
                let damage = match reader.read_record() {
                    ReadOutcome::Eof => break,
                    ReadOutcome::Damaged { offset, reason, .. } => Some((offset, reason)),
                    ReadOutcome::Record { offset, data } => match WalRecord::decode(&data) {
                        Err(reason) => Some((offset, reason)),
                        Ok(WalRecord::Link(link)) => {
                            broken_link(&link, &replayed, min_log).map(|reason| (offset, reason))
                        }
                        Ok(WalRecord::Batch(decoded)) => {
                            batch(&path, offset, &decoded)?;
                            None
                        }
                    },
                };
                if let Some((offset, reason)) = damage {
                    return Ok(Some(LogDamage {
                        number,
                        path,
                        offset,
                        reason,
                    }));
                }
            }
            replayed.insert(number, reader.end_of_last_record());
        }
        Ok(None)
    }

    /// Writes a memtable rebuilt from the logs to a level-0 table.
    fn flush_recovered(&self, mem: &Arc<Memtable>, max_seq: SequenceNumber) -> Result<()> {
        if mem.is_empty() {
            return Ok(());
        }
        let number = self.versions.lock().new_file_number();
        let mut iter = mem.iter();
        // No snapshot exists during open: every reader will read at `max_seq` or later.
        let meta = self.write_table(number, &mut iter, max_seq)?;
        let mut versions = self.versions.lock();
        versions.set_last_sequence(max_seq);
        versions.log_and_apply(VersionEdit {
            added: meta.into_iter().map(|m| (0, m)).collect(),
            ..VersionEdit::default()
        })
    }

    /// Reads every table in full, checking every checksum.
    pub(crate) fn verify_tables(&self) -> Result<u64> {
        let version = self.versions.lock().current();
        let mut entries = 0;
        for (_, f) in version.all_files() {
            let table = self.table_cache.get(f.number, f.file_size)?;
            entries += table.verify()?;
        }
        Ok(entries)
    }
}

/// The first damaged record of the logs replayed.
struct LogDamage {
    number: u64,
    path: PathBuf,
    offset: u64,
    reason: String,
}

impl LogDamage {
    fn into_error(self) -> Error {
        Error::corruption(self.path, self.offset, self.reason)
    }
}

/// Why the records after `link` cannot continue the replay, if they cannot: the log it
/// names lost part of its tail (a power loss before it was synced), or is missing.
/// Resuming after such a gap would keep later writes and lose earlier ones.
fn broken_link(link: &LogLink, replayed: &HashMap<u64, u64>, min_log: u64) -> Option<String> {
    if link.previous < min_log {
        // Its memtable was flushed: its records are in tables.
        return None;
    }
    match replayed.get(&link.previous) {
        None => Some(format!(
            "this log continues log {}, which is missing",
            link.previous
        )),
        Some(&end) if end < link.length => Some(format!(
            "this log continues log {} from byte {}, but that log ends at byte {end}: its \
             unsynced tail was lost",
            link.previous, link.length
        )),
        Some(_) => None,
    }
}
