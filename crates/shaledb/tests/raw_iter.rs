//! `RawIter` against a `BTreeMap`: seeks, steps in both directions and direction
//! changes, over data in memtables and tables, with deletes and overwrites.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use rand::Rng;
use shaledb::{Db, Options};

#[test]
fn raw_iter_matches_the_model_in_both_directions() {
    let mut rng = common::rng("raw_iter_matches_the_model_in_both_directions", 0xA11CE);
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        memtable_size: 4 << 10,
        block_size: 256,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for round in 0..40 {
        for _ in 0..100 {
            let key = format!("k{:03}", rng.random_range(0..200)).into_bytes();
            if rng.random_bool(0.2) {
                db.delete(&key).unwrap();
                model.remove(&key);
            } else {
                let value = format!("v{round}-{}", rng.random::<u16>()).into_bytes();
                db.put(&key, &value).unwrap();
                model.insert(key, value);
            }
        }
        if round % 7 == 0 {
            db.flush().unwrap();
        }
        if round % 11 == 10 {
            // Move everything into the deeper levels, so seeks cross level iterators.
            db.compact_range::<&[u8], _>(..).unwrap();
        }
        let mut it = db.raw_iter();
        // Several seeks on one cursor: each reuses the sources the first one built.
        for probe in 0..3 {
            // A random seek in a random direction, then a random walk.
            let target = format!("k{:03}", rng.random_range(0..210)).into_bytes();
            let mut expected: Option<Vec<u8>> = if rng.random_bool(0.5) {
                it.seek(&target);
                model.range(target.clone()..).next().map(|(k, _)| k.clone())
            } else {
                it.seek_for_prev(&target);
                model
                    .range(..=target.clone())
                    .next_back()
                    .map(|(k, _)| k.clone())
            };
            for step in 0..60 {
                match &expected {
                    None => {
                        assert!(
                            !it.valid(),
                            "round {round} probe {probe} step {step}: cursor should be off the end"
                        );
                        break;
                    }
                    Some(k) => {
                        assert!(
                            it.valid(),
                            "round {round} probe {probe} step {step}: expected {k:?}"
                        );
                        assert_eq!(
                            it.key(),
                            k.as_slice(),
                            "round {round} probe {probe} step {step}"
                        );
                        assert_eq!(
                            it.value(),
                            model[k].as_slice(),
                            "round {round} probe {probe} step {step}"
                        );
                    }
                }
                let k = expected.clone().unwrap();
                expected = if rng.random_bool(0.6) {
                    it.next();
                    model
                        .range((Bound::Excluded(k), Bound::Unbounded))
                        .next()
                        .map(|(k, _)| k.clone())
                } else {
                    it.prev();
                    model.range(..k).next_back().map(|(k, _)| k.clone())
                };
            }
        }
        it.status().unwrap();
    }
    let mut it = db.raw_iter();
    it.seek_to_first();
    let mut all = Vec::new();
    while let Some((k, v)) = it.item() {
        all.push((k.to_vec(), v.to_vec()));
        it.next();
    }
    assert_eq!(all, model.clone().into_iter().collect::<Vec<_>>());
    it.seek_to_last();
    assert_eq!(it.key(), model.keys().next_back().unwrap().as_slice());
}
