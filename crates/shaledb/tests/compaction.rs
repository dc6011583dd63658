//! Compaction: space comes back, snapshots survive, backpressure bounds level 0,
//! manual compaction of a range, both styles, and no orphan files after a kill.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use shaledb::{CompactionStyle, Db, Options, WriteBatch};

fn small(style: CompactionStyle) -> Options {
    Options {
        memtable_size: 32 << 10,
        block_size: 1024,
        level0_compaction_trigger: 2,
        tiered_run_trigger: 2,
        level_base_size: 128 << 10,
        level_size_multiplier: 4,
        target_file_size: 64 << 10,
        compaction: style,
        ..Options::default()
    }
}

fn num(db: &Db, property: &str) -> u64 {
    let text = db
        .property(property)
        .unwrap_or_else(|| panic!("no property {property}"));
    text.parse()
        .unwrap_or_else(|_| panic!("{property} is not a plain number: {text:?}"))
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!("value-{i}-{round}-").repeat(4).into_bytes()
}

fn load(db: &Db, n: u64, round: u64) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut batch = WriteBatch::new();
        for &i in chunk {
            batch.put(key(i), value(i, round));
        }
        db.write(batch).unwrap();
    }
}

/// The table files in `dir`.
fn sst_paths(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .collect()
}

fn sst_files(dir: &std::path::Path) -> usize {
    sst_paths(dir).len()
}

#[test]
fn deleting_everything_and_compacting_gives_the_space_back() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small(style)).unwrap();
        load(&db, 20_000, 0);
        db.flush().unwrap();
        assert!(
            num(&db, "shaledb.total-sst-size") > 100_000,
            "{style:?}: load too small"
        );
        for i in 0..20_000 {
            db.delete(key(i)).unwrap();
        }
        db.compact_range::<&[u8], _>(..).unwrap();
        assert_eq!(
            num(&db, "shaledb.total-sst-size"),
            0,
            "{style:?}: space not reclaimed"
        );
        assert_eq!(db.iter().count(), 0);
        assert_eq!(
            sst_files(dir.path()),
            0,
            "{style:?}: obsolete table files left behind"
        );
    }
}

#[test]
fn tables_an_iterator_held_are_deleted_once_it_is_dropped() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            disable_auto_compactions: true,
            ..small(style)
        };
        let db = Db::open(dir.path(), options).unwrap();
        load(&db, 5_000, 0);
        db.flush().unwrap();
        let mut held = db.iter();
        for i in 0..5_000 {
            db.delete(key(i)).unwrap();
        }
        db.compact_range::<&[u8], _>(..).unwrap();
        // As RocksDB's live- and total-sst-files-size: the current version holds no
        // table, and the tables the iterator holds are still on disk and counted.
        assert_eq!(num(&db, "shaledb.live-sst-size"), 0, "{style:?}");
        let on_disk: u64 = sst_paths(dir.path())
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(on_disk > 0, "{style:?}: held tables deleted");
        assert_eq!(num(&db, "shaledb.total-sst-size"), on_disk, "{style:?}");
        // The iterator still reads the tables it started with.
        assert_eq!(held.next().map(|e| e.unwrap().0), Some(key(0)), "{style:?}");
        drop(held);
        assert_eq!(num(&db, "shaledb.total-sst-size"), 0, "{style:?}");
        // With no write, flush or compaction to come, the release alone must bring
        // the space back.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sst_files(dir.path()) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            sst_files(dir.path()),
            0,
            "{style:?}: tables no version holds are still on disk"
        );
    }
}

#[test]
fn snapshots_taken_before_a_compaction_read_the_old_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
    load(&db, 5_000, 0);
    let snap = db.snapshot();
    load(&db, 5_000, 1);
    for i in (0..5_000).step_by(3) {
        db.delete(key(i)).unwrap();
    }
    db.compact_range::<&[u8], _>(..).unwrap();
    for i in (0..5_000).step_by(7) {
        assert_eq!(
            snap.get(key(i)).unwrap(),
            Some(value(i, 0)),
            "snapshot lost key {i}"
        );
        let now = db.get(key(i)).unwrap();
        let want = (i % 3 != 0).then(|| value(i, 1));
        assert_eq!(now, want, "current view of key {i}");
    }
    assert_eq!(snap.iter().count(), 5_000);
    drop(snap);
    // With the snapshot gone, a second compaction drops the old versions.
    let before = num(&db, "shaledb.total-sst-size");
    db.compact_range::<&[u8], _>(..).unwrap();
    assert!(
        num(&db, "shaledb.total-sst-size") < before,
        "old versions were kept"
    );
}

