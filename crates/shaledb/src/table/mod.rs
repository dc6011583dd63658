//! The SSTable: an immutable sorted file of internal keys and values.
//!
//! Layout (byte by byte in `docs/table.md`):
//! ```text
//! [data block 0][trailer] ... [data block n][trailer]
//! [filter block][trailer] [properties block][trailer] [index block][trailer]
//! [footer: 64 bytes]
//! ```
//! Every block is followed by a 5-byte trailer: the compression type and a CRC32C of the
//! stored bytes plus that type byte. The footer holds the handles of the filter,
//! properties and index blocks, the format version, its own CRC32C and a magic number.
//!
//! A table is written once by one thread ([`TableBuilder`]) and then read by any number
//! of threads through a shared [`TableReader`].

mod block;
mod block_builder;
mod bloom;
mod builder;
mod format;
mod iter;
mod properties;
mod readahead;
mod reader;
mod restart_prefixes;

pub(crate) use block::{Block, BlockIter};
pub(crate) use bloom::{key_hash, BloomFilter};
pub(crate) use builder::{TableBuilder, TableSummary};
pub(crate) use format::block_crc;
pub(crate) use iter::TableIterator;
pub(crate) use reader::TableReader;

#[cfg(test)]
mod tests;
