//! Fault injection through the file-system seam: simulated power loss (with and
//! without torn writes) and failing writes, syncs and a full disk.
//!
//! Every run prints its seed; rerun one with `SHALEDB_SEED=<seed>`.

mod common;

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::fs::{FaultInjectionFs, FaultKind};
use shaledb::{Db, Error, Options, WalRecoveryMode, WriteBatch, WriteOptions};

fn options(fs: &FaultInjectionFs) -> Options {
    Options {
        memtable_size: 16 << 10,
        block_size: 512,
        level_base_size: 64 << 10,
        target_file_size: 32 << 10,
        file_system: Arc::new(fs.clone()),
        ..Options::default()
    }
}

fn seed() -> u64 {
    let seed = std::env::var("SHALEDB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (rerun with SHALEDB_SEED={seed})");
    seed
}

fn batch(i: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(format!("k{i:08}"), format!("value-{i}-").repeat(5));
    b.put(format!("b{i:08}"), format!("{i}"));
    b
}

/// Checks what survived: batches 0..n all present and whole, nothing after n, and n at
/// least `acked_synced`.
fn check_prefix(db: &Db, attempted: u64, acked_synced: u64) -> u64 {
    let mut present = 0;
    let mut gap = false;
    for i in 0..attempted {
        let k = db.get(format!("k{i:08}")).unwrap();
        let b = db.get(format!("b{i:08}")).unwrap();
        assert_eq!(k.is_some(), b.is_some(), "batch {i} is partial");
        match k {
            Some(v) => {
                assert!(
                    !gap,
                    "batch {i} survived but an earlier one was lost: a hole"
                );
                assert_eq!(
                    v,
                    format!("value-{i}-").repeat(5).into_bytes(),
                    "batch {i} has a wrong value"
                );
                present += 1;
            }
            None => gap = true,
        }
    }
    assert!(
        present >= acked_synced,
        "lost synced batches: {present} survived, {acked_synced} were acknowledged with sync"
    );
    present
}

fn power_loss_rounds(rounds: usize, torn: bool) {
    // The log written through a memory map (the default) and through write(2).
    for wal_mmap in [true, false] {
        eprintln!("wal_mmap {wal_mmap}");
        power_loss_rounds_with(rounds, torn, wal_mmap);
    }
}

fn power_loss_rounds_with(rounds: usize, torn: bool, wal_mmap: bool) {
    let options = |fs: &FaultInjectionFs| Options {
        wal_mmap,
        ..options(fs)
    };
    let seed = seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let mut next = 0u64;
    for round in 0..rounds {
        let db = Db::open(dir.path(), options(&fs)).unwrap();
        let base = check_prefix(&db, next, 0);
        // Continue after what survived; anything lost is rewritten under the same numbers.
        next = base;
        let mut acked_synced = base;
        let writes = rng.random_range(50..600);
        for _ in 0..writes {
            let sync = rng.random_bool(0.3);
            db.write_opt(
                batch(next),
                &WriteOptions {
                    sync,
                    ..Default::default()
                },
            )
            .unwrap();
            next += 1;
            if sync {
                acked_synced = next;
            }
            if rng.random_bool(0.01) {
                db.flush().unwrap();
            }
        }
        fs.crash();
        drop(db);
        let torn_seed = torn.then(|| rng.random());
        fs.power_loss(torn_seed).unwrap();
        let db = Db::open(dir.path(), options(&fs)).unwrap();
        let survived = check_prefix(&db, next, acked_synced);
        eprintln!("round {round}: {survived} of {next} batches survived, {acked_synced} synced");
        next = survived;
        db.close().unwrap();
    }
}

#[test]
fn power_loss_keeps_every_synced_batch_and_leaves_no_holes() {
    power_loss_rounds(12, false);
}

#[test]
fn torn_writes_at_power_loss_keep_a_prefix() {
    power_loss_rounds(12, true);
}

fn immutable_memtables(db: &Db) -> u64 {
    db.property("shaledb.num-immutable-mem-table")
        .and_then(|v| v.parse().ok())
        .expect("a numeric property")
}

