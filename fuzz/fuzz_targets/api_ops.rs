//! Fuzzes the public API: the input decodes to a database configuration and a sequence
//! of operations (puts, deletes, batches, gets, range scans both ways, live iterators
//! stepped from both ends, snapshots, flushes, compactions, reopens) run against a
//! database in a temporary directory with a tiny memtable, and checked step by step
//! against a `BTreeMap`. Any disagreement, error or panic is a crash.
//!
//! The decoding is by hand, not with `arbitrary`, so that seeds keep their meaning
//! across crate versions. Every byte read past the end of the input is zero, so every
//! input is valid. Set `SHALEDB_FUZZ_TRACE=1` to print the decoded operations.

#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use libfuzzer_sys::fuzz_target;
use shaledb::{CompactionStyle, Compression, Db, Iter, Options, Snapshot, WriteBatch};

/// Operations per input; longer inputs are cut.
const MAX_OPS: usize = 256;
/// Snapshots and live iterators held at once.
const MAX_SNAPSHOTS: usize = 3;
const MAX_ITERS: usize = 3;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

#[derive(Debug)]
enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

#[derive(Debug)]
enum Op {
    Write(Write),
    Batch(Vec<Write>),
    Get(Vec<u8>),
    /// A whole scan of a range, ascending or descending; on a snapshot if `Some`.
    Scan {
        range: Range,
        reverse: bool,
        snapshot: Option<usize>,
    },
    Prefix {
        prefix: Vec<u8>,
        reverse: bool,
    },
    /// Creates a live iterator over a range, of the database or a snapshot.
    OpenIter {
        range: Range,
        snapshot: Option<usize>,
    },
    /// Steps a live iterator; each bit of `moves` picks the front (0) or the back (1).
    StepIter {
        which: usize,
        steps: usize,
        moves: u8,
    },
    TakeSnapshot,
    DropSnapshot(usize),
    SnapshotGet(usize, Vec<u8>),
    Flush,
    CompactRange(Range),
    /// Closes (explicitly, or by dropping) and opens the database again.
    Reopen {
        explicit_close: bool,
    },
}

/// Reads the input as a stream of bytes that turns to zeroes at its end.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// A key of 0 to 4 bytes over a 4-letter alphabet that includes 0x00 and 0xff, so
    /// keys collide often and share prefixes.
    fn key(&mut self) -> Vec<u8> {
        const ALPHABET: [u8; 4] = [0x00, b'k', b'm', 0xff];
        let len = usize::from(self.byte() % 5);
        let letters = self.byte();
        (0..len)
            .map(|i| ALPHABET[usize::from((letters >> (2 * i)) & 3)])
            .collect()
    }

    /// A value whose bytes name the operation that wrote it, so a stale version shows.
    /// Most are short; some are a few KiB, to fill memtables and blocks quickly.
    fn value(&mut self, op_index: usize) -> Vec<u8> {
        let b = self.byte();
        let len = if b < 200 {
            usize::from(b % 40)
        } else {
            usize::from(b - 200) * 64
        };
        let tag = (op_index as u32).to_le_bytes();
        (0..len).map(|i| tag[i % 4] ^ (i / 4) as u8).collect()
    }

    fn bound(&mut self, kind: u8) -> Bound<Vec<u8>> {
        match kind % 3 {
            0 => Bound::Unbounded,
            1 => Bound::Included(self.key()),
            _ => Bound::Excluded(self.key()),
        }
    }

    fn range(&mut self) -> Range {
        let kinds = self.byte();
        (self.bound(kinds), self.bound(kinds / 3))
    }

    fn write(&mut self, op_index: usize) -> Write {
        if self.byte().is_multiple_of(4) {
            Write::Delete(self.key())
        } else {
            Write::Put(self.key(), self.value(op_index))
        }
    }

    fn snapshot_choice(&mut self) -> Option<usize> {
        let b = self.byte();
        (b & 1 == 1).then_some(usize::from(b >> 1))
    }

    fn op(&mut self, i: usize) -> Op {
        match self.byte() % 20 {
            0..=3 => Op::Write(Write::Put(self.key(), self.value(i))),
            4 | 5 => Op::Write(Write::Delete(self.key())),
            6 => {
                let n = usize::from(self.byte() % 8);
                Op::Batch((0..n).map(|_| self.write(i)).collect())
            }
            7 | 8 => Op::Get(self.key()),
            9 | 10 => {
                let reverse = self.byte() & 1 == 1;
                Op::Scan {
                    range: self.range(),
                    reverse,
                    snapshot: self.snapshot_choice(),
                }
            }
            11 => Op::Prefix {
                reverse: self.byte() & 1 == 1,
                prefix: self.key(),
            },
            12 => Op::OpenIter {
                range: self.range(),
                snapshot: self.snapshot_choice(),
            },
            13 | 14 => Op::StepIter {
                which: usize::from(self.byte()),
                steps: usize::from(self.byte() % 8) + 1,
                moves: self.byte(),
            },
            15 => Op::TakeSnapshot,
            16 => Op::DropSnapshot(usize::from(self.byte())),
            17 => Op::SnapshotGet(usize::from(self.byte()), self.key()),
            18 => match self.byte() % 4 {
                0 => Op::CompactRange(self.range()),
                _ => Op::Flush,
            },
            _ => Op::Reopen {
                explicit_close: self.byte() & 1 == 1,
            },
        }
    }

    fn options(&mut self) -> Options {
        let a = self.byte();
        let b = self.byte();
        Options {
            memtable_size: 1024 << (a & 3),
            block_size: 64 << ((a >> 2) & 3),
            compression: [Compression::None, Compression::Lz4, Compression::Zstd]
                [usize::from((a >> 4) % 3)],
            bloom_bits_per_key: [10, 0, 1, 10][usize::from(a >> 6)],
            block_cache_size: if b & 1 == 0 { 64 << 10 } else { 0 },
            compaction: if b & 2 == 0 {
                CompactionStyle::Leveled
            } else {
                CompactionStyle::Tiered
            },
            disable_auto_compactions: b & 4 != 0,
            max_background_jobs: 1 + usize::from((b >> 3) & 1),
            level0_compaction_trigger: 2 + usize::from((b >> 4) & 3),
            target_file_size: 2 << 10,
            level_base_size: 4 << 10,
            level_size_multiplier: 2 + u64::from(b >> 6),
            tiered_min_merge_width: 2,
            tiered_run_trigger: 2 + usize::from((b >> 4) & 3),
            ..Options::default()
        }
    }
}

