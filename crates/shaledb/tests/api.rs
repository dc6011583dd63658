//! Focused tests of ShaleDB's public API contract.

mod common;

use std::fs;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::ops::RangeBounds;
use std::path::Path;
use std::thread;

use common::{Entry, Model};
use shaledb::{Db, Error, Options, Snapshot, WriteBatch, WriteOptions};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create temp dir")
}

fn open(path: &Path) -> Db {
    Db::open(path, Options::default()).expect("open db")
}

/// Runs `Db::open` expecting failure and returns the error.
fn open_err(path: &Path, options: Options) -> Error {
    match Db::open(path, options) {
        Ok(_) => panic!(
            "Db::open({}) succeeded but was expected to fail",
            path.display()
        ),
        Err(e) => e,
    }
}

fn collect(it: impl Iterator<Item = shaledb::Result<Entry>>) -> Vec<Entry> {
    it.collect::<shaledb::Result<Vec<_>>>()
        .expect("iteration failed")
}

fn keys_of(entries: &[Entry]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

fn bytes(keys: &[&str]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.as_bytes().to_vec()).collect()
}

fn s(key: &str) -> &[u8] {
    key.as_bytes()
}

/// Scans `range` forward and backward over `db`, returning both key lists
/// (the reverse one flipped back to ascending order for easy comparison).
fn scan_both<'k, R: RangeBounds<&'k [u8]> + Clone>(
    db: &Db,
    range: R,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let forward = keys_of(&collect(db.range(range.clone())));
    let mut reverse = keys_of(&collect(db.range(range).rev()));
    reverse.reverse();
    (forward, reverse)
}

#[track_caller]
fn assert_range<'k, R: RangeBounds<&'k [u8]> + Clone>(db: &Db, range: R, want: &[&str]) {
    let (forward, reverse) = scan_both(db, range);
    let want = bytes(want);
    assert_eq!(forward, want, "forward range scan");
    assert_eq!(reverse, want, "reverse range scan (shown re-reversed)");
}

fn snap_range<'k, R: RangeBounds<&'k [u8]>>(snap: &Snapshot, range: R) -> Vec<Entry> {
    collect(snap.range(range))
}

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

// ---------------------------------------------------------------------------
// Handle semantics
// ---------------------------------------------------------------------------

#[test]
fn db_is_send_sync_clone() {
    assert_send_sync_clone::<Db>();
}

#[test]
fn clones_work_concurrently_from_four_threads() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 500;

    let dir = temp_dir();
    // A small memtable makes flushes happen while the threads are writing.
    let db = Db::open(
        dir.path(),
        Options {
            memtable_size: 16 << 10,
            ..Default::default()
        },
    )
    .expect("open");

    let key = |t: usize, i: usize| format!("t{t}-{i:05}");
    let value = |t: usize, i: usize| format!("value-{t}-{i}-{}", "x".repeat(i % 50));

    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let (k, v) = (key(t, i), value(t, i));
                    db.put(&k, &v).expect("put");
                    assert_eq!(
                        db.get(&k).expect("get").as_deref(),
                        Some(v.as_bytes()),
                        "read-your-write of {k}"
                    );

                    // Another thread's key is either not written yet or fully written.
                    let other = (t + 1) % THREADS;
                    match db.get(key(other, i)).expect("get") {
                        None => {}
                        Some(got) => assert_eq!(
                            got,
                            value(other, i).into_bytes(),
                            "torn read of {}",
                            key(other, i)
                        ),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker thread panicked");
    }

    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            assert_eq!(
                db.get(key(t, i)).expect("get").as_deref(),
                Some(value(t, i).as_bytes())
            );
        }
    }
    assert_eq!(collect(db.iter()).len(), THREADS * PER_THREAD);
    db.close().expect("close");
}

#[test]
fn dropping_the_last_clone_closes_the_db() {
    let dir = temp_dir();
    let db = open(dir.path());
    let clone = db.clone();
    drop(db);

    // Still open through the clone: usable, and still locked.
    clone
        .put(b"k", b"v")
        .expect("put through the surviving clone");
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { .. }) => {}
        Err(e) => panic!("expected Error::Locked while a clone is alive, got {e:?}"),
        Ok(_) => panic!("db opened twice while a clone of the first handle was alive"),
    }

    drop(clone);
    let db =
        Db::open(dir.path(), Options::default()).expect("open after the last clone was dropped");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
}

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

