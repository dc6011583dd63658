//! `compact`: a manual compaction of the whole key space.

use std::io::Write;
use std::path::Path;

use shaledb::Db;

use crate::error::CliError;
use crate::open::{close, open_existing};

/// Files per level and total table bytes, as one line.
fn shape(db: &Db) -> String {
    let files: Vec<String> = (0..)
        .map_while(|level| db.property(&format!("shaledb.num-files-at-level{level}")))
        .collect();
    let size = db
        .property("shaledb.total-sst-size")
        .unwrap_or_else(|| "?".to_string());
    format!("files per level [{}], {size} table bytes", files.join(" "))
}

/// Compacts the database in `dir`, printing its shape before and after.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    let db = open_existing(dir)?;
    writeln!(out, "before: {}", shape(&db))?;
    db.compact_range::<&[u8], _>(..)
        .map_err(|e| CliError::db(dir, e))?;
    writeln!(out, "after:  {}", shape(&db))?;
    close(db)
}