/// A memtable switch leaves the old log unsynced, so a power loss can cut its tail
/// while the next log keeps records. Replay must stop at the cut (the next log's first
/// record says where the old one ended) instead of resuming after it with a hole.
/// Table creation is held so the frozen memtable cannot make its log obsolete first.
#[test]
fn power_loss_after_an_unsynced_memtable_switch_keeps_a_prefix() {
    for wal_mmap in [true, false] {
        eprintln!("wal_mmap {wal_mmap}");
        let options = |fs: &FaultInjectionFs| Options {
            wal_mmap,
            ..options(fs)
        };
        let mut rng = StdRng::seed_from_u64(seed());
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultInjectionFs::new();
        let mut next = 0u64;
        for round in 0..12 {
            let db = Db::open(dir.path(), options(&fs)).unwrap();
            next = check_prefix(&db, next, 0);
            let mut acked_synced = next;
            let mut write = |db: &Db, rng: &mut StdRng, sync_chance: f64| {
                let sync = rng.random_bool(sync_chance);
                let opts = WriteOptions {
                    sync,
                    ..Default::default()
                };
                db.write_opt(batch(next), &opts).unwrap();
                next += 1;
                if sync {
                    acked_synced = next;
                }
            };
            for _ in 0..rng.random_range(0..200) {
                write(&db, &mut rng, 0.05);
            }
            // No flush may be under way: a writer waiting for one would wait forever.
            while immutable_memtables(&db) > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            fs.hold_tables(true);
            while immutable_memtables(&db) == 0 {
                write(&db, &mut rng, 0.05);
            }
            // Less than a memtable's worth (about 80 batches), so no second switch
            // waits for the held flush. A sync would make the old log durable, so
            // most rounds have none.
            let sync_chance = if rng.random_bool(0.2) { 0.05 } else { 0.0 };
            for _ in 0..rng.random_range(4..40) {
                write(&db, &mut rng, sync_chance);
            }
            fs.crash();
            fs.hold_tables(false);
            drop(db);
            // Cut between appends, the old log often ends cleanly after a record while
            // the new one keeps some; cut anywhere, it mostly ends in a torn record.
            let seed = rng.random();
            if round % 2 == 0 {
                fs.power_loss_between_appends(seed).unwrap();
            } else {
                fs.power_loss(Some(seed)).unwrap();
            }
            let db = Db::open(dir.path(), options(&fs)).unwrap();
            let survived = check_prefix(&db, next, acked_synced);
            eprintln!(
                "round {round}: {survived} of {next} batches survived, {acked_synced} synced"
            );
            next = survived;
            db.close().unwrap();
        }
    }
}

/// The long form: `cargo test -p shaledb --test faults -- --ignored`.
#[test]
#[ignore]
fn power_loss_long() {
    let rounds = std::env::var("SHALEDB_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    power_loss_rounds(rounds, true);
}

fn fill(db: &Db, from: u64, to: u64) {
    for i in from..to {
        db.write(batch(i)).unwrap();
    }
}

fn expect_read_only(result: shaledb::Result<()>) {
    match result {
        Err(Error::ReadOnly(cause)) => assert!(matches!(*cause, Error::Io(_)), "cause: {cause}"),
        Err(Error::Io(_)) => {}
        other => panic!("expected an I/O or read-only error, got {other:?}"),
    }
}

#[test]
fn failed_log_write_makes_the_database_read_only_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    fill(&db, 0, 100);
    fs.fail(FaultKind::DiskFull, 0, u64::MAX);
    expect_read_only(db.write(batch(100)));
    // Later writes fail with the read-only error naming the cause; reads still work.
    let err = db.write(batch(101)).unwrap_err();
    assert!(matches!(err, Error::ReadOnly(_)), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(db.get("b00000042").unwrap().as_deref(), Some(&b"42"[..]));
    drop(db);
    fs.clear_faults();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    let survived = check_prefix(&db, 102, 100);
    assert!(survived <= 101);
}

#[test]
fn failed_sync_is_reported_and_never_treated_as_durable() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    let synced = WriteOptions {
        sync: true,
        ..Default::default()
    };
    for i in 0..20 {
        db.write_opt(batch(i), &synced).unwrap();
    }
    fs.fail(FaultKind::Sync, 0, 1);
    expect_read_only(db.write_opt(batch(20), &synced));
    // Even with the disk healthy again, the database stays read-only: the failed
    // sync is not retried as if the data were safe.
    let err = db.write_opt(batch(21), &synced).unwrap_err();
    assert!(matches!(err, Error::ReadOnly(_)), "{err}");
    fs.crash();
    drop(db);
    fs.power_loss(None).unwrap();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    let survived = check_prefix(&db, 22, 20);
    assert!(survived <= 21, "a batch whose write failed came back");
}

