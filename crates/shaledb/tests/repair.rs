//! `shaledb::repair`: rebuilding a database whose manifest or tables are damaged.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use shaledb::fs::{FaultInjectionFs, FaultKind};
use shaledb::{Db, Error, Options};

fn options() -> Options {
    Options {
        memtable_size: 8 << 10,
        disable_auto_compactions: true,
        ..Options::default()
    }
}

/// A database with several tables and some writes only in the log.
fn build(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..3_000u32 {
        let key = format!("key{:05}", (i * 7) % 1_000).into_bytes();
        let value = format!("value-{i}").into_bytes();
        db.put(&key, &value).unwrap();
        model.insert(key, value);
        if i == 2_000 {
            db.flush().unwrap();
        }
    }
    db.close().unwrap();
    model
}

fn files(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(suffix))
        .collect();
    v.sort();
    v
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn repair_rebuilds_a_corrupt_manifest_and_keeps_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    let manifest = files(dir.path(), "MANIFEST-").pop().unwrap();
    flip(&manifest, 20);
    let err = Db::open(dir.path(), options()).unwrap_err();
    assert!(err.is_corruption(), "{err}");

    let report = shaledb::repair(dir.path()).unwrap();
    assert!(report.tables_kept >= 2, "{report:?}");
    assert!(report
        .moved_to_lost
        .iter()
        .any(|(p, _)| p.to_string_lossy().contains("MANIFEST")));
    let db = Db::open(dir.path(), options()).unwrap();
    let all: BTreeMap<_, _> = db.iter().map(|r| r.unwrap()).collect();
    assert_eq!(all, model);
    assert!(db.verify().unwrap().is_ok());
}

#[test]
fn repair_salvages_a_damaged_table_and_moves_it_to_lost() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    let table = files(dir.path(), ".sst").remove(0);
    flip(&table, 100);
    let db = Db::open(dir.path(), options()).unwrap();
    assert!(!db.verify().unwrap().is_ok(), "verify missed the damage");
    drop(db);

    let report = shaledb::repair(dir.path()).unwrap();
    assert_eq!(report.tables_salvaged, 1, "{report:?}");
    let lost = dir.path().join("lost").join(table.file_name().unwrap());
    assert!(lost.exists(), "the damaged table was not kept in lost/");
    let db = Db::open(dir.path(), options()).unwrap();
    assert!(db.verify().unwrap().is_ok());
    // Every key reads cleanly; keys whose newest version was not in the damaged block
    // are exact (the damaged block held an older flush's values, so a key may read an
    // older value or none, but reads never fail).
    let mut exact = 0;
    for (k, v) in &model {
        if db.get(k).unwrap().as_ref() == Some(v) {
            exact += 1;
        }
    }
    assert!(
        exact >= model.len() * 9 / 10,
        "only {exact} of {} keys exact",
        model.len()
    );
}

#[test]
fn repair_without_current_and_refuses_a_locked_database() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    shaledb::repair(dir.path()).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.iter().count(), model.len());
    let err = shaledb::repair(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
}

/// Found by an audit: with `CURRENT` gone, an open with `create_if_missing` made a new,
/// empty database in the directory and its first purge deleted every table.
#[test]
fn an_open_without_current_refuses_rather_than_replacing_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    let tables = files(dir.path(), ".sst");
    assert!(!tables.is_empty());
    for create_if_missing in [true, false] {
        let opts = Options {
            create_if_missing,
            ..options()
        };
        let err = Db::open(dir.path(), opts).unwrap_err();
        assert!(err.is_corruption(), "{err}");
        assert!(err.to_string().contains("run repair"), "{err}");
    }
    assert_eq!(files(dir.path(), ".sst"), tables, "the open deleted tables");
    shaledb::repair(dir.path()).unwrap();
    assert_eq!(contents(dir.path()), model);
}

/// Creating a database writes its first log before `CURRENT`: a crash in between
/// leaves a log without records, which does not stop the next open from creating it.
#[test]
fn a_log_without_records_and_no_current_is_a_database_still_to_create() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("000001.log"), vec![0u8; 4096]).unwrap();
    std::fs::write(dir.path().join("000002.log"), b"").unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}

