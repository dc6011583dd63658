//! Corruption tests: damage real bytes of a real database and check that
//! ShaleDB either reports an error or returns correct data — never wrong
//! data, never a panic, never a hang.
//!
//! A small database is built once (tiny memtable, several SSTables, some
//! writes only in the log) and closed. Then, for each case, the pristine
//! directory is copied, one file (`*.sst`, `*.log`, `MANIFEST-*` or
//! `CURRENT`) gets one byte XORed with a nonzero mask or is truncated, and
//! the copy is opened and read in full (gets of every key ever written plus
//! never-written keys, full forward and reverse scans). Rules:
//!
//! * `Db::open` may fail; reads may fail (`Err`). Panics and hangs (20 s)
//!   are failures.
//! * A value that was never the key's newest value is a failure, as is
//!   a deleted or never-written key showing up.
//! * A live key missing (`Ok(None)`, or silently skipped by a scan) is a
//!   failure, except after damage to a `.log`, where writes made after the
//!   last flush may be lost; such keys may also show an earlier value.
//!
//! Knobs: `SHALEDB_SEED`. Exhaustive run (every byte of every file):
//! `cargo test -p shaledb --test corruption -- --ignored`.

mod common;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{show, show_opt, BoxIter, Model};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{Db, Options};

const HANG_TIMEOUT: Duration = Duration::from_secs(20);
/// Each hang leaks a thread; give up after a few.
const MAX_HANGS: usize = 3;
const MAX_REPORTED_FAILURES: usize = 25;

/// Background compactions stay off, so the damaged database has the same several
/// tables on every run (a compaction racing the test would merge them into one).
fn options() -> Options {
    Options {
        memtable_size: 4 << 10,
        disable_auto_compactions: true,
        ..Default::default()
    }
}

fn paranoid_options() -> Options {
    Options {
        memtable_size: 4 << 10,
        paranoid_checks: true,
        disable_auto_compactions: true,
        ..Default::default()
    }
}

#[test]
fn corruption_flips_and_truncations() {
    run(
        "corruption_flips_and_truncations",
        0xBAD_5EED,
        options,
        Budget::Sampled {
            flips: 260,
            truncations: 40,
        },
    );
}

#[test]
fn corruption_flips_and_truncations_paranoid() {
    run(
        "corruption_flips_and_truncations_paranoid",
        0xBAD5_EED2,
        paranoid_options,
        Budget::Sampled {
            flips: 80,
            truncations: 20,
        },
    );
}

/// Run with `cargo test -p shaledb --test corruption -- --ignored`.
#[test]
#[ignore = "exhaustive and slow; run with `cargo test -p shaledb --test corruption -- --ignored`"]
fn corruption_exhaustive() {
    run(
        "corruption_exhaustive",
        0xBAD5_EED3,
        options,
        Budget::Exhaustive,
    );
}

// ---------------------------------------------------------------------------
// Files and damage
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    Sst,
    Log,
    Manifest,
    Current,
}

fn classify(name: &str) -> Option<FileKind> {
    if name.ends_with(".sst") {
        Some(FileKind::Sst)
    } else if name.ends_with(".log") {
        Some(FileKind::Log)
    } else if name.starts_with("MANIFEST-") {
        Some(FileKind::Manifest)
    } else if name == "CURRENT" {
        Some(FileKind::Current)
    } else {
        None
    }
}

#[derive(Clone, Debug)]
struct DbFile {
    name: String,
    kind: FileKind,
    len: u64,
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    None,
    Flip { offset: u64, mask: u8 },
    Truncate { len: u64 },
}