#[test]
fn open_creates_a_missing_directory() {
    let root = temp_dir();
    let path = root.path().join("fresh-db");
    assert!(!path.exists());

    let db = open(&path);
    assert!(path.is_dir(), "Db::open did not create {}", path.display());
    db.put(b"k", b"v").expect("put");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    db.close().expect("close");
}

#[test]
fn bad_options_are_refused_before_anything_is_created() {
    let root = temp_dir();
    let with = |change: fn(&mut Options)| {
        let mut options = Options::default();
        change(&mut options);
        options
    };
    let bad: Vec<(&str, Options)> = vec![
        (
            "memtable_bloom_ratio NaN",
            with(|o| o.memtable_bloom_ratio = f64::NAN),
        ),
        (
            "memtable_bloom_ratio negative",
            with(|o| o.memtable_bloom_ratio = -0.01),
        ),
        (
            "memtable_bloom_ratio above 0.25",
            with(|o| o.memtable_bloom_ratio = 0.5),
        ),
        (
            "bloom_bits_per_key above 64",
            with(|o| o.bloom_bits_per_key = 65),
        ),
        ("one level", with(|o| o.num_levels = 1)),
        ("no background jobs", with(|o| o.max_background_jobs = 0)),
        (
            "a million background jobs",
            with(|o| o.max_background_jobs = 1_000_000),
        ),
        (
            "memtable of usize::MAX",
            with(|o| o.memtable_size = usize::MAX),
        ),
        // Found by review: writes stopped at one level-0 table, and a tiered merge
        // waits for at least two runs, so the first flush hung every writer.
        (
            "tiered, writes stop at the run trigger",
            with(|o| {
                o.compaction = shaledb::CompactionStyle::Tiered;
                o.level0_compaction_trigger = 1;
                o.level0_slowdown_writes_trigger = 1;
                o.level0_stop_writes_trigger = 1;
            }),
        ),
        (
            "tiered, stop trigger equal to tiered_run_trigger",
            with(|o| {
                o.compaction = shaledb::CompactionStyle::Tiered;
                o.tiered_run_trigger = 4;
                o.level0_stop_writes_trigger = 4;
                o.level0_slowdown_writes_trigger = 4;
            }),
        ),
    ];
    for (what, options) in bad {
        let path = root.path().join("db");
        let err = open_err(&path, options);
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{what}: expected InvalidArgument, got {err:?}"
        );
        assert!(!path.exists(), "{what}: created {}", path.display());
    }
}

#[test]
fn error_if_exists_rejects_an_existing_db() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"k", b"v").expect("put");
    db.close().expect("close");

    let err = open_err(
        dir.path(),
        Options {
            error_if_exists: true,
            ..Default::default()
        },
    );
    assert!(
        matches!(err, Error::InvalidArgument(_)),
        "expected InvalidArgument, got {err:?}"
    );

    // The refused open must not have damaged the existing database.
    let db = open(dir.path());
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    db.close().expect("close");

    // On a directory without a database, error_if_exists is no obstacle.
    let fresh = dir.path().join("fresh");
    Db::open(
        &fresh,
        Options {
            error_if_exists: true,
            ..Default::default()
        },
    )
    .expect("error_if_exists on a new db")
    .close()
    .expect("close");
}

#[test]
fn create_if_missing_false_refuses_to_create() {
    let root = temp_dir();
    let no_create = || Options {
        create_if_missing: false,
        ..Default::default()
    };

    let missing = root.path().join("missing");
    let err = open_err(&missing, no_create());
    assert!(
        !matches!(err, Error::Locked { .. }),
        "unexpected error kind: {err:?}"
    );
    assert!(
        !missing.exists(),
        "a refused open must not leave a directory behind"
    );

    // An existing but empty directory holds no database either.
    let empty = root.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    open_err(&empty, no_create());

    // Once the db exists, create_if_missing: false opens it.
    open(&missing).close().expect("close");
    Db::open(&missing, no_create())
        .expect("open existing db")
        .close()
        .expect("close");
}