/// The size on disk of the newest log.
fn newest_log_size(dir: &std::path::Path) -> u64 {
    std::fs::metadata(common::newest_log(dir)).unwrap().len()
}

#[test]
fn a_preallocated_log_reopens_in_strict_mode_after_a_power_loss_that_cut_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let strict = Options {
        wal_recovery_mode: WalRecoveryMode::Strict,
        memtable_size: 4 << 20,
        ..options(&fs)
    };
    let db = Db::open(dir.path(), strict.clone()).unwrap();
    let synced = WriteOptions {
        sync: true,
        ..Default::default()
    };
    for i in 0..300 {
        db.write_opt(batch(i), &synced).unwrap();
    }
    // Synced small writes keep zeros ahead of the records: the log is longer than them.
    assert!(newest_log_size(dir.path()) >= 1 << 20);
    fs.crash();
    drop(db);
    fs.power_loss(Some(seed())).unwrap();
    // The zeros after the last record are the log's end, not damage, even in strict mode.
    let db = Db::open(dir.path(), strict).unwrap();
    assert_eq!(check_prefix(&db, 300, 300), 300);
}

#[test]
fn a_failed_preallocation_falls_back_to_appending() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    // Written with write(2), the log's size on disk shows whether zeros were added (a
    // memory-mapped log is allocated a window at a time).
    let options = || Options {
        wal_mmap: false,
        ..options(&fs)
    };
    let db = Db::open(dir.path(), options()).unwrap();
    let synced = WriteOptions {
        sync: true,
        ..Default::default()
    };
    // The first synced write appends a header and a payload, then preallocates: that
    // third write fails with a full disk. The write itself still succeeds.
    fs.fail(FaultKind::DiskFull, 2, 1);
    for i in 0..50 {
        db.write_opt(batch(i), &synced).unwrap();
    }
    assert!(newest_log_size(dir.path()) < 1 << 20, "no zeros were added");
    fs.crash();
    drop(db);
    fs.power_loss(None).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(check_prefix(&db, 50, 50), 50);
}

#[test]
fn failing_flush_or_compaction_stops_writes_but_not_reads() {
    let seed = seed();
    for kind in [
        FaultKind::Write,
        FaultKind::DiskFull,
        FaultKind::Sync,
        FaultKind::Create,
        FaultKind::Rename,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultInjectionFs::new();
        let db = Db::open(dir.path(), options(&fs)).unwrap();
        fill(&db, 0, 300);
        // Let a few operations through so the fault lands in background work.
        fs.fail(kind, seed % 7, u64::MAX);
        let mut acked = 300;
        for i in 300..3000 {
            match db.write(batch(i)) {
                Ok(()) => acked = i + 1,
                Err(_) => break,
            }
        }
        let _ = db.flush();
        let _ = db.compact_range::<&[u8], _>(..);
        // Reads of acknowledged data keep working (or fail cleanly), never lie.
        for i in (0..acked).step_by(37) {
            if let Ok(v) = db.get(format!("b{i:08}")) {
                assert_eq!(v, Some(i.to_string().into_bytes()), "{kind:?}: batch {i}");
            }
        }
        fs.crash();
        drop(db);
        fs.clear_faults();
        fs.power_loss(None).unwrap();
        let db = Db::open(dir.path(), options(&fs)).unwrap();
        check_prefix(&db, 3000, 0);
        // Everything acknowledged before the fault was handed to the OS; with the
        // power loss only synced data is promised, which the prefix check covers.
        db.close().unwrap();
    }
}