impl Damage {
    fn apply(self, path: &Path) {
        match self {
            Damage::None => {}
            Damage::Flip { offset, mask } => {
                assert_ne!(mask, 0, "a zero mask would not damage anything");
                let mut bytes = fs::read(path).expect("read file to damage");
                bytes[offset as usize] ^= mask;
                fs::write(path, bytes).expect("write damaged file");
            }
            Damage::Truncate { len } => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .expect("open file to truncate");
                file.set_len(len).expect("truncate");
            }
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::None => write!(f, "no damage"),
            Damage::Flip { offset, mask } => write!(f, "byte {offset} ^= {mask:#04x}"),
            Damage::Truncate { len } => write!(f, "truncated to {len} bytes"),
        }
    }
}

struct Case {
    file: DbFile,
    damage: Damage,
}

enum Budget {
    /// About `flips` byte flips and `truncations` truncations in total,
    /// spread over the files: evenly spaced offsets plus random ones.
    Sampled { flips: usize, truncations: usize },
    /// Every byte of every file, and truncation at every 8th length.
    Exhaustive,
}

fn random_mask(rng: &mut StdRng) -> u8 {
    match rng.random_range(0..4) {
        0 => 0x01,
        1 => 0x80,
        2 => 0xff,
        _ => rng.random_range(1..=255),
    }
}

fn plan_cases(rng: &mut StdRng, files: &[DbFile], budget: &Budget) -> Vec<Case> {
    let mut cases = Vec::new();
    for file in files.iter().filter(|f| f.len > 0) {
        let len = file.len;
        let (flip_offsets, truncate_lens): (Vec<u64>, Vec<u64>) = match *budget {
            Budget::Sampled { flips, truncations } => {
                let per_file = (flips / files.len()).max(6) as u64;
                let evenly = per_file / 2;
                let stride = (len / evenly).max(1);
                let mut offsets: Vec<u64> = (0..len)
                    .step_by(stride as usize)
                    .take(evenly as usize)
                    .collect();
                offsets.push(len - 1);
                while (offsets.len() as u64) < per_file {
                    offsets.push(rng.random_range(0..len));
                }
                let mut lens = vec![len - 1];
                let per_file_truncations = (truncations / files.len()).max(2);
                while lens.len() < per_file_truncations {
                    lens.push(rng.random_range(0..len));
                }
                (offsets, lens)
            }
            Budget::Exhaustive => {
                let mut lens: Vec<u64> = (0..len).step_by(8).collect();
                lens.push(len - 1);
                ((0..len).collect(), lens)
            }
        };
        for offset in flip_offsets {
            let damage = Damage::Flip {
                offset,
                mask: random_mask(rng),
            };
            cases.push(Case {
                file: file.clone(),
                damage,
            });
        }
        for len in truncate_lens {
            cases.push(Case {
                file: file.clone(),
                damage: Damage::Truncate { len },
            });
        }
    }
    cases
}

// ---------------------------------------------------------------------------
// The pristine database and what it must contain
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Expected {
    /// The final contents.
    model: Model,
    /// Every value each key ever held.
    history: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
    /// Keys written after the last flush: their newest state lives only in
    /// the log, so log damage may lose it.
    log_keys: BTreeSet<Vec<u8>>,
    never_written: Vec<Vec<u8>>,
}

struct Builder<'a> {
    db: &'a Db,
    expected: Expected,
    writes: u64,
    log_phase: bool,
}

impl Builder<'_> {
    /// Writes a value that is unique across the whole history.
    fn put(&mut self, rng: &mut StdRng, key: &str, max_extra: usize) {
        self.writes += 1;
        let mut value = format!("w{}:", self.writes).into_bytes();
        let extra = rng.random_range(0..=max_extra);
        value.extend(common::random_bytes(rng, extra));
        self.db.put(key, &value).expect("put");
        let key = key.as_bytes().to_vec();
        self.expected
            .history
            .entry(key.clone())
            .or_default()
            .insert(value.clone());
        if self.log_phase {
            self.expected.log_keys.insert(key.clone());
        }
        self.expected.model.insert(key, value);
    }

    fn delete(&mut self, key: &str) {
        self.db.delete(key).expect("delete");
        let key = key.as_bytes().to_vec();
        if self.log_phase {
            self.expected.log_keys.insert(key.clone());
        }
        self.expected.model.remove(&key);
    }
}

