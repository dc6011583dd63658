//! Replay across a log link: a log started by a memtable switch continues the one
//! before it only if that one kept every byte it held when the switch closed it.
//!
//! Each test builds the situation a power loss leaves behind: the manifest's log `N`
//! with ten batches, and a later log `M` whose first record links it to `N`, followed by
//! ten more batches; then it cuts `N` short, or points the link elsewhere.

use std::path::{Path, PathBuf};

use super::filename;
use crate::batch::WriteBatch;
use crate::fs::{FileSystem, RealFileSystem};
use crate::wal::{LogLink, LogReader, LogWriter, ReadOutcome};
use crate::{Db, Options, WalRecoveryMode};

/// A file number far above any the database has used.
const LATER: u64 = 1000;

fn key(i: u64) -> String {
    format!("k{i:03}")
}

/// Builds the database; returns log `N`'s path and number.
fn build(dir: &Path, link_to: impl FnOnce(u64, u64) -> LogLink) -> (PathBuf, u64) {
    let db = Db::open(dir, Options::default()).unwrap();
    for i in 0..10 {
        db.put(key(i), format!("v{i}")).unwrap();
    }
    db.close().unwrap();
    let (number, path) = newest_log(dir);
    let length = std::fs::metadata(&path).unwrap().len();
    let later = filename::log_path(dir, LATER);
    let mut writer = LogWriter::new(RealFileSystem.create(&later).unwrap());
    writer
        .add_record(&link_to(number, length).encode())
        .unwrap();
    for i in 10..20 {
        let mut batch = WriteBatch::new();
        batch.put(key(i), format!("v{i}"));
        batch.set_sequence(i + 1);
        writer.add_record(batch.encoded()).unwrap();
    }
    writer.sync().unwrap();
    (path, number)
}

fn newest_log(dir: &Path) -> (u64, PathBuf) {
    let mut logs: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(
            |e| match filename::parse(e.unwrap().file_name().to_str()?) {
                Some(filename::FileKind::Log(n)) => Some(n),
                _ => None,
            },
        )
        .collect();
    logs.sort_unstable();
    let n = logs.pop().expect("a log");
    (n, filename::log_path(dir, n))
}

/// Cuts the log at `path` after its first `records` records.
fn keep_records(path: &Path, records: usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = LogReader::new(&bytes);
    for _ in 0..records {
        assert!(matches!(reader.read_record(), ReadOutcome::Record { .. }));
    }
    let end = reader.end_of_last_record();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(end)
        .unwrap();
}

fn present(dir: &Path, mode: WalRecoveryMode) -> crate::Result<Vec<u64>> {
    let db = Db::open(
        dir,
        Options {
            wal_recovery_mode: mode,
            ..Options::default()
        },
    )?;
    Ok((0..20)
        .filter(|&i| db.get(key(i)).unwrap().is_some())
        .collect())
}

#[test]
fn a_log_whose_predecessor_is_whole_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, number) = build(dir.path(), |previous, length| LogLink { previous, length });
    let dump = crate::tools::dump_log(&filename::log_path(dir.path(), LATER)).unwrap();
    assert_eq!(
        dump.records[0].continues,
        Some(crate::tools::LogContinuation {
            log: number,
            from_byte: std::fs::metadata(&log).unwrap().len(),
        })
    );
    assert_eq!(dump.records.len(), 11, "the link and ten batches");
    assert_eq!(
        present(dir.path(), WalRecoveryMode::Strict).unwrap(),
        (0..20).collect::<Vec<_>>()
    );
}

#[test]
fn replay_stops_where_the_predecessor_lost_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = build(dir.path(), |previous, length| LogLink { previous, length });
    // A power loss kept 6 of the first log's 10 records and all of the later log.
    keep_records(&log, 6);
    assert!(
        present(dir.path(), WalRecoveryMode::Strict)
            .unwrap_err()
            .is_corruption(),
        "strict mode refuses the gap"
    );
    assert_eq!(
        present(dir.path(), WalRecoveryMode::PointInTime).unwrap(),
        (0..6).collect::<Vec<_>>(),
        "the later log's records would leave a hole"
    );
    let lost = dir.path().join("lost").join(format!("{LATER:06}.log"));
    assert!(lost.exists(), "the later log is kept for inspection");
    // The recovered state is stable across another open.
    assert_eq!(
        present(dir.path(), WalRecoveryMode::Strict).unwrap(),
        (0..6).collect::<Vec<_>>()
    );
}

