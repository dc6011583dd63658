//! A directory without `CURRENT` that still holds a database's data.
//!
//! `CURRENT` names the manifest, and without it an open cannot know which tables are
//! live. Creating a new database there would list none of them, and the first purge of
//! obsolete files would delete them all. So an open refuses, and points to repair,
//! whenever such a directory holds a table or a log with at least one record.
//!
//! Creating a database writes its first log and then its manifest and `CURRENT`; a
//! crash in between leaves a log without records (empty, or preallocated zeros) and
//! perhaps a manifest. Neither holds user data, so those do not stop a new database.

use std::path::Path;

use super::filename::{self, FileKind};
use crate::error::{Error, Result};
use crate::fs::{read_all, FileSystem};
use crate::wal::{LogReader, ReadOutcome};

/// Fails if `dir`, which has no `CURRENT`, holds a table or a log with records.
pub(crate) fn refuse_if_data_without_current(fs: &dyn FileSystem, dir: &Path) -> Result<()> {
    let mut names = fs.list(dir)?;
    names.sort();
    let mut found = Vec::new();
    for name in &names {
        let holds_data = match filename::parse(name) {
            Some(FileKind::Table(_)) => true,
            Some(FileKind::Log(_)) => log_has_records(fs, &dir.join(name))?,
            _ => false,
        };
        if holds_data {
            found.push(name.as_str());
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let shown = found.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    let more = if found.len() > 3 {
        format!(" and {} more", found.len() - 3)
    } else {
        String::new()
    };
    Err(Error::corruption(
        filename::current_path(dir),
        0,
        format!(
            "CURRENT is missing, but the directory holds a database's data ({shown}{more}); \
             run repair to rebuild its manifest"
        ),
    ))
}

/// True if the log holds a record, or damage where one would start.
fn log_has_records(fs: &dyn FileSystem, path: &Path) -> Result<bool> {
    let bytes = read_all(fs, path)?;
    Ok(!matches!(
        LogReader::new(&bytes).read_record(),
        ReadOutcome::Eof
    ))
}
