//! `check`: reads every live table and verifies every checksum.

use std::io::Write;
use std::path::Path;

use crate::error::CliError;
use crate::open::{close, open_existing};

/// Verifies the database in `dir`; fails with [`CliError::Damaged`] after printing each
/// problem.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    let db = open_existing(dir)?;
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
