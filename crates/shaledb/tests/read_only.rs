//! `Db::open_read_only`: reads what a read-write open would, changes nothing on disk,
//! refuses writes, and shares the database only with other read-only opens.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use shaledb::{Db, Error, Options, WalRecoveryMode};

fn options() -> Options {
    Options {
        memtable_size: 64 << 10,
        ..Options::default()
    }
}

/// Every file and directory below `dir`, with its length and modification time.
fn listing(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            let name = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string();
            out.insert(name, (meta.len(), meta.modified().unwrap()));
        }
    }
    out
}

/// Tables, several flushes' worth, then writes (and a delete) only in the log.
fn build(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..4_000u32 {
        let key = format!("key{:05}", (i * 13) % 2_500).into_bytes();
        let value = format!("value-{i}-").repeat(4).into_bytes();
        db.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    db.delete(b"key00013").unwrap();
    model.remove(&b"key00013"[..]);
    db.close().unwrap();
    model
}

#[test]
fn a_read_only_open_reads_everything_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    let before = listing(dir.path());
    let db = Db::open_read_only(dir.path(), options()).unwrap();
    let all: BTreeMap<_, _> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(all, model);
    let reversed: Vec<_> = db.iter().rev().map(|r| r.unwrap().0).collect();
    assert!(reversed.iter().rev().eq(model.keys()));
    assert_eq!(db.get(b"key00013").unwrap(), None);
    let snapshot = db.snapshot();
    assert_eq!(snapshot.iter().count(), model.len());
    assert!(db.verify().unwrap().is_ok());
    assert!(db.property("shaledb.stats").is_some());
    // Nothing writes.
    for result in [
        db.put(b"k", b"v"),
        db.delete(b"key00000"),
        db.flush(),
        db.compact_range::<&[u8], _>(..),
    ] {
        assert!(matches!(result, Err(Error::OpenedReadOnly)), "{result:?}");
    }
    db.wait_for_compactions().unwrap();
    drop(snapshot);
    db.close().unwrap();
    assert_eq!(
        listing(dir.path()),
        before,
        "a read-only open changed the directory"
    );
    // A read-write open afterwards sees the same data.
    let db = Db::open(dir.path(), options()).unwrap();
    let all: BTreeMap<_, _> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(all, model);
}

#[test]
fn read_only_opens_share_the_database_but_not_with_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let first = Db::open_read_only(dir.path(), options()).unwrap();
    let second = Db::open_read_only(dir.path(), options()).unwrap();
    assert!(matches!(
        Db::open(dir.path(), options()),
        Err(Error::Locked { .. })
    ));
    drop(first);
    assert!(matches!(
        Db::open(dir.path(), options()),
        Err(Error::Locked { .. })
    ));
    second.close().unwrap();
    let writer = Db::open(dir.path(), options()).unwrap();
    assert!(matches!(
        Db::open_read_only(dir.path(), options()),
        Err(Error::Locked { .. })
    ));
    writer.close().unwrap();
    Db::open_read_only(dir.path(), options()).unwrap();
}

#[test]
fn a_read_only_open_needs_an_existing_database_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing");
    let err = Db::open_read_only(&missing, options()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(!missing.exists());
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = Db::open_read_only(&empty, options()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(listing(&empty).is_empty(), "{:?}", listing(&empty));
}

#[test]
fn a_damaged_log_is_read_as_the_recovery_mode_says_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    let log = common::newest_log(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(&log, &bytes).unwrap();
    let before = listing(dir.path());

    let strict = Options {
        wal_recovery_mode: WalRecoveryMode::Strict,
        ..options()
    };
    let err = Db::open_read_only(dir.path(), strict).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    // Point in time: a prefix of the history, every value one that was written.
    let db = Db::open_read_only(dir.path(), options()).unwrap();
    let all: BTreeMap<_, _> = db.iter().map(|r| r.unwrap()).collect();
    // (It may still hold the key deleted at the very end.)
    assert!(
        all.len() >= model.len() / 2,
        "{} of {}",
        all.len(),
        model.len()
    );
    for (k, v) in &all {
        let i: u32 = std::str::from_utf8(&v[6..v.len() - 1])
            .unwrap()
            .split('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            k,
            &format!("key{:05}", (i * 13) % 2_500).into_bytes(),
            "a value never written under {k:?}"
        );
    }
    db.close().unwrap();
    assert_eq!(
        listing(dir.path()),
        before,
        "the damaged log was moved or changed"
    );
}

/// Found by review: a read-only open of a database copied without its LOCK file
/// created one.
#[test]
fn a_read_only_open_of_a_database_without_its_lock_file_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    std::fs::remove_file(dir.path().join("LOCK")).unwrap();
    let before = listing(dir.path());
    let db = Db::open_read_only(
        dir.path(),
        Options {
            error_if_exists: true,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(db.iter().count(), model.len());
    db.close().unwrap();
    assert_eq!(listing(dir.path()), before);
}