#[test]
fn second_open_while_open_is_locked() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"first", b"1").expect("put");

    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { .. }) => {}
        Err(e) => panic!("expected Error::Locked, got {e:?}"),
        Ok(_) => panic!("the same directory was opened twice"),
    }

    // The failed open must not disturb the first handle.
    db.put(b"second", b"2")
        .expect("put after failed second open");
    db.close().expect("close");

    let db = Db::open(dir.path(), Options::default()).expect("open after close");
    assert_eq!(db.get(b"first").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"second").expect("get").as_deref(), Some(&b"2"[..]));
    db.close().expect("close");
}

// ---------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------

#[test]
fn get_put_delete_roundtrip() {
    let dir = temp_dir();
    let db = open(dir.path());

    assert_eq!(db.get(b"k").expect("get"), None);
    db.put(b"k", b"v").expect("put");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    db.put(b"k", b"v2").expect("overwrite");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v2"[..]));
    db.delete(b"k").expect("delete");
    assert_eq!(db.get(b"k").expect("get"), None);
    db.delete(b"never-written")
        .expect("deleting an absent key is fine");

    // The empty key and the empty value are ordinary: an empty value is
    // distinct from absence.
    db.put(b"", b"").expect("put empty key");
    db.put(b"empty", b"").expect("put empty value");
    assert_eq!(db.get(b"").expect("get").as_deref(), Some(&b""[..]));
    assert_eq!(db.get(b"empty").expect("get").as_deref(), Some(&b""[..]));
    db.flush().expect("flush");
    assert_eq!(db.get(b"").expect("get").as_deref(), Some(&b""[..]));
    assert_eq!(db.get(b"empty").expect("get").as_deref(), Some(&b""[..]));
    assert_eq!(keys_of(&collect(db.iter())), bytes(&["", "empty"]));
    db.close().expect("close");
}

#[test]
fn write_opt_sync_applies_the_batch_atomically_in_order() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"pre", b"existing").expect("put");

    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1");
    batch.put(b"b", b"2");
    batch.delete(b"pre");
    // Within a batch, later operations on the same key win.
    batch.put(b"c", b"dropped");
    batch.delete(b"c");
    batch.delete(b"d");
    batch.put(b"d", b"4");
    db.write_opt(
        batch,
        &WriteOptions {
            sync: true,
            ..Default::default()
        },
    )
    .expect("synced write");

    let check = |db: &Db| {
        assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&b"2"[..]));
        assert_eq!(db.get(b"c").expect("get"), None);
        assert_eq!(db.get(b"d").expect("get").as_deref(), Some(&b"4"[..]));
        assert_eq!(db.get(b"pre").expect("get"), None);
        assert_eq!(keys_of(&collect(db.iter())), bytes(&["a", "b", "d"]));
    };
    check(&db);

    let mut unsynced = WriteBatch::new();
    unsynced.put(b"e", b"5");
    db.write(unsynced).expect("write");
    assert_eq!(db.get(b"e").expect("get").as_deref(), Some(&b"5"[..]));

    db.close().expect("close");
    let db = open(dir.path());
    check_after_reopen(&db);
    db.close().expect("close");

    fn check_after_reopen(db: &Db) {
        assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(b"c").expect("get"), None);
        assert_eq!(db.get(b"d").expect("get").as_deref(), Some(&b"4"[..]));
        assert_eq!(db.get(b"e").expect("get").as_deref(), Some(&b"5"[..]));
        assert_eq!(db.get(b"pre").expect("get"), None);
    }
}

#[test]
fn large_values_roundtrip() {
    let dir = temp_dir();
    let db = open(dir.path());
    let big: Vec<u8> = (0..(1 << 20) + 17).map(|i| (i * 31 % 251) as u8).collect();
    db.put(b"big", &big).expect("put");
    assert_eq!(
        db.get(b"big").expect("get").as_deref(),
        Some(big.as_slice())
    );
    db.flush().expect("flush");
    assert_eq!(
        db.get(b"big").expect("get").as_deref(),
        Some(big.as_slice())
    );
    db.close().expect("close");

    let db = open(dir.path());
    assert_eq!(
        db.get(b"big").expect("get").as_deref(),
        Some(big.as_slice())
    );
    db.close().expect("close");
}

// ---------------------------------------------------------------------------
// Iteration
// ---------------------------------------------------------------------------

