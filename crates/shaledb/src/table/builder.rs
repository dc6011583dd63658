//! Writes a table from entries given in increasing internal-key order.

use std::io;

use super::block_builder::BlockBuilder;
use super::bloom::{key_hash, BloomFilter};
use super::format::{
    block_crc, compress, compression_byte, BlockHandle, Footer, BLOCK_TRAILER_LEN,
};
use super::properties::TableProperties;
use crate::fs::WritableFile;
use crate::key::{parse_internal_key, user_key, ValueKind};
use crate::options::Compression;

/// Restart interval of data blocks. A seek in a block binary-searches the restarts,
/// then decodes entries up to the target: 8 halves that scan against RocksDB's 16 for
/// 0.5% more table bytes (100-byte values), and took seekrandom from 136k to 146k and
/// readrandom from 274k to 307k ops/s (medians of 7 interleaved runs at 1M keys).
const DATA_RESTART_INTERVAL: usize = 8;

/// Restart interval of index blocks. Consecutive index keys share most of their bytes,
/// so with prefix compression between restarts the index takes about half the room of
/// one that restarts at every entry (as LevelDB's and RocksDB's do by default): 0.58
/// against 1.05 bytes per db_bench entry. A seek binary-searches a sixteenth as many
/// restarts and touches fewer cache lines: seekrandom rose 4% and readrandom 1%
/// (medians of 6 interleaved runs at 1M keys).
const INDEX_RESTART_INTERVAL: usize = 16;
/// The longest encoded block handle: two varint u64s.
const MAX_HANDLE_LEN: usize = 20;

/// A data block at least this full (percent of `block_size`) is closed before an entry
/// that would take it past `block_size`, as RocksDB's `block_size_deviation` (10) does.
/// Decoded blocks then fit the allocator's `block_size` class: cut just past 4096
/// bytes, a 4 KiB block took a 5 KiB slot, so a block cache held a fifth fewer blocks
/// than its size allowed.
const BLOCK_CLOSE_AT_PERCENT: usize = 90;

/// What a finished table holds.
#[derive(Debug, Clone)]
pub(crate) struct TableSummary {
    pub file_size: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub properties: TableProperties,
}

/// Writes one table file.
pub(crate) struct TableBuilder {
    file: Box<dyn WritableFile>,
    /// The table's file number, which every block checksum depends on.
    number: u64,
    offset: u64,
    block_size: usize,
    compression: Compression,
    bloom_bits_per_key: u32,
    data: BlockBuilder,
    index: BlockBuilder,
    hashes: Vec<u64>,
    props: TableProperties,
    smallest: Vec<u8>,
    scratch: Vec<u8>,
}