/// A manifest edit whose record was written but whose sync failed may still be in the
/// manifest the next open reads. The tables it adds must not be deleted meanwhile (a
/// failed compaction used to remove its outputs, and a failed flush left its table to
/// the next purge), or that open finds the manifest naming missing tables. Every sync
/// of a manual compaction is failed in turn, from the first on.
#[test]
fn tables_of_a_failed_manifest_edit_stay_until_the_next_open() {
    for after in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let fs = FaultInjectionFs::new();
        let opts = Options {
            memtable_size: 1 << 20,
            disable_auto_compactions: true,
            ..options(&fs)
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        fill(&db, 0, 200);
        db.flush().unwrap();
        fill(&db, 100, 300);
        fs.fail(FaultKind::Sync, after, u64::MAX);
        let flushed = db.flush();
        let compacted = db.compact_range::<&[u8], _>(..);
        drop(db);
        fs.clear_faults();
        // No power loss: everything written, synced or not, is still there.
        let db = Db::open(dir.path(), opts)
            .unwrap_or_else(|e| panic!("sync {after} failed, then the open failed: {e}"));
        assert_eq!(check_prefix(&db, 300, 300), 300, "sync {after}");
        db.close().unwrap();
        if flushed.is_ok() && compacted.is_ok() {
            // Every sync of the flush and the compaction went through.
            return;
        }
    }
    panic!("the flush and compaction take more than 40 syncs");
}

/// Found while adding log links: open synced only the database directory after moving
/// damaged logs into `lost/`, so a power loss soon after could undo the move and lose
/// the very bytes kept for inspection.
#[test]
fn logs_moved_to_lost_survive_a_power_loss() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    for i in 0..20u64 {
        let opts = WriteOptions {
            sync: true,
            ..Default::default()
        };
        db.write_opt(batch(i), &opts).unwrap();
    }
    db.close().unwrap();
    let log = common::newest_log(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&log, bytes).unwrap();

    let db = Db::open(dir.path(), options(&fs)).unwrap();
    let moved = dir.path().join("lost").join(log.file_name().unwrap());
    assert!(moved.exists(), "open keeps the damaged log in lost/");
    fs.crash();
    drop(db);
    fs.power_loss(None).unwrap();
    assert!(moved.exists(), "the move to lost/ was not durable");
    assert!(std::fs::metadata(&moved).unwrap().len() > 0);
}

/// Found by review: an empty batch written with `sync` skipped the log, so it did not
/// make the writes before it durable (the LevelDB idiom for a sync point).
#[test]
fn an_empty_synced_batch_makes_earlier_writes_durable() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    for i in 0..20 {
        db.write(batch(i)).unwrap();
    }
    let synced = WriteOptions {
        sync: true,
        ..Default::default()
    };
    db.write_opt(WriteBatch::new(), &synced).unwrap();
    fs.crash();
    drop(db);
    fs.power_loss(None).unwrap();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    assert_eq!(check_prefix(&db, 20, 20), 20);
}

#[test]
fn a_synced_write_without_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let opts = WriteOptions {
        sync: true,
        disable_wal: true,
    };
    let err = db.write_opt(batch(0), &opts).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(db.get(b"k0").unwrap(), None, "a refused write was applied");
}

fn table_names(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .collect()
}

/// After a background error the database stops writing, but tables that an iterator
/// kept past a compaction are still deleted once it is dropped, not at the next open.
#[test]
fn tables_released_after_a_background_error_are_still_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let opts = Options {
        disable_auto_compactions: true,
        ..options(&fs)
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 0, 200);
    db.flush().unwrap();
    fill(&db, 100, 300);
    db.flush().unwrap();
    let replaced = table_names(dir.path());
    assert!(replaced.len() >= 2, "{replaced:?}");
    let pinned = db.iter();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert!(
        replaced.iter().all(|t| t.exists()),
        "the iterator keeps the compacted tables"
    );
    fs.fail(FaultKind::DiskFull, 0, u64::MAX);
    expect_read_only(db.write(batch(300)));
    drop(pinned);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while replaced.iter().any(|t| t.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "tables no version uses stayed after the error: {replaced:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(db);
    fs.clear_faults();
    let db = Db::open(dir.path(), opts).unwrap();
    assert!(check_prefix(&db, 301, 300) >= 300);
    db.close().unwrap();
}

