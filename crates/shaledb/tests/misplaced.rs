//! Intact bytes in the wrong place: a data block swapped with another of the same size,
//! a block copied from another table, a whole table file copied over another of the
//! same size. Every checksum of such bytes is right for the bytes, so only checksums
//! that also cover where a block belongs (table format version 2) tell them apart.
//! Every read must return the right value or an error, `verify` must report the
//! damage, and a compaction must not rewrite it into a sound-looking table.
//!
//! Also: a database written with format version 1 (the fixture in
//! `tests/fixtures/format-v1`, made with the `shaledb` binary of commit 1860f16) still
//! opens, reads, and compacts into version 2 tables.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use shaledb::tools::dump_table;
use shaledb::{Db, Options};

fn options() -> Options {
    Options {
        compression: shaledb::Compression::None,
        block_size: 256,
        disable_auto_compactions: true,
        ..Default::default()
    }
}

fn tables(dir: &Path) -> Vec<PathBuf> {
    common::files_with_extension(dir, "sst")
}

fn key(i: usize) -> String {
    format!("k{i:03}")
}

/// A table of other keys, then two tables of the same shape, `old-NNN` then `new-NNN`
/// for keys `k000`..`k199`, and a last one deleting every key ending in 5. Returns the
/// (older, newer) paths of the two.
fn build(dir: &Path) -> (PathBuf, PathBuf) {
    let db = Db::open(dir, options()).unwrap();
    // Sequence numbers from 128 up take two bytes as varints in both tables' properties,
    // so the two tables come out the same size.
    for i in 0..128 {
        db.put(format!("a{i:03}"), "first").unwrap();
    }
    db.flush().unwrap();
    for tag in ["old", "new"] {
        for i in 0..200 {
            db.put(key(i), format!("{tag}-{i:03}")).unwrap();
        }
        db.flush().unwrap();
    }
    for i in (5..200).step_by(10) {
        db.delete(key(i)).unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let t = tables(dir);
    assert_eq!(t.len(), 4, "{t:?}");
    assert_eq!(
        fs::metadata(&t[1]).unwrap().len(),
        fs::metadata(&t[2]).unwrap().len()
    );
    (t[1].clone(), t[2].clone())
}

fn expected(i: usize) -> Option<String> {
    (i % 10 != 5).then(|| format!("new-{i:03}"))
}

/// Opens the damaged database and checks the rules above; returns how many reads
/// failed.
fn check(dir: &Path, what: &str) -> usize {
    let db = match Db::open(dir, options()) {
        Ok(db) => db,
        Err(e) => {
            assert!(
                matches!(e, shaledb::Error::Corruption { .. }),
                "{what}: {e}"
            );
            return 1;
        }
    };
    let mut errors = 0;
    for i in 0..200 {
        match db.get(key(i)) {
            Ok(got) => assert_eq!(
                got.map(|v| String::from_utf8(v).unwrap()),
                expected(i),
                "{what}: get {}",
                key(i)
            ),
            Err(_) => errors += 1,
        }
    }
    let mut previous: Option<Vec<u8>> = None;
    for item in db.iter() {
        let Ok((k, v)) = item else {
            errors += 1;
            break;
        };
        assert!(
            previous.as_ref().is_none_or(|p| *p < k),
            "{what}: scan out of order"
        );
        let i: usize = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
        assert_eq!(
            Some(String::from_utf8(v).unwrap()),
            expected(i),
            "{what}: scan"
        );
        previous = Some(k);
    }
    let report = db.verify().unwrap();
    assert!(!report.is_ok(), "{what}: verify found nothing");
    assert!(
        db.compact_range::<&[u8], _>(..).is_err(),
        "{what}: compaction succeeded"
    );
    errors
}

/// The data blocks of a table: (offset, stored size without the trailer).
fn blocks(table: &Path) -> Vec<(u64, u64)> {
    let dump = dump_table(table).unwrap();
    dump.blocks
        .iter()
        .map(|b| (b.offset, b.stored_size))
        .collect()
}

#[test]
fn blocks_and_tables_out_of_place_are_errors_never_wrong_values() {
    let pristine = common::scratch_dir();
    let (older, newer) = build(pristine.path());
    let name = |p: &Path| p.file_name().unwrap().to_owned();
    let (older, newer) = (name(&older), name(&newer));
    let newer_blocks = blocks(&pristine.path().join(&newer));
    let stored = |(offset, size): (u64, u64)| offset as usize..(offset + size) as usize + 5;
    let (a, b) = newer_blocks
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            newer_blocks[i + 1..]
                .iter()
                .find(|b| b.1 == a.1)
                .map(|b| (*a, *b))
        })
        .expect("two data blocks of the same size");

    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage)> = vec![
        ("two blocks swapped", {
            let newer = newer.clone();
            Box::new(move |dir: &Path| {
                let path = dir.join(&newer);
                let mut bytes = fs::read(&path).unwrap();
                let block_a = bytes[stored(a)].to_vec();
                bytes.copy_within(stored(b), a.0 as usize);
                bytes[stored(b)].copy_from_slice(&block_a);
                fs::write(path, bytes).unwrap();
            })
        }),
        ("a block of the older table copied in", {
            let (older, newer) = (older.clone(), newer.clone());
            Box::new(move |dir: &Path| {
                let source = fs::read(dir.join(&older)).unwrap();
                let path = dir.join(&newer);
                let mut bytes = fs::read(&path).unwrap();
                bytes[stored(a)].copy_from_slice(&source[stored(a)]);
                fs::write(path, bytes).unwrap();
            })
        }),
        ("the older table copied over the newer", {
            let (older, newer) = (older.clone(), newer.clone());
            Box::new(move |dir: &Path| {
                fs::copy(dir.join(&older), dir.join(&newer)).unwrap();
            })
        }),
    ];
    for (what, damage) in cases {
        let dir = common::scratch_dir();
        common::copy_dir(pristine.path(), dir.path()).unwrap();
        damage(dir.path());
        let errors = check(dir.path(), what);
        assert!(errors > 0, "{what}: no read failed");
    }
}

#[test]
fn a_database_with_version_1_tables_opens_reads_and_compacts() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1");
    let dir = common::scratch_dir();
    common::copy_dir(&fixture, dir.path()).unwrap();
    let version = |table: &Path| {
        let bytes = fs::read(table).unwrap();
        let at = bytes.len() - 16;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    };
    let old_tables = tables(dir.path());
    assert_eq!(
        old_tables.iter().map(|t| version(t)).collect::<Vec<_>>(),
        [1]
    );
    let expect = |db: &Db| {
        let all: Vec<(Vec<u8>, Vec<u8>)> = db.iter().map(|e| e.unwrap()).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [1, 2, 4, 5, 6, 7]
            .iter()
            .map(|i| {
                (
                    format!("key{i}").into_bytes(),
                    format!("value{i}").into_bytes(),
                )
            })
            .collect();
        assert_eq!(all, want);
        assert_eq!(db.get("key3").unwrap(), None);
        assert!(db.verify().unwrap().is_ok());
    };
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("key7", "value7").unwrap();
    expect(&db);
    db.compact_range::<&[u8], _>(..).unwrap();
    expect(&db);
    db.close().unwrap();
    let new_tables = tables(dir.path());
    assert!(!new_tables.is_empty() && new_tables.iter().all(|t| version(t) == 2));
    let db = Db::open(dir.path(), Options::default()).unwrap();
    expect(&db);
}