#[test]
fn iter_in_both_directions_across_memtable_and_tables() {
    let dir = temp_dir();
    let db = Db::open(
        dir.path(),
        Options {
            memtable_size: 8 << 10,
            ..Default::default()
        },
    )
    .expect("open");
    let mut model = Model::new();

    // Insert in a scrambled order; 37 is coprime with 200, so every i appears.
    for j in 0..200u32 {
        let i = (j * 37) % 200;
        let (k, v) = (
            format!("key{i:03}").into_bytes(),
            format!("v{i}").into_bytes(),
        );
        db.put(&k, &v).expect("put");
        model.insert(k, v);
    }
    db.flush().expect("flush");
    // Newer data in the memtable shadows the tables: overwrites and deletes.
    for i in (0..200u32).step_by(3) {
        let (k, v) = (
            format!("key{i:03}").into_bytes(),
            format!("new{i}").into_bytes(),
        );
        db.put(&k, &v).expect("put");
        model.insert(k, v);
    }
    for i in (0..200u32).step_by(7) {
        let k = format!("key{i:03}").into_bytes();
        db.delete(&k).expect("delete");
        model.remove(&k);
    }

    let want: Vec<Entry> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(db.iter()), want, "forward iter");
    let want_rev: Vec<Entry> = want.iter().rev().cloned().collect();
    assert_eq!(collect(db.iter().rev()), want_rev, "reverse iter");

    // A full range and an explicit unbounded tuple behave like iter().
    assert_eq!(collect(db.range(common::full())), want, "range(..)");
    assert_eq!(
        collect(db.range(common::bounds(Unbounded, Unbounded))),
        want,
        "range((Unbounded, Unbounded))"
    );

    // Partially consumed iterators are fine to drop.
    let first_two: Vec<Entry> = db.iter().take(2).map(|r| r.expect("item")).collect();
    assert_eq!(first_two, want[..2]);
    let last_two: Vec<Entry> = db.iter().rev().take(2).map(|r| r.expect("item")).collect();
    assert_eq!(last_two, want_rev[..2]);

    common::assert_matches_model(
        &db,
        &model,
        &[b"key200".to_vec(), b"".to_vec()],
        "before reopen",
    );
    db.close().expect("close");
    let db = open(dir.path());
    common::assert_matches_model(&db, &model, &[b"key200".to_vec()], "after reopen");
    db.close().expect("close");
}

#[test]
fn range_accepts_every_bound_form() {
    let dir = temp_dir();
    let db = open(dir.path());
    for k in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        db.put(k, format!("value of {k}")).expect("put");
    }

    for phase in ["memtable", "after flush"] {
        eprintln!("checking ranges: {phase}");
        assert_range(&db, s("c")..s("f"), &["c", "d", "e"]);
        assert_range(&db, s("c")..=s("f"), &["c", "d", "e", "f"]);
        assert_range(&db, ..s("c"), &["a", "b"]);
        assert_range(&db, ..=s("c"), &["a", "b", "c"]);
        assert_range(&db, s("h").., &["h", "i", "j"]);
        assert_range(
            &db,
            common::full(),
            &["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
        );
        assert_range(&db, (Excluded(s("c")), Included(s("f"))), &["d", "e", "f"]);
        assert_range(&db, (Excluded(s("c")), Excluded(s("e"))), &["d"]);
        assert_range(&db, (Included(s("i")), Unbounded), &["i", "j"]);
        // Bounds that are not keys themselves.
        assert_range(&db, s("cc")..s("e"), &["d"]);
        assert_range(&db, s("0")..s("b"), &["a"]);
        assert_range(&db, s("j\0").., &[]);
        // Empty and inverted ranges yield nothing (and must not panic).
        assert_range(&db, s("c")..s("c"), &[]);
        assert_range(&db, s("c")..=s("c"), &["c"]);
        assert_range(&db, (Excluded(s("c")), Excluded(s("c"))), &[]);
        assert_range(&db, (Excluded(s("c")), Included(s("c"))), &[]);
        assert_range(&db, (Excluded(s("c")), Excluded(s("d"))), &[]);
        assert_range(&db, s("f")..s("c"), &[]);
        assert_range(&db, s("f")..=s("c"), &[]);
        assert_range(&db, (Included(s("f")), Included(s("c"))), &[]);
        db.flush().expect("flush");
    }

    // Values come along with the keys.
    let entries = collect(db.range(s("b")..s("c")));
    assert_eq!(entries, vec![(b"b".to_vec(), b"value of b".to_vec())]);
    db.close().expect("close");
}

