//! The engine's database directory, `<root>/<engine>`, and the rule that keeps the
//! harness from deleting what it did not make.
//!
//! A fresh database starts in an empty directory, so the old one is deleted first. The
//! harness deletes a non-empty directory only if it made it: it creates each database
//! directory itself and leaves beside it a marker file, `<engine>.made-by-bench`,
//! holding the directory's device and inode numbers and creation time. A directory
//! whose marker is missing or names another directory (the harness's was removed and
//! something else took its name) is refused with an error, never deleted.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::BenchError;

/// The marker beside `dir` that says the harness made it.
fn marker(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".made-by-bench");
    dir.with_file_name(name)
}

/// What the marker records of a directory: its device, inode and, where the file
/// system keeps it, its creation time (an inode number is soon reused).
fn identity(meta: &fs::Metadata) -> String {
    let born = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "shaledb bench made the database beside this file: device {} inode {} created {born}\n",
        meta.dev(),
        meta.ino()
    )
}

fn is_empty_dir(dir: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(dir)?.next().is_none())
}

/// Deletes the database in `dir`, if the harness made it, and creates and marks an
/// empty directory for the database about to be created there.
pub(crate) fn prepare_fresh(dir: &Path) -> Result<(), BenchError> {
    let gone = |e| {
        BenchError::io(
            format!("cannot delete the old database {}", dir.display()),
            e,
        )
    };
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(gone(e)),
        Ok(meta) if meta.is_dir() && !is_empty_dir(dir).map_err(gone)? => {
            let made_here = fs::read_to_string(marker(dir)).is_ok_and(|m| m == identity(&meta));
            if !made_here {
                return Err(BenchError::ForeignDirectory(dir.to_path_buf()));
            }
            // Moved aside while the lock is held, so no engine can open the database
            // under its name between the lock and the deletion, then deleted.
            let lock = lock_database(dir)?;
            let aside = aside_name(dir);
            fs::rename(dir, &aside).map_err(gone)?;
            drop(lock);
            fs::remove_dir_all(&aside).map_err(gone)?;
        }
        Ok(meta) if meta.is_dir() => fs::remove_dir(dir).map_err(gone)?,
        // A file or a symbolic link: the name is taken by something the harness did not
        // make a database of.
        Ok(_) => return Err(BenchError::ForeignDirectory(dir.to_path_buf())),
    }
    let made = |e| BenchError::io(format!("cannot create {}", dir.display()), e);
    fs::create_dir_all(dir).map_err(made)?;
    let meta = fs::metadata(dir).map_err(made)?;
    fs::write(marker(dir), identity(&meta))
        .map_err(|e| BenchError::io(format!("cannot create {}", marker(dir).display()), e))
}

/// A name beside `dir` for it to wait under until it is deleted.
fn aside_name(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".deleting-{}", std::process::id()));
    dir.with_file_name(name)
}

/// Takes the lock an engine holds on its open database (`LOCK`, locked with `flock`,
/// as ShaleDB and rusty-leveldb lock it), if the file is there: a database another
/// process has open is never deleted under it. An engine that locks another way
/// (RocksDB's `fcntl` locks, or no `LOCK` file at all) is not detected here.
fn lock_database(dir: &Path) -> Result<Option<fs::File>, BenchError> {
    let path = dir.join("LOCK");
    let file = match fs::OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(BenchError::io(format!("cannot open {}", path.display()), e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Err(BenchError::InUse(dir.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => {
            Err(BenchError::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// Checks that `dir` holds a database for `--use-existing-db`.
pub(crate) fn require_existing(dir: &Path) -> Result<(), BenchError> {
    let holds_something = dir.is_dir() && !is_empty_dir(dir).unwrap_or(true);
    if holds_something {
        Ok(())
    } else {
        Err(BenchError::NoExistingDatabase(dir.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_only_what_it_made() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shaledb");
        // Missing: made and marked.
        prepare_fresh(&dir).unwrap();
        assert!(marker(&dir).exists() && dir.is_dir());
        fs::write(dir.join("CURRENT"), b"x").unwrap();
        // Marked: deleted, and an empty one made in its place.
        prepare_fresh(&dir).unwrap();
        assert!(dir.is_dir() && is_empty_dir(&dir).unwrap());
        // Its own directory removed and another put in its place, the marker left
        // behind: refused and kept.
        fs::write(dir.join("CURRENT"), b"x").unwrap();
        fs::remove_dir_all(&dir).unwrap();
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/main.rs"), b"fn main() {}").unwrap();
        assert!(marker(&dir).exists());
        let err = prepare_fresh(&dir).unwrap_err();
        assert!(matches!(err, BenchError::ForeignDirectory(_)), "{err}");
        assert!(dir.join("src/main.rs").exists());
        // Someone else's, no marker: refused and kept.
        fs::remove_file(marker(&dir)).unwrap();
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/main.rs"), b"fn main() {}").unwrap();
        let err = prepare_fresh(&dir).unwrap_err();
        assert!(matches!(err, BenchError::ForeignDirectory(_)), "{err}");
        assert!(dir.join("src/main.rs").exists());
        // Empty: fine.
        fs::remove_dir_all(&dir).unwrap();
        fs::create_dir(&dir).unwrap();
        prepare_fresh(&dir).unwrap();
        // Made here but open elsewhere: refused and kept.
        fs::write(dir.join("CURRENT"), b"x").unwrap();
        let holder = fs::File::create(dir.join("LOCK")).unwrap();
        holder.lock().unwrap();
        let err = prepare_fresh(&dir).unwrap_err();
        assert!(matches!(err, BenchError::InUse(_)), "{err}");
        assert!(dir.join("CURRENT").exists());
        drop(holder);
        prepare_fresh(&dir).unwrap();
        assert!(dir.is_dir() && is_empty_dir(&dir).unwrap());
        // A file in its place: refused.
        fs::remove_file(marker(&dir)).unwrap();
        fs::remove_dir(&dir).unwrap();
        fs::write(&dir, b"a file").unwrap();
        assert!(prepare_fresh(&dir).is_err());
        assert_eq!(fs::read(&dir).unwrap(), b"a file");
    }

    #[test]
    fn an_existing_database_must_be_there() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shaledb");
        assert!(require_existing(&dir).is_err());
        fs::create_dir(&dir).unwrap();
        assert!(require_existing(&dir).is_err());
        fs::write(dir.join("CURRENT"), b"x").unwrap();
        require_existing(&dir).unwrap();
    }
}
