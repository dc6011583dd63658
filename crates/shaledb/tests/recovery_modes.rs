//! The two log recovery modes: point-in-time (the default) keeps every record before a
//! damaged one; strict refuses to open.

mod common;

use std::path::{Path, PathBuf};

use shaledb::{Db, Options, WalRecoveryMode};

fn options(mode: WalRecoveryMode) -> Options {
    Options {
        wal_recovery_mode: mode,
        ..Options::default()
    }
}

/// A database whose only log holds 100 single-key batches; returns the log's path.
fn build(dir: &Path) -> PathBuf {
    let db = Db::open(dir, Options::default()).unwrap();
    for i in 0..100u32 {
        db.put(format!("k{i:03}"), format!("v{i}")).unwrap();
    }
    db.close().unwrap();
    common::newest_log(dir)
}

/// Cuts the last 3 bytes off the log at `log`: a torn last record.
fn tear(log: &Path) {
    let len = std::fs::metadata(log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
}

fn surviving(db: &Db) -> Vec<u32> {
    (0..100u32)
        .filter(|i| db.get(format!("k{i:03}")).unwrap().is_some())
        .collect()
}

#[test]
fn point_in_time_keeps_the_prefix_before_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path());
    tear(&log);
    let db = Db::open(dir.path(), options(WalRecoveryMode::PointInTime)).unwrap();
    let kept = surviving(&db);
    assert_eq!(
        kept,
        (0..99).collect::<Vec<_>>(),
        "exactly the torn last batch is lost"
    );
}

#[test]
fn point_in_time_stops_at_mid_log_damage_with_no_holes() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&log, bytes).unwrap();
    let db = Db::open(dir.path(), options(WalRecoveryMode::PointInTime)).unwrap();
    let kept = surviving(&db);
    let n = kept.len() as u32;
    assert!(n > 30 && n < 70, "kept {n} batches");
    assert_eq!(kept, (0..n).collect::<Vec<_>>(), "replay left a hole");
    // The damaged log is kept for inspection, not deleted.
    assert!(dir
        .path()
        .join("lost")
        .join(log.file_name().unwrap())
        .exists());
}

#[test]
fn strict_mode_refuses_a_damaged_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path());
    tear(&log);
    let err = Db::open(dir.path(), options(WalRecoveryMode::Strict)).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    // Nothing was changed: point-in-time recovery still finds the 99 intact batches.
    let db = Db::open(dir.path(), options(WalRecoveryMode::PointInTime)).unwrap();
    assert_eq!(surviving(&db).len(), 99);
}

/// The names and contents of every file in `dir`, but the lock.
fn snapshot_of(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != "LOCK")
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// A log holding several memtables' worth of batches, damaged near its end: a strict
/// open fails before it flushes any of them, leaving every file as it was.
#[test]
fn a_failed_strict_open_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let small = || Options {
        memtable_size: 64 << 10,
        ..Options::default()
    };
    // One log's worth in one large memtable, replayed into small ones below.
    let db = Db::open(
        dir.path(),
        Options {
            memtable_size: 8 << 20,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..20_000u32 {
        db.put(format!("k{i:06}"), [b'v'; 40]).unwrap();
    }
    db.close().unwrap();
    let log = common::newest_log(dir.path());
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(
        len > 4 * (64 << 10),
        "the log holds several small memtables"
    );
    tear(&log);
    let before = snapshot_of(dir.path());
    let err = Db::open(
        dir.path(),
        Options {
            wal_recovery_mode: WalRecoveryMode::Strict,
            ..small()
        },
    )
    .unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(
        snapshot_of(dir.path()) == before,
        "the failed strict open changed the directory"
    );
}