#[test]
fn prefix_scans_including_0xff_prefixes() {
    let dir = temp_dir();
    let db = open(dir.path());
    let text_keys = [
        "use", "user", "user:", "user:1", "user:10", "user:2", "user;", "users", "usex", "v",
    ];
    for k in text_keys {
        db.put(k, b"t").expect("put");
    }
    let binary_keys: [&[u8]; 9] = [
        &[0xfe],
        &[0xfe, 0xff],
        &[0xff],
        &[0xff, 0x00],
        &[0xff, 0xfe, 0xff],
        &[0xff, 0xff],
        &[0xff, 0xff, 0x00],
        &[0xff, 0xff, 0xff],
        &[0xff, 0xff, 0xff, 0xff],
    ];
    for k in binary_keys {
        db.put(k, b"b").expect("put");
    }

    let prefix_keys = |prefix: &[u8]| -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let forward = keys_of(&collect(db.prefix(prefix)));
        let mut reverse = keys_of(&collect(db.prefix(prefix).rev()));
        reverse.reverse();
        (forward, reverse)
    };
    let expect = |prefix: &[u8], want: Vec<Vec<u8>>| {
        let (forward, reverse) = prefix_keys(prefix);
        assert_eq!(forward, want, "prefix {} forward", common::show(prefix));
        assert_eq!(
            reverse,
            want,
            "prefix {} reverse (re-reversed)",
            common::show(prefix)
        );
    };
    let all: Vec<Vec<u8>> = {
        let mut all: Vec<Vec<u8>> = bytes(&text_keys);
        all.extend(binary_keys.iter().map(|k| k.to_vec()));
        all.sort();
        all
    };

    for phase in ["memtable", "after flush"] {
        eprintln!("checking prefixes: {phase}");
        expect(b"user:", bytes(&["user:", "user:1", "user:10", "user:2"]));
        expect(
            b"user",
            bytes(&[
                "user", "user:", "user:1", "user:10", "user:2", "user;", "users",
            ]),
        );
        expect(b"user:1", bytes(&["user:1", "user:10"]));
        expect(b"zzz", vec![]);
        expect(b"", all.clone());
        expect(
            &[0xff],
            binary_keys[2..].iter().map(|k| k.to_vec()).collect(),
        );
        expect(
            &[0xff, 0xff],
            binary_keys[5..].iter().map(|k| k.to_vec()).collect(),
        );
        expect(
            &[0xff, 0xff, 0xff],
            binary_keys[7..].iter().map(|k| k.to_vec()).collect(),
        );
        expect(
            &[0xff, 0xff, 0xff, 0xff],
            vec![vec![0xff, 0xff, 0xff, 0xff]],
        );
        expect(&[0xff, 0xff, 0xff, 0xff, 0xff], vec![]);
        expect(&[0xfe], vec![vec![0xfe], vec![0xfe, 0xff]]);
        db.flush().expect("flush");
    }
    db.close().expect("close");
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

