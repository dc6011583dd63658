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

fn surviving(db: &Db) -> Vec<u32> {
    (0..100u32)
        .filter(|i| db.get(format!("k{i:03}")).unwrap().is_some())
        .collect()
}

#[test]
fn point_in_time_keeps_the_prefix_before_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = build(dir.path());
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
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
    let len = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let err = Db::open(dir.path(), options(WalRecoveryMode::Strict)).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    // Nothing was changed: point-in-time recovery still finds the 99 intact batches.
    let db = Db::open(dir.path(), options(WalRecoveryMode::PointInTime)).unwrap();
    assert_eq!(surviving(&db).len(), 99);
}