fn build_pristine(rng: &mut StdRng, path: &Path, options: fn() -> Options) -> Expected {
    let db = Db::open(path, options()).expect("open pristine db");
    let mut b = Builder {
        db: &db,
        expected: Expected::default(),
        writes: 0,
        log_phase: false,
    };

    // Enough data for several memtable flushes.
    for i in 0..400 {
        b.put(rng, &format!("key{i:04}"), 80);
    }
    db.flush().expect("flush");
    // Overwrites, deletes and new keys on top, in more tables.
    for i in (0..400).step_by(3) {
        b.put(rng, &format!("key{i:04}"), 80);
    }
    for i in (0..400).step_by(7) {
        b.delete(&format!("key{i:04}"));
    }
    for i in 400..500 {
        b.put(rng, &format!("key{i:04}"), 80);
    }
    db.flush().expect("flush");
    // A little more that stays in the log (well under the memtable size).
    b.log_phase = true;
    for i in (1..400).step_by(40) {
        b.put(rng, &format!("key{i:04}"), 16);
    }
    for i in (2..400).step_by(50) {
        b.delete(&format!("key{i:04}"));
    }
    for i in 0..10 {
        b.put(rng, &format!("log{i:02}"), 16);
    }

    let mut expected = b.expected;
    expected.never_written = ["", "key9999", "key0000\0", "log99", "zzz", "\u{7f}"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .chain([vec![0xff], vec![0x00]])
        .collect();
    db.close().expect("close pristine db");
    expected
}

fn list_files(dir: &Path) -> Vec<DbFile> {
    let mut files: Vec<DbFile> = fs::read_dir(dir)
        .expect("read db dir")
        .map(|entry| entry.expect("dir entry"))
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let kind = classify(&name)?;
            let len = entry.metadata().expect("metadata").len();
            Some(DbFile { name, kind, len })
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

// ---------------------------------------------------------------------------
// Judging what a damaged database returns
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Opened and every read returned exactly the expected data.
    Intact,
    /// Opened; some reads failed with `Err`, the rest were correct.
    ReadErrors,
    /// Opened; log damage cost some post-flush writes (allowed).
    LogWritesLost,
    /// `Db::open` returned `Err`.
    OpenFailed,
}

struct Judge<'a> {
    expected: &'a Expected,
    damaged: FileKind,
}

impl Judge<'_> {
    /// Whether `key` may legitimately be missing or show an earlier value.
    fn lenient(&self, key: &[u8]) -> bool {
        self.damaged == FileKind::Log && self.expected.log_keys.contains(key)
    }

    /// `Ok(false)`: exactly right; `Ok(true)`: acceptable log loss;
    /// `Err`: wrong data.
    fn judge(&self, key: &[u8], got: Option<&[u8]>) -> Result<bool, String> {
        let want = self.expected.model.get(key).map(Vec::as_slice);
        if got == want {
            return Ok(false);
        }
        if self.lenient(key) {
            let earlier_state = match got {
                None => true,
                Some(v) => self
                    .expected
                    .history
                    .get(key)
                    .is_some_and(|values| values.contains(v)),
            };
            if earlier_state {
                return Ok(true);
            }
        }
        Err(format!(
            "key {}: got {}, expected {}",
            show(key),
            show_opt(got),
            show_opt(want)
        ))
    }
}

struct ScanResult {
    errored: bool,
    log_loss: bool,
}