fn in_range(key: &[u8], (lo, hi): &Range) -> bool {
    let above_lo = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
    };
    let below_hi = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => key <= h.as_slice(),
        Bound::Excluded(h) => key < h.as_slice(),
    };
    above_lo && below_hi
}

fn expected(model: &Model, range: &Range) -> VecDeque<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| in_range(k, range))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn collect(iter: Iter, reverse: bool, what: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let items: Result<Vec<_>, _> = if reverse {
        iter.rev().collect()
    } else {
        iter.collect()
    };
    items.unwrap_or_else(|e| panic!("{what}: scan failed: {e}"))
}

fn apply(model: &mut Model, batch: &mut WriteBatch, w: &Write) {
    match w {
        Write::Put(k, v) => {
            batch.put(k, v);
            model.insert(k.clone(), v.clone());
        }
        Write::Delete(k) => {
            batch.delete(k);
            model.remove(k);
        }
    }
}

/// A live iterator and what it has left to return.
struct LiveIter {
    iter: Iter,
    remaining: VecDeque<(Vec<u8>, Vec<u8>)>,
}

struct Run {
    dir: tempfile::TempDir,
    options: Options,
    db: Option<Db>,
    model: Model,
    /// Each snapshot with the model as it was when taken.
    snapshots: Vec<(Snapshot, Model)>,
    iters: Vec<LiveIter>,
}