#[test]
fn snapshot_is_isolated_from_later_writes_flushes_and_compactions() {
    let dir = temp_dir();
    let db = Db::open(
        dir.path(),
        Options {
            memtable_size: 16 << 10,
            ..Default::default()
        },
    )
    .expect("open");
    db.put(b"a", b"1").expect("put");
    db.put(b"b", b"2").expect("put");
    db.flush().expect("flush");
    db.put(b"c", b"3").expect("put");

    let snap = db.snapshot();
    let old: Vec<Entry> = vec![
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"2".to_vec()),
        (b"c".to_vec(), b"3".to_vec()),
    ];

    db.put(b"a", b"10").expect("put");
    db.delete(b"b").expect("delete");
    db.put(b"d", b"4").expect("put");
    db.flush().expect("flush");
    // Plenty of churn so compactions run while the snapshot is alive.
    for round in 0..6u8 {
        for i in 0..300 {
            db.put(format!("filler{i:04}"), vec![round; 100])
                .expect("put");
        }
        db.put(b"a", [b'a', round]).expect("put");
        db.delete(b"c").expect("delete");
        db.flush().expect("flush");
    }

    let check_snapshot = |when: &str| {
        assert_eq!(
            snap.get(b"a").expect("get").as_deref(),
            Some(&b"1"[..]),
            "{when}: snap a"
        );
        assert_eq!(
            snap.get(b"b").expect("get").as_deref(),
            Some(&b"2"[..]),
            "{when}: snap b"
        );
        assert_eq!(
            snap.get(b"c").expect("get").as_deref(),
            Some(&b"3"[..]),
            "{when}: snap c"
        );
        assert_eq!(snap.get(b"d").expect("get"), None, "{when}: snap d");
        assert_eq!(
            snap.get(b"filler0000").expect("get"),
            None,
            "{when}: snap filler"
        );
        assert_eq!(
            snap_range(&snap, common::full()),
            old,
            "{when}: snap.range(..)"
        );
        assert_eq!(
            snap_range(&snap, s("b")..s("z")),
            old[1..],
            "{when}: snap.range(b..z)"
        );
        assert_eq!(collect(snap.iter()), old, "{when}: snap.iter()");
        let reversed: Vec<Entry> = old.iter().rev().cloned().collect();
        assert_eq!(
            collect(snap.iter().rev()),
            reversed,
            "{when}: snap.iter().rev()"
        );
        assert_eq!(
            collect(snap.prefix(b"c")),
            old[2..],
            "{when}: snap.prefix(c)"
        );
    };
    check_snapshot("after churn");

    // The live view sees the new state.
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&[b'a', 5][..]));
    assert_eq!(db.get(b"b").expect("get"), None);
    assert_eq!(db.get(b"c").expect("get"), None);
    assert_eq!(db.get(b"d").expect("get").as_deref(), Some(&b"4"[..]));

    // A snapshot can move to another thread (it is owned), and keeps working.
    let (snap, old) = thread::spawn(move || {
        assert_eq!(snap.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        (snap, old)
    })
    .join()
    .expect("snapshot thread");
    assert_eq!(collect(snap.iter()), old);

    drop(snap);
    db.close().expect("close");
}

// ---------------------------------------------------------------------------
// Properties and persistence
// ---------------------------------------------------------------------------

#[test]
fn stats_property_is_available() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"k", b"v").expect("put");
    db.flush().expect("flush");
    let stats = db
        .property("shaledb.stats")
        .expect("shaledb.stats should be Some");
    assert!(!stats.trim().is_empty(), "shaledb.stats is empty");
    assert_eq!(db.property("shaledb.no-such-property"), None);
    db.close().expect("close");
}

/// `flush` waits for the memtable it froze and the older ones, not for every memtable
/// writers freeze meanwhile: with writers always ahead of the flushes, waiting for an
/// empty queue would last as long as they write.
#[test]
fn flush_returns_while_writers_keep_freezing_memtables() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    let dir = temp_dir();
    let options = Options {
        memtable_size: 1024,
        max_immutable_memtables: 3,
        // No level-0 stop trigger pauses the writers.
        disable_auto_compactions: true,
        ..Default::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    db.put(format!("{w}-{i:012}"), [7u8; 200]).expect("put");
                    i += 1;
                }
                i
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let (done, flushed) = mpsc::channel();
    let flusher = {
        let db = db.clone();
        thread::spawn(move || {
            let result = db.flush();
            let _ = done.send(());
            result
        })
    };
    // A flush of a few 1 KiB memtables takes milliseconds.
    let returned = flushed.recv_timeout(Duration::from_secs(20)).is_ok();
    stop.store(true, Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    flusher.join().expect("flusher").expect("flush");
    assert!(returned, "flush() waited for memtables frozen after it");
    assert!(written > 0);
    db.close().expect("close");
}

#[test]
fn flush_then_reopen_keeps_everything() {
    let dir = temp_dir();
    let options = || Options {
        memtable_size: 8 << 10,
        ..Default::default()
    };
    let db = Db::open(dir.path(), options()).expect("open");
    let mut model = Model::new();

    for i in 0..2000u32 {
        let (k, v) = (
            format!("k{i:05}").into_bytes(),
            format!("value-{i}").into_bytes(),
        );
        db.put(&k, &v).expect("put");
        model.insert(k, v);
    }
    for i in (0..2000u32).step_by(7) {
        let k = format!("k{i:05}").into_bytes();
        db.delete(&k).expect("delete");
        model.remove(&k);
    }
    db.flush().expect("flush");

    // This part only lives in the log (and memtable) at close time.
    for i in 2000..2050u32 {
        let (k, v) = (
            format!("k{i:05}").into_bytes(),
            format!("late-{i}").into_bytes(),
        );
        db.put(&k, &v).expect("put");
        model.insert(k, v);
    }
    for i in (1..2000u32).step_by(101) {
        let k = format!("k{i:05}").into_bytes();
        db.delete(&k).expect("delete");
        model.remove(&k);
    }
    let absent: Vec<Vec<u8>> = [0u32, 7, 1, 102, 2050, 99999]
        .iter()
        .map(|i| format!("k{i:05}").into_bytes())
        .collect();
    common::assert_matches_model(&db, &model, &absent, "before close");
    db.close().expect("close");

    // Recover twice: recovery itself must leave a recoverable database.
    for attempt in 1..=2 {
        let db = Db::open(dir.path(), options()).expect("reopen");
        common::assert_matches_model(&db, &model, &absent, &format!("after reopen #{attempt}"));
        db.close().expect("close");
    }
}