#[test]
fn a_flush_writes_an_overwritten_key_once_unless_a_snapshot_reads_an_older_version() {
    let dir = tempfile::tempdir().unwrap();
    // One memtable holds everything: only the explicit flushes write tables.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let keys = 100;
    for round in 0..20 {
        load(&db, keys, round);
        if round == 5 {
            let snap = db.snapshot();
            for round in 6..20 {
                load(&db, keys, round);
            }
            db.flush().unwrap();
            // Rounds 0-4 are behind round 5, which the snapshot reads; rounds 5-19
            // stay, since each of 6-19 is newer than the snapshot.
            assert_eq!(num(&db, "shaledb.estimate-num-keys"), keys * 15);
            for i in 0..keys {
                assert_eq!(snap.get(key(i)).unwrap(), Some(value(i, 5)));
                assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 19)));
            }
            break;
        }
    }
    // With no snapshot, ten more rounds flush as one version per key.
    for round in 20..30 {
        load(&db, keys, round);
    }
    db.delete(key(0)).unwrap();
    db.flush().unwrap();
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 2);
    assert_eq!(
        num(&db, "shaledb.estimate-num-keys"),
        keys * 15 + keys - 2,
        "the tombstone stays (older versions lie below it) and cancels key 0"
    );
    assert_eq!(db.get(key(0)).unwrap(), None);
    for i in 1..keys {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 29)));
    }
    drop(db);
    // The same rule applies when open replays a log into a table.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for round in 30..35 {
        load(&db, keys, round);
    }
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 3);
    assert_eq!(
        num(&db, "shaledb.estimate-num-keys"),
        keys * 15 + keys - 2 + keys
    );
    assert_eq!(db.get(key(7)).unwrap(), Some(value(7, 34)));
}

#[test]
fn compacting_a_range_leaves_the_rest_readable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
    load(&db, 10_000, 0);
    load(&db, 10_000, 1);
    db.compact_range(key(2_000).as_slice()..key(4_000).as_slice())
        .unwrap();
    for i in (0..10_000).step_by(13) {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 1)));
    }
}

/// A full manual compaction merges every level into the last in one pass, so it
/// writes about the bytes it reads. (It used to go level by level, rewriting level 0's
/// data once per level on its way down: six times in a seven-level tree.)
#[test]
fn a_full_compaction_writes_each_table_once() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            memtable_size: 256 << 10,
            disable_auto_compactions: true,
            ..small(style)
        };
        let db = Db::open(dir.path(), opts).unwrap();
        load(&db, 10_000, 0);
        load(&db, 5_000, 1);
        db.flush().unwrap();
        let last = format!(
            "shaledb.num-files-at-level{}",
            Options::default().num_levels - 1
        );
        assert!(num(&db, "shaledb.num-files-at-level0") >= 3, "{style:?}");
        let tables = num(&db, "shaledb.total-sst-size");
        let before = num(&db, "shaledb.bytes-written");
        db.compact_range::<&[u8], _>(..).unwrap();
        let written = num(&db, "shaledb.bytes-written") - before;
        assert!(
            written > 0 && written <= tables,
            "{style:?}: {written} bytes written for {tables}"
        );
        assert_eq!(
            num(&db, "shaledb.num-files-total"),
            num(&db, &last),
            "{style:?}"
        );
        for i in (0..10_000).step_by(7) {
            let round = if i < 5_000 { 1 } else { 0 };
            assert_eq!(db.get(key(i)).unwrap(), Some(value(i, round)), "{style:?}");
        }
    }
}

