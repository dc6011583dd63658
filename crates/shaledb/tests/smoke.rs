//! Quick end-to-end checks of the main paths: writes across many flushes and
//! compactions, reopen, and scans in both directions.

use std::collections::BTreeMap;

use shaledb::{Db, Options};

fn small_options() -> Options {
    Options {
        memtable_size: 8 << 10,
        block_size: 512,
        level_base_size: 64 << 10,
        target_file_size: 16 << 10,
        ..Options::default()
    }
}

#[test]
fn many_flushes_compactions_and_a_reopen_keep_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        let db = Db::open(dir.path(), small_options()).unwrap();
        for i in 0..20_000u32 {
            let key = format!("key{:06}", (i * 7919) % 5000).into_bytes();
            if i % 11 == 0 {
                db.delete(&key).unwrap();
                model.remove(&key);
            } else {
                let value = format!("value{i}").into_bytes();
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
        }
        db.compact_range::<&[u8], _>(..).unwrap();
        for (k, v) in &model {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
        }
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), small_options()).unwrap();
    let forward: Vec<_> = db.iter().map(|r| r.unwrap()).collect();
    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(forward, expected);
    let mut backward: Vec<_> = db.iter().rev().map(|r| r.unwrap()).collect();
    backward.reverse();
    assert_eq!(backward, expected);
    assert!(db.property("shaledb.stats").unwrap().contains("L0"));
}