/// Found by review: reopening with fewer levels than the database has was reported as
/// a corrupt manifest, which points the user at repair.
#[test]
fn reopening_with_fewer_levels_than_the_database_has_is_an_invalid_argument() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"k", b"v").expect("put");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
    let err = open_err(
        dir.path(),
        Options {
            num_levels: 4,
            ..Default::default()
        },
    );
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("num_levels of at least 7")),
        "{err:?}"
    );
    let db = open(dir.path());
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
    db.close().expect("close");
}

/// Found by an audit: `close` returned (and gave up the lock) while a write on another
/// thread was still on its way into the log; the write then returned Ok after the next
/// open had replayed that log, and was lost. Every write acknowledged around a close
/// must be found after the reopen, and a write after the close fails with `Closed`.
#[test]
fn writes_racing_a_close_are_refused_or_kept() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    for wal_mmap in [false, true] {
        let dir = temp_dir();
        let options = Options {
            memtable_size: 64 << 10,
            wal_mmap,
            ..Default::default()
        };
        for round in 0..60u64 {
            let db = Db::open(dir.path(), options.clone()).expect("open");
            let acked = Arc::new(Mutex::new(Vec::new()));
            let closed = Arc::new(AtomicBool::new(false));
            let writers: Vec<_> = (0..3)
                .map(|t| {
                    let (db, acked, closed) = (db.clone(), Arc::clone(&acked), Arc::clone(&closed));
                    thread::spawn(move || {
                        for i in 0u64.. {
                            let key = format!("r{round}t{t}i{i}");
                            let was_closed = closed.load(Ordering::SeqCst);
                            match db.put(&key, b"v") {
                                Ok(()) => {
                                    assert!(!was_closed, "a write begun after close succeeded");
                                    acked.lock().unwrap().push(key);
                                }
                                Err(Error::Closed) => break,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    })
                })
                .collect();
            thread::sleep(std::time::Duration::from_micros(100 + round * 37 % 900));
            db.close().expect("close");
            closed.store(true, Ordering::SeqCst);
            // Reopen at once, while the writers may still be returning.
            let reopened = Db::open(dir.path(), options.clone()).expect("reopen");
            for w in writers {
                w.join().expect("writer");
            }
            for key in acked.lock().unwrap().iter() {
                assert!(
                    reopened.get(key).expect("get").is_some(),
                    "round {round} (mmap {wal_mmap}): acknowledged {key} was lost"
                );
            }
            reopened.close().expect("close");
        }
    }
}

/// Found by an audit: a snapshot kept past `close` kept the engine's memory-mapped log
/// open, and dropping it later cut the file to its written length, which made a reopen
/// that was reading the log at that moment fail with an I/O error. `close` now closes
/// the log itself: the file is final when `close` returns.
#[test]
fn close_leaves_the_log_final_while_a_snapshot_lives_on() {
    let dir = temp_dir();
    let db = open(dir.path());
    for i in 0..2000u32 {
        db.put(format!("k{i}"), [7u8; 100]).expect("put");
    }
    let snapshot = db.snapshot();
    let iter = db.iter();
    db.close().expect("close");
    let log = common::newest_log(dir.path());
    let at_close = fs::metadata(&log).expect("log").len();
    drop(iter);
    drop(snapshot);
    assert_eq!(fs::metadata(&log).expect("log").len(), at_close);
    let reopened = open(dir.path());
    assert_eq!(
        reopened.get("k1999").expect("get").as_deref(),
        Some(&[7u8; 100][..])
    );
    reopened.close().expect("close");
}

/// Found by an audit: after `close`, a clone's `get` failed with `Closed` but its
/// iterators, snapshots and properties went on reading the old state, even while
/// another handle had opened the directory and changed it.
#[test]
fn reads_through_a_clone_after_close_report_closed() {
    let dir = temp_dir();
    let db = open(dir.path());
    db.put(b"k", b"v").expect("put");
    let clone = db.clone();
    let snapshot = db.snapshot();
    let before = db.iter();
    db.close().expect("close");

    assert!(matches!(clone.get(b"k"), Err(Error::Closed)));
    assert!(matches!(snapshot.get(b"k"), Err(Error::Closed)));
    for mut iter in [
        clone.iter(),
        clone.range::<&[u8], _>(..),
        clone.prefix(b"k"),
        snapshot.iter(),
    ] {
        assert!(matches!(iter.next(), Some(Err(Error::Closed))));
        assert!(iter.next().is_none());
    }
    assert!(matches!(clone.iter().next_back(), Some(Err(Error::Closed))));
    let mut raw = clone.raw_iter();
    raw.seek_to_first();
    assert!(!raw.valid());
    assert!(matches!(raw.status(), Err(Error::Closed)));
    assert_eq!(clone.property("shaledb.last-sequence"), None);
    assert!(matches!(clone.verify(), Err(Error::Closed)));
    // An iterator made before the close holds what it reads.
    let held: Vec<_> = before.map(|r| r.expect("entry")).collect();
    assert_eq!(held, vec![(b"k".to_vec(), b"v".to_vec())]);
}

/// Two clones closed at once: the second `close` used to return Ok at once while the
/// first still waited for background work and held the lock, so an open right after it
/// could fail with `Locked`. Both now return only once the database is closed.
#[test]
fn concurrent_closes_both_return_after_the_lock_is_released() {
    let dir = temp_dir();
    for round in 0..5 {
        let db = open(dir.path());
        for i in 0..100_000u32 {
            db.put(format!("{round}-{i:06}"), [b'v'; 100]).expect("put");
        }
        // A flush of about 15 MB is running when the closes come.
        let flusher = {
            let db = db.clone();
            thread::spawn(move || db.flush())
        };
        thread::sleep(std::time::Duration::from_millis(5));
        let other = db.clone();
        let first = thread::spawn(move || other.close());
        thread::sleep(std::time::Duration::from_millis(1));
        db.close().expect("close");
        match Db::open(dir.path(), Options::default()) {
            Ok(reopened) => reopened.close().expect("close"),
            Err(e) => panic!("round {round}: open right after close: {e}"),
        }
        first.join().expect("closer").expect("close");
        let _ = flusher.join().expect("flusher");
    }
}

/// Found by an audit: writes made with `disable_wal` were lost by a clean close or
/// drop, and the reopened database then held a later logged write without the earlier
/// unlogged one, and an overwritten value back in its place. Close now flushes
/// memtables that hold such writes, as RocksDB's close does; frozen memtables too,
/// which the small memtable here makes many of.
#[test]
fn a_clean_close_keeps_writes_made_without_the_log() {
    let no_wal = WriteOptions {
        disable_wal: true,
        ..WriteOptions::default()
    };
    for close_explicitly in [true, false] {
        let dir = temp_dir();
        let options = Options {
            memtable_size: 64 << 10,
            ..Options::default()
        };
        let db = Db::open(dir.path(), options.clone()).expect("open");
        db.put(b"k", b"old (logged)").expect("put");
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"new (unlogged)");
        db.write_opt(batch, &no_wal).expect("unlogged write");
        for i in 0..3_000u32 {
            let mut batch = WriteBatch::new();
            batch.put(format!("unlogged-{i:05}"), [b'u'; 100]);
            db.write_opt(batch, &no_wal).expect("unlogged write");
        }
        db.put(b"later", b"logged").expect("put");
        if close_explicitly {
            db.close().expect("close");
        } else {
            drop(db);
        }
        let db = Db::open(dir.path(), options).expect("reopen");
        assert_eq!(
            db.get(b"k").expect("get").as_deref(),
            Some(&b"new (unlogged)"[..]),
            "close_explicitly {close_explicitly}"
        );
        assert_eq!(
            db.get(b"later").expect("get").as_deref(),
            Some(&b"logged"[..])
        );
        let unlogged = db.prefix(b"unlogged-").count();
        assert_eq!(unlogged, 3_000, "close_explicitly {close_explicitly}");
    }
}
