//! Model-based randomized test: drive ShaleDB with random operations and
//! compare every observation with a `BTreeMap<Vec<u8>, Vec<u8>>` model.
//!
//! Knobs:
//! * `SHALEDB_SEED=<u64 | 0xhex | random>` replaces every test's seed (the
//!   seed in use is always printed, so failures can be replayed);
//! * `SHALEDB_MODEL_OPS=<n>` replaces the number of operations per test.
//!
//! The long variant is ignored by default; run it with
//! `cargo test -p shaledb --test model -- --ignored`.

mod common;

use std::collections::VecDeque;
use std::fmt;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::path::PathBuf;

use common::{show, BoxIter, Entry, Model, View};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{CompactionStyle, Compression, Db, Options, Snapshot, WriteBatch, WriteOptions};

const DEFAULT_OPS: usize = 3000;
const LONG_OPS: usize = 200_000;
const MAX_SNAPSHOTS: usize = 3;
const FULL_CHECK_EVERY: usize = 250;
const RECENT_OPS_KEPT: usize = 40;

// ---------------------------------------------------------------------------
// Configurations
// ---------------------------------------------------------------------------

struct Config {
    name: &'static str,
    seed: u64,
    ops: usize,
    options: fn() -> Options,
}

fn tiny_memtable() -> Options {
    Options {
        memtable_size: 4 << 10,
        ..Default::default()
    }
}

/// Also without the memtable's bloom filter (the other configurations have one).
fn tiny_blocks_uncompressed() -> Options {
    Options {
        memtable_size: 4 << 10,
        block_size: 256,
        compression: Compression::None,
        memtable_bloom_ratio: 0.0,
        ..Default::default()
    }
}

fn tiny_blocks_zstd() -> Options {
    Options {
        memtable_size: 4 << 10,
        block_size: 256,
        compression: Compression::Zstd,
        ..Default::default()
    }
}

/// LZ4 and a deliberately weak bloom filter (many false positives).
fn lz4_weak_bloom() -> Options {
    Options {
        memtable_size: 4 << 10,
        block_size: 1024,
        compression: Compression::Lz4,
        bloom_bits_per_key: 1,
        ..Default::default()
    }
}

/// Leveled compaction with tiny levels, so data moves through several levels and
/// reopens land in the middle of compactions.
fn leveled_small_levels() -> Options {
    Options {
        memtable_size: 4 << 10,
        block_size: 512,
        level0_compaction_trigger: 2,
        level_base_size: 16 << 10,
        level_size_multiplier: 4,
        target_file_size: 8 << 10,
        ..Default::default()
    }
}

/// Size-tiered compaction with tiny memtables. Two compaction threads, and runs up to
/// twice the size of the newer ones joining a merge, so merges of newer level-0 runs
/// back into level 0 happen, beside older runs and while they are being merged.
fn tiered_small() -> Options {
    Options {
        memtable_size: 4 << 10,
        block_size: 512,
        compaction: CompactionStyle::Tiered,
        max_background_jobs: 3,
        level0_compaction_trigger: 3,
        tiered_min_merge_width: 2,
        tiered_size_ratio_percent: 100,
        tiered_run_trigger: 3,
        target_file_size: 8 << 10,
        ..Default::default()
    }
}

/// Few open files (a table cache of 6) under a level-0 trigger above that: level 0 goes
/// down 6 tables at a time, and after reopens that find more, it is first merged into
/// itself in batches of 6 (`compaction::level0_batch`).
fn leveled_few_open_files() -> Options {
    Options {
        max_open_files: 16,
        level0_compaction_trigger: 8,
        level0_slowdown_writes_trigger: 12,
        level0_stop_writes_trigger: 16,
        ..leveled_small_levels()
    }
}

#[test]
fn model_leveled_few_open_files() {
    run(Config {
        name: "model_leveled_few_open_files",
        seed: 0x5EED_0009,
        ops: DEFAULT_OPS,
        options: leveled_few_open_files,
    });
}

