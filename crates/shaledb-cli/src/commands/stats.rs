//! `stats`: the library's report (levels table, compaction and stall statistics) and
//! its numeric properties.

use std::io::Write;
use std::path::Path;

use crate::error::CliError;
use crate::open::{close, open_read_only};

/// Numeric properties printed after the report.
const PROPERTIES: [&str; 11] = [
    "shaledb.total-sst-size",
    "shaledb.live-sst-size",
    "shaledb.estimate-num-keys",
    "shaledb.live-data-size",
    "shaledb.num-files-at-level0",
    "shaledb.num-files-at-level1",
    "shaledb.num-files-at-level2",
    "shaledb.num-files-at-level3",
    "shaledb.num-files-at-level4",
    "shaledb.num-files-at-level5",
    "shaledb.num-files-at-level6",
];

/// Prints the statistics of the database in `dir`.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    let db = open_read_only(dir)?;
    if let Some(report) = db.property("shaledb.stats") {
        writeln!(out, "{}", report.trim_end())?;
        writeln!(out)?;
    }
    for name in PROPERTIES {
        if let Some(value) = db.property(name) {
            writeln!(out, "{name}: {value}")?;
        }
    }
    close(db)
}
