//! Entry points for fuzz targets: each decoder that reads bytes from disk, fed
//! arbitrary input. None may panic, hang, or allocate more than a bound set by the
//! input's size. Not part of the stable API.
//!
//! Tables and logs carry CRC32C checksums, so almost every mutation of a real file is
//! rejected at the first checksum and the decoders behind it are never reached. The
//! table and log entry points therefore decode each input twice: as it is, and again
//! "resealed", with every checksum the reader would check recomputed over the mutated
//! bytes, so the fuzzer reaches the footer, index, properties, compression framing,
//! data blocks and log records behind the checksums. The decoders themselves are not
//! changed for fuzzing.

use std::sync::Arc;

use crate::fs::RandomAccessFile;
use crate::iter::InternalIterator;
use crate::table::{Block, BlockIter, TableReader};
use crate::version::VersionEdit;
use crate::wal::{LogReader, ReadOutcome, WalRecord};

/// Decodes `data` as a table block and walks it forward, backward and by seeks; then
/// again with the restart-key copy that index blocks are searched through.
pub fn decode_block(data: &[u8]) {
    let Ok(block) = Block::new(data.to_vec()) else {
        return;
    };
    let mut it = BlockIter::new(Arc::new(block), Arc::new("fuzz".into()), 0);
    walk(&mut it, data);
    if let Ok(block) = Block::new(data.to_vec()) {
        let block = Arc::new(block.with_restart_prefixes());
        walk(&mut BlockIter::new(block, Arc::new("fuzz".into()), 0), data);
    }
}

/// Opens `data` as a whole table file and reads every entry both ways; then does the
/// same with its checksums resealed.
pub fn open_table(data: &[u8]) {
    read_table(data);
    let mut resealed = data.to_vec();
    reseal_table(&mut resealed);
    if resealed != data {
        read_table(&resealed);
    }
}

fn read_table(data: &[u8]) {
    let Ok(table) = open_table_reader(data) else {
        return;
    };
    let table = Arc::new(table);
    let _ = table.verify();
    let mut it = table.iter();
    walk(&mut it, data);
    let lookup = data.get(..16).unwrap_or(data);
    let _ = table.get(lookup, crate::table::key_hash(crate::key::user_key(lookup)));
}

fn open_table_reader(data: &[u8]) -> crate::Result<TableReader> {
    let file: Arc<dyn RandomAccessFile> = Arc::new(MemFile(data.to_vec()));
    TableReader::open_unnamed(file, "fuzz.sst".into(), data.len() as u64)
}

/// Reads `data` as a log, decoding each record as a write batch; then does the same
/// with its fragment checksums resealed.
pub fn read_log(data: &[u8]) {
    read_log_records(data);
    let mut resealed = data.to_vec();
    reseal_log(&mut resealed);
    if resealed != data {
        read_log_records(&resealed);
    }
}