fn verify_scan(it: BoxIter<'_>, reverse: bool, judge: &Judge<'_>) -> Result<ScanResult, String> {
    let direction = if reverse { "reverse" } else { "forward" };
    let limit = judge.expected.history.len() + judge.expected.never_written.len() + 1;
    let mut seen = BTreeSet::new();
    let mut last: Option<Vec<u8>> = None;
    let mut errored = false;
    let mut log_loss = false;

    for item in it.take(limit) {
        let (key, value) = match item {
            Ok(entry) => entry,
            Err(_) => {
                errored = true;
                break;
            }
        };
        if let Some(prev) = &last {
            let in_order = if reverse { key < *prev } else { key > *prev };
            if !in_order {
                return Err(format!(
                    "{direction} scan yielded {} after {}",
                    show(&key),
                    show(prev)
                ));
            }
        }
        log_loss |= judge
            .judge(&key, Some(&value))
            .map_err(|e| format!("{direction} scan: {e}"))?;
        seen.insert(key.clone());
        last = Some(key);
    }

    // Within the stretch of key space the scan got through (all of it,
    // unless it stopped at an error), no live key may be skipped.
    for key in judge.expected.model.keys() {
        let covered = match (&last, errored) {
            (_, false) => true,
            (None, true) => false,
            (Some(last), true) => {
                if reverse {
                    key >= last
                } else {
                    key <= last
                }
            }
        };
        if covered && !seen.contains(key) {
            if judge.lenient(key) {
                log_loss = true;
            } else {
                return Err(format!(
                    "{direction} scan silently skipped live key {}",
                    show(key)
                ));
            }
        }
    }
    Ok(ScanResult { errored, log_loss })
}

fn open_and_verify(
    dir: &Path,
    damaged: FileKind,
    expected: &Expected,
    options: Options,
) -> Result<Outcome, String> {
    let db = match Db::open(dir, options) {
        Ok(db) => db,
        Err(_) => return Ok(Outcome::OpenFailed),
    };
    let judge = Judge { expected, damaged };
    let mut read_errors = false;
    let mut log_loss = false;

    for key in expected.history.keys().chain(&expected.never_written) {
        match db.get(key) {
            Err(_) => read_errors = true,
            Ok(got) => {
                log_loss |= judge
                    .judge(key, got.as_deref())
                    .map_err(|e| format!("get: {e}"))?
            }
        }
    }
    for reverse in [false, true] {
        let it: BoxIter<'_> = if reverse {
            Box::new(db.iter().rev())
        } else {
            Box::new(db.iter())
        };
        let scan = verify_scan(it, reverse, &judge)?;
        read_errors |= scan.errored;
        log_loss |= scan.log_loss;
    }
    // Closing a damaged database may report an error; that is fine.
    let _ = db.close();

    Ok(if read_errors {
        Outcome::ReadErrors
    } else if log_loss {
        Outcome::LogWritesLost
    } else {
        Outcome::Intact
    })
}

// ---------------------------------------------------------------------------
// Running cases
// ---------------------------------------------------------------------------

