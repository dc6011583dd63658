//! The operating system's file system, through `std::fs`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::named::{at, Named};
use super::{FileLock, FileSystem, RandomAccessFile, WritableFile};

/// The default [`FileSystem`]: plain files, `fdatasync`, and `flock`-style locks.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFileSystem;

struct RealWritable {
    file: BufWriter<File>,
    /// Bytes appended (the append position).
    appended: u64,
    /// The file's size on disk as far as this handle has extended it: at least
    /// `appended` once the buffer is flushed, more after [`WritableFile::preallocate`].
    allocated: u64,
}

impl RealWritable {
    /// Buffers appends to `file`, freshly created and empty.
    fn new(file: File) -> Self {
        RealWritable {
            file: BufWriter::with_capacity(64 << 10, file),
            appended: 0,
            allocated: 0,
        }
    }
}

/// Writes zeros over `[from, to)` of `file` with positional writes (the file's own
/// position does not move), extending it if `to` is past its end.
pub(super) fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

impl Drop for RealWritable {
    fn drop(&mut self) {
        // A preallocated file that is closed cleanly ends at its last byte. Best
        // effort: the zeros would read as the end of a log anyway.
        if self.allocated > self.appended && self.file.flush().is_ok() {
            let _ = self.file.get_ref().set_len(self.appended);
        }
    }
}

impl WritableFile for RealWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.appended += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        // The buffered bytes go first, so the zeros land after them.
        self.file.flush()?;
        let target = self.appended + len;
        let from = self.allocated.max(self.appended);
        if from < target {
            write_zeros(self.file.get_ref(), from, target)?;
            self.allocated = target;
        }
        Ok(())
    }
}

struct RealRandomAccess {
    file: File,
}

impl RandomAccessFile for RealRandomAccess {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

/// An OS lock on the LOCK file. OS file locks are per open file description, so two
/// handles in one process would not exclude each other; a process-wide set of locked
/// paths closes that gap.
struct RealLock {
    _file: File,
    path: PathBuf,
}

/// A shared OS lock on the LOCK file, held by read-only opens. It excludes the
/// exclusive lock of a writer, in this process too (the locks are on different open
/// file descriptions).
struct SharedLock {
    _file: File,
}

impl FileLock for SharedLock {}

/// No lock: there is no LOCK file to lock (see [`FileSystem::lock_shared`]).
struct NoLock;

impl FileLock for NoLock {}

/// A `try_lock` outcome as the seam reports it: `ErrorKind::WouldBlock` if another
/// holder has the lock, other errors naming the file.
fn lock_result(result: Result<(), std::fs::TryLockError>, path: &Path) -> io::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::from(io::ErrorKind::WouldBlock)),
        Err(std::fs::TryLockError::Error(e)) => Err(at(path)(e)),
    }
}

fn locked_paths() -> &'static Mutex<HashSet<PathBuf>> {
    static LOCKED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    LOCKED.get_or_init(|| Mutex::new(HashSet::new()))
}

impl FileLock for RealLock {}

impl Drop for RealLock {
    fn drop(&mut self) {
        if let Ok(mut set) = locked_paths().lock() {
            set.remove(&self.path);
        }
    }
}

/// Opens `path` with `options`, which must name a regular file if it exists.
///
/// Anything else under a database file's name is refused with `InvalidInput`, "not a
/// regular file": opening a FIFO waits for a process at its other end, and a device
/// such as `/dev/zero` never ends, so either would hang a database open (or fill
/// memory) instead of failing it. The open itself is non-blocking for the same reason
/// (a FIFO put in place between the check and the open fails it with `ENXIO` or is
/// refused after it), and the file is made blocking again once it is known to be
/// regular.
fn open_regular(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    let not_regular = || {
        at(path)(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    };
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(not_regular()),
        _ => {}
    }
    let nonblocking = rustix::fs::OFlags::NONBLOCK;
    let file = options
        .custom_flags(nonblocking.bits() as i32)
        .open(path)
        .map_err(at(path))?;
    if !file.metadata().map_err(at(path))?.is_file() {
        return Err(not_regular());
    }
    let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| at(path)(e.into()))?;
    rustix::fs::fcntl_setfl(&file, flags - nonblocking).map_err(|e| at(path)(e.into()))?;
    Ok(file)
}

impl FileSystem for RealFileSystem {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = open_regular(
            OpenOptions::new().write(true).create(true).truncate(true),
            path,
        )?;
        Ok(Box::new(Named::new(RealWritable::new(file), path)))
    }

    fn create_log(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // Read access too: a writable shared map needs it.
        let file = open_regular(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true),
            path,
        )?;
        let mapped = file
            .try_clone()
            .and_then(super::mmap_log::create)
            .map_err(at(path))?;
        match mapped {
            Some(log) => Ok(Box::new(Named::new(log, path))),
            None => Ok(Box::new(Named::new(RealWritable::new(file), path))),
        }
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let file = open_regular(OpenOptions::new().read(true), path)?;
        Ok(Arc::new(Named::new(RealRandomAccess { file }, path)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to).map_err(at(from))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path).map_err(at(path))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(at(dir))? {
            if let Ok(name) = entry.map_err(at(dir))?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir).map_err(at(dir))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = open_regular(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
            path,
        )?;
        let canonical = path.canonicalize().map_err(at(path))?;
        let mut set = locked_paths()
            .lock()
            .map_err(|_| io::Error::other("lock registry poisoned"))?;
        if set.contains(&canonical) {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        lock_result(file.try_lock(), path)?;
        set.insert(canonical.clone());
        Ok(Box::new(RealLock {
            _file: file,
            path: canonical,
        }))
    }

    fn lock_shared(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = match open_regular(OpenOptions::new().read(true), path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Box::new(NoLock)),
            Err(e) => return Err(e),
        };
        let canonical = path.canonicalize().map_err(at(path))?;
        let held = locked_paths()
            .lock()
            .map_err(|_| io::Error::other("lock registry poisoned"))?
            .contains(&canonical);
        if held {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        lock_result(file.try_lock_shared(), path)?;
        Ok(Box::new(SharedLock { _file: file }))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
    }
}
