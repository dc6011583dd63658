//! Open file descriptors stay within `max_open_files` (Linux: counts `/proc/self/fd`).
//! A test binary of its own, its tests one at a time ([`serial`]), so no other test
//! opens files meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use shaledb::{CompactionStyle, Db, Options};

/// Held by each test for its whole run.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The highest count of open descriptors, above the count when it started, while
/// `work` runs.
fn peak_extra_fds(work: impl FnOnce()) -> usize {
    let before = open_fds();
    let peak = Arc::new(AtomicUsize::new(before));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, stop) = (Arc::clone(&peak), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(open_fds(), Ordering::Relaxed);
            }
        })
    };
    work();
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    peak.load(Ordering::Relaxed).saturating_sub(before)
}

fn level0(db: &Db) -> u64 {
    db.property("shaledb.num-files-at-level0")
        .and_then(|n| n.parse().ok())
        .expect("level-0 file count")
}

/// A bulk load with compactions off: one level-0 table per flush.
fn bulk_load(dir: &std::path::Path, options: &Options, tables: u32) {
    let db = Db::open(dir, options.clone()).expect("open");
    for t in 0..tables {
        for k in 0..20u32 {
            db.put(format!("{:05}-{t:05}", k * 7 + t), [b'v'; 64])
                .expect("put");
        }
        db.flush().expect("flush");
    }
    db.close().expect("close");
}

/// Found by an audit: a merge of level 0 opened every level-0 table at once, so after
/// a bulk load of 1,100 tables with compactions off, `compact_range(..)` ran out of
/// descriptors under the usual limit of 1,024, made the database read-only, and failed
/// again after every reopen. Level 0 now goes down in batches the table cache can hold.
#[cfg(target_os = "linux")]
#[test]
fn compacting_a_large_level0_keeps_within_max_open_files() {
    let _serial = serial();
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        for manual in [true, false] {
            let dir = tempfile::tempdir().expect("temp dir");
            let options = Options {
                max_open_files: 16,
                memtable_size: 4 << 10,
                compaction: style,
                disable_auto_compactions: true,
                ..Options::default()
            };
            bulk_load(dir.path(), &options, 150);
            let options = Options {
                disable_auto_compactions: manual,
                level0_slowdown_writes_trigger: 1_000,
                level0_stop_writes_trigger: 1_000,
                ..options
            };
            let db = Db::open(dir.path(), options).expect("reopen");
            let extra = peak_extra_fds(|| {
                if manual {
                    db.compact_range::<&[u8], _>(..).expect("compact_range");
                } else {
                    db.wait_for_compactions().expect("compactions");
                }
            });
            assert!(
                extra <= 16,
                "{style:?}, manual {manual}: compaction held {extra} more descriptors open"
            );
            let left = level0(&db);
            assert!(
                left <= 10,
                "{style:?}, manual {manual}: {left} level-0 tables left"
            );
            assert_eq!(db.iter().count(), 150 * 20, "{style:?}, manual {manual}");
            db.close().expect("close");
        }
    }
}

/// `shaledb.live-data-size` reads every table, one at a time: it used to hold all of
/// them open at once, one descriptor per table whatever `max_open_files` said.
#[cfg(target_os = "linux")]
#[test]
fn live_data_size_keeps_within_max_open_files() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options {
        max_open_files: 16,
        memtable_size: 4 << 10,
        // Every flush stays a table of its own.
        disable_auto_compactions: true,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    for t in 0..200u32 {
        for k in 0..20u32 {
            db.put(format!("{t:05}-{k:03}"), [b'v'; 64]).expect("put");
        }
        db.flush().expect("flush");
    }
    let tables = level0(&db);
    assert!(tables >= 200, "{tables} tables");

    let extra = peak_extra_fds(|| {
        for _ in 0..20 {
            let live: u64 = db
                .property("shaledb.live-data-size")
                .and_then(|n| n.parse().ok())
                .expect("live data size");
            assert!(live > 0);
        }
    });
    assert!(
        extra <= 16,
        "the property held {extra} more descriptors open"
    );
    db.close().expect("close");
}