enum Verdict {
    Pass(Outcome),
    Fail(String),
    Hang,
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Copies the pristine db, damages `file`, then opens and reads the copy on
/// a worker thread so panics and hangs can be told apart from errors.
fn run_case(
    pristine: &Path,
    file: &DbFile,
    damage: Damage,
    expected: &Arc<Expected>,
    options: fn() -> Options,
) -> Verdict {
    let tmp = tempfile::tempdir().expect("create temp dir");
    let dir = tmp.path().join("db");
    common::copy_dir(pristine, &dir).expect("copy pristine db");
    damage.apply(&dir.join(&file.name));

    let (tx, rx) = mpsc::channel();
    let expected = Arc::clone(expected);
    let damaged = file.kind;
    let worker = thread::Builder::new()
        .name(format!("corrupt {} {damage}", file.name))
        .spawn(move || {
            let result = open_and_verify(&dir, damaged, &expected, options());
            drop(tmp);
            let _ = tx.send(result);
        })
        .expect("spawn worker thread");

    match rx.recv_timeout(HANG_TIMEOUT) {
        Ok(result) => {
            let _ = worker.join();
            match result {
                Ok(outcome) => Verdict::Pass(outcome),
                Err(message) => Verdict::Fail(message),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Verdict::Hang,
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(payload) => Verdict::Fail(format!("panicked: {}", panic_message(&*payload))),
            Ok(()) => Verdict::Fail("worker thread ended without a result".to_string()),
        },
    }
}

fn run(test: &str, default_seed: u64, options: fn() -> Options, budget: Budget) {
    let seed = common::seed(test, default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let root = tempfile::tempdir().expect("create temp dir");
    let pristine: PathBuf = root.path().join("pristine");
    let expected = Arc::new(build_pristine(&mut rng, &pristine, options));

    let files = list_files(&pristine);
    let count = |kind: FileKind| files.iter().filter(|f| f.kind == kind).count();
    eprintln!(
        "[{test}] pristine db: {} keys live, {} in the log only; files: {:?}",
        expected.model.len(),
        expected.log_keys.len(),
        files
            .iter()
            .map(|f| format!("{} ({} B)", f.name, f.len))
            .collect::<Vec<_>>()
    );
    assert!(
        count(FileKind::Sst) >= 2,
        "expected several *.sst files, found {files:?}"
    );
    assert!(
        count(FileKind::Manifest) >= 1,
        "expected a MANIFEST-* file, found {files:?}"
    );
    assert!(
        count(FileKind::Current) == 1,
        "expected a CURRENT file, found {files:?}"
    );
    if count(FileKind::Log) == 0 {
        eprintln!("[{test}] note: no *.log file after close, so no log damage is tested");
    }

    // The undamaged copy must read back perfectly, or every case is noise.
    let current = files
        .iter()
        .find(|f| f.kind == FileKind::Current)
        .expect("CURRENT");
    match run_case(&pristine, current, Damage::None, &expected, options) {
        Verdict::Pass(Outcome::Intact) => {}
        Verdict::Pass(other) => panic!("[{test}] the undamaged db is not intact: {other:?}"),
        Verdict::Fail(message) => panic!("[{test}] the undamaged db reads back wrong: {message}"),
        Verdict::Hang => panic!("[{test}] the undamaged db hangs"),
    }

    let cases = plan_cases(&mut rng, &files, &budget);
    let started = Instant::now();
    let mut outcomes: BTreeMap<(String, Outcome), usize> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut hangs = 0;

    for (n, case) in cases.iter().enumerate() {
        let what = format!("{} ({:?}), {}", case.file.name, case.file.kind, case.damage);
        match run_case(&pristine, &case.file, case.damage, &expected, options) {
            Verdict::Pass(outcome) => {
                *outcomes
                    .entry((format!("{:?}", case.file.kind), outcome))
                    .or_default() += 1
            }
            Verdict::Fail(message) => failures.push(format!("{what}: {message}")),
            Verdict::Hang => {
                hangs += 1;
                failures.push(format!("{what}: no result within {HANG_TIMEOUT:?} (hang)"));
                if hangs == MAX_HANGS {
                    failures.push(format!(
                        "stopped after {MAX_HANGS} hangs, {} cases not run",
                        cases.len() - n - 1
                    ));
                    break;
                }
            }
        }
        if (n + 1) % 1000 == 0 {
            eprintln!(
                "[{test}] {} / {} cases, {} failures, {:?}",
                n + 1,
                cases.len(),
                failures.len(),
                started.elapsed()
            );
        }
    }

    eprintln!(
        "[{test}] {} cases in {:?}; passing outcomes by damaged file kind:",
        cases.len(),
        started.elapsed()
    );
    for ((kind, outcome), n) in &outcomes {
        eprintln!("  {kind:<9} {outcome:?}: {n}");
    }
    if !failures.is_empty() {
        let shown: Vec<&str> = failures
            .iter()
            .take(MAX_REPORTED_FAILURES)
            .map(String::as_str)
            .collect();
        panic!(
            "[{test}] {} of {} corruption cases failed (seed {seed}; replay with SHALEDB_SEED={seed}):\n  {}{}",
            failures.len(),
            cases.len(),
            shown.join("\n  "),
            if failures.len() > shown.len() { "\n  ..." } else { "" }
        );
    }
}
