//! A fault-injecting file system for tests: it can simulate a power loss and make
//! operations fail, wrapping the real file system.
//!
//! Power loss: data appended since a file's last sync is lost (all of it, or a random
//! prefix of it, to model a torn write, or a random number of whole appends, to model
//! a file system that keeps writes in order); where that data overwrote preallocated zeros
//! that a sync had made durable, the zeros come back. Files created since the last
//! sync of their directory disappear, and a name that a rename replaced since then gets its old
//! content back (the rename's source name does not reappear). Removals are applied at
//! once (a removed file never comes back). Call [`FaultInjectionFs::crash`] while the
//! database is still open to freeze the disk (every later operation fails, as if the
//! machine stopped), drop the database, then [`FaultInjectionFs::power_loss`] to drop
//! what was not durable and thaw the disk.
//!
//! Failures: [`FaultInjectionFs::fail`] makes the next matching operations fail with
//! an I/O error (`ENOSPC` for [`FaultKind::DiskFull`]).
//!
//! Timing: [`FaultInjectionFs::hold_tables`] makes table creation wait, so flushes and
//! compactions stall at a known point until it is released or the disk is frozen.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{FileLock, FileSystem, RandomAccessFile, RealFileSystem, WritableFile};

/// Which operations an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Appends fail with an I/O error.
    Write,
    /// Appends fail with `ENOSPC` (disk full).
    DiskFull,
    /// File and directory syncs fail.
    Sync,
    /// Renames fail.
    Rename,
    /// Creating files fails.
    Create,
    /// Appends panic, as a buggy file system or a failed invariant in the write path
    /// would.
    PanicOnWrite,
}

/// How a power loss tears the unsynced tail of a file.
#[derive(Debug, Clone, Copy)]
enum Tear {
    /// A random prefix survives.
    AnyByte,
    /// A random number of whole appends survives.
    BetweenAppends,
}

#[derive(Debug, Default)]
struct FileState {
    /// Bytes appended.
    len: u64,
    /// Bytes known durable.
    synced_len: u64,
    /// The end of the zeros preallocated past the appended bytes.
    zeroed_to: u64,
    /// The end of the preallocated zeros a sync has made durable.
    synced_zeroed_to: u64,
    /// Where each append since the last sync ended.
    unsynced_appends: Vec<u64>,
}

#[derive(Debug, Default)]
struct Shared {
    files: HashMap<PathBuf, FileState>,
    /// Names created or renamed into place since their directory's last sync, with
    /// what to restore on power loss (the old content of a replaced file).
    unsynced_names: HashMap<PathBuf, Option<Vec<u8>>>,
    /// Faults to inject: kind -> (operations to let through first, failures left).
    faults: HashMap<FaultKind, (u64, u64)>,
    /// Seed for torn writes.
    rng: u64,
}

/// A [`FileSystem`] that can lose unsynced data and fail operations on demand.
#[derive(Debug, Clone, Default)]
pub struct FaultInjectionFs {
    shared: Arc<Mutex<Shared>>,
    frozen: Arc<AtomicBool>,
    /// Whether creating a table waits (see [`FaultInjectionFs::hold_tables`]).
    tables_held: Arc<(Mutex<bool>, Condvar)>,
}

/// A panic while holding one of these locks only happens inside a failing test; the
/// state is still usable for reporting.
fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn frozen_error() -> io::Error {
    io::Error::other("fault injection: the disk is frozen (simulated crash)")
}

