use std::sync::Arc;

use super::*;
use crate::cache::BlockCache;
use crate::fs::{FileSystem, RealFileSystem};
use crate::iter::InternalIterator;
use crate::key::{make_internal_key, user_key, ValueKind, MAX_SEQUENCE};
use crate::options::Compression;
use crate::table::format::BlockHandle;
use crate::table::key_hash;

fn entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let key = make_internal_key(
                format!("key{i:06}").as_bytes(),
                (i + 1) as u64,
                ValueKind::Put,
            );
            let value = format!("value-{i}-").repeat(i % 7 + 1).into_bytes();
            (key, value)
        })
        .collect()
}

fn build(
    dir: &std::path::Path,
    data: &[(Vec<u8>, Vec<u8>)],
    compression: Compression,
    block_size: usize,
) -> (std::path::PathBuf, TableSummary) {
    build_numbered(dir, 1, data, compression, block_size)
}

/// Writes `data` as table `number` in `dir`.
fn build_numbered(
    dir: &std::path::Path,
    number: u64,
    data: &[(Vec<u8>, Vec<u8>)],
    compression: Compression,
    block_size: usize,
) -> (std::path::PathBuf, TableSummary) {
    let path = dir.join(format!("{number:06}.sst"));
    let mut builder = TableBuilder::new(
        RealFileSystem.create(&path).unwrap(),
        number,
        block_size,
        compression,
        10,
    );
    for (k, v) in data {
        builder.add(k, v).unwrap();
    }
    (path, builder.finish().unwrap())
}

fn open(path: &std::path::Path, size: u64) -> crate::error::Result<Arc<TableReader>> {
    let file = RealFileSystem.open(path)?;
    let cache = Some(Arc::new(BlockCache::new(1 << 20)));
    Ok(Arc::new(TableReader::open(
        file,
        path.to_path_buf(),
        1,
        size,
        cache,
    )?))
}

#[test]
fn round_trip_every_compression_both_directions() {
    let data = entries(3000);
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        for block_size in [64, 4096] {
            let dir = tempfile::tempdir().unwrap();
            let (path, summary) = build(dir.path(), &data, compression, block_size);
            assert_eq!(summary.smallest, data[0].0);
            assert_eq!(summary.largest, data[data.len() - 1].0);
            let table = open(&path, summary.file_size).unwrap();
            assert_eq!(table.verify().unwrap(), data.len() as u64);
            let mut it = table.iter();
            it.seek_to_first();
            for (k, v) in &data {
                assert!(it.valid());
                assert_eq!((it.key(), it.value()), (k.as_slice(), v.as_slice()));
                it.next();
            }
            assert!(!it.valid());
            it.seek_to_last();
            for (k, _) in data.iter().rev() {
                assert_eq!(it.key(), k.as_slice());
                it.prev();
            }
            assert!(!it.valid());
            it.status().unwrap();
        }
    }
}

#[test]
fn point_lookups_and_seeks() {
    let data = entries(2000);
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::Lz4, 512);
    let table = open(&path, summary.file_size).unwrap();
    for (k, v) in data.iter().step_by(7) {
        let lookup = make_internal_key(user_key(k), MAX_SEQUENCE, ValueKind::Put);
        let (found_key, found_value) = table
            .get(&lookup, key_hash(user_key(&lookup)))
            .unwrap()
            .unwrap();
        assert_eq!(
            (found_key.as_slice(), found_value.as_slice()),
            (k.as_slice(), v.as_slice())
        );
    }
    let missing = make_internal_key(b"key000100x", MAX_SEQUENCE, ValueKind::Put);
    assert_eq!(
        table.get(&missing, key_hash(user_key(&missing))).unwrap(),
        None
    );
    // seek_for_prev to a key between two entries lands on the smaller one.
    let mut it = table.iter();
    it.seek_for_prev(&missing);
    assert_eq!(user_key(it.key()), b"key000100");
    it.seek(&missing);
    assert_eq!(user_key(it.key()), b"key000101");
    it.seek_for_prev(&make_internal_key(b"a", 0, ValueKind::Delete));
    assert!(!it.valid());
    it.seek(&make_internal_key(b"z", 0, ValueKind::Delete));
    assert!(!it.valid());
}