/// The flush that starts a full compaction can bring level 0 to its trigger; the
/// automatic compaction that would set off used to run first, and the manual one then
/// rewrote its output (a third more bytes at 10M keys). A pending manual compaction now
/// holds it back.
#[test]
fn the_flush_before_a_full_compaction_sets_off_no_compaction_of_its_own() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            memtable_size: 256 << 10,
            level0_compaction_trigger: 4,
            ..small(CompactionStyle::Leveled)
        };
        let db = Db::open(dir.path(), opts).unwrap();
        // Three level-0 tables, then a fourth in the memtable.
        for part in 0..3 {
            load(&db, 2_000, part);
            db.flush().unwrap();
        }
        db.wait_for_compactions().unwrap();
        assert_eq!(num(&db, "shaledb.num-files-at-level0"), 3, "round {round}");
        load(&db, 2_000, 3);
        let tables = num(&db, "shaledb.total-sst-size");
        let before = num(&db, "shaledb.bytes-written");
        db.compact_range::<&[u8], _>(..).unwrap();
        let written = num(&db, "shaledb.bytes-written") - before;
        let flushed = tables / 3;
        assert!(
            written <= tables + flushed * 2,
            "round {round}: {written} bytes written for {tables} in tables"
        );
        assert_eq!(db.get(key(1_999)).unwrap(), Some(value(1_999, 3)));
    }
}

/// A bounded range rewrites the tables that hold it and what lies under them, not the
/// tree: a review of the one-pass merge found that widening the range by level-0
/// tables (which span nearly every key) turned `k..=k` into a rewrite of everything.
#[test]
fn compacting_a_small_range_rewrites_a_small_part_of_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        disable_auto_compactions: true,
        memtable_size: 1 << 20,
        target_file_size: 16 << 10,
        ..small(CompactionStyle::Leveled)
    };
    let db = Db::open(dir.path(), opts).unwrap();
    load(&db, 20_000, 0);
    db.compact_range::<&[u8], _>(..).unwrap();
    let tree = num(&db, "shaledb.total-sst-size");
    let last = format!(
        "shaledb.num-files-at-level{}",
        Options::default().num_levels - 1
    );
    let tables = num(&db, &last);
    assert!(tables >= 8, "the last level holds {tables} tables");
    // Only the last level holds the range: one table is rewritten.
    let before = num(&db, "shaledb.bytes-written");
    db.compact_range(key(10_000).as_slice()..=key(10_000).as_slice())
        .unwrap();
    let written = num(&db, "shaledb.bytes-written") - before;
    assert!(written > 0 && written < tree / 4, "{written} of {tree}");
    // New writes near the range go to level 0, then down with what they overlap.
    for i in 9_900..10_100 {
        db.put(key(i), value(i, 1)).unwrap();
    }
    let before = num(&db, "shaledb.bytes-written");
    db.compact_range(key(10_000).as_slice()..=key(10_000).as_slice())
        .unwrap();
    let written = num(&db, "shaledb.bytes-written") - before;
    assert!(written < tree / 4, "{written} of {tree}");
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 0);
    for i in (9_000..11_000).step_by(7) {
        let round = u64::from((9_900..10_100).contains(&i));
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, round)));
    }
}

/// Found by review: an inverted range holds no key, but a table spanning both bounds
/// "overlapped" it, so it pulled all of level 0 down. Like `Db::range`, it is empty.
#[test]
fn inverted_and_empty_ranges_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        disable_auto_compactions: true,
        ..small(CompactionStyle::Leveled)
    };
    let db = Db::open(dir.path(), opts).unwrap();
    load(&db, 2_000, 0);
    db.flush().unwrap();
    let files = num(&db, "shaledb.num-files-total");
    let level0 = num(&db, "shaledb.num-files-at-level0");
    assert!(level0 > 0);
    // Written after the last flush: an empty range still flushes it, as the torture
    // test's durability oracle expects of every compact_range that returns.
    db.put(b"late", b"write").unwrap();
    db.compact_range(key(1_500).as_slice()..key(500).as_slice())
        .unwrap();
    let (files, level0) = (files + 1, level0 + 1);
    assert_eq!(
        num(&db, "shaledb.num-files-total"),
        files,
        "the late write's flush"
    );
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), level0);
    let (k, k2) = (key(700), key(700));
    db.compact_range(k.as_slice()..k2.as_slice()).unwrap();
    assert_eq!(num(&db, "shaledb.num-files-total"), files);
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), level0);
    // One key, both bounds included, is a range to compact.
    db.compact_range(k.as_slice()..=k2.as_slice()).unwrap();
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 0);
}

