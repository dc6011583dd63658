//! Removing the run's temporary directory when `shaledb bench` is interrupted (Ctrl-C,
//! SIGTERM or SIGHUP), which would otherwise leave a database's worth of files in the
//! temporary directory: the normal cleanup (dropping the `TempDir`) never runs then.
//!
//! The handler is installed once per process, on the first temporary directory. It
//! says on stderr what it removes, removes the directories still registered (again
//! while the engine's threads, still running, add files to them) and exits with status
//! 130, as a shell reports an interrupted command. While it works, [`interrupted`] is
//! true, so the main thread does not report the errors that removing files under a
//! running engine causes. If the application already installed a handler, or the
//! signals are ignored (as under `nohup`), none is installed and nothing changes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long the handler keeps removing a directory the engine still writes into.
const REMOVE_FOR: Duration = Duration::from_secs(5);

/// True once an interrupt started the cleanup; the process exits soon after.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Acquire)
}

/// Deletes `dir` if the process is interrupted before [`forget`] is called.
pub(crate) fn remove_on_interrupt(dir: &Path) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(on_interrupt);
    });
    lock().push(dir.to_path_buf());
}

/// `dir` is cleaned up the normal way from here on.
pub(crate) fn forget(dir: &Path) {
    lock().retain(|d| d != dir);
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMP_DIRS.lock().unwrap_or_else(PoisonError::into_inner)
}

fn on_interrupt() {
    if INTERRUPTED.swap(true, Ordering::AcqRel) {
        // A second signal while the first is being handled.
        return;
    }
    let dirs = std::mem::take(&mut *lock());
    for dir in dirs {
        eprintln!("interrupted: removing {}", dir.display());
        let until = Instant::now() + REMOVE_FOR;
        while dir.exists() && Instant::now() < until {
            if std::fs::remove_dir_all(&dir).is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    std::process::exit(130);
}