#[test]
fn every_key_is_found_through_an_index_with_restart_intervals() {
    let data = entries(1500);
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::Lz4, 128);
    let table = open(&path, summary.file_size).unwrap();
    let mut index = table.index_iter();
    index.seek_to_first();
    let mut blocks = 0usize;
    while index.valid() {
        blocks += 1;
        index.next();
    }
    // Prefix-compressed runs of 16 between restarts, not a restart at every entry.
    assert!(blocks > 100, "{blocks} data blocks");
    assert_eq!(table.index_block().num_restarts(), blocks.div_ceil(16));
    let mut it = table.iter();
    for (i, (k, v)) in data.iter().enumerate() {
        let lookup = make_internal_key(user_key(k), MAX_SEQUENCE, ValueKind::Put);
        let found = table.get(&lookup, key_hash(user_key(k))).unwrap();
        assert_eq!(found, Some((k.clone(), v.clone())));
        it.seek(&lookup);
        assert_eq!(it.key(), k.as_slice());
        // Just past this key's only version: seek lands on the next key, seek_for_prev
        // on this one.
        let past = make_internal_key(user_key(k), 0, ValueKind::Delete);
        it.seek_for_prev(&past);
        assert_eq!(it.key(), k.as_slice());
        it.seek(&past);
        match data.get(i + 1) {
            Some((next, _)) => assert_eq!(it.key(), next.as_slice()),
            None => assert!(!it.valid()),
        }
    }
    it.status().unwrap();
}

#[test]
fn flipped_bytes_give_errors_never_wrong_entries() {
    let data = entries(500);
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::Lz4, 256);
    let pristine = std::fs::read(&path).unwrap();
    for pos in (0..pristine.len()).step_by(13) {
        let mut damaged = pristine.clone();
        damaged[pos] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let Ok(table) = open(&path, summary.file_size) else {
            continue;
        };
        let mut it = table.iter();
        it.seek_to_first();
        let mut i = 0;
        while it.valid() {
            assert_eq!(it.key(), data[i].0.as_slice(), "flip at {pos}");
            assert_eq!(it.value(), data[i].1.as_slice(), "flip at {pos}");
            i += 1;
            it.next();
        }
        if i < data.len() {
            assert!(
                it.status().is_err(),
                "flip at {pos} silently dropped entries"
            );
        }
    }
}

#[test]
fn truncated_table_is_corruption() {
    let data = entries(100);
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::None, 4096);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = open(&path, summary.file_size).err().unwrap();
        assert!(err.is_corruption(), "{err}");
        let err = open(&path, cut as u64).err().unwrap();
        assert!(err.is_corruption(), "{err}");
    }
}

#[test]
fn data_blocks_close_before_passing_the_block_size_once_nine_tenths_full() {
    // db_bench's shape: 16-byte keys (24 with the trailer) and 100-byte values.
    let data: Vec<(Vec<u8>, Vec<u8>)> = (0..5_000u32)
        .map(|i| {
            let key = make_internal_key(format!("{i:016}").as_bytes(), 1, ValueKind::Put);
            (key, vec![b'v'; 100])
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::Lz4, 4096);
    let table = open(&path, summary.file_size).unwrap();
    let mut index = table.index_iter();
    index.seek_to_first();
    let mut sizes = Vec::new();
    while index.valid() {
        let handle = table.decode_handle(index.value()).unwrap();
        sizes.push(table.data_block(handle, false).unwrap().size());
        index.next();
    }
    assert!(sizes.len() > 100);
    let (last, full) = sizes.split_last().unwrap();
    assert!(*last <= 4096);
    for size in full {
        assert!((4096 * 9 / 10..=4096).contains(size), "a {size}-byte block");
    }
    // An entry larger than a block still gets a block of its own.
    let big = vec![(
        make_internal_key(b"big", 1, ValueKind::Put),
        vec![b'x'; 10_000],
    )];
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &big, Compression::None, 4096);
    let table = open(&path, summary.file_size).unwrap();
    let mut it = table.iter();
    it.seek_to_first();
    assert_eq!(it.value().len(), 10_000);
}

