//! A file system for the child that SIGKILLs its own process just before its
//! n-th mutating operation.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shaledb::fs::{FileLock, FileSystem, RandomAccessFile, RealFileSystem, WritableFile};

use crate::journal::Event;

/// The child's file system when the parent asked for a kill at an operation:
/// the real one, except that the n-th mutating operation first notes itself
/// in the journal and then SIGKILLs the process.
#[derive(Debug)]
pub(crate) struct KillSwitchFs {
    pub(crate) countdown: AtomicU64,
    pub(crate) journal: PathBuf,
}

/// What kind of file the engine touches, for the summary.
fn file_kind(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("CURRENT") {
        "CURRENT"
    } else if name.starts_with("MANIFEST") {
        "manifest"
    } else if name.ends_with(".log") {
        "log"
    } else if name.ends_with(".sst") {
        "table"
    } else if path.is_dir() {
        "directory"
    } else {
        "other"
    }
}

impl KillSwitchFs {
    fn tick(&self, op: &str, path: &Path) {
        if self.countdown.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let at = format!("{op} {}", file_kind(path));
        if let Ok(mut f) = OpenOptions::new().append(true).open(&self.journal) {
            let _ = f.write_all(Event::Killing(at).to_line().as_bytes());
        }
        let pid = std::process::id().to_string();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        // `kill` is missing or failed: the parent sees an exit that is not SIGKILL.
        std::process::exit(4);
    }
}

struct KillSwitchFile {
    inner: Box<dyn WritableFile>,
    fs: Arc<KillSwitchFs>,
    path: PathBuf,
}

impl WritableFile for KillSwitchFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.fs.tick("append", &self.path);
        self.inner.append(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.fs.tick("flush", &self.path);
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.fs.tick("sync", &self.path);
        self.inner.sync()
    }

    fn mapped_bytes(&self) -> u64 {
        self.inner.mapped_bytes()
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.fs.tick("preallocate", &self.path);
        self.inner.preallocate(len)
    }
}

/// `FileSystem` wants an owned value; this shares one countdown between the
/// handle the engine holds and the files it opens.
#[derive(Debug, Clone)]
pub(crate) struct KillSwitch(pub(crate) Arc<KillSwitchFs>);

impl FileSystem for KillSwitch {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.0.tick("create", path);
        Ok(Box::new(KillSwitchFile {
            inner: RealFileSystem.create(path)?,
            fs: self.0.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn create_log(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.0.tick("create", path);
        Ok(Box::new(KillSwitchFile {
            inner: RealFileSystem.create_log(path)?,
            fs: self.0.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        RealFileSystem.open(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.tick("rename", to);
        RealFileSystem.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.tick("remove", path);
        RealFileSystem.remove(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
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
        self.0.tick("sync", dir);
        RealFileSystem.sync_dir(dir)
    }
}
