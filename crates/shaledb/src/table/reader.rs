//! Opens a table and serves point lookups and block reads from it.
//!
//! The index block, filter and properties are read and verified once at open and kept
//! in memory; data blocks go through the shared block cache. Every block's checksum is
//! verified when it is read from the file.

use std::path::PathBuf;
use std::sync::Arc;

use super::block::{Block, BlockIter};
use super::bloom::BloomFilter;
use super::format::{
    block_crc, decompress, BlockHandle, Footer, BLOCK_TRAILER_LEN, FOOTER_LEN, V1_FOOTER_LEN,
};
use super::properties::TableProperties;
use super::TableIterator;
use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::fs::RandomAccessFile;
use crate::iter::InternalIterator;
use crate::key::user_key;

/// A table open for reading, shared by all readers.
pub(crate) struct TableReader {
    file: Arc<dyn RandomAccessFile>,
    path: Arc<PathBuf>,
    number: u64,
    file_size: u64,
    footer: Footer,
    index: Arc<Block>,
    filter: Option<Arc<[u8]>>,
    properties: TableProperties,
    cache: Option<Arc<BlockCache>>,
}

impl TableReader {
    /// Opens table number `number`, of `file_size` bytes, verifying the footer, index,
    /// filter and properties. A table whose footer names another number is damaged (a
    /// table file copied over this one, say).
    pub(crate) fn open(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        number: u64,
        file_size: u64,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Self> {
        Self::open_as(file, path, Some(number), file_size, cache)
    }

    /// Opens a table file of any name as the table its footer says it is, uncached (for
    /// tools that read a single file).
    pub(crate) fn open_unnamed(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        file_size: u64,
    ) -> Result<Self> {
        Self::open_as(file, path, None, file_size, None)
    }

    fn open_as(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        expected: Option<u64>,
        file_size: u64,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Self> {
        let path = Arc::new(path);
        let corrupt =
            |offset: u64, detail: String| Error::corruption(path.as_ref().clone(), offset, detail);
        let actual_size = file.size()?;
        if actual_size != file_size {
            return Err(corrupt(
                0,
                format!("table is {actual_size} bytes, the manifest says {file_size}"),
            ));
        }
        if file_size < V1_FOOTER_LEN as u64 {
            return Err(corrupt(
                0,
                format!("table of {file_size} bytes has no footer"),
            ));
        }
        let tail_len = file_size.min(FOOTER_LEN as u64);
        let tail_at = file_size - tail_len;
        let mut tail = [0u8; FOOTER_LEN];
        // `tail_len` is at most FOOTER_LEN, so the cast cannot truncate.
        let tail = &mut tail[..tail_len as usize];
        file.read_exact_at(tail, tail_at)?;
        let footer = Footer::decode(tail).map_err(|(at, d)| corrupt(tail_at + at as u64, d))?;
        let footer_at = file_size - footer.len() as u64;
        let number = match (expected, footer.number) {
            (Some(expected), Some(named)) if named != expected => {
                return Err(corrupt(
                    footer_at,
                    format!("the footer names table {named}, not {expected}"),
                ));
            }
            (Some(expected), _) => expected,
            (None, named) => named.unwrap_or(0),
        };
        let mut reader = TableReader {
            file,
            path: Arc::clone(&path),
            number,
            file_size,
            footer,
            index: Arc::new(Block::new(vec![0, 0, 0, 0, 1, 0, 0, 0]).map_err(|d| corrupt(0, d))?),
            filter: None,
            properties: TableProperties::default(),
            cache,
        };
        let index_raw = reader.read_block_bytes(footer.index)?;
        let index = Block::new(index_raw).map_err(|d| corrupt(footer.index.offset, d))?;
        reader.index = Arc::new(index.with_restart_prefixes());
        if footer.filter.size > 0 {
            reader.filter = Some(reader.read_block_bytes(footer.filter)?.into());
        }
        let props_raw = reader.read_block_bytes(footer.properties)?;
        reader.properties = TableProperties::decode(&props_raw)
            .ok_or_else(|| corrupt(footer.properties.offset, "undecodable properties".into()))?;
        Ok(reader)
    }

    pub(crate) fn path(&self) -> &Arc<PathBuf> {
        &self.path
    }

    pub(crate) fn properties(&self) -> &TableProperties {
        &self.properties
    }

    pub(crate) fn index_block(&self) -> &Arc<Block> {
        &self.index
    }

    /// Reads, verifies and decompresses the block at `handle`.
    pub(crate) fn read_block_bytes(&self, handle: BlockHandle) -> Result<Vec<u8>> {
        let stored = self.read_stored(handle)?;
        self.unpack_block(&stored, handle.offset)
    }

    /// The block at `handle` as the file stores it, its trailer included.
    fn read_stored(&self, handle: BlockHandle) -> Result<Vec<u8>> {
        let mut stored = vec![0u8; self.stored_len(handle)?];
        self.file.read_exact_at(&mut stored, handle.offset)?;
        Ok(stored)
    }

    /// The bytes the block at `handle` takes in the file, its trailer included, once
    /// the handle is checked to lie within the data (before the footer).
    pub(crate) fn stored_len(&self, handle: BlockHandle) -> Result<usize> {
        let end = handle
            .offset
            .checked_add(handle.size)
            .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64));
        match end {
            Some(end) if end <= self.data_end() => {
                usize::try_from(handle.size + BLOCK_TRAILER_LEN as u64).map_err(|_| {
                    Error::corruption(self.path.as_ref().clone(), handle.offset, "block too large")
                })
            }
            _ => Err(Error::corruption(
                self.path.as_ref().clone(),
                handle.offset,
                format!(
                    "block handle (offset {}, size {}) runs past the data ({} bytes)",
                    handle.offset,
                    handle.size,
                    self.data_end()
                ),
            )),
        }
    }