/// Found by review: a write whose leader panicked (here the file system's append) was
/// never taken off the writer queue, so every writer behind it waited for good, and so
/// did `close`, which waits for the queue to empty. The database now turns read-only:
/// later writes fail, `close` returns, and what was written before is kept.
#[test]
fn a_panic_in_the_write_path_fails_later_writes_and_close_still_returns() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    fill(&db, 0, 10);
    fs.fail(FaultKind::PanicOnWrite, 0, 1);
    let writer = db.clone();
    let panicked = std::thread::spawn(move || writer.write(batch(10))).join();
    assert!(panicked.is_err(), "the append should have panicked");
    fs.clear_faults();
    // Both on a thread: without the fix they wait for the panicked writer for good.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let later = db.write(batch(11));
        let _ = done.send((later.is_err(), db.close()));
    });
    let result = finished.recv_timeout(std::time::Duration::from_secs(20));
    let (later_failed, _) = result.expect("a write or close waited for the panicked writer");
    assert!(later_failed, "a write after the panic succeeded");
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    assert!(check_prefix(&db, 12, 10) >= 10);
    db.close().unwrap();
}

/// Found by review: the log switch a close makes to flush writes made without the log
/// appends the new log's first record; a file system that panics there unwound out of
/// `close` (and aborted the process when the close came from a drop during a panic).
/// It now fails like a flush: `close` returns the error and still releases the lock.
#[test]
fn a_panic_in_the_log_switch_at_close_is_an_error_and_the_lock_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    fill(&db, 0, 10);
    let no_wal = WriteOptions {
        disable_wal: true,
        ..WriteOptions::default()
    };
    db.write_opt(batch(10), &no_wal).unwrap();
    let snapshot = db.snapshot();
    fs.fail(FaultKind::PanicOnWrite, 0, 1);
    let closed = std::thread::spawn(move || db.close()).join();
    let result = closed.expect("close panicked");
    assert!(
        result.is_err(),
        "close kept an unlogged write it could not flush"
    );
    fs.clear_faults();
    // The snapshot still holds the engine; the lock must be free all the same.
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    assert!(check_prefix(&db, 11, 10) >= 10);
    drop(snapshot);
    db.close().unwrap();
}

/// A point-in-time open keeps the logs it could not replay in `lost/`. It used to move
/// them there after recording that they were obsolete, and a failed move (or a crash
/// between the two) only warned, so the purge deleted the only copy. It now copies them
/// durably first; renames failing changes nothing.
#[test]
fn damaged_logs_reach_lost_even_when_renames_fail() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let opts = Options {
        memtable_size: 1 << 20,
        ..options(&fs)
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    fill(&db, 0, 200);
    db.close().unwrap();
    let log = common::newest_log(dir.path());
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&log, &bytes).unwrap();

    // The open's manifest roll renames CURRENT once; every later rename fails.
    fs.fail(FaultKind::Rename, 1, u64::MAX);
    let db = Db::open(dir.path(), opts).unwrap();
    let kept = dir.path().join("lost").join(log.file_name().unwrap());
    assert_eq!(
        std::fs::read(&kept).ok(),
        Some(bytes),
        "the damaged log was not kept"
    );
    assert!(!log.exists(), "the obsolete original stayed");
    let survived = check_prefix(&db, 200, 0);
    assert!(survived > 0 && survived < 200, "{survived} batches");
    db.close().unwrap();
}

/// Found by review: a flush or compaction that panicked killed its worker thread and
/// left its work marked as running, so no flush or compaction ever ran again and
/// writers (and `Db::flush`) waited for good. The panic now makes the database
/// read-only, as a failed flush does.
#[test]
fn a_panic_in_a_background_flush_makes_the_database_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultInjectionFs::new();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    fill(&db, 0, 10);
    // The flush stalls before its table; then its first append panics.
    fs.hold_tables(true);
    let (done, finished) = std::sync::mpsc::channel();
    let flusher = db.clone();
    std::thread::spawn(move || {
        let _ = done.send(flusher.flush());
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    fs.fail(FaultKind::PanicOnWrite, 0, 1);
    fs.hold_tables(false);
    let flushed = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("flush waited for good for a worker that had panicked");
    let err = flushed.expect_err("the flush panicked, yet flush returned Ok");
    assert!(matches!(err, shaledb::Error::ReadOnly(_)), "{err}");
    fs.clear_faults();
    assert!(
        db.write(batch(10)).is_err(),
        "a write after the panic succeeded"
    );
    db.close().unwrap();
    let db = Db::open(dir.path(), options(&fs)).unwrap();
    assert!(check_prefix(&db, 10, 10) >= 10);
    db.close().unwrap();
}