#[test]
fn backpressure_keeps_level0_below_the_stop_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_size: 16 << 10,
        level0_compaction_trigger: 2,
        level0_slowdown_writes_trigger: 3,
        level0_stop_writes_trigger: 5,
        max_immutable_memtables: 1,
        max_background_jobs: 2,
        ..small(CompactionStyle::Leveled)
    };
    let stop = options.level0_stop_writes_trigger as u64;
    let slack = options.max_immutable_memtables as u64;
    let db = Db::open(dir.path(), options).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (db, done, peak) = (db.clone(), Arc::clone(&done), Arc::clone(&peak));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(num(&db, "shaledb.num-files-at-level0"), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    // Two writers, faster than one compaction thread can merge.
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    db.put(key(i * 2 + t), value(i, t)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    // Frozen memtables already waiting may still land after writers stop.
    assert!(
        peak <= stop + slack,
        "level 0 reached {peak} tables (stop trigger {stop})"
    );
    assert!(peak >= 1, "no table was ever seen in level 0");
    let stats = db.property("shaledb.stats").unwrap();
    assert!(stats.contains("Stalls"), "{stats}");
    for i in (0..40_000).step_by(101) {
        assert!(db.get(key(i)).unwrap().is_some(), "key {i} lost");
    }
}

/// Each open flushes the log it replays into a level-0 table, so a program that opens,
/// writes a little and closes, again and again, adds a table every time, and a close
/// abandons a compaction still running. Writes stop at the stop trigger whatever the
/// memtable holds, so level 0 stays bounded all the same.
#[test]
fn a_write_waits_while_level0_is_at_the_stop_trigger_even_with_room_in_the_memtable() {
    let dir = tempfile::tempdir().unwrap();
    let stop = 4;
    // Ten level-0 tables of about 400 KB each, built with compactions off.
    let paused = Options {
        memtable_size: 1 << 20,
        disable_auto_compactions: true,
        ..small(CompactionStyle::Leveled)
    };
    let db = Db::open(dir.path(), paused.clone()).unwrap();
    for round in 0..10 {
        for i in 0..3_000 {
            db.put(key(i), value(i, round)).unwrap();
        }
        db.flush().unwrap();
    }
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 10);
    db.close().unwrap();

    let db = Db::open(
        dir.path(),
        Options {
            disable_auto_compactions: false,
            level0_compaction_trigger: 2,
            level0_slowdown_writes_trigger: 3,
            level0_stop_writes_trigger: stop,
            ..paused
        },
    )
    .unwrap();
    // The memtable has room: only the level-0 count can hold this write back, until
    // the compaction that the open started (4 MB of input) has brought it down.
    db.put(b"one more", b"write").unwrap();
    let level0 = num(&db, "shaledb.num-files-at-level0");
    assert!(
        level0 < stop as u64,
        "the write went through with {level0} tables in level 0 (stop trigger {stop})"
    );
    for i in (0..3_000).step_by(97) {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 9)), "key {i}");
    }
}

#[test]
fn tiered_keeps_the_run_count_bounded_and_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small(CompactionStyle::Tiered)).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..6 {
        load(&db, 6_000, round);
        for i in 0..6_000 {
            model.insert(key(i), value(i, round));
        }
    }
    db.flush().unwrap();
    let files = num(&db, "shaledb.num-files-total");
    let entries: Vec<_> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(entries, model.into_iter().collect::<Vec<_>>());
    assert!(files < 200, "tiered compaction left {files} tables");
    let stats = db.property("shaledb.stats").unwrap();
    assert!(stats.contains("tiered"), "{stats}");
}

/// A tiered merge of newer level-0 tables that stays in level 0 (an older, larger
/// level-0 table ends its size-ratio stretch) keeps a tombstone while that older table
/// still holds the key; dropping it would bring the old value back.
#[test]
fn tiered_merge_within_level0_keeps_tombstones_over_older_tables() {
    let dir = tempfile::tempdir().unwrap();
    let options = || Options {
        compaction: CompactionStyle::Tiered,
        tiered_run_trigger: 3,
        tiered_min_merge_width: 2,
        // The two small tables merge whichever is a few bytes larger.
        tiered_size_ratio_percent: 100,
        // Large enough that only the explicit flushes below make tables.
        memtable_size: 4 << 20,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options()).unwrap();
    load(&db, 2_000, 0);
    db.put(b"victim", b"old").unwrap();
    db.flush().unwrap();
    db.delete(b"victim").unwrap();
    db.flush().unwrap();
    db.put(b"other", b"new").unwrap();
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    // The two small tables became one; the large one is still beside it in level 0.
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 2);
    assert_eq!(num(&db, "shaledb.num-files-total"), 2);
    assert_eq!(db.get(b"victim").unwrap(), None);
    assert_eq!(db.get(b"other").unwrap().as_deref(), Some(&b"new"[..]));
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"victim").unwrap(), None);
    assert!(db.iter().all(|r| r.unwrap().0 != b"victim"));
    // A full compaction settles it for good.
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.get(b"victim").unwrap(), None);
    assert_eq!(db.get(key(1_999)).unwrap(), Some(value(1_999, 0)));
}