/// Found by an audit: repair kept a damaged table's entries only up to the first bad
/// block, and a damaged log's records only up to the first bad record, although every
/// block and record after them was intact.
#[test]
fn repair_skips_a_damaged_block_or_log_record_and_keeps_what_follows() {
    for in_log in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            Options {
                memtable_size: 4 << 20,
                ..options()
            },
        )
        .unwrap();
        let model: BTreeMap<Vec<u8>, Vec<u8>> = (0..6_000u32)
            .map(|i| {
                (
                    format!("key{i:06}").into_bytes(),
                    format!("value-{i}-").repeat(3).into_bytes(),
                )
            })
            .collect();
        for (k, v) in &model {
            db.put(k, v).unwrap();
        }
        if !in_log {
            db.flush().unwrap();
        }
        db.close().unwrap();
        let damaged = if in_log {
            common::newest_log(dir.path())
        } else {
            files(dir.path(), ".sst").pop().unwrap()
        };
        let len = std::fs::metadata(&damaged).unwrap().len() as usize;
        flip(&damaged, len / 3);

        let report = shaledb::repair(dir.path()).unwrap();
        let what = if in_log { "log" } else { "table" };
        let (_, why) = report
            .moved_to_lost
            .iter()
            .find(|(p, _)| p.file_name() == damaged.file_name())
            .unwrap_or_else(|| panic!("{what}: not moved to lost/: {report:?}"));
        assert!(why.contains("damaged"), "{what}: {why}");
        let got = contents(dir.path());
        for (k, v) in &got {
            assert_eq!(
                model.get(k),
                Some(v),
                "{what}: a value that was never written"
            );
        }
        // A 4 KiB block holds about 60 of these entries, a 32 KiB log block about 700
        // records (one fragment may start in the block before).
        let lost = model.len() - got.len();
        let bound = if in_log { 1_500 } else { 130 };
        assert!(
            (1..=bound).contains(&lost),
            "{what}: {lost} of {} entries lost to one flipped byte",
            model.len()
        );
    }
}

fn contents(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, options()).unwrap();
    let all = db.iter().map(|r| r.unwrap()).collect();
    db.close().unwrap();
    all
}

/// A database whose highest-numbered tables were deleted by a full compaction that
/// wrote nothing (every key deleted), then some writes only in the log: a repair that
/// numbered its new tables past the files present only, and not past the numbers the
/// manifest used, gave them the numbers of the deleted tables.
fn build_emptied(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let db = Db::open(dir, options()).unwrap();
    for i in 0..500u32 {
        db.put(format!("old{i:04}"), "x".repeat(40)).unwrap();
    }
    db.flush().unwrap();
    for i in 0..500u32 {
        db.delete(format!("old{i:04}")).unwrap();
    }
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..20u32 {
        let (key, value) = (format!("new{i:02}").into_bytes(), b"v".to_vec());
        db.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    db.close().unwrap();
    model
}

/// Repair stopped at each file it would create (a salvaged table, its fresh log and
/// manifest, then the outputs of its full compaction) fails with an error and loses
/// nothing: the database either opens with every value or reports an error, and a
/// second repair finishes the job.
#[test]
fn repair_stopped_at_each_file_it_creates_loses_nothing() {
    for build in [build, build_emptied] {
        let source = tempfile::tempdir().unwrap();
        let model = build(source.path());
        stop_repair_at_each_create(source.path(), &model);
    }
}

fn stop_repair_at_each_create(source: &Path, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for after in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        common::copy_dir(source, dir.path()).unwrap();
        let faults = FaultInjectionFs::new();
        faults.fail(FaultKind::Create, after, u64::MAX);
        let stopped = Options {
            file_system: Arc::new(faults),
            ..options()
        };
        if shaledb::repair_with_options(dir.path(), stopped).is_ok() {
            assert_eq!(
                &contents(dir.path()),
                model,
                "repair let {after} creates through"
            );
            assert!(after > 0, "no create was ever stopped");
            return;
        }
        if let Ok(db) = Db::open(dir.path(), options()) {
            let all: BTreeMap<_, _> = db.iter().map(|r| r.unwrap()).collect();
            assert_eq!(&all, model, "opened after repair stopped at create {after}");
            for (key, value) in model {
                assert_eq!(db.get(key).unwrap().as_ref(), Some(value));
            }
            db.close().unwrap();
        }
        shaledb::repair(dir.path()).unwrap();
        assert_eq!(
            &contents(dir.path()),
            model,
            "second repair after create {after}"
        );
    }
    panic!("repair still failed after 40 file creations were let through");
}

