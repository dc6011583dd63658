//! Removing the run's temporary directory when the run is interrupted (Ctrl-C, or
//! SIGTERM), which would otherwise leave a database's worth of files in the temporary
//! directory: the normal cleanup (dropping the `TempDir`) never runs then.
//!
//! The handler is installed once per process, on the first temporary directory; it
//! deletes the directories still registered and exits with status 130, as a shell
//! reports an interrupted command. If the application already installed a handler,
//! this one is not installed and nothing changes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes `dir` if the process is interrupted before [`forget`] is called.
pub(crate) fn remove_on_interrupt(dir: &Path) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let dirs =
                std::mem::take(&mut *TEMP_DIRS.lock().unwrap_or_else(PoisonError::into_inner));
            for dir in dirs {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(130);
        });
    });
    TEMP_DIRS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(dir.to_path_buf());
}

/// `dir` is cleaned up the normal way from here on.
pub(crate) fn forget(dir: &Path) {
    TEMP_DIRS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|d| d != dir);
}