#[test]
fn numeric_properties_are_plain_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
    load(&db, 3_000, 0);
    db.flush().unwrap();
    for p in [
        "shaledb.num-files-at-level0",
        "shaledb.num-files-at-level6",
        "shaledb.total-sst-size",
        "shaledb.estimate-num-keys",
        "shaledb.live-data-size",
    ] {
        num(&db, p);
    }
    assert!(db.property("shaledb.num-files-at-level7").is_none());
    for malformed in ["", "+1", "-0", " 1", "1 ", "01x", "99999999999999999999999"] {
        let name = format!("shaledb.num-files-at-level{malformed}");
        assert!(db.property(&name).is_none(), "{name}");
    }
    assert!(db.property("shaledb.no-such-property").is_none());
    let estimate = num(&db, "shaledb.estimate-num-keys");
    assert!(
        (2_000..=4_000).contains(&estimate),
        "estimate-num-keys {estimate}"
    );
}

/// Found by an audit: the estimate took each table's tombstones from that table's own
/// entries only, so after every key was deleted it still counted them all until a
/// compaction removed both.
#[test]
fn estimate_num_keys_stops_counting_deleted_keys_before_any_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let keys = 1_000;
    load(&db, keys, 0);
    assert_eq!(num(&db, "shaledb.estimate-num-keys"), keys);
    db.flush().unwrap();
    assert_eq!(num(&db, "shaledb.estimate-num-keys"), keys);
    for i in 0..keys {
        db.delete(key(i)).unwrap();
    }
    assert_eq!(
        num(&db, "shaledb.estimate-num-keys"),
        0,
        "tombstones in the memtable"
    );
    db.flush().unwrap();
    assert_eq!(num(&db, "shaledb.num-files-at-level0"), 2);
    assert_eq!(
        num(&db, "shaledb.estimate-num-keys"),
        0,
        "tombstones in a table"
    );
    for i in 0..10 {
        db.put(key(i), value(i, 1)).unwrap();
    }
    assert_eq!(num(&db, "shaledb.estimate-num-keys"), 10);
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(num(&db, "shaledb.estimate-num-keys"), 10);
}

/// Reopening leaves no table that the manifest does not list, even when the previous
/// run was killed in the middle of compactions (see `crash.rs` for the kill itself).
/// Found by review: closing while another thread ran `compact_range` released the
/// lock while that compaction could still delete files. Close now waits for it, so a
/// reopen right after finds exactly the tables its manifest lists.
#[test]
fn close_during_a_manual_compaction_waits_for_it_and_leaves_no_orphans() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..4 {
        let opts = Options {
            disable_auto_compactions: true,
            ..small(CompactionStyle::Leveled)
        };
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        load(&db, 20_000, round);
        let compacting = {
            let db = db.clone();
            std::thread::spawn(move || db.compact_range::<&[u8], _>(..))
        };
        std::thread::sleep(std::time::Duration::from_millis(
            u64::from(round as u32) * 3,
        ));
        db.close().unwrap();
        match compacting.join().unwrap() {
            Ok(()) | Err(shaledb::Error::Closed) => {}
            Err(e) => panic!("round {round}: {e}"),
        }
        let db = Db::open(dir.path(), opts).unwrap();
        assert_eq!(
            num(&db, "shaledb.num-files-total") as usize,
            sst_files(dir.path()),
            "round {round}: orphan tables"
        );
        assert_eq!(db.get(key(19_999)).unwrap(), Some(value(19_999, round)));
        db.close().unwrap();
    }
}

#[test]
fn reopen_after_close_during_compaction_leaves_no_orphans() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5 {
        let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
        load(&db, 8_000, round);
        // Close at once, with compactions still queued or running.
        db.close().unwrap();
        // Reopen without background compactions, so every table on disk must be one
        // the manifest lists.
        let quiet = Options {
            disable_auto_compactions: true,
            ..small(CompactionStyle::Leveled)
        };
        let db = Db::open(dir.path(), quiet).unwrap();
        assert_eq!(
            num(&db, "shaledb.num-files-total") as usize,
            sst_files(dir.path()),
            "round {round}: orphan tables"
        );
        assert_eq!(db.get(key(7_999)).unwrap(), Some(value(7_999, round)));
        db.close().unwrap();
    }
}

