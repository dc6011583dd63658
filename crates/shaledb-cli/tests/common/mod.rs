//! Helpers shared by the command-line tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use assert_cmd::Command;
use shaledb::{Db, Options};

/// Runs the tests of one test binary one at a time; each test holds the guard
/// throughout.
///
/// The library locks a database with `flock`, and a child process inherits every open
/// descriptor of its parent until it calls `exec`. While one test thread spawns the
/// CLI, another thread's database (opened in this process) may be open, so its LOCK
/// descriptor is briefly shared with the child, and the lock outlives that database's
/// `close` by the child's fork-to-exec window: the next CLI run on it then fails with
/// "locked". Run in parallel, about one run in eight of these tests hit it.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `shaledb` binary.
pub fn shaledb() -> Command {
    Command::cargo_bin("shaledb").expect("the shaledb binary is built for tests")
}

/// A temporary directory with a database in `db/` holding `entries`, flushed to a
/// table when `flush` is set.
pub fn db_with(entries: &[(&[u8], &[u8])], flush: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db");
    let db = Db::open(&path, Options::default()).expect("open db");
    for (k, v) in entries {
        db.put(k, v).expect("put");
    }
    if flush {
        db.flush().expect("flush");
    }
    db.close().expect("close");
    (dir, path)
}

/// Files in `dir` whose names end with `suffix`.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

/// Standard output of a finished command, as text.
pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