#[test]
fn model_leveled_small_levels() {
    run(Config {
        name: "model_leveled_small_levels",
        seed: 0x5EED_0006,
        ops: DEFAULT_OPS,
        options: leveled_small_levels,
    });
}

#[test]
fn model_tiered() {
    run(Config {
        name: "model_tiered",
        seed: 0x5EED_0007,
        ops: DEFAULT_OPS,
        options: tiered_small,
    });
}

/// Size-tiered compaction over three levels: level 1 soon holds a run, so merges of
/// level-0 runs keep writing back into level 0, and their tombstones must survive
/// while older level-0 runs beside the output may hold the key.
fn tiered_three_levels() -> Options {
    Options {
        num_levels: 3,
        ..tiered_small()
    }
}

#[test]
fn model_tiered_three_levels() {
    run(Config {
        name: "model_tiered_three_levels",
        seed: 0x5EED_0008,
        ops: DEFAULT_OPS,
        options: tiered_three_levels,
    });
}

/// Run with `cargo test -p shaledb --test model -- --ignored`.
#[test]
#[ignore = "long-running; run with `cargo test -p shaledb --test model -- --ignored`"]
fn model_long_tiered() {
    run(Config {
        name: "model_long_tiered",
        seed: 0x5EED_1001,
        ops: LONG_OPS,
        options: tiered_small,
    });
}

/// Run with `cargo test -p shaledb --test model -- --ignored`.
#[test]
#[ignore = "long-running; run with `cargo test -p shaledb --test model -- --ignored`"]
fn model_long_leveled() {
    run(Config {
        name: "model_long_leveled",
        seed: 0x5EED_1002,
        ops: LONG_OPS,
        options: leveled_small_levels,
    });
}

#[test]
fn model_tiny_memtable() {
    run(Config {
        name: "model_tiny_memtable",
        seed: 0x5EED_0001,
        ops: DEFAULT_OPS,
        options: tiny_memtable,
    });
}

#[test]
fn model_tiny_memtable_second_seed() {
    run(Config {
        name: "model_tiny_memtable_second_seed",
        seed: 0x5EED_0002,
        ops: DEFAULT_OPS,
        options: tiny_memtable,
    });
}

#[test]
fn model_block_256_uncompressed() {
    run(Config {
        name: "model_block_256_uncompressed",
        seed: 0x5EED_0003,
        ops: DEFAULT_OPS,
        options: tiny_blocks_uncompressed,
    });
}

#[test]
fn model_block_256_zstd() {
    run(Config {
        name: "model_block_256_zstd",
        seed: 0x5EED_0004,
        ops: DEFAULT_OPS,
        options: tiny_blocks_zstd,
    });
}

#[test]
fn model_lz4_weak_bloom() {
    run(Config {
        name: "model_lz4_weak_bloom",
        seed: 0x5EED_0005,
        ops: DEFAULT_OPS,
        options: lz4_weak_bloom,
    });
}

/// Run with `cargo test -p shaledb --test model -- --ignored`.
#[test]
#[ignore = "long-running; run with `cargo test -p shaledb --test model -- --ignored`"]
fn model_long() {
    run(Config {
        name: "model_long",
        seed: 0x5EED_1000,
        ops: LONG_OPS,
        options: tiny_blocks_zstd,
    });
}

// ---------------------------------------------------------------------------
// Range specifications: every syntactic form `range` accepts
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum RangeSpec {
    /// `(Bound<&[u8]>, Bound<&[u8]>)`
    Bounds(Bound<Vec<u8>>, Bound<Vec<u8>>),
    /// `a..b`
    HalfOpen(Vec<u8>, Vec<u8>),
    /// `a..=b`
    Inclusive(Vec<u8>, Vec<u8>),
    /// `..b`
    To(Vec<u8>),
    /// `..=b`
    ToInclusive(Vec<u8>),
    /// `a..`
    From(Vec<u8>),
    /// `..`
    Full,
}

fn slice_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Included(k) => Included(k.as_slice()),
        Excluded(k) => Excluded(k.as_slice()),
        Unbounded => Unbounded,
    }
}