/// After `wait_for_compactions`, nothing waits for a flush and no level is over its
/// target: level 0 is below its trigger, and overwritten data has mostly gone, so the
/// tree is close to the live data in size.
#[test]
fn wait_for_compactions_returns_a_settled_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
    for round in 0..4 {
        load(&db, 4_000, round);
    }
    db.wait_for_compactions().unwrap();
    assert_eq!(num(&db, "shaledb.num-immutable-mem-table"), 0);
    assert!(num(&db, "shaledb.num-files-at-level0") < 2);
    let total = num(&db, "shaledb.total-sst-size");
    let live = num(&db, "shaledb.live-data-size");
    assert!(
        (total as f64) < 1.3 * live as f64,
        "settled tree holds {total} bytes for {live} live"
    );
    for i in (0..4_000).step_by(97) {
        assert_eq!(db.get(key(i)).unwrap(), Some(value(i, 3)));
    }
}

#[test]
fn log_bytes_stored_through_a_map_are_counted() {
    for wal_mmap in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            wal_mmap,
            ..Options::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        load(&db, 3_000, 0);
        let mapped = num(&db, "shaledb.wal-mapped-bytes");
        let user = num(&db, "shaledb.user-bytes-written");
        if wal_mmap && mapped > 0 {
            // Every record went through the map: the user's bytes plus framing.
            assert!(mapped > user, "mapped {mapped}, user {user}");
            assert!(mapped < 2 * user, "mapped {mapped}, user {user}");
        } else if wal_mmap {
            // Only on a file system where the log is not mapped (not ext4, XFS, tmpfs).
            eprintln!("the log was not memory-mapped in {}", dir.path().display());
        } else {
            assert_eq!(mapped, 0);
        }
    }
}

/// Every table entry in `dir`: (key, sequence number), and the largest sequence number
/// the tables' properties record.
fn table_entries(dir: &std::path::Path) -> (Vec<(Vec<u8>, u64)>, u64) {
    let mut entries = Vec::new();
    let mut largest_seq = 0;
    for path in sst_paths(dir) {
        let dump = shaledb::tools::dump_table(&path).unwrap();
        assert!(dump.damaged_blocks().next().is_none());
        for (name, value) in &dump.properties {
            if *name == "largest_seq" {
                largest_seq = largest_seq.max(*value);
            }
        }
        entries.extend(dump.entries.into_iter().map(|t| (t.key, t.sequence)));
    }
    (entries, largest_seq)
}

#[test]
fn the_bottommost_level_stores_sequence_zero_for_values_every_snapshot_sees() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small(style)).unwrap();
        load(&db, 2_000, 0);
        let snap = db.snapshot();
        load(&db, 1_000, 1);
        let last = db.snapshot().sequence();
        db.compact_range::<&[u8], _>(..).unwrap();

        // Everything is in the last level now. The version the snapshot reads is
        // stored with sequence number 0; the newer versions keep theirs.
        let (entries, largest_seq) = table_entries(dir.path());
        assert_eq!(entries.len(), 3_000, "{style:?}");
        let zeroed = entries.iter().filter(|(_, seq)| *seq == 0).count();
        assert_eq!(zeroed, 2_000, "{style:?}: one zeroed version per key");
        assert!(
            entries
                .iter()
                .all(|(_, seq)| *seq == 0 || *seq > snap.sequence()),
            "{style:?}: a version the snapshot sees kept its sequence number"
        );
        // The properties still name the newest write, which log replay relies on.
        assert_eq!(largest_seq, last, "{style:?}");
        for i in (0..2_000).step_by(7) {
            assert_eq!(snap.get(key(i)).unwrap(), Some(value(i, 0)), "{style:?}");
            let round = u64::from(i < 1_000);
            assert_eq!(db.get(key(i)).unwrap(), Some(value(i, round)), "{style:?}");
        }

        // Once the snapshot is gone, the newest version of every key is zeroed too.
        drop(snap);
        db.compact_range::<&[u8], _>(..).unwrap();
        let (entries, largest_seq) = table_entries(dir.path());
        assert_eq!(entries.len(), 2_000, "{style:?}");
        assert!(entries.iter().all(|(_, seq)| *seq == 0), "{style:?}");
        assert_eq!(largest_seq, last, "{style:?}");

        // New writes land above the zeroed versions, and all of it survives a reopen.
        db.put(key(5), b"newest").unwrap();
        drop(db);
        let db = Db::open(dir.path(), small(style)).unwrap();
        assert_eq!(
            db.get(key(5)).unwrap(),
            Some(b"newest".to_vec()),
            "{style:?}"
        );
        for i in (6..2_000).step_by(11) {
            let round = u64::from(i < 1_000);
            assert_eq!(db.get(key(i)).unwrap(), Some(value(i, round)), "{style:?}");
        }
        assert_eq!(db.iter().count(), 2_000, "{style:?}");
        assert!(
            db.snapshot().sequence() > last,
            "{style:?}: sequence went back"
        );
    }
}