fn read_log_records(data: &[u8]) {
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

/// Decodes `data` as a write-ahead-log record (a write batch or a log link).
pub fn decode_write_batch(data: &[u8]) {
    match WalRecord::decode(data) {
        Ok(WalRecord::Batch(batch)) => {
            for entry in batch.iter() {
                assert!(entry.is_ok(), "a validated batch has a bad entry");
            }
        }
        Ok(WalRecord::Link(link)) => {
            assert_eq!(
                link.encode().as_slice(),
                data,
                "a log link does not round-trip"
            );
        }
        Err(_) => {}
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

/// Rewrites the footer checksum, then the trailer checksum of every block the footer
/// and the index point at, so that only the checksums differ from `data` as mutated.
/// Layouts as in `docs/table.md`: the footer ends with the format version, a CRC32C of
/// the footer bytes before it and the magic; it is 64 bytes (version 1) or 72 (version
/// 2, with the file number after the six LE u64 handle fields); each block is followed
/// by a type byte and its checksum, which from version 2 on depends on the block's place.
fn reseal_table(data: &mut [u8]) {
    const TRAILER_LEN: usize = 5;
    let Some(version_at) = data.len().checked_sub(16) else {
        return;
    };
    let version = u32::from_le_bytes([
        data[version_at],
        data[version_at + 1],
        data[version_at + 2],
        data[version_at + 3],
    ]);
    let footer_len = if version == 2 { 72 } else { 64 };
    let Some(footer_at) = data.len().checked_sub(footer_len) else {
        return;
    };
    let crc = crc32c::crc32c(&data[footer_at..version_at + 4]);
    data[version_at + 4..version_at + 8].copy_from_slice(&crc.to_le_bytes());
    let field = |data: &[u8], i: usize| {
        let at = footer_at + i * 8;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&data[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let number = (version == 2).then(|| field(data, 6));
    let reseal_block = |data: &mut [u8], offset: u64, size: u64| {
        let start = usize::try_from(offset).ok();
        let end = start.and_then(|s| s.checked_add(usize::try_from(size).ok()?));
        match (start, end) {
            (Some(start), Some(end)) if end.saturating_add(TRAILER_LEN) <= footer_at => {
                let place = number.map(|n| (n, offset));
                let crc = crate::table::block_crc(&data[start..end], data[end], place);
                data[end + 1..end + TRAILER_LEN].copy_from_slice(&crc.to_le_bytes());
            }
            _ => {}
        }
    };
    for i in 0..3 {
        let (offset, size) = (field(data, 2 * i), field(data, 2 * i + 1));
        reseal_block(data, offset, size);
    }
    let Ok(table) = open_table_reader(data) else {
        return;
    };
    let mut index = table.index_iter();
    index.seek_to_first();
    let mut handles = Vec::new();
    while index.valid() && handles.len() <= data.len() {
        if let Ok(h) = table.decode_handle(index.value()) {
            handles.push(h);
        }
        index.next();
    }
    for h in handles {
        reseal_block(data, h.offset, h.size);
    }
}

/// Rewrites the checksum of every fragment the log reader would reach, walking the
/// framing of `docs/log.md` as the reader does; stops where the framing breaks.
fn reseal_log(data: &mut [u8]) {
    use crate::wal::{BLOCK_SIZE, HEADER_SIZE};
    let mut pos = 0;
    loop {
        let block_left = BLOCK_SIZE - pos % BLOCK_SIZE;
        if block_left < HEADER_SIZE {
            pos += block_left;
        }
        let Some(header) = data.get(pos..pos + HEADER_SIZE) else {
            return;
        };
        let len = usize::from(u16::from_le_bytes([header[4], header[5]]));
        let kind = header[6];
        if header.iter().all(|&b| b == 0) {
            return;
        }
        let payload = pos + HEADER_SIZE;
        let end = payload + len;
        if end > pos - pos % BLOCK_SIZE + BLOCK_SIZE || end > data.len() {
            return;
        }
        let crc = crc32c::crc32c_append(crc32c::crc32c(&[kind]), &data[payload..end]);
        data[pos..pos + 4].copy_from_slice(&crc.to_le_bytes());
        pos = end;
    }
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
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::fs::{FileSystem, RealFileSystem};
    use crate::wal::HEADER_SIZE;
    use crate::{Compression, Db, Options, WriteBatch};

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

    /// A database in `dir` with one small table (several 256-byte blocks), a manifest
    /// that has seen flushes and a compaction, and a log holding two batches.
    fn small_database(dir: &Path, compression: Compression) {
        let options = Options {
            memtable_size: 4 << 10,
            block_size: 256,
            compression,
            disable_auto_compactions: true,
            ..Options::default()
        };
        let db = Db::open(dir, options).unwrap();
        for i in 0..30u32 {
            let value = format!("value-{i:04}-").repeat(1 + i as usize % 3);
            db.put(format!("key{:03}", i * 7 % 30), value).unwrap();
        }
        db.delete(b"key004").unwrap();
        db.flush().unwrap();
        db.put(b"key002", b"overwritten").unwrap();
        db.flush().unwrap();
        // Leaves one table, and manifest records that delete and add files.
        db.compact_range::<&[u8], _>(..).unwrap();
        let mut batch = WriteBatch::new();
        batch
            .put(b"key100", b"batched")
            .delete(b"key001")
            .put(b"", b"empty key");
        db.write(batch).unwrap();
        db.put(b"key101", [0u8; 40]).unwrap();
    }

    /// The files in `dir` whose names contain `pattern`, sorted.
    fn files(dir: &Path, pattern: &str) -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(pattern))
            .collect();
        v.sort();
        v
    }

    fn records(log: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = LogReader::new(log);
        let mut all = Vec::new();
        while let ReadOutcome::Record { data, .. } = reader.read_record() {
            all.push(data);
        }
        all
    }

    /// The table and log targets only get past the checksums if resealing works: a
    /// flipped byte fails its checksum, and passes it once resealed.
    #[test]
    fn resealing_gets_mutated_files_past_their_checksums() {
        let dir = tempfile::tempdir().unwrap();
        small_database(dir.path(), Compression::None);

        let mut table = std::fs::read(files(dir.path(), ".sst").remove(0)).unwrap();
        // Inside the first entry of the first data block.
        table[20] ^= 0x01;
        let verify = |data: &[u8]| Arc::new(open_table_reader(data).unwrap()).verify();
        let err = verify(&table).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        reseal_table(&mut table);
        if let Err(e) = verify(&table) {
            assert!(!e.to_string().contains("checksum"), "{e}");
        }

        let mut log = std::fs::read(files(dir.path(), ".log").pop().unwrap()).unwrap();
        let intact = records(&log).len();
        assert!(intact >= 2, "the log holds {intact} records");
        // Inside the first record's payload.
        log[HEADER_SIZE + 14] ^= 0x01;
        assert!(records(&log).is_empty());
        reseal_log(&mut log);
        assert_eq!(records(&log).len(), intact);
    }

    /// Found by the `api_ops` fuzz target (and at the same time by the metamorphic
    /// tests, which led to the fix in `db/background.rs`). `compact_range` took only
    /// the level-0 tables that overlap the range, not the older level-0 tables that
    /// overlap those. Here the range catches the newer table (`""`@3 .. `ffff`@4) and
    /// moved it down, while the older table (`""`@2 .. `000`@1) stayed in level 0,
    /// which `get` searches first: `get("")` returned the overwritten value.
    #[test]
    fn compact_range_moves_a_newer_level0_table_below_an_older_one() {
        use std::ops::Bound;
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            memtable_size: 1024,
            block_size: 64,
            disable_auto_compactions: true,
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        db.put(b"\0\0\0", b"").unwrap();
        db.put(b"", [1u8; 832]).unwrap();
        // The memtable is full: this put starts the second one.
        db.put(b"", [2u8; 896]).unwrap();
        db.put(b"\xff\xff\xff\xff", [3u8; 960]).unwrap();
        let range = (Bound::Excluded(&b"\xffm"[..]), Bound::Unbounded);
        db.compact_range::<&[u8], _>(range).unwrap();
        assert_eq!(db.get(b"").unwrap(), Some(vec![2u8; 896]));
    }

    /// Found by the `api_ops` fuzz target; the same cause as the test above. The
    /// range catches only the newer level-0 table, which holds the tombstone of
    /// `"\0\xff"`. `compact_range` carried it down to the last level, where the
    /// tombstone was dropped because no deeper level holds the key; but the older
    /// level-0 table still held the value it deleted, and the key came back in `get`
    /// and in scans.
    #[test]
    fn compact_range_resurrects_a_key_deleted_above_an_older_level0_table() {
        use std::ops::Bound;
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            memtable_size: 1024,
            block_size: 64,
            disable_auto_compactions: true,
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        db.put(b"\0\xff", [0u8; 1216]).unwrap();
        // The memtable is full: the batch starts the second one.
        let mut batch = WriteBatch::new();
        batch
            .put(b"m", [1u8; 32])
            .put(b"", [1u8; 32])
            .delete(b"\0\xff");
        db.write(batch).unwrap();
        let range = (Bound::Included(&b"k"[..]), Bound::Unbounded);
        db.compact_range::<&[u8], _>(range).unwrap();
        assert_eq!(db.get(b"\0\xff").unwrap(), None);
        let keys: Vec<Vec<u8>> = db.iter().map(|kv| kv.unwrap().0).collect();
        assert_eq!(keys, [b"".to_vec(), b"m".to_vec()]);
    }

    /// Writes the seed corpora the fuzz targets start from (`fuzz/seeds/<target>/`),
    /// all cut from a real database: whole small tables (uncompressed, LZ4, zstd), raw
    /// data and index blocks, a write-ahead log and a manifest, and the records of each.
    /// Run by hand from the workspace root:
    /// `SHALEDB_FUZZ_SEEDS=$PWD/fuzz/seeds cargo test -p shaledb --lib write_fuzz_seeds -- --ignored`
    #[test]
    #[ignore = "writes the fuzz seed corpus; run by hand"]
    fn write_fuzz_seeds() {
        let out = PathBuf::from(
            std::env::var_os("SHALEDB_FUZZ_SEEDS").expect("SHALEDB_FUZZ_SEEDS names the seeds dir"),
        );
        let save = |target: &str, name: &str, bytes: &[u8]| {
            let dir = out.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        for (name, compression) in [
            ("none", Compression::None),
            ("lz4", Compression::Lz4),
            ("zstd", Compression::Zstd),
        ] {
            let dir = tempfile::tempdir().unwrap();
            small_database(dir.path(), compression);
            let table = files(dir.path(), ".sst").remove(0);
            let bytes = std::fs::read(&table).unwrap();
            save("table_open", &format!("{name}.sst"), &bytes);
            if compression != Compression::None {
                continue;
            }
            let file = RealFileSystem.open(&table).unwrap();
            let reader =
                TableReader::open_unnamed(file, table.clone(), bytes.len() as u64).unwrap();
            let mut index = reader.index_iter();
            index.seek_to_first();
            for which in ["first", "last"] {
                let handle = reader.decode_handle(index.value()).unwrap();
                let block = reader.read_block_bytes(handle).unwrap();
                save("block_decode", &format!("data-{which}"), &block);
                index.seek_to_last();
            }
            // The footer's index handle (bytes 32..48); uncompressed, the stored bytes
            // are the block.
            let footer = &bytes[bytes.len() - 72..];
            let field = |i: usize| {
                let b: [u8; 8] = footer[i * 8..i * 8 + 8].try_into().unwrap();
                usize::try_from(u64::from_le_bytes(b)).unwrap()
            };
            let (offset, size) = (field(4), field(5));
            save("block_decode", "index", &bytes[offset..offset + size]);
            save("block_decode", "empty", &[0, 0, 0, 0, 1, 0, 0, 0]);

            let log = std::fs::read(files(dir.path(), ".log").pop().unwrap()).unwrap();
            save("log_read", "wal.log", &log);
            for (i, record) in records(&log).iter().enumerate() {
                save("batch_decode", &format!("wal-record-{i}"), record);
            }
            let manifest = std::fs::read(files(dir.path(), "MANIFEST-").pop().unwrap()).unwrap();
            save("log_read", "manifest", &manifest);
            for (i, record) in records(&manifest).iter().enumerate() {
                save("manifest_decode", &format!("record-{i}"), record);
            }
        }
    }
}
