//! Inspection tools for operators: dumping a table or log file and verifying a whole
//! database. The `shaledb` command line is built on these.

mod dump;
mod verify;

pub use dump::{
    dump_log, dump_table, BlockInfo, EntryKind, LogContinuation, LogDump, LogRecord, TableDump,
    TableEntry,
};
pub use verify::VerifyReport;
