//! Shared helpers for the ShaleDB integration tests.
//!
//! Every test binary pulls this in with `mod common;` and none of them uses
//! every helper, hence the `dead_code` allowance.
//!
//! Environment knobs understood here:
//! * `SHALEDB_SEED` — overrides the seed of every randomized test
//!   (decimal, `0x`-prefixed hex, or `random` for a fresh time-based seed).
//! * `SHALEDB_TEST_TMPDIR` — where [`scratch_dir`] puts databases.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Db, Snapshot};

/// The reference model every test compares the database against.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// One key/value pair as yielded by ShaleDB iterators.
pub type Entry = (Vec<u8>, Vec<u8>);
/// A type-erased ShaleDB iterator, so `Db` and `Snapshot` can share checks.
pub type BoxIter<'a> = Box<dyn DoubleEndedIterator<Item = shaledb::Result<Entry>> + 'a>;

// ---------------------------------------------------------------------------
// Filesystem
// ---------------------------------------------------------------------------

/// The newest (highest-numbered) write-ahead log in the database directory `dir`.
pub fn newest_log(dir: &Path) -> std::path::PathBuf {
    files_with_extension(dir, "log").pop().expect("a log")
}

/// The files in `dir` whose names end in `.ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Recursively copies the directory `src` to `dst` (created when missing).
pub fn copy_dir(src: impl AsRef<Path>, dst: impl AsRef<Path>) -> io::Result<()> {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let target = dst.join(entry.file_name());
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            copy_dir(entry.path(), &target)?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A fresh temporary directory for a database whose durability on the real
/// disk does not matter to the test (SIGKILL leaves the page cache alone, and
/// simulated power loss is done by `FaultInjectionFs`): under `SHALEDB_TEST_TMPDIR` when set, else in RAM (`/dev/shm`) when the
/// machine has it, else in the system's temporary directory. On a slow disk
/// an fsync costs milliseconds, which would swamp tests that flush, compact
/// and reopen thousands of times.
pub fn scratch_dir() -> tempfile::TempDir {
    let parent = std::env::var_os("SHALEDB_TEST_TMPDIR")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(std::path::PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("shaledb-test-")
        .tempdir_in(&parent)
        .unwrap_or_else(|e| panic!("create a directory in {}: {e}", parent.display()))
}

// ---------------------------------------------------------------------------
// Seeds and environment
// ---------------------------------------------------------------------------

/// Returns the seed for `test`: `SHALEDB_SEED` when set, else `default`.
/// The seed is always printed so a failing run can be reproduced.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = match std::env::var("SHALEDB_SEED") {
        Ok(s) if s.trim().eq_ignore_ascii_case("random") => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock before 1970")
                .as_nanos();
            // Fold the 128-bit timestamp so consecutive runs differ in every bit.
            (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
        Ok(s) => parse_u64(&s).unwrap_or_else(|| {
            panic!("SHALEDB_SEED={s:?} is not a u64 (decimal or 0x-hex) or \"random\"")
        }),
        Err(_) => default,
    };
    eprintln!("[{test}] seed = {seed} (reproduce with SHALEDB_SEED={seed})");
    seed
}

/// A deterministic generator for `test` seeded via [`seed`].
pub fn rng(test: &str, default_seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed(test, default_seed))
}

/// Reads a numeric environment variable, falling back to `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(s) => parse_u64(&s)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| panic!("{name}={s:?} is not a valid number")),
        Err(_) => default,
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

// ---------------------------------------------------------------------------
// Keys and values
// ---------------------------------------------------------------------------

/// A fixed key space of roughly 300 distinct keys covering the awkward cases:
/// the empty key, 0x00/0xff bytes, keys that are prefixes of each other, and
/// 200-byte shared prefixes (stress for prefix compression in blocks).
pub fn key_space() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x00, 0xff],
        vec![0x01],
        vec![0x7f],
        vec![0x80],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff],
        vec![0xff; 8],
        b"a".to_vec(),
        b"aa".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        b"user".to_vec(),
        b"user:".to_vec(),
        b"user;".to_vec(),
    ];
    keys.extend((0..30).map(|i| format!("user:{i}").into_bytes()));
    keys.extend((0..150).map(|i| format!("k{i:03}").into_bytes()));

    let long = vec![b'p'; 200];
    keys.push(long[..199].to_vec());
    keys.push(long.clone());
    for suffix in [&[0x00][..], &[0xff][..], &[0xff, 0xff][..]] {
        keys.push([long.as_slice(), suffix].concat());
    }
    keys.extend((0..40).map(|i| [long.as_slice(), format!("{i:02}").as_bytes()].concat()));

    keys.extend((0..30u8).map(|i| vec![i.wrapping_mul(37), 0x00, 0xff, i]));
    keys.extend((0..20u8).map(|i| vec![0xff, 0xff, i]));

    keys.sort();
    keys.dedup();
    keys
}