impl RangeSpec {
    /// The bounds in normalized form, for computing the model's answer.
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        match self {
            RangeSpec::Bounds(lo, hi) => (slice_bound(lo), slice_bound(hi)),
            RangeSpec::HalfOpen(a, b) => (Included(a.as_slice()), Excluded(b.as_slice())),
            RangeSpec::Inclusive(a, b) => (Included(a.as_slice()), Included(b.as_slice())),
            RangeSpec::To(b) => (Unbounded, Excluded(b.as_slice())),
            RangeSpec::ToInclusive(b) => (Unbounded, Included(b.as_slice())),
            RangeSpec::From(a) => (Included(a.as_slice()), Unbounded),
            RangeSpec::Full => (Unbounded, Unbounded),
        }
    }
}

impl fmt::Display for RangeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |b: &Bound<Vec<u8>>| match b {
            Included(k) => format!("Included({})", show(k)),
            Excluded(k) => format!("Excluded({})", show(k)),
            Unbounded => "Unbounded".to_string(),
        };
        match self {
            RangeSpec::Bounds(lo, hi) => write!(f, "({}, {})", bound(lo), bound(hi)),
            RangeSpec::HalfOpen(a, b) => write!(f, "{}..{}", show(a), show(b)),
            RangeSpec::Inclusive(a, b) => write!(f, "{}..={}", show(a), show(b)),
            RangeSpec::To(b) => write!(f, "..{}", show(b)),
            RangeSpec::ToInclusive(b) => write!(f, "..={}", show(b)),
            RangeSpec::From(a) => write!(f, "{}..", show(a)),
            RangeSpec::Full => write!(f, ".."),
        }
    }
}

/// Something ranges can be opened on with each syntactic form: `Db` and `Snapshot`.
trait Source: View {
    fn range_spec(&self, spec: &RangeSpec) -> BoxIter<'_>;
}

macro_rules! impl_source {
    ($ty:ty) => {
        impl Source for $ty {
            fn range_spec(&self, spec: &RangeSpec) -> BoxIter<'_> {
                match spec {
                    RangeSpec::Bounds(lo, hi) => {
                        Box::new(self.range(common::bounds(slice_bound(lo), slice_bound(hi))))
                    }
                    RangeSpec::HalfOpen(a, b) => Box::new(self.range(a.as_slice()..b.as_slice())),
                    RangeSpec::Inclusive(a, b) => Box::new(self.range(a.as_slice()..=b.as_slice())),
                    RangeSpec::To(b) => Box::new(self.range(..b.as_slice())),
                    RangeSpec::ToInclusive(b) => Box::new(self.range(..=b.as_slice())),
                    RangeSpec::From(a) => Box::new(self.range(a.as_slice()..)),
                    RangeSpec::Full => Box::new(self.range(common::full())),
                }
            }
        }
    };
}

impl_source!(Db);
impl_source!(Snapshot);

/// A key to use as a range bound: usually from the key space, sometimes a
/// key "between" keys (extended by a byte or truncated).
fn bound_key(rng: &mut StdRng, keys: &[Vec<u8>]) -> Vec<u8> {
    let mut key = keys[rng.random_range(0..keys.len())].clone();
    match rng.random_range(0..10) {
        0 => key.push(rng.random()),
        1 => key.truncate(rng.random_range(0..=key.len())),
        2 => key = common::random_bytes(rng, 2),
        _ => {}
    }
    key
}

fn random_bound(rng: &mut StdRng, key: Vec<u8>) -> Bound<Vec<u8>> {
    match rng.random_range(0..10) {
        0..=1 => Unbounded,
        2..=5 => Included(key),
        _ => Excluded(key),
    }
}

