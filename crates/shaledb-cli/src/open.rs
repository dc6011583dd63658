//! Opening a database for a command: read-only for commands that only read (they change
//! nothing in the directory, and share it with each other), existing for `delete` and
//! `compact`, created if missing for `put`; closing it so that errors are reported
//! rather than dropped.

use std::path::Path;

use shaledb::{Db, Options};

use crate::error::CliError;

/// Opens the database in `dir`, which must exist, for writing.
pub fn open_existing(dir: &Path) -> Result<Db, CliError> {
    require_dir(dir)?;
    let options = Options {
        create_if_missing: false,
        ..Options::default()
    };
    Db::open(dir, options).map_err(|e| CliError::db(dir, e))
}

/// Opens the database in `dir`, which must exist, for reading only.
pub fn open_read_only(dir: &Path) -> Result<Db, CliError> {
    open_read_only_with(dir, Options::default())
}

/// Opens the database in `dir`, which must exist, for reading only, with `options`.
pub fn open_read_only_with(dir: &Path, options: Options) -> Result<Db, CliError> {
    require_dir(dir)?;
    Db::open_read_only(dir, options).map_err(|e| CliError::db(dir, e))
}

fn require_dir(dir: &Path) -> Result<(), CliError> {
    if !dir.exists() {
        return Err(CliError::MissingDir(dir.to_path_buf()));
    }
    if !dir.is_dir() {
        return Err(CliError::NotADirectory(dir.to_path_buf()));
    }
    Ok(())
}

/// Opens the database in `dir`, creating it if missing.
pub fn open_or_create(dir: &Path) -> Result<Db, CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::NotADirectory(dir.to_path_buf()));
    }
    Db::open(dir, Options::default()).map_err(|e| CliError::db(dir, e))
}

/// Closes `db`, reporting any error of the final log write or background work.
pub fn close(db: Db) -> Result<(), CliError> {
    let dir = db.path().to_path_buf();
    db.close().map_err(|e| CliError::db(&dir, e))
}