/// Mostly a key from `space`; occasionally a short random binary key.
pub fn random_key(rng: &mut StdRng, space: &[Vec<u8>]) -> Vec<u8> {
    if rng.random_bool(0.03) {
        let len = rng.random_range(0..=6);
        random_bytes(rng, len)
    } else {
        space[rng.random_range(0..space.len())].clone()
    }
}

/// Empty (10%), small (most), medium, or occasionally a 100 KiB value.
pub fn random_value(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.random_range(0..1000) {
        0..=99 => 0,
        100..=984 => rng.random_range(1..=64),
        985..=994 => rng.random_range(65..=4096),
        _ => 100 << 10,
    };
    random_bytes(rng, len)
}

pub fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    bytes
}

/// `n` keys that are absent from `model`: unused keys of `space` plus random ones.
pub fn absent_keys(rng: &mut StdRng, model: &Model, space: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n * 4 {
        if out.len() == n {
            break;
        }
        let key = if rng.random_bool(0.5) {
            space[rng.random_range(0..space.len())].clone()
        } else {
            let len = rng.random_range(0..=8);
            random_bytes(rng, len)
        };
        if !model.contains_key(&key) {
            out.push(key);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Pretty-printing for failure messages
// ---------------------------------------------------------------------------

/// Escaped, length-limited rendering of a byte string.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 40;
    let mut s = String::from("b\"");
    for &b in bytes.iter().take(MAX) {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    s.push('"');
    if bytes.len() > MAX {
        let _ = write!(s, "…({} bytes)", bytes.len());
    }
    s
}

pub fn show_opt(value: Option<&[u8]>) -> String {
    match value {
        Some(v) => format!("Some({})", show(v)),
        None => "None".to_string(),
    }
}

pub fn show_get(result: &shaledb::Result<Option<Vec<u8>>>) -> String {
    match result {
        Ok(v) => format!("Ok({})", show_opt(v.as_deref())),
        Err(e) => format!("Err({e:?})"),
    }
}

pub fn show_entry(entry: &Entry) -> String {
    format!("({}, {})", show(&entry.0), show(&entry.1))
}

// ---------------------------------------------------------------------------
// Model helpers
// ---------------------------------------------------------------------------

/// The `..` range with its key type pinned to `&[u8]`, so it can be passed to
/// `range` without a turbofish (`RangeFull` alone leaves `K` uninferred).
pub fn full() -> impl RangeBounds<&'static [u8]> + Clone {
    ..
}

/// A `(Bound, Bound)` pair typed as `RangeBounds<&[u8]>` only. A bare tuple
/// of `Bound<&[u8]>` is ambiguous for `range<K, R: RangeBounds<K>>`, because
/// std implements both `RangeBounds<&[u8]>` and `RangeBounds<[u8]>` for it.
pub fn bounds<'a>(
    lo: Bound<&'a [u8]>,
    hi: Bound<&'a [u8]>,
) -> impl RangeBounds<&'a [u8]> + Clone + 'a {
    (lo, hi)
}

/// Whether `key` lies within the bounds. Works for empty and inverted
/// bounds too (where `BTreeMap::range` would panic).
pub fn in_bounds(key: &[u8], lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    let above_lo = match lo {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    };
    let below_hi = match hi {
        Bound::Included(h) => key <= h,
        Bound::Excluded(h) => key < h,
        Bound::Unbounded => true,
    };
    above_lo && below_hi
}

/// The model's entries within the bounds, in ascending key order.
pub fn model_range(model: &Model, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<Entry> {
    model
        .iter()
        .filter(|(k, _)| in_bounds(k, lo, hi))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The model's entries whose key starts with `prefix`, in ascending order.
pub fn model_prefix(model: &Model, prefix: &[u8]) -> Vec<Entry> {
    model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Collects at most `limit` entries, turning the first iterator error into a
/// message. The limit keeps a runaway (e.g. endlessly repeating) iterator
/// from hanging the test; pass one more than the expected count.
pub fn collect_bounded(
    it: impl Iterator<Item = shaledb::Result<Entry>>,
    limit: usize,
) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for item in it.take(limit) {
        match item {
            Ok(entry) => out.push(entry),
            Err(e) => return Err(format!("iterator error after {} entries: {e:?}", out.len())),
        }
    }
    Ok(out)
}

/// Compares scan output with the expected entries, describing the first
/// difference.
pub fn compare_entries(what: &str, got: &[Entry], want: &[Entry]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or_else(|| got.len().min(want.len()));
    let describe = |e: Option<&Entry>| e.map_or_else(|| "<end>".to_string(), show_entry);
    Err(format!(
        "{what}: got {} entries, expected {}; first difference at index {at}: got {}, expected {}",
        got.len(),
        want.len(),
        describe(got.get(at)),
        describe(want.get(at)),
    ))
}

// ---------------------------------------------------------------------------
// Read access shared by `Db` and `Snapshot`
// ---------------------------------------------------------------------------

/// The read API common to `Db` and `Snapshot`, so checks can be written once.
pub trait View {
    fn view_get(&self, key: &[u8]) -> shaledb::Result<Option<Vec<u8>>>;
    fn view_range<'a>(&'a self, lo: Bound<&'a [u8]>, hi: Bound<&'a [u8]>) -> BoxIter<'a>;
    fn view_iter(&self) -> BoxIter<'_>;
    fn view_prefix<'a>(&'a self, prefix: &'a [u8]) -> BoxIter<'a>;
}

macro_rules! impl_view {
    ($ty:ty) => {
        impl View for $ty {
            fn view_get(&self, key: &[u8]) -> shaledb::Result<Option<Vec<u8>>> {
                self.get(key)
            }
            fn view_range<'a>(&'a self, lo: Bound<&'a [u8]>, hi: Bound<&'a [u8]>) -> BoxIter<'a> {
                Box::new(self.range(bounds(lo, hi)))
            }
            fn view_iter(&self) -> BoxIter<'_> {
                Box::new(self.iter())
            }
            fn view_prefix<'a>(&'a self, prefix: &'a [u8]) -> BoxIter<'a> {
                Box::new(self.prefix(prefix))
            }
        }
    };
}

