//! `repair`: rebuilds a damaged database's manifest from the tables and logs that
//! survive (`shaledb::repair`), and reports what was kept and what went to `lost/`.

use std::io::Write;
use std::path::Path;

use crate::error::CliError;

/// Repairs the database in `dir`.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    if !dir.exists() {
        return Err(CliError::MissingDir(dir.to_path_buf()));
    }
    if !dir.is_dir() {
        return Err(CliError::NotADirectory(dir.to_path_buf()));
    }
    let report = shaledb::repair(dir).map_err(|e| CliError::db(dir, e))?;
    writeln!(
        out,
        "kept {} tables, salvaged {}, replayed {} logs; {} entries recovered",
        report.tables_kept, report.tables_salvaged, report.logs_replayed, report.entries_recovered
    )?;
    for (path, why) in &report.moved_to_lost {
        writeln!(out, "moved to {}: {why}", path.display())?;
    }
    Ok(())
}