/// A full compaction stores a key's newest value at sequence number 0. A table or log
/// holding an older version, left behind by a crash between the manifest edit that
/// made it obsolete and its deletion, must not win over it after a repair: the
/// manifest's edits say the file is obsolete, and repair sets it aside.
#[test]
fn repair_does_not_bring_back_a_value_overwritten_before_a_full_compaction() {
    // With a reopen before the crash, the manifest has been rolled: the edit that
    // deleted the files is gone, and only the state it left tells they are obsolete.
    for reopen in [false, true] {
        overwritten_value_stays_overwritten_after_repair(reopen);
    }
}

fn overwritten_value_stays_overwritten_after_repair(reopen: bool) {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let keep = |path: &Path| {
        let to = saved.path().join(path.file_name().unwrap());
        std::fs::copy(path, &to).unwrap();
        (to, path.to_path_buf())
    };
    let db = Db::open(dir.path(), options()).unwrap();
    db.put("k", "v1").unwrap();
    db.put("gone", "old").unwrap();
    let old_log = keep(&common::newest_log(dir.path()));
    db.flush().unwrap();
    let old_table = keep(files(dir.path(), ".sst").last().unwrap());
    db.put("k", "v2").unwrap();
    db.delete("gone").unwrap();
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    db.close().unwrap();
    if reopen {
        Db::open(dir.path(), options()).unwrap().close().unwrap();
    }
    // The crash: the flushed log and the compacted table were never deleted.
    for (from, to) in [&old_log, &old_table] {
        assert!(!to.exists());
        std::fs::copy(from, to).unwrap();
    }

    let report = shaledb::repair(dir.path()).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(
        db.get("k").unwrap().as_deref(),
        Some(&b"v2"[..]),
        "{reopen}"
    );
    assert_eq!(db.get("gone").unwrap(), None, "{reopen}");
    db.close().unwrap();
    for (_, original) in [&old_log, &old_table] {
        let name = original.file_name().unwrap();
        assert!(
            report.moved_to_lost.iter().any(|(p, _)| p.ends_with(name)),
            "{name:?} should be set aside: {:?}",
            report.moved_to_lost
        );
    }
}

/// When a table the manifest lists is missing (say, a copy of a running database that
/// missed it), the files the manifest calls obsolete may hold the only copy of its
/// data: repair uses them rather than setting them aside.
#[test]
fn repair_uses_obsolete_tables_when_the_manifest_lists_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..400u32 {
        let (key, value) = (format!("key{i:04}").into_bytes(), b"value".to_vec());
        db.put(&key, &value).unwrap();
        model.insert(key, value);
        if i % 100 == 99 {
            db.flush().unwrap();
        }
    }
    let inputs = files(dir.path(), ".sst");
    for table in &inputs {
        std::fs::copy(table, saved.path().join(table.file_name().unwrap())).unwrap();
    }
    db.compact_range::<&[u8], _>(..).unwrap();
    db.close().unwrap();
    for table in files(dir.path(), ".sst") {
        std::fs::remove_file(table).unwrap();
    }
    for table in &inputs {
        std::fs::copy(saved.path().join(table.file_name().unwrap()), table).unwrap();
    }
    shaledb::repair(dir.path()).unwrap();
    assert_eq!(contents(dir.path()), model);
}

/// Found by review: the manifest's last readable state may miss a later edit, say a
/// flush that added a table numbered below the state's next file number (it was
/// allocated before a concurrent compaction's edit) and then deleted the state's log.
/// That table looks obsolete but holds the only copy of its data. With the state's log
/// gone, repair does not trust the state, and uses such tables.
#[test]
fn repair_uses_unlisted_tables_when_the_states_log_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.put("early", "1").unwrap();
    db.flush().unwrap();
    let table = files(dir.path(), ".sst").pop().unwrap();
    let copy = saved.path().join(table.file_name().unwrap());
    std::fs::copy(&table, &copy).unwrap();
    db.put("late", "2").unwrap();
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    db.close().unwrap();
    // The unlisted table is back, and the log the manifest names is gone.
    std::fs::copy(&copy, &table).unwrap();
    for log in files(dir.path(), ".log") {
        std::fs::remove_file(log).unwrap();
    }
    let report = shaledb::repair(dir.path()).unwrap();
    let name = table.file_name().unwrap();
    assert!(
        !report
            .moved_to_lost
            .iter()
            .any(|(p, why)| p.ends_with(name) && why.contains("not in the manifest")),
        "{:?}",
        report.moved_to_lost
    );
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.get("early").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("late").unwrap().as_deref(), Some(&b"2"[..]));
    db.close().unwrap();
}