/// A file that counts its reads.
struct CountingFile {
    inner: Arc<dyn crate::fs::RandomAccessFile>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl crate::fs::RandomAccessFile for CountingFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.read_exact_at(buf, offset)
    }

    fn size(&self) -> std::io::Result<u64> {
        self.inner.size()
    }
}

/// Scans read ahead: with no block cache, every block is a miss, and a scan in either
/// direction reads many blocks per call; cursors that jump about still see every entry
/// in order.
#[test]
fn scans_read_ahead_in_both_directions_and_see_every_entry() {
    let data = entries(20_000);
    let dir = tempfile::tempdir().unwrap();
    let (path, summary) = build(dir.path(), &data, Compression::Lz4, 512);
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let file = Arc::new(CountingFile {
        inner: RealFileSystem.open(&path).unwrap(),
        reads: Arc::clone(&reads),
    });
    let table =
        Arc::new(TableReader::open(file, path.clone(), 1, summary.file_size, None).unwrap());
    let blocks = table.properties().data_blocks as usize;
    assert!(blocks > 500, "{blocks} blocks");
    let count = || reads.swap(0, std::sync::atomic::Ordering::Relaxed);
    count();
    let mut it = table.iter();
    it.seek_to_first();
    for (k, v) in &data {
        assert_eq!((it.key(), it.value()), (k.as_slice(), v.as_slice()));
        it.next();
    }
    assert!(!it.valid());
    it.status().unwrap();
    let forward = count();
    assert!(
        forward * 10 < blocks,
        "{forward} reads for {blocks} blocks forward"
    );
    it.seek_to_last();
    for (k, _) in data.iter().rev() {
        assert_eq!(it.key(), k.as_slice());
        it.prev();
    }
    assert!(!it.valid());
    it.status().unwrap();
    let backward = count();
    assert!(
        backward * 10 < blocks,
        "{backward} reads for {blocks} blocks backward"
    );
    // Seeks that land anywhere, each followed by a few steps either way.
    let mut state = 12345u64;
    for _ in 0..300 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = (state >> 33) as usize % data.len();
        it.seek(&data[i].0);
        for (j, (k, _)) in data.iter().enumerate().skip(i).take(40) {
            assert_eq!(it.key(), k.as_slice(), "forward from {i}, step {j}");
            it.next();
        }
        it.seek(&data[i].0);
        for j in (i.saturating_sub(40)..=i).rev() {
            assert_eq!(it.key(), data[j].0.as_slice(), "backward from {i}");
            it.prev();
        }
    }
    it.status().unwrap();
}

/// Entries of one shape (same key and value lengths) whose values carry `tag`, so that
/// two tables of them have data blocks of the same sizes at the same offsets.
fn even_entries(n: usize, tag: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let key = make_internal_key(format!("k{i:04}").as_bytes(), 7, ValueKind::Put);
            (key, format!("{tag}-{i:04}").into_bytes())
        })
        .collect()
}

