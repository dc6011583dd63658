//! Open file descriptors stay within `max_open_files` (Linux: counts `/proc/self/fd`).
//! A test binary of its own, so no other test opens files meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use shaledb::{Db, Options};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// `shaledb.live-data-size` reads every table, one at a time: it used to hold all of
/// them open at once, one descriptor per table whatever `max_open_files` said.
#[cfg(target_os = "linux")]
#[test]
fn live_data_size_keeps_within_max_open_files() {
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
    let tables: u64 = db
        .property("shaledb.num-files-at-level0")
        .and_then(|n| n.parse().ok())
        .expect("level-0 file count");
    assert!(tables >= 200, "{tables} tables");

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
    for _ in 0..20 {
        let live: u64 = db
            .property("shaledb.live-data-size")
            .and_then(|n| n.parse().ok())
            .expect("live data size");
        assert!(live > 0);
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    let extra = peak.load(Ordering::Relaxed).saturating_sub(before);
    assert!(
        extra <= 16,
        "the property held {extra} more descriptors open"
    );
    db.close().expect("close");
}
