//! File handles that name their file in the errors they return.
//!
//! An operating system error says what failed ("No space left on device"), not on which
//! file. [`RealFileSystem`](super::RealFileSystem) wraps every handle it opens in
//! [`Named`] and every path operation's error with [`at`], so [`crate::Error::Io`]
//! reads, for example, "I/O error: /data/db/000042.sst: No space left on device (os
//! error 28)". The error kind is kept, so callers can still match on it.

use std::io;
use std::path::{Path, PathBuf};

use super::{RandomAccessFile, WritableFile};

/// Adds `path` to an error's message, keeping its kind.
pub(super) fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| named(e, path)
}

/// Kept out of line and cold, so the handles' success paths stay as short as the
/// wrapped ones.
#[cold]
#[inline(never)]
fn named(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A handle and the path it was opened at.
pub(super) struct Named<F> {
    inner: F,
    path: PathBuf,
}

impl<F> Named<F> {
    pub(super) fn new(inner: F, path: &Path) -> Self {
        Named {
            inner,
            path: path.to_path_buf(),
        }
    }
}

impl<F: WritableFile> WritableFile for Named<F> {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.append(data).map_err(at(&self.path))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(at(&self.path))
    }

    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync().map_err(at(&self.path))
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.inner.preallocate(len).map_err(at(&self.path))
    }

    fn mapped_bytes(&self) -> u64 {
        self.inner.mapped_bytes()
    }
}

impl<F: RandomAccessFile> RandomAccessFile for Named<F> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner
            .read_exact_at(buf, offset)
            .map_err(at(&self.path))
    }

    fn size(&self) -> io::Result<u64> {
        self.inner.size().map_err(at(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, RealFileSystem};

    #[test]
    fn errors_name_the_file_and_keep_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("000007.sst");
        let Err(e) = RealFileSystem.open(&missing) else {
            panic!("opened a missing file");
        };
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("000007.sst"), "{e}");

        let path = dir.path().join("000008.sst");
        std::fs::write(&path, b"short").unwrap();
        let file = RealFileSystem.open(&path).unwrap();
        let mut buf = [0u8; 64];
        let e = file.read_exact_at(&mut buf, 0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("000008.sst"), "{e}");

        let e = RealFileSystem
            .rename(&missing, &dir.path().join("x"))
            .unwrap_err();
        assert!(e.to_string().contains("000007.sst"), "{e}");
    }
}
