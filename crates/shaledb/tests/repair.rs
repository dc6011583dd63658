//! `shaledb::repair`: rebuilding a database whose manifest or tables are damaged.

use std::collections::BTreeMap;
use std::path::Path;

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
