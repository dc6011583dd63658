//! Reading one table or log file on its own, without opening a database, in the manner
//! of RocksDB's `sst_dump` and `ldb dump_wal`.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{read_all, FileSystem, RealFileSystem};
use crate::iter::InternalIterator;
use crate::key::{parse_internal_key, ValueKind};
use crate::table::TableReader;
use crate::wal::{LogReader, ReadOutcome, WalRecord};

/// Whether an entry is a value or a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A value.
    Put,
    /// A deletion marker.
    Delete,
}

impl From<ValueKind> for EntryKind {
    fn from(k: ValueKind) -> Self {
        match k {
            ValueKind::Put => EntryKind::Put,
            ValueKind::Delete => EntryKind::Delete,
        }
    }
}

/// One entry of a table or log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    /// The user key.
    pub key: Vec<u8>,
    /// The write's sequence number.
    pub sequence: u64,
    /// Value or tombstone.
    pub kind: EntryKind,
    /// The value (empty for a tombstone).
    pub value: Vec<u8>,
}

/// Where a data block sits and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// Offset of the block in the file.
    pub offset: u64,
    /// Stored size, without the 5-byte trailer.
    pub stored_size: u64,
    /// Entries read from the block (up to the damage, if it is damaged).
    pub entries: u64,
    /// Why the block could not be read in full, if it could not.
    pub damage: Option<String>,
}

/// What a table file holds.
#[derive(Debug, Clone)]
pub struct TableDump {
    /// File size in bytes.
    pub file_size: u64,
    /// Properties recorded when the table was written, as (name, value).
    pub properties: Vec<(&'static str, u64)>,
    /// The data blocks, in order.
    pub blocks: Vec<BlockInfo>,
    /// Every entry of the blocks that read back intact, in order.
    pub entries: Vec<TableEntry>,
}

impl TableDump {
    /// The blocks that could not be read in full.
    pub fn damaged_blocks(&self) -> impl Iterator<Item = &BlockInfo> {
        self.blocks.iter().filter(|b| b.damage.is_some())
    }
}

/// Reads every block and entry of the table at `path`, verifying checksums. A damaged
/// data block is reported in its [`BlockInfo`] and the blocks after it are still read,
/// as `sst_dump` goes on past a bad block; a table whose footer, index or properties
/// cannot be read is an error.
pub fn dump_table(path: &Path) -> Result<TableDump> {
    let fs = RealFileSystem;
    let file = fs.open(path)?;
    let file_size = file.size()?;
    let table = Arc::new(TableReader::open_unnamed(
        file,
        path.to_path_buf(),
        file_size,
    )?);
    let mut blocks = Vec::new();
    let mut entries = Vec::new();
    table.for_each_data_block(|read| {
        let (handle, block) = read?;
        let mut info = BlockInfo {
            offset: handle.offset,
            stored_size: handle.size,
            entries: 0,
            damage: None,
        };
        match block {
            Ok(block) => {
                let mut it =
                    crate::table::BlockIter::new(block, Arc::clone(table.path()), handle.offset);
                it.seek_to_first();
                while it.valid() {
                    let Some(parsed) = parse_internal_key(it.key()) else {
                        let e = Error::corruption(path, handle.offset, "undecodable internal key");
                        info.damage = Some(e.to_string());
                        break;
                    };
                    entries.push(TableEntry {
                        key: parsed.user_key.to_vec(),
                        sequence: parsed.seq,
                        kind: parsed.kind.into(),
                        value: it.value().to_vec(),
                    });
                    info.entries += 1;
                    it.next();
                }
                if let Err(e) = it.status() {
                    info.damage.get_or_insert(e.to_string());
                }
            }
            Err(e) => info.damage = Some(e.to_string()),
        }
        blocks.push(info);
        Ok(())
    })?;
    Ok(TableDump {
        file_size,
        properties: table.properties().to_pairs(),
        blocks,
        entries,
    })
}

/// One record found in a log: a write batch, or the link to the log before it.
#[derive(Debug, Clone)]
pub struct LogRecord {
    /// Offset of the record in the file.
    pub offset: u64,
    /// Sequence number of the batch's first entry (0 for a link).
    pub sequence: u64,
    /// The batch's entries (sequence numbers filled in); none for a link.
    pub entries: Vec<TableEntry>,
    /// For a link (the first record of a log started by a memtable switch): the log
    /// this one continues.
    pub continues: Option<LogContinuation>,
}

/// Which log a log continues, and where that log ended when it was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogContinuation {
    /// The earlier log's file number.
    pub log: u64,
    /// Its length in bytes when it was closed.
    pub from_byte: u64,
}

/// What a log file holds.
#[derive(Debug, Clone)]
pub struct LogDump {
    /// Every intact record before any damage.
    pub records: Vec<LogRecord>,
    /// Where replay would stop, and why, if the log ends in a damaged record.
    pub damage: Option<(u64, String)>,
}

/// Reads the write batches in the log at `path`.
pub fn dump_log(path: &Path) -> Result<LogDump> {
    let bytes = read_all(&RealFileSystem, path)?;
    let mut reader = LogReader::new(&bytes);
    let mut records = Vec::new();
    let damage = loop {
        match reader.read_record() {
            ReadOutcome::Eof => break None,
            ReadOutcome::Damaged { offset, reason, .. } => break Some((offset, reason)),
            ReadOutcome::Record { offset, data } => {
                let batch = match WalRecord::decode(&data) {
                    Ok(WalRecord::Batch(b)) => b,
                    Ok(WalRecord::Link(link)) => {
                        records.push(LogRecord {
                            offset,
                            sequence: 0,
                            entries: Vec::new(),
                            continues: Some(LogContinuation {
                                log: link.previous,
                                from_byte: link.length,
                            }),
                        });
                        continue;
                    }
                    Err(reason) => break Some((offset, reason)),
                };
                let mut entries = Vec::new();
                for (i, e) in batch.iter().enumerate() {
                    let e = e.map_err(|d| Error::corruption(path, offset, d))?;
                    entries.push(TableEntry {
                        key: e.key.to_vec(),
                        sequence: batch.sequence + i as u64,
                        kind: e.kind.into(),
                        value: e.value.to_vec(),
                    });
                }
                records.push(LogRecord {
                    offset,
                    sequence: batch.sequence,
                    entries,
                    continues: None,
                });
            }
        }
    };
    Ok(LogDump { records, damage })
}
