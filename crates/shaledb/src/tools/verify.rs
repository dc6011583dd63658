//! `Db::verify`: reads every block of every live table and checks every checksum.

use crate::db::Db;
use crate::error::{Error, Result};

/// The outcome of [`Db::verify`].
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Tables read.
    pub tables_checked: u64,
    /// Entries read across all tables.
    pub entries_checked: u64,
    /// Every problem found, each naming the file and offset.
    pub damaged: Vec<Error>,
}

impl VerifyReport {
    /// True if nothing was damaged.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
    }
}

impl Db {
    /// Reads every live table in full, verifying each block's checksum and entries, and
    /// reports what is damaged. An `Err` means the check itself could not run.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.check_open()?;
        let core = self.core();
        let version = core.current_super_version().version.clone();
        let mut report = VerifyReport::default();
        for (_, f) in version.all_files() {
            report.tables_checked += 1;
            let checked = core
                .table_cache
                .get(f.number, f.file_size)
                .and_then(|t| t.verify());
            match checked {
                Ok(n) => report.entries_checked += n,
                Err(e @ Error::Corruption { .. }) => report.damaged.push(e),
                Err(e @ Error::Io(_)) => report.damaged.push(e),
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
