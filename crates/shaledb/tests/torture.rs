//! Crash torture in the manner of RocksDB's `db_crashtest`: a long randomized
//! workload is stopped dead at random moments, and an expected-state oracle
//! checks that what the database recovers is exactly the state after some
//! prefix of the writes, with nothing acknowledged as durable missing.
//!
//! Two ways to stop the workload:
//!
//! * **SIGKILL.** The test binary re-executes itself as a child process (as
//!   `tests/crash.rs` does) that runs the workload against a real directory.
//!   The parent kills it with SIGKILL after a random delay (a few ms, which
//!   lands in process start-up and recovery, where a new manifest is written
//!   and `CURRENT` switched; up to about a second, which lands among memtable
//!   switches, background flushes and compactions), or right after the child
//!   announces an explicit `flush` or `compact_range`. Timers from outside
//!   rarely land inside a sub-millisecond recovery, so in a third of the
//!   rounds the child kills itself with SIGKILL just before its n-th
//!   file-system operation (create, append, flush, sync, rename, remove or
//!   directory sync, through a wrapper on the file-system seam), which puts
//!   kills between any two steps of a flush, a compaction or a manifest switch.
//! * **Simulated power loss.** In-process, through `FaultInjectionFs`: a timer
//!   thread (or the workload itself, after a random number of steps) freezes
//!   the disk, the database is dropped and `power_loss` throws away everything
//!   not synced, sometimes tearing the last unsynced write. Now and then the
//!   power also fails while the next `open` is still recovering.
//!
//! The oracle is a journal. Before write `i` is issued the workload records
//! its full description (every key, and for each a put of a value that is a
//! pure function of `(i, op, length)`, see [`value_of`], or a delete); after
//! the write returns `Ok` it records an ack. Explicit flushes and compactions
//! are recorded when they start and when they finish. In the SIGKILL mode the
//! journal is a file outside the database directory, appended one line per
//! `write(2)`, so it survives the kill (the kernel keeps what was written);
//! in the power-loss mode it is kept in memory.
//!
//! After every stop the database is reopened and its whole contents read.
//! Starting from the state the previous round recovered, the checker applies
//! the round's writes one at a time, keeping count of the keys on which the
//! model and the database differ, and accepts the smallest prefix `p` where
//! the count is zero and `p` is at least the durable point: the last
//! acknowledged write for SIGKILL (an acknowledged write was handed to the
//! kernel, see `WriteOptions::sync`), and the last acknowledged *synced* write
//! or completed `flush`/`compact_range` for power loss. A lost write, a hole
//! or a partial batch leaves no such `p` and fails the test with the keys that
//! differ. Gets of every model key and full scans in both directions then
//! check the same state, and the next round continues from it.
//!
//! While it runs, the workload also checks itself against the model: gets,
//! range scans forward, backward and alternating ends over random ranges,
//! reads from snapshots taken earlier, and full checks now and then.
//!
//! Every run prints its seed; `SHALEDB_SEED=<seed>` replays the same workload
//! and the same kill or crash schedule (the exact instruction a SIGKILL or a
//! timer lands on still depends on the machine).
//!
//! Neither a SIGKILL nor a simulated power loss needs the disk to be durable,
//! so the databases live in RAM (`/dev/shm`) when it exists, where an fsync
//! costs nothing and rounds get through far more work;
//! `SHALEDB_TEST_TMPDIR=<dir>` puts them elsewhere (a real disk, say).
//!
//! Long forms (`SHALEDB_TORTURE_ROUNDS`, default 1000, counts kills or power
//! losses; half the rounds use leveled and half tiered compaction):
//!
//! ```text
//! SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_sigkill_long
//! SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_power_loss_long
//! ```

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::env;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{show, show_opt, Entry, Model, View};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::fs::{
    FaultInjectionFs, FileLock, FileSystem, RandomAccessFile, RealFileSystem, WritableFile,
};
use shaledb::{CompactionStyle, Compression, Db, Options, Snapshot, WriteBatch, WriteOptions};

const CHILD_ENV: &str = "SHALEDB_TORTURE_CHILD";
const DIR_ENV: &str = "SHALEDB_TORTURE_DIR";
const JOURNAL_ENV: &str = "SHALEDB_TORTURE_JOURNAL";
const START_ENV: &str = "SHALEDB_TORTURE_START";
const ROUND_SEED_ENV: &str = "SHALEDB_TORTURE_ROUND_SEED";
const STYLE_ENV: &str = "SHALEDB_TORTURE_STYLE";
const ROUNDS_ENV: &str = "SHALEDB_TORTURE_ROUNDS";
const KILL_AT_OP_ENV: &str = "SHALEDB_TORTURE_KILL_AT_OP";

/// A child that was never killed (its parent died, say) stops on its own.
const CHILD_MAX_LIFETIME: Duration = Duration::from_secs(120);
/// A power-loss round that somehow never crashes is crashed after this many steps.
const MAX_STEPS_PER_ROUND: u64 = 200_000;
/// Live snapshots the workload keeps at most.
const MAX_SNAPSHOTS: usize = 3;

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn torture_sigkill_leveled() {
    child_if_asked();
    let tally = run_sigkill(
        "torture_sigkill_leveled",
        CompactionStyle::Leveled,
        8,
        0x70A7_0001,
    );
    tally.finish("torture_sigkill_leveled");
}

#[test]
fn torture_sigkill_tiered() {
    child_if_asked();
    let tally = run_sigkill(
        "torture_sigkill_tiered",
        CompactionStyle::Tiered,
        8,
        0x70A7_0002,
    );
    tally.finish("torture_sigkill_tiered");
}

#[test]
fn torture_power_loss_leveled() {
    let tally = run_power_loss(
        "torture_power_loss_leveled",
        CompactionStyle::Leveled,
        12,
        0x70A7_0003,
    );
    tally.finish("torture_power_loss_leveled");
}

#[test]
fn torture_power_loss_tiered() {
    let tally = run_power_loss(
        "torture_power_loss_tiered",
        CompactionStyle::Tiered,
        12,
        0x70A7_0004,
    );
    tally.finish("torture_power_loss_tiered");
}

/// `SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_sigkill_long`
#[test]
#[ignore = "long-running; see the file header for the command"]
fn torture_sigkill_long() {
    child_if_asked();
    let name = "torture_sigkill_long";
    let rounds = common::env_usize(ROUNDS_ENV, 1000);
    let mut tally = run_sigkill(
        name,
        CompactionStyle::Leveled,
        rounds.div_ceil(2),
        0x70A7_0011,
    );
    tally.add(&run_sigkill(
        name,
        CompactionStyle::Tiered,
        rounds / 2,
        0x70A7_0012,
    ));
    tally.finish(name);
}

/// `SHALEDB_TORTURE_ROUNDS=1000 cargo test --release -p shaledb --test torture -- --ignored torture_power_loss_long`
#[test]
#[ignore = "long-running; see the file header for the command"]
fn torture_power_loss_long() {
    let name = "torture_power_loss_long";
    let rounds = common::env_usize(ROUNDS_ENV, 1000);
    let mut tally = run_power_loss(
        name,
        CompactionStyle::Leveled,
        rounds.div_ceil(2),
        0x70A7_0013,
    );
    tally.add(&run_power_loss(
        name,
        CompactionStyle::Tiered,
        rounds / 2,
        0x70A7_0014,
    ));
    tally.finish(name);
}