fn random_range_spec(rng: &mut StdRng, keys: &[Vec<u8>]) -> RangeSpec {
    let mut a = bound_key(rng, keys);
    let mut b = bound_key(rng, keys);
    match rng.random_range(0..10) {
        // Mostly well-formed ranges ...
        0..=6 if a > b => std::mem::swap(&mut a, &mut b),
        0..=6 => {}
        // ... some with equal ends (empty unless inclusive on both sides) ...
        7 => b = a.clone(),
        // ... and some left as drawn, so about half of these are inverted.
        _ => {}
    }
    match rng.random_range(0..8) {
        0 | 1 => RangeSpec::Bounds(random_bound(rng, a), random_bound(rng, b)),
        2 => RangeSpec::HalfOpen(a, b),
        3 => RangeSpec::Inclusive(a, b),
        4 => RangeSpec::To(b),
        5 => RangeSpec::ToInclusive(b),
        6 => RangeSpec::From(a),
        _ => RangeSpec::Full,
    }
}

fn random_prefix(rng: &mut StdRng, keys: &[Vec<u8>]) -> Vec<u8> {
    if rng.random_bool(0.3) {
        let fixed: [&[u8]; 14] = [
            b"",
            b"k",
            b"k0",
            b"k1",
            b"user:",
            b"user:1",
            &[b'p'; 10],
            &[b'p'; 200],
            &[0x00],
            &[0xff],
            &[0xff, 0xff],
            &[0xff, 0xff, 0xff],
            &[0xff; 8],
            &[0xff; 9],
        ];
        fixed[rng.random_range(0..fixed.len())].to_vec()
    } else {
        let key = &keys[rng.random_range(0..keys.len())];
        key[..rng.random_range(0..=key.len())].to_vec()
    }
}

// ---------------------------------------------------------------------------
// Scan checking
// ---------------------------------------------------------------------------

/// Consumes `it` in a randomly chosen way and compares with `want`:
/// fully forward, fully backward, a forward or backward prefix (early drop),
/// or alternating `next`/`next_back` on the one iterator.
fn check_scan(rng: &mut StdRng, mut it: BoxIter<'_>, want: &[Entry]) -> Result<(), String> {
    let limit = want.len() + 1;
    match rng.random_range(0..10) {
        0..=2 => {
            let got = common::collect_bounded(it, limit).map_err(|e| format!("forward: {e}"))?;
            common::compare_entries("forward", &got, want)
        }
        3..=5 => {
            let got =
                common::collect_bounded(it.rev(), limit).map_err(|e| format!("reverse: {e}"))?;
            let want_rev: Vec<Entry> = want.iter().rev().cloned().collect();
            common::compare_entries("reverse", &got, &want_rev)
        }
        6 => {
            let n = rng.random_range(0..=want.len() + 1);
            let got =
                common::collect_bounded(it, n).map_err(|e| format!("forward take({n}): {e}"))?;
            common::compare_entries(
                &format!("forward take({n})"),
                &got,
                &want[..n.min(want.len())],
            )
        }
        7 => {
            let n = rng.random_range(0..=want.len() + 1);
            let got = common::collect_bounded(it.rev(), n)
                .map_err(|e| format!("reverse take({n}): {e}"))?;
            let want_rev: Vec<Entry> = want.iter().rev().take(n).cloned().collect();
            common::compare_entries(&format!("reverse take({n})"), &got, &want_rev)
        }
        _ => {
            let mut front = Vec::new();
            let mut back = Vec::new();
            loop {
                let from_front = rng.random_bool(0.5);
                let (this_end, other_end) = if from_front {
                    ("next", "next_back")
                } else {
                    ("next_back", "next")
                };
                let item = if from_front {
                    it.next()
                } else {
                    it.next_back()
                };
                match item {
                    Some(Ok(entry)) if from_front => front.push(entry),
                    Some(Ok(entry)) => back.push(entry),
                    Some(Err(e)) => {
                        return Err(format!("interleaved: {this_end}() returned error {e:?}"))
                    }
                    None => {
                        // The ends have met, so the other end is exhausted too.
                        let other = if from_front {
                            it.next_back()
                        } else {
                            it.next()
                        };
                        if let Some(item) = other {
                            return Err(format!(
                                "interleaved: {this_end}() returned None but {other_end}() then returned {:?}",
                                item.map(|e| common::show_entry(&e))
                            ));
                        }
                        break;
                    }
                }
                if front.len() + back.len() > want.len() {
                    return Err(format!(
                        "interleaved: yielded {} entries (front {}, back {}) but the model range has only {}",
                        front.len() + back.len(),
                        front.len(),
                        back.len(),
                        want.len()
                    ));
                }
            }
            let (front_len, back_len) = (front.len(), back.len());
            front.extend(back.into_iter().rev());
            common::compare_entries(
                &format!("interleaved next/next_back (front {front_len}, back {back_len})"),
                &front,
                want,
            )
        }
    }
}