/// The data-block handles of a table, in order.
fn data_handles(table: &TableReader) -> Vec<BlockHandle> {
    let mut index = table.index_iter();
    index.seek_to_first();
    let mut handles = Vec::new();
    while index.valid() {
        handles.push(table.decode_handle(index.value()).unwrap());
        index.next();
    }
    handles
}

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every entry a full scan yields before it stops, and how it stopped.
fn scan(table: &Arc<TableReader>) -> (Entries, crate::error::Result<()>) {
    let mut it = table.iter();
    it.seek_to_first();
    let mut got = Vec::new();
    while it.valid() {
        got.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    (got, it.status())
}

/// A block whose bytes are intact but sit where another block belongs (swapped with a
/// block of the same size, or copied from another table) fails its checksum, and so
/// does a whole table file copied over another one: a read gets `Corruption`, never
/// the entries of the wrong block. (In format version 1 the checksums covered only the
/// bytes, and such tables read back wrong entries with no error.)
#[test]
fn blocks_and_tables_out_of_place_fail_their_checks() {
    let dir = tempfile::tempdir().unwrap();
    let old = even_entries(200, "old");
    let new = even_entries(200, "new");
    let (old_path, old_summary) = build_numbered(dir.path(), 2, &old, Compression::None, 128);
    let (new_path, new_summary) = build_numbered(dir.path(), 3, &new, Compression::None, 128);
    assert_eq!(old_summary.file_size, new_summary.file_size);
    let pristine = std::fs::read(&new_path).unwrap();
    let reopen = |number: u64, path: &std::path::Path| {
        let file = RealFileSystem.open(path).unwrap();
        TableReader::open(
            file,
            path.to_path_buf(),
            number,
            new_summary.file_size,
            None,
        )
    };
    let table = Arc::new(reopen(3, &new_path).unwrap());
    assert_eq!(scan(&table).0, new);
    let handles = data_handles(&table);
    assert!(handles.len() > 10, "{} blocks", handles.len());
    let stored = |h: BlockHandle| h.offset as usize..(h.offset + h.size) as usize + 5;

    // Two blocks of the same size trade places.
    let (a, b) = handles
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            handles[i + 1..]
                .iter()
                .find(|b| b.size == a.size)
                .map(|b| (*a, *b))
        })
        .expect("two data blocks of the same size");
    let mut swapped = pristine.clone();
    let block_a = pristine[stored(a)].to_vec();
    swapped.copy_within(stored(b), a.offset as usize);
    swapped[stored(b)].copy_from_slice(&block_a);
    // A block of the older table, at the same offset, over the newer one's.
    let old_bytes = std::fs::read(&old_path).unwrap();
    let mut transplanted = pristine.clone();
    transplanted[stored(a)].copy_from_slice(&old_bytes[stored(a)]);

    for (what, bytes) in [("swapped", &swapped), ("transplanted", &transplanted)] {
        std::fs::write(&new_path, bytes).unwrap();
        let table = Arc::new(reopen(3, &new_path).unwrap());
        let (got, status) = scan(&table);
        let err = status.expect_err(what);
        assert!(
            matches!(err, crate::Error::Corruption { .. }),
            "{what}: {err}"
        );
        assert_eq!(
            got,
            new[..got.len()],
            "{what}: a scan yields only right entries"
        );
        assert!(table.verify().is_err(), "{what}: verify reports it");
        let (key, _) = &new[150];
        let (sought, _) = &new[5];
        for target in [key, sought] {
            match table.get(target, key_hash(user_key(target))) {
                Ok(found) => assert!(
                    found.is_none_or(|(k, v)| new.iter().any(|(nk, nv)| *nk == k && *nv == v)),
                    "{what}: a lookup found an entry the table does not hold"
                ),
                Err(e) => assert!(matches!(e, crate::Error::Corruption { .. }), "{e}"),
            }
        }
    }

    // The older table's file, the same size, under the newer one's name.
    std::fs::write(&new_path, &old_bytes).unwrap();
    let err = reopen(3, &new_path)
        .err()
        .expect("a table under another number opens");
    assert!(err.to_string().contains("names table 2"), "{err}");
    // The file itself is sound: opened by its own number, it reads back in full.
    std::fs::write(&new_path, &pristine).unwrap();
    let table = Arc::new(reopen(3, &new_path).unwrap());
    let (got, status) = scan(&table);
    status.unwrap();
    assert_eq!(got, new);
}