/// The checker itself must reject what it exists to catch: a hole, a partial
/// batch, a lost durable write and a write that was never issued.
#[test]
fn oracle_rejects_states_that_are_not_a_prefix() {
    let writes = [
        WriteDesc {
            index: 0,
            sync: true,
            ops: vec![Op::Put(b"a".to_vec(), 10), Op::Put(b"b".to_vec(), 10)],
        },
        WriteDesc {
            index: 1,
            sync: false,
            ops: vec![Op::Put(b"c".to_vec(), 10)],
        },
        WriteDesc {
            index: 2,
            sync: false,
            ops: vec![Op::Delete(b"a".to_vec()), Op::Put(b"d".to_vec(), 0)],
        },
    ];
    let check = |applied: &[(u64, usize)], deleted: &[&[u8]], issued: usize, must_keep: u64| {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), Options::default()).expect("open");
        for &(index, op) in applied {
            let w = &writes[usize::try_from(index).expect("small index")];
            if let Op::Put(key, len) = &w.ops[op] {
                db.put(key, value_of(index, op, *len)).expect("put");
            }
        }
        for key in deleted {
            db.delete(key).expect("delete");
        }
        find_prefix(&db, &Model::new(), 0, &writes[..issued], must_keep)
    };

    // Valid: writes 0 and 1 (durable point 1).
    let ok = check(&[(0, 0), (0, 1), (1, 0)], &[], 3, 1).expect("a true prefix is accepted");
    assert_eq!(ok.prefix, 2);
    // Valid: all three (the delete of `a` shows as an absent key).
    let ok = check(&[(0, 1), (1, 0), (2, 1)], &[], 3, 1).expect("the full history");
    assert_eq!(ok.prefix, 3);
    // A hole: write 2 without write 1.
    let err = check(&[(0, 1), (2, 1)], &[], 3, 0).expect_err("a hole");
    assert!(err.contains("no prefix"), "{err}");
    // A partial batch: only half of write 0.
    let err = check(&[(0, 0)], &[], 3, 0).expect_err("a partial batch");
    assert!(err.contains("no prefix"), "{err}");
    // A lost durable write: only write 0 survived, but 2 were durable.
    let err = check(&[(0, 0), (0, 1)], &[], 3, 2).expect_err("a lost write");
    assert!(err.contains("lost"), "{err}");
    // A write that was never issued: write 2 is there but only 2 were issued.
    let err = check(&[(0, 1), (1, 0), (2, 1)], &[], 2, 0).expect_err("an unissued write");
    assert!(err.contains("no prefix"), "{err}");
    // A key nobody wrote.
    let err = check(&[(0, 0), (0, 1)], &[b"zz"], 3, 0);
    assert!(
        err.is_ok(),
        "deleting an absent key changes nothing: {err:?}"
    );
}

// ---------------------------------------------------------------------------
// Writes and their values
// ---------------------------------------------------------------------------

/// One operation of a write; a put's value is `value_of(write, op, len)`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Put(Vec<u8>, usize),
    Delete(Vec<u8>),
}

impl Op {
    fn key(&self) -> &[u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
        }
    }
}

/// One write as the journal records it: the global write number, whether it
/// was synced, and its operations in order (one for a plain put or delete).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WriteDesc {
    index: u64,
    sync: bool,
    ops: Vec<Op>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The value op `op` of write `index` puts: it starts with `"{index}.{op};"`
/// (so a wrong value names the write it came from) and continues with bytes
/// derived from both; `len` cuts it (so very short values may repeat).
fn value_of(index: u64, op: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{index}.{op};").into_bytes();
    let mut x = mix(index.rotate_left(17) ^ op as u64);
    while v.len() < len {
        x = mix(x);
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Applies `w` to `model`.
fn apply(model: &mut Model, w: &WriteDesc) {
    for (j, op) in w.ops.iter().enumerate() {
        match op {
            Op::Put(k, len) => {
                model.insert(k.clone(), value_of(w.index, j, *len));
            }
            Op::Delete(k) => {
                model.remove(k);
            }
        }
    }
}

fn batch_of(w: &WriteDesc) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (j, op) in w.ops.iter().enumerate() {
        match op {
            Op::Put(k, len) => batch.put(k, value_of(w.index, j, *len)),
            Op::Delete(k) => batch.delete(k),
        };
    }
    batch
}

// ---------------------------------------------------------------------------
// The journal
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Flush,
    Compaction,
}

/// What the workload tells the oracle.
#[derive(Debug)]
enum Event {
    /// The database is open (SIGKILL mode: recovery is over).
    Opened,
    /// Write `index` is about to be issued.
    Issue(WriteDesc),
    /// Write `index` returned `Ok`.
    Ack(u64),
    /// A `flush` or `compact_range` starts, with this many writes acknowledged.
    Begin(Job, u64),
    /// ... and returned `Ok`: those writes are now in synced tables.
    Done(Job, u64),
    /// A self-check of the workload failed (the child then panics).
    Failure(String),
    /// The child is about to SIGKILL itself at this file-system operation.
    Killing(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("hex {s:?}: {e}")))
        .collect()
}

impl Event {
    /// One journal line, newline included. Format:
    /// `O` | `W <index> <0|1> <op>...` with op `P<hex key>:<len>` or `D<hex key>` |
    /// `A <index>` | `F <acked>` / `f <acked>` (flush start / done) |
    /// `C <acked>` / `c <acked>` (compaction start / done) | `E <message>` |
    /// `K <operation> <file kind>`.
    fn to_line(&self) -> String {
        match self {
            Event::Opened => "O\n".to_string(),
            Event::Issue(w) => {
                let mut line = format!("W {} {}", w.index, u8::from(w.sync));
                for op in &w.ops {
                    match op {
                        Op::Put(k, len) => line.push_str(&format!(" P{}:{len}", hex(k))),
                        Op::Delete(k) => line.push_str(&format!(" D{}", hex(k))),
                    }
                }
                line.push('\n');
                line
            }
            Event::Ack(i) => format!("A {i}\n"),
            Event::Begin(Job::Flush, n) => format!("F {n}\n"),
            Event::Done(Job::Flush, n) => format!("f {n}\n"),
            Event::Begin(Job::Compaction, n) => format!("C {n}\n"),
            Event::Done(Job::Compaction, n) => format!("c {n}\n"),
            Event::Failure(msg) => format!("E {}\n", msg.replace('\n', " | ")),
            Event::Killing(at) => format!("K {at}\n"),
        }
    }