#[test]
fn replay_stops_at_a_link_to_a_missing_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), |previous, _| LogLink {
        previous: previous + 1,
        length: 100,
    });
    assert_eq!(
        present(dir.path(), WalRecoveryMode::PointInTime).unwrap(),
        (0..10).collect::<Vec<_>>()
    );
}

#[test]
fn a_link_to_a_flushed_log_is_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), |previous, _| LogLink {
        previous: previous - 1,
        length: u64::MAX,
    });
    assert_eq!(
        present(dir.path(), WalRecoveryMode::Strict).unwrap(),
        (0..20).collect::<Vec<_>>()
    );
}

/// A batch whose checksums hold but whose sequence numbers run past the largest the
/// engine uses is damage: the open stops there (point-in-time) or fails (strict), and
/// neither panics nor takes the numbers in.
#[test]
fn a_batch_numbered_out_of_range_is_damage() {
    for (sequence, count) in [(0, 1), (crate::key::MAX_SEQUENCE, 2), (u64::MAX, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put("before", "1").unwrap();
        db.close().unwrap();
        let later = filename::log_path(dir.path(), LATER);
        let mut writer = LogWriter::new(RealFileSystem.create(&later).unwrap());
        let mut batch = WriteBatch::new();
        for i in 0..count {
            batch.put(key(i), "v");
        }
        batch.set_sequence(sequence);
        writer.add_record(batch.encoded()).unwrap();
        writer.sync().unwrap();
        drop(writer);

        let strict = Db::open(
            dir.path(),
            Options {
                wal_recovery_mode: WalRecoveryMode::Strict,
                ..Options::default()
            },
        );
        assert!(
            strict.as_ref().is_err_and(|e| e.is_corruption()),
            "sequence {sequence}: {:?}",
            strict.map(|_| ())
        );
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(db.get("before").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(key(0)).unwrap(), None, "sequence {sequence}");
        // Writes go on with sane numbers.
        db.put("after", "2").unwrap();
        assert_eq!(db.get("after").unwrap().as_deref(), Some(&b"2"[..]));
        db.close().unwrap();
    }
}

/// A file whose name looks like the engine's but carries a huge number (a timestamp,
/// or more digits than a u64 holds) neither stalls the open counting up to it nor
/// overflows the file counter.
#[test]
fn stray_files_with_huge_numbers_neither_stall_nor_overflow_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("k", "v").unwrap();
    db.close().unwrap();
    for name in [
        "20240101120000.sst",
        "18446744073709551615.log",
        "99999999999999999999999.sst",
    ] {
        std::fs::write(dir.path().join(name), b"not ours").unwrap();
    }
    let start = std::time::Instant::now();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put("k2", "v2").unwrap();
    db.flush().unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // Names above the counter's range are not the engine's: left alone.
    assert!(dir.path().join("18446744073709551615.log").exists());

    // A number the counter could reach but not move on from much is refused, naming
    // the file, and the database opens again once it is gone.
    let near_the_top = format!("{}.log", filename::MAX_FILE_NUMBER);
    std::fs::write(dir.path().join(&near_the_top), b"not ours").unwrap();
    let refused = Db::open(dir.path(), Options::default()).map(|_| ());
    let message = refused
        .expect_err("opened with the counter at its end")
        .to_string();
    assert!(message.contains(&near_the_top), "{message}");
    let refused = crate::repair(dir.path()).map(|_| ());
    assert!(refused.is_err(), "repair took the number");
    std::fs::remove_file(dir.path().join(&near_the_top)).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get("k2").unwrap().as_deref(), Some(&b"v2"[..]));
    db.close().unwrap();
}
