//! `dump`: one table or log file, read on its own in the manner of RocksDB's
//! `sst_dump` and `ldb dump_wal`.
//!
//! A table prints its size, properties and block layout; a log prints its records. A
//! damaged block or record is reported where it is found and fails the command once
//! everything readable has been printed.
//! Entries are printed with `--entries` or `--limit N`, one per line as
//! `key<TAB>@sequence<TAB>put|del<TAB>value`.

use std::io::Write;
use std::path::Path;

use shaledb::tools::{dump_log, dump_table, EntryKind, TableEntry};

use crate::cli::DumpArgs;
use crate::codec::Codec;
use crate::error::CliError;

/// What kind of file a path names, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Table,
    Log,
}

fn file_kind(path: &Path) -> Option<FileKind> {
    match path.extension()?.to_str()? {
        "sst" => Some(FileKind::Table),
        "log" => Some(FileKind::Log),
        _ => None,
    }
}

fn print_entry(out: &mut dyn Write, codec: Codec, e: &TableEntry) -> std::io::Result<()> {
    let kind = match e.kind {
        EntryKind::Put => "put",
        EntryKind::Delete => "del",
    };
    writeln!(
        out,
        "{}\t@{}\t{kind}\t{}",
        codec.show(&e.key),
        e.sequence,
        codec.show(&e.value)
    )
}

/// Dumps the file named in `args`.
pub fn run(args: &DumpArgs, codec: Codec, out: &mut dyn Write) -> Result<(), CliError> {
    let path = args.file.as_path();
    let kind = file_kind(path).ok_or_else(|| CliError::UnknownFileKind(path.to_path_buf()))?;
    if let Err(source) = std::fs::metadata(path) {
        return Err(CliError::File {
            path: path.to_path_buf(),
            source,
        });
    }
    let limit = match (args.limit, args.entries) {
        (Some(n), _) => n,
        (None, true) => usize::MAX,
        (None, false) => 0,
    };
    match kind {
        FileKind::Table => table(path, codec, limit, out),
        FileKind::Log => log(path, codec, limit, out),
    }
}

fn table(path: &Path, codec: Codec, limit: usize, out: &mut dyn Write) -> Result<(), CliError> {
    let dump = dump_table(path).map_err(|e| CliError::db(path, e))?;
    writeln!(out, "table: {}", path.display())?;
    writeln!(out, "file size: {} bytes", dump.file_size)?;
    writeln!(out, "properties:")?;
    for (name, value) in &dump.properties {
        writeln!(out, "  {name}: {value}")?;
    }
    writeln!(out, "data blocks: {}", dump.blocks.len())?;
    writeln!(
        out,
        "  {:>12} {:>12} {:>8}",
        "offset", "stored size", "entries"
    )?;
    for b in &dump.blocks {
        write!(
            out,
            "  {:>12} {:>12} {:>8}",
            b.offset, b.stored_size, b.entries
        )?;
        match &b.damage {
            Some(e) => writeln!(out, "  DAMAGED: {e}")?,
            None => writeln!(out)?,
        }
    }
    writeln!(out, "entries: {}", dump.entries.len())?;
    for e in dump.entries.iter().take(limit) {
        print_entry(out, codec, e)?;
    }
    match dump.damaged_blocks().count() {
        0 => Ok(()),
        damaged => Err(CliError::DamagedTable {
            path: path.to_path_buf(),
            damaged,
        }),
    }
}

fn log(path: &Path, codec: Codec, limit: usize, out: &mut dyn Write) -> Result<(), CliError> {
    let dump = dump_log(path).map_err(|e| CliError::db(path, e))?;
    let entries: usize = dump.records.iter().map(|r| r.entries.len()).sum();
    writeln!(out, "log: {}", path.display())?;
    writeln!(out, "records: {}, entries: {entries}", dump.records.len())?;
    let mut shown = 0;
    for (i, r) in dump.records.iter().enumerate() {
        // With entries asked for, the listing ends where they do.
        if limit > 0 && shown >= limit {
            writeln!(out, "... {} more records", dump.records.len() - i)?;
            break;
        }
        if let Some(c) = r.continues {
            writeln!(
                out,
                "record at offset {}: continues log {:06} from byte {}",
                r.offset, c.log, c.from_byte
            )?;
            continue;
        }
        writeln!(
            out,
            "record at offset {}: sequence {}, {} entries",
            r.offset,
            r.sequence,
            r.entries.len()
        )?;
        for e in &r.entries {
            if shown >= limit {
                break;
            }
            print_entry(out, codec, e)?;
            shown += 1;
        }
    }
    match dump.damage {
        None => Ok(()),
        Some((offset, reason)) => Err(CliError::DamagedLog {
            path: path.to_path_buf(),
            offset,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(file_kind(Path::new("db/000012.sst")), Some(FileKind::Table));
        assert_eq!(file_kind(Path::new("000003.log")), Some(FileKind::Log));
        assert_eq!(file_kind(Path::new("MANIFEST-000001")), None);
        assert_eq!(file_kind(Path::new("x.txt")), None);
    }
}
