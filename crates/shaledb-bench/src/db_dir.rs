//! The engine's database directory, `<root>/<engine>`, and the rule that keeps the
//! harness from deleting what it did not make.
//!
//! A fresh database starts in an empty directory, so the old one is deleted first. The
//! harness deletes a directory only if it is empty or if the harness made it: beside
//! each directory it creates, it leaves a marker file, `<engine>.made-by-bench`. A
//! directory `--db` points into that holds anything else (a user's database, a source
//! tree) is refused with an error, never deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::BenchError;

/// The marker beside `dir` that says the harness made it.
fn marker(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".made-by-bench");
    dir.with_file_name(name)
}

fn is_empty_dir(dir: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(dir)?.next().is_none())
}

/// Deletes the database in `dir`, if the harness made it, and marks the empty place
/// for the database about to be created there.
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
            if !marker(dir).exists() {
                return Err(BenchError::ForeignDirectory(dir.to_path_buf()));
            }
            fs::remove_dir_all(dir).map_err(gone)?;
        }
        Ok(meta) if meta.is_dir() => fs::remove_dir(dir).map_err(gone)?,
        // A file or a symbolic link: the name is taken by something the harness did not
        // make a database of.
        Ok(_) => return Err(BenchError::ForeignDirectory(dir.to_path_buf())),
    }
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| BenchError::io(format!("cannot create {}", parent.display()), e))?;
    }
    fs::write(
        marker(dir),
        b"shaledb bench made the database beside this file\n",
    )
    .map_err(|e| BenchError::io(format!("cannot create {}", marker(dir).display()), e))
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
        assert!(marker(&dir).exists());
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("CURRENT"), b"x").unwrap();
        // Marked: deleted.
        prepare_fresh(&dir).unwrap();
        assert!(!dir.exists());
        // Someone else's: refused and kept.
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
        // A file in its place: refused.
        fs::remove_file(marker(&dir)).unwrap();
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
