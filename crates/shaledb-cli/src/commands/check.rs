//! `check`: verifies every record of the logs, then reads every live table and
//! verifies every checksum.
//!
//! The database is opened read-only, in strict recovery mode, so a damaged log record
//! (a torn tail after a power loss, flipped bits) fails the check, where a normal open
//! would keep the records before it and set the rest aside in `lost/`. The check
//! changes nothing in the directory.

use std::io::Write;
use std::path::Path;

use shaledb::{Options, WalRecoveryMode};

use crate::error::CliError;
use crate::open::{close, open_read_only_with};

/// Verifies the database in `dir`; fails with [`CliError::DamagedLog`] at a damaged
/// log record, or with [`CliError::Damaged`] after printing each damaged table.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    let strict = Options {
        wal_recovery_mode: WalRecoveryMode::Strict,
        ..Options::default()
    };
    let db = open_read_only_with(dir, strict).map_err(damaged_log)?;
    let report = db.verify().map_err(|e| CliError::db(dir, e))?;
    close(db)?;
    for problem in &report.damaged {
        writeln!(out, "damaged: {problem}")?;
    }
    writeln!(
        out,
        "checked {} tables, {} entries: {}",
        report.tables_checked,
        report.entries_checked,
        if report.damaged.is_empty() {
            "ok".to_string()
        } else {
            format!("{} damaged", report.damaged.len())
        }
    )?;
    if report.damaged.is_empty() {
        Ok(())
    } else {
        Err(CliError::Damaged {
            path: dir.to_path_buf(),
            damaged: report.damaged.len(),
        })
    }
}

/// A strict open's corruption error about a log, as a damaged log with what a normal
/// open would do about it.
fn damaged_log(error: CliError) -> CliError {
    match error {
        CliError::Db {
            source:
                shaledb::Error::Corruption {
                    file,
                    offset,
                    detail,
                },
            ..
        } if file.extension().is_some_and(|e| e == "log") => CliError::DamagedLog {
            path: file,
            offset,
            reason: format!(
                "{detail} (a normal open keeps the records before it and moves the rest \
                 to lost/; nothing was changed)"
            ),
        },
        other => other,
    }
}