    /// Where the blocks end and the footer starts.
    pub(crate) fn data_end(&self) -> u64 {
        self.file_size - self.footer.len() as u64
    }

    /// Reads `buf.len()` bytes of the file at `offset`.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        Ok(self.file.read_exact_at(buf, offset)?)
    }

    /// Verifies and decompresses a block as stored (`stored`: its bytes then its
    /// trailer), read from `offset`.
    pub(crate) fn unpack_block(&self, stored: &[u8], offset: u64) -> Result<Vec<u8>> {
        let (stored, trailer) = stored.split_at(stored.len() - BLOCK_TRAILER_LEN);
        let kind = trailer[0];
        let expected = u32::from_le_bytes([trailer[1], trailer[2], trailer[3], trailer[4]]);
        let actual = block_crc(stored, kind, self.footer.place(offset));
        if expected != actual {
            return Err(Error::corruption(
                self.path.as_ref().clone(),
                offset,
                format!("block checksum mismatch: expected {expected:#010x}, found {actual:#010x}"),
            ));
        }
        decompress(stored, kind)
            .map_err(|d| Error::corruption(self.path.as_ref().clone(), offset, d))
    }

    /// The data block at `handle` if the cache holds it.
    pub(crate) fn cached_block(&self, handle: BlockHandle) -> Option<Arc<Block>> {
        self.cache.as_ref()?.get(&(self.number, handle.offset))
    }

    /// Builds the data block from its bytes as stored and, when `fill_cache`, adds it
    /// to the cache.
    pub(crate) fn data_block_from(
        &self,
        handle: BlockHandle,
        stored: &[u8],
        fill_cache: bool,
    ) -> Result<Arc<Block>> {
        let raw = self.unpack_block(stored, handle.offset)?;
        let block = Arc::new(
            Block::new(raw)
                .map_err(|d| Error::corruption(self.path.as_ref().clone(), handle.offset, d))?,
        );
        if let (true, Some(cache)) = (fill_cache, &self.cache) {
            cache.insert((self.number, handle.offset), Arc::clone(&block));
        }
        Ok(block)
    }

    /// The data block at `handle`, from the cache or the file; a block read from the
    /// file is added to the cache when `fill_cache` (compactions read without it, so a
    /// merge does not evict the blocks readers use).
    pub(crate) fn data_block(&self, handle: BlockHandle, fill_cache: bool) -> Result<Arc<Block>> {
        if let Some(block) = self.cached_block(handle) {
            return Ok(block);
        }
        self.read_data_block(handle, fill_cache)
    }

    /// The data block at `handle` read from the file, for a caller that has already
    /// looked in the cache; added to the cache when `fill_cache`.
    pub(crate) fn read_data_block(
        &self,
        handle: BlockHandle,
        fill_cache: bool,
    ) -> Result<Arc<Block>> {
        let stored = self.read_stored(handle)?;
        self.data_block_from(handle, &stored, fill_cache)
    }

    /// Decodes an index entry's value into a block handle.
    pub(crate) fn decode_handle(&self, value: &[u8]) -> Result<BlockHandle> {
        let mut cursor = value;
        BlockHandle::decode_from(&mut cursor).ok_or_else(|| {
            Error::corruption(
                self.path.as_ref().clone(),
                0,
                "undecodable block handle in index",
            )
        })
    }

    /// The table's bloom filter (see [`BloomFilter`]), which outlives the reader and its
    /// open file.
    pub(crate) fn filter(&self) -> Option<Arc<[u8]>> {
        self.filter.clone()
    }

    /// The chance that the filter passes a user key the table does not hold (1 without
    /// a filter).
    pub(crate) fn filter_false_positive_rate(&self) -> f64 {
        self.filter
            .as_deref()
            .map_or(1.0, BloomFilter::false_positive_rate)
    }

    /// True if the filter allows that a user key with this [`super::key_hash`] is in the
    /// table.
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        match &self.filter {
            Some(f) => BloomFilter::may_contain(f, hash),
            None => true,
        }
    }

    /// The first entry at or after `lookup` (an internal key) if it has the same user
    /// key; the bloom filter is consulted first, with `hash`, the user key's
    /// [`super::key_hash`].
    pub(crate) fn get(&self, lookup: &[u8], hash: u64) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let uk = user_key(lookup);
        if !self.may_contain(hash) {
            return Ok(None);
        }
        let mut index = BlockIter::new(Arc::clone(&self.index), Arc::clone(&self.path), 0);
        index.seek(lookup);
        if !index.valid() {
            index.status()?;
            return Ok(None);
        }
        let handle = self.decode_handle(index.value())?;
        let block = self.data_block(handle, true)?;
        let mut it = BlockIter::new(block, Arc::clone(&self.path), handle.offset);
        it.seek(lookup);
        if !it.valid() {
            it.status()?;
            return Ok(None);
        }
        if user_key(it.key()) != uk {
            return Ok(None);
        }
        Ok(Some((it.key().to_vec(), it.value().to_vec())))
    }

    /// A cursor over the index block's entries (last key of each data block -> handle).
    /// Reads every data block in index order, handing `visit` each one's handle and
    /// block, or the error that stopped its read (a handle that does not decode, a
    /// checksum mismatch, and last an index that cannot be walked to its end), so that
    /// a caller can go on past a damaged block (repair, `dump`). Blocks are read from
    /// the file, not added to the cache. Fails only if `visit` fails.
    pub(crate) fn for_each_data_block(
        &self,
        mut visit: impl FnMut(Result<(BlockHandle, Result<Arc<Block>>)>) -> Result<()>,
    ) -> Result<()> {
        let mut index = self.index_iter();
        index.seek_to_first();
        while index.valid() {
            let read = self
                .decode_handle(index.value())
                .map(|handle| (handle, self.read_data_block(handle, false)));
            visit(read)?;
            index.next();
        }
        match index.status() {
            Ok(()) => Ok(()),
            Err(e) => visit(Err(e)),
        }
    }

    pub(crate) fn index_iter(&self) -> BlockIter {
        BlockIter::new(Arc::clone(&self.index), Arc::clone(&self.path), 0)
    }

    /// A cursor over every entry.
    pub(crate) fn iter(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), true)
    }

    /// A cursor over every entry that leaves the block cache as it is.
    pub(crate) fn iter_without_cache_fill(self: &Arc<Self>) -> TableIterator {
        TableIterator::new(Arc::clone(self), false)
    }

    /// Reads every data block and checks its checksum and entries.
    pub(crate) fn verify(self: &Arc<Self>) -> Result<u64> {
        let mut it = self.iter();
        it.seek_to_first();
        let mut n = 0u64;
        while it.valid() {
            if crate::key::parse_internal_key(it.key()).is_none() {
                return Err(Error::corruption(
                    self.path.as_ref().clone(),
                    0,
                    "undecodable internal key",
                ));
            }
            n += 1;
            it.next();
        }
        it.status()?;
        if n != self.properties.num_entries {
            return Err(Error::corruption(
                self.path.as_ref().clone(),
                0,
                format!(
                    "table holds {n} entries, its properties say {}",
                    self.properties.num_entries
                ),
            ));
        }
        Ok(n)
    }
}