/// Level 0 larger than one merge may take (a table cache of 6) goes down in batches:
/// first merged into itself, oldest tables first, then down. Overwrites, deletes and a
/// snapshot taken halfway must all read the same after it, through a bounded manual
/// compaction and through automatic compactions after a reopen, in both styles.
#[test]
fn a_level0_merged_in_batches_keeps_every_version_readers_see() {
    use rand::Rng;
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            max_open_files: 16,
            disable_auto_compactions: true,
            ..small(style)
        };
        let db = Db::open(dir.path(), options.clone()).unwrap();
        let mut rng = common::rng("a_level0_merged_in_batches", 0x5EED_0B47);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut snapshot = None;
        for op in 0..3_000u64 {
            let k = key(rng.random_range(0..400));
            if rng.random_bool(0.25) {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let v = value(op, rng.random_range(0..3));
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            if op % 75 == 74 {
                db.flush().unwrap();
            }
            if op == 1_500 {
                snapshot = Some((db.snapshot(), model.clone()));
            }
        }
        db.flush().unwrap();
        assert!(num(&db, "shaledb.num-files-at-level0") >= 30);
        let (snap, at_snap) = snapshot.unwrap();
        let read =
            |it: shaledb::Iter| -> BTreeMap<Vec<u8>, Vec<u8>> { it.map(|r| r.unwrap()).collect() };
        db.compact_range(key(100)..key(300)).unwrap();
        assert!(num(&db, "shaledb.num-files-at-level0") <= 6, "{style:?}");
        assert_eq!(read(db.iter()), model, "{style:?}: after compact_range");
        assert_eq!(read(snap.iter()), at_snap, "{style:?}: the snapshot");
        drop(snap);
        db.close().unwrap();

        // More level-0 tables, then automatic compactions take over.
        let db = Db::open(dir.path(), options.clone()).unwrap();
        for op in 0..1_500u64 {
            let k = key(rng.random_range(0..400));
            let v = value(op, 7);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
            if op % 75 == 74 {
                db.flush().unwrap();
            }
        }
        db.close().unwrap();
        let db = Db::open(
            dir.path(),
            Options {
                disable_auto_compactions: false,
                ..options
            },
        )
        .unwrap();
        db.wait_for_compactions().unwrap();
        assert!(num(&db, "shaledb.num-files-at-level0") <= 6, "{style:?}");
        assert_eq!(
            read(db.iter()),
            model,
            "{style:?}: after automatic compactions"
        );
        for k in model.keys().step_by(7) {
            assert_eq!(db.get(k).unwrap().as_ref(), model.get(k), "{style:?}");
        }
    }
}

/// Found by a crash audit: tables an iterator held through a compaction were deleted
/// in the background once it was dropped, but `close` stopped the background threads
/// without doing it, so they stayed on disk until the next open (in about half the
/// runs).
#[test]
fn close_deletes_the_tables_a_dropped_iterator_held() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small(CompactionStyle::Leveled)).unwrap();
        load(&db, 1_000, round);
        db.flush().unwrap();
        let it = db.iter();
        db.compact_range::<&[u8], _>(..).unwrap();
        drop(it);
        db.wait_for_compactions().unwrap();
        let listed = num(&db, "shaledb.num-files-total") as usize;
        db.close().unwrap();
        assert_eq!(
            sst_files(dir.path()),
            listed,
            "round {round}: tables left on disk that the manifest does not list"
        );
    }
}
