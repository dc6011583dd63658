//! Entry points for fuzz targets: each decoder that reads bytes from disk, fed
//! arbitrary input. None may panic, hang, or allocate more than a bound set by the
//! input's size. Not part of the stable API.

use std::sync::Arc;

use crate::batch::DecodedBatch;
use crate::fs::RandomAccessFile;
use crate::iter::InternalIterator;
use crate::table::{Block, BlockIter, TableReader};
use crate::version::VersionEdit;
use crate::wal::{LogReader, ReadOutcome};

/// Decodes `data` as a table block and walks it forward, backward and by seeks.
pub fn decode_block(data: &[u8]) {
    let Ok(block) = Block::new(data.to_vec()) else {
        return;
    };
    let mut it = BlockIter::new(Arc::new(block), Arc::new("fuzz".into()), 0);
    walk(&mut it, data);
}

/// Opens `data` as a whole table file and reads every entry both ways.
pub fn open_table(data: &[u8]) {
    let file: Arc<dyn RandomAccessFile> = Arc::new(MemFile(data.to_vec()));
    let Ok(table) = TableReader::open(file, "fuzz.sst".into(), 1, data.len() as u64, None) else {
        return;
    };
    let table = Arc::new(table);
    let _ = table.verify();
    let mut it = table.iter();
    walk(&mut it, data);
    let _ = table.get(data.get(..16).unwrap_or(data));
}

/// Reads `data` as a log, decoding each record as a write batch.
pub fn read_log(data: &[u8]) {
    let mut reader = LogReader::new(data);
    while let ReadOutcome::Record { data, .. } = reader.read_record() {
        decode_write_batch(&data);
    }
}

/// Decodes `data` as a manifest record (a version edit).
pub fn decode_version_edit(data: &[u8]) {
    if let Ok(edit) = VersionEdit::decode(data) {
        // Whatever decodes must encode back to something that decodes the same.
        let again = VersionEdit::decode(&edit.encode());
        assert_eq!(
            again.as_ref(),
            Ok(&edit),
            "version edit does not round-trip"
        );
    }
}

/// Decodes `data` as a write batch.
pub fn decode_write_batch(data: &[u8]) {
    if let Ok(batch) = DecodedBatch::decode(data) {
        for entry in batch.iter() {
            assert!(entry.is_ok(), "a validated batch has a bad entry");
        }
    }
}

/// Moves a cursor every way it can, bounded by the input size.
fn walk(it: &mut dyn InternalIterator, data: &[u8]) {
    let limit = data.len() + 16;
    it.seek_to_first();
    let mut n = 0;
    while it.valid() && n < limit {
        let _ = (it.key(), it.value());
        it.next();
        n += 1;
    }
    let _ = it.status();
    it.seek_to_last();
    n = 0;
    while it.valid() && n < limit {
        it.prev();
        n += 1;
    }
    let target = data.get(..12).unwrap_or(data);
    it.seek(target);
    it.seek_for_prev(target);
    let _ = it.status();
}

struct MemFile(Vec<u8>);

impl RandomAccessFile for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(std::io::Error::other)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_survive_garbage() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..600 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            decode_block(&data);
            open_table(&data);
            read_log(&data);
            decode_version_edit(&data);
            decode_write_batch(&data);
        }
    }
}
