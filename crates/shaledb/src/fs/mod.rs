//! The file-system seam: every file the engine touches goes through [`FileSystem`].
//!
//! The real implementation, [`RealFileSystem`], is the default. Tests substitute one
//! that loses unsynced data or fails operations, without the engine knowing. Calls are
//! coarse (one per appended record or block read), so the dynamic dispatch costs
//! nothing measurable on the hot path.
//!
//! Thread-safety: a [`FileSystem`] and a [`RandomAccessFile`] are shared between
//! threads; a [`WritableFile`] is owned by one writer at a time.

mod fault;
mod mmap_log;
mod named;
mod real;

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

pub use fault::{FaultInjectionFs, FaultKind};
pub use real::RealFileSystem;

/// A file opened for appending, written by one thread at a time.
pub trait WritableFile: Send + Sync {
    /// Appends bytes. They may sit in a user-space buffer until [`WritableFile::flush`].
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Hands buffered bytes to the operating system: they survive a process crash but
    /// not a power loss.
    fn flush(&mut self) -> io::Result<()>;
    /// Flushes, then makes the file's data durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Makes the file at least `len` bytes past what has been appended, the new bytes
    /// zero, without moving the append position: later appends overwrite the zeros in
    /// place. The zeros are written, not left as a hole, so once a sync has made them
    /// durable, a later sync of data written over them need not change the file's size
    /// or allocate blocks, and costs one data write rather than a journal commit too.
    ///
    /// The default does nothing; a file system that cannot preallocate just appends.
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let _ = len;
        Ok(())
    }
    /// Bytes appended by storing into a memory map rather than through `write(2)`:
    /// I/O accounting that counts system calls (`wchar` in `/proc/self/io`) misses them.
    fn mapped_bytes(&self) -> u64 {
        0
    }
}

/// A file opened for positional reads from many threads.
pub trait RandomAccessFile: Send + Sync {
    /// Fills `buf` from `offset`; an error if the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// The file's length in bytes.
    fn size(&self) -> io::Result<u64>;
}

/// A held lock on a database directory; dropping it releases the lock.
pub trait FileLock: Send + Sync {}

/// The operations the engine needs from a file system.
pub trait FileSystem: Debug + Send + Sync + 'static {
    /// Creates (or truncates) a file for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Creates (or truncates) a write-ahead log: a file appended to in small pieces,
    /// each of which must reach the operating system (survive a process crash) at
    /// [`WritableFile::flush`]. The file may be longer than what was appended, with
    /// zeros after it. The real file system writes it through a memory map where that
    /// is safe, so a flush needs no system call. The default is [`FileSystem::create`].
    fn create_log(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.create(path)
    }
    /// Opens an existing file for reading.
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Lists the file names (not paths) in a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// True if the path exists.
    fn exists(&self, path: &Path) -> bool;
    /// Takes an exclusive lock on `path`, creating it; `ErrorKind::WouldBlock` if another
    /// holder has it.
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
    /// Takes a shared lock on `path`, for a read-only open: any number of shared
    /// holders, but none while an exclusive [`FileSystem::lock`] is held, and the
    /// reverse. The file is opened for reading only, so this works on a read-only file
    /// system and without write permission; it is never created, and where it is
    /// missing (every writer creates it) nothing is locked. `ErrorKind::WouldBlock` if an
    /// exclusive holder has it. The default takes the exclusive lock.
    fn lock_shared(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.lock(path)
    }
    /// Makes the directory's entries (new and renamed names) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// Reads a whole file through the seam.
pub(crate) fn read_all(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let file = fs.open(path)?;
    let len = usize::try_from(file.size()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}
