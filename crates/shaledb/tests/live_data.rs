//! `shaledb.live-data-size` against the truth: the table bytes a full compaction leaves,
//! which hold each live entry once and nothing else.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shaledb::{CompactionStyle, Db, Options};

const KEYS: u64 = 20_000;

fn options(style: CompactionStyle, bloom_bits_per_key: u32) -> Options {
    Options {
        memtable_size: 64 << 10,
        block_size: 1024,
        target_file_size: 64 << 10,
        level_base_size: 256 << 10,
        level_size_multiplier: 4,
        tiered_run_trigger: 4,
        bloom_bits_per_key,
        compaction: style,
        ..Options::default()
    }
}

fn num(db: &Db, property: &str) -> u64 {
    let text = db.property(property).expect("a known property");
    text.parse()
        .unwrap_or_else(|_| panic!("{property} is not a plain number: {text:?}"))
}

/// db_bench's fillrandom, then overwrite, then deletes of a tenth of the key space:
/// random keys, 100-byte values that do not compress.
fn fill_overwrite_delete(db: &Db, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut value = [0u8; 100];
    for _ in 0..2 * KEYS {
        let k = rng.random_range(0..KEYS);
        rng.fill(&mut value[..]);
        db.put(format!("{k:016}"), value).unwrap();
    }
    for _ in 0..KEYS / 10 {
        let k = rng.random_range(0..KEYS);
        db.delete(format!("{k:016}")).unwrap();
    }
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
}

/// The estimate before a full compaction, the tables' size before it, and the size
/// after it.
fn estimate_and_truth(options: Options, seed: u64) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options).unwrap();
    fill_overwrite_delete(&db, seed);
    let estimate = num(&db, "shaledb.live-data-size");
    let before = num(&db, "shaledb.total-sst-size");
    db.compact_range::<&[u8], _>(..).unwrap();
    let truth = num(&db, "shaledb.total-sst-size");
    (estimate, before, truth)
}

#[test]
fn the_estimate_is_within_a_tenth_of_the_compacted_size_under_both_styles() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        for seed in [1, 2] {
            let measured = estimate_and_truth(options(style, 10), seed);
            assert_within_a_tenth(&format!("{style:?} seed {seed}"), measured);
        }
    }
}

/// Newer versions in level 0 over a compacted last level, without background
/// compaction, so that the tree surely holds old versions: the estimate, the tables'
/// size before a full compaction, and the size after it.
fn layered(options: Options) -> (u64, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let quiet = Options {
        disable_auto_compactions: true,
        ..options
    };
    let db = Db::open(dir.path(), quiet).unwrap();
    let mut rng = SmallRng::seed_from_u64(4);
    let mut value = [0u8; 100];
    for k in 0..KEYS {
        rng.fill(&mut value[..]);
        db.put(format!("{k:016}"), value).unwrap();
    }
    db.compact_range::<&[u8], _>(..).unwrap();
    for _ in 0..KEYS / 2 {
        let k = rng.random_range(0..KEYS);
        rng.fill(&mut value[..]);
        db.put(format!("{k:016}"), value).unwrap();
    }
    for _ in 0..KEYS / 10 {
        db.delete(format!("{:016}", rng.random_range(0..KEYS)))
            .unwrap();
    }
    db.flush().unwrap();
    assert!(num(&db, "shaledb.num-files-at-level0") >= 2);
    let estimate = num(&db, "shaledb.live-data-size");
    let before = num(&db, "shaledb.total-sst-size");
    db.compact_range::<&[u8], _>(..).unwrap();
    let truth = num(&db, "shaledb.total-sst-size");
    (estimate, before, truth)
}

fn assert_close(what: &str, measured: (u64, u64, u64)) {
    let (_, before, truth) = measured;
    // Counting whole tables would be a third too high.
    assert!(
        before as f64 > 1.3 * truth as f64,
        "{what}: only {before} bytes before compacting to {truth}"
    );
    assert_within_a_tenth(what, measured);
}

/// The estimate is within a tenth of the size a full compaction left.
fn assert_within_a_tenth(what: &str, (estimate, before, truth): (u64, u64, u64)) {
    let error = (estimate as f64 - truth as f64).abs() / truth as f64;
    assert!(
        error < 0.1,
        "{what}: estimated {estimate} live bytes; a full compaction left {truth} \
         (before: {before})"
    );
}

#[test]
fn the_estimate_sees_through_newer_versions_above_the_last_level() {
    let options = Options {
        memtable_size: 256 << 10,
        ..options(CompactionStyle::Leveled, 10)
    };
    assert_close("1 KiB blocks", layered(options));
}

/// With 256-byte blocks every table has thousands of them, more than the estimate walks
/// one by one: it samples the index at its restart points instead.
#[test]
fn tables_with_large_indexes_are_sampled_at_restart_points() {
    let options = Options {
        memtable_size: 1 << 20,
        block_size: 256,
        target_file_size: 8 << 20,
        ..options(CompactionStyle::Leveled, 10)
    };
    assert_close("256-byte blocks", layered(options));
}

#[test]
fn without_filters_the_estimate_falls_back_to_key_ranges() {
    let (estimate, before, truth) = estimate_and_truth(options(CompactionStyle::Leveled, 0), 3);
    // Whole tables are counted, so the estimate lies between the truth and everything.
    assert!(
        truth <= estimate && estimate <= before,
        "estimated {estimate}; {truth} after compacting, {before} before"
    );
}

#[test]
fn an_empty_database_and_a_database_of_tombstones_hold_no_live_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(CompactionStyle::Leveled, 10)).unwrap();
    assert_eq!(num(&db, "shaledb.live-data-size"), 0);
    for k in 0..2_000u64 {
        db.delete(format!("{k:016}")).unwrap();
    }
    db.flush().unwrap();
    assert!(num(&db, "shaledb.total-sst-size") > 0);
    assert_eq!(num(&db, "shaledb.live-data-size"), 0);
}
