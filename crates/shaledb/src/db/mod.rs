//! The database handle and the engine core it shares with background threads.
//!
//! Locks, always taken in this order (never the reverse):
//! 1. `writers` — the group-commit queue; its front writer is the leader, the only
//!    thread that appends to the log, inserts into the memtable or switches memtables.
//! 2. `state` — the memtables, background-job bookkeeping and the files being written.
//! 3. `versions` — the version set and the manifest.
//! 4. `wal` — the open log; only the leader takes it (with `state` held when it
//!    switches logs), and it is never held while taking `state`.
//!
//! Readers take none of these: they clone the current [`SuperVersion`] (an `Arc`
//! behind a briefly held read lock) and read the visible sequence number atomically.

mod background;
pub(crate) mod filename;
mod flush;
mod live_data;
mod open;
mod orphaned;
mod read;
mod repair;
#[cfg(test)]
mod replay_tests;
mod snapshot;
mod stats;
mod wal;
mod write;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};

pub(crate) use flush::meta_from_summary as flush_meta;
pub use repair::{repair, repair_with_options, RepairReport};
pub use snapshot::Snapshot;

use crate::cache::TableCache;
use crate::error::{Error, Result};
use crate::fs::{FileLock, FileSystem};
use crate::key::SequenceNumber;
use crate::memtable::Memtable;
use crate::options::Options;
use crate::version::{Version, VersionSet};
use stats::Stats;
use wal::Wal;
use write::Writer;

/// The sources a read consults, captured together: the active memtable, the frozen
/// ones (newest first) and the table version.
pub(crate) struct SuperVersion {
    pub mem: Arc<Memtable>,
    pub imms: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
}

/// Mutable engine state guarded by `DbCore::state`.
pub(crate) struct State {
    pub mem: Arc<Memtable>,
    /// Frozen memtables waiting for a flush, oldest first.
    pub imms: VecDeque<Arc<Memtable>>,
    pub flush_running: bool,
    pub compactions_running: usize,
    /// Inputs and output ranges of running compactions.
    pub running: crate::compaction::Running,
    /// File numbers being written (tables not yet in a version).
    pub pending_outputs: HashSet<u64>,
    /// Manual compactions waiting for the compaction slot or holding it; while any is,
    /// workers start no automatic compaction.
    pub manual_pending: usize,
    /// A manual compaction holds the compaction slot.
    pub manual_running: bool,
}

/// Everything shared by the handle and the background threads.
pub(crate) struct DbCore {
    pub dir: PathBuf,
    pub options: Options,
    pub fs: Arc<dyn FileSystem>,
    pub table_cache: Arc<TableCache>,
    pub writers: Mutex<VecDeque<Arc<Writer>>>,
    pub writers_cv: Condvar,
    pub wal: Mutex<Option<Wal>>,
    pub state: Mutex<State>,
    /// Wakes background workers.
    pub work_cv: Arc<Condvar>,
    /// Set when a version is dropped: tables only it held may be deleted now.
    pub purge_requested: Arc<AtomicBool>,
    /// Wakes writers waiting for room and callers waiting for a flush or compaction.
    pub done_cv: Condvar,
    pub versions: Mutex<VersionSet>,
    pub super_version: RwLock<Arc<SuperVersion>>,
    /// The newest sequence number visible to readers.
    pub last_sequence: AtomicU64,
    /// Live snapshots: sequence number -> how many handles.
    pub snapshots: Mutex<BTreeMap<SequenceNumber, usize>>,
    pub bg_error: Mutex<Option<Arc<Error>>>,
    pub shutting_down: AtomicBool,
    pub stats: Stats,
    pub lock: Mutex<Option<Box<dyn FileLock>>>,
    /// Opened with [`Db::open_read_only`]: no log, no background work, and every write,
    /// flush or compaction fails with [`Error::OpenedReadOnly`].
    pub read_only: bool,
}

impl DbCore {
    /// Fails with the background error, if one has made the database read-only.
    pub(crate) fn check_bg_error(&self) -> Result<()> {
        match &*self.bg_error.lock() {
            Some(e) => Err(Error::ReadOnly(Arc::clone(e))),
            None => Ok(()),
        }
    }