impl Run {
    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the database is open between operations")
    }

    fn check_all(&self, what: &str) {
        let all = (Bound::Unbounded, Bound::Unbounded);
        let got = collect(self.db().iter(), false, what);
        assert_eq!(
            got,
            Vec::from(expected(&self.model, &all)),
            "{what}: full scan"
        );
    }

    fn step(&mut self, i: usize, op: &Op) {
        let what = format!("op {i} {op:?}");
        match op {
            Op::Write(w) => {
                let mut batch = WriteBatch::new();
                apply(&mut self.model, &mut batch, w);
                self.db()
                    .write(batch)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            Op::Batch(writes) => {
                let mut batch = WriteBatch::new();
                for w in writes {
                    apply(&mut self.model, &mut batch, w);
                }
                self.db()
                    .write(batch)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            Op::Get(k) => {
                let got = self.db().get(k).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(got.as_ref(), self.model.get(k), "{what}");
            }
            Op::Scan {
                range,
                reverse,
                snapshot,
            } => {
                let (iter, model) = match snapshot.and_then(|s| self.pick_snapshot(s)) {
                    Some((snap, model)) => (snap.range(range.clone()), model),
                    None => (self.db().range(range.clone()), &self.model),
                };
                let mut want = Vec::from(expected(model, range));
                if *reverse {
                    want.reverse();
                }
                assert_eq!(collect(iter, *reverse, &what), want, "{what}");
            }
            Op::Prefix { prefix, reverse } => {
                let mut want: Vec<_> = self
                    .model
                    .iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if *reverse {
                    want.reverse();
                }
                let got = collect(self.db().prefix(prefix), *reverse, &what);
                assert_eq!(got, want, "{what}");
            }
            Op::OpenIter { range, snapshot } => {
                if self.iters.len() >= MAX_ITERS {
                    self.iters.remove(0);
                }
                let (iter, model) = match snapshot.and_then(|s| self.pick_snapshot(s)) {
                    Some((snap, model)) => (snap.range(range.clone()), model),
                    None => (self.db().range(range.clone()), &self.model),
                };
                let remaining = expected(model, range);
                self.iters.push(LiveIter { iter, remaining });
            }
            Op::StepIter {
                which,
                steps,
                moves,
            } => {
                if self.iters.is_empty() {
                    return;
                }
                let n = which % self.iters.len();
                let live = &mut self.iters[n];
                for s in 0..*steps {
                    let (got, want) = if (moves >> s) & 1 == 0 {
                        (live.iter.next(), live.remaining.pop_front())
                    } else {
                        (live.iter.next_back(), live.remaining.pop_back())
                    };
                    let got = got.transpose().unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(got, want, "{what}: step {s}");
                }
            }
            Op::TakeSnapshot => {
                if self.snapshots.len() >= MAX_SNAPSHOTS {
                    self.snapshots.remove(0);
                }
                let snap = self.db().snapshot();
                self.snapshots.push((snap, self.model.clone()));
            }
            Op::DropSnapshot(s) => {
                if !self.snapshots.is_empty() {
                    let n = s % self.snapshots.len();
                    self.snapshots.remove(n);
                }
            }
            Op::SnapshotGet(s, k) => {
                if let Some((snap, model)) = self.pick_snapshot(*s) {
                    let got = snap.get(k).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(got.as_ref(), model.get(k), "{what}");
                }
            }
            Op::Flush => self.db().flush().unwrap_or_else(|e| panic!("{what}: {e}")),
            Op::CompactRange(range) => {
                self.db()
                    .compact_range(range.clone())
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            Op::Reopen { explicit_close } => {
                self.iters.clear();
                self.snapshots.clear();
                let db = self.db.take().expect("open");
                if *explicit_close {
                    db.close().unwrap_or_else(|e| panic!("{what}: close: {e}"));
                } else {
                    drop(db);
                }
                let db = Db::open(self.dir.path(), self.options.clone())
                    .unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
                self.db = Some(db);
                self.check_all(&what);
            }
        }
    }

    fn pick_snapshot(&self, s: usize) -> Option<(&Snapshot, &Model)> {
        if self.snapshots.is_empty() {
            return None;
        }
        let (snap, model) = &self.snapshots[s % self.snapshots.len()];
        Some((snap, model))
    }
}

/// A temporary directory in memory when the machine has one, so syncs cost nothing.
fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    dir.expect("a temporary directory")
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input { data, pos: 0 };
    let options = input.options();
    let mut ops = Vec::new();
    while !input.exhausted() && ops.len() < MAX_OPS {
        let op = input.op(ops.len());
        ops.push(op);
    }
    if std::env::var_os("SHALEDB_FUZZ_TRACE").is_some() {
        eprintln!("{options:?}");
        for (i, op) in ops.iter().enumerate() {
            eprintln!("{i}: {op:?}");
        }
    }
    let dir = temp_dir();
    let db = Db::open(dir.path(), options.clone()).expect("open a fresh database");
    let mut run = Run {
        dir,
        options,
        db: Some(db),
        model: Model::new(),
        snapshots: Vec::new(),
        iters: Vec::new(),
    };
    for (i, op) in ops.iter().enumerate() {
        run.step(i, op);
    }
    run.check_all("final state");
});