impl_view!(Db);
impl_view!(Snapshot);

/// Checks a whole database (or snapshot) against `model`: a `get` of every
/// model key, a `get` of every key in `absent` that the model lacks, a full
/// forward scan and a full reverse scan.
pub fn check_view<V: View + ?Sized>(
    view: &V,
    model: &Model,
    absent: &[Vec<u8>],
) -> Result<(), String> {
    for (key, want) in model {
        let got = view.view_get(key);
        if !matches!(&got, Ok(Some(v)) if v == want) {
            return Err(format!(
                "get({}) = {}, expected Some({})",
                show(key),
                show_get(&got),
                show(want)
            ));
        }
    }
    for key in absent.iter().filter(|k| !model.contains_key(*k)) {
        let got = view.view_get(key);
        if !matches!(got, Ok(None)) {
            return Err(format!(
                "get({}) of an absent key = {}, expected Ok(None)",
                show(key),
                show_get(&got)
            ));
        }
    }

    let want: Vec<Entry> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let forward = collect_bounded(view.view_iter(), want.len() + 1)
        .map_err(|e| format!("forward scan: {e}"))?;
    compare_entries("full forward scan", &forward, &want)?;

    let want_rev: Vec<Entry> = want.into_iter().rev().collect();
    let reverse = collect_bounded(view.view_iter().rev(), want_rev.len() + 1)
        .map_err(|e| format!("reverse scan: {e}"))?;
    compare_entries("full reverse scan", &reverse, &want_rev)
}

/// [`check_view`], panicking with `context` on mismatch.
#[track_caller]
pub fn assert_matches_model<V: View + ?Sized>(
    view: &V,
    model: &Model,
    absent: &[Vec<u8>],
    context: &str,
) {
    if let Err(e) = check_view(view, model, absent) {
        panic!("{context}: {e}");
    }
}