    /// Records the first background error and wakes everyone waiting. The caller must
    /// not hold the state lock (see [`DbCore::set_bg_error_locked`]).
    pub(crate) fn set_bg_error(&self, e: Error) {
        let state = self.state.lock();
        self.set_bg_error_locked(&state, e);
    }

    /// [`DbCore::set_bg_error`] for a caller that holds the state lock: waiters check
    /// the error under that lock, so none can miss the wake-up.
    pub(crate) fn set_bg_error_locked(&self, _state: &State, e: Error) {
        tracing::error!(error = %e, "background error: database is now read-only");
        {
            let mut slot = self.bg_error.lock();
            if slot.is_none() {
                *slot = Some(Arc::new(e));
            }
        }
        self.done_cv.notify_all();
        self.work_cv.notify_all();
    }

    /// Rebuilds the super version from the state and the current version. Callers hold
    /// the state lock (passed in) so memtable changes and version changes serialize.
    pub(crate) fn install_super_version(&self, state: &State) {
        if let Some(cache) = self.table_cache.block_cache() {
            // Frozen memtables take their room from the block cache until flushed.
            let frozen: usize = state.imms.iter().map(|m| m.approximate_bytes()).sum();
            cache.make_room_for(frozen as u64);
        }
        let version = self.versions.lock().current();
        let sv = SuperVersion {
            mem: Arc::clone(&state.mem),
            imms: state.imms.iter().rev().cloned().collect(),
            version,
        };
        *self.super_version.write() = Arc::new(sv);
    }

    pub(crate) fn current_super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.super_version.read())
    }

    /// The oldest sequence number any snapshot can read at.
    pub(crate) fn smallest_snapshot(&self) -> SequenceNumber {
        let snaps = self.snapshots.lock();
        let last = self.last_sequence.load(Ordering::Acquire);
        snaps.keys().next().copied().unwrap_or(last).min(last)
    }

    /// Deletes files no version, memtable or running job needs. Callers hold the state
    /// lock.
    /// The version lock is held throughout, so no manifest switch can create files
    /// that look obsolete while the directory is listed.
    pub(crate) fn delete_obsolete_files(&self, state: &State) {
        // Versions dropped from here on ask again; those dropped before are seen below.
        self.purge_requested.store(false, Ordering::Release);
        let mut versions = self.versions.lock();
        let (live, log_number, manifest) = (
            versions.live_tables(),
            versions.log_number(),
            versions.manifest_number(),
        );
        if let Some(wal) = self.wal.lock().as_mut() {
            wal.forget_logs_below(log_number);
        }
        let Ok(names) = self.fs.list(&self.dir) else {
            return;
        };
        for name in names {
            let obsolete = match filename::parse(&name) {
                Some(filename::FileKind::Log(n)) => n < log_number,
                Some(filename::FileKind::Table(n)) => {
                    !live.contains(&n) && !state.pending_outputs.contains(&n)
                }
                Some(filename::FileKind::Manifest(n)) => n < manifest,
                Some(filename::FileKind::Temp) => true,
                _ => false,
            };
            if obsolete {
                if let Some(filename::FileKind::Table(n)) = filename::parse(&name) {
                    self.table_cache.evict(n);
                }
                let path = self.dir.join(&name);
                if let Err(e) = self.fs.remove(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "could not delete obsolete file");
                }
            }
        }
        drop(versions);
    }
}

/// The part of the handle whose drop closes the database.
struct DbHandle {
    core: Arc<DbCore>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    closed: AtomicBool,
    /// Held for the whole of a close, so a second `close` returns only once the first
    /// has released the lock.
    closing: Mutex<()>,
}