impl TableBuilder {
    /// A builder of table number `number` writing to `file`.
    pub(crate) fn new(
        file: Box<dyn WritableFile>,
        number: u64,
        block_size: usize,
        compression: Compression,
        bloom_bits_per_key: u32,
    ) -> Self {
        TableBuilder {
            file,
            number,
            offset: 0,
            block_size,
            compression,
            bloom_bits_per_key,
            data: BlockBuilder::new(DATA_RESTART_INTERVAL),
            index: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            hashes: Vec::new(),
            props: TableProperties {
                smallest_seq: u64::MAX,
                compression: u64::from(compression_byte(compression)),
                ..TableProperties::default()
            },
            smallest: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Appends an entry. Internal keys must be strictly increasing.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.props.num_entries == 0 {
            self.smallest = key.to_vec();
        } else {
            debug_assert!(
                crate::key::compare_internal(self.data_last_key(), key).is_lt(),
                "table keys must be added in increasing order"
            );
        }
        let uk = user_key(key);
        if self.bloom_bits_per_key > 0
            && (self.props.num_entries == 0 || user_key(self.data_last_key()) != uk)
        {
            self.hashes.push(key_hash(uk));
        }
        if let Some(parsed) = parse_internal_key(key) {
            if parsed.kind == ValueKind::Delete {
                self.props.num_deletions += 1;
            }
            self.props.smallest_seq = self.props.smallest_seq.min(parsed.seq);
            self.props.largest_seq = self.props.largest_seq.max(parsed.seq);
        }
        self.props.num_entries += 1;
        self.props.raw_key_bytes += key.len() as u64;
        self.props.raw_value_bytes += value.len() as u64;
        let filled = self.data.estimated_size();
        if !self.data.is_empty()
            && filled + BlockBuilder::max_entry_size(key, value) > self.block_size
            && filled * 100 >= self.block_size * BLOCK_CLOSE_AT_PERCENT
        {
            self.flush_data_block()?;
        }
        self.data.add(key, value);
        self.scratch.clear();
        self.scratch.extend_from_slice(key);
        if self.data.estimated_size() >= self.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// The last key added (kept even after its block is flushed).
    fn data_last_key(&self) -> &[u8] {
        &self.scratch
    }

    /// Bytes written so far plus the pending block.
    pub(crate) fn estimated_file_size(&self) -> u64 {
        self.offset + self.data.estimated_size() as u64
    }

    pub(crate) fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    fn flush_data_block(&mut self) -> io::Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let last_key = self.data.last_key().to_vec();
        // The index block's offsets are u32 by format; it is never cut, so huge keys in
        // a huge table could pass 4 GiB. Fail the table rather than wrap an offset.
        let index_after = self.index.estimated_size()
            + BlockBuilder::max_entry_size(&last_key, &[0u8; MAX_HANDLE_LEN]);
        if index_after > u32::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a table's index would pass 4 GiB: its keys are too large for one table",
            ));
        }
        let raw = self.data.finish();
        let handle = self.write_block(&raw, self.compression)?;
        self.props.data_blocks += 1;
        self.props.data_bytes += handle.size + BLOCK_TRAILER_LEN as u64;
        let mut encoded = Vec::with_capacity(20);
        handle.encode_to(&mut encoded);
        self.index.add(&last_key, &encoded);
        Ok(())
    }

    /// Writes a block with its trailer, compressing it when that pays.
    fn write_block(&mut self, raw: &[u8], compression: Compression) -> io::Result<BlockHandle> {
        let (kind, stored) = match compress(raw, compression) {
            Some((kind, stored)) => (kind, std::borrow::Cow::Owned(stored)),
            None => (0, std::borrow::Cow::Borrowed(raw)),
        };
        let handle = BlockHandle {
            offset: self.offset,
            size: stored.len() as u64,
        };
        let mut trailer = [0u8; BLOCK_TRAILER_LEN];
        trailer[0] = kind;
        let place = Some((self.number, handle.offset));
        trailer[1..].copy_from_slice(&block_crc(&stored, kind, place).to_le_bytes());
        self.file.append(&stored)?;
        self.file.append(&trailer)?;
        self.offset += (stored.len() + BLOCK_TRAILER_LEN) as u64;
        Ok(handle)
    }

    /// Records that the table holds data written at `seq` though its key was stored
    /// with sequence number 0 (see `compaction/job.rs`), so that the properties keep the
    /// newest sequence number of the table's data.
    pub(crate) fn note_sequence(&mut self, seq: u64) {
        self.props.largest_seq = self.props.largest_seq.max(seq);
    }

    /// Writes the filter, properties, index and footer, then syncs the file.
    pub(crate) fn finish(mut self) -> io::Result<TableSummary> {
        self.flush_data_block()?;
        let filter = if self.bloom_bits_per_key > 0 {
            let bits = BloomFilter::build(&self.hashes, self.bloom_bits_per_key);
            self.write_block(&bits, Compression::None)?
        } else {
            BlockHandle::default()
        };
        self.props.filter_bytes = filter.size;
        let index_raw = self.index.finish();
        self.props.index_bytes = index_raw.len() as u64;
        if self.props.num_entries == 0 {
            self.props.smallest_seq = 0;
        }
        let props_raw = self.props.encode();
        let properties = self.write_block(&props_raw, Compression::None)?;
        let index = self.write_block(&index_raw, Compression::None)?;
        let footer = Footer {
            filter,
            properties,
            index,
            number: Some(self.number),
        };
        self.file.append(&footer.encode())?;
        self.offset += super::format::FOOTER_LEN as u64;
        self.file.sync()?;
        Ok(TableSummary {
            file_size: self.offset,
            smallest: self.smallest,
            largest: self.scratch,
            properties: self.props,
        })
    }
}
