//! The write-ahead log as the write path sees it: the open log, and the logs closed by
//! memtable switches that no sync has made durable yet.
//!
//! A switch does not sync the log it closes. Syncing it there stalled every writer for
//! as long as the disk took to take up to a memtable's worth of data (67 ms for 64 MiB
//! on this machine), and a closed log needs no sync of its own: once its memtable is
//! flushed it is deleted, and until then a power loss that cuts its tail is caught at
//! replay by the link that opens the next log (`crate::wal::LogLink`). Two rules keep
//! that sound:
//! - a sync syncs the closed logs first, oldest first, so every record before a synced
//!   one is durable too, and replay never stops short of it;
//! - a closed log is dropped from the list (unsynced) only when the manifest no longer
//!   needs it, that is, when its memtable is in a table.
//!
//! Only the group-commit leader appends, syncs or switches; it holds `DbCore::wal`,
//! which is never held while taking `state` (see the lock order in `db/mod.rs`).

use std::io;

use crate::fs::WritableFile;
use crate::wal::{LogLink, LogWriter};

/// A log closed by a memtable switch and not synced since.
struct ClosedLog {
    number: u64,
    writer: LogWriter,
}

/// The open write-ahead log and the unsynced logs closed before it.
pub(crate) struct Wal {
    number: u64,
    writer: LogWriter,
    /// Oldest first.
    unsynced: Vec<ClosedLog>,
}

impl Wal {
    /// Starts appending to the new, empty log file `number`.
    pub(crate) fn new(number: u64, file: Box<dyn WritableFile>) -> Self {
        Wal {
            number,
            writer: LogWriter::preallocating(file),
            unsynced: Vec::new(),
        }
    }

    /// Appends one record; with `sync`, it and everything before it (in this log and
    /// in the closed ones) is durable when this returns, otherwise it is in the OS.
    pub(crate) fn append(&mut self, record: &[u8], sync: bool) -> io::Result<()> {
        self.writer.add_record(record)?;
        if sync {
            self.sync()
        } else {
            self.writer.flush()
        }
    }

    /// Makes every record in every log durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        for closed in &mut self.unsynced {
            closed.writer.sync_final()?;
        }
        self.unsynced.clear();
        self.writer.sync()
    }

    /// Hands buffered bytes of the open log to the OS.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Closes the open log, unsynced, and continues in the new, empty log file
    /// `number`, whose first record links it to the closed one. Returns the bytes the
    /// closed log stored through a memory map.
    pub(crate) fn switch(&mut self, number: u64, file: Box<dyn WritableFile>) -> io::Result<u64> {
        self.writer.flush()?;
        let link = LogLink {
            previous: self.number,
            length: self.writer.len(),
        };
        let mut writer = LogWriter::preallocating(file);
        writer.add_record(&link.encode())?;
        writer.flush()?;
        let closed = ClosedLog {
            number: self.number,
            writer: std::mem::replace(&mut self.writer, writer),
        };
        let mapped = closed.writer.mapped_bytes();
        self.unsynced.push(closed);
        self.number = number;
        Ok(mapped)
    }

    /// Forgets the closed logs below `log_number`, the oldest log the manifest still
    /// needs: their memtables are in tables, and no sync needs to reach them.
    pub(crate) fn forget_logs_below(&mut self, log_number: u64) {
        self.unsynced.retain(|closed| closed.number >= log_number);
    }

    /// Bytes the open log stored through a memory map.
    pub(crate) fn mapped_bytes(&self) -> u64 {
        self.writer.mapped_bytes()
    }
}
