//! The randomized workload, checked against its own model as it runs, and the
//! options it runs under.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shaledb::{CompactionStyle, Compression, Db, Options, Snapshot, WriteOptions};

use crate::common::{self, show, show_opt, Entry, Model, View};
use crate::journal::{apply, batch_of, mix, value_of, Event, Job, Journal, Op, WriteDesc};

/// Live snapshots the workload keeps at most.
const MAX_SNAPSHOTS: usize = 3;

/// Small everything, so memtable switches, flushes and compactions never stop.
pub(crate) fn round_options(style: CompactionStyle, round_seed: u64) -> Options {
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
        tiered_run_trigger: 2,
        compaction: style,
        ..Options::default()
    }
}

pub(crate) fn workload_keys() -> Vec<Vec<u8>> {
    let mut keys = common::key_space();
    keys.extend((0..2000).map(|n| format!("key{n:05}").into_bytes()));
    keys.sort();
    keys.dedup();
    keys
}

pub(crate) fn scan_all(db: &Db) -> Result<Model, String> {
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
pub(crate) enum StepError {
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

pub(crate) struct Workload {
    rng: StdRng,
    keys: Arc<Vec<Vec<u8>>>,
    /// What the database holds: every acknowledged write applied.
    model: Model,
    /// Global number of the next write.
    next: u64,
    pub(crate) steps: u64,
    snapshots: Vec<LiveSnapshot>,
}

impl Workload {
    pub(crate) fn new(rng: StdRng, keys: Arc<Vec<Vec<u8>>>, model: Model, next: u64) -> Self {
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
    pub(crate) fn step(&mut self, db: &Db, journal: &mut dyn Journal) -> Result<(), StepError> {
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
