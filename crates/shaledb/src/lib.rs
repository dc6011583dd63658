//! ShaleDB: an embedded, log-structured merge-tree key-value store.
//!
//! Writes go to a write-ahead log and a skip-list memtable; full memtables are flushed
//! to immutable sorted tables (SSTables) that background compaction merges, leveled by
//! default or size-tiered. Every table has a bloom filter and a block index, and hot
//! blocks live in a shared cache. Range scans merge all sources in both directions.
//!
//! ```
//! use shaledb::{Db, Options, WriteBatch, WriteOptions};
//!
//! # fn main() -> shaledb::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put(b"user:1", b"ada")?;
//! let mut batch = WriteBatch::new();
//! batch.put(b"user:2", b"grace");
//! batch.delete(b"user:1");
//! db.write_opt(batch, &WriteOptions { sync: true, ..Default::default() })?;
//! assert_eq!(db.get(b"user:2")?.as_deref(), Some(&b"grace"[..]));
//! for item in db.prefix(b"user:") {
//!     let (key, value) = item?;
//!     println!("{} = {}", String::from_utf8_lossy(&key), String::from_utf8_lossy(&value));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! On-disk formats are described in the repository's `docs/` folder.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod cache;
mod coding;
mod compaction;
mod db;
mod error;
pub mod fs;
#[doc(hidden)]
pub mod fuzzing;
mod iter;
mod key;
mod memtable;
mod options;
mod table;
pub mod tools;
mod version;
mod wal;

pub use batch::WriteBatch;
pub use db::{repair, repair_with_options, Db, RepairReport, Snapshot};
pub use error::{Error, Result};
pub use iter::{Iter, KvPair, RawIter};
pub use key::SequenceNumber;
pub use options::{CompactionStyle, Compression, Options, WalRecoveryMode, WriteOptions};