    fn parse(line: &str) -> Result<Event, String> {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number = |s: &str| {
            s.parse::<u64>()
                .map_err(|e| format!("bad number {s:?}: {e}"))
        };
        Ok(match tag {
            "O" => Event::Opened,
            "A" => Event::Ack(number(rest)?),
            "F" => Event::Begin(Job::Flush, number(rest)?),
            "f" => Event::Done(Job::Flush, number(rest)?),
            "C" => Event::Begin(Job::Compaction, number(rest)?),
            "c" => Event::Done(Job::Compaction, number(rest)?),
            "E" => Event::Failure(rest.to_string()),
            "K" => Event::Killing(rest.to_string()),
            "W" => {
                let mut fields = rest.split(' ');
                let index = number(fields.next().unwrap_or(""))?;
                let sync = match fields.next() {
                    Some("0") => false,
                    Some("1") => true,
                    other => return Err(format!("bad sync flag {other:?}")),
                };
                let ops = fields
                    .map(|f| {
                        if let Some(put) = f.strip_prefix('P') {
                            let (k, len) = put
                                .split_once(':')
                                .ok_or_else(|| format!("bad put {f:?}"))?;
                            let len = usize::try_from(number(len)?)
                                .map_err(|e| format!("bad length in {f:?}: {e}"))?;
                            Ok(Op::Put(unhex(k)?, len))
                        } else if let Some(k) = f.strip_prefix('D') {
                            Ok(Op::Delete(unhex(k)?))
                        } else {
                            Err(format!("bad op {f:?}"))
                        }
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Event::Issue(WriteDesc { index, sync, ops })
            }
            _ => return Err(format!("unknown journal line {line:?}")),
        })
    }
}

/// Where the workload reports to.
trait Journal {
    fn record(&mut self, event: Event);
}

/// The SIGKILL-mode journal: one `write(2)` per line, unbuffered, so a kill
/// leaves at most one partial line at the end (and even that only if the
/// kernel splits the write).
struct FileJournal(File);

impl Journal for FileJournal {
    fn record(&mut self, event: Event) {
        self.0
            .write_all(event.to_line().as_bytes())
            .expect("child: append to the journal");
    }
}

/// One round as the journal tells it, checked for internal consistency.
#[derive(Debug)]
struct RoundLog {
    start: u64,
    opened: bool,
    /// Issued writes, numbered `start..`.
    writes: Vec<WriteDesc>,
    /// Writes `..acked` were acknowledged.
    acked: u64,
    /// Writes `..synced` are durable through a synced acknowledged write.
    synced: u64,
    /// Writes `..flushed` are durable through a completed flush or compaction.
    flushed: u64,
    /// A flush or compaction that started and had not returned.
    running: Option<Job>,
    failure: Option<String>,
    /// The file-system operation the child killed itself at.
    killed_at: Option<String>,
}

impl RoundLog {
    fn new(start: u64) -> Self {
        RoundLog {
            start,
            opened: false,
            writes: Vec::new(),
            acked: start,
            synced: start,
            flushed: start,
            running: None,
            failure: None,
            killed_at: None,
        }
    }

    fn issued(&self) -> u64 {
        self.start + self.writes.len() as u64
    }

    fn apply(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Opened => self.opened = true,
            Event::Issue(w) => {
                if w.index != self.issued() || self.acked != self.issued() {
                    return Err(format!(
                        "write {} issued after {} issued and {} acked",
                        w.index,
                        self.issued(),
                        self.acked
                    ));
                }
                self.writes.push(w);
            }
            Event::Ack(i) => {
                if i != self.acked || i >= self.issued() {
                    return Err(format!("ack of {i}, expected {}", self.acked));
                }
                self.acked = i + 1;
                if self.writes[usize::try_from(i - self.start).expect("fits")].sync {
                    self.synced = i + 1;
                }
            }
            Event::Begin(job, _) => self.running = Some(job),
            Event::Done(job, n) => {
                if self.running != Some(job) || n > self.acked {
                    return Err(format!("{job:?} done at {n} without a start"));
                }
                self.running = None;
                self.flushed = self.flushed.max(n);
            }
            Event::Failure(msg) => self.failure = Some(msg),
            Event::Killing(at) => self.killed_at = Some(at),
        }
        Ok(())
    }

    /// Parses a journal file; only newline-terminated lines count.
    fn read(path: &Path, start: u64) -> Result<RoundLog, String> {
        let mut log = RoundLog::new(start);
        let text = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(log),
            Err(e) => return Err(format!("read {}: {e}", path.display())),
        };
        let complete = match text.iter().rposition(|&b| b == b'\n') {
            Some(end) => &text[..=end],
            None => &[][..],
        };
        let complete = std::str::from_utf8(complete).map_err(|e| format!("journal: {e}"))?;
        for (n, line) in complete.lines().enumerate() {
            let event = Event::parse(line).map_err(|e| format!("journal line {}: {e}", n + 1))?;
            log.apply(event)
                .map_err(|e| format!("journal line {}: {e}", n + 1))?;
        }
        Ok(log)
    }
}

impl Journal for RoundLog {
    fn record(&mut self, event: Event) {
        if let Err(e) = self.apply(event) {
            panic!("the workload broke its own journal: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// Options and keys
// ---------------------------------------------------------------------------

/// Small everything, so memtable switches, flushes and compactions never stop.
fn round_options(style: CompactionStyle, round_seed: u64) -> Options {
    let mut rng = StdRng::seed_from_u64(mix(round_seed ^ 0x0F71_0175));
    Options {
        memtable_size: rng.random_range(16..=64) << 10,
        block_size: [512, 1024, 4096][rng.random_range(0..3)],
        compression: [Compression::None, Compression::Lz4, Compression::Zstd]
            [rng.random_range(0..3)],
        level_base_size: 256 << 10,
        level_size_multiplier: 4,
        target_file_size: 64 << 10,
        level0_compaction_trigger: 2,
        tiered_min_merge_width: 2,
        compaction: style,
        ..Options::default()
    }
}

fn workload_keys() -> Vec<Vec<u8>> {
    let mut keys = common::key_space();
    keys.extend((0..2000).map(|n| format!("key{n:05}").into_bytes()));
    keys.sort();
    keys.dedup();
    keys
}

fn scan_all(db: &Db) -> Result<Model, String> {
    let mut model = Model::new();
    let mut last: Option<Vec<u8>> = None;
    for item in db.iter() {
        let (k, v) =
            item.map_err(|e| format!("full scan failed after {} keys: {e:?}", model.len()))?;
        if last.as_ref().is_some_and(|l| *l >= k) {
            return Err(format!(
                "full scan is not strictly increasing: {} after {}",
                show(&k),
                show(last.as_deref().unwrap_or_default())
            ));
        }
        last = Some(k.clone());
        model.insert(k, v);
    }
    Ok(model)
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum StepError {
    /// The engine returned an error (expected only after a simulated crash).
    Db(String, shaledb::Error),
    /// The engine returned something the model disagrees with.
    Check(String),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Db(what, e) => write!(f, "{what} failed: {e:?}"),
            StepError::Check(msg) => write!(f, "{msg}"),
        }
    }
}

fn show_bound(b: Bound<&[u8]>) -> String {
    match b {
        Included(k) => format!("Included({})", show(k)),
        Excluded(k) => format!("Excluded({})", show(k)),
        Unbounded => "Unbounded".to_string(),
    }
}

fn db_err(what: impl Into<String>) -> impl FnOnce(shaledb::Error) -> StepError {
    let what = what.into();
    move |e| StepError::Db(what, e)
}

/// A snapshot and, for each key written since it was taken, the value it had
/// then, so the snapshot's view is the model with these overrides.
struct LiveSnapshot {
    snap: Snapshot,
    undo: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    taken_at: u64,
    expires_at: u64,
}

impl LiveSnapshot {
    fn get<'a>(&'a self, model: &'a Model, key: &[u8]) -> Option<&'a [u8]> {
        match self.undo.get(key) {
            Some(old) => old.as_deref(),
            None => model.get(key).map(Vec::as_slice),
        }
    }

    fn range(&self, model: &Model, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Vec<Entry> {
        let mut view: BTreeMap<&[u8], Option<&[u8]>> = model
            .iter()
            .filter(|(k, _)| common::in_bounds(k, lo, hi))
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice())))
            .collect();
        for (k, old) in &self.undo {
            if common::in_bounds(k, lo, hi) {
                view.insert(k, old.as_deref());
            }
        }
        view.into_iter()
            .filter_map(|(k, v)| Some((k.to_vec(), v?.to_vec())))
            .collect()
    }
}

struct Workload {
    rng: StdRng,
    keys: Arc<Vec<Vec<u8>>>,
    /// What the database holds: every acknowledged write applied.
    model: Model,
    /// Global number of the next write.
    next: u64,
    steps: u64,
    snapshots: Vec<LiveSnapshot>,
}

impl Workload {
    fn new(rng: StdRng, keys: Arc<Vec<Vec<u8>>>, model: Model, next: u64) -> Self {
        Workload {
            rng,
            keys,
            model,
            next,
            steps: 0,
            snapshots: Vec::new(),
        }
    }