impl FaultInjectionFs {
    /// A fault-injecting wrapper around the real file system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock_ignoring_poison(&self.shared)
    }

    /// After `after` successful operations of `kind`, the next `count` fail.
    pub fn fail(&self, kind: FaultKind, after: u64, count: u64) {
        self.lock().faults.insert(kind, (after, count));
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Freezes the disk: every operation fails from now on, as if the machine stopped.
    pub fn crash(&self) {
        self.frozen.store(true, Ordering::SeqCst);
        // Under the lock, so a table creation about to wait sees the freeze.
        let _held = lock_ignoring_poison(&self.tables_held.0);
        self.tables_held.1.notify_all();
    }

    /// While `hold` is true, creating a table file (`*.sst`) waits until it is false
    /// again, or fails once [`FaultInjectionFs::crash`] freezes the disk. Flushes and
    /// compactions stall before their first table, so a test can keep a frozen memtable
    /// (and its log) from reaching a table until the power fails.
    pub fn hold_tables(&self, hold: bool) {
        *lock_ignoring_poison(&self.tables_held.0) = hold;
        self.tables_held.1.notify_all();
    }

    fn wait_while_tables_held(&self, path: &Path) {
        if path.extension().is_none_or(|e| e != "sst") {
            return;
        }
        let mut held = lock_ignoring_poison(&self.tables_held.0);
        while *held && !self.frozen.load(Ordering::SeqCst) {
            held = self
                .tables_held
                .1
                .wait(held)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Simulates a power loss: drops every byte and name that was not synced, and
    /// thaws the disk. With `torn_seed`, each file keeps a random prefix of its unsynced
    /// tail instead of losing all of it.
    pub fn power_loss(&self, torn_seed: Option<u64>) -> io::Result<()> {
        self.lose_unsynced(torn_seed.map(|seed| (seed, Tear::AnyByte)))
    }

    /// [`FaultInjectionFs::power_loss`] where each file keeps a random number of its
    /// unsynced appends, whole: its tail is cut where an append ended, as on a file
    /// system that persists writes in order. A log then often ends cleanly between two
    /// records, with no torn record to show that more was written.
    pub fn power_loss_between_appends(&self, seed: u64) -> io::Result<()> {
        self.lose_unsynced(Some((seed, Tear::BetweenAppends)))
    }

    fn lose_unsynced(&self, torn: Option<(u64, Tear)>) -> io::Result<()> {
        let mut shared = self.lock();
        shared.rng = torn.map_or(0, |(seed, _)| seed) | 1;
        let names: Vec<(PathBuf, Option<Vec<u8>>)> = shared.unsynced_names.drain().collect();
        for (path, old) in names {
            shared.files.remove(&path);
            match old {
                Some(content) => std::fs::write(&path, content)?,
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
            }
        }
        let files: Vec<(PathBuf, FileState)> = shared.files.drain().collect();
        for (path, state) in files {
            let FileState {
                synced_len: synced,
                len,
                synced_zeroed_to: zeroed_to,
                ..
            } = state;
            let keep = match torn {
                Some((_, tear)) if len > synced => {
                    shared.rng ^= shared.rng << 13;
                    shared.rng ^= shared.rng >> 7;
                    shared.rng ^= shared.rng << 17;
                    let random = shared.rng;
                    match tear {
                        Tear::AnyByte => synced + random % (len - synced + 1),
                        Tear::BetweenAppends => {
                            let ends = &state.unsynced_appends;
                            // usize to u64 and back: a count of appends held in memory.
                            let kept = (random % (ends.len() as u64 + 1)) as usize;
                            kept.checked_sub(1).map_or(synced, |i| ends[i])
                        }
                    }
                }
                _ => synced,
            };
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => {
                    f.set_len(keep)?;
                    if zeroed_to > keep {
                        // Extending with set_len fills with zeros.
                        f.set_len(zeroed_to)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.frozen.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Counts an operation of `kind`; an error if a fault is due.
    fn check(&self, kind: FaultKind) -> io::Result<()> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(frozen_error());
        }
        if !self.fault_due(kind) {
            return Ok(());
        }
        Err(match kind {
            FaultKind::DiskFull => io::Error::from_raw_os_error(28), // ENOSPC
            _ => io::Error::other(format!("fault injection: {kind:?} failed")),
        })
    }

    /// Counts an operation of `kind`; true if a fault is due.
    fn fault_due(&self, kind: FaultKind) -> bool {
        let mut shared = self.lock();
        match shared.faults.get_mut(&kind) {
            Some((after, _)) if *after > 0 => {
                *after -= 1;
                false
            }
            Some((_, count)) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        }
    }

    fn check_write(&self) -> io::Result<()> {
        if !self.frozen.load(Ordering::SeqCst) && self.fault_due(FaultKind::PanicOnWrite) {
            panic!("fault injection: an append panicked");
        }
        self.check(FaultKind::Write)?;
        self.check(FaultKind::DiskFull)
    }

    /// Creates a file through `create` on the real file system and tracks it.
    fn create_with(
        &self,
        path: &Path,
        create: impl FnOnce(&Path) -> io::Result<Box<dyn WritableFile>>,
    ) -> io::Result<Box<dyn WritableFile>> {
        self.wait_while_tables_held(path);
        self.check(FaultKind::Create)?;
        let existed = path.exists();
        let inner = create(path)?;
        let mut shared = self.lock();
        shared
            .files
            .insert(path.to_path_buf(), FileState::default());
        if !existed {
            shared
                .unsynced_names
                .entry(path.to_path_buf())
                .or_insert(None);
        }
        Ok(Box::new(FaultWritable {
            inner,
            path: path.to_path_buf(),
            fs: self.clone(),
        }))
    }
}

struct FaultWritable {
    inner: Box<dyn WritableFile>,
    path: PathBuf,
    fs: FaultInjectionFs,
}

impl WritableFile for FaultWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.fs.check_write()?;
        self.inner.append(data)?;
        let mut shared = self.fs.lock();
        let state = shared.files.entry(self.path.clone()).or_default();
        state.len += data.len() as u64;
        state.unsynced_appends.push(state.len);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.fs.frozen.load(Ordering::SeqCst) {
            return Err(frozen_error());
        }
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.fs.check(FaultKind::Sync)?;
        self.inner.sync()?;
        let mut shared = self.fs.lock();
        let state = shared.files.entry(self.path.clone()).or_default();
        state.synced_len = state.len;
        state.unsynced_appends.clear();
        state.synced_zeroed_to = state.zeroed_to;
        Ok(())
    }

    fn mapped_bytes(&self) -> u64 {
        self.inner.mapped_bytes()
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.fs.check_write()?;
        self.inner.preallocate(len)?;
        let mut shared = self.fs.lock();
        let state = shared.files.entry(self.path.clone()).or_default();
        state.zeroed_to = state.zeroed_to.max(state.len + len);
        Ok(())
    }
}

impl FileSystem for FaultInjectionFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.create_with(path, |p| RealFileSystem.create(p))
    }

    fn create_log(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.create_with(path, |p| RealFileSystem.create_log(p))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(frozen_error());
        }
        RealFileSystem.open(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(FaultKind::Rename)?;
        let old_target = if to.exists() {
            Some(std::fs::read(to)?)
        } else {
            None
        };
        RealFileSystem.rename(from, to)?;
        let mut shared = self.lock();
        let from_unsynced = shared.unsynced_names.remove(from);
        if let Some(state) = shared.files.remove(from) {
            shared.files.insert(to.to_path_buf(), state);
        }
        // Until the directory is synced, a power loss restores the old target (or
        // removes the new name).
        drop(from_unsynced);
        shared
            .unsynced_names
            .entry(to.to_path_buf())
            .or_insert(old_target);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(frozen_error());
        }
        RealFileSystem.remove(path)?;
        let mut shared = self.lock();
        shared.files.remove(path);
        shared.unsynced_names.remove(path);
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        if self.frozen.load(Ordering::SeqCst) {
            return Err(frozen_error());
        }
        RealFileSystem.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        RealFileSystem.create_dir_all(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        RealFileSystem.exists(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        RealFileSystem.lock(path)
    }

    fn lock_shared(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        RealFileSystem.lock_shared(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(FaultKind::Sync)?;
        RealFileSystem.sync_dir(dir)?;
        let mut shared = self.lock();
        let durable: HashSet<PathBuf> = shared
            .unsynced_names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect();
        for p in durable {
            shared.unsynced_names.remove(&p);
        }
        Ok(())
    }
}