impl DbHandle {
    fn shutdown(&self) -> Result<()> {
        let _closing = self.closing.lock();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.core.shutting_down.store(true, Ordering::Release);
        {
            let _state = self.core.state.lock();
            self.core.work_cv.notify_all();
            self.core.done_cv.notify_all();
        }
        // Writes already queued finish (or fail with `Closed` while they wait for room)
        // before the log is closed; no new one can queue. A write that returned Ok is
        // then in the log this close hands to the OS, not appended after the lock is
        // released, when the next open may already have replayed the log.
        {
            let mut queue = self.core.writers.lock();
            while !queue.is_empty() {
                self.core.writers_cv.wait(&mut queue);
            }
        }
        let workers = std::mem::take(&mut *self.workers.lock());
        for w in workers {
            let _ = w.join();
        }
        // A compact_range on another thread sees the shutdown within a few entries;
        // its purge of obsolete files must end before the lock is given up.
        {
            let mut state = self.core.state.lock();
            while state.manual_running {
                self.core.done_cv.wait(&mut state);
            }
        }
        // Writes made without the log are durable only in a table.
        let flushed_unlogged = if self.core.read_only {
            Ok(())
        } else {
            self.core.flush_unlogged_at_close()
        };
        {
            let state = self.core.state.lock();
            // Tables a reader still held when their compaction ended are deleted once
            // it lets go, by a background thread, and those threads have stopped: what
            // has been let go since goes now, as RocksDB's close purges, rather than
            // waiting for the next open.
            if !self.core.read_only {
                self.core.delete_obsolete_files(&state);
            }
        }
        // Hand everything written to the OS and close the log here, not when the last
        // snapshot or iterator lets go of the engine: a memory-mapped log is cut to its
        // written length as it closes, which must not happen while the next open reads
        // it. Keep going to release the lock even if it fails, then report the failure.
        let wal = self.core.wal.lock().take();
        let flushed = match wal {
            Some(mut wal) => wal.flush().map_err(Error::from),
            None => Ok(()),
        };
        *self.core.lock.lock() = None;
        flushed_unlogged.and(flushed)
    }
}

impl Drop for DbHandle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "error while closing the database");
        }
    }
}

/// An open database. Cheap to clone; clones share the same database and may be used
/// from many threads at once. The database closes when the last clone is dropped, or
/// explicitly with [`Db::close`].
#[derive(Clone)]
pub struct Db {
    handle: Arc<DbHandle>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.core().dir).finish()
    }
}

impl Db {
    /// Opens the database in `dir`, creating it if missing (unless
    /// `options.create_if_missing` is false), and recovers from the logs.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        Ok(Self::from_open(open::open(
            dir.as_ref(),
            options,
            open::Mode::ReadWrite,
        )?))
    }

    /// Opens an existing database for reading only, as RocksDB's `OpenForReadOnly`
    /// does: nothing in the directory changes. The logs are replayed into memory
    /// rather than flushed to a table, no log is started and no background work runs;
    /// a damaged log is handled as `options.wal_recovery_mode` says, but not moved to
    /// `lost/`. Writes, [`Db::flush`] and [`Db::compact_range`] fail with
    /// [`Error::OpenedReadOnly`].
    ///
    /// It takes a shared lock: any number of read-only opens may share the database,
    /// but not with a read-write open, which fails with [`Error::Locked`] meanwhile
    /// (and the reverse). It opens the `LOCK` file for reading only, so it works on a
    /// read-only file system and without write permission, and never creates it: a
    /// database without one (a copy that left it out) is read without a lock. Fails if
    /// there is no database in `dir` (`create_if_missing` and `error_if_exists` do not
    /// apply).
    pub fn open_read_only(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        Ok(Self::from_open(open::open(
            dir.as_ref(),
            options,
            open::Mode::ReadOnly,
        )?))
    }

    fn from_open((core, workers): (Arc<DbCore>, Vec<JoinHandle<()>>)) -> Db {
        Db {
            handle: Arc::new(DbHandle {
                core,
                workers: Mutex::new(workers),
                closed: AtomicBool::new(false),
                closing: Mutex::new(()),
            }),
        }
    }

    pub(crate) fn core(&self) -> &Arc<DbCore> {
        &self.handle.core
    }

    /// Closes the database: waits for writes already under way, stops background work,
    /// hands buffered log data to the OS and releases the lock, reporting any error.
    /// Other clones of this handle, and snapshots, see [`Error::Closed`] afterwards:
    /// writes and lookups fail with it, a new iterator yields it first, and
    /// [`Db::property`] returns `None`. Drop iterators before closing, as with RocksDB:
    /// one made before the close may read on, but the tables it has not reached yet may
    /// since have been removed by another handle, which it then reports as an error.
    pub fn close(self) -> Result<()> {
        self.handle.shutdown()
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.core().dir
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.handle.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }
}