    fn key(&mut self) -> Vec<u8> {
        if self.rng.random_bool(0.25) {
            // A hot set, overwritten again and again.
            format!("key{:05}", self.rng.random_range(0..64)).into_bytes()
        } else {
            common::random_key(&mut self.rng, &self.keys)
        }
    }

    fn value_len(&mut self) -> usize {
        match self.rng.random_range(0..1000) {
            0..=79 => 0,
            80..=879 => self.rng.random_range(1..=128),
            880..=979 => self.rng.random_range(129..=4096),
            980..=996 => self.rng.random_range(4097..=32 << 10),
            _ => 100 << 10,
        }
    }

    fn bound(&mut self) -> Bound<Vec<u8>> {
        match self.rng.random_range(0..10) {
            0 => Unbounded,
            1..=5 => Included(self.key()),
            _ => Excluded(self.key()),
        }
    }

    /// One random step. Reads are checked against the model.
    fn step(&mut self, db: &Db, journal: &mut dyn Journal) -> Result<(), StepError> {
        self.steps += 1;
        let steps = self.steps;
        self.snapshots.retain(|s| s.expires_at > steps);
        match self.rng.random_range(0..1000) {
            0..=689 => self.write(db, journal),
            690..=799 => self.get(db),
            800..=869 => self.scan(db),
            870..=919 => self.snapshot_read(),
            920..=939 => {
                if self.snapshots.len() < MAX_SNAPSHOTS {
                    let life = self.rng.random_range(10..3000);
                    self.snapshots.push(LiveSnapshot {
                        snap: db.snapshot(),
                        undo: BTreeMap::new(),
                        taken_at: self.next,
                        expires_at: steps + life,
                    });
                }
                Ok(())
            }
            940..=949 => self.flush(db, journal),
            950..=954 => self.compact(db, journal),
            955 if self.rng.random_bool(0.2) => self.full_check(db),
            _ => self.write(db, journal),
        }
    }

    fn write(&mut self, db: &Db, journal: &mut dyn Journal) -> Result<(), StepError> {
        let sync = self.rng.random_bool(0.1);
        let n = match self.rng.random_range(0..100) {
            0..=39 => 1,
            40..=89 => self.rng.random_range(2..=8),
            _ => self.rng.random_range(9..=32),
        };
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            let key = match ops.last() {
                // Now and then the same key twice in one batch.
                Some(Op::Put(k, _) | Op::Delete(k)) if self.rng.random_bool(0.05) => k.clone(),
                _ => self.key(),
            };
            ops.push(if self.rng.random_bool(0.25) {
                Op::Delete(key)
            } else {
                let len = self.value_len();
                Op::Put(key, len)
            });
        }
        let w = WriteDesc {
            index: self.next,
            sync,
            ops,
        };
        journal.record(Event::Issue(w.clone()));
        let what = format!("write {}", w.index);
        match (&w.ops[..], sync, self.rng.random_bool(0.5)) {
            ([Op::Put(k, len)], false, true) => db
                .put(k, value_of(w.index, 0, *len))
                .map_err(db_err(what))?,
            ([Op::Delete(k)], false, true) => db.delete(k).map_err(db_err(what))?,
            _ => db
                .write_opt(
                    batch_of(&w),
                    &WriteOptions {
                        sync,
                        ..Default::default()
                    },
                )
                .map_err(db_err(what))?,
        }
        for s in &mut self.snapshots {
            for op in &w.ops {
                let old = self.model.get(op.key()).cloned();
                s.undo.entry(op.key().to_vec()).or_insert(old);
            }
        }
        apply(&mut self.model, &w);
        self.next += 1;
        journal.record(Event::Ack(w.index));
        Ok(())
    }

    fn get(&mut self, db: &Db) -> Result<(), StepError> {
        let key = self.key();
        let got = db
            .get(&key)
            .map_err(db_err(format!("get({})", show(&key))))?;
        let want = self.model.get(&key);
        if got.as_ref() != want {
            return Err(StepError::Check(format!(
                "get({}) = {}, expected {} (after {} writes)",
                show(&key),
                show_opt(got.as_deref()),
                show_opt(want.map(Vec::as_slice)),
                self.next
            )));
        }
        Ok(())
    }

    fn scan(&mut self, db: &Db) -> Result<(), StepError> {
        let (lo, hi) = (self.bound(), self.bound());
        let lo = lo.as_ref().map(Vec::as_slice);
        let hi = hi.as_ref().map(Vec::as_slice);
        let want = common::model_range(&self.model, lo, hi);
        let what = format!(
            "db range ({}, {}) after {} writes",
            show_bound(lo),
            show_bound(hi),
            self.next
        );
        check_scan(&mut self.rng, db, lo, hi, want, &what)
    }

    fn snapshot_read(&mut self) -> Result<(), StepError> {
        if self.snapshots.is_empty() {
            return Ok(());
        }
        let i = self.rng.random_range(0..self.snapshots.len());
        if self.rng.random_bool(0.5) {
            let key = self.key();
            let s = &self.snapshots[i];
            let got = s
                .snap
                .get(&key)
                .map_err(db_err(format!("snapshot get({})", show(&key))))?;
            let want = s.get(&self.model, &key);
            if got.as_deref() != want {
                return Err(StepError::Check(format!(
                    "snapshot (taken after {} writes) get({}) = {}, expected {} (now {} writes)",
                    s.taken_at,
                    show(&key),
                    show_opt(got.as_deref()),
                    show_opt(want),
                    self.next
                )));
            }
            return Ok(());
        }
        let (lo, hi) = (self.bound(), self.bound());
        let lo = lo.as_ref().map(Vec::as_slice);
        let hi = hi.as_ref().map(Vec::as_slice);
        let s = &self.snapshots[i];
        let want = s.range(&self.model, lo, hi);
        let what = format!(
            "snapshot (taken after {} writes) range ({}, {}) now {} writes",
            s.taken_at,
            show_bound(lo),
            show_bound(hi),
            self.next
        );
        check_scan(&mut self.rng, &s.snap, lo, hi, want, &what)
    }