fn check_get<S: View>(src: &S, model: &Model, key: &[u8]) -> Result<(), String> {
    let got = src.view_get(key);
    let want = model.get(key);
    match &got {
        Ok(value) if value.as_ref() == want => Ok(()),
        _ => Err(format!(
            "get({}) = {}, expected {}",
            show(key),
            common::show_get(&got),
            common::show_opt(want.map(Vec::as_slice))
        )),
    }
}

fn check_range<S: Source>(
    rng: &mut StdRng,
    src: &S,
    model: &Model,
    spec: &RangeSpec,
) -> Result<(), String> {
    let (lo, hi) = spec.bounds();
    let want = common::model_range(model, lo, hi);
    check_scan(rng, src.range_spec(spec), &want).map_err(|e| format!("range {spec}: {e}"))
}

fn check_prefix<S: Source>(
    rng: &mut StdRng,
    src: &S,
    model: &Model,
    prefix: &[u8],
) -> Result<(), String> {
    let want = common::model_prefix(model, prefix);
    check_scan(rng, src.view_prefix(prefix), &want)
        .map_err(|e| format!("prefix {}: {e}", show(prefix)))
}

/// A random mix of reads against `src`, used to probe old snapshots.
fn random_reads<S: Source>(
    rng: &mut StdRng,
    src: &S,
    model: &Model,
    keys: &[Vec<u8>],
) -> Result<(), String> {
    for _ in 0..rng.random_range(1..=4) {
        let key = if !model.is_empty() && rng.random_bool(0.5) {
            model
                .keys()
                .nth(rng.random_range(0..model.len()))
                .expect("index in range")
                .clone()
        } else {
            common::random_key(rng, keys)
        };
        check_get(src, model, &key)?;
    }
    let spec = random_range_spec(rng, keys);
    check_range(rng, src, model, &spec)?;
    if rng.random_bool(0.3) {
        let prefix = random_prefix(rng, keys);
        check_prefix(rng, src, model, &prefix)?;
    }
    if rng.random_bool(0.1) {
        let absent = common::absent_keys(rng, model, keys, 16);
        common::check_view(src, model, &absent)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

struct SnapState {
    snap: Snapshot,
    model: Model,
    taken_at: usize,
}

#[derive(Default, Debug)]
struct Stats {
    puts: usize,
    deletes: usize,
    batches: usize,
    gets: usize,
    ranges: usize,
    prefixes: usize,
    snapshots_taken: usize,
    snapshot_checks: usize,
    flushes: usize,
    reopens: usize,
}

struct Harness {
    name: &'static str,
    seed: u64,
    options: fn() -> Options,
    _dir: tempfile::TempDir,
    path: PathBuf,
    db: Option<Db>,
    model: Model,
    snapshots: Vec<SnapState>,
    keys: Vec<Vec<u8>>,
    rng: StdRng,
    op: usize,
    recent: VecDeque<String>,
    stats: Stats,
}

fn run(cfg: Config) {
    let seed = common::seed(cfg.name, cfg.seed);
    let ops = common::env_usize("SHALEDB_MODEL_OPS", cfg.ops);
    let mut h = Harness::new(&cfg, seed);
    for _ in 0..ops {
        h.step();
        h.op += 1;
        if h.op.is_multiple_of(FULL_CHECK_EVERY) {
            h.check_everything("periodic full check");
        }
    }
    h.check_everything("final check");
    h.reopen();
    h.finish();
}

impl Harness {
    fn new(cfg: &Config, seed: u64) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("db");
        let db = Db::open(&path, (cfg.options)()).expect("open a fresh db");
        Harness {
            name: cfg.name,
            seed,
            options: cfg.options,
            _dir: dir,
            path,
            db: Some(db),
            model: Model::new(),
            snapshots: Vec::new(),
            keys: common::key_space(),
            rng: StdRng::seed_from_u64(seed),
            op: 0,
            recent: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    fn db(&self) -> &Db {
        self.db.as_ref().expect("db is open")
    }

    fn note(&mut self, what: String) {
        if self.recent.len() == RECENT_OPS_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(format!("#{} {what}", self.op));
    }

    #[track_caller]
    fn fail(&self, what: impl fmt::Display) -> ! {
        let recent: Vec<&str> = self.recent.iter().map(String::as_str).collect();
        panic!(
            "[{}] mismatch at op #{} (seed {seed}; replay with SHALEDB_SEED={seed}):\n  {what}\n\
             last {} ops, oldest first:\n  {}",
            self.name,
            self.op,
            recent.len(),
            recent.join("\n  "),
            seed = self.seed,
        );
    }

    fn step(&mut self) {
        match self.rng.random_range(0..1000) {
            0..=299 => {
                let key = common::random_key(&mut self.rng, &self.keys);
                self.put(key);
            }
            300..=389 => {
                let key = self.existing_or_random_key(0.5);
                self.put(key);
            }
            390..=469 => self.delete(),
            470..=539 => self.batch(),
            540..=659 => self.get(),
            660..=799 => self.range(),
            800..=849 => self.prefix(),
            850..=869 => self.take_snapshot(),
            870..=919 => self.check_snapshot(),
            920..=929 => self.drop_snapshot(),
            930..=944 => self.flush(),
            945..=949 => self.reopen(),
            _ => self.get(),
        }
    }

    fn existing_or_random_key(&mut self, p_existing: f64) -> Vec<u8> {
        if !self.model.is_empty() && self.rng.random_bool(p_existing) {
            let i = self.rng.random_range(0..self.model.len());
            self.model.keys().nth(i).expect("index in range").clone()
        } else {
            common::random_key(&mut self.rng, &self.keys)
        }
    }

    fn put(&mut self, key: Vec<u8>) {
        let value = common::random_value(&mut self.rng);
        self.note(format!("put {} = {}", show(&key), show(&value)));
        self.stats.puts += 1;
        if let Err(e) = self.db().put(&key, &value) {
            self.fail(format!("put {} failed: {e:?}", show(&key)));
        }
        self.model.insert(key, value);
    }

    fn delete(&mut self) {
        let key = self.existing_or_random_key(0.7);
        self.note(format!("delete {}", show(&key)));
        self.stats.deletes += 1;
        if let Err(e) = self.db().delete(&key) {
            self.fail(format!("delete {} failed: {e:?}", show(&key)));
        }
        self.model.remove(&key);
    }

    fn batch(&mut self) {
        let len = if self.rng.random_bool(0.03) {
            0
        } else {
            self.rng.random_range(1..=8)
        };
        let mut ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::with_capacity(len);
        let mut batch = WriteBatch::new();
        for _ in 0..len {
            let key = self.existing_or_random_key(0.4);
            if self.rng.random_bool(0.7) {
                let value = common::random_value(&mut self.rng);
                batch.put(&key, &value);
                ops.push((key, Some(value)));
            } else {
                batch.delete(&key);
                ops.push((key, None));
            }
        }
        let sync = self.rng.random_bool(0.05);
        let described: Vec<String> = ops
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("put {} = {}", show(k), show(v)),
                None => format!("delete {}", show(k)),
            })
            .collect();
        self.note(format!("batch (sync: {sync}) [{}]", described.join("; ")));
        self.stats.batches += 1;

        let result = if sync {
            self.db().write_opt(
                batch,
                &WriteOptions {
                    sync: true,
                    ..Default::default()
                },
            )
        } else {
            self.db().write(batch)
        };
        if let Err(e) = result {
            self.fail(format!("batch write failed: {e:?}"));
        }
        for (key, value) in ops {
            match value {
                Some(value) => self.model.insert(key, value),
                None => self.model.remove(&key),
            };
        }
    }

    fn get(&mut self) {
        let key = self.existing_or_random_key(0.5);
        self.note(format!("get {}", show(&key)));
        self.stats.gets += 1;
        if let Err(e) = check_get(self.db(), &self.model, &key) {
            self.fail(e);
        }
    }

    fn range(&mut self) {
        let spec = random_range_spec(&mut self.rng, &self.keys);
        self.note(format!("range {spec}"));
        self.stats.ranges += 1;
        let db = self.db.as_ref().expect("db is open");
        if let Err(e) = check_range(&mut self.rng, db, &self.model, &spec) {
            self.fail(e);
        }
    }

    fn prefix(&mut self) {
        let prefix = random_prefix(&mut self.rng, &self.keys);
        self.note(format!("prefix {}", show(&prefix)));
        self.stats.prefixes += 1;
        let db = self.db.as_ref().expect("db is open");
        if let Err(e) = check_prefix(&mut self.rng, db, &self.model, &prefix) {
            self.fail(e);
        }
    }

    fn take_snapshot(&mut self) {
        if self.snapshots.len() >= MAX_SNAPSHOTS {
            self.drop_snapshot();
        }
        self.note(format!(
            "take snapshot (model has {} keys)",
            self.model.len()
        ));
        self.stats.snapshots_taken += 1;
        let snap = self.db().snapshot();
        self.snapshots.push(SnapState {
            snap,
            model: self.model.clone(),
            taken_at: self.op,
        });
    }

    fn drop_snapshot(&mut self) {
        if self.snapshots.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.snapshots.len());
        let state = self.snapshots.swap_remove(i);
        self.note(format!("drop snapshot taken at #{}", state.taken_at));
    }

    fn check_snapshot(&mut self) {
        if self.snapshots.is_empty() {
            self.take_snapshot();
            return;
        }
        let i = self.rng.random_range(0..self.snapshots.len());
        let taken_at = self.snapshots[i].taken_at;
        self.note(format!("check snapshot taken at #{taken_at}"));
        self.stats.snapshot_checks += 1;
        let state = &self.snapshots[i];
        if let Err(e) = random_reads(&mut self.rng, &state.snap, &state.model, &self.keys) {
            self.fail(format!("snapshot taken at #{taken_at}: {e}"));
        }
    }

    fn flush(&mut self) {
        self.note("flush".to_string());
        self.stats.flushes += 1;
        if let Err(e) = self.db().flush() {
            self.fail(format!("flush failed: {e:?}"));
        }
    }

    fn reopen(&mut self) {
        self.note(format!(
            "reopen (dropping {} snapshots)",
            self.snapshots.len()
        ));
        self.stats.reopens += 1;
        self.snapshots.clear();
        let db = self.db.take().expect("db is open");
        if let Err(e) = db.close() {
            self.fail(format!("close failed: {e:?}"));
        }
        match Db::open(&self.path, (self.options)()) {
            Ok(db) => self.db = Some(db),
            Err(e) => self.fail(format!("reopen failed: {e:?}")),
        }
        self.check_everything("check after reopen");
    }

    /// Full comparison of the live db and every snapshot with their models.
    fn check_everything(&mut self, when: &str) {
        let absent = common::absent_keys(&mut self.rng, &self.model, &self.keys, 32);
        if let Err(e) = common::check_view(self.db(), &self.model, &absent) {
            self.fail(format!("{when}: {e}"));
        }
        for state in &self.snapshots {
            let absent = common::absent_keys(&mut self.rng, &state.model, &self.keys, 16);
            if let Err(e) = common::check_view(&state.snap, &state.model, &absent) {
                self.fail(format!(
                    "{when}, snapshot taken at #{}: {e}",
                    state.taken_at
                ));
            }
        }
    }

    fn finish(mut self) {
        self.snapshots.clear();
        let db = self.db.take().expect("db is open");
        if let Err(e) = db.close() {
            self.fail(format!("final close failed: {e:?}"));
        }
        eprintln!(
            "[{}] {} ops, {} keys at the end; {:?}",
            self.name,
            self.op,
            self.model.len(),
            self.stats
        );
    }
}