    fn flush(&mut self, db: &Db, journal: &mut dyn Journal) -> Result<(), StepError> {
        journal.record(Event::Begin(Job::Flush, self.next));
        db.flush().map_err(db_err("flush"))?;
        journal.record(Event::Done(Job::Flush, self.next));
        Ok(())
    }

    fn compact(&mut self, db: &Db, journal: &mut dyn Journal) -> Result<(), StepError> {
        journal.record(Event::Begin(Job::Compaction, self.next));
        if self.rng.random_bool(0.1) {
            db.compact_range::<&[u8], _>(..)
                .map_err(db_err("compact_range(..)"))?;
        } else {
            let (lo, hi) = (self.bound(), self.bound());
            let lo = lo.as_ref().map(Vec::as_slice);
            let hi = hi.as_ref().map(Vec::as_slice);
            db.compact_range(common::bounds(lo, hi))
                .map_err(db_err(format!(
                    "compact_range({}, {})",
                    show_bound(lo),
                    show_bound(hi)
                )))?;
        }
        journal.record(Event::Done(Job::Compaction, self.next));
        Ok(())
    }

    /// Every model key and some absent ones by `get`, then full scans both
    /// ways. Engine errors stay [`StepError::Db`], unlike `common::check_view`,
    /// so the power-loss mode can tell them from wrong answers.
    fn full_check(&mut self, db: &Db) -> Result<(), StepError> {
        let what = format!("full check after {} writes", self.next);
        let absent = common::absent_keys(&mut self.rng, &self.model, &self.keys, 50);
        let expected = self
            .model
            .iter()
            .map(|(k, v)| (k, Some(v)))
            .chain(absent.iter().map(|k| (k, None)));
        for (key, want) in expected {
            let got = db
                .get(key)
                .map_err(db_err(format!("{what}: get({})", show(key))))?;
            if got.as_ref() != want {
                return Err(StepError::Check(format!(
                    "{what}: get({}) = {}, expected {}",
                    show(key),
                    show_opt(got.as_deref()),
                    show_opt(want.map(Vec::as_slice))
                )));
            }
        }
        let all = common::model_range(&self.model, Unbounded, Unbounded);
        let limit = all.len() + 1;
        for mode in [ScanMode::Forward, ScanMode::Backward] {
            compare_scan(
                &mut self.rng,
                db,
                (Unbounded, Unbounded),
                all.clone(),
                mode,
                limit,
                &what,
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum ScanMode {
    Forward,
    Backward,
    /// `next` or `next_back` at random, on the one iterator.
    Alternating,
}

/// Reads the range forward, backward or from alternating ends, often stopping
/// early, and compares with `want` (the model's entries, ascending).
fn check_scan<V: View>(
    rng: &mut StdRng,
    view: &V,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    want: Vec<Entry>,
    what: &str,
) -> Result<(), StepError> {
    let limit = if rng.random_bool(0.3) {
        want.len() + 1
    } else {
        rng.random_range(1..=64)
    };
    let mode = match rng.random_range(0..10) {
        0..=4 => ScanMode::Forward,
        5..=8 => ScanMode::Backward,
        _ => ScanMode::Alternating,
    };
    compare_scan(rng, view, (lo, hi), want, mode, limit, what)
}

/// Takes up to `limit` items from the range in `mode` and compares each with
/// the model's; the iterator must end exactly where the model does.
fn compare_scan<V: View>(
    rng: &mut StdRng,
    view: &V,
    (lo, hi): (Bound<&[u8]>, Bound<&[u8]>),
    want: Vec<Entry>,
    mode: ScanMode,
    limit: usize,
    what: &str,
) -> Result<(), StepError> {
    let mut it = view.view_range(lo, hi);
    let mut want: VecDeque<Entry> = want.into();
    for n in 0..limit {
        let front = match mode {
            ScanMode::Forward => true,
            ScanMode::Backward => false,
            ScanMode::Alternating => rng.random_bool(0.5),
        };
        let (got, expected) = if front {
            (it.next(), want.pop_front())
        } else {
            (it.next_back(), want.pop_back())
        };
        let got = got
            .transpose()
            .map_err(db_err(format!("{what}: item {n}")))?;
        if got != expected {
            let dir = if front { "next" } else { "next_back" };
            return Err(StepError::Check(format!(
                "{what}: {dir} #{n} ({mode:?} scan) gave {}, expected {}",
                got.as_ref().map_or("<end>".into(), common::show_entry),
                expected.as_ref().map_or("<end>".into(), common::show_entry),
            )));
        }
        if got.is_none() {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------

/// The state a database was recovered to.
#[derive(Debug)]
struct Recovered {
    /// Number of writes (globally) the state reflects.
    prefix: u64,
    model: Model,
}

/// Finds the smallest `p >= must_keep` such that the database holds exactly
/// `base` with `writes[..p - start]` applied, where `writes` are numbered from
/// `start`. Keeps a running count of keys on which model and database differ,
/// so each write costs only its own keys.
fn find_prefix(
    db: &Db,
    base: &Model,
    start: u64,
    writes: &[WriteDesc],
    must_keep: u64,
) -> Result<Recovered, String> {
    let state = scan_all(db)?;
    let differs = |model: &Model, key: &[u8]| model.get(key) != state.get(key);
    let mut model = base.clone();
    let mut bad = model
        .keys()
        .chain(state.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| differs(&model, k))
        .count();
    let mut matches: Vec<u64> = Vec::new();
    let (mut fewest, mut fewest_at) = (bad, start);
    if bad == 0 {
        matches.push(start);
    }
    for w in writes {
        let touched: BTreeSet<&[u8]> = w.ops.iter().map(Op::key).collect();
        bad -= touched.iter().filter(|k| differs(&model, k)).count();
        apply(&mut model, w);
        bad += touched.iter().filter(|k| differs(&model, k)).count();
        if bad == 0 {
            matches.push(w.index + 1);
            if w.index + 1 >= must_keep {
                break;
            }
        }
        if bad < fewest {
            (fewest, fewest_at) = (bad, w.index + 1);
        }
    }
    let issued = start + writes.len() as u64;
    match matches.last() {
        Some(&p) if p >= must_keep => {
            let mut model = base.clone();
            for w in &writes[..usize::try_from(p - start).expect("fits")] {
                apply(&mut model, w);
            }
            Ok(Recovered { prefix: p, model })
        }
        Some(&p) => Err(format!(
            "durable writes lost: the database holds the state after {p} writes, but \
             {must_keep} were durable ({} writes issued, round started at {start}); lost \
             writes: {}",
            issued,
            describe_writes(&writes[usize::try_from(p - start).expect("fits")..]),
        )),
        None => {
            let mut model = base.clone();
            for w in &writes[..usize::try_from(fewest_at - start).expect("fits")] {
                apply(&mut model, w);
            }
            let diffs: Vec<String> = model
                .keys()
                .chain(state.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|k| differs(&model, k))
                .take(8)
                .map(|k| {
                    let last_write = writes
                        .iter()
                        .rev()
                        .find(|w| w.ops.iter().any(|op| op.key() == k.as_slice()))
                        .map_or("none this round".to_string(), |w| w.index.to_string());
                    format!(
                        "{}: db {} vs model {} (last written by write {last_write})",
                        show(k),
                        show_opt(state.get(k).map(Vec::as_slice)),
                        show_opt(model.get(k).map(Vec::as_slice)),
                    )
                })
                .collect();
            Err(format!(
                "no prefix of the writes matches the recovered database (a hole, a partial \
                 batch or a wrong value): round started at {start}, {issued} issued, durable \
                 point {must_keep}; closest is the state after {fewest_at} writes, with {fewest} \
                 keys differing: {}",
                diffs.join("; ")
            ))
        }
    }
}

fn describe_writes(writes: &[WriteDesc]) -> String {
    let mut parts: Vec<String> = writes
        .iter()
        .take(5)
        .map(|w| format!("#{} (sync {}, {} ops)", w.index, w.sync, w.ops.len()))
        .collect();
    if writes.len() > 5 {
        parts.push(format!("… {} in all", writes.len()));
    }
    parts.join(", ")
}

/// Finds the recovered prefix and checks the state with gets and full scans
/// in both directions; returns it, or a description of what is wrong.
fn verify(
    db: &Db,
    base: &Model,
    log: &RoundLog,
    must_keep: u64,
    rng: &mut StdRng,
    keys: &[Vec<u8>],
) -> Result<Recovered, String> {
    let recovered = find_prefix(db, base, log.start, &log.writes, must_keep)?;
    let absent = common::absent_keys(rng, &recovered.model, keys, 100);
    common::check_view(db, &recovered.model, &absent)
        .map_err(|e| format!("after recovering {} writes: {e}", recovered.prefix))?;
    Ok(recovered)
}

// ---------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Tally {
    rounds: u64,
    kills: u64,
    kills_in_open: u64,
    kills_in_flush: u64,
    kills_in_compaction: u64,
    /// Kills the child dealt itself, by file-system operation and file kind.
    kills_at_fs_op: BTreeMap<String, u64>,
    power_losses: u64,
    torn: u64,
    crashes_in_open: u64,
    issued: u64,
    acked: u64,
    synced_acked: u64,
    /// Writes found in recovered states (the sum of each round's prefix growth).
    verified: u64,
    /// Acknowledged but unsynced writes a power loss took (allowed).
    unsynced_lost: u64,
    /// Acknowledged synced writes lost: must stay 0 (the run fails first).
    synced_lost: u64,
    elapsed: Duration,
}

impl Tally {
    fn round(&mut self, log: &RoundLog, prefix: u64) {
        self.rounds += 1;
        self.issued += log.writes.len() as u64;
        self.acked += log.acked - log.start;
        self.synced_acked += log.writes[..usize::try_from(log.acked - log.start).expect("fits")]
            .iter()
            .filter(|w| w.sync)
            .count() as u64;
        self.verified += prefix - log.start;
        self.unsynced_lost += log.acked.saturating_sub(prefix);
        self.synced_lost += log.synced.saturating_sub(prefix);
    }

    fn add(&mut self, o: &Tally) {
        self.rounds += o.rounds;
        self.kills += o.kills;
        self.kills_in_open += o.kills_in_open;
        self.kills_in_flush += o.kills_in_flush;
        self.kills_in_compaction += o.kills_in_compaction;
        for (at, n) in &o.kills_at_fs_op {
            *self.kills_at_fs_op.entry(at.clone()).or_default() += n;
        }
        self.power_losses += o.power_losses;
        self.torn += o.torn;
        self.crashes_in_open += o.crashes_in_open;
        self.issued += o.issued;
        self.acked += o.acked;
        self.synced_acked += o.synced_acked;
        self.verified += o.verified;
        self.unsynced_lost += o.unsynced_lost;
        self.synced_lost += o.synced_lost;
        self.elapsed += o.elapsed;
    }

    /// Prints the summary line and fails a run that checked nothing.
    fn finish(&self, test: &str) {
        let mut line = format!("[{test}] summary: {} rounds", self.rounds);
        if self.kills > 0 {
            let at_ops: Vec<String> = self
                .kills_at_fs_op
                .iter()
                .map(|(at, n)| format!("{n} at {at}"))
                .collect();
            line += &format!(
                ", {} kills ({} in open/recovery, {} in flush, {} in compact_range; {} at \
                 file-system operations: {})",
                self.kills,
                self.kills_in_open,
                self.kills_in_flush,
                self.kills_in_compaction,
                self.kills_at_fs_op.values().sum::<u64>(),
                at_ops.join(", ")
            );
        }
        if self.power_losses > 0 {
            line += &format!(
                ", {} power losses ({} torn, {} more during recovery)",
                self.power_losses + self.crashes_in_open,
                self.torn,
                self.crashes_in_open
            );
        }
        line += &format!(
            ", {} writes issued, {} acked ({} synced), {} writes verified",
            self.issued, self.acked, self.synced_acked, self.verified
        );
        if self.power_losses > 0 {
            line += &format!(
                ", {} unsynced acked writes lost (allowed)",
                self.unsynced_lost
            );
        }
        line += &format!(
            ", {} synced writes lost (must be 0), {:.1?}",
            self.synced_lost, self.elapsed
        );
        eprintln!("{line}");
        assert_eq!(self.synced_lost, 0, "synced writes were lost");
        assert!(self.rounds > 0, "no round ran");
        assert!(
            self.verified > 0 && self.synced_acked > 0,
            "the run verified nothing: {} writes verified, {} synced acks",
            self.verified,
            self.synced_acked
        );
    }
}

// ---------------------------------------------------------------------------
// SIGKILL mode
// ---------------------------------------------------------------------------

/// Kills the child if the parent panics before doing so itself.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn required_env(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("child: {name} is not set"))
}

fn style_name(style: CompactionStyle) -> &'static str {
    match style {
        CompactionStyle::Leveled => "leveled",
        CompactionStyle::Tiered => "tiered",
    }
}

/// In a child process, runs the workload and never returns.
fn child_if_asked() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let dir = PathBuf::from(required_env(DIR_ENV));
    let journal_path = PathBuf::from(required_env(JOURNAL_ENV));
    let start: u64 = required_env(START_ENV).parse().expect("child: bad start");
    let round_seed: u64 = required_env(ROUND_SEED_ENV)
        .parse()
        .expect("child: bad seed");
    let style = match required_env(STYLE_ENV).as_str() {
        "leveled" => CompactionStyle::Leveled,
        "tiered" => CompactionStyle::Tiered,
        other => panic!("child: bad style {other:?}"),
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .unwrap_or_else(|e| panic!("child: open {}: {e}", journal_path.display()));
    let mut journal = FileJournal(file);
    fn fail(journal: &mut FileJournal, msg: String) -> ! {
        journal.record(Event::Failure(msg.clone()));
        panic!("child: {msg}");
    }

    let mut options = round_options(style, round_seed);
    if let Ok(n) = env::var(KILL_AT_OP_ENV) {
        options.file_system = Arc::new(KillSwitch(Arc::new(KillSwitchFs {
            countdown: AtomicU64::new(n.parse().expect("child: bad operation count")),
            journal: journal_path.clone(),
        })));
    }
    let db = match Db::open(&dir, options) {
        Ok(db) => db,
        Err(e) => fail(&mut journal, format!("open: {e:?}")),
    };
    journal.record(Event::Opened);
    // The parent has checked this state against the oracle.
    let model = match scan_all(&db) {
        Ok(model) => model,
        Err(e) => fail(&mut journal, e),
    };
    let mut work = Workload::new(
        StdRng::seed_from_u64(round_seed),
        Arc::new(workload_keys()),
        model,
        start,
    );
    let deadline = Instant::now() + CHILD_MAX_LIFETIME;
    loop {
        if let Err(e) = work.step(&db, &mut journal) {
            fail(&mut journal, e.to_string());
        }
        if work.steps.is_multiple_of(256) && Instant::now() > deadline {
            eprintln!("child: not killed within {CHILD_MAX_LIFETIME:?}; exiting");
            std::process::exit(3);
        }
    }
}

/// The child's file system when the parent asked for a kill at an operation:
/// the real one, except that the n-th mutating operation first notes itself
/// in the journal and then SIGKILLs the process.
#[derive(Debug)]
struct KillSwitchFs {
    countdown: AtomicU64,
    journal: PathBuf,
}

/// What kind of file the engine touches, for the summary.
fn file_kind(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("CURRENT") {
        "CURRENT"
    } else if name.starts_with("MANIFEST") {
        "manifest"
    } else if name.ends_with(".log") {
        "log"
    } else if name.ends_with(".sst") {
        "table"
    } else if path.is_dir() {
        "directory"
    } else {
        "other"
    }
}

impl KillSwitchFs {
    fn tick(&self, op: &str, path: &Path) {
        if self.countdown.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let at = format!("{op} {}", file_kind(path));
        if let Ok(mut f) = OpenOptions::new().append(true).open(&self.journal) {
            let _ = f.write_all(Event::Killing(at).to_line().as_bytes());
        }
        let pid = std::process::id().to_string();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        // `kill` is missing or failed: the parent sees an exit that is not SIGKILL.
        std::process::exit(4);
    }
}

struct KillSwitchFile {
    inner: Box<dyn WritableFile>,
    fs: Arc<KillSwitchFs>,
    path: PathBuf,
}

impl WritableFile for KillSwitchFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.fs.tick("append", &self.path);
        self.inner.append(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.fs.tick("flush", &self.path);
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.fs.tick("sync", &self.path);
        self.inner.sync()
    }
}

/// `FileSystem` wants an owned value; this shares one countdown between the
/// handle the engine holds and the files it opens.
#[derive(Debug, Clone)]
struct KillSwitch(Arc<KillSwitchFs>);

impl FileSystem for KillSwitch {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.0.tick("create", path);
        Ok(Box::new(KillSwitchFile {
            inner: RealFileSystem.create(path)?,
            fs: self.0.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        RealFileSystem.open(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.tick("rename", to);
        RealFileSystem.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.tick("remove", path);
        RealFileSystem.remove(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealFileSystem.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        RealFileSystem.create_dir_all(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        RealFileSystem.exists(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        RealFileSystem.lock(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.tick("sync", dir);
        RealFileSystem.sync_dir(dir)
    }
}

/// When the parent kills the child.
#[derive(Debug, Clone, Copy)]
enum KillPlan {
    /// After this delay from spawning.
    After(Duration),
    /// At the first flush or compaction that starts after this delay, then
    /// after a further pause of up to a few milliseconds.
    AtJob(Duration, Duration),
    /// This long after the child creates its journal, which it does just
    /// before `Db::open`: during recovery, which replays the logs, flushes
    /// them, writes a new manifest and switches `CURRENT` to it.
    InOpen(Duration),
    /// The child kills itself just before its n-th mutating file-system
    /// operation (counting from 1).
    AtFsOp(u64),
}

fn kill_plan(rng: &mut StdRng) -> KillPlan {
    let ms = |lo: u64, hi: u64, rng: &mut StdRng| Duration::from_millis(rng.random_range(lo..=hi));
    match rng.random_range(0..100) {
        0..=9 => KillPlan::InOpen(Duration::from_micros(rng.random_range(0..600))),
        // Recovery takes a few dozen operations: a log replayed and flushed, a
        // new manifest, CURRENT.tmp written, renamed and the directory synced.
        10..=24 => KillPlan::AtFsOp(rng.random_range(1..=30)),
        25..=34 => {
            // Log-uniform over 30 .. 20,000 operations.
            let f: f64 = rng.random_range(0.0..1.0);
            KillPlan::AtFsOp((30.0 * 666f64.powf(f)) as u64)
        }
        35..=54 => {
            let wait = ms(20, 400, rng);
            let pause = Duration::from_micros(rng.random_range(0..5_000));
            KillPlan::AtJob(wait, pause)
        }
        _ => {
            // Log-uniform over 40 ms .. 1 s.
            let f: f64 = rng.random_range(0.0..1.0);
            KillPlan::After(Duration::from_secs_f64(0.04 * 25f64.powf(f)))
        }
    }
}

/// Spins until `path` exists, or `limit` (recovery of a small database can
/// take well under a millisecond, below what `thread::sleep` resolves).
fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() && Instant::now() < deadline {
        thread::yield_now();
    }
}

/// Sleeps for `pause` by spinning, for sub-millisecond precision.
fn spin_for(pause: Duration) {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        thread::yield_now();
    }
}

/// Waits for the child to exit, up to `limit`.
fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the journal shows a flush or compaction starting, or `limit`.
fn wait_for_job(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut offset = 0u64;
    let mut carry = Vec::new();
    while Instant::now() < deadline {
        if let Ok(mut f) = File::open(path) {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let mut fresh = Vec::new();
                if f.read_to_end(&mut fresh).is_ok() {
                    offset += fresh.len() as u64;
                    carry.extend_from_slice(&fresh);
                    let end = carry.iter().rposition(|&b| b == b'\n').map_or(0, |e| e + 1);
                    let started = carry[..end]
                        .split(|&b| b == b'\n')
                        .any(|line| line.starts_with(b"F ") || line.starts_with(b"C "));
                    if started {
                        return;
                    }
                    carry.drain(..end);
                }
            }
        }
        thread::sleep(Duration::from_micros(500));
    }
}

fn run_sigkill(test: &str, style: CompactionStyle, rounds: usize, default_seed: u64) -> Tally {
    let seed = common::seed(&format!("{test}/{}", style_name(style)), default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let root = common::scratch_dir();
    let db_dir = root.path().join("db");
    let exe = env::current_exe().expect("current_exe");
    let keys = workload_keys();
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut base = Model::new();
    let mut start = 0u64;

    for round in 0..rounds {
        let round_seed: u64 = rng.random();
        let plan = kill_plan(&mut rng);
        let journal = root.path().join(format!("round-{round:05}.journal"));
        let mut command = Command::new(&exe);
        command
            .args([
                test,
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "--include-ignored",
            ])
            .env(CHILD_ENV, "1")
            .env(DIR_ENV, &db_dir)
            .env(JOURNAL_ENV, &journal)
            .env(START_ENV, start.to_string())
            .env(ROUND_SEED_ENV, round_seed.to_string())
            .env(STYLE_ENV, style_name(style))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let KillPlan::AtFsOp(n) = plan {
            command.env(KILL_AT_OP_ENV, n.to_string());
        }
        let mut child = ChildGuard(command.spawn().expect("spawn the child"));
        let exited = match plan {
            KillPlan::After(delay) => {
                thread::sleep(delay);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::InOpen(pause) => {
                wait_for_file(&journal, Duration::from_secs(5));
                spin_for(pause);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::AtJob(wait, pause) => {
                thread::sleep(wait);
                wait_for_job(&journal, Duration::from_secs(3));
                thread::sleep(pause);
                child.0.try_wait().expect("try_wait")
            }
            KillPlan::AtFsOp(_) => wait_for_exit(&mut child.0, Duration::from_secs(10)),
        };
        match exited {
            Some(status) if status.signal() == Some(9) => {}
            Some(status) => {
                let log = RoundLog::read(&journal, start);
                panic!(
                    "round {round}: the child exited on its own ({status}) before the kill; \
                     its failure: {:?} (round seed {round_seed}; see its stderr above)",
                    log.ok().and_then(|l| l.failure)
                );
            }
            None => {
                child.0.kill().expect("kill the child");
                child.0.wait().expect("wait for the child");
            }
        }
        tally.kills += 1;

        let log = RoundLog::read(&journal, start)
            .unwrap_or_else(|e| panic!("round {round}: bad journal: {e}"));
        if let Some(failure) = &log.failure {
            panic!(
                "round {round}: the child's self-check failed (round seed {round_seed}): {failure}"
            );
        }
        if !log.opened {
            tally.kills_in_open += 1;
        }
        if let Some(at) = &log.killed_at {
            *tally.kills_at_fs_op.entry(at.clone()).or_default() += 1;
        }
        match log.running {
            Some(Job::Flush) => tally.kills_in_flush += 1,
            Some(Job::Compaction) => tally.kills_in_compaction += 1,
            None => {}
        }

        // Everything acknowledged was handed to the kernel, which a SIGKILL
        // does not undo.
        let must_keep = log.acked.max(log.flushed);
        let db = Db::open(&db_dir, round_options(style, round_seed))
            .unwrap_or_else(|e| panic!("round {round}: reopening after SIGKILL failed: {e:?}"));
        let recovered = verify(&db, &base, &log, must_keep, &mut rng, &keys).unwrap_or_else(|e| {
            panic!(
                "round {round} ({plan:?}, round seed {round_seed}, {} compaction): {e}",
                style_name(style)
            )
        });
        db.close()
            .unwrap_or_else(|e| panic!("round {round}: close after verification: {e:?}"));
        tally.round(&log, recovered.prefix);
        eprintln!(
            "round {round}: {plan:?}: {} issued, {} acked, recovered {} of {} writes",
            log.writes.len(),
            log.acked - start,
            recovered.prefix - start,
            log.writes.len()
        );
        base = recovered.model;
        start = recovered.prefix;
        let _ = fs::remove_file(&journal);
    }
    tally.elapsed = began.elapsed();
    tally
}

// ---------------------------------------------------------------------------
// Power-loss mode
// ---------------------------------------------------------------------------

/// Freezes the disk after a delay unless cancelled first.
struct CrashTimer {
    cancel: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl CrashTimer {
    fn start(fs: FaultInjectionFs, crashed: Arc<AtomicBool>, delay: Duration) -> Self {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(delay) {
                // The flag first, so an error seen after the freeze always finds it set.
                crashed.store(true, Ordering::SeqCst);
                fs.crash();
            }
        });
        CrashTimer { cancel, thread }
    }

    fn stop(self) {
        let _ = self.cancel.send(());
        self.thread.join().expect("crash timer thread");
    }
}

fn run_power_loss(test: &str, style: CompactionStyle, rounds: usize, default_seed: u64) -> Tally {
    let seed = common::seed(&format!("{test}/{}", style_name(style)), default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = common::scratch_dir();
    let fs = FaultInjectionFs::new();
    let keys = Arc::new(workload_keys());
    let began = Instant::now();
    let mut tally = Tally::default();
    let mut base = Model::new();
    let mut start = 0u64;
    let mut pending: Option<RoundLog> = None;

    let power_loss = |tally: &mut Tally, rng: &mut StdRng| {
        let torn = rng.random_bool(0.5).then(|| rng.random());
        tally.torn += u64::from(torn.is_some());
        fs.power_loss(torn).expect("simulate power loss");
    };

    for round in 0..=rounds {
        let round_seed: u64 = rng.random();
        let mut opts = round_options(style, round_seed);
        opts.file_system = Arc::new(fs.clone());

        // Reopen; now and then the power fails again during recovery.
        let db = loop {
            let crashed = Arc::new(AtomicBool::new(false));
            let timer = (round > 0 && rng.random_bool(0.15)).then(|| {
                let delay = Duration::from_micros(rng.random_range(0..20_000));
                CrashTimer::start(fs.clone(), crashed.clone(), delay)
            });
            let opened = Db::open(dir.path(), opts.clone());
            if let Some(timer) = timer {
                timer.stop();
            }
            match (opened, crashed.load(Ordering::SeqCst)) {
                (Ok(db), false) => break db,
                (opened, true) => {
                    drop(opened);
                    tally.crashes_in_open += 1;
                    power_loss(&mut tally, &mut rng);
                }
                (Err(e), false) => {
                    panic!("round {round} (seed {seed}): open after power loss failed: {e:?}")
                }
            }
        };

        if let Some(log) = pending.take() {
            let must_keep = log.synced.max(log.flushed);
            let recovered =
                verify(&db, &base, &log, must_keep, &mut rng, &keys).unwrap_or_else(|e| {
                    panic!(
                        "round {} (seed {seed}, round seed {round_seed}, {} compaction): {e}",
                        round - 1,
                        style_name(style)
                    )
                });
            tally.round(&log, recovered.prefix);
            eprintln!(
                "power loss {}: {} issued, {} acked, durable through {}, recovered {}",
                round - 1,
                log.writes.len(),
                log.acked - log.start,
                log.synced.max(log.flushed) - log.start,
                recovered.prefix - log.start
            );
            base = recovered.model;
            start = recovered.prefix;
        }
        if round == rounds {
            db.close().expect("final close");
            break;
        }

        // Run the workload until the power fails: after a random number of
        // steps, or when a timer fires in the middle of whatever is running.
        let crashed = Arc::new(AtomicBool::new(false));
        let (timer, crash_after_steps) = if rng.random_bool(0.5) {
            let delay = Duration::from_micros(rng.random_range(1_000..400_000));
            let timer = CrashTimer::start(fs.clone(), crashed.clone(), delay);
            (Some(timer), MAX_STEPS_PER_ROUND)
        } else {
            (None, rng.random_range(0..4000))
        };
        let mut log = RoundLog::new(start);
        let mut work = Workload::new(
            StdRng::seed_from_u64(round_seed),
            keys.clone(),
            base.clone(),
            start,
        );
        while !crashed.load(Ordering::SeqCst) {
            if work.steps >= crash_after_steps {
                crashed.store(true, Ordering::SeqCst);
                fs.crash();
                break;
            }
            match work.step(&db, &mut log) {
                Ok(()) => {}
                Err(StepError::Db(..)) if crashed.load(Ordering::SeqCst) => break,
                Err(e) => panic!(
                    "round {round} (seed {seed}, round seed {round_seed}), step {}: {e}",
                    work.steps
                ),
            }
        }
        if let Some(timer) = timer {
            timer.stop();
        }
        drop(work);
        drop(db);
        tally.power_losses += 1;
        power_loss(&mut tally, &mut rng);
        pending = Some(log);
    }
    tally.elapsed = began.elapsed();
    tally
}
